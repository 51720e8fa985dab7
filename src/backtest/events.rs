//! Event responses as [`TargetsHook`]s: the article's drawdown protection and volatility-spike
//! response, acting on the targets in force (so they work with fixed targets too). The logic
//! is the live policy's own ([`crate::policy::responses`]); this module only feeds it one
//! simulated day at a time.
//!
//! - [`DrawdownHook`]: each service's index grows by its daily return; a cut or a restore
//!   rewrites the targets ([`adjusted_targets`] of the base) and rebalances at once.
//! - [`SpikeHook`]: the portfolio's daily return feeds the spike detector; a switch moves
//!   the targets to the conservative set or back and rebalances at once.
//!
//! # Invariants
//! - Targets in force always sum to the base targets' sum.
//! - Memory is fixed at construction: no allocation per day.

use serde::Serialize;

pub use crate::policy::responses::{
    CutChange, DrawdownConfig, DrawdownProtection, FreedWeightTo, SpikeChange, SpikeConfig,
    VolatilitySpike, adjusted_targets,
};

use super::{N, Row, engine::TargetsHook};

/// Drawdown protection over a simulated path.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DrawdownHook {
    /// Targets before any cut.
    pub base: Row,
    /// The live policy's protection.
    pub protection: DrawdownProtection,
}

impl DrawdownHook {
    /// Nothing cut yet.
    pub fn new(base: Row, config: DrawdownConfig) -> Self {
        DrawdownHook {
            base,
            protection: DrawdownProtection::new(config),
        }
    }
}

impl TargetsHook for DrawdownHook {
    fn on_day(&mut self, day: usize, returns: &Row, _: &Row, targets: &mut Row) -> bool {
        let mut growth = [1.0; N];
        for i in 0..N {
            growth[i] = 1.0 + returns[i];
        }
        let changes = self.protection.observe(&growth, day as f64);
        if changes.iter().all(|c| *c == CutChange::None) {
            return false;
        }
        *targets = adjusted_targets(
            &self.base,
            None,
            &self.protection.cut(),
            Some(&self.protection.config),
        );
        true
    }
}

/// The volatility-spike response over a simulated path.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SpikeHook {
    /// Targets when calm.
    pub base: Row,
    /// Targets during a spike.
    pub conservative: Row,
    /// The live policy's detector.
    pub spike: VolatilitySpike,
}

impl SpikeHook {
    /// Calm, with no history yet.
    pub fn new(base: Row, conservative: Row, config: SpikeConfig) -> Self {
        SpikeHook {
            base,
            conservative,
            spike: VolatilitySpike::new(config),
        }
    }
}

impl TargetsHook for SpikeHook {
    fn on_day(&mut self, _day: usize, returns: &Row, holdings: &Row, targets: &mut Row) -> bool {
        // The portfolio's return today, weighting each service by what it held this morning.
        let (mut before, mut after) = (0.0, 0.0);
        for i in 0..N {
            after += holdings[i];
            before += holdings[i] / (1.0 + returns[i]);
        }
        match self.spike.push(after / before - 1.0) {
            Some(SpikeChange::Began { .. }) => {
                *targets = self.conservative;
                true
            }
            Some(SpikeChange::Ended { .. }) => {
                *targets = self.base;
                true
            }
            None => false,
        }
    }
}
