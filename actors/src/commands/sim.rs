//! `ballast sim`: serves the simulated Purple Flea venue until Ctrl-C.
//!
//! The first line on stdout is the bound address (`listening on
//! http://127.0.0.1:PORT/api/v1 agent=agent-1`, or a JSON object with `--json`), so a test
//! or a script that starts `ballast sim --listen 127.0.0.1:0` reads the port from it. After
//! that, in text mode, one line per applied transfer, large casino win, drawdown, lock and
//! release; on Ctrl-C (or SIGTERM) the venue stops gracefully and prints what it saw.
//!
//! # Invariants
//! - The API key comes only from `PURPLE_FLEA_API_KEY` and is never printed.
//! - Bad arguments fail before anything is bound, naming the argument.
//! - It listens beyond loopback only with `--allow-remote` and `PURPLE_FLEA_API_KEY` set
//!   (auth on); either missing is refused before binding.
//! - With `--json`, stdout is JSON lines: the `listening` object first, the final stats
//!   last, nothing in between.

use std::{io::Write, net::SocketAddr, path::PathBuf};

use anyhow::Context;
use ballast::{
    money::format_usdc,
    secret::ApiKey,
    sim::{self, CasinoParams, FaultConfig, LockParams, Scenario, SimConfig, SimHandle},
    venue::protocol::{EventFrame, EventKind},
};
use rust_decimal::Decimal;
use tokio::sync::broadcast::error::RecvError;

/// Arguments of `ballast sim`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Address to listen on; port 0 picks a free port (the first line of output names it).
    /// Loopback only, unless `--allow-remote` is given and `PURPLE_FLEA_API_KEY` is set.
    #[arg(long, default_value = "127.0.0.1:8787")]
    pub listen: SocketAddr,
    /// Allow a `--listen` address other machines can reach; needs `PURPLE_FLEA_API_KEY` too,
    /// so every request must carry the key.
    #[arg(long)]
    pub allow_remote: bool,
    /// The one agent the venue serves.
    #[arg(long, default_value = sim::DEFAULT_AGENT_ID)]
    pub agent_id: String,
    /// Seed of the simulated market: the same seed replays the same casino, income and prices.
    #[arg(long, default_value_t = sim::DEFAULT_SEED)]
    pub seed: u64,
    /// Simulated seconds per real second (21600 = 6 simulated hours a second).
    #[arg(long, default_value_t = sim::DEFAULT_SPEED)]
    pub speed: f64,
    /// Faults to inject, e.g. `latency=50ms,jitter=20ms,http5xx=0.05,http429=0.02,lost_ack=0.01`
    /// (keys: latency, jitter, http5xx, http429, drop_ws, silent_ws, duplicate, reorder,
    /// malformed, lost_ack; all off by default).
    #[arg(long)]
    pub faults: Option<FaultConfig>,
    /// A TOML scenario of injections at simulated times (see docs/venue-protocol.md).
    #[arg(long)]
    pub scenario: Option<PathBuf>,
    /// No background activity: only requests, `/sim/inject` and the scenario move money.
    #[arg(long)]
    pub no_autoplay: bool,
    /// After a large casino win (at least 10% of the portfolio), lock the casino's whole
    /// bankroll (in play) for this many simulated hours: a `decrease` of the casino cannot
    /// take it until then.
    #[arg(long, value_name = "HOURS")]
    pub win_lock_hours: Option<u32>,
    /// Correlation of the casino's daily returns with BTC's, in (-1, 1) (payouts held in
    /// crypto); none by default.
    #[arg(long, value_name = "RHO", allow_negative_numbers = true)]
    pub casino_btc_correlation: Option<f64>,
}

/// A casino win at least this share of the total is printed in text mode.
const NOTABLE_WIN_SHARE: Decimal = Decimal::from_parts(5, 0, 0, false, 2);

/// Runs the simulated venue until Ctrl-C or SIGTERM.
///
/// # Errors
/// Invalid arguments (named), a listen address that cannot be bound, an unreadable
/// scenario, or stdout closing.
pub async fn run(args: &Args, json: bool) -> anyhow::Result<()> {
    let cfg = SimConfig {
        agent_id: args.agent_id.clone(),
        seed: args.seed,
        speed: args.speed,
        api_key: ApiKey::from_env(),
        autoplay: !args.no_autoplay,
        faults: args.faults.unwrap_or_default(),
        casino: CasinoParams {
            btc_correlation: args.casino_btc_correlation.unwrap_or(0.0),
            ..CasinoParams::default()
        },
        locks: LockParams {
            after_large_win_hours: args.win_lock_hours.unwrap_or(0),
            ..LockParams::default()
        },
        allow_remote: args.allow_remote,
        ..SimConfig::default()
    };
    cfg.validate().context("ballast sim")?;
    cfg.check_listen(args.listen).context("ballast sim")?;
    let scenario = args
        .scenario
        .as_deref()
        .map(Scenario::load)
        .transpose()
        .context("--scenario")?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("--listen: cannot bind {}", args.listen))?;
    let auth = cfg.api_key.is_some();
    let venue = sim::start(cfg, listener)
        .await
        .context("starting the simulated venue")?;

    let mut out = std::io::stdout().lock();
    if json {
        let line = serde_json::json!({
            "event": "listening",
            "base_url": venue.base_url(),
            "addr": venue.addr().to_string(),
            "agent_id": venue.agent_id(),
            "seed": args.seed,
            "speed": args.speed,
            "auth": auth,
            "faults": args.faults.unwrap_or_default().to_string(),
        });
        writeln!(out, "{line}")?;
    } else {
        writeln!(
            out,
            "listening on {} agent={}",
            venue.base_url(),
            venue.agent_id()
        )?;
        let faults = args.faults.unwrap_or_default();
        writeln!(
            out,
            "seed={} speed={}x auth={} faults={} (Ctrl-C stops)",
            args.seed,
            args.speed,
            if auth { "bearer" } else { "off" },
            if faults.is_active() {
                faults.to_string()
            } else {
                "none".to_owned()
            },
        )?;
    }
    out.flush()?;
    drop(out);

    let scenario_task = scenario.map(|scenario| {
        let venue = venue.clone();
        tokio::spawn(async move {
            if let Err(error) = scenario.run(&venue).await {
                tracing::error!(%error, "scenario stopped");
                eprintln!("error: {error}");
            }
        })
    });
    let printer = (!json).then(|| tokio::spawn(print_notable(venue.clone())));

    super::wait_for_stop().await?;

    if let Some(task) = scenario_task {
        task.abort();
    }
    if let Some(task) = printer {
        task.abort();
    }
    let stats = venue.stats();
    venue.shutdown().await;
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(
            out,
            "{}",
            serde_json::to_string(&stats).context("encoding the stats")?
        )?;
    } else {
        let sim_time = stats
            .sim_time
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        writeln!(
            out,
            "stopped at {sim_time}: {} events, {} transfers, {} idempotent replays, {} rejected, accounting identity {}",
            stats.last_seq,
            stats.applied_transfers,
            stats.idempotent_replays,
            stats.rejected_requests,
            if stats.accounting.ok {
                "ok"
            } else {
                "VIOLATED"
            },
        )?;
    }
    out.flush()?;
    Ok(())
}

/// Prints one line per transfer, notable win and drawdown, for people rehearsing.
async fn print_notable(venue: SimHandle) {
    let mut events = venue.subscribe_events();
    loop {
        match events.recv().await {
            Ok(frame) => {
                // A closed stdout ends the feed; the venue goes on serving.
                if let Some(line) = describe(&frame)
                    && crate::outln!("{line}").is_err()
                {
                    break;
                }
            }
            Err(RecvError::Lagged(_)) => continue,
            Err(RecvError::Closed) => break,
        }
    }
}

fn describe(frame: &EventFrame) -> Option<String> {
    let total_usdc = frame
        .portfolio
        .as_ref()
        .map(|p| p.balances().values().copied().sum::<Decimal>())
        .unwrap_or_default();
    let ts = frame
        .ts
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    match &frame.kind {
        EventKind::Transfer {
            transfer_id,
            service,
            direction,
            amount_usdc,
        } => Some(format!(
            "{ts} seq={} transfer {transfer_id}: {service} {} {}",
            frame.seq,
            direction.name(),
            format_usdc(*amount_usdc)
        )),
        EventKind::CasinoWin {
            amount_usdc,
            multiplier,
            ..
        } if *amount_usdc >= total_usdc * NOTABLE_WIN_SHARE => Some(format!(
            "{ts} seq={} casino win {} at {multiplier}x (total {})",
            frame.seq,
            format_usdc(*amount_usdc),
            format_usdc(total_usdc)
        )),
        EventKind::Drawdown { service, drawdown } => Some(format!(
            "{ts} seq={} drawdown {service} {:.1}% from its peak",
            frame.seq,
            drawdown * Decimal::ONE_HUNDRED
        )),
        EventKind::FundsLocked {
            service,
            amount_usdc,
            until,
        } => Some(format!(
            "{ts} seq={} locked {service} {} until {}",
            frame.seq,
            format_usdc(*amount_usdc),
            until
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default()
        )),
        EventKind::FundsReleased {
            service,
            amount_usdc,
        } => Some(format!(
            "{ts} seq={} released {service} {}",
            frame.seq,
            format_usdc(*amount_usdc)
        )),
        _ => None,
    }
}
