//! What the simulated venue needs to start, its defaults, and what can go wrong starting or
//! driving it.
//!
//! # Invariants
//! - [`SimConfig::validate`] lists every bad field at once, each naming it; a config that
//!   passes starts.
//! - A venue listens beyond loopback only when [`SimConfig::allow_remote`] is set *and* it
//!   requires an API key ([`SimConfig::check_listen`]): a venue anyone on the network can move
//!   money on is never started by accident.

use std::net::SocketAddr;

use rust_decimal::Decimal;
use time::OffsetDateTime;

use super::{
    engine::LockParams,
    faults::{FaultConfig, FaultSpecError},
    ledger::{Ledger, StateError, article_balances_usdc},
    markets::MarketParams,
    model::CasinoParams,
};
use crate::{secret::ApiKey, service::ServiceMap};

/// Default simulated seconds per real second: 6 simulated hours a second, so a 30-second
/// demo lives through a week of casino play, income and markets.
pub const DEFAULT_SPEED: f64 = 21_600.0;
/// Fastest clock accepted: about 2,800 simulated hours per real second, still well within
/// what one core announces.
pub const MAX_SPEED: f64 = 10_000_000.0;
/// Default seed.
pub const DEFAULT_SEED: u64 = 42;
/// Default agent id.
pub const DEFAULT_AGENT_ID: &str = "agent-1";

/// Everything the simulated venue needs to start.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// The one agent the venue serves; other ids get 404.
    pub agent_id: String,
    /// Seed of the market (casino, income, prices); faults use a derived stream.
    pub seed: u64,
    /// Simulated seconds per real second; positive and finite, at most [`MAX_SPEED`].
    pub speed: f64,
    /// Simulated time at start.
    pub start: OffsetDateTime,
    /// Balances at start, whole cents.
    pub initial_balances_usdc: ServiceMap<Decimal>,
    /// When set, every `/api/v1` request must carry `Authorization: Bearer KEY`.
    pub api_key: Option<ApiKey>,
    /// How the agent plays the casino.
    pub casino: CasinoParams,
    /// Fees, the wallet's spread and the leverage limit of the markets.
    pub markets: MarketParams,
    /// Whether background activity runs; off, only requests, injections and
    /// [`SimHandle::advance`](super::SimHandle::advance) move money.
    pub autoplay: bool,
    /// Faults to inject (all off by default).
    pub faults: FaultConfig,
    /// When the venue locks winnings on its own (off by default).
    pub locks: LockParams,
    /// Whether the venue may listen on an address other machines can reach (it must then
    /// require `api_key`); off by default, loopback only.
    pub allow_remote: bool,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            agent_id: DEFAULT_AGENT_ID.to_owned(),
            seed: DEFAULT_SEED,
            speed: DEFAULT_SPEED,
            start: time::macros::datetime!(2025-12-31 12:00 UTC),
            initial_balances_usdc: article_balances_usdc(),
            api_key: None,
            casino: CasinoParams::default(),
            markets: MarketParams::default(),
            autoplay: true,
            faults: FaultConfig::default(),
            locks: LockParams::default(),
            allow_remote: false,
        }
    }
}

impl SimConfig {
    /// Checks every field, listing every problem at once.
    ///
    /// # Errors
    /// [`SimError::Config`] with one line per bad field, each naming it.
    pub fn validate(&self) -> Result<(), SimError> {
        let mut problems = Vec::new();
        if self.agent_id.is_empty()
            || !self
                .agent_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            problems.push(format!(
                "agent_id: `{}` must be non-empty ASCII letters, digits, `-`, `_` or `.`",
                self.agent_id
            ));
        }
        if !(self.speed.is_finite() && self.speed > 0.0 && self.speed <= MAX_SPEED) {
            problems.push(format!(
                "speed: {} must be a finite number in (0, {MAX_SPEED}]",
                self.speed
            ));
        }
        if let Err(error) = Ledger::new(self.initial_balances_usdc) {
            problems.push(format!("initial_balances_usdc: {error}"));
        }
        if let Err(mut casino) = self.casino.validate() {
            problems.append(&mut casino);
        }
        if let Err(mut markets) = self.markets.validate() {
            problems.append(&mut markets);
        }
        if let Err(mut faults) = self.faults.validate() {
            problems.append(&mut faults);
        }
        if let Err(mut locks) = self.locks.validate() {
            problems.append(&mut locks);
        }
        crate::validation::every_problem(problems).map_err(SimError::Config)
    }
}

impl SimConfig {
    /// Checks that the venue may listen on `addr`: loopback always; any other address only
    /// with `allow_remote` and an `api_key`.
    ///
    /// # Errors
    /// [`SimError::Config`] naming each missing permission.
    pub fn check_listen(&self, addr: SocketAddr) -> Result<(), SimError> {
        if addr.ip().is_loopback() {
            return Ok(());
        }
        let mut problems = Vec::new();
        if !self.allow_remote {
            problems.push(format!(
                "listen: {addr} is not a loopback address; serving the venue to other machines needs allow_remote (`--allow-remote`)"
            ));
        }
        if self.api_key.is_none() {
            problems.push(format!(
                "api_key: a venue listening on {addr} must require a key, or anyone who reaches it moves the money (set PURPLE_FLEA_API_KEY)"
            ));
        }
        crate::validation::every_problem(problems).map_err(SimError::Config)
    }
}

/// What can go wrong starting or driving the simulated venue.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The config is invalid; one entry per problem, each naming its field.
    #[error("invalid simulated venue config: {}", .0.join("; "))]
    Config(Vec<String>),
    /// The listener has no local address.
    #[error("cannot read the listener's address: {0}")]
    Listener(#[source] std::io::Error),
    /// The ledger refused an injection.
    #[error("injection refused: {0}")]
    Rejected(#[from] StateError),
    /// A fault spec did not parse.
    #[error(transparent)]
    FaultSpec(#[from] FaultSpecError),
    /// A scenario file could not be read or is invalid.
    #[error("scenario {path}: {reason}")]
    Scenario {
        /// The file.
        path: String,
        /// What is wrong, naming the step and field.
        reason: String,
    },
}
