//! The simulated venue's HTTP vocabulary, in one place: the replies the engine produces
//! (status and JSON body), the error body, the status and code each ledger refusal is
//! answered with, and the agent check every agent route makes.
//!
//! The engine builds [`Reply`]s without touching axum (an idempotent replay stores one
//! whole); the server and the event stream turn them into responses here, so both answer
//! errors the same way.
//!
//! Errors axum produces itself (a body over the size limit, a path segment that is not UTF-8,
//! anything an extractor rejects) are plain text; [`json_errors`], the outermost layer,
//! rewrites each into the same [`ErrorBody`] with the code its status has in the protocol.
//!
//! # Invariants
//! - Every error reply is an [`ErrorBody`] JSON with a stable code, whoever produced it.
//! - A refusal's status follows its kind: 400 for a bad or unknown field, 409 for money or
//!   holdings the books do not have, 404 for a position that does not exist.

use axum::{
    body::to_bytes,
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

/// Largest request body accepted (axum's default, written down); a larger one is answered
/// `413 payload_too_large` in the usual error body.
pub const MAX_REQUEST_BODY_BYTES: usize = 2 * 1024 * 1024;

/// Longest plain-text error body read to become a JSON message (axum's are one line).
const PLAIN_ERROR_MAX_BYTES: usize = 4096;

/// The protocol's code for an error status that a handler did not produce itself.
fn code_for(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "bad_request",
        401 => "unauthorized",
        404 => "not_found",
        405 => "method_not_allowed",
        413 => "payload_too_large",
        415 => "unsupported_media_type",
        422 => "unprocessable_entity",
        429 => "rate_limited",
        503 => "unavailable",
        s if s >= 500 => "internal",
        _ => "bad_request",
    }
}

/// Rewrites an error response that is not JSON (axum's own rejections) into an
/// [`ErrorBody`] with its status's code and the text as message; headers such as `Allow` or
/// `Retry-After` are kept. Everything else passes unchanged.
pub(super) async fn json_errors(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = to_bytes(body, PLAIN_ERROR_MAX_BYTES)
        .await
        .map(|bytes| String::from_utf8_lossy(&bytes).trim().to_owned())
        .unwrap_or_default();
    let message = match status {
        StatusCode::PAYLOAD_TOO_LARGE => {
            format!("the request body is larger than the {MAX_REQUEST_BODY_BYTES} bytes accepted")
        }
        _ if text.is_empty() => status
            .canonical_reason()
            .unwrap_or("error")
            .to_ascii_lowercase(),
        _ => text,
    };
    let json = Reply::error(status.as_u16(), code_for(status), message).into_response();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, json.into_body())
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
