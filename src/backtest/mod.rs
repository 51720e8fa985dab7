//! The backtester: replays daily returns of the six services through a trigger rule
//! ([`crate::policy::rules`], the same code the live detector decides with), with costs, the
//! minimum trade and cash flows, and measures the result ([`crate::performance`]).
//!
//! - [`engine`]: one path, day by day, with an observer (metrics, plot data) and a hook for
//!   event responses that change the targets (drawdown protection, volatility spikes).
//! - [`events`]: the event responses as hooks.
//! - [`paths`]: the returns CSV, the venue-like return model and day bootstrapping.
//! - [`observe`]: observers that feed the metrics and record days for plots.
//! - [`montecarlo`]: many seeded paths on all cores, percentiles of every metric.
//! - [`policies`]: the named policies, the article's comparison set and band sweeps.
//!
//! # Money in `f64`, and where it differs from the live `Decimal` path
//! Holdings, amounts moved and costs are `f64` here: a backtest multiplies every holding by a
//! return every day (3,650 × 6 products a path, millions of paths), which `Decimal` would
//! make ~50× slower and would round to 28 digits anyway. The live path differs in three
//! places, each documented where it happens: (1) live legs are whole cents and the backtest's
//! are exact (sub-cent), (2) live transfers go through the reserve hub, so the USDC sent is
//! between half the backtest's `amount moved` (half the sum of absolute differences, the
//! reference loop's definition) and all of it, and (3) a weight exactly on a band edge in
//! decimal may sit a rounding step inside it in `f64` (`rules`' docs show the case).
//!
//! # Invariants
//! - Pure: no I/O (the CLI reads files and hands text in); deterministic for a seed.
//! - Services are in [`Service::ALL`] order; the reserve ([`HUB`]) funds every transfer.

// Holdings, weights, targets and returns are parallel arrays indexed by service: an index
// loop over them says so more plainly than zipped iterators.
#![allow(clippy::needless_range_loop)]

use thiserror::Error;

use crate::{math::returns_csv::CsvError, service::Service};

pub mod engine;
pub mod events;
pub mod montecarlo;
pub mod observe;
pub mod paths;
pub mod policies;

#[cfg(test)]
mod tests;

/// Number of services.
pub const N: usize = Service::ALL.len();

/// One value per service, in [`Service::ALL`] order.
pub type Row = [f64; N];

/// The reserve: every transfer goes through it, and it takes the remainder at a band edge.
pub const HUB: usize = Service::Reserve.index();

/// Most rows × columns a returns file may have (about 4,500 years of six services): the
/// one reader's cap.
pub use crate::math::returns_csv::MAX_RETURN_CELLS;

/// Most paths × days a Monte Carlo run may ask for (before × policies).
pub const MAX_PATH_DAYS: u64 = 2_000_000_000;

/// What can be wrong with backtest input.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum BacktestError {
    /// The returns file as a file: empty, ragged, not numbers, −100%, too large (the one
    /// reader's refusals, `math::returns_csv`).
    #[error(transparent)]
    Csv(#[from] CsvError),
    /// A header name that is not a service, or a service named twice.
    #[error("header column {column}: {problem}")]
    BadHeader {
        /// 1-based column.
        column: usize,
        /// What is wrong.
        problem: String,
    },
    /// A configuration value out of range, naming it.
    #[error("{name}: {problem}")]
    BadParameter {
        /// The parameter (`cost_bps`, `targets`, ...).
        name: String,
        /// What is wrong.
        problem: String,
    },
}

impl BacktestError {
    pub(crate) fn parameter(name: &str, problem: impl Into<String>) -> Self {
        BacktestError::BadParameter {
            name: name.to_owned(),
            problem: problem.into(),
        }
    }
}
