//! The HTTP API of `ballast run`: status, Prometheus metrics, health and readiness probes, the
//! dashboard, and operator control.
//!
//! | route | what |
//! |---|---|
//! | `GET /` | the dashboard ([`dashboard`]) |
//! | `GET /status` | the run as JSON ([`status::StatusReport`]) |
//! | `GET /status/stream` | the same, live, as server-sent events |
//! | `GET /metrics` | Prometheus text exposition ([`metrics::render`]) |
//! | `GET /health`, `GET /ready` | liveness; stream connected and synced |
//! | `POST /control/{command}` | pause, resume, halt, rebalance, recompute ([`control`]) |
//!
//! It is an edge of the actor system: it asks the [`board::StatusBoard`] and the
//! MetricsRecorder for snapshots by message, computes weights and drift through the core, and
//! sets the [`ControlSwitch`] directly. It runs on a thread of its own with its own runtime, so
//! a busy actor system (an event flood) cannot delay a halt, and a slow client cannot delay
//! trading.
//!
//! # Invariants
//! - It binds loopback unless `http.allow_remote` is set (checked with the configuration).
//! - Reads need no token; every control action does.
//! - Request bodies are capped at [`BODY_LIMIT_BYTES`]; every ask of an actor at
//!   [`ASK_TIMEOUT`].

pub mod board;
mod control;
mod dashboard;
pub mod metrics;
pub mod status;
pub mod token;

use std::{net::SocketAddr, path::PathBuf, sync::Arc, thread::JoinHandle, time::Duration};

use actix::{Addr, Recipient};
use axum::{
    Json, Router,
    extract::DefaultBodyLimit,
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{get, post},
};
use ballast::{control::ControlRecord, drift::DriftBands, store::Store};
use serde::Serialize;
use time::OffsetDateTime;
use tokio::sync::{Mutex, oneshot};
use tracing::warn;

use self::{board::StatusBoard, token::ControlToken};
use crate::{
    control::ControlSwitch,
    gate::TradingGate,
    messages::{ControlApplied, Event, RebalanceRequest, RecomputeTargets},
    metrics::MetricsRecorder,
};

/// Largest request body accepted.
pub const BODY_LIMIT_BYTES: usize = 16 * 1024;
/// Longest wait for an actor's answer before a read says the system is busy.
pub const ASK_TIMEOUT: Duration = Duration::from_secs(2);

/// The address `[http]` asks for: `None` when `listen` is empty.
///
/// # Errors
/// A line naming `http.listen`: not an `IP:port`, or not loopback without `http.allow_remote`.
pub fn listen_address(
    settings: &crate::settings::HttpSettings,
) -> Result<Option<SocketAddr>, String> {
    let text = settings.listen.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let addr: SocketAddr = text.parse().map_err(|_| {
        format!("http.listen: `{text}` is not an IP:port (e.g. 127.0.0.1:8788; \"\" switches the API off)")
    })?;
    if !addr.ip().is_loopback() && !settings.allow_remote {
        return Err(format!(
            "http.listen: {addr} is not a loopback address; set http.allow_remote = true (or pass --allow-remote) to serve other machines"
        ));
    }
    Ok(Some(addr))
}

/// What the API serves, and where.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// The address to bind (port 0 picks a free one).
    pub listen: SocketAddr,
    /// The control token.
    pub token: ControlToken,
    /// Where to write the bound base URL for `ballast ctl` (removed on a clean stop).
    pub address_file: Option<PathBuf>,
}

/// This run, as `/status` names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunInfo {
    /// Run id.
    pub run_id: String,
    /// The venue's API base URL.
    pub venue: String,
    /// Whether nothing is sent.
    pub dry_run: bool,
    /// When the run started (wall time).
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    /// ballast's version.
    pub version: &'static str,
}

/// The actors and shared state the API talks to.
#[derive(Debug, Clone)]
pub struct HttpPeers {
    /// The status board.
    pub board: Addr<StatusBoard>,
    /// The MetricsRecorder.
    pub metrics: Addr<MetricsRecorder>,
    /// The detector, told of every control action.
    pub detector: Recipient<ControlApplied>,
    /// Where operator rebalances go.
    pub requests: Recipient<RebalanceRequest>,
    /// Where operator recomputes go.
    pub optimizer: Recipient<RecomputeTargets>,
    /// The bus.
    pub bus: Recipient<Event>,
    /// The store (control actions are recorded there).
    pub store: Store,
    /// The operator's switch.
    pub switch: ControlSwitch,
    /// The trading gate.
    pub gate: TradingGate,
    /// The drift bands (for weights against targets).
    pub bands: DriftBands,
    /// This run.
    pub run: RunInfo,
}

/// What every handler shares.
#[derive(Debug)]
struct AppState {
    peers: HttpPeers,
    token: ControlToken,
    /// One control command at a time.
    control_lock: Mutex<()>,
    /// The latest control action: the store's at start-up, then each accepted one.
    last_action: Mutex<Option<ControlRecord>>,
}

impl AppState {
    async fn last_action(&self) -> Option<ControlRecord> {
        self.last_action.lock().await.clone()
    }
}

/// An error body: `{"error": code, "message": ...}`.
fn error(status: StatusCode, code: &str, message: String) -> Response {
    (
        status,
        Json(serde_json::json!({"error": code, "message": message})),
    )
        .into_response()
}

fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/", get(dashboard::index))
        .route("/assets/app.js", get(dashboard::app_js))
        .route("/assets/style.css", get(dashboard::style_css))
        .route("/status", get(status::status))
        .route("/status/stream", get(dashboard::stream))
        .route("/metrics", get(metrics::metrics))
        .route("/health", get(status::health))
        .route("/ready", get(status::ready))
        .route("/control/{command}", post(control::control))
        .fallback(|| async {
            error(
                StatusCode::NOT_FOUND,
                "not_found",
                "see docs/http-api.md for the routes".to_owned(),
            )
        })
        .layer(DefaultBodyLimit::max(BODY_LIMIT_BYTES))
        .with_state(state)
}

/// The running API.
#[derive(Debug)]
pub struct HttpServer {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
    address_file: Option<PathBuf>,
}

impl HttpServer {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops serving (open connections are dropped) and removes the address file.
    pub fn stop(mut self) {
        self.shut();
    }

    fn shut(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        if let Some(file) = self.address_file.take() {
            let _ = std::fs::remove_file(file);
        }
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.shut();
    }
}

/// Binds `options.listen` and serves the API on a thread of its own.
///
/// # Errors
/// When the address cannot be bound, the thread cannot start, or the address file cannot be
/// written.
pub fn start(
    options: HttpOptions,
    peers: HttpPeers,
    last_action: Option<ControlRecord>,
) -> anyhow::Result<HttpServer> {
    use anyhow::Context as _;
    let listener = std::net::TcpListener::bind(options.listen)
        .with_context(|| format!("http.listen: binding {}", options.listen))?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let state = Arc::new(AppState {
        peers,
        token: options.token,
        control_lock: Mutex::new(()),
        last_action: Mutex::new(last_action),
    });
    let (stop, stopped) = oneshot::channel::<()>();
    let thread = std::thread::Builder::new()
        .name("ballast-http".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(error) => {
                    warn!(%error, "HTTP runtime did not start");
                    return;
                }
            };
            runtime.block_on(async move {
                let listener = match tokio::net::TcpListener::from_std(listener) {
                    Ok(listener) => listener,
                    Err(error) => {
                        warn!(%error, "HTTP listener not usable");
                        return;
                    }
                };
                let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
                tokio::select! {
                    result = axum::serve(listener, app) => {
                        if let Err(error) = result {
                            warn!(%error, "HTTP server stopped");
                        }
                    }
                    _ = stopped => {}
                }
            });
        })
        .context("starting the HTTP thread")?;
    let mut server = HttpServer {
        addr,
        stop: Some(stop),
        thread: Some(thread),
        address_file: None,
    };
    if let Some(file) = options.address_file {
        std::fs::write(&file, format!("http://{addr}\n"))
            .with_context(|| format!("writing the API address to {}", file.display()))?;
        server.address_file = Some(file);
    }
    Ok(server)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::HttpSettings;

    #[test]
    fn loopback_by_default_and_remote_only_when_asked() {
        struct TestCase {
            listen: &'static str,
            allow_remote: bool,
            expected: Result<Option<&'static str>, &'static str>,
        }
        let cases = [
            // TC0: off.
            TestCase {
                listen: "",
                allow_remote: false,
                expected: Ok(None),
            },
            // TC1: loopback, a free port.
            TestCase {
                listen: "127.0.0.1:0",
                allow_remote: false,
                expected: Ok(Some("127.0.0.1:0")),
            },
            // TC2: IPv6 loopback.
            TestCase {
                listen: "[::1]:8788",
                allow_remote: false,
                expected: Ok(Some("[::1]:8788")),
            },
            // TC3: every interface needs the flag ...
            TestCase {
                listen: "0.0.0.0:8788",
                allow_remote: false,
                expected: Err("allow_remote"),
            },
            // TC4: ... and is served with it.
            TestCase {
                listen: "0.0.0.0:8788",
                allow_remote: true,
                expected: Ok(Some("0.0.0.0:8788")),
            },
            // TC5: a host name is not an address.
            TestCase {
                listen: "localhost:8788",
                allow_remote: false,
                expected: Err("not an IP:port"),
            },
        ];
        for (i, case) in cases.into_iter().enumerate() {
            let settings = HttpSettings {
                listen: case.listen.to_owned(),
                allow_remote: case.allow_remote,
            };
            match (listen_address(&settings), case.expected) {
                (Ok(got), Ok(expected)) => {
                    assert_eq!(got.map(|a| a.to_string()).as_deref(), expected, "TC{i}");
                }
                (Err(problem), Err(needle)) => {
                    assert!(problem.starts_with("http.listen: "), "TC{i}: {problem}");
                    assert!(problem.contains(needle), "TC{i}: {problem}");
                }
                (got, expected) => panic!("TC{i}: {got:?} vs {expected:?}"),
            }
        }
    }
}
