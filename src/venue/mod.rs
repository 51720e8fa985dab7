//! The venue adapter: the Purple Flea wire protocol, and the REST and websocket clients.
//!
//! `protocol` is pure data (serde types and the event decoder; `to_snapshot` and `to_history`
//! turn REST bodies into core types), and `observe` turns each event frame into the core's
//! observation; `client`, `markets` (perp orders, positions, wallet trades and lots) and
//! `stream` do the I/O. The simulated venue in [`crate::sim`] serves the same protocol.

pub mod backoff;
pub mod client;
pub mod markets;
pub mod observe;
pub mod protocol;
pub mod stream;
