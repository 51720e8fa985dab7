//! The venue's websocket event stream, kept open forever.
//!
//! [`run_event_stream`] connects to `GET /agents/{id}/events?since=SEQ`, decodes frames, turns
//! each into the core's [`Observation`] (once, here) and hands them on as [`StreamItem`]s. When the socket drops, errs or goes silent for longer
//! than the idle timeout, it reports [`StreamItem::Disconnected`] and reconnects with the
//! capped, jittered backoff of [`Backoff`], resuming after the last `seq` it delivered.
//!
//! The venue's numbering can start over (a venue restarted without its event log). When the
//! first frame of a connection is more than [`RENUMBER_SLACK`] below the cursor, the stream
//! reports [`StreamItem::Renumbered`] and follows the new numbering from that frame. A venue
//! that starts over and then stays quiet cannot be noticed here: the consumer compares its
//! resync snapshot's `seq` with the cursor and sends the new cursor on the `rebase` channel of
//! [`run_event_stream_rebasing`]; the stream then reconnects from there.
//!
//! # Invariants
//! - Events are delivered in strictly increasing `seq` within one numbering; a frame at or
//!   below the last delivered `seq` (a duplicate or a late reordering) is dropped.
//! - No `seq` above [`SEQ_MAX`] is delivered (the store keeps SQLite integers): such a frame is
//!   [`StreamItem::Malformed`], naming `seq`.
//! - No frame above [`EVENT_FRAME_MAX_BYTES`] is read: the socket is dropped and reopened.
//! - A jump in `seq` is reported as [`StreamItem::Gap`] before the event, so the consumer
//!   can refetch a snapshot instead of trusting incremental state.
//! - A frame that does not decode is reported as [`StreamItem::Malformed`] with the field at
//!   fault and otherwise ignored: it never stops the stream and never reaches trading.
//! - The loop ends only when the consumer goes away or `shutdown` turns true.

use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::{
    self, client::IntoClientRequest, http::HeaderValue, protocol::WebSocketConfig,
};
use tracing::{debug, warn};

use super::{
    backoff::Backoff,
    protocol::{DecodeError, EventFrame},
};
use crate::{observation::Observation, secret::ApiKey};

/// Default time without any frame (events or heartbeats) after which a socket is dead.
pub const IDLE_TIMEOUT_DEFAULT: Duration = Duration::from_secs(15);

/// The largest event `seq` accepted: the store keeps it as a signed 64-bit SQLite integer.
pub const SEQ_MAX: u64 = i64::MAX as u64;

/// The largest event frame (and message) read, in bytes (1 MiB); a frame is a few hundred.
pub const EVENT_FRAME_MAX_BYTES: usize = 1 << 20;

/// How far below the cursor a connection's first frame must be to mean that the venue's
/// numbering started over, rather than a late duplicate.
pub const RENUMBER_SLACK: u64 = 1_000;

/// What the stream reports to its consumer.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamItem {
    /// A connection is open; events after `since` follow.
    Connected {
        /// The `seq` the connection resumed after.
        since: u64,
        /// How many connections this stream has opened, this one included.
        connection: u64,
    },
    /// Events between `after` and `next` were skipped by the venue.
    Gap {
        /// Last delivered `seq`.
        after: u64,
        /// The `seq` that arrived.
        next: u64,
    },
    /// A decoded event, in `seq` order, in the core's words.
    Event(Box<Observation>),
    /// A frame that failed validation.
    Malformed(DecodeError),
    /// The venue's numbering started over: this connection's first frame is far below the
    /// last delivered `seq`. The stream follows the new numbering from `first`.
    Renumbered {
        /// The last `seq` delivered in the old numbering.
        since: u64,
        /// The first `seq` of the new numbering seen.
        first: u64,
    },
    /// The connection is gone; a reconnect follows after `retry_in`.
    Disconnected {
        /// Why.
        reason: String,
        /// Backoff before the next attempt.
        retry_in: Duration,
    },
}

/// Where and how to connect.
#[derive(Debug, Clone)]
pub struct StreamConfig {
    /// API base URL, `http(s)://host/api/v1`.
    pub base_url: String,
    /// The agent whose events to follow.
    pub agent_id: String,
    /// Bearer key for the handshake.
    pub api_key: Option<ApiKey>,
    /// Silence longer than this drops the connection.
    pub idle_timeout: Duration,
    /// Reconnect schedule.
    pub backoff: Backoff,
}

/// The websocket URL for events after `since`.
pub fn events_url(base_url: &str, agent_id: &str, since: u64) -> String {
    let ws_base = if let Some(rest) = base_url.strip_prefix("https://") {
        format!("wss://{rest}")
    } else if let Some(rest) = base_url.strip_prefix("http://") {
        format!("ws://{rest}")
    } else {
        base_url.to_owned()
    };
    format!("{ws_base}/agents/{agent_id}/events?since={since}")
}

/// Runs the stream until `shutdown` is true or `out` is closed. `since` is the last `seq`
/// already processed (from the store), so nothing before it is delivered again.
pub async fn run_event_stream(
    config: StreamConfig,
    since: u64,
    out: mpsc::Sender<StreamItem>,
    shutdown: watch::Receiver<bool>,
) {
    // Nobody rebases this stream: the sender is dropped, so the channel never yields.
    let (_, rebase) = mpsc::unbounded_channel();
    run_event_stream_rebasing(config, since, out, shutdown, rebase).await;
}

/// [`run_event_stream`], and each `seq` received on `rebase` becomes the cursor: the
/// connection is dropped and reopened after it (the consumer found that the venue's
/// numbering changed).
pub async fn run_event_stream_rebasing(
    config: StreamConfig,
    mut since: u64,
    out: mpsc::Sender<StreamItem>,
    mut shutdown: watch::Receiver<bool>,
    mut rebase: mpsc::UnboundedReceiver<u64>,
) {
    let mut attempt: u32 = 0;
    let mut connections: u64 = 0;
    loop {
        if *shutdown.borrow() {
            return;
        }
        let reason = tokio::select! {
            biased;
            _ = shutdown.changed() => return,
            Some(new_since) = rebase.recv() => {
                // Reconnect at once, from the new numbering's cursor.
                since = new_since;
                attempt = 0;
                continue;
            }
            outcome = connect_and_read(&config, &mut since, &out, &mut connections, &mut attempt) => match outcome {
                Ok(reason) => reason,
                Err(ConsumerGone) => return,
            },
        };
        let delay = config.backoff.jittered_delay(attempt);
        attempt = attempt.saturating_add(1);
        warn!(%reason, retry_in_ms = delay.as_millis() as u64, attempt, "event stream disconnected");
        if out
            .send(StreamItem::Disconnected {
                reason,
                retry_in: delay,
            })
            .await
            .is_err()
        {
            return;
        }
        tokio::select! {
            biased;
            _ = shutdown.changed() => return,
            () = tokio::time::sleep(delay) => {}
        }
    }
}

struct ConsumerGone;

/// One connection's life. Returns why it ended; `attempt` resets once a frame arrives.
async fn connect_and_read(
    config: &StreamConfig,
    since: &mut u64,
    out: &mpsc::Sender<StreamItem>,
    connections: &mut u64,
    attempt: &mut u32,
) -> Result<String, ConsumerGone> {
    let url = events_url(&config.base_url, &config.agent_id, *since);
    let mut request = match url.as_str().into_client_request() {
        Ok(request) => request,
        Err(e) => return Ok(format!("bad events url: {e}")),
    };
    if let Some(key) = &config.api_key {
        match HeaderValue::from_str(&format!("Bearer {}", key.expose())) {
            Ok(value) => {
                request.headers_mut().insert("Authorization", value);
            }
            Err(_) => return Ok("api key is not a valid header value".to_owned()),
        }
    }
    let limits = WebSocketConfig::default()
        .max_message_size(Some(EVENT_FRAME_MAX_BYTES))
        .max_frame_size(Some(EVENT_FRAME_MAX_BYTES));
    let connect = tokio_tungstenite::connect_async_with_config(request, Some(limits), true);
    let socket = match tokio::time::timeout(config.idle_timeout, connect).await {
        Err(_) => return Ok("connect timed out".to_owned()),
        Ok(Err(e)) => return Ok(format!("connect failed: {}", describe(&e))),
        Ok(Ok((socket, _response))) => socket,
    };
    *connections += 1;
    out.send(StreamItem::Connected {
        since: *since,
        connection: *connections,
    })
    .await
    .map_err(|_| ConsumerGone)?;
    let (_write, mut read) = socket.split();
    let mut first_of_connection = true;
    loop {
        let message = match tokio::time::timeout(config.idle_timeout, read.next()).await {
            Err(_) => {
                return Ok(format!(
                    "no frame for {} ms",
                    config.idle_timeout.as_millis()
                ));
            }
            Ok(None) => return Ok("closed by venue".to_owned()),
            Ok(Some(Err(e))) => return Ok(describe(&e)),
            Ok(Some(Ok(message))) => message,
        };
        // Any frame, even a ping or a duplicate, proves the connection is alive.
        *attempt = 0;
        let text = match message {
            tungstenite::Message::Text(text) => text,
            tungstenite::Message::Close(_) => return Ok("closed by venue".to_owned()),
            tungstenite::Message::Binary(_) => {
                let error = DecodeError::NotJson("binary frame".to_owned());
                out.send(StreamItem::Malformed(error))
                    .await
                    .map_err(|_| ConsumerGone)?;
                continue;
            }
            _ => continue,
        };
        let frame = match EventFrame::decode(&text) {
            Ok(frame) => frame,
            Err(error) => {
                warn!(%error, "malformed event frame ignored");
                out.send(StreamItem::Malformed(error))
                    .await
                    .map_err(|_| ConsumerGone)?;
                continue;
            }
        };
        if frame.seq > SEQ_MAX {
            let error = DecodeError::Invalid {
                field: "seq".to_owned(),
                reason: format!("{} exceeds {SEQ_MAX}", frame.seq),
            };
            warn!(%error, "event frame refused");
            out.send(StreamItem::Malformed(error))
                .await
                .map_err(|_| ConsumerGone)?;
            continue;
        }
        if std::mem::take(&mut first_of_connection)
            && frame.seq.saturating_add(RENUMBER_SLACK) < *since
        {
            warn!(
                since = *since,
                first = frame.seq,
                "the venue's event numbering started over"
            );
            out.send(StreamItem::Renumbered {
                since: *since,
                first: frame.seq,
            })
            .await
            .map_err(|_| ConsumerGone)?;
            *since = frame.seq.saturating_sub(1);
        }
        if frame.seq <= *since {
            debug!(
                seq = frame.seq,
                last = *since,
                "duplicate or stale event dropped"
            );
            continue;
        }
        if frame.seq > *since + 1 {
            out.send(StreamItem::Gap {
                after: *since,
                next: frame.seq,
            })
            .await
            .map_err(|_| ConsumerGone)?;
        }
        *since = frame.seq;
        out.send(StreamItem::Event(Box::new(frame.to_observation())))
            .await
            .map_err(|_| ConsumerGone)?;
    }
}

fn describe(error: &tungstenite::Error) -> String {
    match error {
        tungstenite::Error::Http(response) => {
            format!("handshake refused: HTTP {}", response.status())
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_urls_switch_scheme() {
        assert_eq!(
            events_url("http://127.0.0.1:9/api/v1", "a-1", 42),
            "ws://127.0.0.1:9/api/v1/agents/a-1/events?since=42"
        );
        assert_eq!(
            events_url("https://v.example/api/v1", "a", 0),
            "wss://v.example/api/v1/agents/a/events?since=0"
        );
    }
}
