//! Event responses that change the targets in force, so they act with fixed targets too: the
//! article's drawdown protection and volatility-spike response. One implementation, two
//! callers: the live policy ([`super::PolicyState`], per venue event and per daily tick) and
//! the backtester (`backtest::events`, per simulated day).
//!
//! - [`DrawdownProtection`]: each service's performance index (the product of its growth
//!   factors, transfers excluded) is followed against its running peak. A service at least
//!   `threshold` below its peak has its target cut to `cut_factor ×` its target; the freed
//!   weight goes to the reserve or pro rata to the services not cut ([`FreedWeightTo`]). The
//!   cut is undone once the index is back within `recovery` of that peak, or, with
//!   `restore_after_days`, once that many days have passed (the peak then restarts from the
//!   current level, so the same fall does not cut again at once). A venue's own drawdown
//!   report ([`DrawdownProtection::reported_fall`]) counts too: it raises the peak so the
//!   fall is at least the one reported. The reserve is never cut.
//! - [`VolatilitySpike`]: the realized volatility (population standard deviation) of the
//!   portfolio's last `window` daily returns against that of its last `history` returns;
//!   above `ratio ×` the targets switch to a conservative set, and back below
//!   `calm_ratio ×` (hysteresis: `calm_ratio < ratio`). Nothing happens before `history`
//!   returns are in.
//! - [`adjusted_targets`]: the targets in force: the conservative set during a spike (else
//!   the base), with the drawdown cuts applied on top, in the caller's number type.
//!
//! # Invariants
//! - Targets in force sum to exactly the sum of the targets they derive from (the reserve
//!   takes any rounding remainder), and every weight stays in [0, 1].
//! - Memory is fixed at construction: no allocation per step.
//! - A fall is compared with the threshold (`≥`) and the recovery (`≤`) with a slack of
//!   1e-9, so a fall that is exact in decimal is not missed by a rounding step in `f64`.
//! - Pure: no I/O, no clock (the caller passes the time in days).

use serde::{Deserialize, Serialize};

use super::rules::Weight;
use crate::{service::Service, validation::every_problem};

/// Number of services.
pub const N: usize = Service::ALL.len();

/// The reserve: never cut, and the default home of freed weight.
pub const HUB: usize = Service::Reserve.index();

/// Most a reported fall is taken as, so the raised peak stays finite.
const MAX_FALL: f64 = 0.999_999;

/// Falls are compared with this much slack: an index is a product of `f64` ratios, so a
/// decimal fall of exactly 20% (a balance × 0.8) comes out as 0.19999999999999996 here;
/// a fall within this of the threshold counts as reaching it.
const FALL_TOLERANCE: f64 = 1e-9;

/// Where a drawdown cut's freed weight goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FreedWeightTo {
    /// All to the reserve.
    Reserve,
    /// To the services not cut, in proportion to their targets.
    ProRata,
}

/// Drawdown protection settings (`[policy.drawdown]`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DrawdownConfig {
    /// Fall from the running peak that cuts (article: 0.20).
    pub threshold: f64,
    /// A cut target is `target × cut_factor`, in [0, 1).
    pub cut_factor: f64,
    /// Restored once back within this fall of the peak, in [0, threshold).
    pub recovery: f64,
    /// Or restored this many days after the cut, whatever the index did; `None`: only on
    /// recovery.
    pub restore_after_days: Option<u32>,
    /// Where the freed weight goes.
    pub freed_to: FreedWeightTo,
}

/// Volatility-spike response settings (`[policy.vol_spike]`; the conservative targets are
/// the caller's).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SpikeConfig {
    /// Daily returns in the recent window (at least 2).
    pub window: u32,
    /// Daily returns in the longer history, more than `window`.
    pub history: u32,
    /// A spike: recent volatility above `ratio ×` the history's (article: 2).
    pub ratio: f64,
    /// Calm again: recent volatility below `calm_ratio ×` the history's, in (0, ratio).
    pub calm_ratio: f64,
}

/// One problem with a response's settings; `Display` names the key relative to `[policy]`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ResponseConfigError {
    /// A value out of its range.
    #[error("{key}: {value} must be {range}")]
    OutOfRange {
        /// The key, e.g. `drawdown.threshold`.
        key: &'static str,
        /// The value given.
        value: f64,
        /// The range, in words.
        range: &'static str,
    },
}

fn check(
    problems: &mut Vec<ResponseConfigError>,
    key: &'static str,
    value: f64,
    ok: bool,
    range: &'static str,
) {
    if !ok || !value.is_finite() {
        problems.push(ResponseConfigError::OutOfRange { key, value, range });
    }
}

impl DrawdownConfig {
    /// Checks every value.
    ///
    /// # Errors
    /// Every problem, each naming its key (`drawdown.threshold`, ...).
    pub fn validate(&self) -> Result<(), Vec<ResponseConfigError>> {
        let mut problems = Vec::new();
        let t = self.threshold;
        check(
            &mut problems,
            "drawdown.threshold",
            t,
            t > 0.0 && t < 1.0,
            "in (0, 1)",
        );
        let c = self.cut_factor;
        check(
            &mut problems,
            "drawdown.cut_factor",
            c,
            (0.0..1.0).contains(&c),
            "in [0, 1) (the cut target is target × cut_factor)",
        );
        let r = self.recovery;
        check(
            &mut problems,
            "drawdown.recovery",
            r,
            r >= 0.0 && r < t,
            "in [0, drawdown.threshold) (a fall this small or less restores the target)",
        );
        if self.restore_after_days == Some(0) {
            problems.push(ResponseConfigError::OutOfRange {
                key: "drawdown.restore_after_days",
                value: 0.0,
                range: "at least 1 (or absent: only on recovery)",
            });
        }
        every_problem(problems)
    }
}

impl SpikeConfig {
    /// Checks every value.
    ///
    /// # Errors
    /// Every problem, each naming its key (`vol_spike.ratio`, ...).
    pub fn validate(&self) -> Result<(), Vec<ResponseConfigError>> {
        let mut problems = Vec::new();
        check(
            &mut problems,
            "vol_spike.window",
            f64::from(self.window),
            self.window >= 2,
            "at least 2 daily returns",
        );
        check(
            &mut problems,
            "vol_spike.history",
            f64::from(self.history),
            self.history > self.window,
            "more than vol_spike.window",
        );
        check(
            &mut problems,
            "vol_spike.ratio",
            self.ratio,
            self.ratio > 1.0,
            "above 1",
        );
        check(
            &mut problems,
            "vol_spike.calm_ratio",
            self.calm_ratio,
            self.calm_ratio > 0.0 && self.calm_ratio < self.ratio,
            "in (0, vol_spike.ratio) (hysteresis)",
        );
        every_problem(problems)
    }
}

/// What one step did to a service's cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CutChange {
    /// Nothing.
    #[default]
    None,
    /// Its target was cut.
    Cut,
    /// Restored: back within `recovery` of its peak.
    Recovered,
    /// Restored: `restore_after_days` passed.
    Expired,
}

/// The article's drawdown protection (see the module docs).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DrawdownProtection {
    /// Settings.
    pub config: DrawdownConfig,
    index: [f64; N],
    peak: [f64; N],
    cut: [bool; N],
    cut_at_day: [f64; N],
    /// Cuts made.
    pub cuts: u64,
    /// Cuts undone.
    pub restores: u64,
}

impl DrawdownProtection {
    /// Every index at 1, at its peak, nothing cut.
    pub fn new(config: DrawdownConfig) -> Self {
        DrawdownProtection {
            config,
            index: [1.0; N],
            peak: [1.0; N],
            cut: [false; N],
            cut_at_day: [0.0; N],
            cuts: 0,
            restores: 0,
        }
    }

    /// Which services are cut now.
    pub fn cut(&self) -> [bool; N] {
        self.cut
    }

    /// A service's fall from its running peak now, in [0, 1].
    pub fn fall(&self, index: usize) -> f64 {
        if self.peak[index] > 0.0 {
            (1.0 - self.index[index] / self.peak[index]).clamp(0.0, 1.0)
        } else {
            0.0
        }
    }

    /// One step: each service's growth factor (`1 + return`; 1 when it did not move), at
    /// `day` (days since the start, fractional live). Returns what changed per service.
    pub fn observe(&mut self, growth: &[f64; N], day: f64) -> [CutChange; N] {
        let mut changes = [CutChange::None; N];
        for i in 0..N {
            let g = growth[i];
            if g.is_finite() && g >= 0.0 {
                self.index[i] *= g;
                self.peak[i] = self.peak[i].max(self.index[i]);
            }
            changes[i] = self.settle(i, day);
        }
        changes
    }

    /// The venue reported `service` (by index) `fall` below its own peak: the peak is raised
    /// so the fall here is at least that, and the service is cut if it reaches the threshold.
    pub fn reported_fall(&mut self, index: usize, fall: f64, day: f64) -> CutChange {
        if fall.is_finite() && fall > 0.0 {
            let fall = fall.min(MAX_FALL);
            self.peak[index] = self.peak[index].max(self.index[index] / (1.0 - fall));
        }
        self.settle(index, day)
    }

    /// Restores cuts whose days have passed (call once a day; [`Self::observe`] checks too).
    pub fn expire(&mut self, day: f64) -> [CutChange; N] {
        let mut changes = [CutChange::None; N];
        for (i, change) in changes.iter_mut().enumerate() {
            *change = self.settle(i, day);
        }
        changes
    }

    fn settle(&mut self, i: usize, day: f64) -> CutChange {
        let fall = self.fall(i);
        if !self.cut[i] {
            if i != HUB && fall >= self.config.threshold - FALL_TOLERANCE {
                self.cut[i] = true;
                self.cut_at_day[i] = day;
                self.cuts += 1;
                return CutChange::Cut;
            }
            return CutChange::None;
        }
        if fall <= self.config.recovery + FALL_TOLERANCE {
            self.cut[i] = false;
            self.restores += 1;
            return CutChange::Recovered;
        }
        if let Some(days) = self.config.restore_after_days
            && day - self.cut_at_day[i] >= f64::from(days)
        {
            self.cut[i] = false;
            self.restores += 1;
            // Measure the next fall from here, so this one does not cut again at once.
            self.peak[i] = self.index[i];
            return CutChange::Expired;
        }
        CutChange::None
    }
}

/// What a step did to the volatility-spike response.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SpikeChange {
    /// Recent volatility rose above `ratio ×` the history's: conservative targets.
    Began {
        /// Recent daily volatility.
        recent: f64,
        /// The history's daily volatility.
        history: f64,
    },
    /// It fell below `calm_ratio ×`: the base targets again.
    Ended {
        /// Recent daily volatility.
        recent: f64,
        /// The history's daily volatility.
        history: f64,
    },
}

/// The article's volatility-spike response (see the module docs).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VolatilitySpike {
    /// Settings.
    pub config: SpikeConfig,
    ring: Vec<f64>,
    len: usize,
    next: usize,
    active: bool,
    /// Switches to the conservative targets.
    pub spikes: u64,
}

impl VolatilitySpike {
    /// Allocates the return history once.
    pub fn new(config: SpikeConfig) -> Self {
        let window = config.window.max(2);
        let history = config.history.max(window);
        let config = SpikeConfig {
            window,
            history,
            ..config
        };
        VolatilitySpike {
            ring: vec![0.0; history as usize],
            config,
            len: 0,
            next: 0,
            active: false,
            spikes: 0,
        }
    }

    /// Whether the conservative targets are in force.
    pub fn active(&self) -> bool {
        self.active
    }

    fn std_of_last(&self, n: usize) -> f64 {
        let cap = self.ring.len();
        let at = |k: usize| self.ring[(self.next + cap - 1 - k) % cap];
        let mean = (0..n).map(at).sum::<f64>() / n as f64;
        ((0..n).map(|k| (at(k) - mean).powi(2)).sum::<f64>() / n as f64).sqrt()
    }

    /// Records one daily portfolio return; returns a switch when one happens. A non-finite
    /// return is ignored.
    pub fn push(&mut self, portfolio_return: f64) -> Option<SpikeChange> {
        if !portfolio_return.is_finite() {
            return None;
        }
        let cap = self.ring.len();
        self.ring[self.next] = portfolio_return;
        self.next = (self.next + 1) % cap;
        self.len = (self.len + 1).min(cap);
        if self.len < cap {
            return None;
        }
        let history = self.std_of_last(cap);
        let recent = self.std_of_last(self.config.window as usize);
        if !self.active && recent > self.config.ratio * history {
            self.active = true;
            self.spikes += 1;
            Some(SpikeChange::Began { recent, history })
        } else if self.active && recent < self.config.calm_ratio * history {
            self.active = false;
            Some(SpikeChange::Ended { recent, history })
        } else {
            None
        }
    }
}

/// The targets in force: `conservative` while a spike is active (else `base`), with the
/// services in `cut` cut to `cut_factor ×` their target and the freed weight sent where
/// `freed_to` says. The reserve takes any rounding remainder, so the sum is exact.
pub fn adjusted_targets<T: Weight>(
    base: &[T; N],
    conservative: Option<&[T; N]>,
    cut: &[bool; N],
    config: Option<&DrawdownConfig>,
) -> [T; N] {
    let from = conservative.unwrap_or(base);
    let Some(config) = config.filter(|_| cut.iter().any(|c| *c)) else {
        return *from;
    };
    let factor = T::from_ratio(config.cut_factor, T::ZERO);
    let mut out = *from;
    let mut freed = T::ZERO;
    for i in 0..N {
        if cut[i] && i != HUB {
            out[i] = from[i] * factor;
            freed = freed + (from[i] - out[i]);
        }
    }
    let receivers = (0..N)
        .filter(|i| !cut[*i] || *i == HUB)
        .fold(T::ZERO, |sum, i| sum + from[i]);
    if config.freed_to == FreedWeightTo::ProRata && receivers > T::ZERO {
        for i in 0..N {
            if !cut[i] && i != HUB {
                out[i] = out[i] + freed * from[i] / receivers;
            }
        }
    }
    // The reserve: its own share (pro rata) or all of it, as the remainder of the sum.
    let total = from.iter().fold(T::ZERO, |sum, t| sum + *t);
    let others = (0..N)
        .filter(|i| *i != HUB)
        .fold(T::ZERO, |sum, i| sum + out[i]);
    out[HUB] = total - others;
    out
}

#[cfg(test)]
#[path = "responses_tests.rs"]
mod tests;
