//! Risk budgeting: weights whose risk contributions `RCᵢ = wᵢ(Σw)ᵢ / wᵀΣw` equal given budgets
//! `bᵢ` (equal risk contribution when every `bᵢ = 1/n`), long-only.
//!
//! **Unbounded** ([`risk_budget`]): the unique solution is `x/Σx` for the minimizer `x` of the
//! strictly convex `f(x) = ½xᵀΣx − Σ bᵢ ln xᵢ` (Spinu 2013; its gradient vanishes exactly where
//! `xᵢ(Σx)ᵢ = bᵢ`). We solve it by damped Newton steps from the inverse-volatility point, which
//! converge quadratically to machine precision. From 48 assets on, cyclical coordinate descent
//! (each coordinate's 1-D minimizer is a quadratic root, Griveau-Billion et al. 2013) first
//! brings the point close, and from 160 assets on each Newton system is solved by
//! Jacobi-preconditioned conjugate gradients (`O(n²)` per iteration) instead of an `O(n³)`
//! Cholesky factorization. The article's least-squares SLSQP stops early on a tiny objective
//! and is not used.
//!
//! **Bounded** ([`risk_budget_bounded`]): budgets and bounds can conflict (a near-riskless
//! reserve wants far more than an 80% cap). We solve the constrained risk-budgeting problem of
//! Richard & Roncalli (2019): `w(λ) = argmin ½wᵀΣw − λ Σ bᵢ ln wᵢ` over the box `lo ≤ w ≤ hi`,
//! with `λ > 0` chosen so that `Σw(λ) = 1`. Its KKT conditions say exactly what holds: every
//! asset strictly inside its bounds has `wᵢ(Σw)ᵢ = λbᵢ`, so the free assets' risk contributions
//! are proportional to their budgets; an asset held at its cap carries less risk than its
//! budget, one held at its floor more. Without binding bounds it is the unbounded solution.
//!
//! **Services** ([`risk_parity_with_fixed`]): the reserve is nearly riskless, so risk parity
//! would pour most of the money into it; by default the reserve keeps its configured target and
//! the rest is split by risk parity among the risky services.
//!
//! # Invariants
//! - Budgets are positive and sum to 1 (within 1e-9) or the call is refused.
//! - Results are finite, long-only, within bounds and sum to 1 within
//!   [`super::BUDGET_TOLERANCE`]; a solve that misses its tolerance is an error, not a result.

use nalgebra::DMatrix;

use super::{
    MathError, WeightBounds, check_finite_matrix, finalize_held, finalize_weights,
    linalg::{cholesky_in_place, cholesky_solve, dot_prefix},
    risk_contributions, with_held,
};

/// Newton iterations before giving up.
const MAX_NEWTON_ITERS: usize = 100;
/// The Newton loop stops once every `|xᵢ(Σx)ᵢ/bᵢ − 1|` is below this.
const NEWTON_TOL: f64 = 1e-14;
/// Above this size, coordinate descent warms up Newton (a Newton step costs n³/3 flops).
const CCD_WARMUP_MIN_N: usize = 48;
/// From this size on, Newton systems are solved by preconditioned conjugate gradients
/// (O(n²) per iteration) instead of a Cholesky factorization (n³/3).
const NEWTON_CG_MIN_N: usize = 160;
/// Relative residual at which the coordinate-descent warm-up hands over to Newton.
const CCD_HANDOVER_TOL: f64 = 1e-4;

/// A risk-budgeting solution and its accuracy.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RiskBudgetSolution {
    /// Weights (sum to 1).
    pub weights: Vec<f64>,
    /// Risk contributions (sum to 1).
    pub risk_contributions: Vec<f64>,
    /// Largest `|RCᵢ/bᵢ − 1|` over the assets the budgets bind (all assets when unbounded, the
    /// free assets — relative to their common level — when bounded).
    pub max_rel_error: f64,
    /// Newton (or outer) iterations used.
    pub iterations: usize,
    /// Assets held at a bound (bounded solve only).
    pub at_bound: Vec<usize>,
}

fn check_budgets(n: usize, budgets: Option<&[f64]>) -> Result<Vec<f64>, MathError> {
    let Some(b) = budgets else {
        return Ok(vec![1.0 / n as f64; n]);
    };
    if b.len() != n {
        return Err(MathError::InvalidBudgets(format!(
            "{} budgets for {n} assets",
            b.len()
        )));
    }
    if let Some(i) = b.iter().position(|x| !(x.is_finite() && *x > 0.0)) {
        return Err(MathError::InvalidBudgets(format!(
            "budget {i} is {}; every budget must be positive",
            b[i]
        )));
    }
    let sum: f64 = b.iter().sum();
    if (sum - 1.0).abs() > 1e-9 {
        return Err(MathError::InvalidBudgets(format!(
            "budgets sum to {sum}, expected 1"
        )));
    }
    Ok(b.to_vec())
}

fn check_cov(cov: &DMatrix<f64>) -> Result<usize, MathError> {
    let n = cov.nrows();
    if n == 0 || cov.ncols() != n {
        return Err(MathError::Dimension(format!(
            "covariance is {}x{}",
            cov.nrows(),
            cov.ncols()
        )));
    }
    check_finite_matrix("covariance", cov)?;
    if let Some(i) = (0..n).find(|&i| !(cov[(i, i)] > 0.0)) {
        return Err(MathError::RisklessAsset { index: i });
    }
    Ok(n)
}

/// `max |xᵢ(Σx)ᵢ / bᵢ − 1|`.
fn residual(x: &[f64], sx: &[f64], b: &[f64]) -> f64 {
    x.iter()
        .zip(sx)
        .zip(b)
        .map(|((x, s), b)| (x * s / b - 1.0).abs())
        .fold(0.0, f64::max)
}

fn mat_vec_into(h: &[f64], n: usize, x: &[f64], out: &mut [f64]) {
    for (i, o) in out.iter_mut().enumerate() {
        *o = dot_prefix(&h[i * n..(i + 1) * n], x);
    }
}

#[derive(Debug)]
struct CgBuffers {
    r: Vec<f64>,
    z: Vec<f64>,
    p: Vec<f64>,
    ap: Vec<f64>,
}

impl CgBuffers {
    fn new(n: usize) -> Self {
        CgBuffers {
            r: vec![0.0; n],
            z: vec![0.0; n],
            p: vec![0.0; n],
            ap: vec![0.0; n],
        }
    }
}

/// Solves `(Σ + diag(b/x²)) d = rhs` by Jacobi-preconditioned conjugate gradients to relative
/// residual `tol` (at most 4n iterations).
#[allow(clippy::too_many_arguments)]
fn conjugate_gradient(
    h: &[f64],
    n: usize,
    b: &[f64],
    x: &[f64],
    rhs: &[f64],
    d: &mut [f64],
    tol: f64,
    cg: &mut CgBuffers,
) {
    let extra: Vec<f64> = (0..n).map(|i| b[i] / (x[i] * x[i])).collect();
    let precond: Vec<f64> = (0..n).map(|i| 1.0 / (h[i * n + i] + extra[i])).collect();
    d.iter_mut().for_each(|v| *v = 0.0);
    cg.r.copy_from_slice(rhs);
    let rhs_norm = dot_prefix(rhs, rhs).sqrt();
    for i in 0..n {
        cg.z[i] = cg.r[i] * precond[i];
    }
    cg.p.copy_from_slice(&cg.z);
    let mut rz = dot_prefix(&cg.r, &cg.z);
    for _ in 0..4 * n {
        mat_vec_into(h, n, &cg.p, &mut cg.ap);
        for i in 0..n {
            cg.ap[i] += extra[i] * cg.p[i];
        }
        let pap = dot_prefix(&cg.p, &cg.ap);
        if !(pap > 0.0) {
            break;
        }
        let alpha = rz / pap;
        for i in 0..n {
            d[i] += alpha * cg.p[i];
            cg.r[i] -= alpha * cg.ap[i];
        }
        if dot_prefix(&cg.r, &cg.r).sqrt() <= tol * rhs_norm {
            break;
        }
        for i in 0..n {
            cg.z[i] = cg.r[i] * precond[i];
        }
        let rz_new = dot_prefix(&cg.r, &cg.z);
        let beta = rz_new / rz;
        rz = rz_new;
        for i in 0..n {
            cg.p[i] = cg.z[i] + beta * cg.p[i];
        }
    }
}

/// Cyclical coordinate descent on `f` until the relative residual is below `tol` or `sweeps`
/// sweeps are done. Keeps `sx = Σx` current.
fn ccd(h: &[f64], n: usize, b: &[f64], x: &mut [f64], sx: &mut [f64], tol: f64, sweeps: usize) {
    for _ in 0..sweeps {
        for i in 0..n {
            let hii = h[i * n + i];
            // (Σx)ᵢ without the diagonal term; the 1-D minimizer solves hᵢᵢx² + cx − bᵢ = 0.
            let c = sx[i] - hii * x[i];
            let xi = (-c + (c * c + 4.0 * hii * b[i]).sqrt()) / (2.0 * hii);
            let delta = xi - x[i];
            if delta != 0.0 {
                let col = &h[i * n..(i + 1) * n];
                for (s, hk) in sx.iter_mut().zip(col) {
                    *s += delta * hk;
                }
                x[i] = xi;
            }
        }
        if residual(x, sx, b) < tol {
            return;
        }
    }
}

/// Unbounded long-only risk budgeting (equal risk contribution when `budgets` is `None`).
///
/// # Errors
/// [`MathError::InvalidBudgets`], [`MathError::RisklessAsset`] (a zero variance makes the
/// problem unbounded), [`MathError::NonConvergence`] if Newton misses its tolerance (e.g. a
/// covariance so singular that no positive portfolio balances the risks).
pub fn risk_budget(
    cov: &DMatrix<f64>,
    budgets: Option<&[f64]>,
) -> Result<RiskBudgetSolution, MathError> {
    let n = check_cov(cov)?;
    let b = check_budgets(n, budgets)?;
    let h = cov.as_slice();
    // Start from inverse volatility scaled so that xᵀΣx = Σb = 1, as at the optimum.
    let mut x: Vec<f64> = (0..n).map(|i| b[i] / h[i * n + i].sqrt()).collect();
    let mut sx = vec![0.0; n];
    mat_vec_into(h, n, &x, &mut sx);
    let scale = dot_prefix(&x, &sx).sqrt();
    if !(scale > 0.0 && scale.is_finite()) {
        return Err(MathError::NotPositiveSemidefinite(
            "the inverse-volatility portfolio has no risk".into(),
        ));
    }
    for (xi, si) in x.iter_mut().zip(sx.iter_mut()) {
        *xi /= scale;
        *si /= scale;
    }
    if n >= CCD_WARMUP_MIN_N {
        ccd(h, n, &b, &mut x, &mut sx, CCD_HANDOVER_TOL, 200);
    }
    let mut chol = if n >= NEWTON_CG_MIN_N {
        Vec::new()
    } else {
        vec![0.0; n * n]
    };
    let mut cg = CgBuffers::new(n);
    let mut d = vec![0.0; n];
    let mut trial = vec![0.0; n];
    let mut trial_sx = vec![0.0; n];
    let mut res = residual(&x, &sx, &b);
    let mut iterations = 0;
    let objective = |x: &[f64], sx: &[f64]| -> f64 {
        0.5 * dot_prefix(x, sx) - x.iter().zip(&b).map(|(x, b)| b * x.ln()).sum::<f64>()
    };
    while res > NEWTON_TOL && iterations < MAX_NEWTON_ITERS {
        iterations += 1;
        // Newton system (Σ + diag(b/x²)) d = b/x − Σx.
        for i in 0..n {
            d[i] = b[i] / x[i] - sx[i];
        }
        if n >= NEWTON_CG_MIN_N {
            // Inexact Newton: loose solves far from the optimum, tight ones for the last steps.
            let tol = if res > 1e-4 { 1e-2 } else { 1e-13 };
            let rhs = d.clone();
            conjugate_gradient(h, n, &b, &x, &rhs, &mut d, tol, &mut cg);
        } else {
            chol.copy_from_slice(h);
            for i in 0..n {
                chol[i * n + i] += b[i] / (x[i] * x[i]);
            }
            if !cholesky_in_place(&mut chol, n) {
                return Err(MathError::NonConvergence {
                    solver: "risk-parity Newton",
                    detail: "the Hessian is not positive definite".into(),
                });
            }
            cholesky_solve(&chol, n, &mut d);
        }
        // Largest step keeping x positive, then backtracking on f.
        let mut step = 1.0f64;
        for (xi, di) in x.iter().zip(&d) {
            if *di < 0.0 {
                step = step.min(0.95 * -xi / di);
            }
        }
        let f0 = objective(&x, &sx);
        let slope: f64 = d
            .iter()
            .zip(x.iter().zip(&sx))
            .zip(&b)
            .map(|((di, (xi, si)), bi)| di * (si - bi / xi))
            .sum();
        let mut accepted = false;
        for _ in 0..60 {
            for i in 0..n {
                trial[i] = x[i] + step * d[i];
            }
            mat_vec_into(h, n, &trial, &mut trial_sx);
            let f1 = objective(&trial, &trial_sx);
            // Near the optimum f is flat to rounding: accept any full step that does not
            // increase the residual, so the last quadratic steps are not refused by noise.
            if f1 <= f0 + 1e-4 * step * slope
                || (step == 1.0 && residual(&trial, &trial_sx, &b) <= res)
            {
                accepted = true;
                break;
            }
            step *= 0.5;
        }
        if !accepted {
            break;
        }
        std::mem::swap(&mut x, &mut trial);
        std::mem::swap(&mut sx, &mut trial_sx);
        let new_res = residual(&x, &sx, &b);
        if new_res >= res && new_res < 1e-11 {
            // Rounding floor reached: the last step no longer improves the residual.
            break;
        }
        res = new_res;
    }
    let sum: f64 = x.iter().sum();
    let w: Vec<f64> = x.iter().map(|xi| xi / sum).collect();
    let rc = risk_contributions(cov, &w);
    let max_rel_error = rc
        .iter()
        .zip(&b)
        .map(|(r, b)| (r / b - 1.0).abs())
        .fold(0.0, f64::max);
    if !(max_rel_error <= 1e-9) {
        return Err(MathError::NonConvergence {
            solver: "risk-parity Newton",
            detail: format!("risk-contribution error {max_rel_error:e} after {iterations} steps"),
        });
    }
    let lo = vec![0.0; n];
    let hi = vec![1.0; n];
    let weights = finalize_weights(w, &lo, &hi)?;
    Ok(RiskBudgetSolution {
        weights,
        risk_contributions: rc,
        max_rel_error,
        iterations,
        at_bound: Vec::new(),
    })
}

/// Coordinate descent for `min ½wᵀΣw − λΣbᵢ ln wᵢ` over the box; returns the last sweep's
/// largest relative change.
fn ccd_box(
    h: &[f64],
    n: usize,
    lb: &[f64],
    lo: &[f64],
    hi: &[f64],
    w: &mut [f64],
    sw: &mut [f64],
) -> f64 {
    let mut max_change = 0.0f64;
    for i in 0..n {
        let hii = h[i * n + i];
        let c = sw[i] - hii * w[i];
        let unconstrained = (-c + (c * c + 4.0 * hii * lb[i]).sqrt()) / (2.0 * hii);
        let wi = unconstrained.clamp(lo[i].max(f64::MIN_POSITIVE), hi[i]);
        let delta = wi - w[i];
        if delta != 0.0 {
            let col = &h[i * n..(i + 1) * n];
            for (s, hk) in sw.iter_mut().zip(col) {
                *s += delta * hk;
            }
            max_change = max_change.max((delta / wi).abs());
            w[i] = wi;
        }
    }
    max_change
}

/// Solves the inner box problem at `λ` (warm-started from `w`), returns Σw.
fn inner_box(
    h: &[f64],
    n: usize,
    b: &[f64],
    lambda: f64,
    lo: &[f64],
    hi: &[f64],
    w: &mut [f64],
) -> f64 {
    let lb: Vec<f64> = b.iter().map(|bi| lambda * bi).collect();
    let mut sw = vec![0.0; n];
    mat_vec_into(h, n, w, &mut sw);
    for _ in 0..100_000 {
        if ccd_box(h, n, &lb, lo, hi, w, &mut sw) < 1e-15 {
            break;
        }
    }
    w.iter().sum()
}

/// Risk budgeting under weight bounds: the constrained formulation in the module docs.
///
/// # Errors
/// As [`risk_budget`]; [`MathError::InfeasibleBounds`] for bounds of the wrong size;
/// [`MathError::NonConvergence`] if the budget scale `λ` cannot be bracketed.
pub fn risk_budget_bounded(
    cov: &DMatrix<f64>,
    budgets: Option<&[f64]>,
    bounds: &WeightBounds,
) -> Result<RiskBudgetSolution, MathError> {
    let n = check_cov(cov)?;
    let b = check_budgets(n, budgets)?;
    bounds.check_len(n)?;
    let (lo, hi) = (bounds.lo(), bounds.hi());
    let h = cov.as_slice();
    // Start from the unbounded solution: there w(λ) = √λ·x, so λ = 1/(Σx)² makes Σw = 1.
    let free = risk_budget(cov, Some(&b))?;
    if free
        .weights
        .iter()
        .zip(lo.iter().zip(hi))
        .all(|(w, (l, u))| w >= l && w <= u)
    {
        return Ok(free);
    }
    let mut w: Vec<f64> = free
        .weights
        .iter()
        .zip(lo.iter().zip(hi))
        .map(|(x, (l, u))| x.clamp(l.max(f64::MIN_POSITIVE), *u))
        .collect();
    let mut sw = vec![0.0; n];
    mat_vec_into(h, n, &free.weights, &mut sw);
    let lambda0 = dot_prefix(&free.weights, &sw);
    // Bracket ln λ so that Σw(λ) − 1 changes sign (Σw is increasing in λ).
    let g = |u: f64, w: &mut Vec<f64>| inner_box(h, n, &b, u.exp(), lo, hi, w) - 1.0;
    let mut u_lo = lambda0.ln();
    let mut g_lo = g(u_lo, &mut w);
    let mut u_hi = u_lo;
    let mut g_hi = g_lo;
    let mut expand = 0;
    while g_lo > 0.0 {
        u_lo -= 1.0;
        g_lo = g(u_lo, &mut w);
        expand += 1;
        if expand > 200 {
            break;
        }
    }
    while g_hi < 0.0 {
        u_hi += 1.0;
        g_hi = g(u_hi, &mut w);
        expand += 1;
        if expand > 400 {
            break;
        }
    }
    if !(g_lo <= 0.0 && g_hi >= 0.0) {
        return Err(MathError::NonConvergence {
            solver: "bounded risk budgeting",
            detail: "could not bracket the budget scale λ".into(),
        });
    }
    // Illinois regula falsi on ln λ.
    let mut iterations = 0;
    let mut side = 0i8;
    while iterations < 200 {
        iterations += 1;
        let u = if g_hi == g_lo {
            0.5 * (u_lo + u_hi)
        } else {
            u_hi - g_hi * (u_hi - u_lo) / (g_hi - g_lo)
        };
        let gu = g(u, &mut w);
        if gu.abs() <= 1e-14 || (u_hi - u_lo).abs() <= 1e-15 * u.abs().max(1.0) {
            break;
        }
        if gu < 0.0 {
            u_lo = u;
            g_lo = gu;
            if side == -1 {
                g_hi *= 0.5;
            }
            side = -1;
        } else {
            u_hi = u;
            g_hi = gu;
            if side == 1 {
                g_lo *= 0.5;
            }
            side = 1;
        }
    }
    let sum: f64 = w.iter().sum();
    let w: Vec<f64> = w.iter().map(|x| x / sum).collect();
    let weights = finalize_weights(w, lo, hi)?;
    let rc = risk_contributions(cov, &weights);
    let bound_tol = 1e-10;
    let at_bound: Vec<usize> = (0..n)
        .filter(|&i| weights[i] <= lo[i] + bound_tol || weights[i] >= hi[i] - bound_tol)
        .collect();
    // Free assets share one ratio RCᵢ/bᵢ; report how far each is from their common level.
    let ratios: Vec<f64> = (0..n)
        .filter(|i| !at_bound.contains(i))
        .map(|i| rc[i] / b[i])
        .collect();
    let level = ratios.iter().sum::<f64>() / ratios.len().max(1) as f64;
    let max_rel_error = ratios
        .iter()
        .map(|r| (r / level - 1.0).abs())
        .fold(0.0, f64::max);
    if ratios.len() > 1 && !(max_rel_error <= 1e-9) {
        return Err(MathError::NonConvergence {
            solver: "bounded risk budgeting",
            detail: format!("risk-contribution error {max_rel_error:e} among free assets"),
        });
    }
    Ok(RiskBudgetSolution {
        weights,
        risk_contributions: rc,
        max_rel_error,
        iterations,
        at_bound,
    })
}

/// Checks a held asset for [`risk_parity_with_fixed`] and its bounded form: `fixed` indexes
/// one of at least two assets of a square `cov`, and `fixed_weight` in [0, 1) leaves a
/// positive rest for the others.
fn check_held(cov: &DMatrix<f64>, fixed: usize, fixed_weight: f64) -> Result<(), MathError> {
    let n = cov.nrows();
    if fixed >= n || n < 2 || cov.ncols() != n {
        return Err(MathError::InvalidArgument {
            name: "fixed asset".into(),
            reason: format!("index {fixed} with {n} assets"),
        });
    }
    if !(fixed_weight.is_finite() && (0.0..1.0).contains(&fixed_weight)) {
        return Err(MathError::InvalidArgument {
            name: "fixed weight".into(),
            reason: format!("{fixed_weight} is outside [0, 1)"),
        });
    }
    Ok(())
}

/// The indices of the assets other than `fixed`, in order, and their covariance.
fn without_held(cov: &DMatrix<f64>, fixed: usize) -> (Vec<usize>, DMatrix<f64>) {
    let n = cov.nrows();
    let keep: Vec<usize> = (0..n).filter(|&i| i != fixed).collect();
    let sub = DMatrix::from_fn(n - 1, n - 1, |i, j| cov[(keep[i], keep[j])]);
    (keep, sub)
}

/// Holds asset `fixed` at `fixed_weight` and splits the rest by risk budgeting among the other
/// assets (`budgets`, over those assets in order, default equal) — the services default, with the
/// reserve fixed at its target.
///
/// # Errors
/// [`MathError::InvalidArgument`] for an index out of range or a weight outside [0, 1); as
/// [`risk_budget`] on the remaining assets.
pub fn risk_parity_with_fixed(
    cov: &DMatrix<f64>,
    fixed: usize,
    fixed_weight: f64,
    budgets: Option<&[f64]>,
) -> Result<RiskBudgetSolution, MathError> {
    let n = cov.nrows();
    check_held(cov, fixed, fixed_weight)?;
    let (keep, sub) = without_held(cov, fixed);
    let inner = risk_budget(&sub, budgets)?;
    let w = with_held(n, fixed, fixed_weight, &keep, &inner.weights);
    let lo = vec![0.0; n];
    let hi = vec![1.0; n];
    let weights = finalize_weights(w, &lo, &hi)?;
    let rc = risk_contributions(cov, &weights);
    Ok(RiskBudgetSolution {
        weights,
        risk_contributions: rc,
        max_rel_error: inner.max_rel_error,
        iterations: inner.iterations,
        at_bound: vec![fixed],
    })
}

/// [`risk_parity_with_fixed`] under per-asset weight bounds (over all `n` assets, the held one
/// included): the held asset must lie within its own bounds, and the others are split by
/// constrained risk budgeting ([`risk_budget_bounded`]) under their bounds rescaled to the
/// remaining `1 − fixed_weight` — exactly the bounds on the final weights, since each final
/// weight is `(1 − fixed_weight)` times its share of the rest.
///
/// # Errors
/// [`MathError::InfeasibleBounds`] when the held weight lies outside its bounds or the others'
/// bounds cannot fill the rest; as [`risk_parity_with_fixed`] and [`risk_budget_bounded`].
pub fn risk_parity_with_fixed_bounded(
    cov: &DMatrix<f64>,
    fixed: usize,
    fixed_weight: f64,
    budgets: Option<&[f64]>,
    bounds: &WeightBounds,
) -> Result<RiskBudgetSolution, MathError> {
    let n = cov.nrows();
    bounds.check_len(n)?;
    check_held(cov, fixed, fixed_weight)?;
    let (lo, hi) = (bounds.lo(), bounds.hi());
    if fixed_weight < lo[fixed] || fixed_weight > hi[fixed] {
        return Err(MathError::InfeasibleBounds(format!(
            "held asset {fixed} at {fixed_weight} is outside its bounds [{}, {}]",
            lo[fixed], hi[fixed]
        )));
    }
    let (keep, sub) = without_held(cov, fixed);
    let sub_bounds = bounds.for_the_rest(&keep, fixed, fixed_weight)?;
    let inner = risk_budget_bounded(&sub, budgets, &sub_bounds)?;
    let w = with_held(n, fixed, fixed_weight, &keep, &inner.weights);
    let weights = finalize_held(w, bounds, fixed, fixed_weight)?;
    let rc = risk_contributions(cov, &weights);
    let mut at_bound: Vec<usize> = inner.at_bound.iter().map(|&k| keep[k]).collect();
    at_bound.push(fixed);
    at_bound.sort_unstable();
    Ok(RiskBudgetSolution {
        weights,
        risk_contributions: rc,
        max_rel_error: inner.max_rel_error,
        iterations: inner.iterations,
        at_bound,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_risk_contribution_cases() {
        struct TestCase {
            cov: Vec<f64>,
            budgets: Option<Vec<f64>>,
            expected: Result<Vec<f64>, &'static str>,
        }
        let cases = [
            // TC0: uncorrelated: weights ∝ 1/σ.
            TestCase {
                cov: vec![1.0, 0.0, 0.0, 4.0],
                budgets: None,
                expected: Ok(vec![2.0 / 3.0, 1.0 / 3.0]),
            },
            // TC1: uncorrelated with budgets: wᵢ ∝ √bᵢ/σᵢ.
            TestCase {
                cov: vec![1.0, 0.0, 0.0, 1.0],
                budgets: Some(vec![0.8, 0.2]),
                expected: Ok(vec![2.0 / 3.0, 1.0 / 3.0]),
            },
            // TC2: a riskless asset is refused.
            TestCase {
                cov: vec![1.0, 0.0, 0.0, 0.0],
                budgets: None,
                expected: Err("zero variance"),
            },
            // TC3: budgets not summing to 1.
            TestCase {
                cov: vec![1.0, 0.0, 0.0, 1.0],
                budgets: Some(vec![0.5, 0.6]),
                expected: Err("sum to"),
            },
            // TC4: a non-positive budget.
            TestCase {
                cov: vec![1.0, 0.0, 0.0, 1.0],
                budgets: Some(vec![1.0, 0.0]),
                expected: Err("positive"),
            },
        ];
        for (i, case) in cases.iter().enumerate() {
            let cov = DMatrix::from_vec(2, 2, case.cov.clone());
            match (risk_budget(&cov, case.budgets.as_deref()), &case.expected) {
                (Ok(s), Ok(want)) => {
                    for (w, e) in s.weights.iter().zip(want) {
                        assert!((w - e).abs() < 1e-12, "TC{i}: {:?}", s.weights);
                    }
                    assert!(s.max_rel_error <= 1e-12, "TC{i}");
                }
                (Err(e), Err(needle)) => assert!(e.to_string().contains(needle), "TC{i}: {e}"),
                (got, want) => panic!("TC{i}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn bounded_caps_the_low_risk_asset() {
        // Asset 2 has 1/100 the volatility: unbounded ERC puts ~99% in it.
        let cov = DMatrix::from_row_slice(3, 3, &[1.0, 0.2, 0.0, 0.2, 1.0, 0.0, 0.0, 0.0, 1e-4]);
        let bounds = WeightBounds::uniform(3, 0.01, 0.8).expect("ok");
        let s = risk_budget_bounded(&cov, None, &bounds).expect("solves");
        assert!((s.weights[2] - 0.8).abs() < 1e-12, "{:?}", s.weights);
        assert!((s.weights.iter().sum::<f64>() - 1.0).abs() <= 1e-12);
        // The two free assets are symmetric, so they split the rest evenly.
        assert!((s.weights[0] - s.weights[1]).abs() < 1e-9);
        assert!(s.max_rel_error <= 1e-8);
    }

    #[test]
    fn fixed_reserve_keeps_its_target() {
        let cov = DMatrix::from_row_slice(3, 3, &[1.0, 0.0, 0.0, 0.0, 4.0, 0.0, 0.0, 0.0, 1e-6]);
        let s = risk_parity_with_fixed(&cov, 2, 0.1, None).expect("solves");
        assert!((s.weights[2] - 0.1).abs() < 1e-15);
        assert!((s.weights[0] - 0.6).abs() < 1e-12, "{:?}", s.weights);
    }

    #[test]
    fn fixed_reserve_under_bounds() {
        struct TestCase {
            lo: f64,
            hi: f64,
            expected: Result<(), &'static str>,
        }
        // Asset 0 has 1/4 the variance of asset 1: unbounded, it takes 2/3 of the rest (0.6).
        let cov = DMatrix::from_row_slice(3, 3, &[1.0, 0.0, 0.0, 0.0, 4.0, 0.0, 0.0, 0.0, 1e-6]);
        let cases = [
            // TC0: loose bounds: the unbounded answer.
            TestCase {
                lo: 0.01,
                hi: 0.80,
                expected: Ok(()),
            },
            // TC1: a 0.5 cap binds on asset 0; asset 1 takes the rest.
            TestCase {
                lo: 0.01,
                hi: 0.50,
                expected: Ok(()),
            },
            // TC2: the held 0.1 is below the floor.
            TestCase {
                lo: 0.15,
                hi: 0.80,
                expected: Err("outside its bounds"),
            },
            // TC3: the others cannot fill 0.9 under a 0.4 cap.
            TestCase {
                lo: 0.0,
                hi: 0.40,
                expected: Err("cannot fill"),
            },
        ];
        for (i, case) in cases.iter().enumerate() {
            let bounds = WeightBounds::uniform(3, case.lo, case.hi).expect("bounds");
            match (
                risk_parity_with_fixed_bounded(&cov, 2, 0.1, None, &bounds),
                case.expected,
            ) {
                (Ok(s), Ok(())) => {
                    assert_eq!(s.weights[2], 0.1, "TC{i}");
                    assert!(
                        (s.weights.iter().sum::<f64>() - 1.0).abs() <= 1e-12,
                        "TC{i}"
                    );
                    let want0 = 0.6f64.min(case.hi);
                    assert!(
                        (s.weights[0] - want0).abs() < 1e-9,
                        "TC{i}: {:?}",
                        s.weights
                    );
                    assert!(s.weights.iter().all(|w| *w >= case.lo && *w <= case.hi));
                }
                (Err(e), Err(needle)) => assert!(e.to_string().contains(needle), "TC{i}: {e}"),
                (got, want) => panic!("TC{i}: got {got:?}, want {want:?}"),
            }
        }
    }
}
