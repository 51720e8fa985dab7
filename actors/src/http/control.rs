//! `POST /control/{pause,resume,halt,rebalance,recompute}`: the operator's commands.
//!
//! Each request needs `Authorization: Bearer <token>` (401 without, 403 with another). The
//! body is optional JSON, `{"reason": "...", "by": "..."}`. One command is carried out at a
//! time: the core's [`decide`] says what it does in the mode now (409 when refused), the
//! [`ControlSwitch`](crate::control::ControlSwitch) is set directly — ahead of any queued work
//! — the action is recorded in the store, the detector and the bus are told, and the answer
//! says what happened.
//!
//! # Invariants
//! - A halt is acknowledged only once the switch is halted and no leg POST is in flight, so no
//!   order is sent after the acknowledgement. Its latency is bounded by the venue's request
//!   timeout (a POST in flight is let finish) plus one store write.
//! - Nothing is changed for a request that fails authentication or validation.
//! - The token never appears in a response or a log line.
//! - Each accepted `rebalance` is a request of its own: its reason carries the action's time,
//!   so its plan's name (`ballast::execution::naming`) is never one an earlier action used.

use std::{net::SocketAddr, sync::Arc, time::Instant};

use axum::{
    Json,
    body::Bytes,
    extract::{ConnectInfo, Path, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};
use ballast::control::{Command, ControlRecord, Mode, decide};
use serde::Deserialize;
use time::OffsetDateTime;
use tracing::{info, warn};

use super::{AppState, error};
use crate::messages::{ControlApplied, RebalanceRequest, RecomputeTargets};

/// Longest `reason` accepted, characters.
pub const REASON_MAX_CHARS: usize = 500;
/// Longest `by` accepted, characters.
pub const BY_MAX_CHARS: usize = 100;

/// The optional body.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ControlBody {
    /// Why.
    #[serde(default)]
    reason: String,
    /// Who (defaults to the client's address).
    #[serde(default)]
    by: Option<String>,
}

/// A refused request: the status, a short code, and the message naming what is wrong.
#[derive(Debug)]
struct Refusal {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let mut response = error(self.status, self.code, self.message);
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}

/// Checks the bearer token.
fn authorize(state: &AppState, headers: &HeaderMap) -> Result<(), Refusal> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Err(Refusal {
            status: StatusCode::UNAUTHORIZED,
            code: "unauthorized",
            message: "control needs `Authorization: Bearer <token>` (the token is in the data directory's control.token, or BALLAST_CONTROL_TOKEN)".to_owned(),
        });
    };
    let presented = value
        .to_str()
        .ok()
        .and_then(|text| text.strip_prefix("Bearer "))
        .unwrap_or_default();
    if state.token.matches(presented.trim()) {
        Ok(())
    } else {
        warn!("control request with a wrong token refused");
        Err(Refusal {
            status: StatusCode::FORBIDDEN,
            code: "forbidden",
            message: "the control token does not match".to_owned(),
        })
    }
}

fn parse_body(body: &Bytes) -> Result<ControlBody, Refusal> {
    let bad = |message: String| Refusal {
        status: StatusCode::BAD_REQUEST,
        code: "bad_request",
        message,
    };
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(ControlBody::default());
    }
    let parsed: ControlBody =
        serde_json::from_slice(body).map_err(|e| bad(format!("body: {e}")))?;
    if parsed.reason.chars().count() > REASON_MAX_CHARS {
        return Err(bad(format!(
            "reason: longer than {REASON_MAX_CHARS} characters"
        )));
    }
    if let Some(by) = &parsed.by
        && (by.trim().is_empty() || by.chars().count() > BY_MAX_CHARS)
    {
        return Err(bad(format!("by: must be 1 to {BY_MAX_CHARS} characters")));
    }
    Ok(parsed)
}

/// `POST /control/{command}`.
pub(super) async fn control(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let received = Instant::now();
    let Ok(command) = name.parse::<Command>() else {
        return error(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("`{name}`: the commands are pause, resume, halt, rebalance, recompute"),
        );
    };
    if let Err(refusal) = authorize(&state, &headers) {
        return refusal.into_response();
    }
    let body = match parse_body(&body) {
        Ok(body) => body,
        Err(refusal) => return refusal.into_response(),
    };
    let by = body.by.unwrap_or_else(|| format!("http {peer}"));
    // One command at a time: the mode read here is the mode the command applies to.
    let _one_at_a_time = state.control_lock.lock().await;
    let previous = state.peers.switch.mode();
    let mode = match decide(previous, command) {
        Ok(mode) => mode,
        Err(refused) => {
            return error(StatusCode::CONFLICT, "conflict", refused.to_string());
        }
    };
    // Ahead of everything queued: the executor reads the switch before every leg and POST.
    state.peers.switch.set_mode(mode);
    let effective_ms = received.elapsed().as_secs_f64() * 1e3;
    if mode == Mode::Halted {
        // No order after the answer: wait out the leg POST in flight, if any.
        state.peers.switch.sends_settled().await;
    }
    let settled_ms = received.elapsed().as_secs_f64() * 1e3;
    let record = ControlRecord {
        at: OffsetDateTime::now_utc(),
        command,
        previous,
        mode,
        by,
        reason: body.reason,
    };
    let recorded = state.peers.store.record_control(record.clone()).await;
    *state.last_action.lock().await = Some(record.clone());
    match command {
        Command::Rebalance => {
            // The action's moment is part of the reason, and so of the plan's name (a
            // request is named after the last event and its reason): each accepted rebalance
            // is a plan of its own, also after a restart with no event in between.
            let at = record
                .at
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_else(|_| record.at.unix_timestamp_nanos().to_string());
            let reason = if record.reason.is_empty() {
                format!("operator ({}) at {at}", record.by)
            } else {
                format!("operator ({}) at {at}: {}", record.by, record.reason)
            };
            state.peers.requests.do_send(RebalanceRequest { reason });
        }
        Command::Recompute => {
            let reason = format!("operator ({})", record.by);
            state.peers.optimizer.do_send(RecomputeTargets { reason });
        }
        Command::Pause | Command::Resume | Command::Halt => {}
    }
    // One message each, not a flood: `do_send` so a busy mailbox cannot lose them.
    state.peers.detector.do_send(ControlApplied {
        record: record.clone(),
    });
    state.peers.bus.do_send(
        ControlApplied {
            record: record.clone(),
        }
        .into(),
    );
    let acknowledged_ms = received.elapsed().as_secs_f64() * 1e3;
    info!(command = command.name(), mode = mode.name(), previous = previous.name(),
          by = %record.by, effective_ms, settled_ms, acknowledged_ms, "control action");
    if let Err(store_error) = recorded {
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "not_recorded",
            format!(
                "trading is {mode} in this process, but the store did not record it ({store_error}); a restart would not remember it"
            ),
        );
    }
    let body = serde_json::json!({
        "command": command,
        "mode": mode,
        "previous": previous,
        "at": record.at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
        "by": record.by,
        "reason": record.reason,
        "recorded": true,
        "effective_ms": effective_ms,
        "settled_ms": settled_ms,
        "acknowledged_ms": acknowledged_ms,
        "note": note(command, mode),
    });
    (StatusCode::OK, Json(body)).into_response()
}

/// What the command means now, in one sentence.
fn note(command: Command, mode: Mode) -> &'static str {
    match (command, mode) {
        (Command::Halt, _) => "no order is sent from now until resumed, also after a restart",
        (Command::Pause, _) => {
            "no new plan; the leg in flight finished or finishes, the rest waits for resume"
        }
        (Command::Resume, _) => "trading again; triggers that waited fire now",
        (Command::Rebalance, _) => "a rebalance to target was requested",
        (Command::Recompute, _) => "a recompute of the targets was requested",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_optional_strict_and_bounded() {
        struct TestCase {
            body: &'static str,
            expected: Result<(&'static str, Option<&'static str>), StatusCode>,
        }
        let long = "x".repeat(REASON_MAX_CHARS + 1);
        let long_reason: &'static str =
            Box::leak(format!("{{\"reason\":\"{long}\"}}").into_boxed_str());
        let cases = [
            // TC0: no body.
            TestCase {
                body: "",
                expected: Ok(("", None)),
            },
            // TC1: a reason and a name.
            TestCase {
                body: r#"{"reason":"venue incident","by":"ops"}"#,
                expected: Ok(("venue incident", Some("ops"))),
            },
            // TC2: an unknown field names itself.
            TestCase {
                body: r#"{"token":"x"}"#,
                expected: Err(StatusCode::BAD_REQUEST),
            },
            // TC3: not JSON.
            TestCase {
                body: "halt now",
                expected: Err(StatusCode::BAD_REQUEST),
            },
            // TC4: too long a reason.
            TestCase {
                body: long_reason,
                expected: Err(StatusCode::BAD_REQUEST),
            },
            // TC5: an empty name.
            TestCase {
                body: r#"{"by":" "}"#,
                expected: Err(StatusCode::BAD_REQUEST),
            },
        ];
        for (i, case) in cases.into_iter().enumerate() {
            let got = parse_body(&Bytes::from_static(case.body.as_bytes()));
            match (got, case.expected) {
                (Ok(body), Ok((reason, by))) => {
                    assert_eq!(body.reason, reason, "TC{i}");
                    assert_eq!(body.by.as_deref(), by, "TC{i}");
                }
                (Err(refusal), Err(status)) => assert_eq!(refusal.status, status, "TC{i}"),
                (got, expected) => panic!("TC{i}: {:?} vs {expected:?}", got.map(|b| b.reason)),
            }
        }
    }
}
