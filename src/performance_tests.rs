//! Hand-computed metrics on small series, the degenerate cases, and the warnings.

use proptest::prelude::*;

use super::*;

fn day(value_usdc: f64, target_return: f64, bh: f64) -> DailyObservation {
    DailyObservation {
        value_usdc,
        target_return,
        buy_and_hold_value_usdc: bh,
        ..DailyObservation::default()
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * b.abs().max(1.0)
}

#[test]
fn two_days_by_hand() {
    // From 100: +10% (target portfolio +5%, buy-and-hold 105), then a rebalance moving 10
    // at a cost of 0.01 that ends the day at 99 (−10%; target −5%, buy-and-hold 100).
    let series = [
        day(110.0, 0.05, 105.0),
        DailyObservation {
            moved_usdc: 10.0,
            cost_usdc: 0.01,
            rebalanced: true,
            outside_band: true,
            ..day(99.0, -0.05, 100.0)
        },
    ];
    let m = metrics_of(100.0, &series, 0.045);
    let sqrt365 = 365f64.sqrt();
    assert_eq!(m.days, 2);
    assert_eq!(m.rebalances, 1);
    assert!(close(m.annual_rebalances, 182.5));
    assert_eq!(m.days_outside_band, 1);
    // Active returns +0.05 and −0.05: sample std √0.005.
    assert!(close(m.tracking_error.unwrap(), 0.005f64.sqrt() * sqrt365));
    // Returns +0.1 and −0.1: sample std √0.02, mean 0.
    assert!(close(m.volatility.unwrap(), 0.02f64.sqrt() * sqrt365));
    assert!(close(
        m.sharpe.unwrap(),
        -0.045 / (0.02f64.sqrt() * sqrt365)
    ));
    // Growth 1.1 × 0.9 = 0.99 over two days; buy-and-hold ends flat.
    let annual = 0.99f64.powf(182.5) - 1.0;
    assert!(close(m.annual_return.unwrap(), annual));
    assert!(close(m.buy_and_hold_annual_return.unwrap(), 0.0));
    assert!(close(m.rebalancing_alpha.unwrap(), annual));
    assert!(close(m.annual_turnover, 10.0 / 99.01 * 182.5));
    assert!(close(m.cost_drag, 0.01 / 99.01 * 182.5));
    // Peak 1.1, then 0.99: 10% below it.
    assert!(close(m.max_drawdown, 0.1));
    assert!(m.degenerate.is_empty());
}

#[test]
fn degenerate_statistics_are_named_not_invented() {
    struct TestCase {
        series: Vec<DailyObservation>,
        expected: Vec<Degenerate>,
        sharpe_is_none: bool,
    }
    let constant: Vec<DailyObservation> = (1..=30)
        .map(|i| {
            let v = 100.0 * 1.001f64.powi(i);
            day(v, 0.001, v)
        })
        .collect();
    let cases = [
        // TC0: no day: nothing can be estimated.
        TestCase {
            series: vec![],
            expected: vec![
                Degenerate::TooFewDays {
                    statistic: "tracking_error",
                    days: 0,
                    needed: 2,
                },
                Degenerate::TooFewDays {
                    statistic: "volatility",
                    days: 0,
                    needed: 2,
                },
                Degenerate::TooFewDays {
                    statistic: "annual_return",
                    days: 0,
                    needed: 1,
                },
                Degenerate::TooFewDays {
                    statistic: "buy_and_hold",
                    days: 0,
                    needed: 1,
                },
            ],
            sharpe_is_none: true,
        },
        // TC1: one day: a return, no standard deviation.
        TestCase {
            series: vec![day(101.0, 0.01, 101.0)],
            expected: vec![
                Degenerate::TooFewDays {
                    statistic: "tracking_error",
                    days: 1,
                    needed: 2,
                },
                Degenerate::TooFewDays {
                    statistic: "volatility",
                    days: 1,
                    needed: 2,
                },
            ],
            sharpe_is_none: true,
        },
        // TC2: a constant 0.1% a day: Sharpe is not 5e16 but missing, with the reason.
        TestCase {
            series: constant,
            expected: vec![Degenerate::ConstantReturns {
                statistic: "sharpe",
            }],
            sharpe_is_none: true,
        },
        // TC3: wiped out: no annual return.
        TestCase {
            series: vec![day(50.0, 0.0, 50.0), day(0.0, 0.0, 40.0)],
            expected: vec![Degenerate::Ruined {
                statistic: "annual_return",
            }],
            sharpe_is_none: false,
        },
    ];
    for (index, case) in cases.iter().enumerate() {
        let m = metrics_of(100.0, &case.series, 0.0);
        assert_eq!(m.degenerate, case.expected, "TC{index}");
        assert_eq!(m.sharpe.is_none(), case.sharpe_is_none, "TC{index}");
        if let Some(s) = m.sharpe {
            assert!(s.is_finite() && s.abs() < 1e6, "TC{index}: {s}");
        }
    }
}

#[test]
fn flows_are_not_returns() {
    // 100 in, 100 paid in on day one with no market move: a 0% day, not +100%.
    let series = [DailyObservation {
        flow_usdc: 100.0,
        ..day(200.0, 0.0, 200.0)
    }];
    let m = metrics_of(100.0, &series, 0.0);
    assert!(close(m.annual_return.unwrap(), 0.0));
    assert!(close(m.rebalancing_alpha.unwrap(), 0.0));
}

#[test]
fn warnings_follow_the_article_ranges() {
    struct TestCase {
        tracking_error: Option<f64>,
        annual_turnover: f64,
        rebalancing_alpha: Option<f64>,
        cost_drag: f64,
        expected: Vec<&'static str>,
    }
    let cases = [
        // TC0: all inside the good ranges.
        TestCase {
            tracking_error: Some(0.02),
            annual_turnover: 0.6,
            rebalancing_alpha: Some(0.01),
            cost_drag: 0.001,
            expected: vec![],
        },
        // TC1: all outside (turnover too high).
        TestCase {
            tracking_error: Some(0.05),
            annual_turnover: 1.5,
            rebalancing_alpha: Some(0.001),
            cost_drag: 0.004,
            expected: vec![
                "tracking_error_high",
                "turnover_high",
                "alpha_low",
                "cost_drag_high",
            ],
        },
        // TC2: turnover too low; missing statistics raise nothing.
        TestCase {
            tracking_error: None,
            annual_turnover: 0.1,
            rebalancing_alpha: None,
            cost_drag: 0.0,
            expected: vec!["turnover_low"],
        },
    ];
    for (index, case) in cases.iter().enumerate() {
        let mut m = metrics_of(100.0, &[day(100.0, 0.0, 100.0)], 0.0);
        m.tracking_error = case.tracking_error;
        m.annual_turnover = case.annual_turnover;
        m.rebalancing_alpha = case.rebalancing_alpha;
        m.cost_drag = case.cost_drag;
        let kinds: Vec<String> = range_warnings(&m)
            .iter()
            .map(|w| {
                serde_json::to_value(w).unwrap()["kind"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        assert_eq!(kinds, case.expected, "TC{index}");
    }
    let text = RangeWarning::CostDragHigh {
        value: 0.004,
        limit: COST_DRAG_MAX,
    }
    .to_string();
    assert_eq!(
        text,
        "cost drag 0.40% is not below 0.30%: increase the minimum trade size"
    );
}

proptest! {
    #[test]
    fn prop_incremental_equals_whole_series_and_stays_in_range(
        steps in prop::collection::vec((-0.5f64..0.5, -0.5f64..0.5, 0.0f64..50.0), 0..60)
    ) {
        let mut value = 100.0;
        let mut bh = 100.0;
        let series: Vec<DailyObservation> = steps.iter().map(|(r, t, moved)| {
            value *= 1.0 + r;
            bh *= 1.0 + t;
            DailyObservation { moved_usdc: *moved, cost_usdc: moved * 0.001, rebalanced: *moved > 25.0, ..day(value, *t, bh) }
        }).collect();
        let whole = metrics_of(100.0, &series, 0.045);
        let mut acc = MetricsAccumulator::new(100.0);
        for d in &series {
            acc.push(d);
        }
        prop_assert_eq!(&acc.metrics(0.045), &whole);
        prop_assert!((0.0..=1.0).contains(&whole.max_drawdown));
        prop_assert!(whole.annual_turnover >= 0.0 && whole.cost_drag >= 0.0);
        prop_assert!(whole.tracking_error.is_none_or(|te| te >= 0.0));
    }
}
