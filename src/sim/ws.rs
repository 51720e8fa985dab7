//! The event stream `GET /api/v1/agents/{id}/events?since=SEQ`, with websocket faults.
//!
//! A session first replays the buffered frames after `since`, then forwards live frames,
//! and sends a heartbeat (the last `seq` sent, no portfolio, never buffered) every
//! [`HEARTBEAT_INTERVAL`] so an idle connection shows life. Subscribing to the live channel
//! and reading the buffer happen under the engine lock, and frames are published under the
//! same lock, so nothing falls between replay and live and nothing is sent twice.
//!
//! Faults, drawn once per event frame: `drop_ws` closes the socket without a close frame;
//! `silent_ws` keeps it open but sends nothing more, not even heartbeats; `duplicate` sends
//! the frame twice; `reorder` holds it back until after the next frame (or the next
//! heartbeat tick); `malformed` sends a broken frame first (bad JSON, NaN, a negative
//! balance, a missing or mistyped field, an unknown type), carrying an already-sent `seq`
//! where it has one, so a client that rejects it loses nothing.
//!
//! # Invariants
//! - Without faults, a session sends every frame with `seq > since` exactly once, in order.
//! - A session that falls more than the channel capacity behind is closed (code 1013) and
//!   must resume with `since`.
//! - On shutdown every session sends a close frame (1001) unless a fault made it silent.

use std::{collections::HashMap, ops::ControlFlow, sync::Arc, time::Duration};

use axum::{
    extract::{
        Path, Query, State,
        rejection::QueryRejection,
        ws::{
            CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code,
            rejection::WebSocketUpgradeRejection,
        },
    },
    response::Response,
};
use futures_util::{
    SinkExt, StreamExt,
    stream::{SplitSink, SplitStream},
};
use tokio::sync::broadcast::error::RecvError;

use super::{
    faults::Fault,
    http::{check_agent, error},
    shared::{Shared, stopped},
};
use crate::venue::protocol::{EventFrame, EventKind};

/// Real time between heartbeats on an idle or busy connection.
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(1);

/// Number of malformed-frame variants.
const MALFORMED_VARIANTS: usize = 6;

/// Upgrades `GET /agents/{id}/events?since=SEQ`.
pub(super) async fn events(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    if let Err(response) = check_agent(&shared.agent_id, &id) {
        return response;
    }
    let since = match query {
        Err(rejection) => {
            return error(
                400,
                "bad_request",
                format!("query string: {}", rejection.body_text()),
            );
        }
        Ok(Query(params)) => match params.get("since") {
            None => 0,
            Some(text) => match text.parse::<u64>() {
                Ok(since) => since,
                Err(_) => {
                    return error(
                        400,
                        "bad_request",
                        format!("`since`: `{text}` is not a non-negative integer"),
                    );
                }
            },
        },
    };
    let upgrade = match upgrade {
        Ok(upgrade) => upgrade,
        Err(rejection) => {
            return error(
                400,
                "bad_request",
                format!("websocket upgrade: {}", rejection.body_text()),
            );
        }
    };
    shared.engine().count_websocket();
    upgrade.on_upgrade(move |socket| session(shared, socket, since))
}

/// Decrements the open-session count when a session ends, however it ends.
struct SessionGuard(Arc<Shared>);

impl SessionGuard {
    fn new(shared: Arc<Shared>) -> Self {
        shared
            .active_websockets
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        SessionGuard(shared)
    }
}

impl Drop for SessionGuard {
    fn drop(&mut self) {
        self.0
            .active_websockets
            .fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
        // `notify_one` stores a permit when nobody waits yet, so shutdown cannot miss it.
        self.0.websocket_closed.notify_one();
    }
}

/// One connection's sending state.
struct Conn {
    sink: SplitSink<WebSocket, Message>,
    /// The highest `seq` handed to this connection (sent, held for reorder, or swallowed by
    /// a silent fault).
    last_seq: u64,
    /// A frame held back by the reorder fault.
    held: Option<String>,
    /// Set by the silent fault: nothing is sent any more.
    silent: bool,
}

impl Conn {
    async fn send_text(&mut self, text: String) -> ControlFlow<()> {
        match self.sink.send(Message::Text(text.into())).await {
            Ok(()) => ControlFlow::Continue(()),
            Err(_) => ControlFlow::Break(()),
        }
    }

    async fn send_event(&mut self, shared: &Shared, frame: &EventFrame) -> ControlFlow<()> {
        if frame.seq <= self.last_seq {
            return ControlFlow::Continue(());
        }
        if self.silent {
            self.last_seq = frame.seq;
            return ControlFlow::Continue(());
        }
        if shared.roll(Fault::DropWs) {
            // Dropping the socket closes TCP without a close frame.
            return ControlFlow::Break(());
        }
        if shared.roll(Fault::SilentWs) {
            self.silent = true;
            self.last_seq = frame.seq;
            return ControlFlow::Continue(());
        }
        if shared.roll(Fault::Malformed) {
            let variant = shared.dice().pick(MALFORMED_VARIANTS);
            let text = malformed(variant, self.last_seq, frame);
            self.send_text(text).await?;
        }
        let text = frame.encode();
        self.last_seq = frame.seq;
        if self.held.is_none() && shared.roll(Fault::Reorder) {
            self.held = Some(text);
            return ControlFlow::Continue(());
        }
        self.send_text(text.clone()).await?;
        if shared.roll(Fault::Duplicate) {
            self.send_text(text).await?;
        }
        self.flush_held().await
    }

    async fn flush_held(&mut self) -> ControlFlow<()> {
        match self.held.take() {
            Some(text) => self.send_text(text).await,
            None => ControlFlow::Continue(()),
        }
    }

    async fn heartbeat(&mut self, shared: &Shared) -> ControlFlow<()> {
        if self.silent {
            return ControlFlow::Continue(());
        }
        self.flush_held().await?;
        let frame = EventFrame {
            seq: self.last_seq,
            ts: shared.clock.now(),
            kind: EventKind::Heartbeat,
            portfolio: None,
        };
        self.send_text(frame.encode()).await
    }

    async fn close(&mut self, code: u16, reason: &'static str) {
        if !self.silent {
            let _ = self
                .sink
                .send(Message::Close(Some(CloseFrame {
                    code,
                    reason: reason.into(),
                })))
                .await;
        }
    }
}

async fn session(shared: Arc<Shared>, socket: WebSocket, since: u64) {
    let _guard = SessionGuard::new(Arc::clone(&shared));
    let mut shutdown = shared.shutting_down();
    let (backlog, mut live) = {
        let engine = shared.engine();
        (engine.frames_since(since), shared.frames_tx.subscribe())
    };
    let (sink, mut incoming): (_, SplitStream<WebSocket>) = socket.split();
    let mut conn = Conn {
        sink,
        last_seq: since,
        held: None,
        silent: false,
    };
    tracing::debug!(since, backlog = backlog.len(), "sim websocket opened");
    for frame in &backlog {
        if conn.send_event(&shared, frame).await.is_break() {
            return;
        }
    }
    let start = tokio::time::Instant::now() + HEARTBEAT_INTERVAL;
    let mut heartbeat = tokio::time::interval_at(start, HEARTBEAT_INTERVAL);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let flow = tokio::select! {
            biased;
            () = stopped(&mut shutdown) => {
                conn.close(close_code::AWAY, "venue shutting down").await;
                break;
            }
            message = incoming.next() => match message {
                // The client's frames carry nothing the venue needs; pings are answered by
                // the websocket layer itself.
                Some(Ok(Message::Close(_)) | Err(_)) | None => break,
                Some(Ok(_)) => ControlFlow::Continue(()),
            },
            received = live.recv() => match received {
                Ok(frame) => conn.send_event(&shared, &frame).await,
                Err(RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "sim websocket fell behind; closing so it resumes");
                    conn.close(close_code::AGAIN, "lagged: resume with since").await;
                    break;
                }
                Err(RecvError::Closed) => break,
            },
            _ = heartbeat.tick() => conn.heartbeat(&shared).await,
        };
        if flow.is_break() {
            break;
        }
    }
    tracing::debug!(last_seq = conn.last_seq, "sim websocket closed");
}

/// A broken frame of the given variant, built around `frame`.
fn malformed(variant: usize, sent_seq: u64, frame: &EventFrame) -> String {
    let ts = frame
        .ts
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    match variant {
        // Truncated JSON.
        0 => {
            let text = frame.encode();
            text.chars().take(text.chars().count() / 2).collect()
        }
        // NaN is not JSON.
        1 => format!(
            r#"{{"seq":{sent_seq},"ts":"{ts}","type":"casino_win","amount_usdc":NaN,"stake_usdc":1,"multiplier":2}}"#
        ),
        // A negative balance.
        2 => format!(
            r#"{{"seq":{sent_seq},"ts":"{ts}","type":"balance","portfolio":{{"casino_balance":-100,"trading_balance":0,"wallet_balance":0,"domains_balance":0,"escrow_balance":0,"available_balance":0}}}}"#
        ),
        // A missing `seq`.
        3 => format!(r#"{{"ts":"{ts}","type":"balance"}}"#),
        // A mistyped field.
        4 => format!(
            r#"{{"seq":"{sent_seq}","ts":"{ts}","type":"casino_loss","amount_usdc":"lots"}}"#
        ),
        // An unknown event type.
        _ => format!(r#"{{"seq":{sent_seq},"ts":"{ts}","type":"solar_flare","intensity":9}}"#),
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;
    use crate::venue::protocol::DecodeError;

    #[test]
    fn malformed_frames_are_rejected_or_stale() {
        let frame = EventFrame {
            seq: 9,
            ts: datetime!(2026-01-01 00:00 UTC),
            kind: EventKind::CasinoLoss {
                amount_usdc: rust_decimal::Decimal::ONE,
            },
            portfolio: None,
        };
        for variant in 0..MALFORMED_VARIANTS {
            let text = malformed(variant, 8, &frame);
            match EventFrame::decode(&text) {
                // Only the unknown type decodes, and with an already-sent seq.
                Ok(decoded) => {
                    assert_eq!(variant, 5, "{text}");
                    assert_eq!(decoded.seq, 8);
                }
                Err(
                    DecodeError::NotJson(_) | DecodeError::Missing(_) | DecodeError::Invalid { .. },
                ) => {}
            }
        }
    }
}
