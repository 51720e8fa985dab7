//! [`PolicyState`]: the policy's state machine (see the parent module for what it decides).
//!
//! # Invariants
//! - Decisions on when and where to go come from [`RuleConfig::decide`] and
//!   [`RuleConfig::desired_weights`] (the backtester's own); the event responses from
//!   [`super::responses`]; returns from [`DayBook`].
//! - The targets in force are the base targets adjusted by the event responses, recomputed
//!   whenever either changes.

use rust_decimal::Decimal;
use time::OffsetDateTime;

use super::{
    Adjustment, DecidedOn, Decision, Notice, PolicyConfig, PolicyInput, Readiness, Trigger,
    observed::{DayBook, StepKind},
    plausibility::{JumpGuard, PlausibilityNotice},
    responses::{
        CutChange, DrawdownProtection, HUB, N, SpikeChange, VolatilitySpike, adjusted_targets,
    },
    route_income, row,
    rules::{DAYS_PER_YEAR, Reason, RuleConfig, RuleState, VolatilityIndex},
};
use crate::{
    drift::DriftReport,
    money::decimal_from_f64,
    observation::{Happening, Observation},
    planner::{PlanNote, RebalancePlan, plan_towards},
    portfolio::PortfolioSnapshot,
    service::{Service, ServiceMap},
    targets::TargetAllocation,
};

/// Seconds in a day, for counting days between tick times.
const SECONDS_PER_DAY: f64 = 86_400.0;

/// The policy's state.
#[derive(Debug, Clone)]
pub struct PolicyState {
    /// Settings.
    pub config: PolicyConfig,
    /// The base targets (configured, or the optimizer's latest).
    pub targets: TargetAllocation,
    in_force: TargetAllocation,
    latest: Option<PortfolioSnapshot>,
    synced: bool,
    in_flight: Option<(Trigger, OffsetDateTime)>,
    deferred: Option<Trigger>,
    /// The operator paused or halted trading: triggers wait, as while stale.
    held: bool,
    last_rebalance_at: Option<OffsetDateTime>,
    started_at: Option<OffsetDateTime>,
    next_plan_seq: u64,
    book: DayBook,
    vol: VolatilityIndex,
    drawdown: Option<DrawdownProtection>,
    spike: Option<VolatilitySpike>,
    notices: Vec<Notice>,
    /// Holds implausible jumps until a fresh REST snapshot settles them.
    pub(super) guard: JumpGuard,
}

fn decimal(x: f64, places: u32) -> Decimal {
    decimal_from_f64(x, "ratio")
        .map(|d| d.round_dp(places))
        .unwrap_or_default()
}

impl PolicyState {
    /// A policy that has seen nothing yet (stale until the first resync snapshot).
    pub fn new(config: PolicyConfig, targets: TargetAllocation) -> Self {
        let drawdown = config.drawdown.map(DrawdownProtection::new);
        let spike = config
            .vol_spike
            .as_ref()
            .map(|v| VolatilitySpike::new(v.spike));
        Self {
            config,
            in_force: targets.clone(),
            targets,
            latest: None,
            synced: false,
            in_flight: None,
            deferred: None,
            held: false,
            last_rebalance_at: None,
            started_at: None,
            next_plan_seq: 1,
            book: DayBook::default(),
            vol: VolatilityIndex::default(),
            drawdown,
            spike,
            notices: Vec::new(),
            guard: JumpGuard::default(),
        }
    }

    /// Holds changes of the portfolio by `factor` or more for a confirming snapshot (`None`,
    /// the default, holds nothing).
    #[must_use]
    pub fn with_max_jump_factor(mut self, factor: Option<Decimal>) -> Self {
        self.guard = JumpGuard::new(factor);
        self
    }

    /// What the plausibility guard has to say since the last call: a [`PlausibilityNotice::Held`]
    /// asks the owner for a fresh REST snapshot, fed back as [`PolicyInput::Confirmation`].
    pub fn take_plausibility_notices(&mut self) -> Vec<PlausibilityNotice> {
        self.guard.take_notices()
    }

    /// The latest snapshot held.
    pub fn latest(&self) -> Option<&PortfolioSnapshot> {
        self.latest.as_ref()
    }

    /// The targets plans go to now: the base adjusted by the event responses.
    pub fn targets_in_force(&self) -> &TargetAllocation {
        &self.in_force
    }

    /// The volatility index now (the volatility-adjusted band reads it).
    pub fn vol_index(&self) -> f64 {
        self.vol.index()
    }

    /// What happened besides decisions since the last call, oldest first.
    pub fn take_notices(&mut self) -> Vec<Notice> {
        std::mem::take(&mut self.notices)
    }

    /// Whether a plan may be made now.
    pub fn readiness(&self) -> Readiness {
        if !self.synced || self.latest.is_none() || self.guard.holding() {
            Readiness::Stale
        } else if self.held {
            Readiness::Held
        } else if self.in_flight.is_some() {
            Readiness::InFlight
        } else {
            Readiness::Ready
        }
    }

    /// Feeds one input; returns a plan to execute, if any.
    pub fn process(&mut self, input: PolicyInput) -> Option<Decision> {
        match input {
            PolicyInput::Snapshot {
                snapshot,
                at,
                resync,
                tick,
            } => {
                self.started_at.get_or_insert(at);
                let on = snapshot
                    .seq
                    .map_or(DecidedOn::Day { at }, |seq| DecidedOn::Event { seq });
                let growth = if resync || tick {
                    self.observe_fresh(snapshot, StepKind::Performance)
                } else {
                    self.observe(snapshot, StepKind::Performance)
                };
                if resync {
                    self.synced = true;
                }
                if tick {
                    return self.on_tick(at, growth);
                }
                let adjustments = match growth {
                    Some(growth) => self.respond_to_drawdown(Some(&growth), None, at),
                    None => Vec::new(),
                };
                let decision = self.adjusted(adjustments, on, at);
                if resync {
                    // Catch up on whatever was deferred while stale.
                    decision.or_else(|| self.retry_deferred(at))
                } else {
                    decision
                }
            }
            PolicyInput::Event(observation) => self.on_event(&observation),
            PolicyInput::Confirmation { snapshot, at } => {
                self.observe_fresh(snapshot, StepKind::Performance);
                self.retry_deferred(at)
            }
            PolicyInput::Request { reason, at } => self.fire(Trigger::Request { reason }, at),
            PolicyInput::Targets(targets) => {
                self.targets = targets;
                self.refresh_in_force();
                None
            }
            PolicyInput::StreamDown => {
                self.synced = false;
                None
            }
            PolicyInput::Renumbered => {
                // The held `seq` is of the old numbering: forget it (a snapshot of the new
                // numbering would look older and be ignored), but keep the balances, so the
                // plausibility guard still measures the first new snapshot against them.
                self.synced = false;
                if let Some(latest) = &mut self.latest {
                    latest.seq = None;
                }
                None
            }
            PolicyInput::Hold { held, at } => {
                self.held = held;
                if held { None } else { self.retry_deferred(at) }
            }
            PolicyInput::PlanFinished {
                snapshot,
                at,
                moved,
                interrupted,
            } => {
                let finished = self.in_flight.take();
                if moved {
                    // Days count from when the plan was decided (a tick's plan is a day old
                    // at the next tick, however long it took to execute).
                    self.last_rebalance_at = Some(finished.as_ref().map_or(at, |(_, when)| *when));
                }
                if let Some(snapshot) = snapshot {
                    // What the plan moved; the drawdown protection sees no fall in it.
                    self.observe(snapshot, StepKind::Transfer);
                }
                if interrupted && let Some((trigger, _)) = finished {
                    // Finish the job, against the resync snapshot if the stream is still
                    // down (`fire` defers it again while stale).
                    self.defer(trigger);
                }
                self.retry_deferred(at)
            }
        }
    }

    /// Adopts `snapshot` unless it is older than the one held; returns the step's growth
    /// per service when adopted.
    fn observe(&mut self, snapshot: PortfolioSnapshot, kind: StepKind) -> Option<[f64; N]> {
        let stale = matches!(
            (&self.latest, snapshot.seq),
            (Some(PortfolioSnapshot { seq: Some(held), .. }), Some(new)) if new < *held
        );
        if stale || !self.guard.admits(self.latest.as_ref(), &snapshot, kind) {
            return None;
        }
        Some(self.adopt(snapshot, kind))
    }

    /// Steps the book from the latest snapshot to `snapshot` and keeps it as the latest; each
    /// service's growth over the step.
    fn adopt(&mut self, snapshot: PortfolioSnapshot, kind: StepKind) -> [f64; N] {
        let growth = self.book.step(
            self.latest.as_ref().map(|s| &s.balances_usdc),
            &snapshot.balances_usdc,
            kind,
        );
        self.latest = Some(snapshot);
        growth
    }

    /// A fresh REST snapshot: it settles an open hold (re-queueing the held trigger if it
    /// confirms the jump) and is adopted either way; without a hold it is observed as usual.
    fn observe_fresh(&mut self, snapshot: PortfolioSnapshot, kind: StepKind) -> Option<[f64; N]> {
        if !self.guard.holding() {
            return self.observe(snapshot, kind);
        }
        let settled = self.guard.settle(&snapshot);
        // A confirmed jump is what its observation said it was: the fresh snapshot's market
        // moves ride along (one step; a flow's step has no return).
        let kind = match settled.as_ref().and_then(|s| s.confirmed) {
            Some(shown_as) if shown_as != StepKind::Performance => shown_as,
            _ => kind,
        };
        if let Some(trigger) = settled.and_then(|s| s.trigger) {
            self.defer(trigger);
        }
        Some(self.adopt(snapshot, kind))
    }

    /// Days since the start, for the responses' day counts.
    fn day_of(&self, at: OffsetDateTime) -> f64 {
        self.started_at
            .map_or(0.0, |start| (at - start).as_seconds_f64() / SECONDS_PER_DAY)
    }

    /// Whole days (rounded) since the last rebalance, or the start.
    fn days_since_rebalance(&self, at: OffsetDateTime) -> u32 {
        let since = self.last_rebalance_at.or(self.started_at).unwrap_or(at);
        let days = ((at - since).as_seconds_f64() / SECONDS_PER_DAY).round();
        if days > 0.0 { days as u32 } else { 0 }
    }

    fn refresh_in_force(&mut self) {
        let base = self.targets.weights().0;
        let conservative = self
            .config
            .vol_spike
            .as_ref()
            .filter(|_| self.spike.as_ref().is_some_and(VolatilitySpike::active))
            .map(|v| v.targets.weights().0);
        let cut = self.drawdown.as_ref().map_or([false; N], |d| d.cut());
        let weights = adjusted_targets(
            &base,
            conservative.as_ref(),
            &cut,
            self.config.drawdown.as_ref(),
        );
        // Never fails (adjusting keeps every weight in [0, 1] and the sum); the base stays
        // if it somehow did.
        self.in_force =
            TargetAllocation::new(ServiceMap(weights)).unwrap_or_else(|_| self.targets.clone());
    }

    /// Runs drawdown protection on a step's growth, a venue's report, or (neither) the
    /// passing of days; returns the changes with their reasons.
    fn respond_to_drawdown(
        &mut self,
        growth: Option<&[f64; N]>,
        reported: Option<(Service, Decimal)>,
        at: OffsetDateTime,
    ) -> Vec<Adjustment> {
        let day = self.day_of(at);
        let Some(protection) = self.drawdown.as_mut() else {
            return Vec::new();
        };
        let mut changes = match growth {
            Some(growth) => protection.observe(growth, day),
            None if reported.is_none() => protection.expire(day),
            None => [CutChange::None; N],
        };
        if let Some((service, fall)) = reported {
            let change =
                protection.reported_fall(service.index(), crate::money::decimal_to_f64(fall), day);
            if change != CutChange::None {
                changes[service.index()] = change;
            }
        }
        if changes.iter().all(|c| *c == CutChange::None) {
            return Vec::new();
        }
        let falls: [f64; N] = std::array::from_fn(|i| protection.fall(i));
        let before = *self.in_force.weights();
        self.refresh_in_force();
        let after = *self.in_force.weights();
        Service::ALL
            .into_iter()
            .filter_map(|service| {
                let i = service.index();
                let fall = decimal(falls[i], 4);
                let (from, to) = (before[service], after[service]);
                match changes[i] {
                    CutChange::None => None,
                    CutChange::Cut => Some(Adjustment::DrawdownCut {
                        service,
                        fall,
                        from,
                        to,
                    }),
                    CutChange::Recovered | CutChange::Expired => {
                        Some(Adjustment::DrawdownRestored {
                            service,
                            fall,
                            expired: changes[i] == CutChange::Expired,
                            from,
                            to,
                        })
                    }
                }
            })
            .collect()
    }

    /// Records the adjustments (a notice) and rebalances to the new targets; `on` is what they
    /// were decided on.
    fn adjusted(
        &mut self,
        adjustments: Vec<Adjustment>,
        on: DecidedOn,
        at: OffsetDateTime,
    ) -> Option<Decision> {
        if adjustments.is_empty() {
            return None;
        }
        self.notices.push(Notice::TargetsAdjusted {
            at,
            adjustments: adjustments.clone(),
            targets: *self.in_force.weights(),
        });
        self.fire(Trigger::Adjusted { adjustments, on }, at)
    }

    fn on_event(&mut self, observation: &Observation) -> Option<Decision> {
        let before_total = self.latest.as_ref().map(PortfolioSnapshot::total_usdc);
        let at = observation.at;
        let seq = observation.seq;
        self.started_at.get_or_insert(at);
        let growth = observation
            .snapshot
            .clone()
            .and_then(|snapshot| self.observe(snapshot, StepKind::of(&observation.what)));
        let reported = match &observation.what {
            Happening::Drawdown { service, drawdown } => Some((*service, *drawdown)),
            _ => None,
        };
        let adjustments = if growth.is_some() || reported.is_some() {
            self.respond_to_drawdown(growth.as_ref(), reported, at)
        } else {
            Vec::new()
        };
        let mut decision = self.adjusted(adjustments, DecidedOn::Event { seq }, at);
        let own = match &observation.what {
            Happening::CasinoWin { amount_usdc, .. } => {
                // The bankroll is the whole portfolio before the win.
                let bankroll = before_total
                    .or_else(|| self.latest.as_ref().map(|s| s.total_usdc() - amount_usdc))
                    .unwrap_or_default();
                self.guard.check_win(bankroll, *amount_usdc, seq);
                let fraction = if bankroll > Decimal::ZERO {
                    amount_usdc / bankroll
                } else {
                    Decimal::ZERO
                };
                (fraction >= self.config.large_win_fraction && bankroll > Decimal::ZERO).then(
                    || Trigger::LargeWin {
                        amount_usdc: *amount_usdc,
                        fraction: fraction.round_dp(4),
                        seq,
                    },
                )
            }
            Happening::ReferralIncome { amount_usdc, .. } if self.config.route_referral_income => {
                Some(Trigger::ReferralIncome {
                    amount_usdc: *amount_usdc,
                    seq,
                })
            }
            // A lock lifted: the remainder a plan had to leave behind may move now, so the
            // bands are checked against the balances right after the release.
            Happening::FundsReleased { .. } if observation.snapshot.is_some() => {
                Some(Trigger::Threshold { seq })
            }
            _ => None,
        };
        let own = own.or_else(|| {
            (self.config.threshold_on_events && observation.snapshot.is_some())
                .then_some(Trigger::Threshold { seq })
        });
        if let Some(trigger) = own {
            let next = self.fire(trigger, at);
            decision = decision.or(next);
        }
        decision
    }

    /// The daily tick (its snapshot's `growth` when adopted): closes the day (returns,
    /// volatility, the spike response), follows the drawdowns (and lets expired cuts go),
    /// then asks the rule.
    fn on_tick(&mut self, at: OffsetDateTime, growth: Option<[f64; N]>) -> Option<Decision> {
        let mut adjustments = Vec::new();
        if let Some(snapshot) = self.latest.clone() {
            // The metrics' measure of where the portfolio sits, as the backtester's: strictly
            // beyond the configured bands (whatever band the rule triggers on).
            let report = DriftReport::measure(&snapshot, &self.in_force, &self.config.bands);
            let outside = Service::ALL
                .into_iter()
                .any(|s| report.drift[s].abs() > report.bands[s]);
            let targets = row(self.in_force.weights());
            if let Some(close) = self.book.close(&snapshot.balances_usdc, &targets, outside) {
                self.vol.push(close.portfolio_return);
                if let Some(change) = self
                    .spike
                    .as_mut()
                    .and_then(|s| s.push(close.portfolio_return))
                {
                    self.refresh_in_force();
                    let annual = |x: f64| decimal(x * DAYS_PER_YEAR.sqrt(), 4);
                    adjustments.push(match change {
                        SpikeChange::Began { recent, history } => Adjustment::VolSpike {
                            recent: annual(recent),
                            history: annual(history),
                        },
                        SpikeChange::Ended { recent, history } => Adjustment::VolCalm {
                            recent: annual(recent),
                            history: annual(history),
                        },
                    });
                }
                self.notices.push(Notice::DayClosed { at, close });
            }
        }
        adjustments.extend(self.respond_to_drawdown(growth.as_ref(), None, at));
        if !adjustments.is_empty() {
            return self.adjusted(adjustments, DecidedOn::Day { at }, at);
        }
        let snapshot = self.latest.clone()?;
        let state = RuleState {
            days_since_rebalance: self.days_since_rebalance(at),
            vol_index: self.vol.index(),
        };
        let weights = snapshot.weights().0;
        let targets = self.in_force.weights().0;
        let decision = self.config.rule().decide(&state, &weights, &targets)?;
        let trigger = match decision.reason {
            Reason::Calendar {
                days_since_rebalance,
            } => Trigger::Calendar {
                days_since: i64::from(days_since_rebalance),
                at,
            },
            Reason::Threshold { .. } => Trigger::Tick { at },
        };
        self.fire(trigger, at)
    }

    fn retry_deferred(&mut self, at: OffsetDateTime) -> Option<Decision> {
        let trigger = self.deferred.take()?;
        self.fire(trigger, at)
    }

    /// The drift report plans show: against the targets in force, with the rule's bands
    /// (the volatility-adjusted band moves with the index; a calendar has none, so the
    /// configured bands measure).
    fn report(&self, snapshot: &PortfolioSnapshot) -> DriftReport {
        let mut report = DriftReport::measure(snapshot, &self.in_force, &self.config.bands);
        let rule = self.config.rule();
        let vol_index = self.vol.index();
        if rule.threshold.is_some() {
            report.bands = report
                .targets
                .map(|_, t| rule.band_for(*t, vol_index).unwrap_or_default());
        }
        report
    }

    /// The plan for `trigger` now; `None` when a band check finds nothing outside a band.
    fn plan_for(&self, trigger: &Trigger, snapshot: &PortfolioSnapshot) -> Option<RebalancePlan> {
        let min_trade = self.config.min_trade_usdc;
        match trigger {
            Trigger::ReferralIncome { amount_usdc, .. } => Some(route_income(
                snapshot,
                &self.in_force,
                &self.config,
                *amount_usdc,
            )),
            Trigger::Tick { .. } | Trigger::Threshold { .. } => {
                // The threshold part of the rule (the calendar is the tick's own business).
                let rule = RuleConfig {
                    calendar_days: None,
                    ..self.config.rule()
                };
                let state = RuleState {
                    days_since_rebalance: 0,
                    vol_index: self.vol.index(),
                };
                let weights = snapshot.weights().0;
                let targets = self.in_force.weights().0;
                let decision = rule.decide(&state, &weights, &targets)?;
                let desired = rule.desired_weights(&decision, &state, &weights, &targets, HUB);
                let report = self.report(snapshot);
                let note = desired
                    .hub_at_edge
                    .map(|hub_weight| PlanNote::FellBackToTarget {
                        reserve_weight: hub_weight.round_dp(6),
                        reserve_target: report.targets[Service::Reserve],
                        reserve_band: report.bands[Service::Reserve],
                    });
                let mut plan = plan_towards(
                    snapshot,
                    report,
                    Some(&ServiceMap(desired.weights)),
                    min_trade,
                );
                plan.notes.splice(0..0, note);
                Some(plan)
            }
            Trigger::LargeWin { .. }
            | Trigger::Calendar { .. }
            | Trigger::Request { .. }
            | Trigger::Adjusted { .. } => Some(plan_towards(
                snapshot,
                self.report(snapshot),
                Some(self.in_force.weights()),
                min_trade,
            )),
        }
    }

    /// Plans for `trigger` now, or defers it if the policy cannot act.
    fn fire(&mut self, trigger: Trigger, at: OffsetDateTime) -> Option<Decision> {
        // A held jump keeps every trigger until a fresh snapshot settles it.
        let trigger = self.guard.intercept(trigger)?;
        if self.readiness() != Readiness::Ready {
            self.defer(trigger);
            return None;
        }
        let snapshot = self.latest.clone()?;
        let plan = self.plan_for(&trigger, &snapshot)?;
        if plan.is_empty() {
            if matches!(trigger, Trigger::Calendar { .. }) {
                // Nothing to do still counts: the calendar restarts from here.
                self.last_rebalance_at = Some(at);
            }
            if !plan.notes.is_empty() {
                self.notices.push(Notice::NoTrade {
                    at,
                    trigger,
                    notes: plan.notes,
                });
            }
            return None;
        }
        self.in_flight = Some((trigger.clone(), at));
        let plan_seq = self.next_plan_seq;
        self.next_plan_seq += 1;
        Some(Decision {
            plan_seq,
            trigger,
            at,
            plan,
        })
    }

    /// Keeps the most urgent pending trigger: forced ones beat band checks.
    fn defer(&mut self, trigger: Trigger) {
        let keep_old = matches!(&self.deferred, Some(old) if old.forces() && !trigger.forces());
        if !keep_old {
            self.deferred = Some(trigger);
        }
    }
}
