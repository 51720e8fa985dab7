//! The simulated venue: the Purple Flea protocol over real HTTP and websocket on loopback.
//!
//! It is the venue `ballast run` talks to by default, the `ballast sim` command, and the
//! peer of every end-to-end test and benchmark, so it must be faithful enough to rehearse
//! on. [`start`] serves it on a listener the caller bound (tests bind `127.0.0.1:0`) and
//! spawns the background activity (casino play, income, markets) on the current tokio
//! runtime; the returned [`SimHandle`] reads the clock, the balances and the transfers,
//! injects events and shuts everything down.
//!
//! How the parts fit, each depending only on those listed before it:
//! - [`markets`]: the assets and perp markets and their parameters; [`book`]: the perp
//!   positions and FIFO lots and their arithmetic.
//! - [`ledger`]: the pure books, one [`ledger::Op`] at a time, with the accounting
//!   identity, in rooms (cash, perps, wallet, day book, accounting).
//! - [`prices`]: the seeded model of mark prices and funding rates; [`model`]: the agent's
//!   own seeded activity (casino, income, escrow deals, marks); [`inject`]: scripted events,
//!   each straight into one ledger op. All three only build ops.
//! - [`http`]: replies, error bodies, the status of each refusal, the agent check.
//! - [`engine`]: ledger + event log + idempotency + return history + counters, no I/O.
//! - [`faults`]: the fault spec and its seeded dice; [`config`]: [`SimConfig`] and
//!   [`SimError`].
//! - `clock` and `shared`: the simulated clock, and the state the tasks share behind the
//!   engine lock.
//! - `ws` and `server`: the thin axum layer (the event stream; routes, auth, faults).
//! - [`runtime`]: [`start`] and [`SimHandle`]; [`scenario`]: TOML scripts of injections at
//!   simulated times.
//!
//! The simulator-only bodies (`/sim/stats`, `/sim/inject`, `/sim/advance`) are defined in
//! [`crate::venue::protocol::sim`], which clients read too.
//!
//! The clock: simulated time is `start + real elapsed × speed + skipped`, measured with
//! `tokio::time::Instant`, so under `tokio::time::pause()` it follows virtual time and a
//! test can fast-forward days of activity. [`SimHandle::advance`] (and the simulator-only
//! `POST /api/v1/sim/advance`) adds whole hours to `skipped` and runs the hours it jumps
//! over at once: with autoplay off that is the markets alone (marks, funding, limit fills,
//! liquidations) and the day closes, which is how a test steps a quiet venue's markets
//! without any wall-clock wait.
//!
//! # Invariants
//! - Every `/api/v1` route requires `Authorization: Bearer KEY` when a key is configured;
//!   the key is never logged or printed.
//! - Every error response is an [`ErrorBody`](crate::venue::protocol::ErrorBody) JSON.
//! - No balance ever goes negative and the accounting identity holds exactly (see
//!   [`ledger`]).
//! - Faults are off unless configured, and drawn from their own seeded stream.
//! - No module of the simulator imports one listed after it above (no import cycles).

pub mod book;
mod clock;
pub mod config;
pub mod engine;
pub mod faults;
pub mod http;
pub mod inject;
pub mod ledger;
pub mod markets;
pub mod model;
pub mod prices;
pub mod runtime;
pub mod scenario;
mod server;
mod shared;
#[cfg(test)]
mod test_support;
mod ws;

pub use self::{
    config::{DEFAULT_AGENT_ID, DEFAULT_SEED, DEFAULT_SPEED, MAX_SPEED, SimConfig, SimError},
    engine::{AppliedTransfer, LockParams, MAX_ADVANCE_HOURS},
    faults::{FaultConfig, FaultSpecError},
    inject::Injection,
    ledger::{StateError, article_balances_usdc},
    markets::MarketParams,
    model::CasinoParams,
    runtime::{SimHandle, start},
    scenario::Scenario,
};
pub use crate::venue::protocol::sim::{AdvanceResponse, InjectRequest, MarketStats, SimStats};
