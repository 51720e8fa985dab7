//! Markowitz portfolios under weight bounds and the budget: minimum variance, maximum Sharpe,
//! a target return, a target risk, and the general mean–variance trade-off.
//!
//! All of them are points of one parametric family, `minimize ½wᵀΣw − t·μᵀw` over
//! `{Σw = 1, lo ≤ w ≤ hi}` for some `t ≥ 0` (the efficient frontier): minimum variance is
//! `t = 0`; a target return or risk is the `t` where `μᵀw(t)` or `wᵀΣw(t)` reaches it; and the
//! maximum-Sharpe portfolio is the `t` where `t·(μᵀw − rf) = wᵀΣw` — the KKT conditions of the
//! Sharpe ratio under the budget, rescaled, are those of the family at that `t` (the same fact the
//! change of variables `y = κw` exploits). `qp` solves the family exactly by an
//! active-set method on the critical line; clarabel (on the convex reformulations, max-Sharpe by
//! `y = κw`) is the fallback for degenerate inputs and the cross-check in tests
//! (`*_clarabel` functions).
//!
//! # Invariants
//! - Returned weights respect the bounds exactly and sum to 1 within
//!   [`super::BUDGET_TOLERANCE`]; every float in a result is finite.
//! - Target returns below the minimum-variance return are refused: that part of the curve is
//!   inefficient (more risk for less return).

pub use super::qp::SolverPath;
use super::{
    MarketModel, MathError, WeightBounds, check_finite, check_non_negative, finalize_weights,
    qp::{
        ActiveSetSolver, Fail, PathRoot, Problem, Segment, Side, W_TOL, clarabel_box_qp,
        clarabel_max_sharpe, max_return_portfolio,
    },
};

/// An optimized portfolio.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Allocation {
    /// Weights in the model's asset order.
    pub weights: Vec<f64>,
    /// Annualized expected return.
    pub expected_return: f64,
    /// Annualized volatility.
    pub volatility: f64,
    /// The solver that produced the weights.
    pub solver: SolverPath,
    /// The frontier parameter `t` (risk tolerance: 0 is minimum variance), when known.
    pub risk_tolerance: Option<f64>,
}

impl Allocation {
    /// The allocation at risk tolerance `t` on the active-set path segment `seg`, which
    /// `solver` found: every structured result is built this way.
    fn on_segment(
        model: &MarketModel,
        bounds: &WeightBounds,
        seg: &Segment,
        t: f64,
        solver: SolverPath,
    ) -> Result<Self, MathError> {
        Self::build(model, bounds, seg.weights_at(t), solver, Some(t))
    }

    fn build(
        model: &MarketModel,
        bounds: &WeightBounds,
        weights: Vec<f64>,
        solver: SolverPath,
        risk_tolerance: Option<f64>,
    ) -> Result<Self, MathError> {
        let weights = finalize_weights(weights, bounds.lo(), bounds.hi())?;
        let stats = model.stats(&weights, 0.0);
        if !stats.expected_return.is_finite() || !stats.volatility.is_finite() {
            return Err(MathError::InvalidResult(
                "portfolio statistics are not finite".into(),
            ));
        }
        Ok(Allocation {
            weights,
            expected_return: stats.expected_return,
            volatility: stats.volatility,
            solver,
            risk_tolerance,
        })
    }
}

pub(crate) fn problem<'a>(
    model: &'a MarketModel,
    bounds: &'a WeightBounds,
) -> Result<Problem<'a>, MathError> {
    bounds.check_len(model.len())?;
    Ok(Problem {
        n: model.len(),
        h: model.cov().as_slice(),
        mu: model.mean(),
        lo: bounds.lo(),
        hi: bounds.hi(),
    })
}

/// The one feasible portfolio when the bounds leave no choice (one asset, or Σlo = 1, or
/// Σhi = 1), else `None`.
pub(crate) fn forced_portfolio(bounds: &WeightBounds) -> Option<Vec<f64>> {
    let sum_lo: f64 = bounds.lo().iter().sum();
    let sum_hi: f64 = bounds.hi().iter().sum();
    if bounds.len() == 1 {
        Some(vec![1.0])
    } else if (sum_lo - 1.0).abs() <= W_TOL {
        Some(bounds.lo().to_vec())
    } else if (sum_hi - 1.0).abs() <= W_TOL {
        Some(bounds.hi().to_vec())
    } else {
        None
    }
}

/// The active set read off a (slightly inexact) interior-point solution.
fn side_of(w: &[f64], lo: &[f64], hi: &[f64]) -> Vec<Side> {
    w.iter()
        .zip(lo.iter().zip(hi))
        .map(|(&x, (&l, &h))| {
            let tol = 1e-7 * (h - l).max(1e-3);
            if x <= l + tol {
                Side::Lower
            } else if x >= h - tol {
                Side::Upper
            } else {
                Side::Free
            }
        })
        .collect()
}

/// Minimizes `½wᵀΣw − t·μᵀw` (the frontier point of risk tolerance `t ≥ 0`).
///
/// # Errors
/// [`MathError::InvalidArgument`] for a negative or non-finite `t`, dimension errors, and solver
/// failures of the general path.
pub fn mean_variance(
    model: &MarketModel,
    bounds: &WeightBounds,
    t: f64,
) -> Result<Allocation, MathError> {
    check_non_negative("risk tolerance", t)?;
    let p = problem(model, bounds)?;
    if let Some(w) = forced_portfolio(bounds) {
        return Allocation::build(model, bounds, w, SolverPath::ClosedForm, Some(t));
    }
    let mut solver = ActiveSetSolver::new(p);
    let start = solver.warm_start(t);
    match solver.solve_at(t, start) {
        Ok(seg) => Allocation::on_segment(model, bounds, &seg, t, SolverPath::ActiveSet),
        Err(_) => {
            let c: Vec<f64> = model.mean().iter().map(|m| -t * m).collect();
            let x = clarabel_box_qp(p.n, p.h, &c, p.lo, p.hi, &[])?;
            match solver.solve_at(t, side_of(&x, p.lo, p.hi)) {
                Ok(seg) => {
                    Allocation::on_segment(model, bounds, &seg, t, SolverPath::ClarabelPolished)
                }
                Err(_) => Allocation::build(model, bounds, x, SolverPath::Clarabel, Some(t)),
            }
        }
    }
}

/// The minimum-variance portfolio under the bounds.
///
/// # Errors
/// As [`mean_variance`].
pub fn min_variance(model: &MarketModel, bounds: &WeightBounds) -> Result<Allocation, MathError> {
    mean_variance(model, bounds, 0.0)
}

/// The highest expected return the bounds allow and a portfolio achieving it.
///
/// # Errors
/// Dimension errors.
pub fn max_return(
    model: &MarketModel,
    bounds: &WeightBounds,
) -> Result<(Vec<f64>, f64), MathError> {
    bounds.check_len(model.len())?;
    Ok(max_return_portfolio(model.mean(), bounds.lo(), bounds.hi()))
}

/// Scale of expected returns, for relative tolerances on return targets.
fn mu_scale(model: &MarketModel) -> f64 {
    model
        .mean()
        .iter()
        .fold(0.0f64, |m, x| m.max(x.abs()))
        .max(f64::MIN_POSITIVE)
}

/// Minimum-variance start of every path search: `t = 0`.
fn path_start(solver: &mut ActiveSetSolver<'_>) -> Result<Segment, Fail> {
    let start = solver.warm_start(0.0);
    solver.solve_at(0.0, start)
}

/// The maximum-Sharpe (tangency) portfolio at risk-free rate `rf` under the bounds.
///
/// # Errors
/// [`MathError::NoExcessReturn`] when no feasible portfolio earns more than `rf`;
/// solver failures of the general path.
pub fn max_sharpe(
    model: &MarketModel,
    bounds: &WeightBounds,
    rf: f64,
) -> Result<Allocation, MathError> {
    check_finite("risk-free rate", rf)?;
    let p = problem(model, bounds)?;
    check_excess_return(&p, rf)?;
    if let Some(w) = forced_portfolio(bounds) {
        return Allocation::build(model, bounds, w, SolverPath::ClosedForm, None);
    }
    let mut solver = ActiveSetSolver::new(p);
    // On a segment g(t) = t(μᵀw − rf) − wᵀΣw is linear: the identity bᵀΣb = μᵀb (which holds
    // on every segment) cancels the t² terms, so the root is t = A / (α − rf − 2B).
    let root = |s: &Segment| {
        let denom = s.ret_a - rf - 2.0 * s.var_ab;
        if denom > 0.0 {
            PathRoot::At(s.var_aa / denom)
        } else {
            PathRoot::Nowhere
        }
    };
    let residual = |s: &Segment, t: f64| t * (s.ret_at(t) - rf) - s.var_at(t);
    // Start near the tangency: with Σ replaced by its diagonal the tangency's risk tolerance is
    // 1 / Σᵢ (μᵢ − rf)⁺ / σᵢ², and the joint iteration corrects the rest.
    let inv: f64 = (0..p.n)
        .map(|i| (p.mu[i] - rf).max(0.0) / p.h[i * p.n + i].max(f64::MIN_POSITIVE))
        .sum();
    let t0 = if inv > 0.0 && inv.is_finite() {
        1.0 / inv
    } else {
        p.t_scale()
    };
    let side0 = solver.warm_start(t0);
    let structured = solver.solve_joint(t0, side0, &root).or_else(|_| {
        path_start(&mut solver).and_then(|seg0| solver.find_on_path(0.0, seg0, &root, &residual))
    });
    match structured {
        Ok((t, seg)) => Allocation::on_segment(model, bounds, &seg, t, SolverPath::ActiveSet),
        Err(_) => {
            let x = clarabel_max_sharpe(p.n, p.h, p.mu, rf, p.lo, p.hi)?;
            let polished = solver
                .segment(side_of(&x, p.lo, p.hi))
                .ok()
                .and_then(|seg| match root(&seg) {
                    PathRoot::At(t) if seg.valid_at(&p, t) => Some((t, seg)),
                    _ => None,
                });
            match polished {
                Some((t, seg)) => {
                    Allocation::on_segment(model, bounds, &seg, t, SolverPath::ClarabelPolished)
                }
                None => Allocation::build(model, bounds, x, SolverPath::Clarabel, None),
            }
        }
    }
}

/// The minimum-variance portfolio with expected return `target` (between the minimum-variance
/// portfolio's return and the highest achievable).
///
/// # Errors
/// [`MathError::TargetOutOfReach`] outside that range; solver failures of the general path.
pub fn target_return(
    model: &MarketModel,
    bounds: &WeightBounds,
    target: f64,
) -> Result<Allocation, MathError> {
    let p = problem(model, bounds)?;
    check_finite("target return", target)?;
    let (_, r_max) = max_return_portfolio(p.mu, p.lo, p.hi);
    let tol = 1e-12 * mu_scale(model);
    if target > r_max + tol {
        return Err(MathError::TargetOutOfReach(format!(
            "expected return {target} is above the highest the bounds allow, {r_max}"
        )));
    }
    if let Some(w) = forced_portfolio(bounds) {
        let r = model.stats(&w, 0.0).expected_return;
        if (r - target).abs() > tol {
            return Err(MathError::TargetOutOfReach(format!(
                "the bounds allow one portfolio only, with expected return {r}, not {target}"
            )));
        }
        return Allocation::build(model, bounds, w, SolverPath::ClosedForm, None);
    }
    let mut solver = ActiveSetSolver::new(p);
    let structured = path_start(&mut solver).map(|seg0| {
        let r0 = seg0.ret_at(0.0);
        (r0, solve_target_return(&mut solver, 0.0, seg0, target, tol))
    });
    match structured {
        Ok((r0, _)) if target < r0 - tol => Err(MathError::TargetOutOfReach(format!(
            "expected return {target} is below the minimum-variance portfolio's {r0}: that part of the curve is inefficient"
        ))),
        Ok((_, Ok((t, seg)))) => {
            Allocation::on_segment(model, bounds, &seg, t, SolverPath::ActiveSet)
        }
        _ => target_return_clarabel(model, bounds, target),
    }
}

/// Walks from `(t0, seg0)` to the frontier point of return `target`.
pub(crate) fn solve_target_return(
    solver: &mut ActiveSetSolver<'_>,
    t0: f64,
    seg0: Segment,
    target: f64,
    tol: f64,
) -> Result<(f64, Segment), Fail> {
    let root = move |s: &Segment| {
        if s.ret_b > 0.0 {
            PathRoot::At((target - s.ret_a) / s.ret_b)
        } else if (s.ret_a - target).abs() <= tol {
            PathRoot::Anywhere
        } else {
            PathRoot::Nowhere
        }
    };
    let residual = move |s: &Segment, t: f64| {
        let r = s.ret_at(t) - target;
        if r.abs() <= tol { 0.0 } else { r }
    };
    if residual(&seg0, t0) >= 0.0 {
        return Ok((t0, seg0));
    }
    solver.find_on_path(t0, seg0, &root, &residual)
}

/// The minimum-variance portfolio with volatility `target_vol` on the efficient frontier.
///
/// # Errors
/// [`MathError::TargetOutOfReach`] below the minimum variance or above the risk of the
/// highest-return end of the frontier; solver failures.
pub fn target_risk(
    model: &MarketModel,
    bounds: &WeightBounds,
    target_vol: f64,
) -> Result<Allocation, MathError> {
    let p = problem(model, bounds)?;
    check_non_negative("target volatility", target_vol)?;
    if let Some(w) = forced_portfolio(bounds) {
        let vol = model.stats(&w, 0.0).volatility;
        if (vol - target_vol).abs() > 1e-12 * vol.max(target_vol).max(f64::MIN_POSITIVE) {
            return Err(MathError::TargetOutOfReach(format!(
                "the bounds allow one portfolio only, with volatility {vol}, not {target_vol}"
            )));
        }
        return Allocation::build(model, bounds, w, SolverPath::ClosedForm, None);
    }
    let s2 = target_vol * target_vol;
    let mut solver = ActiveSetSolver::new(p);
    let seg0 = path_start(&mut solver).map_err(|f| fail_error("target-risk", f))?;
    let var0 = seg0.var_at(0.0);
    let tol = 1e-12 * var0.max(s2).max(f64::MIN_POSITIVE);
    if s2 < var0 - tol {
        return Err(MathError::TargetOutOfReach(format!(
            "volatility {target_vol} is below the minimum variance portfolio's {}",
            var0.sqrt()
        )));
    }
    let root = |s: &Segment| {
        if s.var_bb > 0.0 {
            let disc = (s.var_ab * s.var_ab - s.var_bb * (s.var_aa - s2)).max(0.0);
            PathRoot::At((-s.var_ab + disc.sqrt()) / s.var_bb)
        } else if s.var_ab > 0.0 {
            PathRoot::At((s2 - s.var_aa) / (2.0 * s.var_ab))
        } else if (s.var_aa - s2).abs() <= tol {
            PathRoot::Anywhere
        } else {
            PathRoot::Nowhere
        }
    };
    let residual = |s: &Segment, t: f64| {
        let r = s.var_at(t) - s2;
        if r.abs() <= tol { 0.0 } else { r }
    };
    let (t, seg) = if residual(&seg0, 0.0) >= 0.0 {
        (0.0, seg0)
    } else {
        match solver.find_on_path(0.0, seg0, &root, &residual) {
            Ok(found) => found,
            Err(Fail::PathEnd) => {
                let (w_end, _) = max_return_portfolio(p.mu, p.lo, p.hi);
                return Err(MathError::TargetOutOfReach(format!(
                    "volatility {target_vol} is above the riskiest efficient portfolio's (about {})",
                    model.stats(&w_end, 0.0).volatility
                )));
            }
            Err(f) => return Err(fail_error("target-risk", f)),
        }
    };
    Allocation::on_segment(model, bounds, &seg, t, SolverPath::ActiveSet)
}

fn fail_error(what: &'static str, f: Fail) -> MathError {
    MathError::NonConvergence {
        solver: what,
        detail: format!("active-set solver: {f:?}"),
    }
}

/// General path: minimum variance by clarabel (cross-check and fallback).
///
/// # Errors
/// clarabel failures.
pub fn min_variance_clarabel(
    model: &MarketModel,
    bounds: &WeightBounds,
) -> Result<Allocation, MathError> {
    by_clarabel(model, bounds, |p| {
        clarabel_box_qp(p.n, p.h, &vec![0.0; p.n], p.lo, p.hi, &[])
    })
}

/// General path: maximum Sharpe by clarabel on the `y = κw` reformulation.
///
/// # Errors
/// [`MathError::NoExcessReturn`]; clarabel failures.
pub fn max_sharpe_clarabel(
    model: &MarketModel,
    bounds: &WeightBounds,
    rf: f64,
) -> Result<Allocation, MathError> {
    by_clarabel(model, bounds, |p| {
        check_excess_return(p, rf)?;
        clarabel_max_sharpe(p.n, p.h, p.mu, rf, p.lo, p.hi)
    })
}

/// General path: minimum variance at a target return by clarabel.
///
/// # Errors
/// clarabel failures (an unreachable target is certified infeasible).
pub fn target_return_clarabel(
    model: &MarketModel,
    bounds: &WeightBounds,
    target: f64,
) -> Result<Allocation, MathError> {
    by_clarabel(model, bounds, |p| {
        clarabel_box_qp(p.n, p.h, &vec![0.0; p.n], p.lo, p.hi, &[(p.mu, target)])
    })
}

/// The allocation of the weights `solve` finds by clarabel for the problem of `model` under
/// `bounds`: the general path of every `*_clarabel` function.
fn by_clarabel(
    model: &MarketModel,
    bounds: &WeightBounds,
    solve: impl FnOnce(&Problem<'_>) -> Result<Vec<f64>, MathError>,
) -> Result<Allocation, MathError> {
    let x = solve(&problem(model, bounds)?)?;
    Allocation::build(model, bounds, x, SolverPath::Clarabel, None)
}

/// Refuses max-Sharpe when no portfolio the bounds allow earns more than `rf`.
fn check_excess_return(p: &Problem<'_>, rf: f64) -> Result<(), MathError> {
    let (_, r_max) = max_return_portfolio(p.mu, p.lo, p.hi);
    if r_max <= rf {
        return Err(MathError::NoExcessReturn {
            rf,
            max_return: r_max,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use nalgebra::DMatrix;

    use super::*;

    fn model(mean: Vec<f64>, cov: Vec<f64>) -> MarketModel {
        let n = mean.len();
        MarketModel::unnamed(mean, DMatrix::from_vec(n, n, cov)).expect("valid model")
    }

    #[test]
    fn min_variance_cases() {
        struct TestCase {
            model: MarketModel,
            bounds: WeightBounds,
            expected: Vec<f64>,
        }
        let cases = [
            // TC0: one asset holds everything.
            TestCase {
                model: model(vec![0.1], vec![0.04]),
                bounds: WeightBounds::long_only(1),
                expected: vec![1.0],
            },
            // TC1: inverse-variance split of uncorrelated assets.
            TestCase {
                model: model(vec![0.1, 0.2], vec![1.0, 0.0, 0.0, 4.0]),
                bounds: WeightBounds::long_only(2),
                expected: vec![0.8, 0.2],
            },
            // TC2: lower bounds summing to 1 force the portfolio.
            TestCase {
                model: model(vec![0.1, 0.2], vec![1.0, 0.0, 0.0, 4.0]),
                bounds: WeightBounds::new(vec![0.4, 0.6], vec![1.0, 1.0]).expect("ok"),
                expected: vec![0.4, 0.6],
            },
            // TC3: identical assets (singular covariance) split in any way; the sum is what
            // matters, checked below, and a third cheaper asset dominates.
            TestCase {
                model: model(
                    vec![0.1, 0.1, 0.1],
                    vec![1.0, 1.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 1.0],
                ),
                bounds: WeightBounds::long_only(3),
                expected: vec![f64::NAN, f64::NAN, 0.5],
            },
        ];
        for (i, case) in cases.iter().enumerate() {
            let got = min_variance(&case.model, &case.bounds).expect("solves");
            for (w, e) in got.weights.iter().zip(&case.expected) {
                if e.is_finite() {
                    assert!((w - e).abs() < 1e-9, "TC{i}: {:?}", got.weights);
                }
            }
            assert!(
                (got.weights.iter().sum::<f64>() - 1.0).abs() <= 1e-12,
                "TC{i}"
            );
        }
    }

    #[test]
    fn max_sharpe_refuses_no_excess_return() {
        let m = model(vec![0.01, 0.02], vec![1.0, 0.0, 0.0, 1.0]);
        let err = max_sharpe(&m, &WeightBounds::long_only(2), 0.05).unwrap_err();
        assert!(matches!(err, MathError::NoExcessReturn { .. }), "{err}");
    }

    #[test]
    fn targets_round_trip() {
        let m = model(
            vec![0.05, 0.10, 0.20],
            vec![0.01, 0.002, 0.0, 0.002, 0.04, 0.01, 0.0, 0.01, 0.09],
        );
        let b = WeightBounds::uniform(3, 0.0, 0.8).expect("ok");
        let a = target_return(&m, &b, 0.12).expect("reachable");
        assert!((a.expected_return - 0.12).abs() < 1e-12);
        let c = target_return_clarabel(&m, &b, 0.12).expect("clarabel");
        for (x, y) in a.weights.iter().zip(&c.weights) {
            assert!((x - y).abs() < 1e-6);
        }
        let r = target_risk(&m, &b, a.volatility).expect("reachable");
        for (x, y) in a.weights.iter().zip(&r.weights) {
            assert!((x - y).abs() < 1e-9);
        }
        assert!(matches!(
            target_return(&m, &b, 0.5),
            Err(MathError::TargetOutOfReach(_))
        ));
        let forced = WeightBounds::new(vec![0.2, 0.3, 0.5], vec![1.0; 3]).expect("ok");
        assert!(matches!(
            target_return(&m, &forced, 0.12),
            Err(MathError::TargetOutOfReach(_))
        ));
        let far = target_risk(&m, &b, 5.0);
        assert!(
            matches!(far, Err(MathError::TargetOutOfReach(_))),
            "{far:?}"
        );
    }
}
