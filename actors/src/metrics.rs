//! The MetricsRecorder: records snapshots and actions, prints the console feed, and keeps
//! the running summary shown on exit.
//!
//! It subscribes to the bus, so it sees everything but never sits on the trading path.
//! Balance snapshots from REST (start-up, reconnects, ticks) and after each plan are stored,
//! and so are the balances events carry, at most once per [`EVENT_SNAPSHOT_VENUE_GAP`] of the
//! companion's clock and [`EVENT_SNAPSHOT_WALL_GAP`] of wall time, so `ballast status` shows the
//! last known balances without a write per event; target changes are stored for
//! `ballast report`. The console gets one line per event and per action, as text or JSON lines;
//! every JSON line carries `kind` and `at` (RFC 3339), and USDC amounts as two-decimal strings.
//!
//! With [`MetricsRecorder::with_run`] it also keeps the run's performance metrics
//! ([`LiveMetrics`]: tracking error, turnover, rebalances, cost drag, alpha against
//! buy-and-hold on the same observed path, drawdown, volatility, Sharpe, and the article's
//! good-range warnings) from the days the policy closes at each tick, and stores each day and
//! each change of the targets (the optimizer's new targets, and each target adjustment: drawdown
//! cut or restore, volatility spike or calm, printed with its reason) so `ballast status` and
//! `ballast report` can show them.
//!
//! Console lines go through [`crate::output`]: when stdout closes (`ballast run | head -3`)
//! the feed ends, logged once, and the recorder keeps recording and counting, so the run
//! goes on, stops and records its stop as it would have.
//!
//! # Invariants
//! - Turnover counts only legs the venue applied (dry-run legs are counted separately), with
//!   the amounts the store books for them.
//! - A plan counts as a rebalance only when every leg applied (or was recorded in dry run);
//!   partly applied and failed plans are counted apart ([`ballast::report::LegCounts::result`]).
//! - The summary's final allocation is the latest snapshot seen, against the targets in force
//!   (the latest published, adjusted by the event responses).
//! - A plan line is printed only for a plan that is on disk and executing; a plan that was
//!   not recorded is printed as such.
//! - A failed write to stdout never stops the recorder.
//! - Legs resolved by a status query (reconciled) come under a header naming their plan.

use std::collections::BTreeMap;

use std::time::Duration;

use actix::{Actor, Context, Handler, MessageResponse, ResponseFuture};
use ballast::{
    execution::PlanId,
    hedge::HedgeCosts,
    money::{format_usdc, usdc_text},
    observation::{Happening, Observation},
    portfolio::PortfolioSnapshot,
    report::{LegCounts, PlanResult},
    risk::RiskLimits,
    service::{Service, ServiceMap},
    store::{Durability, OPTIMIZER_TARGETS, Store},
    targets::TargetAllocation,
};
use rust_decimal::Decimal;
use serde::Serialize;
use time::OffsetDateTime;
use tracing::warn;

use crate::{
    clock::TimeSource,
    format::{event_detail, pct, rfc3339, short_time},
    live_metrics::LiveMetrics,
    messages::{DropReason, Event, GetSummary, PolicyNoticed, RecordLatest, SnapshotSource},
    settings::OutputFormat,
};

/// Least time of the companion's clock between two stored event snapshots.
pub const EVENT_SNAPSHOT_VENUE_GAP: Duration = Duration::from_secs(60);

/// Least wall time between two stored event snapshots (a fast simulated venue's events).
pub const EVENT_SNAPSHOT_WALL_GAP: Duration = Duration::from_secs(1);

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
    /// Plans every leg of which applied (or was recorded, in dry run).
    pub rebalances: u64,
    /// Rebalances per trigger.
    pub rebalances_by_trigger: BTreeMap<String, u64>,
    /// Plans finished, whatever they came to.
    pub plans_attempted: u64,
    /// Plans with some legs applied and some not.
    pub plans_partial: u64,
    /// Plans with no leg applied.
    pub plans_failed: u64,
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
    /// Alerts raised, per kind.
    pub alerts_by_kind: BTreeMap<String, u64>,
    /// Target adjustments by the event responses, per kind (`drawdown_cut`, ...).
    pub target_adjustments: BTreeMap<String, u64>,
    /// The run's performance so far (from the days closed at ticks), with warnings.
    pub performance: Option<ballast::performance::Metrics>,
    /// Implausible jumps held for a confirming snapshot.
    pub jumps_held: u64,
    /// Held jumps a fresh snapshot did not confirm (alerts; their triggers were dropped).
    pub jumps_unconfirmed: u64,
    /// Perp hedges opened and closed, and what they cost.
    pub hedges: HedgeSummary,
    /// Tax-loss harvesting.
    pub tax: TaxSummary,
}

/// What the TaxHarvester did in this run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TaxSummary {
    /// Harvests executed (or recorded in dry run).
    pub harvests: u64,
    /// Losses they realized, USDC.
    pub harvested_loss_usdc: Decimal,
    /// Substitutes bought.
    pub substitutes_bought: u64,
    /// Harvests skipped because they did not pay (once per asset and day).
    pub skipped_not_worth: u64,
    /// Harvests deferred by a wash-sale window or a missing substitute.
    pub deferred: u64,
    /// Harvests refused by a risk limit or the venue.
    pub refused: u64,
    /// Buys the wash-sale rule prevented (substitutes passed over, buys refused).
    pub wash_buys_prevented: u64,
    /// Losses disallowed by buys outside ballast's control, moved into replacement lots.
    pub wash_sales_recorded: u64,
}

/// The hedges of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct HedgeSummary {
    /// Hedges the venue filled.
    pub opened: u64,
    /// Hedges closed (by ballast or the venue).
    pub closed: u64,
    /// Hedges skipped, each reason once per service until it changes.
    pub skipped: u64,
    /// Why the last one was skipped.
    pub last_skip_reason: Option<String>,
    /// Hedges recorded in dry run.
    pub dry_run: u64,
    /// Fees of every hedge (open and close), funding and realized PnL of the closed ones.
    pub costs: HedgeCosts,
    /// Venue positions no hedge holds, found at start-up and left alone.
    pub foreign_positions: u64,
    /// The opening fee of each hedge still open, so its close adds only the rest.
    #[serde(skip)]
    open_fees: BTreeMap<String, Decimal>,
}

/// The recorder.
#[derive(Debug)]
pub struct MetricsRecorder {
    store: Store,
    console: Console,
    time: TimeSource,
    risk: RiskLimits,
    summary: Summary,
    latest: Option<PortfolioSnapshot>,
    previous_total: Option<Decimal>,
    /// The last stored snapshot: the companion's clock and wall time.
    last_stored: Option<(OffsetDateTime, tokio::time::Instant)>,
    /// When the latest snapshot was seen.
    latest_at: Option<OffsetDateTime>,
    /// The plan whose legs are printed now, and the last reconciled plan given a header.
    current_plan: Option<PlanId>,
    /// The run whose metrics are kept and whose days and target changes are stored.
    run: Option<(String, LiveMetrics)>,
}

impl MetricsRecorder {
    /// A recorder writing snapshots to `store`, reading the time from `time`; `risk` says how
    /// the executor will split legs above the per-leg cap, so plan lines count the legs sent.
    pub fn new(
        store: Store,
        console: Console,
        time: TimeSource,
        targets: &TargetAllocation,
        risk: RiskLimits,
    ) -> Self {
        Self {
            store,
            console,
            time,
            risk,
            summary: Summary {
                targets: Some(*targets.weights()),
                ..Summary::default()
            },
            latest: None,
            previous_total: None,
            last_stored: None,
            latest_at: None,
            current_plan: None,
            run: None,
        }
    }

    /// Keeps `run_id`'s performance metrics (Sharpe at `risk_free_rate`) and stores its days
    /// and target changes.
    #[must_use]
    pub fn with_run(mut self, run_id: &str, risk_free_rate: f64) -> Self {
        self.run = Some((run_id.to_owned(), LiveMetrics::new(risk_free_rate)));
        self
    }

    /// Stores a change of the targets in force (`kind`: the optimizer's, or an event
    /// response's) for `ballast status` and `ballast report`, when a run is kept.
    fn store_target_change(
        &self,
        at: OffsetDateTime,
        kind: &'static str,
        reason: String,
        targets: ServiceMap<Decimal>,
    ) {
        let Some((run_id, _)) = &self.run else {
            return;
        };
        let (store, run_id) = (self.store.clone(), run_id.clone());
        actix::spawn(async move {
            if let Err(error) = store
                .record_adjustment(run_id, at, kind, reason, targets)
                .await
            {
                warn!(%error, kind, "target change not recorded");
            }
        });
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
                        || serde_json::json!({"kind": "targets_adjusted", "at": rfc3339(*at), "adjustment": adjustment, "reason": reason, "targets": targets}),
                    );
                    self.store_target_change(*at, name, reason, *targets);
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
                    || serde_json::json!({"kind": "no_trade", "at": rfc3339(*at), "trigger": trigger, "notes": notes}),
                );
            }
        }
    }

    /// Stores `snapshot` from `source` (in the background: never on the trading path).
    fn store_snapshot(
        &mut self,
        at: OffsetDateTime,
        source: &'static str,
        snapshot: PortfolioSnapshot,
    ) {
        self.last_stored = Some((at, tokio::time::Instant::now()));
        let store = self.store.clone();
        actix::spawn(async move {
            if let Err(error) = store
                .record_snapshot(at, source, snapshot, Durability::Written)
                .await
            {
                warn!(%error, "snapshot not recorded");
            }
        });
    }

    /// Stores an event's balances when the last stored snapshot is old enough on both clocks.
    fn maybe_store_event_snapshot(&mut self, at: OffsetDateTime, snapshot: &PortfolioSnapshot) {
        let due = self.last_stored.is_none_or(|(venue, wall)| {
            at - venue >= EVENT_SNAPSHOT_VENUE_GAP && wall.elapsed() >= EVENT_SNAPSHOT_WALL_GAP
        });
        if due {
            self.store_snapshot(at, "event", snapshot.clone());
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

    fn observe(&mut self, snapshot: PortfolioSnapshot, at: OffsetDateTime) {
        self.latest_at = Some(at);
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
            self.maybe_store_event_snapshot(observation.at, snapshot);
            self.observe(snapshot.clone(), observation.at);
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
        let Some(detail) = event_detail(&observation.what, before_total) else {
            return;
        };
        let ts = observation.at;
        let seq = observation.seq;
        let type_name = observation.what.name().to_owned();
        self.line(
            || format!("{} event #{seq:<6} {detail}", short_time(ts)),
            || serde_json::json!({"kind": "event", "at": rfc3339(ts), "seq": seq, "type": type_name, "detail": detail}),
        );
    }
}

impl MetricsRecorder {
    fn on_harvest_decided(&mut self, decided: &crate::messages::HarvestDecided) {
        use ballast::tax::HarvestOutcome;
        let decision = &decided.decision;
        let tax = &mut self.summary.tax;
        tax.wash_buys_prevented += decision.blocked_substitutes.len() as u64;
        match decision.outcome {
            // Counted when executed (HarvestExecuted).
            HarvestOutcome::Harvest => return,
            HarvestOutcome::NotWorth => tax.skipped_not_worth += 1,
            HarvestOutcome::WashSaleWindow { .. } | HarvestOutcome::NoSubstitute => {
                tax.deferred += 1;
            }
            HarvestOutcome::Refused { .. } => tax.refused += 1,
        }
        let text = decision.describe();
        self.line(
            || format!("{} tax {text}", short_time(decision.at)),
            || serde_json::json!({"kind": "harvest_decision", "at": rfc3339(decision.at), "decision": &**decision}),
        );
    }

    fn on_hedge_event(&mut self, event: &Event) {
        let hedges = &mut self.summary.hedges;
        match event {
            Event::HedgeOpened(opened) => {
                if opened.dry_run {
                    hedges.dry_run += 1;
                } else {
                    hedges.opened += 1;
                    hedges.costs.fees_usdc += opened.fee_usdc;
                    hedges
                        .open_fees
                        .insert(opened.hedge_id.clone(), opened.fee_usdc);
                }
                let tag = if opened.dry_run { "DRY RUN " } else { "" };
                self.line(
                    || format!(
                        "{} {tag}hedge {} short {} {} at {}x for {} ({}; fee {})",
                        short_time(opened.at),
                        opened.hedge_id,
                        opened.market,
                        format_usdc(opened.notional_usdc),
                        opened.leverage,
                        opened.service.name(),
                        opened.reason,
                        format_usdc(opened.fee_usdc)
                    ),
                    || serde_json::json!({"kind": "hedge_opened", "hedge_id": opened.hedge_id, "service": opened.service, "market": opened.market, "notional_usdc": opened.notional_usdc, "leverage": opened.leverage, "ratio": opened.ratio, "stuck_usdc": opened.stuck_usdc, "fee_usdc": opened.fee_usdc, "position_id": opened.position_id, "reason": opened.reason, "dry_run": opened.dry_run}),
                );
            }
            Event::HedgeClosed(closed) => {
                if !closed.dry_run {
                    hedges.closed += 1;
                    let open_fee = hedges
                        .open_fees
                        .remove(&closed.hedge_id)
                        .unwrap_or_default();
                    hedges.costs += ballast::hedge::HedgeCosts {
                        fees_usdc: closed.costs.fees_usdc - open_fee,
                        ..closed.costs
                    };
                }
                self.line(
                    || format!(
                        "{} hedge {} closed ({}): realized {:+} USDC, fees {}, funding {:+} USDC",
                        short_time(closed.at),
                        closed.hedge_id,
                        closed.reason.name(),
                        closed.costs.realized_pnl_usdc,
                        format_usdc(closed.costs.fees_usdc),
                        closed.costs.funding_usdc
                    ),
                    || serde_json::json!({"kind": "hedge_closed", "hedge_id": closed.hedge_id, "reason": closed.reason, "costs": closed.costs, "dry_run": closed.dry_run}),
                );
            }
            Event::HedgeSkipped(skipped) => {
                hedges.skipped += 1;
                hedges.last_skip_reason = Some(skipped.reason.clone());
                self.line(
                    || format!(
                        "{} hedge of {} skipped: {}",
                        short_time(skipped.at),
                        skipped.service.name(),
                        skipped.reason
                    ),
                    || serde_json::json!({"kind": "hedge_skipped", "service": skipped.service, "reason": skipped.reason}),
                );
            }
            Event::HedgesReconciled(report) => {
                hedges.foreign_positions += report.foreign_positions.len() as u64;
                self.line(
                    || format!(
                        "                 hedges reconciled: {} kept, {} resolved, {} unknown; {} venue position(s) ballast does not hold, left alone{}",
                        report.kept,
                        report.resolved,
                        report.unresolved,
                        report.foreign_positions.len(),
                        if report.foreign_positions.is_empty() {
                            String::new()
                        } else {
                            format!(" ({})", report.foreign_positions.join(", "))
                        }
                    ),
                    || serde_json::json!({"kind": "hedges_reconciled", "kept": report.kept, "resolved": report.resolved, "unresolved": report.unresolved, "foreign_positions": report.foreign_positions}),
                );
            }
            _ => {}
        }
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
            Event::HedgeOpened(_)
            | Event::HedgeClosed(_)
            | Event::HedgeSkipped(_)
            | Event::HedgesReconciled(_) => self.on_hedge_event(&event),
            Event::Venue(venue) => self.on_venue_event(&venue.observation),
            Event::Balances(observed) => {
                if observed.source != SnapshotSource::Event {
                    let at = observed.at;
                    let source = match observed.source {
                        SnapshotSource::Resync => "resync",
                        SnapshotSource::Tick => "tick",
                        SnapshotSource::Event => "event",
                        SnapshotSource::Execution => "execution",
                        SnapshotSource::Confirm => "confirm",
                    };
                    self.store_snapshot(at, source, observed.snapshot.clone());
                    let text = self.allocation_text(&observed.snapshot);
                    let total = observed.snapshot.total_usdc();
                    self.line(
                        || format!("{} balances ({source}) {text}", short_time(at)),
                        || serde_json::json!({"kind": "balances", "at": rfc3339(at), "source": source, "total_usdc": usdc_text(total), "balances_usdc": usdc_map(&observed.snapshot.balances_usdc)}),
                    );
                } else {
                    self.maybe_store_event_snapshot(observed.at, &observed.snapshot);
                }
                self.previous_total = Some(observed.snapshot.total_usdc());
                self.observe(observed.snapshot, observed.at);
            }
            Event::Tick(tick) => {
                self.summary.ticks += 1;
                self.line(
                    || format!("{} daily tick", short_time(tick.at)),
                    || serde_json::json!({"kind": "tick", "at": rfc3339(tick.at)}),
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
                            "the venue's event numbering changed (ballast was at event {cursor}, \
                             the venue is at {venue_seq}); re-baselining on a fresh snapshot (epoch {epoch})"
                        )
                    }
                };
                let at = self.time.now();
                self.line(
                    || format!("{} {text}", short_time(at)),
                    || serde_json::json!({"kind": "stream", "at": rfc3339(at), "detail": text}),
                );
            }
            Event::Targets(update) => {
                self.summary.targets = Some(*update.targets.weights());
                let method = update.method;
                let at = self.time.now();
                self.store_target_change(
                    at,
                    OPTIMIZER_TARGETS,
                    format!("{method} ({})", update.reason),
                    *update.targets.weights(),
                );
                self.line(
                    || format!("{} targets ({method}, {}) {}", short_time(at), update.reason, update.diagnostics),
                    || serde_json::json!({"kind": "targets", "at": rfc3339(at), "method": method, "reason": update.reason, "weights": update.targets.weights(), "diagnostics": update.diagnostics}),
                );
            }
            // Printed as the alert the Notifier raises for it.
            Event::Mismatch(_) => self.summary.balance_alerts += 1,
            // Printed as the alert the Notifier raises for it.
            Event::TargetsRefused(_) => self.summary.targets_refused += 1,
            Event::Alert(alert) => {
                *self
                    .summary
                    .alerts_by_kind
                    .entry(alert.kind.name().to_owned())
                    .or_default() += 1;
                self.line(
                    || format!("{} ALERT [{}] {}", short_time(alert.at), alert.kind.name(), alert.message),
                    || serde_json::json!({"kind": "alert", "at": rfc3339(alert.at), "alert": alert.kind, "severity": alert.severity, "message": alert.message, "details": alert.details}),
                );
            }
            Event::Planned(planned) => {
                let decision = &planned.decision;
                let reason = decision.trigger.describe();
                // The legs the executor sends: those above the per-leg cap split under it.
                let sent = self.risk.split_oversized(&decision.plan);
                let legs = sent.legs.len();
                let moved = decision.plan.moved_usdc();
                let drift = decision.plan.report.max_abs_drift();
                self.current_plan = Some(planned.plan_id.clone());
                self.line(
                    || format!(
                        "{} rebalance {} [{}] {reason}: {legs} legs, {} (max drift {})",
                        short_time(decision.at),
                        planned.plan_id,
                        decision.trigger.name(),
                        format_usdc(moved),
                        pct(drift)
                    ),
                    || serde_json::json!({"kind": "plan", "at": rfc3339(decision.at), "plan_id": planned.plan_id, "trigger": decision.trigger, "legs": sent.legs, "moved_usdc": usdc_text(moved)}),
                );
            }
            Event::Executed(trade) => {
                self.leg_header(trade.idempotency_key.plan_id());
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
                let now = self.time.now();
                self.line(
                    || format!(
                        "                   {} {:<8} {:>12}  ({tag})",
                        trade.direction.name(),
                        trade.service.name(),
                        format_usdc(trade.amount_usdc)
                    ),
                    || serde_json::json!({"kind": "leg", "at": rfc3339(now), "status": if trade.dry_run {"dry_run"} else {"applied"}, "plan_id": trade.plan_id, "key": trade.idempotency_key, "service": trade.service, "direction": trade.direction, "amount_usdc": usdc_text(trade.amount_usdc), "transfer_id": trade.transfer_id}),
                );
            }
            Event::Failed(failed) => {
                self.leg_header(failed.idempotency_key.plan_id());
                self.summary.legs_failed += 1;
                if failed.superseded {
                    self.summary.legs_superseded += 1;
                }
                self.summary.leg_retries += u64::from(failed.attempts.saturating_sub(1));
                let now = self.time.now();
                self.line(
                    || format!(
                        "                   FAILED {} {} {}: {}",
                        failed.direction.name(),
                        failed.service.name(),
                        format_usdc(failed.amount_usdc),
                        failed.reason
                    ),
                    || serde_json::json!({"kind": "leg", "at": rfc3339(now), "status": "failed", "plan_id": failed.plan_id, "key": failed.idempotency_key, "service": failed.service, "direction": failed.direction, "amount_usdc": usdc_text(failed.amount_usdc), "reason": failed.reason}),
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
            // Printed as the alert the Notifier raises for it.
            Event::ReplyAlert(_) => self.summary.reply_alerts += 1,
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
                    || serde_json::json!({"kind": "control", "at": rfc3339(record.at), "record": record}),
                );
            }
            // Its legs are reported failed, each with the limits that concern it, and the
            // Notifier raises it as an alert, printed below.
            Event::Refused(_) => {}
            Event::Noticed(noticed) => self.on_notice(&noticed),
            Event::HarvestDecided(decided) => self.on_harvest_decided(&decided),
            Event::Harvested(harvest) => {
                let tax = &mut self.summary.tax;
                tax.harvests += 1;
                tax.harvested_loss_usdc += harvest.loss_usdc;
                if harvest.substitute.is_some() {
                    tax.substitutes_bought += 1;
                }
                let bought = harvest
                    .substitute
                    .as_deref()
                    .map(|s| format!(", bought {} {s}", harvest.substitute_quantity))
                    .unwrap_or_default();
                let tag = if harvest.dry_run { " (dry run)" } else { "" };
                self.line(
                    || format!(
                        "{} harvest {} sold {} {} for {}, loss {}{bought}{tag}",
                        short_time(harvest.at),
                        harvest.harvest_id,
                        harvest.quantity,
                        harvest.asset,
                        format_usdc(harvest.proceeds_usdc),
                        format_usdc(harvest.loss_usdc)
                    ),
                    || serde_json::json!({"kind": "harvest", "at": rfc3339(harvest.at), "harvest_id": harvest.harvest_id, "asset": harvest.asset, "quantity": harvest.quantity, "proceeds_usdc": harvest.proceeds_usdc, "loss_usdc": harvest.loss_usdc, "substitute": harvest.substitute, "substitute_quantity": harvest.substitute_quantity, "dry_run": harvest.dry_run}),
                );
            }
            Event::WashBuyPrevented(prevented) => {
                self.summary.tax.wash_buys_prevented += 1;
                let at = rfc3339(self.time.now());
                self.line(
                    || format!("                 buy prevented ({}): {}", prevented.reason, prevented.block),
                    || serde_json::json!({"kind": "wash_buy_prevented", "at": at, "reason": prevented.reason, "block": prevented.block}),
                );
            }
            Event::WashSale(wash) => {
                self.summary.tax.wash_sales_recorded += wash.matches.len() as u64;
                let disallowed: Decimal = wash.matches.iter().map(|m| m.disallowed_usdc).sum();
                let at = rfc3339(self.time.now());
                self.line(
                    || format!(
                        "                 wash sale: a {} buy in the window moved a {} loss into its basis",
                        wash.asset,
                        format_usdc(disallowed)
                    ),
                    || serde_json::json!({"kind": "wash_sale", "at": at, "asset": wash.asset, "matches": wash.matches}),
                );
            }
            Event::Finished(finished) => {
                if let Some((_, metrics)) = &mut self.run {
                    metrics.plan_finished(&finished.plan_id.to_string());
                }
                self.summary.plans_attempted += 1;
                let legs = LegCounts {
                    applied: finished.applied as u64,
                    failed: finished.failed as u64,
                    ..LegCounts::default()
                };
                match legs.result() {
                    PlanResult::Complete => {
                        self.summary.rebalances += 1;
                        *self
                            .summary
                            .rebalances_by_trigger
                            .entry(finished.trigger.name().to_owned())
                            .or_default() += 1;
                    }
                    PlanResult::Partial => self.summary.plans_partial += 1,
                    PlanResult::Failed => self.summary.plans_failed += 1,
                }
                if let Some(snapshot) = finished.snapshot {
                    self.store_snapshot(finished.at, "execution", snapshot.clone());
                    let text = self.allocation_text(&snapshot);
                    self.line(
                        || format!("                 after: {text}"),
                        || serde_json::json!({"kind": "after", "at": rfc3339(finished.at), "plan_id": finished.plan_id, "balances_usdc": usdc_map(&snapshot.balances_usdc)}),
                    );
                    self.observe(snapshot, finished.at);
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
                    // The Notifier raises it as a `jump_unconfirmed` alert, printed as such.
                    PlausibilityNotice::Unconfirmed { .. } => {
                        self.summary.jumps_unconfirmed += 1;
                        "UNCONFIRMED"
                    }
                };
                self.line(
                    || format!("{} {label} {}", short_time(change.at), change.notice.describe()),
                    || serde_json::json!({"kind": "implausible", "at": rfc3339(change.at), "notice": change.notice}),
                );
            }
        }
    }
}

impl Handler<RecordLatest> for MetricsRecorder {
    type Result = ResponseFuture<()>;

    /// Stores the latest balances seen (a clean stop), and resolves once they are on disk.
    fn handle(&mut self, _message: RecordLatest, _ctx: &mut Self::Context) -> Self::Result {
        // Always one row more: comparing times would mix the venue's event times with the
        // companion's clock, and one row per clean stop costs nothing.
        let (Some(at), Some(snapshot)) = (self.latest_at, self.latest.clone()) else {
            return Box::pin(async {});
        };
        self.last_stored = Some((at, tokio::time::Instant::now()));
        let store = self.store.clone();
        Box::pin(async move {
            if let Err(error) = store
                .record_snapshot(at, "latest", snapshot, Durability::OnDisk)
                .await
            {
                warn!(%error, "latest balances not recorded");
            }
        })
    }
}

impl Handler<GetSummary> for MetricsRecorder {
    type Result = Summary;

    fn handle(&mut self, _message: GetSummary, _ctx: &mut Self::Context) -> Summary {
        self.summary.clone()
    }
}

impl MetricsRecorder {
    /// Before the first leg line of a plan other than the one just announced (legs left
    /// pending, by an earlier run or this one, and resolved by a status query), a header.
    fn leg_header(&mut self, plan_id: &PlanId) {
        if self.current_plan.as_ref() == Some(plan_id) {
            return;
        }
        self.current_plan = Some(plan_id.clone());
        let at = self.time.now();
        self.line(
            || {
                format!(
                    "{} legs of plan {plan_id}, resolved by asking the venue:",
                    short_time(at)
                )
            },
            || serde_json::json!({"kind": "reconciled", "at": rfc3339(at), "plan_id": plan_id}),
        );
    }
}

/// Balances as two-decimal strings.
fn usdc_map(balances: &ServiceMap<Decimal>) -> ServiceMap<String> {
    balances.map(|_, b| usdc_text(*b))
}
