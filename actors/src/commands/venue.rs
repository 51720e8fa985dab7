//! Which venue a command talks to: the embedded simulated venue or a remote one.
//!
//! # Invariants
//! - The embedded venue binds 127.0.0.1 on a free port; nothing listens beyond loopback.
//! - The API key passed to the embedded venue is the same one the client sends, so the
//!   embedded path exercises authentication exactly like a remote venue.

use ballast::{
    secret::ApiKey,
    sim::{CasinoParams, LockParams, SimConfig, SimHandle},
    venue::client::VenueClient,
};
use rust_decimal::prelude::ToPrimitive;

use crate::{
    clock::TimeSource,
    settings::{Validated, VenueMode},
};

/// A venue ready to talk to.
#[derive(Debug)]
pub struct Venue {
    /// Its URL.
    pub url: String,
    /// The embedded simulator, when there is one (shut down on exit).
    pub sim: Option<SimHandle>,
    /// Time as the venue sees it.
    pub time: TimeSource,
}

/// Starts the embedded venue or points at the remote one. `override_url` (from `--venue`)
/// always means remote.
///
/// # Errors
/// When the embedded venue cannot bind or its configuration is invalid.
pub async fn open(
    validated: &Validated,
    override_url: Option<&str>,
    api_key: Option<&ApiKey>,
) -> anyhow::Result<Venue> {
    let settings = &validated.settings;
    if let Some(url) = override_url {
        return Ok(remote(url, validated, api_key).await);
    }
    if settings.venue.mode == VenueMode::Remote {
        return Ok(remote(&settings.venue.url, validated, api_key).await);
    }
    let config = SimConfig {
        agent_id: settings.venue.agent_id.clone(),
        seed: settings.sim.seed,
        speed: settings.sim.speed,
        api_key: api_key.cloned(),
        casino: CasinoParams {
            btc_correlation: settings.sim.casino_btc_correlation,
            ..CasinoParams::default()
        },
        locks: LockParams {
            after_large_win_hours: settings.sim.win_lock_hours,
            ..LockParams::default()
        },
        ..SimConfig::default()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let sim = ballast::sim::start(config, listener).await?;
    let time = TimeSource::scaled(sim.now(), settings.sim.speed);
    Ok(Venue {
        url: sim.base_url(),
        sim: Some(sim),
        time,
    })
}

/// A remote venue. A `ballast sim` venue runs an accelerated clock: follow it, so daily
/// ticks come once per simulated day as they do with the embedded venue. A real venue has no
/// `/sim/stats` and runs on wall time.
async fn remote(url: &str, validated: &Validated, api_key: Option<&ApiKey>) -> Venue {
    let time = match clock_of(url, validated, api_key).await {
        Some(time) => time,
        None => TimeSource::Wall,
    };
    Venue {
        url: url.to_owned(),
        sim: None,
        time,
    }
}

async fn clock_of(
    url: &str,
    validated: &Validated,
    api_key: Option<&ApiKey>,
) -> Option<TimeSource> {
    let client = VenueClient::new(
        url,
        &validated.settings.venue.agent_id,
        api_key.cloned(),
        validated.request_timeout,
    )
    .ok()?;
    match client.sim_clock().await {
        Ok(Some(clock)) => {
            let speed = clock.speed.to_f64().filter(|s| s.is_finite() && *s > 0.0)?;
            tracing::info!(%clock.sim_time, speed, "following the simulated venue's clock");
            Some(TimeSource::scaled(clock.sim_time, speed))
        }
        Ok(None) => None,
        Err(error) => {
            tracing::warn!(%error, "venue clock unknown; using wall time");
            None
        }
    }
}
