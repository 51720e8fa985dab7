//! Trigger rules: *when* to rebalance and *where to*, as one pure decision shared by the live
//! detector (exact `Decimal` weights) and the backtester (`f64` weights).
//!
//! A [`RuleConfig`] combines an optional threshold (a fixed [`Band`] or the article's
//! volatility-adjusted band) with an optional calendar (every N days) and a destination
//! ([`RebalanceTo`]). The article's triggers are named constructors:
//!
//! | rule | threshold | calendar |
//! |---|---|---|
//! | [`RuleConfig::buy_and_hold`] | – | – |
//! | [`RuleConfig::calendar`] (daily = 1, weekly = 7) | – | every N days |
//! | [`RuleConfig::threshold`] (absolute or relative band) | fixed band | – |
//! | [`RuleConfig::hybrid`] (the default: 5 points, 30-day floor) | fixed band | floor |
//! | [`RuleConfig::volatility_adjusted`] | `base × (1 − 0.6 × vol_index)` in [2%, 10%] | – |
//!
//! The caller owns the per-step state ([`RuleState`]: days since the last rebalance and the
//! [`VolatilityIndex`] of recent portfolio returns) and asks [`RuleConfig::decide`] at each
//! check; a [`Decision`] says why and whether to go to target or to the band edge, and
//! [`RuleConfig::desired_weights`] gives the weights to move to.
//!
//! # The band edge: `≥`, not `>`
//! A service breaches its band when `|weight − target| ≥ band` (and the drift is not zero,
//! so a zero band, a relative band around a zero target, does not fire on target): a drift
//! exactly on the edge triggers. The article uses both (`check_drift` tests `>`, `calculate_drift` `≥`); the
//! reference backtest (`run_backtest.py`, whose 164 rebalances the backtester reproduces)
//! uses `>=`, so this module does too. The comparison is made in the caller's number type,
//! with no conversion: `f64` weights in the backtester, `Decimal` weights live, so a weight
//! that is exactly on the edge in decimal (e.g. 0.25 against 0.20 ± 0.05) triggers live.
//! The comparison itself is [`crate::drift::outside_band`], the one the live planner and
//! `ballast plan` use too.
//!
//! # Where a rebalance goes
//! - A calendar step (its days have passed) rebalances *everything to target*, whatever
//!   [`RebalanceTo`] says: it is the floor that catches slow creep.
//! - A threshold step goes to target, or with [`RebalanceTo::BandEdge`] moves only the
//!   breached services to the nearest edge of their band (`target ± band`,
//!   [`crate::drift::band_edge_weights`], shared with the planner); the hub (the
//!   reserve, which funds every transfer) takes the remainder, and when that leaves the
//!   hub strictly beyond its band (by more than [`EDGE_SLACK`] of it, the rounding of a sum
//!   of weights) the whole step falls back to target, as the live planner does. A hub left
//!   exactly on its edge is accepted: `≥` decides when to trade, a destination only has to
//!   be inside the closed band (with two services the hub always mirrors the other edge). A service left on the edge counts as breached at the next check (`≥`):
//!   a move outward is corrected at once, and the caller's minimum trade keeps tiny moves
//!   from trading.
//!
//! # Invariants
//! - Pure: no I/O, no clock; the same inputs give the same decision in `f64` and `Decimal`
//!   whenever both represent the weights exactly.
//! - Buy-and-hold never decides to rebalance; a calendar of N days fires exactly when
//!   `days_since_rebalance ≥ N`.
//! - Desired weights sum to the targets' sum (band edge: the hub takes the remainder).

use std::{
    fmt::Debug,
    ops::{Add, Div, Mul, Sub},
};

use rust_decimal::{
    Decimal,
    prelude::{FromPrimitive, ToPrimitive},
};
use serde::Serialize;

pub use crate::drift::{EDGE_SLACK, RebalanceTo};
use crate::drift::{band_edge_weights, outside_band};

/// Returns kept by the volatility index (the article's `window = 20`).
pub const VOL_WINDOW: usize = 20;

/// Annualized volatility that maps to a volatility index of 1 (the article's 200% a year).
pub const VOL_INDEX_FULL_SCALE: f64 = 2.0;

/// The index with fewer than two returns (the article's "mid-range" default).
pub const VOL_INDEX_DEFAULT: f64 = 0.5;

/// How much of the band full volatility takes away (the article's 0.6).
pub const VOL_TIGHTENING: f64 = 0.6;

/// Narrowest volatility-adjusted band (the article's 2%).
pub const VOL_BAND_MIN: f64 = 0.02;

/// Widest volatility-adjusted band (the article's 10%).
pub const VOL_BAND_MAX: f64 = 0.10;

/// Days a year: the venue trades every day, so volatility is annualized with √365.
pub const DAYS_PER_YEAR: f64 = 365.0;

/// The number types a rule is evaluated in: `f64` (backtester) and `Decimal` (live).
pub trait Weight:
    Copy
    + PartialOrd
    + Debug
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
{
    /// Zero.
    const ZERO: Self;
    /// One.
    const ONE: Self;
    /// Absolute value.
    fn abs(self) -> Self;
    /// A ratio computed in `f64` (the volatility factor and its clamp bounds), or `fallback`
    /// when it is not finite or not representable.
    fn from_ratio(x: f64, fallback: Self) -> Self;
    /// The value as `f64` (for reports).
    fn to_f64(self) -> f64;
}

impl Weight for f64 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;

    #[inline]
    fn abs(self) -> Self {
        f64::abs(self)
    }

    fn from_ratio(x: f64, fallback: Self) -> Self {
        if x.is_finite() { x } else { fallback }
    }

    fn to_f64(self) -> f64 {
        self
    }
}

impl Weight for Decimal {
    const ZERO: Self = Decimal::ZERO;
    const ONE: Self = Decimal::ONE;

    fn abs(self) -> Self {
        Decimal::abs(&self)
    }

    fn from_ratio(x: f64, fallback: Self) -> Self {
        if x.is_finite() {
            // Twelve places are far below any band's meaning and keep products short.
            Decimal::from_f64(x).map_or(fallback, |d| d.round_dp(12))
        } else {
            fallback
        }
    }

    fn to_f64(self) -> f64 {
        ToPrimitive::to_f64(&self).unwrap_or(f64::NAN)
    }
}

/// How wide a service's band is.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Band<T> {
    /// The same number of weight points for every service (0.05 = 5 points).
    Absolute {
        /// Band in weight units.
        points: T,
    },
    /// A fraction of each service's target (0.25 × a 20% target = 5 points).
    Relative {
        /// Fraction of the target.
        fraction: T,
    },
    /// The tighter of the two (the live `policy.band` with `policy.relative_band`).
    Tighter {
        /// Band in weight units.
        points: T,
        /// Fraction of the target.
        fraction: T,
    },
}

impl<T: Weight> Band<T> {
    /// The band of a service with this target weight.
    #[inline]
    pub fn for_target(&self, target: T) -> T {
        match *self {
            Band::Absolute { points } => points,
            Band::Relative { fraction } => fraction * target,
            Band::Tighter { points, fraction } => {
                let relative = fraction * target;
                if relative < points { relative } else { points }
            }
        }
    }
}

/// The threshold part of a rule.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Threshold<T> {
    /// A fixed band.
    Fixed {
        /// The band.
        band: Band<T>,
    },
    /// The article's `dynamic_threshold`: one absolute band for every service,
    /// `base × (1 − 0.6 × vol_index)` clamped to [2%, 10%].
    VolatilityAdjusted {
        /// The band at a volatility index of 0.
        base: T,
    },
}

/// A trigger rule.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RuleConfig<T> {
    /// Rebalance when a service is on or beyond its band; `None`: never on drift.
    pub threshold: Option<Threshold<T>>,
    /// Rebalance to target once this many days have passed since the last rebalance;
    /// `None`: no calendar. With a threshold this is the hybrid's floor.
    pub calendar_days: Option<u32>,
    /// Where a threshold step goes (a calendar step always goes to target).
    pub rebalance_to: RebalanceTo,
}

/// What the caller tracks between checks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RuleState {
    /// Whole days since the last rebalance (or since the start).
    pub days_since_rebalance: u32,
    /// The [`VolatilityIndex`] now, in [0, 1]; read only by volatility-adjusted rules.
    pub vol_index: f64,
}

/// Why a step rebalances.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Reason<T> {
    /// The calendar's days have passed.
    Calendar {
        /// Days since the last rebalance.
        days_since_rebalance: u32,
    },
    /// A service is on or beyond its band.
    Threshold {
        /// Index of the service with the largest drift among the breached.
        index: usize,
        /// Its signed drift (`weight − target`; positive = overweight).
        drift: T,
        /// Its band.
        band: T,
    },
}

/// A decision to rebalance.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Decision<T> {
    /// Why.
    pub reason: Reason<T>,
    /// Where to: [`RebalanceTo::Target`] for every calendar step.
    pub to: RebalanceTo,
}

/// Desired weights of a decision.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Desired<T, const N: usize> {
    /// Weights to move to.
    pub weights: [T; N],
    /// A band-edge step that went to target because the hub would have breached.
    pub fell_back_to_target: bool,
    /// The hub's weight at the band edge, when that is why it fell back.
    pub hub_at_edge: Option<T>,
}

impl<T: Weight> RuleConfig<T> {
    /// Never rebalances.
    pub fn buy_and_hold() -> Self {
        RuleConfig {
            threshold: None,
            calendar_days: None,
            rebalance_to: RebalanceTo::Target,
        }
    }

    /// To target every `days` days (1 = daily, 7 = weekly).
    pub fn calendar(days: u32) -> Self {
        RuleConfig {
            threshold: None,
            calendar_days: Some(days),
            rebalance_to: RebalanceTo::Target,
        }
    }

    /// On a breach of `band`, checked at every step.
    pub fn threshold(band: Band<T>, rebalance_to: RebalanceTo) -> Self {
        RuleConfig {
            threshold: Some(Threshold::Fixed { band }),
            calendar_days: None,
            rebalance_to,
        }
    }

    /// The article's default: a breach of `band` at any step, and to target after
    /// `floor_days` without a rebalance.
    pub fn hybrid(band: Band<T>, floor_days: u32, rebalance_to: RebalanceTo) -> Self {
        RuleConfig {
            threshold: Some(Threshold::Fixed { band }),
            calendar_days: Some(floor_days),
            rebalance_to,
        }
    }

    /// On a breach of the volatility-adjusted band around `base`, checked at every step.
    pub fn volatility_adjusted(base: T, rebalance_to: RebalanceTo) -> Self {
        RuleConfig {
            threshold: Some(Threshold::VolatilityAdjusted { base }),
            calendar_days: None,
            rebalance_to,
        }
    }

    /// True when [`RuleState::vol_index`] is read, so callers may skip tracking it.
    pub fn needs_vol_index(&self) -> bool {
        matches!(self.threshold, Some(Threshold::VolatilityAdjusted { .. }))
    }

    /// The band of a service with this target now; `None` without a threshold.
    #[inline]
    pub fn band_for(&self, target: T, vol_index: f64) -> Option<T> {
        match self.threshold? {
            Threshold::Fixed { band } => Some(band.for_target(target)),
            Threshold::VolatilityAdjusted { base } => {
                Some(volatility_adjusted_band(base, vol_index))
            }
        }
    }

    /// Decides one check. `weights` and `targets` are per service, in the same order.
    #[inline]
    pub fn decide<const N: usize>(
        &self,
        state: &RuleState,
        weights: &[T; N],
        targets: &[T; N],
    ) -> Option<Decision<T>> {
        if let Some(days) = self.calendar_days
            && state.days_since_rebalance >= days
        {
            return Some(Decision {
                reason: Reason::Calendar {
                    days_since_rebalance: state.days_since_rebalance,
                },
                to: RebalanceTo::Target,
            });
        }
        let threshold = self.threshold?;
        let mut worst: Option<(usize, T, T)> = None;
        for index in 0..N {
            let target = targets[index];
            let band = match threshold {
                Threshold::Fixed { band } => band.for_target(target),
                Threshold::VolatilityAdjusted { base } => {
                    volatility_adjusted_band(base, state.vol_index)
                }
            };
            let drift = weights[index] - target;
            let size = drift.abs();
            // A service exactly on target never breaches, even where its band is zero (a
            // relative band around a zero target).
            if outside_band(size, band, T::ZERO) && worst.is_none_or(|(_, d, _)| size > d.abs()) {
                worst = Some((index, drift, band));
            }
        }
        let (index, drift, band) = worst?;
        Some(Decision {
            reason: Reason::Threshold { index, drift, band },
            to: self.rebalance_to,
        })
    }

    /// The weights a decision moves to; `hub` is the index of the service that funds every
    /// transfer (the reserve) and takes the remainder at the band edge.
    pub fn desired_weights<const N: usize>(
        &self,
        decision: &Decision<T>,
        state: &RuleState,
        weights: &[T; N],
        targets: &[T; N],
        hub: usize,
    ) -> Desired<T, N> {
        let to_target = Desired {
            weights: *targets,
            fell_back_to_target: false,
            hub_at_edge: None,
        };
        if decision.to == RebalanceTo::Target {
            return to_target;
        }
        let bands: [Option<T>; N] =
            std::array::from_fn(|index| self.band_for(targets[index], state.vol_index));
        let slack = T::from_ratio(EDGE_SLACK, T::ZERO);
        match band_edge_weights(weights, targets, &bands, hub, T::ZERO, slack) {
            Ok(weights) => Desired {
                weights,
                fell_back_to_target: false,
                hub_at_edge: None,
            },
            Err(hub_weight) => Desired {
                weights: *targets,
                fell_back_to_target: true,
                hub_at_edge: Some(hub_weight),
            },
        }
    }
}

/// The article's `dynamic_threshold`: `base × (1 − 0.6 × vol_index)` clamped to [2%, 10%].
#[inline]
pub fn volatility_adjusted_band<T: Weight>(base: T, vol_index: f64) -> T {
    let factor = T::from_ratio(1.0 - VOL_TIGHTENING * vol_index, T::ONE);
    let band = base * factor;
    let lo = T::from_ratio(VOL_BAND_MIN, T::ZERO);
    let hi = T::from_ratio(VOL_BAND_MAX, T::ONE);
    if band < lo {
        lo
    } else if band > hi {
        hi
    } else {
        band
    }
}

/// The article's volatility index over the last [`VOL_WINDOW`] portfolio returns: their
/// population standard deviation (numpy's `np.std`, two-pass) annualized with √365, as a
/// fraction of 200% a year, capped at 1; [`VOL_INDEX_DEFAULT`] with fewer than two returns.
/// A fixed ring, so pushing allocates nothing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VolatilityIndex {
    returns: [f64; VOL_WINDOW],
    len: usize,
    next: usize,
}

impl Default for VolatilityIndex {
    fn default() -> Self {
        VolatilityIndex {
            returns: [0.0; VOL_WINDOW],
            len: 0,
            next: 0,
        }
    }
}

impl VolatilityIndex {
    /// Records one period's portfolio return; a non-finite return is ignored (it carries
    /// no volatility information and would poison the window).
    #[inline]
    pub fn push(&mut self, portfolio_return: f64) {
        if !portfolio_return.is_finite() {
            return;
        }
        self.returns[self.next] = portfolio_return;
        self.next = (self.next + 1) % VOL_WINDOW;
        self.len = (self.len + 1).min(VOL_WINDOW);
    }

    /// The index in [0, 1].
    pub fn index(&self) -> f64 {
        if self.len < 2 {
            return VOL_INDEX_DEFAULT;
        }
        let window = &self.returns[..self.len];
        let n = self.len as f64;
        let mean = window.iter().sum::<f64>() / n;
        let variance = window.iter().map(|r| (r - mean) * (r - mean)).sum::<f64>() / n;
        let annual = variance.sqrt() * DAYS_PER_YEAR.sqrt();
        (annual / VOL_INDEX_FULL_SCALE).min(1.0)
    }
}

#[cfg(test)]
#[path = "rules_tests.rs"]
mod tests;
