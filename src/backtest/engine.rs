//! One path, day by day: the reference loop's semantics (`run_backtest.py`, `numpy_loop`)
//! with a trigger rule, the minimum trade, cash flows, event hooks and observers.
//!
//! Each day:
//! 1. every holding grows by its return (`h *= 1 + r`), then the day's cash flows are added;
//! 2. the [`TargetsHook`] may change the targets in force (event responses) or ask for a
//!    rebalance now;
//! 3. the rule decides on the weights `h / total` (a breach is `|w − t| ≥ band`);
//! 4. a rebalance moves to the desired weights: the amount moved is half the sum of absolute
//!    differences to them, the cost (`cost_bps` of the amount moved) is taken from the total
//!    first, and the rest is re-weighted (`h = (total − cost) × w`). A non-hub leg smaller
//!    than the minimum trade is dropped (that service keeps its holding and the hub takes
//!    the remainder); a rebalance whose legs are all dropped is not a trade and is counted
//!    as skipped;
//! 5. the observer sees the end of the day.
//!
//! With no minimum trade, no flows and no hook this is `numpy_loop` operation for operation
//! (sums in index order, as numpy sums six values), so the final value agrees to the last
//! bits; `tests` pins the reference's numbers.
//!
//! # Invariants
//! - No allocation per day: holdings, weights and targets are fixed-size arrays.
//! - Value is conserved by a rebalance except for its cost: `Σh` after = `Σh` before − cost.
//! - With an observer that is off ([`DayObserver::ENABLED`] false, e.g. `()`), nothing is
//!   computed for it (no buy-and-hold, no target return).

use serde::Serialize;

use super::{BacktestError, HUB, N, Row};
use crate::policy::rules::{
    Band, Decision, Reason, RebalanceTo, RuleConfig, RuleState, Threshold, VolatilityIndex,
};

/// One backtest's settings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BacktestConfig {
    /// Target weights per service (sum 1).
    pub targets: Row,
    /// The trigger rule.
    pub rule: RuleConfig<f64>,
    /// Cost in basis points of the amount moved.
    pub cost_bps: f64,
    /// Non-hub legs below this are dropped (0: every leg trades, as the reference loop).
    pub min_trade_usdc: f64,
    /// Starting value, split at target.
    pub initial_usdc: f64,
}

impl BacktestConfig {
    /// Checks every value.
    ///
    /// # Errors
    /// [`BacktestError::BadParameter`] naming the first bad value.
    pub fn validate(&self) -> Result<(), BacktestError> {
        if self
            .targets
            .iter()
            .any(|t| !t.is_finite() || *t < 0.0 || *t > 1.0)
        {
            return Err(BacktestError::parameter(
                "targets",
                "every weight must be in [0, 1]",
            ));
        }
        let sum: f64 = self.targets.iter().sum();
        if (sum - 1.0).abs() > 1e-3 {
            return Err(BacktestError::parameter(
                "targets",
                format!("weights sum to {sum}, expected 1 (within 0.001)"),
            ));
        }
        if !(0.0..10_000.0).contains(&self.cost_bps) {
            return Err(BacktestError::parameter(
                "cost_bps",
                format!("{} must be in [0, 10000)", self.cost_bps),
            ));
        }
        if !(self.min_trade_usdc >= 0.0 && self.min_trade_usdc.is_finite()) {
            return Err(BacktestError::parameter(
                "min_trade_usdc",
                format!("{} must be a non-negative amount", self.min_trade_usdc),
            ));
        }
        if !(self.initial_usdc > 0.0 && self.initial_usdc.is_finite()) {
            return Err(BacktestError::parameter(
                "initial_usdc",
                format!("{} must be a positive amount", self.initial_usdc),
            ));
        }
        let band_ok = |b: f64| b > 0.0 && b < 1.0;
        let bands_ok = match self.rule.threshold {
            Some(Threshold::Fixed { band }) => match band {
                Band::Absolute { points } => band_ok(points),
                Band::Relative { fraction } => fraction > 0.0,
                Band::Tighter { points, fraction } => band_ok(points) && fraction > 0.0,
            },
            Some(Threshold::VolatilityAdjusted { base }) => band_ok(base),
            None => true,
        };
        if !bands_ok {
            return Err(BacktestError::parameter("band", "must be in (0, 1)"));
        }
        if self.rule.calendar_days == Some(0) {
            return Err(BacktestError::parameter(
                "calendar_days",
                "must be at least 1 day",
            ));
        }
        Ok(())
    }
}

/// A path: one row of simple returns per day, and optionally cash paid into each service.
#[derive(Debug, Clone, Copy)]
pub struct PathInput<'a> {
    /// Daily simple returns per service.
    pub returns: &'a [Row],
    /// Daily cash flows per service (USDC, added after the returns), as long as `returns`.
    pub flows_usdc: Option<&'a [Row]>,
}

/// One rebalance.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Trade {
    /// Half the sum of absolute differences between holdings and where they went.
    pub moved_usdc: f64,
    /// `cost_bps` of the amount moved.
    pub cost_usdc: f64,
    /// Why: a calendar, a breach, or an event hook.
    pub trigger: TradeTrigger,
    /// A band-edge step that went to target because the hub would have breached.
    pub fell_back_to_target: bool,
}

/// What started a trade.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TradeTrigger {
    /// The calendar's days had passed.
    Calendar,
    /// A service was on or beyond its band.
    Threshold,
    /// The [`TargetsHook`] asked for it.
    Event,
}

/// The end of one day, for observers.
#[derive(Debug, Clone, Copy)]
pub struct DayRecord<'a> {
    /// 0-based day.
    pub day: usize,
    /// Holdings after the day's trade.
    pub holdings_usdc: &'a Row,
    /// Targets in force.
    pub targets: &'a Row,
    /// `Σ holdings`.
    pub value_usdc: f64,
    /// Cash paid in during the day.
    pub flow_usdc: f64,
    /// The target-weight portfolio's return (`Σ tᵢ rᵢ`).
    pub target_return: f64,
    /// The buy-and-hold portfolio's value.
    pub buy_and_hold_value_usdc: f64,
    /// The day's trade, if any.
    pub trade: Option<Trade>,
}

/// Sees every day's end; `()` sees nothing and costs nothing.
pub trait DayObserver {
    /// False: the engine skips the work only observers need.
    const ENABLED: bool = true;
    /// Called once a day, after any trade.
    fn on_day(&mut self, record: &DayRecord<'_>);
}

impl DayObserver for () {
    const ENABLED: bool = false;
    #[inline]
    fn on_day(&mut self, _record: &DayRecord<'_>) {}
}

/// Event responses: may change the targets in force each day, before the rule decides.
pub trait TargetsHook {
    /// False when the hook never rewrites the targets, so the engine need not re-derive
    /// anything from them each day.
    const CHANGES_TARGETS: bool = true;

    /// Sees the day's returns and holdings (after returns and flows); may rewrite `targets`.
    /// Returns true to rebalance to the (new) targets now, whatever the rule says.
    fn on_day(&mut self, day: usize, returns: &Row, holdings_usdc: &Row, targets: &mut Row)
    -> bool;
}

/// No event responses.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoEvents;

impl TargetsHook for NoEvents {
    const CHANGES_TARGETS: bool = false;

    #[inline]
    fn on_day(&mut self, _: usize, _: &Row, _: &Row, _: &mut Row) -> bool {
        false
    }
}

/// What a path ended with.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PathOutcome {
    /// Days replayed.
    pub days: usize,
    /// `Σ holdings` at the end.
    pub final_value_usdc: f64,
    /// Trades made.
    pub rebalances: u64,
    /// Decisions whose legs were all below the minimum trade.
    pub skipped_rebalances: u64,
    /// Band-edge decisions that went to target instead.
    pub fallbacks_to_target: u64,
    /// Sum of amounts moved.
    pub amount_moved_usdc: f64,
    /// Sum of costs.
    pub costs_usdc: f64,
    /// Holdings at the end.
    pub final_holdings_usdc: Row,
}

#[inline]
fn sum(row: &Row) -> f64 {
    // Index order, like numpy's sum of six values, so the reference loop is reproduced.
    let mut total = 0.0;
    for x in row {
        total += x;
    }
    total
}

/// Replays one path (see the module docs for the day's steps).
pub fn run_path<O: DayObserver, H: TargetsHook>(
    config: &BacktestConfig,
    path: PathInput<'_>,
    observer: &mut O,
    hook: &mut H,
) -> PathOutcome {
    let rule = &config.rule;
    let cost_rate = config.cost_bps / 10_000.0;
    let needs_vol = rule.needs_vol_index();
    let mut targets = config.targets;
    let mut h: Row = targets.map(|t| config.initial_usdc * t);
    let mut buy_and_hold = h;
    let mut prev_value = sum(&h);
    let mut vol = VolatilityIndex::default();
    let mut last_rebalance_day = 0usize;
    // The rule's shape, read once: the day loop below only compares numbers.
    let floor_days = rule.calendar_days.map_or(usize::MAX, |d| d as usize);
    let vol_base = match rule.threshold {
        Some(Threshold::VolatilityAdjusted { base }) => Some(base),
        _ => None,
    };
    let has_threshold = rule.threshold.is_some();
    let mut limits = inside_limits(rule, &targets, 0.5);
    let mut out = PathOutcome {
        days: path.returns.len(),
        final_value_usdc: prev_value,
        rebalances: 0,
        skipped_rebalances: 0,
        fallbacks_to_target: 0,
        amount_moved_usdc: 0.0,
        costs_usdc: 0.0,
        final_holdings_usdc: h,
    };
    for (day, r) in path.returns.iter().enumerate() {
        for i in 0..N {
            h[i] *= 1.0 + r[i];
        }
        let mut flow_usdc = 0.0;
        if let Some(flows) = path.flows_usdc {
            for i in 0..N {
                h[i] += flows[day][i];
                flow_usdc += flows[day][i];
            }
        }
        let mut total = sum(&h);
        if needs_vol {
            vol.push((total - flow_usdc) / prev_value - 1.0);
        }
        let event = hook.on_day(day, r, &h, &mut targets);
        let days_since = day - last_rebalance_day;
        let vol_index = if needs_vol { vol.index() } else { 0.5 };
        if H::CHANGES_TARGETS || vol_base.is_some() {
            limits = inside_limits(rule, &targets, vol_index);
        }
        // Most days nothing can trigger: prove it without six divisions, and ask the rule
        // (on the exact weights) only when it might.
        let ask = event
            || days_since >= floor_days
            || (has_threshold && !clearly_inside(&h, total, &targets, &limits));
        let state = RuleState {
            days_since_rebalance: u32::try_from(days_since).unwrap_or(u32::MAX),
            vol_index,
        };
        let mut weights = [0.0; N];
        let decision = if !ask {
            None
        } else if event {
            Some((
                Decision {
                    reason: Reason::Calendar {
                        days_since_rebalance: state.days_since_rebalance,
                    },
                    to: RebalanceTo::Target,
                },
                TradeTrigger::Event,
            ))
        } else {
            for i in 0..N {
                weights[i] = h[i] / total;
            }
            rule.decide(&state, &weights, &targets).map(|d| {
                let trigger = match d.reason {
                    Reason::Calendar { .. } => TradeTrigger::Calendar,
                    Reason::Threshold { .. } => TradeTrigger::Threshold,
                };
                (d, trigger)
            })
        };
        if event {
            for i in 0..N {
                weights[i] = h[i] / total;
            }
        }
        let mut trade = None;
        if let Some((decision, trigger)) = decision {
            let desired = rule.desired_weights(&decision, &state, &weights, &targets, HUB);
            match rebalance(
                &mut h,
                total,
                &desired.weights,
                config.min_trade_usdc,
                cost_rate,
            ) {
                Some((moved_usdc, cost_usdc)) => {
                    total -= cost_usdc;
                    last_rebalance_day = day;
                    out.rebalances += 1;
                    out.amount_moved_usdc += moved_usdc;
                    out.costs_usdc += cost_usdc;
                    out.fallbacks_to_target += u64::from(desired.fell_back_to_target);
                    trade = Some(Trade {
                        moved_usdc,
                        cost_usdc,
                        trigger,
                        fell_back_to_target: desired.fell_back_to_target,
                    });
                }
                None => out.skipped_rebalances += 1,
            }
        }
        prev_value = total;
        if O::ENABLED {
            let mut target_return = 0.0;
            for i in 0..N {
                buy_and_hold[i] *= 1.0 + r[i];
                if let Some(flows) = path.flows_usdc {
                    buy_and_hold[i] += flows[day][i];
                }
                target_return += targets[i] * r[i];
            }
            observer.on_day(&DayRecord {
                day,
                holdings_usdc: &h,
                targets: &targets,
                value_usdc: sum(&h),
                flow_usdc,
                target_return,
                buy_and_hold_value_usdc: sum(&buy_and_hold),
                trade,
            });
        }
    }
    out.final_value_usdc = sum(&h);
    out.final_holdings_usdc = h;
    out
}

/// Margin of [`clearly_inside`]: far above rounding (~1e-16 of the total), far below any band.
const INSIDE_MARGIN: f64 = 1e-9;

/// Per-service `band × (1 − INSIDE_MARGIN)` of a threshold rule now (zeros without one).
fn inside_limits(rule: &RuleConfig<f64>, targets: &Row, vol_index: f64) -> Row {
    targets.map(|t| rule.band_for(t, vol_index).unwrap_or(0.0) * (1.0 - INSIDE_MARGIN))
}

/// True when every service is inside its band by more than rounding can blur:
/// `|h − t × total| < band × (1 − 1e-9) × total`. Then the rule's own test on the weights
/// (`|h / total − t| ≥ band`) cannot fire, and the engine skips it; otherwise the rule
/// decides, so the decision is always the rule's.
#[inline]
fn clearly_inside(h: &Row, total: f64, targets: &Row, limits: &Row) -> bool {
    let mut inside = true;
    for i in 0..N {
        inside &= (h[i] - targets[i] * total).abs() < limits[i] * total;
    }
    inside
}

/// Moves `h` (worth `total`) to `desired` weights; returns (moved, cost), or `None` when
/// every non-hub leg is below the minimum trade (nothing moves).
#[inline]
pub(crate) fn rebalance(
    h: &mut Row,
    total: f64,
    desired: &Row,
    min_trade_usdc: f64,
    cost_rate: f64,
) -> Option<(f64, f64)> {
    let mut dropped = [false; N];
    let mut any_dropped = false;
    let mut any_leg = false;
    for i in 0..N {
        if i == HUB {
            continue;
        }
        let leg = (h[i] - total * desired[i]).abs();
        if leg == 0.0 || leg < min_trade_usdc {
            dropped[i] = leg != 0.0;
            any_dropped |= dropped[i];
        } else {
            any_leg = true;
        }
    }
    if !any_leg {
        return None;
    }
    if any_dropped {
        // The hub must fund what stays: if dropping would overdraw it, every leg trades.
        let kept: f64 = (0..N)
            .filter(|i| *i != HUB)
            .map(|i| if dropped[i] { h[i] } else { total * desired[i] })
            .sum();
        if total - kept < 0.0 {
            any_dropped = false;
        }
    }
    if !any_dropped {
        // The reference loop, operation for operation.
        let mut moved = 0.0;
        for i in 0..N {
            moved += (h[i] - total * desired[i]).abs();
        }
        moved /= 2.0;
        let cost = moved * cost_rate;
        let after = total - cost;
        for i in 0..N {
            h[i] = after * desired[i];
        }
        return Some((moved, cost));
    }
    let mut goal = [0.0; N];
    let mut others = 0.0;
    for i in 0..N {
        if i != HUB {
            goal[i] = if dropped[i] { h[i] } else { total * desired[i] };
            others += goal[i];
        }
    }
    goal[HUB] = total - others;
    let mut moved = 0.0;
    for i in 0..N {
        moved += (h[i] - goal[i]).abs();
    }
    moved /= 2.0;
    let cost = moved * cost_rate;
    let after = total - cost;
    // Dropped services keep their holding exactly; traded ones and the hub bear the cost.
    let mut kept_after = 0.0;
    for i in 0..N {
        if i != HUB && !dropped[i] {
            h[i] = after * desired[i];
        }
        if i != HUB {
            kept_after += h[i];
        }
    }
    h[HUB] = after - kept_after;
    Some((moved, cost))
}
