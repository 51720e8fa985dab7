//! The simulated venue's HTTP vocabulary, in one place: the replies the engine produces
//! (status and JSON body), the error body, the status and code each ledger refusal is
//! answered with, and the agent check every agent route makes.
//!
//! The engine builds [`Reply`]s without touching axum (an idempotent replay stores one
//! whole); the server and the event stream turn them into responses here, so both answer
//! errors the same way.
//!
//! # Invariants
//! - Every error reply is an [`ErrorBody`] JSON with a stable code.
//! - A refusal's status follows its kind: 400 for a bad or unknown field, 409 for money or
//!   holdings the books do not have, 404 for a position that does not exist.

use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;

use super::ledger::StateError;
use crate::venue::protocol::ErrorBody;

/// A reply for the HTTP layer to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// JSON body.
    pub body: String,
}

impl Reply {
    /// A 200 reply with `value` as its JSON body (a 500 when it does not encode).
    pub fn json<T: Serialize>(value: &T) -> Self {
        match serde_json::to_string(value) {
            Ok(body) => Reply { status: 200, body },
            Err(e) => Reply::error(500, "internal", format!("encoding the response: {e}")),
        }
    }

    /// An error reply with an [`ErrorBody`].
    pub fn error(status: u16, code: &str, message: impl Into<String>) -> Self {
        let body = ErrorBody {
            code: code.to_owned(),
            message: message.into(),
        };
        Reply {
            status,
            body: serde_json::to_string(&body).unwrap_or_default(),
        }
    }

    /// The ledger's refusal, with its status and code.
    pub fn refusal(error: &StateError) -> Self {
        Reply::error(refusal_status(error), error.code(), error.to_string())
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (
            status,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            self.body,
        )
            .into_response()
    }
}

/// The HTTP status the venue answers a ledger refusal with.
fn refusal_status(error: &StateError) -> u16 {
    match error {
        StateError::Invalid { .. } | StateError::Unknown(_) => 400,
        StateError::InsufficientBalance { .. }
        | StateError::InsufficientFunds { .. }
        | StateError::InsufficientHoldings { .. }
        | StateError::FundsLocked { .. } => 409,
        StateError::PositionNotFound { .. } => 404,
    }
}

/// An [`ErrorBody`] response.
pub(super) fn error(status: u16, code: &str, message: impl Into<String>) -> Response {
    Reply::error(status, code, message).into_response()
}

/// A 200 response with `value` as its JSON body.
pub(super) fn json<T: Serialize>(value: &T) -> Response {
    Reply::json(value).into_response()
}

/// 404 `agent_not_found` unless `id` is the simulated agent, `agent_id`.
#[allow(clippy::result_large_err)]
pub(super) fn check_agent(agent_id: &str, id: &str) -> Result<(), Response> {
    if id == agent_id {
        Ok(())
    } else {
        Err(error(
            404,
            "agent_not_found",
            format!("no agent `{id}` on this venue"),
        ))
    }
}
