//! The structured solver behind Markowitz, the efficient frontier and multi-asset Kelly: the
//! parametric quadratic program
//!
//! ```text
//! minimize ½ wᵀΣw − t·μᵀw   subject to   Σᵢ wᵢ = 1,   loᵢ ≤ wᵢ ≤ hiᵢ,   t ≥ 0
//! ```
//!
//! For a fixed *active set* (which assets sit at which bound) the solution is affine in `t`:
//! `w(t) = a + t·b` — Markowitz's critical line. One Cholesky factorization of the free block
//! gives the whole line, its multipliers and the scalars that every driver needs (`μᵀw`,
//! `wᵀΣw` as polynomials in `t`). On top of that:
//! - [`ActiveSetSolver::solve_at`] solves for one `t` by a primal–dual active-set iteration
//!   (Hintermüller–Ito–Kunisch), warm-started from a pairwise coordinate descent (SMO) from a
//!   greedy vertex so that the free block factored stays near the size of the final free set.
//! - [`ActiveSetSolver::find_on_path`] walks the critical line to the `t` where some scalar
//!   condition holds (a return, a risk, the tangency of max-Sharpe), solving that condition in
//!   closed form on each line segment and keeping a bracket in `t`, so it ends on an exact KKT
//!   point rather than near one.
//! - [`ActiveSetSolver::solve_joint`] moves `t` and the active set together (a semismooth
//!   Newton step on the pair per factorization); max-Sharpe starts there from a diagonal
//!   estimate of the tangency and falls back to the path walk if it cycles.
//! - Each line is solved from residual right-hand sides with one refinement step, because the
//!   path multiplies `b` by `t` (10⁴ and more on ill-conditioned inputs).
//! - [`clarabel_box_qp`] and [`clarabel_max_sharpe`] are the general interior-point path: the
//!   fallback when the structured solver meets a singular free block or cycles, and the
//!   cross-check in tests.
//!
//! # Invariants
//! - A [`Segment`] returned by the solver is primal and dual feasible at the `t` it was solved
//!   for (within [`W_TOL`] and a relative [`Z_TOL_REL`]); it never holds NaN.
//! - Matrices are dense, symmetric, stored column-major by nalgebra — so column `j` is row `j`.
//! - Assets with `lo == hi` never become free (they are fixed).

use clarabel::{
    algebra::CscMatrix,
    solver::{DefaultSettingsBuilder, DefaultSolver, IPSolver, SolverStatus, SupportedConeT::*},
};

use super::{
    MathError,
    linalg::{cholesky_in_place, cholesky_solve, dot_prefix},
};

/// Weight tolerance for primal feasibility of an active set (weights are O(1)).
pub(crate) const W_TOL: f64 = 1e-12;
/// Multiplier sign tolerance relative to the problem's gradient scale.
pub(crate) const Z_TOL_REL: f64 = 1e-11;
/// Primal–dual active-set iterations before the solver gives up on a start (it then falls back).
const MAX_PDAS_ITERS: usize = 100;
/// Joint (t, active set) iterations before [`ActiveSetSolver::solve_joint`] gives up.
const MAX_JOINT_ITERS: usize = 12;
/// Segments visited by a path search before it gives up.
const MAX_PATH_STEPS: usize = 400;

/// Which solver produced a result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SolverPath {
    /// The structured active-set (critical line) solver: an exact KKT point.
    ActiveSet,
    /// clarabel's interior point, then polished to an exact KKT point by the active-set solver.
    ClarabelPolished,
    /// clarabel's interior point alone (degenerate problems, e.g. a singular covariance).
    Clarabel,
    /// A closed form (single asset, bounds leaving one feasible point, ...).
    ClosedForm,
}

impl SolverPath {
    /// The kebab-case name used in JSON and diagnostics.
    pub const fn name(self) -> &'static str {
        match self {
            SolverPath::ActiveSet => "active-set",
            SolverPath::ClarabelPolished => "clarabel-polished",
            SolverPath::Clarabel => "clarabel",
            SolverPath::ClosedForm => "closed-form",
        }
    }
}

/// Where an asset sits in an active set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    Lower,
    Upper,
    Free,
}

/// Why the structured solver gave up (the caller then takes the general path).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fail {
    /// The free block of Σ is singular (e.g. identical assets both free).
    Singular,
    /// Every asset at a bound but the bounds do not sum to 1.
    NoFreeAsset,
    /// The active-set iteration did not settle.
    Cycling,
    /// The path search did not bracket its condition.
    PathStalled,
    /// The critical line ends (the maximum-return portfolio) before the condition holds.
    PathEnd,
}

/// The problem data, borrowed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Problem<'a> {
    pub n: usize,
    /// Σ, n×n, symmetric.
    pub h: &'a [f64],
    /// μ, the reward per unit of `t`.
    pub mu: &'a [f64],
    pub lo: &'a [f64],
    pub hi: &'a [f64],
}

impl Problem<'_> {
    fn col(&self, j: usize) -> &[f64] {
        &self.h[j * self.n..(j + 1) * self.n]
    }

    /// Scale of the gradient at parameter `t`, for relative multiplier tolerances.
    fn grad_scale(&self, t: f64) -> f64 {
        let h_max = (0..self.n)
            .map(|i| self.h[i * self.n + i])
            .fold(0.0f64, f64::max);
        let mu_max = self.mu.iter().fold(0.0f64, |m, x| m.max(x.abs()));
        (h_max + t.abs() * mu_max).max(f64::MIN_POSITIVE)
    }

    /// The `t` scale at which risk and reward terms are comparable.
    pub(crate) fn t_scale(&self) -> f64 {
        let h_max = (0..self.n)
            .map(|i| self.h[i * self.n + i])
            .fold(0.0f64, f64::max);
        let mu_max = self.mu.iter().fold(0.0f64, |m, x| m.max(x.abs()));
        if mu_max > 0.0 && h_max > 0.0 {
            h_max / mu_max
        } else {
            1.0
        }
    }
}

/// The critical-line segment of one active set: `w(t) = a + t·b`, bound multipliers
/// `z(t) = za + t·zb` (zero on free assets; ≥ 0 required at lower bounds, ≤ 0 at upper bounds),
/// and `μᵀw = ret_a + t·ret_b`, `wᵀΣw = var_aa + 2t·var_ab + t²·var_bb`.
#[derive(Debug, Clone)]
pub(crate) struct Segment {
    pub side: Vec<Side>,
    pub a: Vec<f64>,
    pub b: Vec<f64>,
    pub za: Vec<f64>,
    pub zb: Vec<f64>,
    pub ret_a: f64,
    pub ret_b: f64,
    pub var_aa: f64,
    pub var_ab: f64,
    pub var_bb: f64,
}

impl Segment {
    pub(crate) fn weights_at(&self, t: f64) -> Vec<f64> {
        self.a.iter().zip(&self.b).map(|(a, b)| a + t * b).collect()
    }

    pub(crate) fn ret_at(&self, t: f64) -> f64 {
        self.ret_a + t * self.ret_b
    }

    pub(crate) fn var_at(&self, t: f64) -> f64 {
        (self.var_aa + 2.0 * t * self.var_ab + t * t * self.var_bb).max(0.0)
    }

    /// Whether this active set is optimal at `t` (primal and dual feasible within tolerance).
    pub(crate) fn valid_at(&self, p: &Problem<'_>, t: f64) -> bool {
        if !t.is_finite() || t < 0.0 {
            return false;
        }
        let z_tol = Z_TOL_REL * p.grad_scale(t);
        // The budget holds by construction; if rounding amplified by a large t broke it, this
        // point is not trustworthy and the caller falls back to the general path.
        let sum: f64 = self.a.iter().zip(&self.b).map(|(a, b)| a + t * b).sum();
        if (sum - 1.0).abs() > 1e-10 {
            return false;
        }
        self.side.iter().enumerate().all(|(i, side)| match side {
            Side::Free => {
                let w = self.a[i] + t * self.b[i];
                w >= p.lo[i] - W_TOL && w <= p.hi[i] + W_TOL
            }
            Side::Lower => self.za[i] + t * self.zb[i] >= -z_tol,
            Side::Upper => self.za[i] + t * self.zb[i] <= z_tol,
        })
    }
}

impl Segment {
    /// The first `t > t_cur` where this active set stops being optimal going up: a free asset
    /// reaches a bound or a bound multiplier changes sign. `None` when the line never ends.
    pub(crate) fn next_kink(&self, p: &Problem<'_>, t_cur: f64) -> Option<f64> {
        let mut best = f64::INFINITY;
        let mut consider = |t: f64| {
            if t.is_finite() && t > t_cur && t < best {
                best = t;
            }
        };
        for (i, side) in self.side.iter().enumerate() {
            match side {
                Side::Free if self.b[i] < 0.0 => consider((p.lo[i] - self.a[i]) / self.b[i]),
                Side::Free if self.b[i] > 0.0 => consider((p.hi[i] - self.a[i]) / self.b[i]),
                Side::Lower if self.zb[i] < 0.0 && p.lo[i] < p.hi[i] => {
                    consider(-self.za[i] / self.zb[i]);
                }
                Side::Upper if self.zb[i] > 0.0 => consider(-self.za[i] / self.zb[i]),
                _ => {}
            }
        }
        best.is_finite().then_some(best)
    }

    /// The last `t < t_cur` where this active set starts being optimal (going down), if any.
    pub(crate) fn prev_kink(&self, p: &Problem<'_>, t_cur: f64) -> Option<f64> {
        let mut best = f64::NEG_INFINITY;
        let mut consider = |t: f64| {
            if t.is_finite() && t < t_cur && t > best {
                best = t;
            }
        };
        for (i, side) in self.side.iter().enumerate() {
            match side {
                Side::Free if self.b[i] > 0.0 => consider((p.lo[i] - self.a[i]) / self.b[i]),
                Side::Free if self.b[i] < 0.0 => consider((p.hi[i] - self.a[i]) / self.b[i]),
                Side::Lower if self.zb[i] > 0.0 && p.lo[i] < p.hi[i] => {
                    consider(-self.za[i] / self.zb[i]);
                }
                Side::Upper if self.zb[i] < 0.0 => consider(-self.za[i] / self.zb[i]),
                _ => {}
            }
        }
        (best.is_finite() && best >= 0.0).then_some(best)
    }
}

/// What a path condition says about one segment.
#[derive(Debug, Clone, Copy)]
pub(crate) enum PathRoot {
    /// The condition holds at this `t` on this segment's line.
    At(f64),
    /// The condition holds on the whole segment (e.g. a flat stretch at the maximum return).
    Anywhere,
    /// No root on this segment's line.
    Nowhere,
}

/// Reusable buffers, so a solve allocates a handful of vectors rather than one per iteration.
#[derive(Debug, Default)]
struct Workspace {
    free: Vec<usize>,
    chol: Vec<f64>,
    u: Vec<f64>,
    v: Vec<f64>,
    e: Vec<f64>,
    rhs_u: Vec<f64>,
}

/// The active-set solver over one problem.
#[derive(Debug)]
pub(crate) struct ActiveSetSolver<'a> {
    pub p: Problem<'a>,
    ws: Workspace,
    /// Factorizations done so far (for diagnostics and benchmarks).
    pub factorizations: usize,
}

impl<'a> ActiveSetSolver<'a> {
    pub(crate) fn new(p: Problem<'a>) -> Self {
        ActiveSetSolver {
            p,
            ws: Workspace::default(),
            factorizations: 0,
        }
    }

    /// The critical-line segment of the active set `side`.
    pub(crate) fn segment(&mut self, side: Vec<Side>) -> Result<Segment, Fail> {
        let p = self.p;
        let n = p.n;
        let ws = &mut self.ws;
        ws.free.clear();
        ws.free.extend((0..n).filter(|&i| side[i] == Side::Free));
        let k = ws.free.len();
        let mut a = vec![0.0; n];
        let mut fixed_sum = 0.0;
        for i in 0..n {
            match side[i] {
                Side::Lower => a[i] = p.lo[i],
                Side::Upper => a[i] = p.hi[i],
                Side::Free => {}
            }
            fixed_sum += a[i];
        }
        let mut b = vec![0.0; n];
        let (nu_a, nu_b);
        if k == 0 {
            if (fixed_sum - 1.0).abs() > W_TOL {
                return Err(Fail::NoFreeAsset);
            }
            // Every asset pinned and the budget met: the budget multiplier is undetermined;
            // zero keeps the bound multipliers equal to the gradient, the natural choice.
            nu_a = 0.0;
            nu_b = 0.0;
        } else {
            ws.chol.clear();
            ws.chol.resize(k * k, 0.0);
            ws.u.clear();
            ws.v.clear();
            ws.e.clear();
            for (r, &i) in ws.free.iter().enumerate() {
                let col = p.col(i);
                for (c, &j) in ws.free.iter().enumerate() {
                    ws.chol[r * k + c] = col[j];
                }
                // −Σ_{i,B} w_B: a is zero on free assets, so a full dot product is the fixed part.
                ws.u.push(-dot_prefix(col, &a));
                ws.v.push(p.mu[i]);
                ws.e.push(1.0);
            }
            self.factorizations += 1;
            if !cholesky_in_place(&mut ws.chol, k) {
                return Err(Fail::Singular);
            }
            ws.rhs_u.clone_from(&ws.u);
            cholesky_solve(&ws.chol, k, &mut ws.u);
            cholesky_solve(&ws.chol, k, &mut ws.v);
            cholesky_solve(&ws.chol, k, &mut ws.e);
            let sum_e: f64 = ws.e.iter().sum();
            if !(sum_e > 0.0 && sum_e.is_finite()) {
                return Err(Fail::Singular);
            }
            let mut na = (ws.u.iter().sum::<f64>() - (1.0 - fixed_sum)) / sum_e;
            let mut nb = ws.v.iter().sum::<f64>() / sum_e;
            // `u − ν·e` subtracts two large, nearly equal vectors when Σ_FF is ill-conditioned,
            // and the path multiplies `b` by t (which can be 1e4 and more): solve again from the
            // residual right-hand sides, which carry no such cancellation, then remove what is
            // left of the budget error along e (one step of iterative refinement).
            for (r, &i) in ws.free.iter().enumerate() {
                ws.u[r] = ws.rhs_u[r] - na;
                ws.v[r] = p.mu[i] - nb;
            }
            cholesky_solve(&ws.chol, k, &mut ws.u);
            cholesky_solve(&ws.chol, k, &mut ws.v);
            let da = (ws.u.iter().sum::<f64>() - (1.0 - fixed_sum)) / sum_e;
            let db = ws.v.iter().sum::<f64>() / sum_e;
            na += da;
            nb += db;
            for (r, &i) in ws.free.iter().enumerate() {
                a[i] = ws.u[r] - da * ws.e[r];
                b[i] = ws.v[r] - db * ws.e[r];
            }
            nu_a = na;
            nu_b = nb;
        }
        // Multipliers on bounded assets: z = Σw − tμ + ν; on free assets the stationarity
        // condition gives (Σa)ᵢ = −ν_a and (Σb)ᵢ = μᵢ − ν_b, which saves the matrix products.
        let mut za = vec![0.0; n];
        let mut zb = vec![0.0; n];
        let (mut var_aa, mut var_ab, mut var_bb) = (0.0, 0.0, 0.0);
        let free = &self.ws.free;
        for i in 0..n {
            let (ha, hb) = if side[i] == Side::Free {
                (-nu_a, p.mu[i] - nu_b)
            } else {
                let col = p.col(i);
                let hb: f64 = free.iter().map(|&j| col[j] * b[j]).sum();
                (dot_prefix(col, &a), hb)
            };
            if side[i] != Side::Free {
                za[i] = ha + nu_a;
                zb[i] = hb - p.mu[i] + nu_b;
            }
            var_aa += a[i] * ha;
            var_ab += a[i] * hb;
            var_bb += b[i] * hb;
        }
        let ret_a = dot_prefix(p.mu, &a);
        let ret_b = dot_prefix(p.mu, &b);
        let finite = [ret_a, ret_b, var_aa, var_ab, var_bb, nu_a, nu_b]
            .iter()
            .all(|x| x.is_finite());
        if !finite {
            return Err(Fail::Singular);
        }
        Ok(Segment {
            side,
            a,
            b,
            za,
            zb,
            ret_a,
            ret_b,
            var_aa,
            var_ab,
            var_bb,
        })
    }

    /// One primal–dual active-set update at `t`: the active set the segment's solution at `t`
    /// points to (free assets out of bounds become bounded, bounded assets with a wrong-signed
    /// multiplier become free). `None` when nothing changes: `seg` is optimal at `t`.
    fn pdas_update(&self, seg: &Segment, t: f64) -> Option<Vec<Side>> {
        let p = self.p;
        let z_tol = Z_TOL_REL * p.grad_scale(t);
        let mut next: Option<Vec<Side>> = None;
        for i in 0..p.n {
            let new = match seg.side[i] {
                Side::Free => {
                    let w = seg.a[i] + t * seg.b[i];
                    if w < p.lo[i] - W_TOL {
                        Side::Lower
                    } else if w > p.hi[i] + W_TOL {
                        Side::Upper
                    } else {
                        Side::Free
                    }
                }
                Side::Lower if p.lo[i] < p.hi[i] && seg.za[i] + t * seg.zb[i] < -z_tol => {
                    Side::Free
                }
                Side::Upper if seg.za[i] + t * seg.zb[i] > z_tol => Side::Free,
                s => s,
            };
            if new != seg.side[i] {
                next.get_or_insert_with(|| seg.side.clone())[i] = new;
            }
        }
        let mut next = next?;
        if next.iter().all(|s| *s != Side::Free) {
            // Pinning every asset rarely meets the budget exactly, and the next segment would
            // then be undefined; keep the widest previously free asset free so the iteration
            // can go on.
            if let Some(i) = (0..p.n)
                .filter(|&i| seg.side[i] == Side::Free && p.lo[i] < p.hi[i])
                .max_by(|&x, &y| (p.hi[x] - p.lo[x]).total_cmp(&(p.hi[y] - p.lo[y])))
            {
                next[i] = Side::Free;
            }
        }
        Some(next)
    }

    /// Solves at `t` by the primal–dual active-set iteration from the active set `side`.
    pub(crate) fn solve_at(&mut self, t: f64, mut side: Vec<Side>) -> Result<Segment, Fail> {
        for _ in 0..MAX_PDAS_ITERS {
            let seg = self.segment(side)?;
            match self.pdas_update(&seg, t) {
                None => return Ok(seg),
                Some(next) => side = next,
            }
        }
        Err(Fail::Cycling)
    }

    /// Finds the point where `root` holds by updating `t` and the active set together: each
    /// iteration factors one active set, moves `t` to its line's root and takes one
    /// primal–dual active-set step there (a semismooth Newton step on the pair). Typically two
    /// or three factorizations from a good start; `Fail::Cycling` sends the caller to the
    /// slower, always-progressing [`ActiveSetSolver::find_on_path`].
    pub(crate) fn solve_joint(
        &mut self,
        t0: f64,
        mut side: Vec<Side>,
        root: &dyn Fn(&Segment) -> PathRoot,
    ) -> Result<(f64, Segment), Fail> {
        let mut t = t0;
        for _ in 0..MAX_JOINT_ITERS {
            let seg = self.segment(side)?;
            let (t_new, exact) = match root(&seg) {
                PathRoot::At(r) if r.is_finite() && r >= 0.0 => (r, true),
                PathRoot::Anywhere => (t, true),
                // No root on this line: the condition needs more risk tolerance.
                _ => (2.0 * t + 1e-3 * self.p.t_scale(), false),
            };
            match self.pdas_update(&seg, t_new) {
                None if exact => return Ok((t_new, seg)),
                None => side = seg.side,
                Some(next) => side = next,
            }
            t = t_new;
        }
        Err(Fail::Cycling)
    }

    /// A starting active set for `t`: a greedy vertex refined by pairwise coordinate descent.
    ///
    /// The vertex fills the budget in order of the per-asset objective; each SMO step moves
    /// weight between the most and least attractive movable pair, so after `m` steps at most
    /// `m + 1` assets are strictly inside their bounds and the first factorization stays small.
    pub(crate) fn warm_start(&self, t: f64) -> Vec<Side> {
        let p = self.p;
        let n = p.n;
        let mut w: Vec<f64> = p.lo.to_vec();
        let mut order: Vec<usize> = (0..n).collect();
        let avg = 1.0 / n as f64;
        let score = |i: usize| 0.5 * p.h[i * n + i] * avg - t * p.mu[i];
        order.sort_by(|&x, &y| score(x).total_cmp(&score(y)));
        let mut left = 1.0 - w.iter().sum::<f64>();
        for &i in &order {
            if left <= 0.0 {
                break;
            }
            let add = (p.hi[i] - p.lo[i]).min(left);
            w[i] += add;
            left -= add;
        }
        // Gradient g = Σw − tμ.
        let mut g: Vec<f64> = (0..n)
            .map(|i| dot_prefix(p.col(i), &w) - t * p.mu[i])
            .collect();
        let tol = 1e-6 * p.grad_scale(t);
        let max_steps = 4 * n + 20;
        for _ in 0..max_steps {
            // i: the asset to sell (highest gradient, can decrease); j: to buy.
            let mut best_i = usize::MAX;
            let mut best_j = usize::MAX;
            let (mut gi, mut gj) = (f64::NEG_INFINITY, f64::INFINITY);
            for k in 0..n {
                if w[k] > p.lo[k] && g[k] > gi {
                    gi = g[k];
                    best_i = k;
                }
                if w[k] < p.hi[k] && g[k] < gj {
                    gj = g[k];
                    best_j = k;
                }
            }
            if best_i == usize::MAX || best_j == usize::MAX || gi - gj <= tol {
                break;
            }
            let (i, j) = (best_i, best_j);
            let curv = p.h[i * n + i] + p.h[j * n + j] - 2.0 * p.h[i * n + j];
            let room_i = w[i] - p.lo[i];
            let room_j = p.hi[j] - w[j];
            let step = if curv > 0.0 {
                (gi - gj) / curv
            } else {
                f64::INFINITY
            };
            let delta = step.min(room_i).min(room_j);
            if !(delta > 0.0) {
                break;
            }
            // Snap exactly onto a bound when the step is clipped there, so sides are exact.
            if delta == room_i {
                w[i] = p.lo[i];
            } else {
                w[i] -= delta;
            }
            if delta == room_j {
                w[j] = p.hi[j];
            } else {
                w[j] += delta;
            }
            let (ci, cj) = (p.col(i), p.col(j));
            for k in 0..n {
                g[k] += delta * (cj[k] - ci[k]);
            }
        }
        (0..n)
            .map(|i| {
                if w[i] <= p.lo[i] {
                    Side::Lower
                } else if w[i] >= p.hi[i] {
                    Side::Upper
                } else {
                    Side::Free
                }
            })
            .collect()
    }

    /// Walks the critical line upward from `(t_start, start)` to where `root` holds.
    ///
    /// `residual(seg, t)` must be < 0 before the target and > 0 after it (it is evaluated only
    /// at points where `seg` is optimal); `root(seg)` solves the condition on `seg`'s line.
    /// Each step first tries to jump straight to the root of the current line (a warm-started
    /// active-set solve there, usually one or two factorizations); if that fails it steps just
    /// past the next kink of the critical line, which always makes progress.
    pub(crate) fn find_on_path(
        &mut self,
        t_start: f64,
        start: Segment,
        root: &dyn Fn(&Segment) -> PathRoot,
        residual: &dyn Fn(&Segment, f64) -> f64,
    ) -> Result<(f64, Segment), Fail> {
        let p = self.p;
        let mut t_lo = t_start;
        let mut t_hi = f64::INFINITY;
        let mut t_cur = t_start;
        let mut seg = start;
        let mut jumps_allowed = true;
        let t_scale = p.t_scale();
        for _ in 0..MAX_PATH_STEPS {
            let r = residual(&seg, t_cur);
            if r == 0.0 {
                return Ok((t_cur, seg));
            }
            if r < 0.0 {
                t_lo = t_lo.max(t_cur);
            } else {
                t_hi = t_hi.min(t_cur);
            }
            let line_root = root(&seg);
            match line_root {
                PathRoot::Anywhere => return Ok((t_cur, seg)),
                PathRoot::At(t) if seg.valid_at(&p, t) => return Ok((t, seg)),
                _ => {}
            }
            let (candidate, is_jump) = if r > 0.0 {
                // Overshot (a jump landed past the target): jump back along this segment's line
                // when its root lies inside the bracket, else step just below its lower kink,
                // else bisect.
                match (line_root, seg.prev_kink(&p, t_cur)) {
                    (PathRoot::At(t), _) if jumps_allowed && t > t_lo && t < t_cur => (t, true),
                    (_, Some(k)) if k > t_lo => (k - 1e-9 * (k + t_scale) * 0.5, false),
                    _ => (0.5 * (t_lo + t_hi), false),
                }
            } else {
                let jump = match line_root {
                    PathRoot::At(t) if jumps_allowed && t > t_cur && t < t_hi => Some(t),
                    _ => None,
                };
                match (jump, seg.next_kink(&p, t_cur)) {
                    (Some(t), _) => (t, true),
                    (None, Some(k)) => (k + 1e-9 * (k + t_scale), false),
                    (None, None) => return Err(Fail::PathEnd),
                }
            };
            if t_hi.is_finite() && (t_hi - t_lo) <= 1e-15 * t_hi.max(1.0) {
                // The bracket closed on a kink between segments: either side is optimal there.
                let s = self.solve_at(t_hi, seg.side.clone())?;
                return Ok((t_hi, s));
            }
            match self.solve_at(candidate, seg.side.clone()) {
                Ok(s) => {
                    seg = s;
                    t_cur = candidate;
                }
                Err(_) if is_jump => jumps_allowed = false,
                Err(e) => return Err(e),
            }
        }
        Err(Fail::PathStalled)
    }
}

/// The highest expected return the bounds allow and a portfolio achieving it: fill every asset
/// to its lower bound, then the rest of the budget in order of decreasing μ.
pub(crate) fn max_return_portfolio(mu: &[f64], lo: &[f64], hi: &[f64]) -> (Vec<f64>, f64) {
    let mut w = lo.to_vec();
    let mut left = 1.0 - w.iter().sum::<f64>();
    let mut order: Vec<usize> = (0..mu.len()).collect();
    order.sort_by(|&x, &y| mu[y].total_cmp(&mu[x]));
    for &i in &order {
        if left <= 0.0 {
            break;
        }
        let add = (hi[i] - lo[i]).min(left);
        w[i] += add;
        left -= add;
    }
    let r = dot_prefix(mu, &w);
    (w, r)
}

fn dense_upper_csc(n: usize, h: &[f64]) -> CscMatrix<f64> {
    let mut colptr = Vec::with_capacity(n + 1);
    let mut rowval = Vec::new();
    let mut nzval = Vec::new();
    colptr.push(0);
    for j in 0..n {
        for i in 0..=j {
            let v = h[j * n + i];
            if v != 0.0 {
                rowval.push(i);
                nzval.push(v);
            }
        }
        colptr.push(rowval.len());
    }
    CscMatrix::new(n, n, colptr, rowval, nzval)
}

fn clarabel_settings() -> clarabel::solver::DefaultSettings<f64> {
    // Tight tolerances: the result is either used as is (degenerate problems) or polished, and
    // in tests it is compared with references computed at 1e-12.
    let built = DefaultSettingsBuilder::default()
        .verbose(false)
        .max_iter(400)
        .tol_gap_abs(1e-11)
        .tol_gap_rel(1e-11)
        .tol_feas(1e-11)
        .build();
    built.unwrap_or_default()
}

pub(crate) fn run_clarabel(
    p: &CscMatrix<f64>,
    q: &[f64],
    a: &CscMatrix<f64>,
    b: &[f64],
    cones: &[clarabel::solver::SupportedConeT<f64>],
) -> Result<Vec<f64>, MathError> {
    let mut solver = DefaultSolver::new(p, q, a, b, cones, clarabel_settings()).map_err(|e| {
        MathError::NonConvergence {
            solver: "clarabel",
            detail: format!("setup failed: {e}"),
        }
    })?;
    solver.solve();
    match solver.solution.status {
        SolverStatus::Solved | SolverStatus::AlmostSolved => Ok(solver.solution.x.clone()),
        SolverStatus::PrimalInfeasible | SolverStatus::AlmostPrimalInfeasible => Err(
            MathError::InfeasibleBounds("clarabel certifies the constraints infeasible".into()),
        ),
        other => Err(MathError::NonConvergence {
            solver: "clarabel",
            detail: format!("status {other:?}"),
        }),
    }
}

/// General path: minimize `½wᵀHw + cᵀw` subject to `Σw = 1`, extra equalities `rowᵀw = rhs`,
/// and `lo ≤ w ≤ hi`, by clarabel.
///
/// # Errors
/// [`MathError::InfeasibleBounds`] when clarabel certifies infeasibility,
/// [`MathError::NonConvergence`] for any other unsuccessful status.
pub(crate) fn clarabel_box_qp(
    n: usize,
    h: &[f64],
    c: &[f64],
    lo: &[f64],
    hi: &[f64],
    extra_eq: &[(&[f64], f64)],
) -> Result<Vec<f64>, MathError> {
    let m_eq = 1 + extra_eq.len();
    let mut colptr = vec![0];
    let mut rowval = Vec::new();
    let mut nzval = Vec::new();
    for j in 0..n {
        rowval.push(0);
        nzval.push(1.0);
        for (r, (row, _)) in extra_eq.iter().enumerate() {
            if row[j] != 0.0 {
                rowval.push(1 + r);
                nzval.push(row[j]);
            }
        }
        rowval.push(m_eq + j);
        nzval.push(1.0);
        rowval.push(m_eq + n + j);
        nzval.push(-1.0);
        colptr.push(rowval.len());
    }
    let a = CscMatrix::new(m_eq + 2 * n, n, colptr, rowval, nzval);
    let mut b = vec![1.0];
    b.extend(extra_eq.iter().map(|(_, rhs)| *rhs));
    b.extend_from_slice(hi);
    b.extend(lo.iter().map(|l| -l));
    let cones = [ZeroConeT(m_eq), NonnegativeConeT(2 * n)];
    run_clarabel(&dense_upper_csc(n, h), c, &a, &b, &cones)
}

/// General path for max-Sharpe by the change of variables `y = κw`, `κ ≥ 0`:
/// minimize `yᵀHy` subject to `(μ − rf)ᵀy = 1`, `Σy = κ`, `lo·κ ≤ y ≤ hi·κ`; then `w = y/κ`.
///
/// # Errors
/// As [`clarabel_box_qp`]; [`MathError::InvalidResult`] if `κ` comes back non-positive.
pub(crate) fn clarabel_max_sharpe(
    n: usize,
    h: &[f64],
    mu: &[f64],
    rf: f64,
    lo: &[f64],
    hi: &[f64],
) -> Result<Vec<f64>, MathError> {
    // Variables x = (y, κ). Rows: 0: (μ−rf)ᵀy = 1; 1: Σy − κ = 0; then y − hi·κ ≤ 0 (n rows),
    // −y + lo·κ ≤ 0 (n rows), −κ ≤ 0.
    let mut colptr = vec![0];
    let mut rowval = Vec::new();
    let mut nzval = Vec::new();
    for j in 0..n {
        if mu[j] - rf != 0.0 {
            rowval.push(0);
            nzval.push(mu[j] - rf);
        }
        rowval.push(1);
        nzval.push(1.0);
        rowval.push(2 + j);
        nzval.push(1.0);
        rowval.push(2 + n + j);
        nzval.push(-1.0);
        colptr.push(rowval.len());
    }
    rowval.push(1);
    nzval.push(-1.0);
    for j in 0..n {
        rowval.push(2 + j);
        nzval.push(-hi[j]);
    }
    for j in 0..n {
        rowval.push(2 + n + j);
        nzval.push(lo[j]);
    }
    rowval.push(2 + 2 * n);
    nzval.push(-1.0);
    colptr.push(rowval.len());
    let a = CscMatrix::new(3 + 2 * n, n + 1, colptr, rowval, nzval);
    let mut b = vec![0.0; 3 + 2 * n];
    b[0] = 1.0;
    let cones = [ZeroConeT(2), NonnegativeConeT(2 * n + 1)];
    // P over (y, κ): H in the y block (times 2 for yᵀHy = ½ yᵀ(2H)y; the scale does not move
    // the minimizer, but keeps the objective the textbook one).
    let mut p_dense = vec![0.0; (n + 1) * (n + 1)];
    for j in 0..n {
        for i in 0..n {
            p_dense[j * (n + 1) + i] = 2.0 * h[j * n + i];
        }
    }
    let x = run_clarabel(
        &dense_upper_csc(n + 1, &p_dense),
        &vec![0.0; n + 1],
        &a,
        &b,
        &cones,
    )?;
    let kappa = x[n];
    if !(kappa > 0.0 && kappa.is_finite()) {
        return Err(MathError::InvalidResult(format!(
            "max-Sharpe scale κ = {kappa} is not positive"
        )));
    }
    Ok(x[..n].iter().map(|y| y / kappa).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem<'a>(h: &'a [f64], mu: &'a [f64], lo: &'a [f64], hi: &'a [f64]) -> Problem<'a> {
        Problem {
            n: mu.len(),
            h,
            mu,
            lo,
            hi,
        }
    }

    #[test]
    fn active_set_matches_closed_forms() {
        #[derive(Clone)]
        struct TestCase {
            h: Vec<f64>,
            mu: Vec<f64>,
            lo: Vec<f64>,
            hi: Vec<f64>,
            t: f64,
            expected: Vec<f64>,
        }
        // Two uncorrelated assets, variances 1 and 4, long-only: min-variance is 0.8 / 0.2.
        let uncorrelated = TestCase {
            h: vec![1.0, 0.0, 0.0, 4.0],
            mu: vec![0.0, 0.0],
            lo: vec![0.0, 0.0],
            hi: vec![1.0, 1.0],
            t: 0.0,
            expected: vec![0.8, 0.2],
        };
        let cases = [
            // TC0: the two uncorrelated assets as they are.
            uncorrelated.clone(),
            // TC1: the same with a cap of 0.7 on the first asset.
            TestCase {
                hi: vec![0.7, 1.0],
                expected: vec![0.7, 0.3],
                ..uncorrelated.clone()
            },
            // TC2: identity, reward 1 on asset 2 at t = 0.5: w1 + ν = 0, w2 − 0.5 + ν = 0 and
            // w1 + w2 = 1 give 0.25 / 0.75.
            TestCase {
                h: vec![1.0, 0.0, 0.0, 1.0],
                mu: vec![0.0, 1.0],
                t: 0.5,
                expected: vec![0.25, 0.75],
                ..uncorrelated.clone()
            },
            // TC3: a floor binding: min-variance wants 0.8 / 0.2 but asset 2 has lo = 0.3.
            TestCase {
                lo: vec![0.0, 0.3],
                expected: vec![0.7, 0.3],
                ..uncorrelated
            },
        ];
        for (i, case) in cases.iter().enumerate() {
            let p = problem(&case.h, &case.mu, &case.lo, &case.hi);
            let mut s = ActiveSetSolver::new(p);
            let side = s.warm_start(case.t);
            let seg = s.solve_at(case.t, side).expect("solves");
            let w = seg.weights_at(case.t);
            for (got, want) in w.iter().zip(&case.expected) {
                assert!((got - want).abs() < 1e-12, "TC{i}: {w:?}");
            }
            let x = clarabel_box_qp(
                2,
                &case.h,
                &case.mu.iter().map(|m| -case.t * m).collect::<Vec<_>>(),
                &case.lo,
                &case.hi,
                &[],
            )
            .expect("clarabel solves");
            for (got, want) in x.iter().zip(&case.expected) {
                assert!((got - want).abs() < 1e-7, "TC{i} clarabel: {x:?}");
            }
        }
    }
}
