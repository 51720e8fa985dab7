//! Volatility spikes: the realized volatility of an asset's recent price moves against its own
//! history (the design's trigger: realized volatility above twice its history).
//!
//! Each price observation of an asset gives one log move `ln(pₜ/pₜ₋₁)`. The last `window` moves
//! make the recent variance (their mean square); moves leave the window into the baseline, a
//! running mean of squares that becomes an exponential average of span `history` once it has
//! seen that many (so it follows slow regime changes but not a spike in progress, which is still
//! in the window). A spike is `recent variance > ratio² × baseline variance`, reported once when
//! it begins (rising edge); the asset re-arms once its recent volatility is back under the ratio.
//!
//! # Invariants
//! - Nothing is reported before an asset has `window` recent and `history` baseline moves.
//! - Non-finite and non-positive prices are ignored (they carry no move); nothing here panics.
//! - Memory is `O(assets × window)`.

use std::collections::{BTreeMap, VecDeque};

use rust_decimal::Decimal;

use crate::money::decimal_to_f64;

/// Detector settings, checked with the rest of the configuration by
/// [`super::OptimizerConfig::validate`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VolSpikeConfig {
    /// Recent volatility over baseline volatility that counts as a spike (> 1; design: 2).
    pub ratio: f64,
    /// Price moves in the recent window (≥ 2).
    pub window: usize,
    /// Moves the baseline needs before spikes are reported, and its averaging span (≥ 1).
    pub history: usize,
}

/// A spike that just began.
#[derive(Debug, Clone, PartialEq)]
pub struct VolSpike {
    /// The asset whose price moves spiked.
    pub asset: String,
    /// Recent volatility per observation interval (root mean square log move).
    pub recent_vol: f64,
    /// Baseline volatility per observation interval.
    pub baseline_vol: f64,
}

#[derive(Debug, Clone, Default)]
struct AssetVol {
    last_price: Option<f64>,
    /// Squared log moves, oldest first, at most `window`.
    recent: VecDeque<f64>,
    baseline_var: f64,
    baseline_moves: usize,
    spiking: bool,
}

/// Per-asset spike detection (see the module docs).
#[derive(Debug, Clone)]
pub struct VolSpikeDetector {
    config: VolSpikeConfig,
    assets: BTreeMap<String, AssetVol>,
}

impl VolSpikeDetector {
    /// A detector with no history.
    pub fn new(config: VolSpikeConfig) -> Self {
        VolSpikeDetector {
            config: VolSpikeConfig {
                window: config.window.max(2),
                history: config.history.max(1),
                ..config
            },
            assets: BTreeMap::new(),
        }
    }

    /// Observes one price; returns a spike when one begins.
    pub fn observe(&mut self, asset: &str, price: f64) -> Option<VolSpike> {
        if !(price.is_finite() && price > 0.0) {
            return None;
        }
        let VolSpikeConfig {
            ratio,
            window,
            history,
        } = self.config;
        let state = self.assets.entry(asset.to_owned()).or_default();
        let previous = state.last_price.replace(price)?;
        let r = (price / previous).ln();
        state.recent.push_back(r * r);
        if state.recent.len() > window {
            let old = state.recent.pop_front().unwrap_or(0.0);
            state.baseline_moves += 1;
            // A running mean for the first `history` moves, an EWMA of that span after.
            let span = state.baseline_moves.min(history) as f64;
            state.baseline_var += (old - state.baseline_var) / span;
        }
        if state.recent.len() < window || state.baseline_moves < history {
            return None;
        }
        let recent_var = state.recent.iter().sum::<f64>() / window as f64;
        let spike = recent_var > ratio * ratio * state.baseline_var;
        let began = spike && !state.spiking;
        state.spiking = spike;
        began.then(|| VolSpike {
            asset: asset.to_owned(),
            recent_vol: recent_var.sqrt(),
            baseline_vol: state.baseline_var.sqrt(),
        })
    }

    /// Observes one set of prices (USDC per unit, by asset), in asset order; returns the
    /// spikes that began.
    pub fn observe_prices(&mut self, prices_usdc: &BTreeMap<String, Decimal>) -> Vec<VolSpike> {
        prices_usdc
            .iter()
            .filter_map(|(asset, price)| self.observe(asset, decimal_to_f64(*price)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: VolSpikeConfig = VolSpikeConfig {
        ratio: 2.0,
        window: 6,
        history: 30,
    };

    /// Feeds prices moving by ±`step` (alternating) and returns the spikes, with their index.
    fn feed(
        detector: &mut VolSpikeDetector,
        price: &mut f64,
        step: f64,
        count: usize,
    ) -> Vec<usize> {
        let mut out = Vec::new();
        for k in 0..count {
            *price *= if k % 2 == 0 {
                1.0 + step
            } else {
                1.0 / (1.0 + step)
            };
            if detector.observe("BTC", *price).is_some() {
                out.push(k);
            }
        }
        out
    }

    #[test]
    fn spike_cases() {
        struct TestCase {
            /// (move size, observations) phases, in order.
            phases: Vec<(f64, usize)>,
            /// Spikes expected in each phase (indices within the phase).
            expected: Vec<Vec<usize>>,
        }
        let cases = [
            // TC0: calm, then moves 5× as large (24× the square): one spike, at the first big
            // move, whose window's mean square is (5 + 24)/6 ≈ 4.8 > 2² times the baseline.
            TestCase {
                phases: vec![(0.01, 40), (0.05, 10)],
                expected: vec![vec![], vec![0]],
            },
            // TC1: big moves before the baseline is ready report nothing.
            TestCase {
                phases: vec![(0.01, 10), (0.05, 10)],
                expected: vec![vec![], vec![]],
            },
            // TC2: steady volatility never spikes.
            TestCase {
                phases: vec![(0.02, 200)],
                expected: vec![vec![]],
            },
            // TC3: a spike, calm again long enough to re-arm, and a second spike (one move
            // later: the first spike's moves have raised the baseline).
            TestCase {
                phases: vec![(0.01, 40), (0.05, 3), (0.01, 40), (0.05, 3)],
                expected: vec![vec![], vec![0], vec![], vec![1]],
            },
        ];
        for (i, case) in cases.iter().enumerate() {
            let mut detector = VolSpikeDetector::new(CONFIG);
            let mut price = 100.0;
            for (phase, ((step, count), want)) in case.phases.iter().zip(&case.expected).enumerate()
            {
                let got = feed(&mut detector, &mut price, *step, *count);
                assert_eq!(&got, want, "TC{i} phase {phase}");
            }
        }
    }

    #[test]
    fn bad_prices_are_ignored() {
        let mut detector = VolSpikeDetector::new(CONFIG);
        for price in [f64::NAN, 0.0, -5.0, f64::INFINITY] {
            assert!(detector.observe("ETH", price).is_none());
        }
        assert!(
            detector
                .assets
                .get("ETH")
                .is_none_or(|a| a.last_price.is_none())
        );
    }

    #[test]
    fn assets_are_independent() {
        let mut detector = VolSpikeDetector::new(CONFIG);
        let mut btc = 100.0;
        feed(&mut detector, &mut btc, 0.01, 40);
        // ETH's first big moves have no baseline yet: nothing.
        let mut eth = 10.0;
        for k in 0..5 {
            eth *= if k % 2 == 0 { 1.2 } else { 1.0 / 1.2 };
            assert!(detector.observe("ETH", eth).is_none());
        }
        assert_eq!(feed(&mut detector, &mut btc, 0.05, 3), vec![0]);
    }
}
