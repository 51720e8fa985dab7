//! What a mutating request comes to: the reply, the frames to broadcast, the transfer it
//! applied, and the small rules every handler shares to build them.
//!
//! # Invariants
//! - A refused request announces nothing and applies nothing.

use rust_decimal::Decimal;
use serde::Serialize;
use time::OffsetDateTime;

use crate::{
    service::{Direction, Service},
    sim::{
        http::Reply,
        ledger::{StateError, invalid},
    },
    venue::protocol::EventFrame,
};

/// A rebalance transfer the venue applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedTransfer {
    /// `seq` of the `transfer` event that announced it.
    pub seq: u64,
    /// Venue transfer id.
    pub transfer_id: String,
    /// The service.
    pub service: Service,
    /// Increase or decrease.
    pub direction: Direction,
    /// Amount moved.
    pub amount_usdc: Decimal,
    /// The request's `Idempotency-Key`, if it had one.
    pub idempotency_key: Option<String>,
    /// When the request reached the venue (before any injected latency or processing).
    pub received_at: tokio::time::Instant,
    /// Simulated time it was applied.
    pub sim_time: OffsetDateTime,
}

/// The outcome of a mutating request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Processed {
    /// What to answer.
    pub reply: Reply,
    /// Frames to broadcast.
    pub frames: Vec<EventFrame>,
    /// The transfer applied, for a rebalance that applied one.
    pub transfer: Option<AppliedTransfer>,
    /// Whether the books changed (a lost ack only makes sense then).
    pub applied: bool,
}

/// A 200 reply with `response` as its body, for a request that changed the books.
pub(super) fn applied<T: Serialize>(response: &T, frames: Vec<EventFrame>) -> Processed {
    Processed {
        reply: Reply {
            status: 200,
            body: serde_json::to_string(response).unwrap_or_default(),
        },
        frames,
        transfer: None,
        applied: true,
    }
}

/// The ledger's refusal, answered with its status and code.
pub(super) fn refused(error: &StateError) -> Processed {
    refused_with(Reply::refusal(error))
}

/// A refusal answered with `reply`.
pub(super) fn refused_with(reply: Reply) -> Processed {
    Processed {
        reply,
        frames: Vec::new(),
        transfer: None,
        applied: false,
    }
}

/// The first frame of an applied op: the one whose fields the reply echoes. An op that
/// announced nothing was not applied, which is refused naming `field`.
pub(super) fn first_applied<'a>(
    frames: &'a [EventFrame],
    field: &'static str,
) -> Result<&'a EventFrame, StateError> {
    frames.first().ok_or_else(|| not_applied(field))
}

/// The refusal of an op that announced nothing, naming `field`.
pub(super) fn not_applied(field: &'static str) -> StateError {
    invalid(field, "was not applied")
}

/// Every audited request carries a reason; a blank one is refused before anything moves.
pub(super) fn require_reason(reason: &str) -> Result<(), StateError> {
    if reason.trim().is_empty() {
        return Err(invalid("reason", "must not be empty"));
    }
    Ok(())
}
