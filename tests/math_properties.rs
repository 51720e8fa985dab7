//! Property tests of the portfolio math over random and degenerate inputs: singular covariance
//! (fewer factors than assets, identical assets), one asset, huge and tiny scales. Every call
//! either returns finite weights within bounds summing to 1 within 1e-12, or a typed error —
//! never a panic, never NaN.

mod property_tests {
    use ballast::math::{
        MarketModel, MathError, WeightBounds,
        frontier::efficient_frontier,
        kelly::{binary_kelly, kelly_portfolio},
        markowitz::{max_sharpe, min_variance, min_variance_clarabel, target_return},
        returns::ReturnsTable,
        risk_parity::{risk_budget, risk_budget_bounded},
    };
    use nalgebra::DMatrix;
    use proptest::prelude::*;

    /// A random market: `n` assets driven by `k` factors plus idiosyncratic variance `idio`
    /// (zero makes the covariance singular when k < n), optionally with asset 0 duplicated,
    /// all scaled by `scale`.
    #[derive(Debug, Clone)]
    struct Market {
        model: MarketModel,
        bounds: WeightBounds,
    }

    fn market() -> impl Strategy<Value = Market> {
        (1usize..8, 1usize..4, any::<bool>(), any::<bool>(), -8i32..8)
            .prop_flat_map(|(n, k, singular, duplicate, exp)| {
                (
                    Just((n, k, singular, duplicate, exp)),
                    prop::collection::vec(-1.0f64..1.0, n * k),
                    prop::collection::vec(0.0f64..1.0, n),
                    prop::collection::vec(-0.5f64..0.5, n),
                    0.0f64..1.0,
                    0.0f64..1.0,
                )
            })
            .prop_map(
                |((n, k, singular, duplicate, exp), loads, idio, mu, lo_frac, hi_frac)| {
                    let scale = 10f64.powi(exp);
                    let mut cov = DMatrix::from_fn(n, n, |i, j| {
                        (0..k)
                            .map(|f| loads[i * k + f] * loads[j * k + f])
                            .sum::<f64>()
                    });
                    if !singular {
                        for i in 0..n {
                            cov[(i, i)] += 0.01 + idio[i];
                        }
                    }
                    let mut mu = mu;
                    if duplicate && n > 1 {
                        for j in 0..n {
                            let v = cov[(0, j)];
                            cov[(1, j)] = v;
                            cov[(j, 1)] = v;
                        }
                        cov[(1, 1)] = cov[(0, 0)];
                        mu[1] = mu[0];
                    }
                    let cov = cov * scale;
                    let lo = lo_frac / n as f64;
                    let hi = (1.0 / n as f64 + hi_frac).min(1.0);
                    Market {
                        model: MarketModel::unnamed(mu, cov).expect("valid model"),
                        bounds: WeightBounds::uniform(n, lo, hi).expect("feasible bounds"),
                    }
                },
            )
    }

    fn assert_valid(w: &[f64], bounds: &WeightBounds) -> Result<(), TestCaseError> {
        prop_assert!(w.iter().all(|x| x.is_finite()), "non-finite {w:?}");
        for (i, x) in w.iter().enumerate() {
            prop_assert!(
                *x >= bounds.lo()[i] && *x <= bounds.hi()[i],
                "bound {i}: {w:?}"
            );
        }
        let sum: f64 = w.iter().sum();
        prop_assert!((sum - 1.0).abs() <= 1e-12, "sum {sum}");
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(96))]

        #[test]
        fn prop_min_variance_is_feasible_and_optimal(m in market()) {
            match min_variance(&m.model, &m.bounds) {
                Ok(a) => {
                    assert_valid(&a.weights, &m.bounds)?;
                    if let Ok(c) = min_variance_clarabel(&m.model, &m.bounds) {
                        // Never worse than the interior-point solution (beyond its tolerance).
                        let scale = m.model.cov().amax().max(f64::MIN_POSITIVE);
                        prop_assert!(
                            a.volatility.powi(2) <= c.volatility.powi(2) + 1e-7 * scale,
                            "{} vs clarabel {}", a.volatility, c.volatility
                        );
                    }
                }
                Err(e) => prop_assert!(!e.to_string().is_empty()),
            }
        }

        #[test]
        fn prop_max_sharpe_is_feasible(m in market(), rf in -0.2f64..0.3) {
            match max_sharpe(&m.model, &m.bounds, rf) {
                Ok(a) => assert_valid(&a.weights, &m.bounds)?,
                Err(MathError::NoExcessReturn { .. }) => {}
                Err(e) => prop_assert!(!e.to_string().is_empty()),
            }
        }

        #[test]
        fn prop_frontier_points_are_feasible(m in market(), points in 1usize..12) {
            if let Ok(f) = efficient_frontier(&m.model, &m.bounds, points) {
                prop_assert_eq!(f.points.len(), points);
                for p in &f.points {
                    assert_valid(&p.weights, &m.bounds)?;
                    prop_assert!(p.volatility.is_finite());
                }
            }
        }

        #[test]
        fn prop_target_return_meets_its_target(m in market(), frac in 0.0f64..1.0) {
            if let Ok(mv) = min_variance(&m.model, &m.bounds) {
                let (_, r_max) = ballast::math::markowitz::max_return(&m.model, &m.bounds)
                    .expect("dims");
                let target = mv.expected_return + frac * (r_max - mv.expected_return);
                if let Ok(a) = target_return(&m.model, &m.bounds, target) {
                    assert_valid(&a.weights, &m.bounds)?;
                    let scale = m.model.mean().iter().fold(1e-300f64, |s, x| s.max(x.abs()));
                    prop_assert!((a.expected_return - target).abs() <= 1e-8 * scale.max(1.0));
                }
            }
        }

        #[test]
        fn prop_risk_parity_balances_or_refuses(m in market()) {
            match risk_budget(m.model.cov(), None) {
                Ok(s) => {
                    assert_valid(&s.weights, &WeightBounds::long_only(m.model.len()))?;
                    prop_assert!(s.max_rel_error <= 1e-9, "RC error {}", s.max_rel_error);
                }
                Err(e) => prop_assert!(!e.to_string().is_empty()),
            }
            if let Ok(s) = risk_budget_bounded(m.model.cov(), None, &m.bounds) {
                assert_valid(&s.weights, &m.bounds)?;
            }
        }

        #[test]
        fn prop_kelly_portfolio_is_feasible(m in market(), mult in 0.01f64..1.0) {
            if let Ok(k) = kelly_portfolio(&m.model, &m.bounds, 0.045, mult) {
                assert_valid(&k.allocation.weights, &m.bounds)?;
                prop_assert!(k.growth_rate.is_finite());
            }
        }

        #[test]
        fn prop_binary_kelly_stakes_within_bankroll(
            p in -0.5f64..1.5, odds in -1.0f64..10.0, mult in -0.5f64..1.5, bankroll in 0.0f64..1e9
        ) {
            if let Ok(k) = binary_kelly(p, odds, mult, bankroll) {
                prop_assert!(k.fraction > 0.0 && k.fraction <= 1.0);
                prop_assert!(k.stake <= bankroll && k.stake.is_finite());
            }
        }

        #[test]
        fn prop_ledoit_wolf_is_finite(
            n in 1usize..6, rows in 2usize..20, seed in prop::collection::vec(-0.2f64..0.2, 120)
        ) {
            let data: Vec<f64> = (0..rows * n).map(|i| seed[i % seed.len()] * (1.0 + i as f64 * 1e-3)).collect();
            let names = (0..n).map(|i| format!("a{i}")).collect();
            let table = ReturnsTable::new(names, data).expect("valid table");
            let lw = table.ledoit_wolf();
            let s = lw.shrinkage.expect("shrinkage");
            prop_assert!((0.0..=1.0).contains(&s), "shrinkage {s}");
            prop_assert!(lw.cov.iter().all(|v| v.is_finite()));
        }

        #[test]
        fn prop_csv_parser_never_panics(text in "[a-c0-9,.\\-\nNa]{0,80}") {
            let _ = ReturnsTable::from_csv(&text);
        }
    }
}
