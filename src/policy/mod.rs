//! The trigger policy: when to rebalance, decided as a pure state machine (sans I/O).
//!
//! The DriftDetector actor feeds [`PolicyState::process`] every input (snapshots, venue
//! events, ticks, requests, stream status, plan completions) and sends on whatever
//! [`Decision`] comes back. The default is the article's hybrid policy:
//! - **post-win**: a casino win of at least `large_win_fraction` of the bankroll (the whole
//!   portfolio before the win) rebalances every service to target at once;
//! - **threshold on the daily tick**: the tick's fresh snapshot is band-checked, catching
//!   slow creep; with `threshold_on_events` every event's snapshot is band-checked too;
//! - **calendar floor**: a tick at least `calendar_floor_days` after the last rebalance
//!   rebalances everything even inside the bands;
//! - **referral routing**: referral income (credited to the reserve) is moved straight to
//!   the most under-allocated service;
//! - **requests**: any actor may ask for a rebalance with a reason (custom triggers).
//!
//! # Invariants
//! - No decision while the event stream is down or resyncing: only a fresh REST snapshot
//!   (`Snapshot { resync: true, .. }`) re-arms the policy, so nothing trades on stale state.
//! - At most one plan is in flight; triggers that arrive meanwhile are kept (the most
//!   urgent) and re-evaluated against the latest snapshot when the plan finishes.
//! - A snapshot older (lower `seq`) than the one held is ignored.
//! - Every emitted plan comes from [`plan_rebalance`], so it never overdraws, trades whole
//!   cents, respects the minimum trade, and runs decreases first.

use std::sync::Arc;

use rust_decimal::Decimal;
use serde::Serialize;
use time::OffsetDateTime;

use crate::{
    drift::{DriftBands, RebalanceTo},
    money::round_cents,
    observation::{Happening, Observation},
    planner::{Leg, PlanParams, RebalancePlan, plan_rebalance},
    portfolio::PortfolioSnapshot,
    service::{Direction, Service},
    targets::TargetAllocation,
};

/// Policy settings (validated by the caller's config layer).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyConfig {
    /// Drift bands.
    pub bands: DriftBands,
    /// Target or band edge.
    pub rebalance_to: RebalanceTo,
    /// Smallest leg worth sending.
    pub min_trade_usdc: Decimal,
    /// A win at least this fraction of the bankroll triggers at once (article: 0.10).
    pub large_win_fraction: Decimal,
    /// Band-check every event's snapshot, not only the tick's.
    pub threshold_on_events: bool,
    /// Force a full rebalance on the tick after this many days without one.
    pub calendar_floor_days: Option<u32>,
    /// Route referral income to the most under-allocated service.
    pub route_referral_income: bool,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        Self {
            bands: DriftBands::default(),
            rebalance_to: RebalanceTo::Target,
            min_trade_usdc: Decimal::ONE,
            large_win_fraction: Decimal::new(10, 2),
            threshold_on_events: false,
            calendar_floor_days: Some(30),
            route_referral_income: true,
        }
    }
}

/// Why a plan was made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Trigger {
    /// A large casino win.
    LargeWin {
        /// Amount won.
        amount_usdc: Decimal,
        /// As a fraction of the bankroll before the win.
        fraction: Decimal,
        /// The event's `seq`.
        seq: u64,
    },
    /// A band breach seen on an event's snapshot.
    Threshold {
        /// The event's `seq`.
        seq: u64,
    },
    /// A band breach on the daily tick.
    Tick,
    /// The calendar floor elapsed.
    Calendar {
        /// Days since the last rebalance (or since start).
        days_since: i64,
    },
    /// Referral income routed to an under-allocated service.
    ReferralIncome {
        /// Amount received.
        amount_usdc: Decimal,
        /// The event's `seq`.
        seq: u64,
    },
    /// An explicit request from an actor or the operator.
    Request {
        /// The requester's reason.
        reason: String,
    },
}

impl Trigger {
    /// Short name for logs and the store.
    pub fn name(&self) -> &'static str {
        match self {
            Trigger::LargeWin { .. } => "large_win",
            Trigger::Threshold { .. } => "threshold",
            Trigger::Tick => "tick",
            Trigger::Calendar { .. } => "calendar",
            Trigger::ReferralIncome { .. } => "referral_income",
            Trigger::Request { .. } => "request",
        }
    }

    /// Whether it forces a full rebalance even inside the bands.
    fn forces(&self) -> bool {
        matches!(
            self,
            Trigger::LargeWin { .. } | Trigger::Calendar { .. } | Trigger::Request { .. }
        )
    }

    /// Human-readable reason.
    pub fn describe(&self) -> String {
        match self {
            Trigger::LargeWin {
                amount_usdc,
                fraction,
                seq,
            } => format!(
                "casino won {amount_usdc} USDC ({:.1}% of bankroll, event {seq})",
                fraction * Decimal::ONE_HUNDRED
            ),
            Trigger::Threshold { seq } => format!("drift outside band after event {seq}"),
            Trigger::Tick => "drift outside band at the daily check".to_owned(),
            Trigger::Calendar { days_since } => {
                format!("calendar floor: {days_since} days since the last rebalance")
            }
            Trigger::ReferralIncome { amount_usdc, seq } => {
                format!("routing {amount_usdc} USDC referral income (event {seq})")
            }
            Trigger::Request { reason } => format!("requested: {reason}"),
        }
    }
}

/// What the policy receives.
#[derive(Debug, Clone)]
pub enum PolicyInput {
    /// Fresh balances. `resync` marks a REST snapshot taken after (re)connecting; `tick`
    /// marks the daily check's snapshot.
    Snapshot {
        /// The balances.
        snapshot: PortfolioSnapshot,
        /// Observation time.
        at: OffsetDateTime,
        /// Taken to resynchronize after a (re)connect or gap.
        resync: bool,
        /// Taken for the daily tick.
        tick: bool,
    },
    /// A venue event (its snapshot, if any, is applied first), shared with the other
    /// subscribers.
    Event(Arc<Observation>),
    /// A rebalance request.
    Request {
        /// Why.
        reason: String,
        /// When.
        at: OffsetDateTime,
    },
    /// New targets.
    Targets(TargetAllocation),
    /// The event stream dropped; state is stale until a resync snapshot.
    StreamDown,
    /// The venue's event numbering changed: the held snapshot's `seq` belongs to the old
    /// numbering (a fresh one would look older and be ignored), so it is forgotten, and
    /// state is stale until a resync snapshot of the new numbering.
    Renumbered,
    /// The in-flight plan finished (applied, failed or abandoned).
    PlanFinished {
        /// Balances after it, when known.
        snapshot: Option<PortfolioSnapshot>,
        /// When.
        at: OffsetDateTime,
        /// Whether any leg moved money.
        moved: bool,
        /// Whether the executor stopped it because the event stream went down: its trigger
        /// is retried against the resync snapshot instead of being forgotten.
        interrupted: bool,
    },
}

/// A plan to execute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    /// Monotonic per policy instance; with the run id it names the plan.
    pub plan_seq: u64,
    /// Why.
    pub trigger: Trigger,
    /// When it was decided.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// The legs.
    pub plan: RebalancePlan,
}

/// Whether the policy may act.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Readiness {
    /// No snapshot yet, or the stream is down: plan nothing.
    Stale,
    /// Synced with the venue.
    Ready,
    /// A plan is executing.
    InFlight,
}

/// The policy's state.
#[derive(Debug, Clone)]
pub struct PolicyState {
    /// Settings.
    pub config: PolicyConfig,
    /// Current targets.
    pub targets: TargetAllocation,
    latest: Option<PortfolioSnapshot>,
    synced: bool,
    in_flight: Option<Trigger>,
    deferred: Option<Trigger>,
    last_rebalance_at: Option<OffsetDateTime>,
    started_at: Option<OffsetDateTime>,
    next_plan_seq: u64,
}

impl PolicyState {
    /// A policy that has seen nothing yet (stale until the first resync snapshot).
    pub fn new(config: PolicyConfig, targets: TargetAllocation) -> Self {
        Self {
            config,
            targets,
            latest: None,
            synced: false,
            in_flight: None,
            deferred: None,
            last_rebalance_at: None,
            started_at: None,
            next_plan_seq: 1,
        }
    }

    /// The latest snapshot held.
    pub fn latest(&self) -> Option<&PortfolioSnapshot> {
        self.latest.as_ref()
    }

    /// Whether a plan may be made now.
    pub fn readiness(&self) -> Readiness {
        if !self.synced || self.latest.is_none() {
            Readiness::Stale
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
                self.observe(snapshot);
                if resync {
                    self.synced = true;
                }
                if tick {
                    self.on_tick(at)
                } else if resync {
                    // Catch up on whatever was deferred while stale.
                    self.retry_deferred(at)
                } else {
                    None
                }
            }
            PolicyInput::Event(observation) => self.on_event(&observation),
            PolicyInput::Request { reason, at } => self.fire(Trigger::Request { reason }, at),
            PolicyInput::Targets(targets) => {
                self.targets = targets;
                None
            }
            PolicyInput::StreamDown => {
                self.synced = false;
                None
            }
            PolicyInput::Renumbered => {
                self.synced = false;
                self.latest = None;
                None
            }
            PolicyInput::PlanFinished {
                snapshot,
                at,
                moved,
                interrupted,
            } => {
                let finished = self.in_flight.take();
                if moved {
                    self.last_rebalance_at = Some(at);
                }
                if let Some(snapshot) = snapshot {
                    self.observe(snapshot);
                }
                if interrupted && let Some(trigger) = finished {
                    // Finish the job, against the resync snapshot if the stream is still
                    // down (`fire` defers it again while stale).
                    self.defer(trigger);
                }
                self.retry_deferred(at)
            }
        }
    }

    fn observe(&mut self, snapshot: PortfolioSnapshot) {
        let stale = matches!(
            (&self.latest, snapshot.seq),
            (Some(PortfolioSnapshot { seq: Some(held), .. }), Some(new)) if new < *held
        );
        if !stale {
            self.latest = Some(snapshot);
        }
    }

    fn on_event(&mut self, observation: &Observation) -> Option<Decision> {
        let before_total = self.latest.as_ref().map(PortfolioSnapshot::total_usdc);
        if let Some(snapshot) = &observation.snapshot {
            self.observe(snapshot.clone());
        }
        let at = observation.at;
        let seq = observation.seq;
        self.started_at.get_or_insert(at);
        match &observation.what {
            Happening::CasinoWin { amount_usdc, .. } => {
                // The bankroll is the whole portfolio before the win.
                let bankroll = before_total
                    .or_else(|| self.latest.as_ref().map(|s| s.total_usdc() - amount_usdc))
                    .unwrap_or_default();
                if bankroll > Decimal::ZERO {
                    let fraction = amount_usdc / bankroll;
                    if fraction >= self.config.large_win_fraction {
                        return self.fire(
                            Trigger::LargeWin {
                                amount_usdc: *amount_usdc,
                                fraction: fraction.round_dp(4),
                                seq,
                            },
                            at,
                        );
                    }
                }
            }
            Happening::ReferralIncome { amount_usdc, .. } if self.config.route_referral_income => {
                return self.fire(
                    Trigger::ReferralIncome {
                        amount_usdc: *amount_usdc,
                        seq,
                    },
                    at,
                );
            }
            _ => {}
        }
        if self.config.threshold_on_events && observation.snapshot.is_some() {
            return self.fire(Trigger::Threshold { seq }, at);
        }
        None
    }

    fn on_tick(&mut self, at: OffsetDateTime) -> Option<Decision> {
        if let Some(floor_days) = self.config.calendar_floor_days {
            let since = self.last_rebalance_at.or(self.started_at).unwrap_or(at);
            let days_since = (at - since).whole_days();
            if days_since >= i64::from(floor_days) {
                return self.fire(Trigger::Calendar { days_since }, at);
            }
        }
        self.fire(Trigger::Tick, at)
    }

    fn retry_deferred(&mut self, at: OffsetDateTime) -> Option<Decision> {
        let trigger = self.deferred.take()?;
        self.fire(trigger, at)
    }

    /// Plans for `trigger` now, or defers it if the policy cannot act.
    fn fire(&mut self, trigger: Trigger, at: OffsetDateTime) -> Option<Decision> {
        if self.readiness() != Readiness::Ready {
            self.defer(trigger);
            return None;
        }
        let snapshot = self.latest.as_ref()?;
        let plan = match &trigger {
            Trigger::ReferralIncome { amount_usdc, .. } => {
                route_income(snapshot, &self.targets, &self.config, *amount_usdc)
            }
            _ => plan_rebalance(
                snapshot,
                &self.targets,
                &PlanParams {
                    bands: self.config.bands,
                    rebalance_to: self.config.rebalance_to,
                    min_trade_usdc: self.config.min_trade_usdc,
                    force: trigger.forces(),
                },
            ),
        };
        if plan.is_empty() {
            if matches!(trigger, Trigger::Calendar { .. }) {
                // Nothing to do still counts: the floor restarts from here.
                self.last_rebalance_at = Some(at);
            }
            return None;
        }
        self.in_flight = Some(trigger.clone());
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

/// Moves referral income from the reserve to the most under-allocated service, up to its
/// deficit; an empty plan when nothing is under-allocated or the amount is below minimum.
pub fn route_income(
    snapshot: &PortfolioSnapshot,
    targets: &TargetAllocation,
    config: &PolicyConfig,
    amount_usdc: Decimal,
) -> RebalancePlan {
    let mut plan = plan_rebalance(
        snapshot,
        targets,
        &PlanParams {
            bands: config.bands,
            rebalance_to: config.rebalance_to,
            min_trade_usdc: config.min_trade_usdc,
            force: true,
        },
    );
    plan.legs.clear();
    let total = snapshot.total_usdc();
    let neediest = Service::ALL
        .into_iter()
        .filter(|s| *s != Service::Reserve)
        .map(|s| (s, plan.report.drift[s]))
        .filter(|(_, drift)| *drift < Decimal::ZERO)
        .min_by(|a, b| a.1.cmp(&b.1));
    if let Some((service, drift)) = neediest {
        let deficit_usdc = -drift * total;
        let amount = round_cents(
            amount_usdc
                .min(deficit_usdc)
                .min(snapshot.balance(Service::Reserve)),
        );
        if amount >= config.min_trade_usdc && amount > Decimal::ZERO {
            plan.legs.push(Leg {
                service,
                direction: Direction::Increase,
                amount_usdc: amount,
                current_weight: plan.report.weights[service],
                target_weight: plan.report.targets[service],
            });
        }
    }
    plan
}

#[cfg(test)]
mod tests;
