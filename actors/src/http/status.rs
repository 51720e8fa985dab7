//! `GET /status`, `/health` and `/ready`: the run as one JSON document, and the probes.
//!
//! [`StatusReport`] is built from the [`Board`], the MetricsRecorder's
//! [`Summary`], the [`TradingGate`](crate::gate::TradingGate) and the
//! [`ControlSwitch`](crate::control::ControlSwitch); weights, bands and drift come from the
//! core's [`DriftReport`]. `/metrics` renders the same report, so the two always agree.
//!
//! # Invariants
//! - `/health` and `/ready` ask no actor: they answer under any flood. `/ready` is 200 exactly
//!   when the trading gate is open (the stream is connected and a fresh snapshot arrived).
//! - Weights and drift are rounded to [`WEIGHT_DP`] places, in `/status` and `/metrics` alike.

use std::sync::Arc;

use axum::{
    Json,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use ballast::{
    control::{ControlRecord, Mode},
    drift::DriftReport,
    service::{Service, ServiceMap},
    targets::TargetAllocation,
};
use rust_decimal::Decimal;
use serde::Serialize;
use time::OffsetDateTime;

use super::{
    AppState, RunInfo,
    board::{
        Board, Connection, EventLine, Histogram, HistoryPoint, PlanLine, TargetsInfo, Warning,
    },
};
use crate::{messages::GetBoard, metrics::Summary};

/// Decimal places of weights, targets, bands and drift in the API.
pub const WEIGHT_DP: u32 = 6;

/// One service's line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceLine {
    /// The service.
    pub service: Service,
    /// Its balance, USDC.
    pub balance_usdc: Decimal,
    /// Its weight.
    pub weight: Decimal,
    /// Its target weight.
    pub target: Decimal,
    /// Its band (the drift it may reach before a threshold trigger).
    pub band: Decimal,
    /// `weight − target`.
    pub drift: Decimal,
    /// Whether `|drift| ≥ band`.
    pub outside_band: bool,
}

/// The balances with weights against targets and bands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Allocation {
    /// When observed (venue time).
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// The venue `seq` they reflect, when known.
    pub seq: Option<u64>,
    /// Portfolio value, USDC.
    pub total_usdc: Decimal,
    /// The largest `|drift|`.
    pub max_abs_drift: Decimal,
    /// One line per service, in the venue's order.
    pub services: Vec<ServiceLine>,
}

/// The operator's mode and the action that set it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ControlState {
    /// `running`, `paused` or `halted`.
    pub mode: Mode,
    /// The latest control action (this run's or, after a restart, the one in force).
    pub last_action: Option<ControlRecord>,
}

/// Counters the recorder's summary does not hold.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Counters {
    /// Plans made, by trigger.
    pub plans_by_trigger: std::collections::BTreeMap<String, u64>,
    /// Plans refused, by risk limit.
    pub refusals_by_limit: std::collections::BTreeMap<String, u64>,
    /// From a venue event to the first leg of the plan it triggered being applied.
    pub event_to_order_seconds: Histogram,
}

/// `GET /status`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatusReport {
    /// This run.
    pub run: RunInfo,
    /// The event stream.
    pub connection: Connection,
    /// `open` (orders may be sent) or `closed` (stream down or resyncing).
    pub gate: &'static str,
    /// Stream connected and synced (what `/ready` says).
    pub ready: bool,
    /// The operator's control.
    pub control: ControlState,
    /// Highest venue event `seq` seen.
    pub last_event_seq: u64,
    /// The latest balances against targets and bands (`None` before the first snapshot).
    pub allocation: Option<Allocation>,
    /// The targets in force and where they came from.
    pub targets: TargetsInfo,
    /// Recent venue events, oldest first.
    pub recent_events: Vec<EventLine>,
    /// Recent plans with their legs and reasons, oldest first.
    pub recent_plans: Vec<PlanLine>,
    /// Recent control actions of this run, oldest first.
    pub recent_control: Vec<ControlRecord>,
    /// Open hedges (none until the hedger runs; each is its own JSON object).
    pub hedges: Vec<serde_json::Value>,
    /// Open tax-loss harvests (none until the harvester runs).
    pub harvests: Vec<serde_json::Value>,
    /// Recent warnings, oldest first.
    pub warnings: Vec<Warning>,
    /// Value and weights over time, oldest first.
    pub history: Vec<HistoryPoint>,
    /// The run's metrics (the summary printed on exit).
    pub metrics: Summary,
    /// Further counters and the latency histogram.
    pub counters: Counters,
}

/// Weights against targets and bands, through the core's [`DriftReport`].
fn allocation(board: &Board, bands: &ballast::drift::DriftBands) -> Option<Allocation> {
    let latest = board.latest.as_ref()?;
    let targets = TargetAllocation::new(board.targets.weights).ok()?;
    let report = DriftReport::measure(&latest.snapshot, &targets, bands);
    let round = |map: &ServiceMap<Decimal>, service: Service| map[service].round_dp(WEIGHT_DP);
    let services = Service::ALL
        .into_iter()
        .map(|service| {
            let drift = round(&report.drift, service);
            let band = round(&report.bands, service);
            ServiceLine {
                service,
                balance_usdc: latest.snapshot.balance(service),
                weight: round(&report.weights, service),
                target: round(&report.targets, service),
                band,
                drift,
                outside_band: drift.abs() >= band,
            }
        })
        .collect();
    Some(Allocation {
        at: latest.at,
        seq: latest.snapshot.seq,
        total_usdc: latest.snapshot.total_usdc(),
        max_abs_drift: report.max_abs_drift().round_dp(WEIGHT_DP),
        services,
    })
}

/// Builds the report, asking the board and the recorder.
///
/// # Errors
/// When an actor does not answer within [`super::ASK_TIMEOUT`] (busy or stopped).
pub(super) async fn report(state: &AppState) -> Result<StatusReport, String> {
    let ask = |what: &'static str| move |error: String| format!("{what} did not answer: {error}");
    let board = tokio::time::timeout(super::ASK_TIMEOUT, state.peers.board.send(GetBoard))
        .await
        .map_err(|_| "the status board is busy".to_owned())?
        .map_err(|e| ask("the status board")(e.to_string()))?;
    let metrics = tokio::time::timeout(
        super::ASK_TIMEOUT,
        state.peers.metrics.send(crate::messages::GetSummary),
    )
    .await
    .map_err(|_| "the metrics recorder is busy".to_owned())?
    .map_err(|e| ask("the metrics recorder")(e.to_string()))?;
    let gate_open = state.peers.gate.is_open();
    Ok(StatusReport {
        run: state.peers.run.clone(),
        gate: if gate_open { "open" } else { "closed" },
        ready: gate_open,
        control: ControlState {
            mode: state.peers.switch.mode(),
            last_action: state.last_action().await,
        },
        last_event_seq: board.last_event_seq,
        allocation: allocation(&board, &state.peers.bands),
        counters: Counters {
            plans_by_trigger: board.plans_by_trigger,
            refusals_by_limit: board.refusals_by_limit,
            event_to_order_seconds: board.event_to_order,
        },
        connection: board.connection,
        targets: board.targets,
        recent_events: board.recent_events.into(),
        recent_plans: board.recent_plans.into(),
        recent_control: board.recent_control.into(),
        hedges: Vec::new(),
        harvests: Vec::new(),
        warnings: board.warnings.into(),
        history: board.history.into(),
        metrics,
    })
}

/// `GET /status`.
pub(super) async fn status(State(state): State<Arc<AppState>>) -> Response {
    match report(&state).await {
        Ok(report) => Json(report).into_response(),
        Err(message) => super::error(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message),
    }
}

/// `GET /health`: the process serves HTTP.
pub(super) async fn health(State(state): State<Arc<AppState>>) -> Response {
    Json(serde_json::json!({"status": "ok", "run_id": state.peers.run.run_id})).into_response()
}

/// `GET /ready`: 200 when the stream is connected and synced, else 503.
pub(super) async fn ready(State(state): State<Arc<AppState>>) -> Response {
    let ready = state.peers.gate.is_open();
    let body = Json(serde_json::json!({
        "ready": ready,
        "gate": if ready { "open" } else { "closed" },
        "control": state.peers.switch.mode(),
    }));
    if ready {
        body.into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, body).into_response()
    }
}
