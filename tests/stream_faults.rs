//! Story: the event stream survives a venue that keeps dropping it, and notices one that
//! goes silent.
//!
//! A scripted venue on 127.0.0.1:0 (a bare websocket server written here, so every byte is
//! under the test's control) drops the socket 20 times mid-stream, each time after sending
//! a duplicate and a stale frame. The client must end connected, resume each time from the
//! last `seq` it delivered, and deliver every event exactly once, in order. A second venue
//! accepts the connection and then sends nothing: the client must give up on it within the
//! idle timeout plus one second of (virtual) time.
//!
//! Every handshake, reconnects included, must carry the bearer key (the venue asserts it).
//!
//! Both run on tokio's paused clock: backoffs and idle timeouts elapse instantly, and the
//! silent-socket bound is measured in virtual time, so a slow machine cannot fail them.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use ballast::{
    secret::ApiKey,
    service::Service,
    venue::{
        backoff::Backoff,
        protocol::{EventFrame, EventKind},
        stream::{StreamConfig, StreamItem, run_event_stream},
    },
};
use futures_util::SinkExt;
use rust_decimal_macros::dec;
use tokio::{
    net::TcpListener,
    sync::{mpsc, watch},
};
use tokio_tungstenite::tungstenite::{
    Message,
    handshake::server::{Request, Response},
};

const EVENTS_TOTAL: u64 = 210;
/// The bearer key the client must present on every handshake, reconnects included.
const KEY: &str = "sk-stream-test";
const DISCONNECTS: usize = 20;
const EVENTS_PER_CONNECTION: u64 = 10;

fn frame(seq: u64) -> String {
    EventFrame {
        seq,
        ts: time::macros::datetime!(2026-01-01 00:00 UTC) + time::Duration::seconds(seq as i64),
        kind: EventKind::ReferralIncome {
            amount_usdc: dec!(1.25),
            source_service: Service::Casino,
        },
        portfolio: None,
    }
    .encode()
}

/// Reads `since` from the handshake's query string.
fn since_of(request: &Request) -> Option<u64> {
    request
        .uri()
        .query()?
        .split('&')
        .find_map(|pair| pair.strip_prefix("since="))?
        .parse()
        .ok()
}

fn config(base_url: String, idle_timeout: Duration) -> StreamConfig {
    StreamConfig {
        base_url,
        agent_id: "agent-1".into(),
        api_key: ApiKey::new(KEY),
        idle_timeout,
        backoff: Backoff {
            base: Duration::from_millis(100),
            max: Duration::from_secs(5),
        },
    }
}

/// Accepts one websocket and returns it with the `since` it asked for. The handshake must
/// carry the bearer key: this venue refuses it otherwise, as the real one would.
#[allow(clippy::result_large_err)] // the handshake callback's error type is tungstenite's
async fn accept(
    listener: &TcpListener,
) -> (
    tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>,
    u64,
) {
    let (tcp, _) = listener.accept().await.expect("accepts");
    let since = Arc::new(Mutex::new(None));
    let seen = Arc::clone(&since);
    let socket = tokio_tungstenite::accept_hdr_async(tcp, move |request: &Request, response| {
        let authorized = request
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            == Some(format!("Bearer {KEY}").as_str());
        assert!(authorized, "a handshake came without the bearer key");
        *seen.lock().expect("lock") = since_of(request);
        Ok::<Response, _>(response)
    })
    .await
    .expect("handshake");
    let since = since.lock().expect("lock").expect("since in the query");
    (socket, since)
}

#[tokio::test(start_paused = true)]
async fn twenty_forced_disconnects_resume_from_the_right_seq_and_lose_or_repeat_nothing() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let base_url = format!("http://{}/api/v1", listener.local_addr().expect("addr"));

    // The scripted venue: connection i sends the next 10 events after `since`, with a
    // duplicate of the last one and a stale replay of an older one mixed in, then drops
    // the TCP connection without a close frame. After 20 drops it sends the rest and stays.
    let venue = tokio::spawn(async move {
        let mut resumes = Vec::new();
        for connection in 0..=DISCONNECTS {
            let (mut socket, since) = accept(&listener).await;
            resumes.push(since);
            let last = if connection < DISCONNECTS {
                (since + EVENTS_PER_CONNECTION).min(EVENTS_TOTAL)
            } else {
                EVENTS_TOTAL
            };
            for seq in since + 1..=last {
                socket.send(Message::text(frame(seq))).await.expect("sends");
                if seq == since + 3 {
                    // Duplicate, then a stale frame from before the resume point.
                    socket.send(Message::text(frame(seq))).await.expect("sends");
                    socket
                        .send(Message::text(frame(since.max(1))))
                        .await
                        .expect("sends");
                }
            }
            if connection < DISCONNECTS {
                // Abrupt drop: no close frame.
                drop(socket);
            } else {
                // Stay open, as a healthy venue would, until the test ends.
                tokio::time::sleep(Duration::from_secs(3_600)).await;
            }
        }
        resumes
    });

    let (items_tx, mut items_rx) = mpsc::channel(64);
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let client = tokio::spawn(run_event_stream(
        config(base_url, Duration::from_secs(15)),
        0,
        items_tx,
        shutdown_rx,
    ));

    let mut delivered = Vec::new();
    let mut connects = Vec::new();
    let mut disconnects = 0;
    // Virtual time: an hour is far more than 21 connections with capped backoff need, and a
    // client stuck reconnecting (say, refused for a missing key) fails here instead of hanging.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3_600);
    while delivered.last() != Some(&EVENTS_TOTAL) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no progress: delivered up to {:?} after {} disconnects",
            delivered.last(),
            disconnects
        );
        let item = tokio::time::timeout(Duration::from_secs(600), items_rx.recv())
            .await
            .expect("the stream keeps making progress")
            .expect("the stream runs");
        match item {
            StreamItem::Event(frame) => delivered.push(frame.seq),
            StreamItem::Connected { since, connection } => connects.push((since, connection)),
            StreamItem::Disconnected { .. } => disconnects += 1,
            StreamItem::Gap { after, next } => panic!("no gap was sent: {after} -> {next}"),
            StreamItem::Malformed(error) => panic!("nothing malformed was sent: {error}"),
            StreamItem::Renumbered { since, first } => {
                panic!("the numbering never started over: {since} -> {first}")
            }
        }
    }

    // Every event exactly once, in order.
    let expected: Vec<u64> = (1..=EVENTS_TOTAL).collect();
    assert_eq!(delivered, expected);
    // 20 drops, 21 connections, and the client is connected at the end.
    assert_eq!(disconnects, DISCONNECTS);
    assert_eq!(connects.len(), DISCONNECTS + 1);
    assert_eq!(connects.last().map(|c| c.1), Some(DISCONNECTS as u64 + 1));
    // Each connection resumed right after the last delivered event.
    let expected_resumes: Vec<u64> = (0..=DISCONNECTS as u64)
        .map(|i| i * EVENTS_PER_CONNECTION)
        .collect();
    let client_resumes: Vec<u64> = connects.iter().map(|c| c.0).collect();
    assert_eq!(client_resumes, expected_resumes);

    shutdown_tx.send_replace(true);
    client.await.expect("client task ends cleanly");
    venue.abort();
    if let Ok(resumes) = venue.await {
        assert_eq!(
            resumes, expected_resumes,
            "venue saw the same resume points"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_silent_socket_is_dropped_within_the_idle_timeout_plus_one_second() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let base_url = format!("http://{}/api/v1", listener.local_addr().expect("addr"));
    let idle_timeout = Duration::from_secs(5);

    // A venue that sends two events and then nothing at all, not even pings.
    let venue = tokio::spawn(async move {
        let (mut socket, since) = accept(&listener).await;
        for seq in since + 1..=since + 2 {
            socket.send(Message::text(frame(seq))).await.expect("sends");
        }
        let silent_since = tokio::time::Instant::now();
        // Keep the socket open (silent) until the client gives up and reconnects.
        let (_second, resumed_after) = accept(&listener).await;
        (silent_since, resumed_after, socket)
    });

    let (items_tx, mut items_rx) = mpsc::channel(64);
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let client = tokio::spawn(run_event_stream(
        config(base_url, idle_timeout),
        0,
        items_tx,
        shutdown_rx,
    ));

    let mut last_event_at = None;
    let detected_at = loop {
        let item = tokio::time::timeout(Duration::from_secs(600), items_rx.recv())
            .await
            .expect("the silence is detected")
            .expect("the stream runs");
        match item {
            StreamItem::Event(_) => last_event_at = Some(tokio::time::Instant::now()),
            StreamItem::Disconnected { reason, .. } => {
                assert!(reason.contains("no frame"), "{reason}");
                break tokio::time::Instant::now();
            }
            _ => {}
        }
    };
    let last_event_at = last_event_at.expect("events arrived before the silence");
    let silent_for = detected_at - last_event_at;
    assert!(
        silent_for >= idle_timeout && silent_for <= idle_timeout + Duration::from_secs(1),
        "detected after {silent_for:?} of silence (idle timeout {idle_timeout:?})"
    );

    // The client reconnects and resumes after the two events it has.
    let (_silent_since, resumed_after, _socket) = venue.await.expect("venue saw a reconnect");
    assert_eq!(resumed_after, 2);
    shutdown_tx.send_replace(true);
    client.await.expect("client task ends cleanly");
}

#[tokio::test(start_paused = true)]
async fn a_seq_beyond_the_store_is_refused_and_a_restarted_numbering_is_followed() {
    use ballast::venue::stream::{RENUMBER_SLACK, SEQ_MAX, run_event_stream_rebasing};
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let base_url = format!("http://{}/api/v1", listener.local_addr().expect("addr"));
    let cursor = 5_000;
    assert!(3 + RENUMBER_SLACK < cursor);

    // Connection 1: the venue restarted and numbers from 1 again; among its frames, one
    // numbered 2^64 - 1 (which once saturated into the stored cursor). Connection 2 is the
    // rebase the consumer asks for: it must resume after the seq it was given.
    let venue = tokio::spawn(async move {
        let (mut socket, since) = accept(&listener).await;
        assert_eq!(since, cursor);
        for text in [frame(3), frame(u64::MAX), frame(4)] {
            socket.send(Message::text(text)).await.expect("sends");
        }
        let (mut second, since) = accept(&listener).await;
        second
            .send(Message::text(frame(since + 1)))
            .await
            .expect("sends");
        tokio::time::sleep(Duration::from_secs(3_600)).await;
        drop(socket);
    });

    let (items_tx, mut items_rx) = mpsc::channel(64);
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let (rebase_tx, rebase_rx) = mpsc::unbounded_channel();
    let client = tokio::spawn(run_event_stream_rebasing(
        config(base_url, Duration::from_secs(15)),
        cursor,
        items_tx,
        shutdown_rx,
        rebase_rx,
    ));
    let mut seen = Vec::new();
    while seen.len() < 5 {
        let item = tokio::time::timeout(Duration::from_secs(600), items_rx.recv())
            .await
            .expect("the stream makes progress")
            .expect("the stream runs");
        match item {
            StreamItem::Connected { since, .. } => seen.push(format!("connected {since}")),
            StreamItem::Renumbered { since, first } => {
                seen.push(format!("renumbered {since} -> {first}"));
            }
            StreamItem::Event(event) => seen.push(format!("event {}", event.seq)),
            StreamItem::Malformed(error) => {
                assert!(error.to_string().contains("`seq`"), "{error}");
                assert!(error.to_string().contains(&SEQ_MAX.to_string()), "{error}");
                seen.push("malformed seq".to_owned());
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(
        seen,
        [
            "connected 5000",
            "renumbered 5000 -> 3",
            "event 3",
            "malformed seq",
            "event 4",
        ]
    );
    // The consumer re-baselines on a snapshot it took at 40: the stream reconnects after
    // 40, and the next frame is delivered.
    rebase_tx.send(40).expect("rebases");
    let mut after_rebase = Vec::new();
    while after_rebase.len() < 2 {
        match items_rx.recv().await.expect("the stream runs") {
            StreamItem::Connected { since, .. } => after_rebase.push(format!("connected {since}")),
            StreamItem::Event(event) => after_rebase.push(format!("event {}", event.seq)),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(after_rebase, ["connected 40", "event 41"]);
    shutdown_tx.send_replace(true);
    client.await.expect("client task ends cleanly");
    venue.abort();
}
