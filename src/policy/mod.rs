//! The trigger policy: when to rebalance, decided as a pure state machine (sans I/O).
//!
//! The DriftDetector actor feeds [`PolicyState::process`] every input (snapshots, venue
//! events, ticks, requests, stream status, plan completions) and sends on whatever
//! [`Decision`] comes back; [`PolicyState::take_notices`] hands it what else happened (targets
//! adjusted by an event response, a day closed, a decision with nothing to trade).
//!
//! *When* and *where to* are decided by [`rules`], the same functions the backtester calls;
//! `policy.kind` picks the rule ([`PolicyKind`]):
//! - **hybrid** (the default): a band breach at the daily tick (`|weight − target| ≥ band`,
//!   [`crate::drift::outside_band`]), and everything to target once `calendar_floor_days`
//!   have passed since the last rebalance;
//! - **threshold**: a band breach at the tick (absolute `band`, relative `relative_band`,
//!   or the tighter of both);
//! - **calendar**: everything to target every `calendar_days` (1 = daily, 7 = weekly) at the
//!   tick; the band is not a trigger (it still measures drift in reports);
//! - **volatility-adjusted**: a breach of the article's `band × (1 − 0.6 × vol index)` in
//!   [2%, 10%], the index from the portfolio's daily returns as observed at ticks.
//!
//! Around the rule, as before: **post-win** (a casino win of at least `large_win_fraction`
//! of the bankroll rebalances every service to target at once), **referral routing**
//! (income moved straight to the most under-allocated service), **requests** (custom
//! triggers), `threshold_on_events` (every event's snapshot band-checked too), and the
//! **event responses** ([`responses`]): drawdown protection cuts a falling service's
//! target and restores it after recovery, the volatility-spike response switches to
//! conservative targets and back; each change is a [`Notice::TargetsAdjusted`] with its
//! reason and rebalances to the new targets at once. When the venue releases a lock on a
//! service's funds the bands are checked at once, so the remainder a plan had to leave
//! locked moves as soon as it may.
//!
//! Days are counted from the clock's ticks' times (rounded to whole days), so a rebalance
//! planned at one tick is one day old at the next. Threshold steps go to target or to the
//! band edge (`rebalance_to`); calendar, post-win, request and event-response steps go to
//! target.
//!
//! # Invariants
//! - No decision while the event stream is down or resyncing: only a fresh REST snapshot
//!   (`Snapshot { resync: true, .. }`) re-arms the policy, so nothing trades on stale state.
//! - At most one plan is in flight; triggers that arrive meanwhile are kept (the most
//!   urgent) and re-evaluated against the latest snapshot when the plan finishes.
//! - A snapshot older (lower `seq`) than the one held is ignored.
//! - Every emitted plan comes from the planner ([`plan_towards`]), so it never overdraws,
//!   trades whole cents, respects the minimum trade, and runs decreases first.
//! - The same inputs give the same decisions and notices ([`replay`] relies on it): nothing
//!   here reads a clock or a random number.
//! - A change of the portfolio by `risk.max_jump_factor` or more is held until a fresh REST
//!   snapshot confirms it; nothing is planned meanwhile ([`plausibility`]).

use std::sync::Arc;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::{
    drift::{DriftBands, DriftReport, RebalanceTo},
    money::{decimal_to_f64, round_cents},
    observation::Observation,
    planner::{Leg, PlanNote, RebalancePlan, plan_towards},
    portfolio::PortfolioSnapshot,
    service::{Direction, Service, ServiceMap},
    targets::TargetAllocation,
    validation::every_problem,
};

pub mod observed;
pub mod plausibility;
pub mod replay;
pub mod responses;
pub mod rules;
mod state;

pub use self::state::PolicyState;
use self::{
    observed::DayClose,
    responses::{DrawdownConfig, ResponseConfigError, SpikeConfig},
    rules::{Band, RuleConfig},
};

/// Which trigger rule decides (`policy.kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PolicyKind {
    /// A band breach, or to target after the calendar floor (the article's default).
    #[default]
    Hybrid,
    /// A band breach.
    Threshold,
    /// To target every `calendar_days`.
    Calendar,
    /// A breach of the volatility-adjusted band around `band`.
    VolatilityAdjusted,
}

/// The volatility-spike response: when to switch, and to what.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VolSpikeResponse {
    /// When.
    pub spike: SpikeConfig,
    /// The conservative targets in force during a spike.
    pub targets: TargetAllocation,
}

/// Policy settings, checked by [`PolicyConfig::validate`] (the bands by [`DriftBands::new`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyConfig {
    /// The trigger rule.
    pub kind: PolicyKind,
    /// Drift bands: the threshold of `hybrid` and `threshold`, the base of
    /// `volatility-adjusted`, and what reports measure drift against.
    pub bands: DriftBands,
    /// Target or band edge, for threshold steps.
    pub rebalance_to: RebalanceTo,
    /// Smallest leg worth sending.
    pub min_trade_usdc: Decimal,
    /// A win at least this fraction of the bankroll triggers at once (article: 0.10).
    pub large_win_fraction: Decimal,
    /// Band-check every event's snapshot, not only the tick's.
    pub threshold_on_events: bool,
    /// The hybrid's floor: a full rebalance on the tick after this many days without one.
    pub calendar_floor_days: Option<u32>,
    /// The calendar's period in days (`calendar` only; 1 = daily, 7 = weekly).
    pub calendar_days: u32,
    /// Route referral income to the most under-allocated service.
    pub route_referral_income: bool,
    /// Drawdown protection; `None`: off.
    pub drawdown: Option<DrawdownConfig>,
    /// The volatility-spike response; `None`: off.
    pub vol_spike: Option<VolSpikeResponse>,
}

impl Default for PolicyConfig {
    /// The hybrid policy with no event responses (the configuration's defaults turn them
    /// on; tests that want them say so).
    fn default() -> Self {
        Self {
            kind: PolicyKind::Hybrid,
            bands: DriftBands::default(),
            rebalance_to: RebalanceTo::Target,
            min_trade_usdc: Decimal::ONE,
            large_win_fraction: Decimal::new(10, 2),
            threshold_on_events: false,
            calendar_floor_days: Some(30),
            calendar_days: 1,
            route_referral_income: true,
            drawdown: None,
            vol_spike: None,
        }
    }
}

/// One problem with a [`PolicyConfig`]; `Display` names the key relative to its section.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PolicyConfigError {
    /// A negative minimum leg.
    #[error("min_trade_usdc: {0} must not be negative")]
    MinTrade(Decimal),
    /// A large-win threshold that is not positive (every win would trigger).
    #[error("large_win_fraction: {0} must be positive")]
    LargeWinFraction(Decimal),
    /// A calendar that never comes round.
    #[error("calendar_days: 0 must be at least 1 for kind = \"calendar\"")]
    CalendarDays,
    /// A volatility-adjusted band with no base.
    #[error("band: 0 must be above 0 for kind = \"volatility-adjusted\" (it is the band's base)")]
    VolatilityBase,
    /// A bad event-response setting.
    #[error(transparent)]
    Response(#[from] ResponseConfigError),
}

impl PolicyConfig {
    /// Checks the amounts, fractions and responses; the bands were checked when built
    /// ([`DriftBands::new`]).
    ///
    /// # Errors
    /// Every problem, each naming its key.
    pub fn validate(&self) -> Result<(), Vec<PolicyConfigError>> {
        let mut problems = Vec::new();
        if self.min_trade_usdc < Decimal::ZERO {
            problems.push(PolicyConfigError::MinTrade(self.min_trade_usdc));
        }
        if self.large_win_fraction <= Decimal::ZERO {
            problems.push(PolicyConfigError::LargeWinFraction(self.large_win_fraction));
        }
        if self.kind == PolicyKind::Calendar && self.calendar_days == 0 {
            problems.push(PolicyConfigError::CalendarDays);
        }
        if self.kind == PolicyKind::VolatilityAdjusted && self.bands.absolute.is_zero() {
            problems.push(PolicyConfigError::VolatilityBase);
        }
        if let Some(drawdown) = &self.drawdown
            && let Err(errors) = drawdown.validate()
        {
            problems.extend(errors.into_iter().map(PolicyConfigError::from));
        }
        if let Some(spike) = &self.vol_spike
            && let Err(errors) = spike.spike.validate()
        {
            problems.extend(errors.into_iter().map(PolicyConfigError::from));
        }
        every_problem(problems)
    }

    /// The band of the rules for these drift bands.
    pub fn band(&self) -> Band<Decimal> {
        band_of(&self.bands)
    }

    /// The trigger rule `kind` stands for, in exact decimals (the backtester builds the same
    /// rules in `f64` by name).
    pub fn rule(&self) -> RuleConfig<Decimal> {
        let to = self.rebalance_to;
        match self.kind {
            PolicyKind::Hybrid => match self.calendar_floor_days {
                Some(days) => RuleConfig::hybrid(self.band(), days, to),
                None => RuleConfig::threshold(self.band(), to),
            },
            PolicyKind::Threshold => RuleConfig::threshold(self.band(), to),
            PolicyKind::Calendar => RuleConfig::calendar(self.calendar_days.max(1)),
            PolicyKind::VolatilityAdjusted => {
                RuleConfig::volatility_adjusted(self.bands.absolute, to)
            }
        }
    }
}

/// The rules' band for drift bands: absolute, relative (no absolute band), or the tighter.
pub fn band_of(bands: &DriftBands) -> Band<Decimal> {
    match bands.relative {
        Some(fraction) if bands.absolute.is_zero() => Band::Relative { fraction },
        Some(fraction) => Band::Tighter {
            points: bands.absolute,
            fraction,
        },
        None => Band::Absolute {
            points: bands.absolute,
        },
    }
}

/// A change an event response made to the targets in force, with its reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Adjustment {
    /// A service fell at least the threshold from its peak: its target was cut.
    DrawdownCut {
        /// The service.
        service: Service,
        /// Its fall from its running peak.
        fall: Decimal,
        /// Its target before.
        from: Decimal,
        /// Its target now.
        to: Decimal,
    },
    /// A cut was undone.
    DrawdownRestored {
        /// The service.
        service: Service,
        /// Its fall from its peak now.
        fall: Decimal,
        /// `true`: the configured days passed; `false`: it recovered.
        expired: bool,
        /// Its target before.
        from: Decimal,
        /// Its target now.
        to: Decimal,
    },
    /// Recent volatility rose above `ratio ×` its history: conservative targets.
    VolSpike {
        /// Recent volatility, annualized.
        recent: Decimal,
        /// The history's volatility, annualized.
        history: Decimal,
    },
    /// It calmed: the base targets again.
    VolCalm {
        /// Recent volatility, annualized.
        recent: Decimal,
        /// The history's volatility, annualized.
        history: Decimal,
    },
}

fn pct(x: Decimal) -> String {
    format!("{:.1}%", x * Decimal::ONE_HUNDRED)
}

impl Adjustment {
    /// Short name for logs and the store.
    pub fn name(&self) -> &'static str {
        match self {
            Adjustment::DrawdownCut { .. } => "drawdown_cut",
            Adjustment::DrawdownRestored { .. } => "drawdown_restore",
            Adjustment::VolSpike { .. } => "vol_spike",
            Adjustment::VolCalm { .. } => "vol_calm",
        }
    }

    /// What changed and why, in words.
    pub fn describe(&self) -> String {
        match self {
            Adjustment::DrawdownCut {
                service,
                fall,
                from,
                to,
            } => format!(
                "{} target cut {} → {} because it fell {} from its peak",
                service.name(),
                pct(*from),
                pct(*to),
                pct(*fall)
            ),
            Adjustment::DrawdownRestored {
                service,
                fall,
                expired,
                from,
                to,
            } => format!(
                "{} target restored {} → {} {}",
                service.name(),
                pct(*from),
                pct(*to),
                if *expired {
                    format!("after the configured days ({} below its peak)", pct(*fall))
                } else {
                    format!("because it recovered to {} below its peak", pct(*fall))
                }
            ),
            Adjustment::VolSpike { recent, history } => format!(
                "conservative targets because recent volatility {} a year is above the spike \
                 ratio × its history's {}",
                pct(*recent),
                pct(*history)
            ),
            Adjustment::VolCalm { recent, history } => format!(
                "base targets restored because recent volatility {} a year fell below the \
                 calm ratio × its history's {}",
                pct(*recent),
                pct(*history)
            ),
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
    Tick {
        /// The tick's time (its venue date names the plan).
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
    },
    /// The calendar (the hybrid's floor, or the calendar policy's period) came round.
    Calendar {
        /// Days since the last rebalance (or since start).
        days_since: i64,
        /// The tick's time (its venue date names the plan).
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
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
    /// An event response changed the targets in force.
    Adjusted {
        /// What changed (at least one).
        adjustments: Vec<Adjustment>,
        /// What it was decided on (that names the plan).
        on: DecidedOn,
    },
}

/// What an event response was decided on. Its plan is named after it
/// (`execution::naming`), so it is fixed when the response is decided and travels with the
/// trigger while it waits (behind a plan in flight, a stale stream or a held jump): two
/// companions watching the same venue name it alike whenever they plan it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DecidedOn {
    /// A venue event, or a REST snapshot reflecting it: its `seq`.
    Event {
        /// The venue `seq`.
        seq: u64,
    },
    /// The daily tick (or a snapshot of unknown `seq`) at `at`: its venue date.
    Day {
        /// When.
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
    },
}

impl Trigger {
    /// Short name for logs and the store.
    pub fn name(&self) -> &'static str {
        match self {
            Trigger::LargeWin { .. } => "large_win",
            Trigger::Threshold { .. } => "threshold",
            Trigger::Tick { .. } => "tick",
            Trigger::Calendar { .. } => "calendar",
            Trigger::ReferralIncome { .. } => "referral_income",
            Trigger::Request { .. } => "request",
            Trigger::Adjusted { adjustments, .. } => {
                adjustments.first().map_or("adjusted", Adjustment::name)
            }
        }
    }

    /// Whether it forces a full rebalance to target even inside the bands.
    fn forces(&self) -> bool {
        matches!(
            self,
            Trigger::LargeWin { .. }
                | Trigger::Calendar { .. }
                | Trigger::Request { .. }
                | Trigger::Adjusted { .. }
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
            Trigger::Tick { .. } => "drift outside band at the daily check".to_owned(),
            Trigger::Calendar { days_since, .. } => {
                format!("calendar: {days_since} days since the last rebalance")
            }
            Trigger::ReferralIncome { amount_usdc, seq } => {
                format!("routing {amount_usdc} USDC referral income (event {seq})")
            }
            Trigger::Request { reason } => format!("requested: {reason}"),
            Trigger::Adjusted { adjustments, .. } => adjustments
                .iter()
                .map(Adjustment::describe)
                .collect::<Vec<_>>()
                .join("; "),
        }
    }
}

/// What the policy reports besides plans, drained by [`PolicyState::take_notices`].
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Notice {
    /// An event response changed the targets in force; a plan to them follows (now, or
    /// after the plan in flight).
    TargetsAdjusted {
        /// When.
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
        /// What changed and why.
        adjustments: Vec<Adjustment>,
        /// The targets in force now.
        targets: ServiceMap<Decimal>,
    },
    /// A day closed at the tick, with its returns and its observation for the metrics.
    DayClosed {
        /// When.
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
        /// The day.
        close: DayClose,
    },
    /// A trigger decided to rebalance but the plan has no leg (each is below the minimum).
    NoTrade {
        /// When.
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
        /// The trigger.
        trigger: Trigger,
        /// Why there is no leg.
        notes: Vec<PlanNote>,
    },
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
    /// state is stale until a resync snapshot of the new numbering. The held balances stay:
    /// the plausibility guard measures the new numbering's first snapshot against them (a
    /// lower `seq` is no jump; a total far from them is).
    Renumbered,
    /// The operator paused or halted trading (`held`), or resumed it: while held, triggers
    /// wait (the most urgent kept, as while stale) and fire on resume against the latest
    /// balances.
    Hold {
        /// Whether plans wait.
        held: bool,
        /// When.
        at: OffsetDateTime,
    },
    /// A fresh REST snapshot fetched to settle a held jump ([`plausibility`]).
    Confirmation {
        /// The balances.
        snapshot: PortfolioSnapshot,
        /// Observation time.
        at: OffsetDateTime,
    },
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
    /// Monotonic per policy instance (logs and recordings; the plan is named after its
    /// trigger, `execution::naming`).
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
    /// No snapshot yet, the stream is down, or a jump awaits confirmation: plan nothing.
    Stale,
    /// The operator paused or halted trading: plan nothing until resumed.
    Held,
    /// Synced with the venue.
    Ready,
    /// A plan is executing.
    InFlight,
}

/// Moves referral income from the reserve to the most under-allocated service, up to its
/// deficit; an empty plan when nothing is under-allocated or the amount is below minimum.
pub fn route_income(
    snapshot: &PortfolioSnapshot,
    targets: &TargetAllocation,
    config: &PolicyConfig,
    amount_usdc: Decimal,
) -> RebalancePlan {
    let report = DriftReport::measure(snapshot, targets, &config.bands);
    let mut plan = plan_towards(snapshot, report, None, config.min_trade_usdc);
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

/// `f64` weights of a map (for the statistics).
fn row(map: &ServiceMap<Decimal>) -> [f64; 6] {
    map.0.map(decimal_to_f64)
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod kinds_tests;

#[cfg(test)]
mod parity_tests;
