//! Perp hedges that bridge a slow spot rebalance: the HedgeExecutor's decisions, as plain
//! functions over plain data.
//!
//! The article shorts BTC-PERP 1:1 against a casino overweight while a spot rebalance waits
//! out "a 2–3 day window". Here the window is real (the venue reports what it has locked) and
//! the bridge is sized and unwound by rule:
//! - [`config`]: the `[hedge]` settings and their checks;
//! - [`ratio`]: the fixed 1:1 ratio, or the minimum-variance ratio estimated from the return
//!   history ([`crate::math::hedge`]) and skipped below the correlation floor;
//! - [`rules`]: which overweight is stuck, when a hedge opens and at what size, when it
//!   closes (the lock lifted, or the drift resolved) or is resized;
//! - [`ids`]: hedge ids and order keys, named after the balances that triggered the hedge so
//!   two companions send the same keys;
//! - [`book`]: the states a hedge goes through, its costs, and what a restart does with each
//!   hedge and each venue position.
//!
//! # Invariants
//! - No I/O, and nothing from `venue`, `sim` or `store`; the HedgeExecutor actor does the
//!   I/O around these decisions, and reads the venue's replies into these types.
//! - Money is `Decimal`; `f64` appears only in the ratio's estimate, which crosses into
//!   money through a finiteness-checked conversion.

pub mod book;
pub mod config;
pub mod ids;
pub mod ratio;
pub mod rules;

pub use book::{HedgeCosts, HedgeStatus, StartupAction, foreign_positions, startup_action};
pub use config::{HedgeConfig, RatioMethod};
pub use ids::{HedgeId, HedgeIdError, HedgeNamer, hedge_trigger};
pub use ratio::{RatioDecision, decide_ratio};
pub use rules::{
    CloseReason, HeldHedge, HoldDecision, LockedExcess, OpenOrder, SizeLimits, SkipReason,
    decide_hold, decide_open, eligible, locked_excess, margin_available, request_due, services_of,
};
