//! The Purple Flea venue protocol: every request and response body, and the event stream.
//!
//! Paths and field names follow the source article so that real clients of that API work;
//! the additions a production system needs are marked *addition* and documented in
//! `docs/venue-protocol.md`: an `Idempotency-Key` header on every POST/DELETE, a `seq` on the
//! portfolio, a websocket event stream with monotonically increasing `seq`, error bodies
//! with a code and a message, the wallet's tax lots (`GET /wallet/holdings`), and the fields
//! that let a client reconcile orders, closes and trades to the cent (margin, quantity,
//! funding, spread, lots used).
//!
//! Money fields are JSON numbers read exactly into `Decimal` (see [`wire`]).
//! Response types accept unknown fields (the venue may add some); request types reject them.
//!
//! # Invariants
//! - Decoding never panics; [`EventFrame::decode`] returns a typed error for every bad frame,
//!   and unknown event types decode to [`EventKind::Unknown`] rather than failing.
//! - [`PortfolioResponse::to_snapshot`] rejects negative balances, naming the field.

use serde::{Deserialize, Serialize};

pub mod events;
pub mod markets;
pub mod portfolio;
pub mod sim;
pub mod validation;
pub mod wire;

pub use self::{events::*, markets::*, portfolio::*};

/// Base path of every endpoint.
pub const API_BASE: &str = "/api/v1";
/// Header that makes a POST or DELETE idempotent (*addition*).
pub const IDEMPOTENCY_HEADER: &str = "Idempotency-Key";

/// Every error response (*addition*): a stable machine code and a human message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Stable code, e.g. `insufficient_balance`, `bad_request`, `unauthorized`.
    pub code: String,
    /// Human-readable detail.
    pub message: String,
}
