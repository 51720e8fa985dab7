//! Shared helpers for the simulated-venue integration tests: start a venue on
//! `127.0.0.1:0`, build an HTTP client, send the requests every test sends, and open the
//! event stream.
//!
//! # Invariants
//! - Every venue here binds loopback port 0, so tests run in parallel without clashing.
//! - The request helpers panic on a transport error (the test failed) and return the
//!   response whatever its status, so a test can assert on refusals too.

#![allow(dead_code)]

#[path = "../common/clients.rs"]
pub mod clients;

use ballast::{
    sim::{SimConfig, SimHandle, SimStats},
    venue::protocol::{ErrorBody, EventFrame, EventKind, IDEMPOTENCY_HEADER},
};
use futures_util::StreamExt;
use reqwest::{IntoUrl, Response, StatusCode};
use rust_decimal::Decimal;
use serde::de::DeserializeOwned;
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, tungstenite::Message};

/// A websocket client stream.
pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A venue with no background activity, so only the test moves money.
pub fn quiet() -> SimConfig {
    SimConfig {
        autoplay: false,
        ..SimConfig::default()
    }
}

/// A quiet venue whose clock barely moves on its own: it runs at one simulated second per
/// real second from 12:00, so a test lasting a few real seconds stays inside that hour and
/// markets move only by `advance`.
pub fn still() -> SimConfig {
    SimConfig {
        speed: 1.0,
        ..quiet()
    }
}

/// Starts a venue on a free loopback port.
pub async fn start(cfg: SimConfig) -> SimHandle {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    ballast::sim::start(cfg, listener)
        .await
        .expect("sim starts")
}

/// A plain-HTTP client (reqwest needs a rustls provider installed even for http://).
pub fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().build().expect("client builds")
}

/// GETs `url` and decodes its JSON body; `what` names the body when it does not decode.
pub async fn get_json<T: DeserializeOwned>(
    http: &reqwest::Client,
    url: impl IntoUrl,
    what: &str,
) -> T {
    get(http, url).await.json().await.expect(what)
}

/// GETs `url`, returning the response whatever its status.
pub async fn get(http: &reqwest::Client, url: impl IntoUrl) -> Response {
    http.get(url).send().await.expect("request")
}

/// POSTs `body` as JSON to `url`.
pub async fn post_json(
    http: &reqwest::Client,
    url: impl IntoUrl,
    body: &serde_json::Value,
) -> Response {
    http.post(url).json(body).send().await.expect("request")
}

/// POSTs `body` as JSON to `url` under the idempotency key `key`.
pub async fn post_keyed(
    http: &reqwest::Client,
    url: impl IntoUrl,
    key: &str,
    body: &serde_json::Value,
) -> Response {
    http.post(url)
        .header(IDEMPOTENCY_HEADER, key)
        .json(body)
        .send()
        .await
        .expect("request")
}

/// Sends the same keyed POST `times` times and returns each reply's status and body text,
/// so a test can assert that the replays equal the first reply.
pub async fn keyed_replies(
    http: &reqwest::Client,
    url: &str,
    key: &str,
    body: &serde_json::Value,
    times: usize,
) -> Vec<(StatusCode, String)> {
    let mut replies = Vec::with_capacity(times);
    for _ in 0..times {
        let response = post_keyed(http, url, key, body).await;
        replies.push((response.status(), response.text().await.expect("body")));
    }
    replies
}

/// POSTs the injection `body` to the venue's `/sim/inject`, asserts that it was applied
/// (200), and returns the event frame it announced.
pub async fn inject_ok(
    http: &reqwest::Client,
    sim: &SimHandle,
    body: &serde_json::Value,
) -> EventFrame {
    let response = post_json(http, format!("{}/sim/inject", sim.base_url()), body).await;
    assert_eq!(response.status(), 200, "{body}");
    EventFrame::decode(&response.text().await.expect("body")).expect("a frame")
}

/// The event of an injected win that the casino's bankroll covers: a 1:1 bet of the same
/// stake, paid at twice the stake.
pub fn even_money_win(amount_usdc: Decimal) -> EventKind {
    EventKind::CasinoWin {
        amount_usdc,
        stake_usdc: amount_usdc,
        multiplier: Decimal::TWO,
    }
}

/// The error body every refusal carries.
pub async fn error_body(response: Response) -> ErrorBody {
    response.json().await.expect("error body is ErrorBody JSON")
}

/// Asserts that `response` was refused with `status` and the error `code`, and that its
/// message names `needle` (a field, an id); `context` tells the failing case apart.
pub async fn assert_refused(
    response: Response,
    status: u16,
    code: &str,
    needle: &str,
    context: &str,
) {
    assert_eq!(response.status(), status, "{context}");
    let error = error_body(response).await;
    assert_eq!(error.code, code, "{context}: {error:?}");
    assert!(
        error.message.contains(needle),
        "{context}: {error:?} lacks {needle}"
    );
}

/// The venue's `/sim/stats` over HTTP.
pub async fn stats(sim: &SimHandle) -> SimStats {
    get_json(&client(), format!("{}/sim/stats", sim.base_url()), "stats").await
}

/// Opens the event stream after `since`.
pub async fn connect(sim: &SimHandle, since: u64) -> Ws {
    let url = format!(
        "ws://{}/api/v1/agents/{}/events?since={since}",
        sim.addr(),
        sim.agent_id()
    );
    let (ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("websocket connects");
    ws
}

/// The next text frame, raw; `None` when the stream ends.
pub async fn next_text(ws: &mut Ws) -> Option<String> {
    while let Some(message) = ws.next().await {
        match message {
            Ok(Message::Text(text)) => return Some(text.as_str().to_owned()),
            Ok(Message::Close(_)) | Err(_) => return None,
            Ok(_) => continue,
        }
    }
    None
}

/// The next event frame that is not a heartbeat.
pub async fn next_event(ws: &mut Ws) -> EventFrame {
    loop {
        let text = next_text(ws).await.expect("stream open");
        let frame = EventFrame::decode(&text).expect("frame decodes");
        if frame.kind != EventKind::Heartbeat {
            return frame;
        }
    }
}
