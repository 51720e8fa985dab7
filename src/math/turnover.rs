//! Turnover-aware weights: stay near a method's ideal weights without paying for every wiggle.
//!
//! Given the ideal weights `w*` of a method and the current weights `c`, it solves the convex QP
//!
//! ```text
//! minimize  ½‖w − w*‖² + λ·Σᵢ|wᵢ − cᵢ|
//! subject to  Σw = 1,  lo ≤ w ≤ hi,  ½Σᵢ|wᵢ − cᵢ| ≤ T
//! ```
//!
//! with `|wᵢ − cᵢ|` carried by auxiliary variables `tᵢ ≥ ±(wᵢ − cᵢ)`, by clarabel. The penalty
//! `λ` is in weight units: without the cap and the bounds, each weight moves toward its ideal by
//! its gap minus `λ` (soft thresholding), so gaps smaller than the penalty are not traded. `T` caps
//! the fraction of the portfolio one solve may move (half the sum of absolute changes, the
//! backtest's "amount moved"). This is skfolio's `transaction_costs` (an L1 cost on the change
//! from `previous_weights`) and `max_turnover` applied as a step after the method rather than
//! inside its objective, so it works the same for every method, risk parity included (whose
//! objective is not a QP).
//!
//! # Invariants
//! - With `λ = 0` and `T ≥ 1` the ideal weights come back untouched (no solve).
//! - The result respects the bounds, sums to 1 within [`super::BUDGET_TOLERANCE`], and moves at
//!   most `T` (to solver precision, then clamped); an unreachable cap (the bounds need more) is
//!   [`MathError::InfeasibleBounds`] naming `max_turnover`.

use clarabel::{algebra::CscMatrix, solver::SupportedConeT::*};

use super::{MathError, WeightBounds, finalize_weights, qp::run_clarabel};

/// Turnover-aware weights and how far they moved.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TurnoverAware {
    /// The weights.
    pub weights: Vec<f64>,
    /// Half the sum of |weights − current|: the fraction of the portfolio they move.
    pub turnover: f64,
    /// The same for the ideal weights.
    pub ideal_turnover: f64,
}

/// Half the sum of absolute differences: the fraction of a portfolio moved from `a` to `b`.
pub fn turnover_between(a: &[f64], b: &[f64]) -> f64 {
    0.5 * a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum::<f64>()
}

/// The turnover-aware weights near `ideal` from `current` (see the module docs).
///
/// # Errors
/// [`MathError::InvalidArgument`] for lengths that differ, a negative or non-finite penalty, a
/// cap outside (0, 1] or current weights that are not finite; [`MathError::InfeasibleBounds`]
/// when the cap cannot reach the bounds; clarabel's errors.
pub fn turnover_aware(
    ideal: &[f64],
    current: &[f64],
    bounds: &WeightBounds,
    penalty: f64,
    max_turnover: f64,
) -> Result<TurnoverAware, MathError> {
    let n = ideal.len();
    bounds.check_len(n)?;
    let invalid = |name: &str, reason: String| MathError::InvalidArgument {
        name: name.into(),
        reason,
    };
    if current.len() != n {
        return Err(invalid(
            "current weights",
            format!("{} weights for {n} assets", current.len()),
        ));
    }
    if current.iter().chain(ideal).any(|w| !w.is_finite()) {
        return Err(invalid("current weights", "not all finite".into()));
    }
    if !(penalty.is_finite() && penalty >= 0.0) {
        return Err(invalid(
            "turnover_penalty",
            format!("{penalty} must be a non-negative number"),
        ));
    }
    if !(max_turnover.is_finite() && max_turnover > 0.0 && max_turnover <= 1.0) {
        return Err(invalid(
            "max_turnover",
            format!("{max_turnover} must be in (0, 1]"),
        ));
    }
    let ideal_turnover = turnover_between(ideal, current);
    if penalty == 0.0 && max_turnover >= 1.0 {
        return Ok(TurnoverAware {
            weights: ideal.to_vec(),
            turnover: ideal_turnover,
            ideal_turnover,
        });
    }
    let x = solve(ideal, current, bounds, penalty, max_turnover)?;
    let weights = finalize_weights(x[..n].to_vec(), bounds.lo(), bounds.hi())?;
    let turnover = turnover_between(&weights, current);
    // Interior-point precision: a hair over the cap is the solver's, anything more is not.
    if turnover > max_turnover + 1e-6 {
        return Err(MathError::InvalidResult(format!(
            "turnover {turnover} exceeds max_turnover {max_turnover}"
        )));
    }
    Ok(TurnoverAware {
        weights,
        turnover,
        ideal_turnover,
    })
}

/// The QP over `x = (w, t)` in clarabel's form: rows `Ax + s = b`, `s` in the cones.
fn solve(
    ideal: &[f64],
    current: &[f64],
    bounds: &WeightBounds,
    penalty: f64,
    max_turnover: f64,
) -> Result<Vec<f64>, MathError> {
    let n = ideal.len();
    let (lo, hi) = (bounds.lo(), bounds.hi());
    // P = [I 0; 0 0] (upper triangle, CSC), q = (−w*, λ·1).
    let p = CscMatrix::new(
        2 * n,
        2 * n,
        (0..=2 * n).map(|j| j.min(n)).collect(),
        (0..n).collect(),
        vec![1.0; n],
    );
    let mut q: Vec<f64> = ideal.iter().map(|w| -w).collect();
    q.extend(std::iter::repeat_n(penalty, n));
    // Rows: 0: Σw = 1 (zero cone); then, non-negative: w ≤ hi (1..=n), −w ≤ −lo, w − t ≤ c,
    // −w − t ≤ −c, ½Σt ≤ T.
    let rows = 2 + 4 * n;
    let mut colptr = vec![0];
    let mut rowval = Vec::new();
    let mut nzval = Vec::new();
    for j in 0..n {
        for (row, value) in [
            (0, 1.0),
            (1 + j, 1.0),
            (1 + n + j, -1.0),
            (1 + 2 * n + j, 1.0),
            (1 + 3 * n + j, -1.0),
        ] {
            rowval.push(row);
            nzval.push(value);
        }
        colptr.push(rowval.len());
    }
    for j in 0..n {
        for (row, value) in [
            (1 + 2 * n + j, -1.0),
            (1 + 3 * n + j, -1.0),
            (rows - 1, 0.5),
        ] {
            rowval.push(row);
            nzval.push(value);
        }
        colptr.push(rowval.len());
    }
    let a = CscMatrix::new(rows, 2 * n, colptr, rowval, nzval);
    let mut b = vec![1.0];
    b.extend_from_slice(hi);
    b.extend(lo.iter().map(|l| -l));
    b.extend_from_slice(current);
    b.extend(current.iter().map(|c| -c));
    b.push(max_turnover);
    let cones = [ZeroConeT(1), NonnegativeConeT(rows - 1)];
    run_clarabel(&p, &q, &a, &b, &cones).map_err(|e| match e {
        MathError::InfeasibleBounds(_) => MathError::InfeasibleBounds(format!(
            "max_turnover {max_turnover} cannot bring the current weights within the bounds"
        )),
        other => other,
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn bounds(n: usize) -> WeightBounds {
        WeightBounds::uniform(n, 0.0, 1.0).expect("bounds")
    }

    #[test]
    fn penalty_and_cap_act_as_documented() {
        struct TestCase {
            penalty: f64,
            max_turnover: f64,
            expected: [f64; 3],
        }
        let ideal = [0.6, 0.3, 0.1];
        let current = [0.2, 0.4, 0.4];
        let cases = [
            // TC0: both off: the ideal weights.
            TestCase {
                penalty: 0.0,
                max_turnover: 1.0,
                expected: [0.6, 0.3, 0.1],
            },
            // TC1: the cap binds: the first asset gains 0.2 (half the sum of changes), and the
            // two decreases close their gaps to the ideal evenly (-0.1 → 0, -0.3 → -0.2).
            TestCase {
                penalty: 0.0,
                max_turnover: 0.2,
                expected: [0.4, 0.4, 0.2],
            },
            // TC2: a penalty larger than every gap keeps the current weights.
            TestCase {
                penalty: 1.0,
                max_turnover: 1.0,
                expected: [0.2, 0.4, 0.4],
            },
        ];
        for (i, case) in cases.iter().enumerate() {
            let got = turnover_aware(
                &ideal,
                &current,
                &bounds(3),
                case.penalty,
                case.max_turnover,
            )
            .unwrap_or_else(|e| panic!("TC{i}: {e}"));
            for (g, w) in got.weights.iter().zip(case.expected) {
                assert!((g - w).abs() < 1e-5, "TC{i}: {:?}", got.weights);
            }
            assert!((got.ideal_turnover - 0.4).abs() < 1e-12, "TC{i}");
        }
    }

    #[test]
    fn an_unreachable_cap_names_max_turnover() {
        // The first asset holds 90% and may hold at most 50%: 40% must move.
        let b = WeightBounds::uniform(2, 0.0, 0.5).expect("bounds");
        let err = turnover_aware(&[0.5, 0.5], &[0.9, 0.1], &b, 0.0, 0.1).expect_err("infeasible");
        assert!(err.to_string().contains("max_turnover"), "{err}");
        let err = turnover_aware(&[0.5, 0.5], &[0.5, 0.5], &b, -1.0, 1.0).expect_err("bad");
        assert!(err.to_string().contains("turnover_penalty"), "{err}");
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

        /// Within bounds, summing to 1, never beyond the cap, never further from the ideal
        /// than the current weights are.
        #[test]
        fn prop_results_are_feasible(
            raw_ideal in prop::array::uniform4(0.01_f64..1.0),
            raw_current in prop::array::uniform4(0.01_f64..1.0),
            penalty in 0.0_f64..0.2,
            cap in 0.05_f64..1.0,
        ) {
            let norm = |r: [f64; 4]| { let s: f64 = r.iter().sum(); r.map(|x| x / s) };
            let (ideal, current) = (norm(raw_ideal), norm(raw_current));
            let got = turnover_aware(&ideal, &current, &bounds(4), penalty, cap);
            prop_assert!(got.is_ok(), "{:?}", got);
            let got = got.unwrap_or_else(|_| unreachable!());
            prop_assert!((got.weights.iter().sum::<f64>() - 1.0).abs() <= 1e-12);
            prop_assert!(got.weights.iter().all(|w| (0.0..=1.0).contains(w)));
            prop_assert!(got.turnover <= cap + 1e-6);
            let dist = |w: &[f64]| w.iter().zip(&ideal).map(|(a, b)| (a - b).powi(2)).sum::<f64>();
            prop_assert!(dist(&got.weights) <= dist(&current) + 1e-9);
        }
    }
}
