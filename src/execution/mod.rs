//! Execution decisions: how plans and legs are named, whether a venue reply describes its
//! request, what a pending leg becomes, whether a failed send is retried, and how a plan's
//! legs are tallied; plain functions over plain data, for the SpotExecutor to call.
//!
//! [`ids`] writes and parses plan ids (`v{venue}.{trigger}@{attempt}`, and the legacy
//! `{run_id}:{plan_seq}`) and leg keys (`{plan_id}:{leg_index}`, the venue idempotency key);
//! [`naming`] decides which trigger a plan answers, so two companions name it alike;
//! [`reply`] checks a money reply against its request before a leg is booked;
//! [`reconcile`] turns the venue's answer about a pending leg's key into an action;
//! [`retry`] decides what follows a failed send; [`outcome`] walks a plan leg by leg and
//! counts what happened. The venue's replies enter as a type parameter or as plain fields,
//! so this module needs nothing from the adapters.
//!
//! # Invariants
//! - No I/O, and nothing from `venue`, `sim` or `store`: the adapters translate into these
//!   types (`venue::client` returns [`KeyStatus`] and converts its errors to
//!   [`SendFailure`]).
//! - A leg is only ever sent, retried and asked about under its one [`LegKey`].
//! - No leg is booked applied on a reply that does not describe it ([`check_reply`]).
//! - Every text a leg can be failed with is written here, once.

pub mod ids;
pub mod naming;
pub mod outcome;
pub mod reconcile;
pub mod reply;
pub mod retry;

pub use ids::{IdError, LegKey, PlanId, TriggerId, VenueTag};
pub use naming::{Attempts, PlanNamer};
pub use outcome::{NextLeg, PlanOutcome};
pub use reconcile::{KeyStatus, ReconcileAction, Reconciled, check_applied, classify_pending};
pub use reply::{
    BookedTransfers, Replied, ReplyMismatch, Requested, Trade, check_reply, check_trade,
};
pub use retry::{LegFailure, RetryDecision, RetryInput, SendFailure, decide_retry};
