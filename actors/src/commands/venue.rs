//! Which venue a command talks to: the embedded simulated venue or a remote one.
//!
//! # Invariants
//! - The embedded venue binds 127.0.0.1 on a free port; nothing listens beyond loopback.
//! - The API key passed to the embedded venue is the same one the client sends, so the
//!   embedded path exercises authentication exactly like a remote venue.

use ballast::{
    secret::ApiKey,
    sim::{SimConfig, SimHandle},
};

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
        return Ok(remote(url));
    }
    if settings.venue.mode == VenueMode::Remote {
        return Ok(remote(&settings.venue.url));
    }
    let config = SimConfig {
        agent_id: settings.venue.agent_id.clone(),
        seed: settings.sim.seed,
        speed: settings.sim.speed,
        api_key: api_key.cloned(),
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

fn remote(url: &str) -> Venue {
    Venue {
        url: url.to_owned(),
        sim: None,
        time: TimeSource::Wall,
    }
}
