//! Execution decisions: how plans and legs are named, what a pending leg becomes, whether a
//! failed send is retried, and how a plan's legs are tallied; plain functions over plain
//! data, for the SpotExecutor to call.
//!
//! [`ids`] names plans (`{run_id}:{plan_seq}`) and legs (`{plan_id}:{leg_index}`, the
//! venue idempotency key); [`reconcile`] turns the venue's answer about a pending leg's key
//! into an action; [`retry`] decides what follows a failed send; [`outcome`] walks a plan
//! leg by leg and counts what happened. The venue's replies enter as a type parameter, so
//! this module needs nothing from the adapters.
//!
//! # Invariants
//! - No I/O, and nothing from `venue`, `sim` or `store`: the adapters translate into these
//!   types (`venue::client` returns [`KeyStatus`] and converts its errors to
//!   [`SendFailure`]).
//! - A leg is only ever sent, retried and asked about under its one [`LegKey`].
//! - Every text a leg can be failed with is written here, once.

pub mod ids;
pub mod outcome;
pub mod reconcile;
pub mod retry;

pub use ids::{IdError, LegKey, PlanId};
pub use outcome::{NextLeg, PlanOutcome};
pub use reconcile::{KeyStatus, ReconcileAction, Reconciled, classify_pending};
pub use retry::{LegFailure, RetryDecision, RetryInput, SendFailure, decide_retry};
