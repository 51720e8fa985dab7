//! `ballast sim`: the simulated venue on its own, for rehearsals and external tests.
//!
//! The first line on stdout is the bound address (port 0 picks a free one), so scripts can
//! start it and read where it listens. It serves until Ctrl-C.
//!
//! # Invariants
//! - Listens only where `--listen` says (127.0.0.1 by default).
//! - When `PURPLE_FLEA_API_KEY` is set, every request must carry it as a bearer token; the
//!   key itself is never printed.

use std::net::SocketAddr;

use anyhow::Context;
use ballast::{
    secret::ApiKey,
    sim::{DEFAULT_AGENT_ID, DEFAULT_SEED, DEFAULT_SPEED, FaultConfig, SimConfig},
};

/// `ballast sim` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:8787")]
    pub listen: SocketAddr,
    /// The agent the venue serves.
    #[arg(long, default_value = DEFAULT_AGENT_ID)]
    pub agent_id: String,
    /// Seed of the simulated market.
    #[arg(long, default_value_t = DEFAULT_SEED)]
    pub seed: u64,
    /// Simulated seconds per real second.
    #[arg(long, default_value_t = DEFAULT_SPEED)]
    pub speed: f64,
    /// Faults to inject, e.g. `latency=50ms,http5xx=0.05` (off by default).
    #[arg(long)]
    pub faults: Option<String>,
    /// Serve requests only; no background casino play, income or market moves.
    #[arg(long)]
    pub no_autoplay: bool,
}

/// Serves the simulated venue until Ctrl-C.
///
/// # Errors
/// When an argument is invalid (naming it) or the address cannot be bound.
pub async fn run(args: &Args, json: bool) -> anyhow::Result<()> {
    let faults = match &args.faults {
        Some(text) => text
            .parse::<FaultConfig>()
            .map_err(|e| anyhow::anyhow!("--faults: {e}"))?,
        None => FaultConfig::default(),
    };
    let config = SimConfig {
        agent_id: args.agent_id.clone(),
        seed: args.seed,
        speed: args.speed,
        api_key: ApiKey::from_env(),
        autoplay: !args.no_autoplay,
        faults,
        ..SimConfig::default()
    };
    config.validate().map_err(|e| anyhow::anyhow!("{e}"))?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("--listen: cannot bind {}", args.listen))?;
    let auth = config.api_key.is_some();
    let sim = ballast::sim::start(config, listener).await?;
    if json {
        println!(
            "{}",
            serde_json::json!({"listening": sim.base_url(), "agent_id": args.agent_id, "auth": auth})
        );
    } else {
        println!(
            "listening on {} agent={} seed={} speed={}{}",
            sim.base_url(),
            args.agent_id,
            args.seed,
            args.speed,
            if auth { " (bearer auth on)" } else { "" }
        );
    }
    tokio::signal::ctrl_c().await?;
    let stats = sim.stats();
    sim.shutdown().await;
    if json {
        println!("{}", serde_json::json!({"stats": stats}));
    } else {
        eprintln!("simulated venue stopped");
    }
    Ok(())
}
