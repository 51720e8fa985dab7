//! Shared helpers for the simulated-venue integration tests: start a venue on
//! `127.0.0.1:0`, build an HTTP client, open the event stream.
//!
//! # Invariants
//! - Every venue here binds loopback port 0, so tests run in parallel without clashing.

#![allow(dead_code)]

use ballast::{
    sim::{SimConfig, SimHandle},
    venue::protocol::{EventFrame, EventKind},
};
use futures_util::StreamExt;
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
