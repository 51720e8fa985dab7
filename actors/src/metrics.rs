//! The MetricsRecorder: records snapshots and actions, prints the console feed, and keeps
//! the running summary shown on exit.
//!
//! It subscribes to the bus, so it sees everything but never sits on the trading path.
//! Balance snapshots from REST (start-up, reconnects, ticks) are stored; the console gets
//! one line per event and per action, as text or JSON lines.
//!
//! With [`MetricsRecorder::with_run`] it also keeps the run's performance metrics
//! ([`LiveMetrics`]: tracking error, turnover, rebalances, cost drag, alpha against
//! buy-and-hold on the same observed path, drawdown, volatility, Sharpe, and the article's
//! good-range warnings) from the days the policy closes at each tick, and stores each day and
//! each target adjustment (drawdown cut or restore, volatility spike or calm, printed with its
//! reason) so `ballast status` can show them.
//!
//! Console lines go through [`crate::output`]: when stdout closes (`ballast run | head -3`)
//! the feed ends, logged once, and the recorder keeps recording and counting, so the run
//! goes on, stops and records its stop as it would have.
//!
//! # Invariants
//! - Turnover counts only legs the venue applied (dry-run legs are counted separately), with
//!   the amounts the store books for them.
//! - The summary's final allocation is the latest snapshot seen, against the targets in force
//!   (the latest published, adjusted by the event responses).
//! - A plan line is printed only for a plan that is on disk and executing; a plan that was
//!   not recorded is printed as such.
//! - A failed write to stdout never stops the recorder.

use std::collections::BTreeMap;

use actix::{Actor, Context, Handler, MessageResponse};
use ballast::{
    money::format_usdc,
    observation::{Happening, Observation},
    portfolio::PortfolioSnapshot,
    service::{Service, ServiceMap},
    store::Store,
    targets::TargetAllocation,
};
use rust_decimal::Decimal;
use serde::Serialize;
use tracing::warn;

use crate::{
    format::{event_detail, pct, short_time},
    live_metrics::LiveMetrics,
    messages::{DropReason, Event, GetSummary, PolicyNoticed, SnapshotSource},
    settings::OutputFormat,
};

/// Mailbox capacity; the bus drops (and counts) what does not fit.
pub const METRICS_MAILBOX_CAPACITY: usize = 4_096;

/// Where console lines go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Console {
    /// Nothing (tests, `--quiet`).
    Off,
    /// Readable text or JSON lines on stdout.
    On(OutputFormat),
}

/// The run's summary.
#[derive(Debug, Clone, Default, PartialEq, Serialize, MessageResponse)]
pub struct Summary {
    /// Venue events processed (heartbeats excluded).
    pub events_seen: u64,
    /// Events per type.
    pub events_by_type: BTreeMap<String, u64>,
    /// Frames rejected by validation.
    pub malformed_frames: u64,
    /// Stream (re)connections.
    pub connections: u64,
    /// Daily ticks.
    pub ticks: u64,
    /// Plans that moved money (or would have, in dry run).
    pub rebalances: u64,
    /// Rebalances per trigger.
    pub rebalances_by_trigger: BTreeMap<String, u64>,
    /// Legs applied by the venue.
    pub legs_applied: u64,
    /// Legs failed, skipped or of unknown outcome.
    pub legs_failed: u64,
    /// Extra POSTs of legs, each under the leg's own key (429, 5xx, lost acks).
    pub leg_retries: u64,
    /// Legs recorded in dry run.
    pub legs_dry_run: u64,
    /// USDC moved by applied legs.
    pub turnover_usdc: Decimal,
    /// Latest balances.
    pub final_balances_usdc: Option<ServiceMap<Decimal>>,
    /// Latest weights.
    pub final_weights: Option<ServiceMap<Decimal>>,
    /// Latest targets.
    pub targets: Option<ServiceMap<Decimal>>,
    /// Optimizer results refused (the previous targets stayed).
    pub targets_refused: u64,
    /// Balance changes the venue did not announce (daily sync alerts).
    pub balance_alerts: u64,
    /// Times the venue's event numbering changed (alerts; trading re-baselined each time).
    pub numbering_resets: u64,
    /// Venue replies that did not match their request (alerts; the legs stayed pending).
    pub reply_alerts: u64,
    /// Legs another companion's request superseded (its plan for the trigger came first).
    pub legs_superseded: u64,
    /// Plans not executed: their trigger already planned, or the store could not record
    /// them (nothing of them was sent).
    pub plans_dropped: u64,
    /// Legs of unknown outcome in the store at the stop, for the next start to reconcile
    /// (filled in by the shutdown).
    pub legs_pending: u64,
    /// Milliseconds the shutdown waited for the plan in flight (filled in by the shutdown).
    pub shutdown_ms: Option<u64>,
    /// Target adjustments by the event responses, per kind (`drawdown_cut`, ...).
    pub target_adjustments: BTreeMap<String, u64>,
    /// The run's performance so far (from the days closed at ticks), with warnings.
    pub performance: Option<ballast::performance::Metrics>,
    /// Implausible jumps held for a confirming snapshot.
    pub jumps_held: u64,
    /// Held jumps a fresh snapshot did not confirm (alerts; their triggers were dropped).
    pub jumps_unconfirmed: u64,
}

/// The recorder.
#[derive(Debug)]
pub struct MetricsRecorder {
    store: Store,
    console: Console,
    summary: Summary,
    latest: Option<PortfolioSnapshot>,
    previous_total: Option<Decimal>,
    run: Option<(String, LiveMetrics)>,
}

impl MetricsRecorder {
    /// A recorder writing snapshots to `store`.
    pub fn new(store: Store, console: Console, targets: &TargetAllocation) -> Self {
        Self {
            store,
            console,
            summary: Summary {
                targets: Some(*targets.weights()),
                ..Summary::default()
            },
            latest: None,
            previous_total: None,
            run: None,
        }
    }

    /// Keeps `run_id`'s performance metrics (Sharpe at `risk_free_rate`) and stores its days
    /// and target adjustments.
    #[must_use]
    pub fn with_run(mut self, run_id: &str, risk_free_rate: f64) -> Self {
        self.run = Some((run_id.to_owned(), LiveMetrics::new(risk_free_rate)));
        self
    }

    fn on_notice(&mut self, noticed: &PolicyNoticed) {
        use ballast::policy::Notice;
        match &*noticed.notice {
            Notice::TargetsAdjusted {
                at,
                adjustments,
                targets,
            } => {
                self.summary.targets = Some(*targets);
                for adjustment in adjustments {
                    *self
                        .summary
                        .target_adjustments
                        .entry(adjustment.name().to_owned())
                        .or_default() += 1;
                    let reason = adjustment.describe();
                    let name = adjustment.name();
                    self.line(
                        || format!("{} targets [{name}] {reason}", short_time(*at)),
                        || serde_json::json!({"kind": "targets_adjusted", "at": at.to_string(), "adjustment": adjustment, "reason": reason, "targets": targets}),
                    );
                    if let Some((run_id, _)) = &self.run {
                        let (store, run_id, at, targets) =
                            (self.store.clone(), run_id.clone(), *at, *targets);
                        actix::spawn(async move {
                            if let Err(error) = store
                                .record_adjustment(run_id, at, name, reason, targets)
                                .await
                            {
                                warn!(%error, "target adjustment not recorded");
                            }
                        });
                    }
                }
            }
            Notice::DayClosed { at, close } => {
                let Some((run_id, metrics)) = &mut self.run else {
                    return;
                };
                let (day, performance) = metrics.day_closed(close);
                self.summary.performance = Some(performance);
                let stored = ballast::store::StoredDay {
                    previous_value_usdc: close.previous_value_usdc,
                    observation: day,
                };
                let (store, run_id, at, index) =
                    (self.store.clone(), run_id.clone(), *at, close.day);
                actix::spawn(async move {
                    if let Err(error) = store.record_day(run_id, index, at, stored).await {
                        warn!(%error, "day not recorded");
                    }
                });
            }
            Notice::NoTrade { at, trigger, notes } => {
                let why = notes
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ");
                self.line(
                    || format!("{} no trade [{}] {}: {why}", short_time(*at), trigger.name(), trigger.describe()),
                    || serde_json::json!({"kind": "no_trade", "at": at.to_string(), "trigger": trigger, "notes": notes}),
                );
            }
        }
    }

    fn line(&mut self, text: impl FnOnce() -> String, json: impl FnOnce() -> serde_json::Value) {
        let written = match self.console {
            Console::Off => Ok(()),
            Console::On(OutputFormat::Text) => crate::outln!("{}", text()),
            Console::On(OutputFormat::Json) => crate::outln!("{}", json()),
        };
        if written.is_err() {
            // Output has ended (logged once by `output`); recording goes on.
            self.console = Console::Off;
        }
    }

    fn observe(&mut self, snapshot: PortfolioSnapshot) {
        self.summary.final_balances_usdc = Some(snapshot.balances_usdc);
        self.summary.final_weights = Some(snapshot.weights());
        self.latest = Some(snapshot);
    }

    fn allocation_text(&self, snapshot: &PortfolioSnapshot) -> String {
        let weights = snapshot.weights();
        let mut parts = Vec::with_capacity(6);
        for service in Service::ALL {
            let target = self.summary.targets.map(|t| t[service]).unwrap_or_default();
            parts.push(format!(
                "{} {}/{}",
                service.name(),
                pct(weights[service]),
                pct(target)
            ));
        }
        format!(
            "{} | {}",
            format_usdc(snapshot.total_usdc()),
            parts.join("  ")
        )
    }

    fn on_venue_event(&mut self, observation: &Observation) {
        let before_total = self.latest.as_ref().map(PortfolioSnapshot::total_usdc);
        if let Some(snapshot) = &observation.snapshot {
            self.observe(snapshot.clone());
        }
        if matches!(observation.what, Happening::Heartbeat) {
            return;
        }
        self.summary.events_seen += 1;
        *self
            .summary
            .events_by_type
            .entry(observation.what.name().to_owned())
            .or_default() += 1;
        let detail = event_detail(&observation.what, before_total);
        let ts = observation.at;
        let seq = observation.seq;
        let type_name = observation.what.name().to_owned();
        self.line(
            || format!("{} event #{seq:<6} {detail}", short_time(ts)),
            || serde_json::json!({"kind": "event", "seq": seq, "ts": ts.to_string(), "type": type_name, "detail": detail}),
        );
    }
}

impl Actor for MetricsRecorder {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(METRICS_MAILBOX_CAPACITY);
    }
}

impl Handler<Event> for MetricsRecorder {
    type Result = ();

    fn handle(&mut self, event: Event, _ctx: &mut Self::Context) {
        match event {
            Event::Venue(venue) => self.on_venue_event(&venue.observation),
            Event::Balances(observed) => {
                if observed.source != SnapshotSource::Event {
                    let store = self.store.clone();
                    let snapshot = observed.snapshot.clone();
                    let at = observed.at;
                    let source = match observed.source {
                        SnapshotSource::Resync => "resync",
                        SnapshotSource::Tick => "tick",
                        SnapshotSource::Event => "event",
                        SnapshotSource::Execution => "execution",
                        SnapshotSource::Confirm => "confirm",
                    };
                    actix::spawn(async move {
                        if let Err(error) = store.record_snapshot(at, source, snapshot).await {
                            warn!(%error, "snapshot not recorded");
                        }
                    });
                    let text = self.allocation_text(&observed.snapshot);
                    let total = observed.snapshot.total_usdc();
                    self.line(
                        || format!("{} balances ({source}) {text}", short_time(at)),
                        || serde_json::json!({"kind": "balances", "source": source, "at": at.to_string(), "total_usdc": total, "balances_usdc": observed.snapshot.balances_usdc}),
                    );
                }
                self.previous_total = Some(observed.snapshot.total_usdc());
                self.observe(observed.snapshot);
            }
            Event::Tick(tick) => {
                self.summary.ticks += 1;
                self.line(
                    || format!("{} daily tick", short_time(tick.at)),
                    || serde_json::json!({"kind": "tick", "at": tick.at.to_string()}),
                );
            }
            Event::Stream(status) => {
                use crate::messages::StreamStatus;
                let text = match &status {
                    StreamStatus::Connected { since, connection } => {
                        self.summary.connections += 1;
                        format!("stream connected (#{connection}), resuming after event {since}")
                    }
                    StreamStatus::Reconnecting { reason } => {
                        format!("stream lost ({reason}); trading paused until resync")
                    }
                    StreamStatus::Gap { after, next } => {
                        format!("events {after}..{next} skipped by the venue; resyncing")
                    }
                    StreamStatus::Malformed { error } => {
                        self.summary.malformed_frames += 1;
                        format!("malformed frame ignored: {error}")
                    }
                    StreamStatus::Renumbered {
                        cursor,
                        venue_seq,
                        epoch,
                    } => {
                        self.summary.numbering_resets += 1;
                        format!(
                            "ALERT the venue's event numbering changed (ballast was at event {cursor}, \
                             the venue is at {venue_seq}); re-baselining on a fresh snapshot (epoch {epoch})"
                        )
                    }
                };
                self.line(
                    || format!("                 {text}"),
                    || serde_json::json!({"kind": "stream", "detail": text}),
                );
            }
            Event::Targets(update) => {
                self.summary.targets = Some(*update.targets.weights());
                let method = update.method;
                self.line(
                    || format!("                 targets ({method}, {}) {}", update.reason, update.diagnostics),
                    || serde_json::json!({"kind": "targets", "method": method, "reason": update.reason, "weights": update.targets.weights(), "diagnostics": update.diagnostics}),
                );
            }
            Event::Mismatch(mismatch) => {
                self.summary.balance_alerts += 1;
                self.line(
                    || {
                        let changes: Vec<String> = mismatch
                            .changes
                            .iter()
                            .map(|c| {
                                format!(
                                    "{} {} -> {}",
                                    c.service.name(),
                                    format_usdc(c.held_usdc),
                                    format_usdc(c.venue_usdc)
                                )
                            })
                            .collect();
                        format!(
                            "{} ALERT balances changed with no venue event (at event #{}): {}",
                            short_time(mismatch.at),
                            mismatch.seq,
                            changes.join(", ")
                        )
                    },
                    || serde_json::json!({"kind": "balance_alert", "seq": mismatch.seq, "source": mismatch.source, "changes": mismatch.changes}),
                );
            }
            Event::TargetsRefused(refused) => {
                self.summary.targets_refused += 1;
                self.line(
                    || format!(
                        "                 targets ({}, {}) refused [{}]: {}; keeping the previous ones",
                        refused.method, refused.reason, refused.kind, refused.error
                    ),
                    || serde_json::json!({"kind": "targets_refused", "method": refused.method, "reason": refused.reason, "cause": refused.kind, "error": refused.error}),
                );
            }
            Event::Planned(planned) => {
                let decision = &planned.decision;
                let reason = decision.trigger.describe();
                let legs = decision.plan.legs.len();
                let moved = decision.plan.moved_usdc();
                let drift = decision.plan.report.max_abs_drift();
                self.line(
                    || format!(
                        "{} rebalance {} [{}] {reason}: {legs} legs, {} (max drift {})",
                        short_time(decision.at),
                        planned.plan_id,
                        decision.trigger.name(),
                        format_usdc(moved),
                        pct(drift)
                    ),
                    || serde_json::json!({"kind": "plan", "plan_id": planned.plan_id, "trigger": decision.trigger, "legs": decision.plan.legs, "moved_usdc": moved}),
                );
            }
            Event::Executed(trade) => {
                self.summary.leg_retries += u64::from(trade.attempts.saturating_sub(1));
                if trade.dry_run {
                    self.summary.legs_dry_run += 1;
                } else {
                    self.summary.legs_applied += 1;
                    self.summary.turnover_usdc += trade.amount_usdc;
                    if let Some((_, metrics)) = &mut self.run {
                        metrics.leg_applied(
                            &trade.plan_id.to_string(),
                            trade.service,
                            trade.direction,
                            trade.amount_usdc,
                        );
                    }
                }
                let tag = if trade.dry_run {
                    "dry run"
                } else {
                    trade.transfer_id.as_str()
                };
                self.line(
                    || format!(
                        "                   {} {:<8} {:>12}  ({tag})",
                        trade.direction.name(),
                        trade.service.name(),
                        format_usdc(trade.amount_usdc)
                    ),
                    || serde_json::json!({"kind": "leg", "status": if trade.dry_run {"dry_run"} else {"applied"}, "key": trade.idempotency_key, "service": trade.service, "direction": trade.direction, "amount_usdc": trade.amount_usdc, "transfer_id": trade.transfer_id}),
                );
            }
            Event::Failed(failed) => {
                self.summary.legs_failed += 1;
                if failed.superseded {
                    self.summary.legs_superseded += 1;
                }
                self.summary.leg_retries += u64::from(failed.attempts.saturating_sub(1));
                self.line(
                    || format!(
                        "                   FAILED {} {} {}: {}",
                        failed.direction.name(),
                        failed.service.name(),
                        format_usdc(failed.amount_usdc),
                        failed.reason
                    ),
                    || serde_json::json!({"kind": "leg", "status": "failed", "key": failed.idempotency_key, "reason": failed.reason}),
                );
            }
            Event::Dropped(dropped) => {
                self.summary.plans_dropped += 1;
                let plan_id = dropped.plan_id;
                let text = match &dropped.why {
                    DropReason::AlreadyPlanned => format!(
                        "plan {plan_id} [{}]: trigger already planned by an earlier run; not planned again",
                        dropped.trigger.name()
                    ),
                    DropReason::NotRecorded { error } => format!(
                        "plan {plan_id} [{}] not recorded ({error}); nothing sent",
                        dropped.trigger.name()
                    ),
                };
                self.line(
                    || format!("                 {text}"),
                    || serde_json::json!({"kind": "plan_dropped", "plan_id": plan_id, "trigger": dropped.trigger, "why": dropped.why}),
                );
            }
            Event::ReplyAlert(alert) => {
                self.summary.reply_alerts += 1;
                let text = alert.mismatch.to_string();
                self.line(
                    || format!("{} ALERT {text}; leg left unresolved, plan stopped", short_time(alert.at)),
                    || serde_json::json!({"kind": "reply_alert", "key": alert.mismatch.key, "detail": text}),
                );
            }
            Event::Control(control) => {
                let record = &control.record;
                self.line(
                    || {
                        format!(
                            "{} operator {}: trading {} (was {}), by {}{}",
                            short_time(record.at),
                            record.command,
                            record.mode,
                            record.previous,
                            record.by,
                            if record.reason.is_empty() {
                                String::new()
                            } else {
                                format!(": {}", record.reason)
                            }
                        )
                    },
                    || serde_json::json!({"kind": "control", "record": record}),
                );
            }
            // Its legs are reported failed, each with the limits named.
            Event::Refused(_) => {}
            Event::Noticed(noticed) => self.on_notice(&noticed),
            Event::Finished(finished) => {
                if let Some((_, metrics)) = &mut self.run {
                    metrics.plan_finished(&finished.plan_id.to_string());
                }
                if finished.applied > 0 || finished.failed == 0 {
                    self.summary.rebalances += 1;
                    *self
                        .summary
                        .rebalances_by_trigger
                        .entry(finished.trigger.name().to_owned())
                        .or_default() += 1;
                }
                if let Some(snapshot) = finished.snapshot {
                    let text = self.allocation_text(&snapshot);
                    self.line(
                        || format!("                 after: {text}"),
                        || serde_json::json!({"kind": "after", "plan_id": finished.plan_id, "balances_usdc": snapshot.balances_usdc}),
                    );
                    self.observe(snapshot);
                }
            }
            Event::Implausible(change) => {
                use ballast::policy::plausibility::PlausibilityNotice;
                let label = match &change.notice {
                    PlausibilityNotice::Held { .. } => {
                        self.summary.jumps_held += 1;
                        "HOLD"
                    }
                    PlausibilityNotice::Confirmed { .. } => "CONFIRMED",
                    PlausibilityNotice::Unconfirmed { .. } => {
                        self.summary.jumps_unconfirmed += 1;
                        "ALERT"
                    }
                };
                self.line(
                    || format!("{} {label} {}", short_time(change.at), change.notice.describe()),
                    || serde_json::json!({"kind": "implausible", "at": change.at.to_string(), "notice": change.notice}),
                );
            }
        }
    }
}

impl Handler<GetSummary> for MetricsRecorder {
    type Result = Summary;

    fn handle(&mut self, _message: GetSummary, _ctx: &mut Self::Context) -> Summary {
        self.summary.clone()
    }
}
