//! Table-driven cases for every rule, with hand-computed answers, and properties.

use proptest::prelude::*;
use rust_decimal_macros::dec;

use super::*;
use crate::testing::weights;

const CONSERVATIVE: [Decimal; 6] = weights![0.20, 0.30, 0.15, 0.15, 0.10, 0.10];
const RESERVE: usize = 5;

fn state(days_since_rebalance: u32, vol_index: f64) -> RuleState {
    RuleState {
        days_since_rebalance,
        vol_index,
    }
}

fn abs_band(points: Decimal) -> Band<Decimal> {
    Band::Absolute { points }
}

#[test]
fn decide_every_rule() {
    struct TestCase {
        rule: RuleConfig<Decimal>,
        state: RuleState,
        weights: [Decimal; 6],
        expected: Option<Decision<Decimal>>,
    }
    let on_target = CONSERVATIVE;
    // Casino 5 points over, trading 5 under: exactly on the 5-point edge.
    let on_edge = weights![0.25, 0.25, 0.15, 0.15, 0.10, 0.10];
    // Casino 3 points over, reserve 3 under.
    let three_points = weights![0.23, 0.30, 0.15, 0.15, 0.10, 0.07];
    // Escrow 3 points under its 10% target (30% of it), casino 4 points over.
    let escrow_short = weights![0.24, 0.30, 0.15, 0.15, 0.07, 0.09];
    let calendar = |days| Decision {
        reason: Reason::Calendar {
            days_since_rebalance: days,
        },
        to: RebalanceTo::Target,
    };
    let threshold = |index, drift, band, to| Decision {
        reason: Reason::Threshold { index, drift, band },
        to,
    };
    let hybrid = RuleConfig::hybrid(abs_band(dec!(0.05)), 30, RebalanceTo::BandEdge);
    let cases = [
        // TC0: buy-and-hold never rebalances, however far and long.
        TestCase {
            rule: RuleConfig::buy_and_hold(),
            state: state(10_000, 1.0),
            weights: [dec!(1), dec!(0), dec!(0), dec!(0), dec!(0), dec!(0)],
            expected: None,
        },
        // TC1: daily calendar, same day: nothing.
        TestCase {
            rule: RuleConfig::calendar(1),
            state: state(0, 0.5),
            weights: three_points,
            expected: None,
        },
        // TC2: daily calendar, a day later: to target even on target.
        TestCase {
            rule: RuleConfig::calendar(1),
            state: state(1, 0.5),
            weights: on_target,
            expected: Some(calendar(1)),
        },
        // TC3: weekly calendar on day 6: nothing; TC4: day 7: rebalance.
        TestCase {
            rule: RuleConfig::calendar(7),
            state: state(6, 0.5),
            weights: three_points,
            expected: None,
        },
        TestCase {
            rule: RuleConfig::calendar(7),
            state: state(7, 0.5),
            weights: three_points,
            expected: Some(calendar(7)),
        },
        // TC5: 5-point threshold, drift exactly 5 points: `≥` triggers; casino (first of the
        // two equal drifts) is reported.
        TestCase {
            rule: RuleConfig::threshold(abs_band(dec!(0.05)), RebalanceTo::Target),
            state: state(0, 0.5),
            weights: on_edge,
            expected: Some(threshold(0, dec!(0.05), dec!(0.05), RebalanceTo::Target)),
        },
        // TC6: 5-point threshold, 3 points: nothing.
        TestCase {
            rule: RuleConfig::threshold(abs_band(dec!(0.05)), RebalanceTo::Target),
            state: state(400, 0.5),
            weights: three_points,
            expected: None,
        },
        // TC7: relative threshold 25%: escrow's band is 2.5 points, its 3-point shortfall
        // breaches; casino's 4 points are inside its 5.
        TestCase {
            rule: RuleConfig::threshold(
                Band::Relative {
                    fraction: dec!(0.25),
                },
                RebalanceTo::Target,
            ),
            state: state(0, 0.5),
            weights: escrow_short,
            expected: Some(threshold(4, dec!(-0.03), dec!(0.025), RebalanceTo::Target)),
        },
        // TC8: the tighter of 5 points and 40%: casino's band is 5 (40% of 20% is 8), escrow's
        // 4 (40% of 10%): nothing breaches.
        TestCase {
            rule: RuleConfig::threshold(
                Band::Tighter {
                    points: dec!(0.05),
                    fraction: dec!(0.40),
                },
                RebalanceTo::Target,
            ),
            state: state(0, 0.5),
            weights: escrow_short,
            expected: None,
        },
        // TC9: hybrid inside the band on day 29: nothing.
        TestCase {
            rule: hybrid,
            state: state(29, 0.5),
            weights: three_points,
            expected: None,
        },
        // TC10: hybrid floor on day 30: to target although the rule says band edge.
        TestCase {
            rule: hybrid,
            state: state(30, 0.5),
            weights: three_points,
            expected: Some(calendar(30)),
        },
        // TC11: hybrid breach on day 3: to the band edge.
        TestCase {
            rule: hybrid,
            state: state(3, 0.5),
            weights: on_edge,
            expected: Some(threshold(0, dec!(0.05), dec!(0.05), RebalanceTo::BandEdge)),
        },
        // TC12: volatility-adjusted, calm (index 0): band 5 points, 3 points inside.
        TestCase {
            rule: RuleConfig::volatility_adjusted(dec!(0.05), RebalanceTo::Target),
            state: state(0, 0.0),
            weights: three_points,
            expected: None,
        },
        // TC13: volatility-adjusted, extreme (index 1): band 0.05 × 0.4 = 2 points; casino's
        // 3 points (and the reserve's) breach.
        TestCase {
            rule: RuleConfig::volatility_adjusted(dec!(0.05), RebalanceTo::Target),
            state: state(0, 1.0),
            weights: three_points,
            expected: Some(threshold(0, dec!(0.03), dec!(0.020), RebalanceTo::Target)),
        },
    ];
    for (index, case) in cases.iter().enumerate() {
        let actual = case.rule.decide(&case.state, &case.weights, &CONSERVATIVE);
        assert_eq!(actual, case.expected, "TC{index}");
    }
    // A relative band around a zero target is zero: on target it does not fire, off it does.
    let half = [dec!(0.5), dec!(0), dec!(0), dec!(0), dec!(0), dec!(0.5)];
    let relative = RuleConfig::threshold(
        Band::Relative {
            fraction: dec!(0.25),
        },
        RebalanceTo::Target,
    );
    assert_eq!(relative.decide(&state(0, 0.5), &half, &half), None);
    let mut off = half;
    off[1] = dec!(0.001);
    off[5] = dec!(0.499);
    assert!(relative.decide(&state(0, 0.5), &off, &half).is_some());
}

#[test]
fn volatility_adjusted_band_is_clamped() {
    struct TestCase {
        base: f64,
        vol_index: f64,
        expected: f64,
    }
    let cases = [
        // TC0: calm: the base.
        TestCase {
            base: 0.05,
            vol_index: 0.0,
            expected: 0.05,
        },
        // TC1: mid-range: 0.05 × 0.7.
        TestCase {
            base: 0.05,
            vol_index: 0.5,
            expected: 0.035,
        },
        // TC2: extreme: 0.05 × 0.4 = 0.02, the floor.
        TestCase {
            base: 0.05,
            vol_index: 1.0,
            expected: 0.02,
        },
        // TC3: a wide base is capped at 10%.
        TestCase {
            base: 0.20,
            vol_index: 0.0,
            expected: 0.10,
        },
        // TC4: a narrow base is floored at 2%.
        TestCase {
            base: 0.01,
            vol_index: 0.0,
            expected: 0.02,
        },
        // TC5: a non-finite index leaves the base (factor 1).
        TestCase {
            base: 0.05,
            vol_index: f64::NAN,
            expected: 0.05,
        },
    ];
    for (index, case) in cases.iter().enumerate() {
        let actual = volatility_adjusted_band(case.base, case.vol_index);
        assert!(
            (actual - case.expected).abs() < 1e-15,
            "TC{index}: {actual}"
        );
    }
    // The Decimal path computes the same band.
    let live = volatility_adjusted_band(dec!(0.05), 0.5);
    assert_eq!(live, dec!(0.035));
}

#[test]
fn volatility_index_follows_the_article() {
    struct TestCase {
        returns: Vec<f64>,
        expected: f64,
    }
    let cases = [
        // TC0: no history: mid-range.
        TestCase {
            returns: vec![],
            expected: 0.5,
        },
        // TC1: one return: still mid-range.
        TestCase {
            returns: vec![0.03],
            expected: 0.5,
        },
        // TC2: ±1%: population std 0.01, × √365 = 0.19105, / 2.
        TestCase {
            returns: vec![0.01, -0.01],
            expected: 0.01 * 365f64.sqrt() / 2.0,
        },
        // TC3: ±20% a day is far above 200% a year: capped at 1.
        TestCase {
            returns: vec![0.2, -0.2],
            expected: 1.0,
        },
        // TC4: only the last 20 count: five wild days, then 20 flat ones.
        TestCase {
            returns: [vec![0.5, -0.5, 0.5, -0.5, 0.5], vec![0.001; 20]].concat(),
            expected: 0.0,
        },
        // TC5: a NaN is ignored.
        TestCase {
            returns: vec![0.01, f64::NAN, -0.01],
            expected: 0.01 * 365f64.sqrt() / 2.0,
        },
    ];
    for (index, case) in cases.iter().enumerate() {
        let mut vol = VolatilityIndex::default();
        for r in &case.returns {
            vol.push(*r);
        }
        assert!(
            (vol.index() - case.expected).abs() < 1e-12,
            "TC{index}: {}",
            vol.index()
        );
    }
}

#[test]
fn desired_weights_to_target_and_band_edge() {
    struct TestCase {
        to: RebalanceTo,
        weights: [Decimal; 6],
        expected: [Decimal; 6],
        fell_back: bool,
    }
    let cases = [
        // TC0: to target: the targets.
        TestCase {
            to: RebalanceTo::Target,
            weights: weights![0.30, 0.25, 0.15, 0.15, 0.10, 0.05],
            expected: CONSERVATIVE,
            fell_back: false,
        },
        // TC1: band edge: casino (10 over) to 25%, trading (5 under, on the edge) to 25%,
        // the reserve takes the rest: 10%, inside its band.
        TestCase {
            to: RebalanceTo::BandEdge,
            weights: weights![0.30, 0.25, 0.15, 0.15, 0.10, 0.05],
            expected: weights![0.25, 0.25, 0.15, 0.15, 0.10, 0.10],
            fell_back: false,
        },
        // TC2: band edge with escrow 8 under: to 5%; casino 3 over stays; the reserve
        // takes 1 − 0.93 = 7%, inside its band.
        TestCase {
            to: RebalanceTo::BandEdge,
            weights: weights![0.23, 0.30, 0.15, 0.15, 0.02, 0.15],
            expected: weights![0.23, 0.30, 0.15, 0.15, 0.05, 0.12],
            fell_back: false,
        },
        // TC3: band edge that leaves the reserve 5 points short, on its edge: accepted.
        TestCase {
            to: RebalanceTo::BandEdge,
            weights: weights![0.30, 0.30, 0.15, 0.15, 0.10, 0.00],
            expected: weights![0.25, 0.30, 0.15, 0.15, 0.10, 0.05],
            fell_back: false,
        },
        // TC4: escrow 6 under goes to 5%, which would leave the reserve at −1%, 11 points
        // short: back to target.
        TestCase {
            to: RebalanceTo::BandEdge,
            weights: weights![0.24, 0.34, 0.19, 0.19, 0.04, 0.00],
            expected: CONSERVATIVE,
            fell_back: true,
        },
    ];
    for (index, case) in cases.iter().enumerate() {
        let rule = RuleConfig::threshold(abs_band(dec!(0.05)), case.to);
        let st = state(0, 0.5);
        let decision = rule
            .decide(&st, &case.weights, &CONSERVATIVE)
            .expect("breach");
        let desired = rule.desired_weights(&decision, &st, &case.weights, &CONSERVATIVE, RESERVE);
        assert_eq!(desired.weights, case.expected, "TC{index}");
        assert_eq!(desired.fell_back_to_target, case.fell_back, "TC{index}");
    }
}

#[test]
fn f64_and_decimal_differ_only_where_f64_cannot_hold_the_weight() {
    // 0.25 − 0.20 is exactly the 5-point band in decimal, and 0.04999999999999999 in f64:
    // the live path triggers, an f64 replay of the same decimal weights does not. The
    // backtester's weights are f64 by nature (products of returns), so nothing is lost there.
    let weights = [0.25, 0.25, 0.15, 0.15, 0.10, 0.10];
    let targets = [0.20, 0.30, 0.15, 0.15, 0.10, 0.10];
    let rule = RuleConfig::threshold(Band::Absolute { points: 0.05 }, RebalanceTo::Target);
    assert!(rule.decide(&state(0, 0.5), &weights, &targets).is_none());
    let live = RuleConfig::threshold(abs_band(dec!(0.05)), RebalanceTo::Target);
    let on_edge = weights![0.25, 0.25, 0.15, 0.15, 0.10, 0.10];
    assert!(
        live.decide(&state(0, 0.5), &on_edge, &CONSERVATIVE)
            .is_some()
    );
}

fn to_f64(x: [Decimal; 6]) -> [f64; 6] {
    x.map(Weight::to_f64)
}

/// Six weights on a 1/1024 grid summing to one: exact in both f64 and Decimal.
fn dyadic_weights() -> impl Strategy<Value = [Decimal; 6]> {
    prop::array::uniform5(0u32..=300).prop_map(|five| {
        let used: u32 = five.iter().sum();
        let reserve = 1024u32.saturating_sub(used);
        let total = used + reserve;
        let mut out = [Decimal::ZERO; 6];
        for (slot, units) in out.iter_mut().zip(five.iter().chain([reserve].iter())) {
            *slot = Decimal::from(*units) / Decimal::from(total);
        }
        out
    })
}

proptest! {
    #[test]
    fn prop_buy_and_hold_never_decides(weights in dyadic_weights(), days in 0u32..100_000, vol in 0.0f64..=1.0) {
        let rule = RuleConfig::<Decimal>::buy_and_hold();
        prop_assert!(rule.decide(&state(days, vol), &weights, &CONSERVATIVE).is_none());
    }

    #[test]
    fn prop_f64_and_decimal_decide_alike_on_exact_weights(
        weights in dyadic_weights(),
        band_units in 1u32..200,
        floor in prop::option::of(1u32..60),
        days in 0u32..90,
    ) {
        // Targets and band on the same dyadic grid (1/1024), so both types are exact.
        let targets_dec = [dec!(0.25), dec!(0.25), dec!(0.125), dec!(0.125), dec!(0.125), dec!(0.125)];
        let band_dec = Decimal::from(band_units) / Decimal::from(1024);
        let st = state(days, 0.5);
        let live = RuleConfig { threshold: Some(Threshold::Fixed { band: abs_band(band_dec) }), calendar_days: floor, rebalance_to: RebalanceTo::BandEdge };
        let replay = RuleConfig { threshold: Some(Threshold::Fixed { band: Band::Absolute { points: Weight::to_f64(band_dec) } }), calendar_days: floor, rebalance_to: RebalanceTo::BandEdge };
        let weights_f = to_f64(weights);
        let targets_f = to_f64(targets_dec);
        let a = live.decide(&st, &weights, &targets_dec);
        let b = replay.decide(&st, &weights_f, &targets_f);
        prop_assert_eq!(a.map(|d| d.to), b.map(|d| d.to));
        if let (Some(a), Some(b)) = (a, b) {
            let desired_a = live.desired_weights(&a, &st, &weights, &targets_dec, RESERVE);
            let desired_b = replay.desired_weights(&b, &st, &weights_f, &targets_f, RESERVE);
            prop_assert_eq!(desired_a.fell_back_to_target, desired_b.fell_back_to_target);
            for (x, y) in to_f64(desired_a.weights).iter().zip(desired_b.weights.iter()) {
                prop_assert!((x - y).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn prop_a_wider_band_breaches_whenever_a_narrower_one_does_not_conversely(
        weights in dyadic_weights(),
        narrow_units in 1u32..100,
        extra_units in 0u32..100,
    ) {
        // At one check, a breach of the wider band is a breach of the narrower one.
        let narrow = Decimal::from(narrow_units) / Decimal::from(1024);
        let wide = narrow + Decimal::from(extra_units) / Decimal::from(1024);
        let st = state(0, 0.5);
        let n = RuleConfig::threshold(abs_band(narrow), RebalanceTo::Target).decide(&st, &weights, &CONSERVATIVE);
        let w = RuleConfig::threshold(abs_band(wide), RebalanceTo::Target).decide(&st, &weights, &CONSERVATIVE);
        prop_assert!(w.is_none() || n.is_some());
    }

    #[test]
    fn prop_band_edge_weights_sum_to_the_targets_sum(weights in dyadic_weights(), band_units in 10u32..150) {
        let band = Decimal::from(band_units) / Decimal::from(1000);
        let rule = RuleConfig::threshold(abs_band(band), RebalanceTo::BandEdge);
        let st = state(0, 0.5);
        if let Some(decision) = rule.decide(&st, &weights, &CONSERVATIVE) {
            let desired = rule.desired_weights(&decision, &st, &weights, &CONSERVATIVE, RESERVE);
            let sum: Decimal = desired.weights.iter().sum();
            prop_assert_eq!(sum, Decimal::ONE);
            // Every non-hub service ends inside or on its band.
            for (index, w) in desired.weights.iter().enumerate().take(RESERVE) {
                prop_assert!((*w - CONSERVATIVE[index]).abs() <= band);
            }
        }
    }
}
