//! The efficient frontier under weight bounds: `points` portfolios evenly spaced in expected
//! return from the minimum-variance portfolio's return to the highest return the bounds allow,
//! each the minimum-variance portfolio at its return.
//!
//! The article's loop asks for returns up to 0.95·max μ, which bounds can make infeasible (it
//! silently lost 8 of 50 points on the services); spanning the achievable range instead makes
//! every point feasible. Points come from one walk up Markowitz's critical line
//! (`qp`): consecutive targets usually lie on the same line segment, where the point is
//! read off in closed form, and a segment change costs one warm-started active-set step.
//!
//! # Invariants
//! - Exactly `points` points, in increasing expected return; the first is the minimum-variance
//!   portfolio and the last reaches the highest achievable return.
//! - Every point respects the bounds exactly and sums to 1 within [`super::BUDGET_TOLERANCE`].

use super::{
    MarketModel, MathError, WeightBounds, finalize_weights,
    markowitz::{
        SolverPath, forced_portfolio, problem, solve_target_return, target_return_clarabel,
    },
    qp::{ActiveSetSolver, max_return_portfolio},
};

/// One point of the frontier.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FrontierPoint {
    /// Annualized expected return (the target of this point).
    pub expected_return: f64,
    /// Annualized volatility.
    pub volatility: f64,
    /// Weights in the model's asset order.
    pub weights: Vec<f64>,
}

/// The frontier and how it was computed.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Frontier {
    /// Points in increasing expected return.
    pub points: Vec<FrontierPoint>,
    /// The solver that produced the points.
    pub solver: SolverPath,
}

/// `points` evenly spaced return targets from `r0` to `r1`, computed as numpy's `linspace` does
/// (start + k·step, last exactly `r1`), so that targets match the reference data bit for bit.
fn linspace(r0: f64, r1: f64, points: usize) -> Vec<f64> {
    if points == 1 {
        return vec![r0];
    }
    let step = (r1 - r0) / (points - 1) as f64;
    let mut out: Vec<f64> = (0..points).map(|k| r0 + k as f64 * step).collect();
    if let Some(last) = out.last_mut() {
        *last = r1;
    }
    out
}

/// Most points a frontier may have: far more than a plot or a table can show, and a bound on
/// the memory it takes (points × assets weights).
pub const MAX_FRONTIER_POINTS: usize = 10_000;

/// The efficient frontier with `points` points (1 to [`MAX_FRONTIER_POINTS`]) under `bounds`.
///
/// # Errors
/// [`MathError::InvalidArgument`] for zero points or more than [`MAX_FRONTIER_POINTS`];
/// dimension errors; solver failures of the general path.
pub fn efficient_frontier(
    model: &MarketModel,
    bounds: &WeightBounds,
    points: usize,
) -> Result<Frontier, MathError> {
    if points == 0 || points > MAX_FRONTIER_POINTS {
        return Err(MathError::InvalidArgument {
            name: "points".into(),
            reason: format!(
                "{points} points: the frontier takes 1 to {MAX_FRONTIER_POINTS} points"
            ),
        });
    }
    let p = problem(model, bounds)?;
    let point = |w: Vec<f64>, target: f64| -> Result<FrontierPoint, MathError> {
        let weights = finalize_weights(w, bounds.lo(), bounds.hi())?;
        let stats = model.stats(&weights, 0.0);
        Ok(FrontierPoint {
            expected_return: target,
            volatility: stats.volatility,
            weights,
        })
    };
    if let Some(w) = forced_portfolio(bounds) {
        let r = model.stats(&w, 0.0).expected_return;
        let pts = (0..points)
            .map(|_| point(w.clone(), r))
            .collect::<Result<_, _>>()?;
        return Ok(Frontier {
            points: pts,
            solver: SolverPath::ClosedForm,
        });
    }
    let (_, r_max) = max_return_portfolio(p.mu, p.lo, p.hi);
    let tol = 1e-12
        * p.mu
            .iter()
            .fold(0.0f64, |m, x| m.max(x.abs()))
            .max(f64::MIN_POSITIVE);
    let mut solver = ActiveSetSolver::new(p);
    let structured = (|| {
        let start = solver.warm_start(0.0);
        let seg0 = solver.solve_at(0.0, start).ok()?;
        let r0 = seg0.ret_at(0.0);
        let targets = linspace(r0, r_max.max(r0), points);
        let mut out = Vec::with_capacity(points);
        out.push(point(seg0.weights_at(0.0), r0));
        let (mut t, mut seg) = (0.0, seg0);
        for &target in &targets[1..] {
            let (t_next, seg_next) = solve_target_return(&mut solver, t, seg, target, tol).ok()?;
            out.push(point(seg_next.weights_at(t_next), target));
            t = t_next;
            seg = seg_next;
        }
        Some(out)
    })();
    if let Some(pts) = structured {
        let pts = pts.into_iter().collect::<Result<Vec<_>, _>>()?;
        return Ok(Frontier {
            points: pts,
            solver: SolverPath::ActiveSet,
        });
    }
    // General path: one clarabel solve per point.
    let r0 = super::markowitz::min_variance_clarabel(model, bounds)?.expected_return;
    let pts = linspace(r0, r_max.max(r0), points)
        .into_iter()
        .map(|target| {
            let a = target_return_clarabel(model, bounds, target)?;
            point(a.weights, target)
        })
        .collect::<Result<_, _>>()?;
    Ok(Frontier {
        points: pts,
        solver: SolverPath::Clarabel,
    })
}

#[cfg(test)]
mod tests {
    use nalgebra::DMatrix;

    use super::*;

    #[test]
    fn frontier_spans_the_achievable_range() {
        struct TestCase {
            points: usize,
            hi: f64,
        }
        let model = MarketModel::unnamed(
            vec![0.05, 0.10, 0.20, 0.02],
            DMatrix::from_row_slice(
                4,
                4,
                &[
                    0.010, 0.002, 0.000, 0.000, //
                    0.002, 0.040, 0.010, 0.000, //
                    0.000, 0.010, 0.090, 0.000, //
                    0.000, 0.000, 0.000, 0.001,
                ],
            ),
        )
        .expect("valid");
        let cases = [
            // TC0: long-only, uncapped: the last point is all in the best asset.
            TestCase {
                points: 50,
                hi: 1.0,
            },
            // TC1: capped at 0.4: the article's 0.95·max μ would be infeasible.
            TestCase {
                points: 20,
                hi: 0.4,
            },
            // TC2: a single point is the minimum-variance portfolio.
            TestCase { points: 1, hi: 0.5 },
        ];
        for (i, case) in cases.iter().enumerate() {
            let bounds = WeightBounds::uniform(4, 0.0, case.hi).expect("ok");
            let f = efficient_frontier(&model, &bounds, case.points).expect("frontier");
            assert_eq!(f.points.len(), case.points, "TC{i}");
            let (_, r_max) = max_return_portfolio(model.mean(), bounds.lo(), bounds.hi());
            if case.points > 1 {
                let last = f.points.last().expect("points");
                assert!((last.expected_return - r_max).abs() < 1e-12, "TC{i}");
            }
            for pt in &f.points {
                let stats = model.stats(&pt.weights, 0.0);
                assert!(
                    (stats.expected_return - pt.expected_return).abs() < 1e-9,
                    "TC{i}"
                );
                assert!(
                    (pt.weights.iter().sum::<f64>() - 1.0).abs() <= 1e-12,
                    "TC{i}"
                );
            }
        }
    }
}
