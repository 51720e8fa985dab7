//! Event responses as [`TargetsHook`]s: the article's drawdown protection and volatility-spike
//! response, acting on the targets in force (so they work with fixed targets too).
//!
//! - [`DrawdownProtection`]: a service whose price index (the product of its `1 + r`) is at
//!   least `threshold` below its running peak has its target cut by `cut_factor`; the freed
//!   weight goes to the reserve or pro rata to the other services. The cut is undone once
//!   the index is back within `recovery` of that peak. Each change rebalances at once.
//! - [`VolatilitySpike`]: when the realized volatility of the portfolio's last `window`
//!   returns exceeds `ratio ×` that of its last `history` returns, the targets switch to a
//!   conservative set; they switch back when it falls below `calm_ratio ×` (hysteresis:
//!   `calm_ratio < ratio`). Each switch rebalances at once.
//!
//! # Invariants
//! - Targets in force always sum to the base targets' sum.
//! - Memory is fixed at construction: no allocation per day.

use serde::Serialize;

use super::{HUB, N, Row, engine::TargetsHook};

/// Where a drawdown cut's freed weight goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FreedWeightTo {
    /// All to the reserve.
    Reserve,
    /// To the services not cut, in proportion to their targets.
    ProRata,
}

/// The article's drawdown protection.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DrawdownProtection {
    /// Targets before any cut.
    pub base: Row,
    /// Fall from the peak that cuts (article: 0.20).
    pub threshold: f64,
    /// The cut target is `base × cut_factor`.
    pub cut_factor: f64,
    /// Restored once within this fall of the peak.
    pub recovery: f64,
    /// Where the freed weight goes.
    pub freed_to: FreedWeightTo,
    index: Row,
    peak: Row,
    cut: [bool; N],
    /// Cuts made.
    pub cuts: u64,
    /// Cuts undone.
    pub restores: u64,
}

impl DrawdownProtection {
    /// Starts with every index at 1 and nothing cut.
    pub fn new(
        base: Row,
        threshold: f64,
        cut_factor: f64,
        recovery: f64,
        freed_to: FreedWeightTo,
    ) -> Self {
        DrawdownProtection {
            base,
            threshold,
            cut_factor,
            recovery,
            freed_to,
            index: [1.0; N],
            peak: [1.0; N],
            cut: [false; N],
            cuts: 0,
            restores: 0,
        }
    }

    /// Which services are cut now.
    pub fn cut(&self) -> [bool; N] {
        self.cut
    }

    fn targets(&self) -> Row {
        let mut out = self.base;
        let mut freed = 0.0;
        for i in 0..N {
            if self.cut[i] {
                out[i] = self.base[i] * self.cut_factor;
                freed += self.base[i] - out[i];
            }
        }
        match self.freed_to {
            FreedWeightTo::Reserve => out[HUB] += freed,
            FreedWeightTo::ProRata => {
                let receivers: f64 = (0..N).filter(|i| !self.cut[*i]).map(|i| self.base[i]).sum();
                if receivers > 0.0 {
                    for i in 0..N {
                        if !self.cut[i] {
                            out[i] += freed * self.base[i] / receivers;
                        }
                    }
                } else {
                    out[HUB] += freed;
                }
            }
        }
        out
    }
}

impl TargetsHook for DrawdownProtection {
    fn on_day(&mut self, _day: usize, returns: &Row, _: &Row, targets: &mut Row) -> bool {
        let mut changed = false;
        for i in 0..N {
            self.index[i] *= 1.0 + returns[i];
            self.peak[i] = self.peak[i].max(self.index[i]);
            let fall = 1.0 - self.index[i] / self.peak[i];
            if !self.cut[i] && i != HUB && fall >= self.threshold {
                self.cut[i] = true;
                self.cuts += 1;
                changed = true;
            } else if self.cut[i] && fall <= self.recovery {
                self.cut[i] = false;
                self.restores += 1;
                changed = true;
            }
        }
        if changed {
            *targets = self.targets();
        }
        changed
    }
}

/// The article's volatility-spike response.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VolatilitySpike {
    /// Targets when calm.
    pub base: Row,
    /// Targets during a spike.
    pub conservative: Row,
    /// Recent returns measured.
    pub window: usize,
    /// Longer history measured against.
    pub history: usize,
    /// Spike when recent volatility > `ratio ×` history's (article: 2).
    pub ratio: f64,
    /// Calm again below `calm_ratio ×` history's.
    pub calm_ratio: f64,
    ring: Vec<f64>,
    len: usize,
    next: usize,
    active: bool,
    /// Switches to the conservative targets.
    pub spikes: u64,
}

impl VolatilitySpike {
    /// Allocates the return history once.
    pub fn new(
        base: Row,
        conservative: Row,
        window: usize,
        history: usize,
        ratio: f64,
        calm_ratio: f64,
    ) -> Self {
        let history = history.max(window).max(2);
        VolatilitySpike {
            base,
            conservative,
            window: window.max(2),
            history,
            ratio,
            calm_ratio,
            ring: vec![0.0; history],
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
}

impl TargetsHook for VolatilitySpike {
    fn on_day(&mut self, _day: usize, returns: &Row, holdings: &Row, targets: &mut Row) -> bool {
        // The portfolio's return today, weighting each service by what it held this morning.
        let (mut before, mut after) = (0.0, 0.0);
        for i in 0..N {
            after += holdings[i];
            before += holdings[i] / (1.0 + returns[i]);
        }
        let r = after / before - 1.0;
        if !r.is_finite() {
            return false;
        }
        let cap = self.ring.len();
        self.ring[self.next] = r;
        self.next = (self.next + 1) % cap;
        self.len = (self.len + 1).min(cap);
        if self.len < self.history {
            return false;
        }
        let long = self.std_of_last(self.history);
        let short = self.std_of_last(self.window);
        if !self.active && short > self.ratio * long {
            self.active = true;
            self.spikes += 1;
            *targets = self.conservative;
            true
        } else if self.active && short < self.calm_ratio * long {
            self.active = false;
            *targets = self.base;
            true
        } else {
            false
        }
    }
}
