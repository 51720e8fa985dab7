//! The StatusBoard: the HTTP API's memory of the run, kept from the bus.
//!
//! It subscribes to every [`Event`] like the MetricsRecorder, and keeps what the recorder's
//! running [`Summary`](crate::metrics::Summary) does not: the stream's state, the latest
//! balances and targets with where they came from, the recent events, plans with each leg's
//! fate and reason, tax-loss harvests, warnings, value and weights over time, plans by
//! trigger, risk refusals by limit, and the event-to-order latency histogram. The HTTP layer asks for a copy with
//! [`GetBoard`] and computes nothing from it but through the core.
//!
//! # Invariants
//! - Every list is bounded ([`RECENT_EVENTS`], [`RECENT_PLANS`], [`RECENT_HARVESTS`],
//!   [`RECENT_WARNINGS`], [`HISTORY_POINTS`]): a 24/7 run never grows it. History keeps the whole run at a
//!   resolution that halves whenever it fills.
//! - Off the trading path: it only hears the bus, and the bus drops rather than waits.

use std::{
    collections::{BTreeMap, HashMap, VecDeque},
    time::Instant,
};

use actix::{Actor, Context, Handler, MessageResponse};
use ballast::{
    control::ControlRecord,
    execution::PlanId,
    observation::Happening,
    policy::Trigger,
    portfolio::PortfolioSnapshot,
    service::{Direction, Service, ServiceMap},
    targets::TargetAllocation,
};
use rust_decimal::Decimal;
use serde::Serialize;
use time::OffsetDateTime;

use crate::{
    format::event_detail,
    messages::{DropReason, Event, GetBoard, StreamStatus},
};

/// Venue events kept, newest last.
pub const RECENT_EVENTS: usize = 50;
/// Plans kept, newest last.
pub const RECENT_PLANS: usize = 20;
/// Tax-loss harvests kept, newest last.
pub const RECENT_HARVESTS: usize = 20;
/// Warnings kept, newest last.
pub const RECENT_WARNINGS: usize = 50;
/// Control actions kept, newest last.
pub const RECENT_CONTROL: usize = 20;
/// Points of value and weights over time; when full, every other one is dropped.
pub const HISTORY_POINTS: usize = 720;
/// Mailbox capacity; the bus drops (and counts) what does not fit.
pub const BOARD_MAILBOX_CAPACITY: usize = 4_096;
/// Event arrivals remembered for the latency histogram (a plan's trigger event is recent).
const ARRIVALS_KEPT: usize = 1_024;
/// Upper bounds of the event-to-order latency buckets, seconds.
pub const LATENCY_BUCKETS_SECS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// The stream's state as last reported.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Connection {
    /// `connecting` (before the first connection), `connected`, `reconnecting` or `resyncing`.
    pub state: &'static str,
    /// Connections opened this run.
    pub connections: u64,
    /// Times the stream went down this run.
    pub disconnects: u64,
    /// Why it last went down or resynced, if it did.
    pub last_reason: Option<String>,
}

/// The latest balances and when they were seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Latest {
    /// The balances (with the venue `seq` they reflect, when known).
    pub snapshot: PortfolioSnapshot,
    /// When observed.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

/// The targets in force and where they came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TargetsInfo {
    /// The weights.
    pub weights: ServiceMap<Decimal>,
    /// `configured` (`[targets]`) or the optimizer's method (`risk-parity`, ...).
    pub method: String,
    /// What prompted them (`configuration` at start-up, `daily tick`, a drawdown, ...).
    pub reason: String,
    /// The solve's diagnostics in one line (`configured` for the configured targets).
    pub diagnostics: String,
    /// When they were published, in venue time (`None`: the configuration, or published
    /// before the first snapshot).
    #[serde(with = "time::serde::rfc3339::option")]
    pub at: Option<OffsetDateTime>,
}

/// One venue event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventLine {
    /// Its `seq`.
    pub seq: u64,
    /// Venue time.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// Its type (`casino_win`, ...).
    #[serde(rename = "type")]
    pub kind: String,
    /// What happened, in one line.
    pub detail: String,
}

/// One leg of a plan and what became of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LegLine {
    /// Idempotency key.
    pub key: String,
    /// Service.
    pub service: Service,
    /// Direction.
    pub direction: Direction,
    /// Amount, USDC.
    pub amount_usdc: Decimal,
    /// `planned`, `applied`, `dry_run`, `failed` or `superseded` (another companion's
    /// request holds its key).
    pub status: &'static str,
    /// The venue's transfer id, once applied.
    pub transfer_id: Option<String>,
    /// Why it failed or was skipped.
    pub reason: Option<String>,
    /// POSTs sent for it.
    pub attempts: u32,
}

/// One plan, its reason and its legs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlanLine {
    /// `{run_id}:{plan_seq}`.
    pub plan_id: String,
    /// The trigger's short name.
    pub trigger: &'static str,
    /// Why, in words.
    pub reason: String,
    /// When decided (venue time).
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// USDC the plan moves.
    pub moved_usdc: Decimal,
    /// The largest drift it corrects.
    pub max_drift: Decimal,
    /// `executing`, `done`, `interrupted`, `failed` or `refused`.
    pub status: &'static str,
    /// The risk limits that refused it.
    pub refused_by: Vec<&'static str>,
    /// Its legs, in order.
    pub legs: Vec<LegLine>,
}

/// One tax-loss harvest: the losing lots sold and the substitute bought.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HarvestLine {
    /// The harvest's id (`ballast::tax::ids`).
    pub harvest_id: String,
    /// When (venue time).
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// The asset sold.
    pub asset: String,
    /// Units sold.
    pub quantity: Decimal,
    /// Proceeds, USDC.
    pub proceeds_usdc: Decimal,
    /// Loss realized, USDC.
    pub loss_usdc: Decimal,
    /// The substitute bought, if any.
    pub substitute: Option<String>,
    /// Units of it bought.
    pub substitute_quantity: Decimal,
    /// Recorded in dry run (nothing sent).
    pub dry_run: bool,
}

/// Something the operator should look at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warning {
    /// When noticed (venue time).
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// `balance_mismatch`, `targets_refused`, `malformed_frame`, `stream_down`,
    /// `numbering_reset`, `plan_refused`, `plan_not_recorded`, `leg_failed`, `reply_mismatch`,
    /// `implausible_{held,confirmed,unconfirmed}`, `harvest_refused`, `wash_buy_prevented`,
    /// `wash_sale` or `alert` (an operator alert not shown under one of the others).
    pub kind: &'static str,
    /// What, naming the service, field or limit.
    pub message: String,
}

/// Value and weights at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HistoryPoint {
    /// Venue time.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// Portfolio value, USDC.
    pub total_usdc: Decimal,
    /// Weight per service (rounded to 6 places).
    pub weights: ServiceMap<Decimal>,
}

/// A cumulative histogram, Prometheus-style.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Histogram {
    /// Upper bounds, seconds; the last implicit bucket is `+Inf`.
    pub bounds_secs: Vec<f64>,
    /// Observations at or below each bound (cumulative).
    pub cumulative: Vec<u64>,
    /// All observations.
    pub count: u64,
    /// Their sum, seconds.
    pub sum_secs: f64,
}

impl Default for Histogram {
    fn default() -> Self {
        Self {
            bounds_secs: LATENCY_BUCKETS_SECS.to_vec(),
            cumulative: vec![0; LATENCY_BUCKETS_SECS.len()],
            count: 0,
            sum_secs: 0.0,
        }
    }
}

impl Histogram {
    /// Counts one observation.
    pub fn observe(&mut self, secs: f64) {
        for (bound, count) in self.bounds_secs.iter().zip(self.cumulative.iter_mut()) {
            if secs <= *bound {
                *count += 1;
            }
        }
        self.count += 1;
        self.sum_secs += secs;
    }
}

/// The board: what `/status` and `/metrics` show beyond the recorder's summary.
#[derive(Debug, Clone, PartialEq, Serialize, MessageResponse)]
pub struct Board {
    /// The event stream.
    pub connection: Connection,
    /// Highest venue event `seq` seen.
    pub last_event_seq: u64,
    /// The latest balances.
    pub latest: Option<Latest>,
    /// The targets in force.
    pub targets: TargetsInfo,
    /// Recent venue events, oldest first.
    pub recent_events: VecDeque<EventLine>,
    /// Recent plans, oldest first.
    pub recent_plans: VecDeque<PlanLine>,
    /// Recent tax-loss harvests, oldest first.
    pub recent_harvests: VecDeque<HarvestLine>,
    /// Recent warnings, oldest first.
    pub warnings: VecDeque<Warning>,
    /// Recent control actions seen on the bus, oldest first.
    pub recent_control: VecDeque<ControlRecord>,
    /// Value and weights over time, oldest first.
    pub history: VecDeque<HistoryPoint>,
    /// Plans made, by trigger.
    pub plans_by_trigger: BTreeMap<String, u64>,
    /// Plans refused, by the risk limit broken.
    pub refusals_by_limit: BTreeMap<String, u64>,
    /// From a venue event reaching the bus to the first leg of the plan it triggered being
    /// applied by the venue.
    pub event_to_order: Histogram,
}

/// The actor.
#[derive(Debug)]
pub struct StatusBoard {
    board: Board,
    /// When each recent event reached the board, by `seq`.
    arrivals: VecDeque<(u64, Instant)>,
    /// Plans whose first leg is awaited, with the arrival of their trigger event.
    awaiting_first_leg: HashMap<String, Instant>,
    /// Least venue time between two history points (doubles whenever history fills).
    history_gap: time::Duration,
}

fn push_bounded<T>(list: &mut VecDeque<T>, item: T, cap: usize) {
    if list.len() == cap {
        list.pop_front();
    }
    list.push_back(item);
}

/// The `seq` of the event that prompted a plan, when one did.
fn trigger_seq(trigger: &Trigger) -> Option<u64> {
    match trigger {
        Trigger::LargeWin { seq, .. }
        | Trigger::Threshold { seq }
        | Trigger::ReferralIncome { seq, .. } => Some(*seq),
        Trigger::Tick { .. }
        | Trigger::Calendar { .. }
        | Trigger::Request { .. }
        | Trigger::Adjusted { .. } => None,
    }
}

impl StatusBoard {
    /// A board starting from the configured `targets`.
    pub fn new(targets: &TargetAllocation) -> Self {
        Self {
            board: Board {
                connection: Connection {
                    state: "connecting",
                    ..Connection::default()
                },
                last_event_seq: 0,
                latest: None,
                targets: TargetsInfo {
                    weights: *targets.weights(),
                    method: "configured".to_owned(),
                    reason: "configuration".to_owned(),
                    diagnostics: "configured".to_owned(),
                    at: None,
                },
                recent_events: VecDeque::new(),
                recent_plans: VecDeque::new(),
                recent_harvests: VecDeque::new(),
                warnings: VecDeque::new(),
                recent_control: VecDeque::new(),
                history: VecDeque::new(),
                plans_by_trigger: BTreeMap::new(),
                refusals_by_limit: BTreeMap::new(),
                event_to_order: Histogram::default(),
            },
            arrivals: VecDeque::new(),
            awaiting_first_leg: HashMap::new(),
            history_gap: time::Duration::ZERO,
        }
    }

    fn warn(&mut self, at: OffsetDateTime, kind: &'static str, message: String) {
        push_bounded(
            &mut self.board.warnings,
            Warning { at, kind, message },
            RECENT_WARNINGS,
        );
    }

    fn observe(&mut self, snapshot: PortfolioSnapshot, at: OffsetDateTime) {
        let keep = match &self.board.latest {
            // An older snapshot never replaces a newer one (the policy's rule too).
            Some(Latest {
                snapshot:
                    PortfolioSnapshot {
                        seq: Some(held), ..
                    },
                ..
            }) => snapshot.seq.is_none_or(|seq| seq >= *held),
            _ => true,
        };
        if !keep {
            return;
        }
        self.record_history(&snapshot, at);
        self.board.latest = Some(Latest { snapshot, at });
    }

    fn record_history(&mut self, snapshot: &PortfolioSnapshot, at: OffsetDateTime) {
        let history = &mut self.board.history;
        if let Some(last) = history.back()
            && at - last.at < self.history_gap
        {
            return;
        }
        history.push_back(HistoryPoint {
            at,
            total_usdc: snapshot.total_usdc(),
            weights: snapshot.weights().map(|_, w| w.round_dp(6)),
        });
        if history.len() >= HISTORY_POINTS {
            // Keep the whole run at half the resolution.
            let kept: VecDeque<HistoryPoint> = history.iter().step_by(2).cloned().collect();
            *history = kept;
            if let (Some(first), Some(last)) = (history.front(), history.back()) {
                let span = last.at - first.at;
                self.history_gap = span / (HISTORY_POINTS as f64 / 2.0);
            }
        }
    }

    fn plan_mut(&mut self, plan_id: &PlanId) -> Option<&mut PlanLine> {
        let id = plan_id.to_string();
        self.board
            .recent_plans
            .iter_mut()
            .rev()
            .find(|plan| plan.plan_id == id)
    }

    fn on_venue_event(&mut self, venue: &crate::messages::VenueEvent) {
        let observation = &venue.observation;
        let before_total = self
            .board
            .latest
            .as_ref()
            .map(|latest| latest.snapshot.total_usdc());
        if let Some(snapshot) = &observation.snapshot {
            self.observe(snapshot.clone(), observation.at);
        }
        self.board.last_event_seq = self.board.last_event_seq.max(observation.seq);
        if matches!(observation.what, Happening::Heartbeat) {
            return;
        }
        push_bounded(
            &mut self.arrivals,
            (observation.seq, Instant::now()),
            ARRIVALS_KEPT,
        );
        // Not worth a line (a zero funding payment): the feed skips it, as the console does.
        let Some(detail) = event_detail(&observation.what, before_total) else {
            return;
        };
        push_bounded(
            &mut self.board.recent_events,
            EventLine {
                seq: observation.seq,
                at: observation.at,
                kind: observation.what.name().to_owned(),
                detail,
            },
            RECENT_EVENTS,
        );
    }

    fn on_stream(&mut self, status: &StreamStatus, at: OffsetDateTime) {
        let connection = &mut self.board.connection;
        match status {
            StreamStatus::Connected { connection: n, .. } => {
                connection.state = "connected";
                connection.connections = *n;
            }
            StreamStatus::Reconnecting { reason } => {
                connection.state = "reconnecting";
                connection.disconnects += 1;
                connection.last_reason = Some(reason.clone());
                let message = format!("event stream down: {reason}; trading paused until resync");
                self.warn(at, "stream_down", message);
            }
            StreamStatus::Gap { after, next } => {
                connection.state = "resyncing";
                connection.last_reason = Some(format!("events {after}..{next} skipped"));
            }
            StreamStatus::Malformed { error } => {
                self.warn(at, "malformed_frame", format!("frame ignored: {error}"));
            }
            StreamStatus::Renumbered {
                cursor,
                venue_seq,
                epoch,
            } => {
                connection.state = "resyncing";
                let message = format!(
                    "the venue renumbered its events (cursor {cursor}, venue at {venue_seq}); \
                     trading resumes on a fresh snapshot, plans named in epoch {epoch}"
                );
                connection.last_reason = Some(message.clone());
                self.warn(at, "numbering_reset", message);
            }
        }
    }

    fn now(&self) -> OffsetDateTime {
        // Warnings without a venue time of their own are stamped with the latest one seen.
        self.board
            .latest
            .as_ref()
            .map_or_else(OffsetDateTime::now_utc, |latest| latest.at)
    }
}

impl Actor for StatusBoard {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(BOARD_MAILBOX_CAPACITY);
    }
}

impl Handler<Event> for StatusBoard {
    type Result = ();

    fn handle(&mut self, event: Event, _ctx: &mut Self::Context) {
        match event {
            Event::Venue(venue) => self.on_venue_event(&venue),
            Event::Balances(observed) => self.observe(observed.snapshot, observed.at),
            Event::Stream(status) => {
                let at = self.now();
                self.on_stream(&status, at);
            }
            Event::Targets(update) => {
                self.board.targets = TargetsInfo {
                    weights: *update.targets.weights(),
                    method: update.method.to_string(),
                    reason: update.reason,
                    diagnostics: update.diagnostics.to_string(),
                    // Venue time, like everything else on the board; unknown before the
                    // first snapshot (targets published at start-up).
                    at: self.board.latest.as_ref().map(|latest| latest.at),
                };
            }
            Event::Noticed(noticed) => {
                // An event response (drawdown cut or restore, volatility spike) changed the
                // targets in force: the board shows those, with the reason.
                if let ballast::policy::Notice::TargetsAdjusted {
                    at,
                    adjustments,
                    targets,
                } = &*noticed.notice
                {
                    self.board.targets = TargetsInfo {
                        weights: *targets,
                        method: adjustments
                            .first()
                            .map_or("adjusted", |a| a.name())
                            .to_owned(),
                        reason: adjustments
                            .iter()
                            .map(|a| a.describe())
                            .collect::<Vec<_>>()
                            .join("; "),
                        diagnostics: "event response".to_owned(),
                        at: Some(*at),
                    };
                }
            }
            Event::HedgesReconciled(report) if !report.foreign_positions.is_empty() => {
                // A position ballast does not hold is left alone; an operator should know.
                let message = format!(
                    "venue position(s) no hedge of ballast holds, left alone: {}",
                    report.foreign_positions.join(", ")
                );
                let at = self.now();
                self.warn(at, "foreign_positions", message);
            }
            // Hedges are in the store and the run summary; the board does not show them.
            Event::HedgeOpened(_)
            | Event::HedgeClosed(_)
            | Event::HedgeSkipped(_)
            | Event::HedgesReconciled(_) => {}
            Event::Implausible(change) => {
                // A held jump, and what its confirming snapshot said: an operator wants to
                // see both; an unconfirmed one is an alert.
                use ballast::policy::plausibility::PlausibilityNotice;
                let kind = match change.notice {
                    PlausibilityNotice::Held { .. } => "implausible_held",
                    PlausibilityNotice::Confirmed { .. } => "implausible_confirmed",
                    PlausibilityNotice::Unconfirmed { .. } => "implausible_unconfirmed",
                };
                self.warn(change.at, kind, change.notice.describe());
            }
            Event::TargetsRefused(refused) => {
                let message = format!(
                    "{} targets ({}) refused [{}]: {}; keeping the previous ones",
                    refused.method, refused.reason, refused.kind, refused.error
                );
                let at = self.now();
                self.warn(at, "targets_refused", message);
            }
            Event::Mismatch(mismatch) => {
                let changes: Vec<String> = mismatch
                    .changes
                    .iter()
                    .map(|c| format!("{} {} -> {}", c.service.name(), c.held_usdc, c.venue_usdc))
                    .collect();
                let message = format!(
                    "balances changed with no venue event (at event #{}): {}",
                    mismatch.seq,
                    changes.join(", ")
                );
                self.warn(mismatch.at, "balance_mismatch", message);
            }
            Event::Planned(planned) => {
                let decision = &planned.decision;
                *self
                    .board
                    .plans_by_trigger
                    .entry(decision.trigger.name().to_owned())
                    .or_default() += 1;
                if let Some(arrived) = trigger_seq(&decision.trigger).and_then(|seq| {
                    self.arrivals
                        .iter()
                        .rev()
                        .find(|(s, _)| *s == seq)
                        .map(|(_, at)| *at)
                }) {
                    self.awaiting_first_leg
                        .insert(planned.plan_id.to_string(), arrived);
                }
                let legs = decision
                    .plan
                    .legs
                    .iter()
                    .enumerate()
                    .map(|(index, leg)| LegLine {
                        key: planned
                            .plan_id
                            .leg(u32::try_from(index).unwrap_or(u32::MAX))
                            .to_string(),
                        service: leg.service,
                        direction: leg.direction,
                        amount_usdc: leg.amount_usdc,
                        status: "planned",
                        transfer_id: None,
                        reason: None,
                        attempts: 0,
                    })
                    .collect();
                push_bounded(
                    &mut self.board.recent_plans,
                    PlanLine {
                        plan_id: planned.plan_id.to_string(),
                        trigger: decision.trigger.name(),
                        reason: decision.trigger.describe(),
                        at: decision.at,
                        moved_usdc: decision.plan.moved_usdc(),
                        max_drift: decision.plan.report.max_abs_drift().round_dp(6),
                        status: "executing",
                        refused_by: Vec::new(),
                        legs,
                    },
                    RECENT_PLANS,
                );
            }
            Event::Executed(trade) => {
                if !trade.dry_run
                    && let Some(arrived) =
                        self.awaiting_first_leg.remove(&trade.plan_id.to_string())
                {
                    self.board
                        .event_to_order
                        .observe(arrived.elapsed().as_secs_f64());
                }
                let key = trade.idempotency_key.to_string();
                if let Some(leg) = self
                    .plan_mut(&trade.plan_id)
                    .and_then(|plan| plan.legs.iter_mut().find(|leg| leg.key == key))
                {
                    leg.status = if trade.dry_run { "dry_run" } else { "applied" };
                    leg.transfer_id = Some(trade.transfer_id);
                    leg.attempts = trade.attempts;
                }
            }
            Event::Failed(failed) => {
                let key = failed.idempotency_key.to_string();
                let skipped = failed.reason.starts_with("skipped");
                // Superseded: another companion's plan for the trigger came first; no fault.
                if !skipped && !failed.superseded {
                    let message = format!(
                        "{} {} {} USDC failed: {}",
                        failed.direction.name(),
                        failed.service.name(),
                        failed.amount_usdc,
                        failed.reason
                    );
                    let at = self.now();
                    self.warn(at, "leg_failed", message);
                }
                if let Some(leg) = self
                    .plan_mut(&failed.plan_id)
                    .and_then(|plan| plan.legs.iter_mut().find(|leg| leg.key == key))
                {
                    leg.status = if failed.superseded {
                        "superseded"
                    } else {
                        "failed"
                    };
                    leg.reason = Some(failed.reason);
                    leg.attempts = failed.attempts;
                }
            }
            Event::Refused(refused) => {
                let limits: Vec<&'static str> =
                    refused.refusals.iter().map(|r| r.limit()).collect();
                for limit in &limits {
                    *self
                        .board
                        .refusals_by_limit
                        .entry((*limit).to_owned())
                        .or_default() += 1;
                }
                let message = refused
                    .refusals
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ");
                let at = self.now();
                self.warn(
                    at,
                    "plan_refused",
                    format!("plan {} refused: {message}", refused.plan_id),
                );
                if let Some(plan) = self.plan_mut(&refused.plan_id) {
                    plan.status = "refused";
                    plan.refused_by = limits;
                }
            }
            Event::Finished(finished) => {
                self.awaiting_first_leg
                    .remove(&finished.plan_id.to_string());
                if let Some(snapshot) = finished.snapshot.clone() {
                    self.observe(snapshot, finished.at);
                }
                if let Some(plan) = self.plan_mut(&finished.plan_id)
                    && plan.status == "executing"
                {
                    plan.status = if finished.interrupted {
                        "interrupted"
                    } else if finished.failed > 0 {
                        "failed"
                    } else {
                        "done"
                    };
                }
            }
            Event::Dropped(dropped) => {
                // A trigger an earlier run planned is no news; a plan the store could not
                // record (nothing of it sent) is.
                if let DropReason::NotRecorded { error } = &dropped.why {
                    let at = self.now();
                    let message = format!(
                        "plan {} [{}] not recorded ({error}); nothing sent",
                        dropped.plan_id,
                        dropped.trigger.name()
                    );
                    self.warn(at, "plan_not_recorded", message);
                }
            }
            Event::ReplyAlert(alert) => {
                let message = format!("{}; leg left unresolved, plan stopped", alert.mismatch);
                self.warn(alert.at, "reply_mismatch", message);
            }
            Event::Control(control) => {
                push_bounded(
                    &mut self.board.recent_control,
                    control.record,
                    RECENT_CONTROL,
                );
            }
            Event::Harvested(harvest) => push_bounded(
                &mut self.board.recent_harvests,
                HarvestLine {
                    harvest_id: harvest.harvest_id,
                    at: harvest.at,
                    asset: harvest.asset,
                    quantity: harvest.quantity,
                    proceeds_usdc: harvest.proceeds_usdc,
                    loss_usdc: harvest.loss_usdc,
                    substitute: harvest.substitute,
                    substitute_quantity: harvest.substitute_quantity,
                    dry_run: harvest.dry_run,
                },
                RECENT_HARVESTS,
            ),
            Event::HarvestDecided(decided) => {
                // Skips are routine; a refusal (a risk limit, the venue, the operator's
                // hold) is worth a look.
                let decision = &decided.decision;
                if let ballast::tax::HarvestOutcome::Refused { reason, .. } = &decision.outcome {
                    let message = format!("{} harvest not executed: {reason}", decision.asset);
                    self.warn(decision.at, "harvest_refused", message);
                }
            }
            Event::WashBuyPrevented(prevented) => {
                let message = format!("{} ({})", prevented.block, prevented.reason);
                let at = self.now();
                self.warn(at, "wash_buy_prevented", message);
            }
            Event::WashSale(wash) => {
                let disallowed: Decimal = wash.matches.iter().map(|m| m.disallowed_usdc).sum();
                let message = format!(
                    "a {} buy inside a wash-sale window: {disallowed} USDC of loss disallowed, moved into its basis",
                    wash.asset
                );
                let at = self.now();
                self.warn(at, "wash_sale", message);
            }
            Event::Alert(alert) => {
                // The alerts raised from events the board already shows (a mismatch, refused
                // targets, a refused plan, an unconfirmed jump, a renumbering, a reply that
                // does not match, a plan not recorded, a refused harvest, a prevented wash-sale
                // buy) are there under their own kinds; the rest appear once, as `alert`.
                use ballast::alerting::AlertKind;
                let shown_already = match alert.kind {
                    AlertKind::BalanceMismatch
                    | AlertKind::TargetsRefused
                    | AlertKind::RiskRefused
                    | AlertKind::JumpUnconfirmed
                    | AlertKind::NumberingReset
                    | AlertKind::ReplyMismatch
                    | AlertKind::PlanNotRecorded
                    | AlertKind::HarvestRefused
                    | AlertKind::WashBuyPrevented => true,
                    AlertKind::Halt
                    | AlertKind::LegFailures
                    | AlertKind::StreamDown
                    | AlertKind::LegSuperseded
                    | AlertKind::ActorPanicked => false,
                };
                if !shown_already {
                    let message = format!(
                        "[{}, {}] {}",
                        alert.kind.name(),
                        alert.severity.name(),
                        alert.message
                    );
                    self.warn(alert.at, "alert", message);
                }
            }
            Event::Tick(_) => {}
        }
    }
}

impl Handler<GetBoard> for StatusBoard {
    type Result = Board;

    fn handle(&mut self, _message: GetBoard, _ctx: &mut Self::Context) -> Board {
        self.board.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_histogram_is_cumulative() {
        let mut histogram = Histogram::default();
        for secs in [0.0005, 0.003, 0.003, 20.0] {
            histogram.observe(secs);
        }
        assert_eq!(histogram.count, 4);
        // <= 1 ms: one; <= 5 ms: three; beyond the last bound only in the count (+Inf).
        assert_eq!(histogram.cumulative[0], 1);
        assert_eq!(histogram.cumulative[2], 3);
        assert_eq!(*histogram.cumulative.last().expect("buckets"), 3);
        assert!((histogram.sum_secs - 20.0065).abs() < 1e-9);
    }

    #[test]
    fn history_stays_bounded_and_keeps_the_whole_run() {
        let mut board = StatusBoard::new(&TargetAllocation::conservative());
        let start = time::macros::datetime!(2026-01-01 00:00 UTC);
        let snapshot = PortfolioSnapshot::new(ballast::portfolio::article_balances_usdc(), None)
            .expect("valid");
        for minute in 0..10_000_i64 {
            board.observe(snapshot.clone(), start + time::Duration::minutes(minute));
        }
        let history = &board.board.history;
        assert!(history.len() < HISTORY_POINTS, "{}", history.len());
        assert_eq!(history.front().map(|p| p.at), Some(start));
        let last = history.back().expect("points").at;
        assert!(start + time::Duration::minutes(9_000) < last, "{last}");
    }
}
