//! Event responses: hand-computed cuts, restores, switches and targets.

use rust_decimal::Decimal;

use super::*;
use crate::testing::{messages, weights};

const CASINO: usize = Service::Casino.index();
const TRADING: usize = Service::Trading.index();

fn config() -> DrawdownConfig {
    DrawdownConfig {
        threshold: 0.20,
        cut_factor: 0.5,
        recovery: 0.05,
        restore_after_days: None,
        freed_to: FreedWeightTo::Reserve,
    }
}

/// Growth factors: `factor` for `service`, 1 for the rest.
fn moved(service: usize, factor: f64) -> [f64; N] {
    let mut g = [1.0; N];
    g[service] = factor;
    g
}

#[test]
fn drawdown_protection_cuts_at_the_threshold_and_restores() {
    struct TestCase {
        config: DrawdownConfig,
        /// (growth of one service, day), in order.
        steps: Vec<(usize, f64, f64)>,
        /// The change of that service at each step.
        expected: Vec<CutChange>,
    }
    let cases = [
        // TC0: casino −10% then −1/6: index 0.75, 25% below its peak: cut. +10% (0.825,
        // 17.5% below): still cut. +20% (0.99, 1% below): within 5%, restored.
        TestCase {
            config: config(),
            steps: vec![
                (CASINO, 0.9, 0.0),
                (CASINO, 5.0 / 6.0, 1.0),
                (CASINO, 1.1, 2.0),
                (CASINO, 1.2, 3.0),
            ],
            expected: vec![
                CutChange::None,
                CutChange::Cut,
                CutChange::None,
                CutChange::Recovered,
            ],
        },
        // TC1: exactly 20% (a decimal 0.8, 0.19999999999999996 in f64) cuts: `≥`.
        TestCase {
            config: config(),
            steps: vec![(TRADING, 0.8, 0.0)],
            expected: vec![CutChange::Cut],
        },
        // TC2: 19.9% does not.
        TestCase {
            config: config(),
            steps: vec![(TRADING, 0.801, 0.0)],
            expected: vec![CutChange::None],
        },
        // TC3: the reserve is never cut.
        TestCase {
            config: config(),
            steps: vec![(HUB, 0.5, 0.0)],
            expected: vec![CutChange::None],
        },
        // TC4: restored by days: cut on day 1, still 25% down on day 3, restored on day 4
        // (3 days later); the peak restarts there, so a further 10% fall does not cut again.
        TestCase {
            config: DrawdownConfig {
                restore_after_days: Some(3),
                ..config()
            },
            steps: vec![
                (CASINO, 0.75, 1.0),
                (CASINO, 1.0, 3.0),
                (CASINO, 1.0, 4.0),
                (CASINO, 0.9, 5.0),
            ],
            expected: vec![
                CutChange::Cut,
                CutChange::None,
                CutChange::Expired,
                CutChange::None,
            ],
        },
    ];
    for (index, case) in cases.iter().enumerate() {
        let mut protection = DrawdownProtection::new(case.config);
        let got: Vec<CutChange> = case
            .steps
            .iter()
            .map(|(service, factor, day)| {
                protection.observe(&moved(*service, *factor), *day)[*service]
            })
            .collect();
        assert_eq!(got, case.expected, "TC{index}");
    }
}

#[test]
fn a_reported_fall_cuts_and_recovery_is_measured_from_the_raised_peak() {
    let mut protection = DrawdownProtection::new(config());
    // The venue says trading is 25% below its peak although ballast saw no fall.
    assert_eq!(protection.reported_fall(TRADING, 0.25, 0.0), CutChange::Cut);
    assert!((protection.fall(TRADING) - 0.25).abs() < 1e-12);
    // A report below the threshold changes nothing more.
    assert_eq!(protection.reported_fall(TRADING, 0.1, 0.0), CutChange::None);
    // Back to 96% of the raised peak (1/0.75 × 0.96 = 1.28): restored.
    assert_eq!(
        protection.observe(&moved(TRADING, 1.28), 1.0)[TRADING],
        CutChange::Recovered
    );
    assert_eq!((protection.cuts, protection.restores), (1, 1));
}

#[test]
fn adjusted_targets_cut_and_route_the_freed_weight() {
    struct TestCase {
        cut: [bool; N],
        freed_to: FreedWeightTo,
        spike: bool,
        expected: [Decimal; N],
    }
    let base = weights![0.20, 0.30, 0.15, 0.15, 0.10, 0.10];
    let conservative = weights![0.10, 0.20, 0.15, 0.15, 0.15, 0.25];
    let casino_cut = [true, false, false, false, false, false];
    let cases = [
        // TC0: nothing cut, no spike: the base.
        TestCase {
            cut: [false; N],
            freed_to: FreedWeightTo::Reserve,
            spike: false,
            expected: base,
        },
        // TC1: casino cut in half; its 10 points go to the reserve.
        TestCase {
            cut: casino_cut,
            freed_to: FreedWeightTo::Reserve,
            spike: false,
            expected: weights![0.10, 0.30, 0.15, 0.15, 0.10, 0.20],
        },
        // TC2: pro rata: the 10 points split over the 80 not cut: trading +3.75,
        // wallet and domains +1.875, escrow and reserve +1.25.
        TestCase {
            cut: casino_cut,
            freed_to: FreedWeightTo::ProRata,
            spike: false,
            expected: weights![0.10, 0.3375, 0.16875, 0.16875, 0.1125, 0.1125],
        },
        // TC3: a spike: the conservative set.
        TestCase {
            cut: [false; N],
            freed_to: FreedWeightTo::Reserve,
            spike: true,
            expected: conservative,
        },
        // TC4: a spike and a casino cut: the conservative casino 10% halved, 5 to the reserve.
        TestCase {
            cut: casino_cut,
            freed_to: FreedWeightTo::Reserve,
            spike: true,
            expected: weights![0.05, 0.20, 0.15, 0.15, 0.15, 0.30],
        },
    ];
    for (index, case) in cases.iter().enumerate() {
        let drawdown = DrawdownConfig {
            freed_to: case.freed_to,
            ..config()
        };
        let got = adjusted_targets(
            &base,
            case.spike.then_some(&conservative),
            &case.cut,
            Some(&drawdown),
        );
        assert_eq!(got, case.expected, "TC{index}");
        assert_eq!(
            got.iter().copied().sum::<Decimal>(),
            Decimal::ONE,
            "TC{index}"
        );
    }
}

#[test]
fn a_volatility_spike_switches_and_switches_back() {
    // Window 2, history 10, ratio 2, calm 1.5. Days 0–7 alternate ±1%, then +10%, −10%,
    // then ±1% again.
    let mut spike = VolatilitySpike::new(SpikeConfig {
        window: 2,
        history: 10,
        ratio: 2.0,
        calm_ratio: 1.5,
    });
    let returns = [
        0.01, -0.01, 0.01, -0.01, 0.01, -0.01, 0.01, -0.01, 0.1, -0.1, 0.01, -0.01,
    ];
    let mut changes = Vec::new();
    for (day, r) in returns.iter().enumerate() {
        if let Some(change) = spike.push(*r) {
            changes.push((day, change));
        }
    }
    // Day 9: the last ten have mean 0 and variance (8 × 0.0001 + 2 × 0.01) / 10, a history
    // of 4.56%; the last two ±10%: 10% > 2 × 4.56%: a spike.
    let history = (0.00208_f64).sqrt();
    assert_eq!(changes.len(), 2, "{changes:?}");
    let (day, SpikeChange::Began { recent, history: h }) = changes[0] else {
        panic!("{changes:?}");
    };
    assert_eq!(day, 9);
    assert!((recent - 0.1).abs() < 1e-12 && (h - history).abs() < 1e-12);
    // Day 10: the last two (−10%, +1%) have volatility 5.5%, below 1.5 × 4.56%: calm.
    let (day, SpikeChange::Ended { recent, .. }) = changes[1] else {
        panic!("{changes:?}");
    };
    assert_eq!(day, 10);
    assert!((recent - 0.055).abs() < 1e-12);
    assert!(!spike.active() && spike.spikes == 1);
}

#[test]
fn settings_name_every_bad_value() {
    let bad = DrawdownConfig {
        threshold: 1.5,
        cut_factor: 1.0,
        recovery: 0.3,
        restore_after_days: Some(0),
        freed_to: FreedWeightTo::Reserve,
    };
    let problems = messages(&bad.validate().expect_err("three problems"));
    assert_eq!(
        problems,
        [
            "drawdown.threshold: 1.5 must be in (0, 1)",
            "drawdown.cut_factor: 1 must be in [0, 1) (the cut target is target × cut_factor)",
            "drawdown.restore_after_days: 0 must be at least 1 (or absent: only on recovery)",
        ]
    );
    let spike = SpikeConfig {
        window: 1,
        history: 1,
        ratio: 1.0,
        calm_ratio: 1.0,
    };
    assert_eq!(spike.validate().expect_err("bad").len(), 4);
    assert_eq!(config().validate(), Ok(()));
}
