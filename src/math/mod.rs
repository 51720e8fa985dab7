//! Portfolio math: return statistics, covariance estimation and the target optimizers.
//!
//! Everything here is a pure function over plain data. The pieces fit as follows:
//! [`returns`] turns daily returns (CSV text or the venue's `/returns`) into a [`MarketModel`]
//! (annualized mean and covariance, sample or Ledoit–Wolf, repaired when not positive definite);
//! [`markowitz`], [`frontier`], [`risk_parity`], [`black_litterman`] and [`kelly`] turn a model
//! into weights, and [`methods`] runs any of them by name; [`turnover`] keeps a result near the
//! current weights when asked; [`hedge`] sizes a perp hedge. The
//! box-and-budget quadratic programs of Markowitz and multi-asset Kelly share one structured
//! solver in `qp` (an active-set method on the critical line), with clarabel as the general path
//! and the fallback.
//!
//! # Invariants
//! - `f64` lives only in here; every input is checked finite at the boundary and every output
//!   is checked finite before it leaves. Weights become money only through
//!   [`crate::money::decimal_from_f64`] (see [`weights_to_decimal`]).
//! - Nothing here panics on bad input: every failure is a [`MathError`] naming its cause.
//! - Every weight vector returned by an optimizer is long-only, respects its bounds exactly and
//!   sums to 1 within [`BUDGET_TOLERANCE`].
//! - Annualization is by 365: the venue trades every day.

// Index loops over several parallel arrays read like the formulas they implement, and
// `!(x > 0.0)` is written on purpose: unlike `x <= 0.0` it also rejects NaN.
#![allow(clippy::needless_range_loop, clippy::neg_cmp_op_on_partial_ord)]

pub mod black_litterman;
pub mod frontier;
pub mod hedge;
pub mod kelly;
mod linalg;
pub mod markowitz;
pub mod methods;
mod qp;
pub mod returns;
pub mod returns_csv;
pub mod risk_parity;
pub mod turnover;

use nalgebra::DMatrix;
use rust_decimal::Decimal;

use crate::money::{NonFinite, decimal_from_f64};

/// Trading days per year: the venue never closes, so daily statistics scale by 365.
pub const DAYS_PER_YEAR: f64 = 365.0;

/// Annualized volatility below which a portfolio counts as riskless (0.0001% a year): its
/// Sharpe ratio is undefined. Real assets are thousands of times more volatile; constant
/// returns leave only rounding noise (1e-17) after estimation and repair.
pub const MIN_VOLATILITY: f64 = 1e-6;

/// How far from 1 the weights of an optimizer's result may sum.
pub const BUDGET_TOLERANCE: f64 = 1e-12;

/// Every way the portfolio math can refuse its input or fail to produce an answer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MathError {
    /// Too few rows of returns.
    #[error("returns: {0}")]
    EmptyReturns(String),
    /// A returns file refused by the reader (ragged, not a number, too large, ...).
    #[error("returns: {0}")]
    Csv(#[from] returns_csv::CsvError),
    /// A return of −100% or worse: more than everything lost in a day.
    #[error("returns: row {row}, column `{column}`: a return of {value} is −100% or worse")]
    TotalLoss {
        /// The 1-based observation.
        row: usize,
        /// The asset (column) name.
        column: String,
        /// The return.
        value: f64,
    },
    /// Every asset's returns are the same every day: nothing to estimate risk from.
    #[error(
        "returns: every asset's returns are constant: volatility is zero, so risk, weights and the Sharpe ratio are undefined"
    )]
    ConstantReturns,
    /// A value that is not a finite number.
    #[error("returns: row {row}, column `{column}`: `{value}` is not a finite number")]
    NotFinite {
        /// 1-based line number (header = 1), or the 1-based observation for in-memory data.
        row: usize,
        /// The asset (column) name.
        column: String,
        /// The offending text.
        value: String,
    },
    /// Too few observations for the estimate asked for.
    #[error(
        "returns: {rows} rows of returns for {assets} assets; a full-rank sample covariance needs at least {needed}"
    )]
    FewerRowsThanAssets {
        /// Observations given.
        rows: usize,
        /// Assets.
        assets: usize,
        /// Observations needed.
        needed: usize,
    },
    /// Series of different lengths where one table was expected.
    #[error("returns: series `{name}` has {len} observations, expected {expected}")]
    UnequalLengths {
        /// The series.
        name: String,
        /// Its length.
        len: usize,
        /// The length of the first series.
        expected: usize,
    },
    /// Inputs whose shapes do not fit together.
    #[error("dimension mismatch: {0}")]
    Dimension(String),
    /// An input matrix or vector that holds NaN or infinity.
    #[error("{what} is not finite at {index}")]
    NonFiniteInput {
        /// Which input.
        what: String,
        /// Where (an index or `(row, col)`).
        index: String,
    },
    /// A covariance matrix that is not symmetric.
    #[error("covariance is not symmetric at ({row}, {col})")]
    NotSymmetric {
        /// Row.
        row: usize,
        /// Column.
        col: usize,
    },
    /// A covariance matrix with a negative variance or that is not positive semidefinite.
    #[error("covariance is not positive semidefinite: {0}")]
    NotPositiveSemidefinite(String),
    /// Bounds that no long-only fully invested portfolio satisfies.
    #[error("infeasible bounds: {0}")]
    InfeasibleBounds(String),
    /// Risk budgets that are not positive or do not sum to 1.
    #[error("risk budgets: {0}")]
    InvalidBudgets(String),
    /// A requested return or risk outside what the bounds allow.
    #[error("target out of reach: {0}")]
    TargetOutOfReach(String),
    /// Max-Sharpe asked when no feasible portfolio beats the risk-free rate.
    #[error(
        "no feasible portfolio earns more than the risk-free rate {rf}: the highest achievable expected return is {max_return}"
    )]
    NoExcessReturn {
        /// Risk-free rate.
        rf: f64,
        /// Highest expected return the bounds allow.
        max_return: f64,
    },
    /// A Kelly bet without a positive edge: the growth-optimal stake is zero.
    #[error(
        "no edge: win probability {win_prob} at odds {odds}:1 gives edge {edge} <= 0, so Kelly stakes nothing"
    )]
    NoEdge {
        /// Probability of winning.
        win_prob: f64,
        /// Net odds (profit per unit staked on a win).
        odds: f64,
        /// Expected profit per unit staked.
        edge: f64,
    },
    /// An argument outside its domain (names the argument).
    #[error("invalid {name}: {reason}")]
    InvalidArgument {
        /// The argument.
        name: String,
        /// Why it is invalid.
        reason: String,
    },
    /// Risk parity undefined: an asset has no risk, so no finite weight equalizes its contribution.
    #[error("asset {index} has zero variance: risk budgeting needs every asset to carry risk")]
    RisklessAsset {
        /// The asset's index.
        index: usize,
    },
    /// An iterative solver stopped before meeting its tolerance.
    #[error("{solver} did not converge: {detail}")]
    NonConvergence {
        /// Which solver.
        solver: &'static str,
        /// What was left.
        detail: String,
    },
    /// A result that failed its final finiteness or feasibility check.
    #[error("result rejected: {0}")]
    InvalidResult(String),
}

impl From<NonFinite> for MathError {
    fn from(value: NonFinite) -> Self {
        MathError::InvalidResult(value.to_string())
    }
}

/// Annualized expected returns and covariance of a set of assets: the input of every optimizer.
///
/// Only constructible through [`MarketModel::new`], which checks shapes, finiteness, symmetry and
/// non-negative variances.
#[derive(Debug, Clone, PartialEq)]
pub struct MarketModel {
    names: Vec<String>,
    mean: Vec<f64>,
    cov: DMatrix<f64>,
}

impl MarketModel {
    /// Validates and wraps names, annualized mean and annualized covariance.
    ///
    /// # Errors
    /// [`MathError::Dimension`] for mismatched shapes or no assets, [`MathError::NonFiniteInput`],
    /// [`MathError::NotSymmetric`] (beyond a relative 1e-10), and
    /// [`MathError::NotPositiveSemidefinite`] for a negative variance.
    pub fn new(names: Vec<String>, mean: Vec<f64>, cov: DMatrix<f64>) -> Result<Self, MathError> {
        let n = mean.len();
        if n == 0 {
            return Err(MathError::Dimension("no assets".into()));
        }
        if names.len() != n || cov.nrows() != n || cov.ncols() != n {
            return Err(MathError::Dimension(format!(
                "{} names, {} means, covariance {}x{}",
                names.len(),
                n,
                cov.nrows(),
                cov.ncols()
            )));
        }
        check_finite_slice("mean", &mean)?;
        check_finite_matrix("covariance", &cov)?;
        let mut cov = cov;
        symmetrize_checked(&mut cov)?;
        for i in 0..n {
            if cov[(i, i)] < 0.0 {
                return Err(MathError::NotPositiveSemidefinite(format!(
                    "variance of asset {i} is {}",
                    cov[(i, i)]
                )));
            }
        }
        Ok(MarketModel { names, mean, cov })
    }

    /// Like [`MarketModel::new`] with names `a0, a1, ...`.
    ///
    /// # Errors
    /// As [`MarketModel::new`].
    pub fn unnamed(mean: Vec<f64>, cov: DMatrix<f64>) -> Result<Self, MathError> {
        let names = (0..mean.len()).map(|i| format!("a{i}")).collect();
        Self::new(names, mean, cov)
    }

    /// Number of assets.
    pub fn len(&self) -> usize {
        self.mean.len()
    }

    /// Always false: a model has at least one asset.
    pub fn is_empty(&self) -> bool {
        self.mean.is_empty()
    }

    /// Asset names, in column order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Annualized expected returns.
    pub fn mean(&self) -> &[f64] {
        &self.mean
    }

    /// Annualized covariance (symmetric).
    pub fn cov(&self) -> &DMatrix<f64> {
        &self.cov
    }

    /// Expected return, volatility and Sharpe ratio of `weights` at risk-free rate `rf`.
    pub fn stats(&self, weights: &[f64], rf: f64) -> PortfolioStats {
        let expected_return = dot(&self.mean, weights);
        let variance = quad_form(&self.cov, weights).max(0.0);
        let volatility = variance.sqrt();
        // Below the floor the portfolio is riskless for every purpose, and the ratio would be
        // rounding noise divided into the return (5e16 for constant returns).
        let sharpe = (volatility >= MIN_VOLATILITY).then(|| (expected_return - rf) / volatility);
        PortfolioStats {
            expected_return,
            volatility,
            sharpe,
        }
    }

    /// Risk contributions `wᵢ(Σw)ᵢ / wᵀΣw` of `weights` (they sum to 1; zeros for a riskless mix).
    pub fn risk_contributions(&self, weights: &[f64]) -> Vec<f64> {
        risk_contributions(&self.cov, weights)
    }
}

/// Expected return, volatility and Sharpe ratio of one portfolio (all annualized).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct PortfolioStats {
    /// Annualized expected return.
    pub expected_return: f64,
    /// Annualized volatility (standard deviation).
    pub volatility: f64,
    /// (expected_return − rf) / volatility; `None` (undefined) for a riskless portfolio, one
    /// whose volatility is below [`MIN_VOLATILITY`].
    pub sharpe: Option<f64>,
}

/// Per-asset weight bounds of a long-only, fully invested portfolio.
#[derive(Debug, Clone, PartialEq)]
pub struct WeightBounds {
    lo: Vec<f64>,
    hi: Vec<f64>,
}

impl WeightBounds {
    /// The same `[lo, hi]` for each of `n` assets.
    ///
    /// # Errors
    /// As [`WeightBounds::new`].
    pub fn uniform(n: usize, lo: f64, hi: f64) -> Result<Self, MathError> {
        Self::new(vec![lo; n], vec![hi; n])
    }

    /// Long-only with no cap: `[0, 1]` for each asset.
    pub fn long_only(n: usize) -> Self {
        WeightBounds {
            lo: vec![0.0; n],
            hi: vec![1.0; n],
        }
    }

    /// Per-asset bounds.
    ///
    /// # Errors
    /// [`MathError::InfeasibleBounds`] when a bound is not finite, a lower bound is negative
    /// (long-only), `lo > hi`, or no weights within the bounds sum to 1 (Σlo > 1 or Σhi < 1).
    pub fn new(lo: Vec<f64>, hi: Vec<f64>) -> Result<Self, MathError> {
        if lo.len() != hi.len() || lo.is_empty() {
            return Err(MathError::Dimension(format!(
                "{} lower and {} upper bounds",
                lo.len(),
                hi.len()
            )));
        }
        for (i, (&l, &h)) in lo.iter().zip(&hi).enumerate() {
            if !l.is_finite() || !h.is_finite() {
                return Err(MathError::InfeasibleBounds(format!(
                    "bound of asset {i} is not finite"
                )));
            }
            if l < 0.0 {
                return Err(MathError::InfeasibleBounds(format!(
                    "lower bound {l} of asset {i} is negative (long-only)"
                )));
            }
            if l > h {
                return Err(MathError::InfeasibleBounds(format!(
                    "asset {i}: lower bound {l} > upper bound {h}"
                )));
            }
        }
        let sum_lo: f64 = lo.iter().sum();
        let sum_hi: f64 = hi.iter().sum();
        if sum_lo > 1.0 + BUDGET_TOLERANCE {
            return Err(MathError::InfeasibleBounds(format!(
                "lower bounds sum to {sum_lo} > 1 over {} assets",
                lo.len()
            )));
        }
        if sum_hi < 1.0 - BUDGET_TOLERANCE {
            return Err(MathError::InfeasibleBounds(format!(
                "upper bounds sum to {sum_hi} < 1 over {} assets",
                hi.len()
            )));
        }
        Ok(WeightBounds { lo, hi })
    }

    /// Lower bounds.
    pub fn lo(&self) -> &[f64] {
        &self.lo
    }

    /// Upper bounds.
    pub fn hi(&self) -> &[f64] {
        &self.hi
    }

    /// Number of assets.
    pub fn len(&self) -> usize {
        self.lo.len()
    }

    /// Always false: bounds cover at least one asset.
    pub fn is_empty(&self) -> bool {
        self.lo.is_empty()
    }

    /// The bounds of the assets `keep` (every asset but `held`) as shares of what `held` at
    /// `held_weight` leaves: a final weight is `rest·x`, so `lo ≤ rest·x ≤ hi` is
    /// `lo/rest ≤ x ≤ hi/rest` (capped at 1).
    ///
    /// # Errors
    /// [`MathError::InfeasibleBounds`] when the others cannot fill the rest.
    pub(crate) fn for_the_rest(
        &self,
        keep: &[usize],
        held: usize,
        held_weight: f64,
    ) -> Result<WeightBounds, MathError> {
        let rest = 1.0 - held_weight;
        WeightBounds::new(
            keep.iter().map(|&i| self.lo[i] / rest).collect(),
            keep.iter().map(|&i| (self.hi[i] / rest).min(1.0)).collect(),
        )
        .map_err(|e| {
            MathError::InfeasibleBounds(format!(
                "with asset {held} held at {held_weight}, the others cannot fill the rest: {e}"
            ))
        })
    }

    pub(crate) fn check_len(&self, n: usize) -> Result<(), MathError> {
        if self.len() == n {
            Ok(())
        } else {
            Err(MathError::Dimension(format!(
                "bounds for {} assets, model has {n}",
                self.len()
            )))
        }
    }
}

/// All `n` weights: asset `held` at `held_weight`, and asset `keep[k]` at `shares[k]` of the
/// rest `1 − held_weight` (see [`WeightBounds::for_the_rest`]).
pub(crate) fn with_held(
    n: usize,
    held: usize,
    held_weight: f64,
    keep: &[usize],
    shares: &[f64],
) -> Vec<f64> {
    let rest = 1.0 - held_weight;
    let mut w = vec![0.0; n];
    w[held] = held_weight;
    for (k, &i) in keep.iter().enumerate() {
        w[i] = shares[k] * rest;
    }
    w
}

/// [`finalize_weights`] under `bounds` with asset `held` pinned at `held_weight`: the held
/// weight is exact, and pinning it keeps the final budget repair off it.
///
/// # Errors
/// As [`finalize_weights`].
pub(crate) fn finalize_held(
    w: Vec<f64>,
    bounds: &WeightBounds,
    held: usize,
    held_weight: f64,
) -> Result<Vec<f64>, MathError> {
    let mut lo = bounds.lo().to_vec();
    let mut hi = bounds.hi().to_vec();
    lo[held] = held_weight;
    hi[held] = held_weight;
    finalize_weights(w, &lo, &hi)
}

/// Refuses a parameter `name` that is not finite.
pub(crate) fn check_finite(name: &str, value: f64) -> Result<(), MathError> {
    if value.is_finite() {
        return Ok(());
    }
    Err(MathError::InvalidArgument {
        name: name.into(),
        reason: format!("{value} is not finite"),
    })
}

/// Refuses a parameter `name` that is negative or not finite.
pub(crate) fn check_non_negative(name: &str, value: f64) -> Result<(), MathError> {
    if value.is_finite() && value >= 0.0 {
        return Ok(());
    }
    Err(MathError::InvalidArgument {
        name: name.into(),
        reason: format!("{value} is not a finite non-negative number"),
    })
}

/// Converts optimizer weights to money-side decimals, refusing non-finite values.
///
/// # Errors
/// [`MathError::InvalidResult`] naming the asset whose weight is not finite.
pub fn weights_to_decimal(names: &[String], weights: &[f64]) -> Result<Vec<Decimal>, MathError> {
    names
        .iter()
        .zip(weights)
        .map(|(name, &w)| decimal_from_f64(w, &format!("weight of {name}")).map_err(Into::into))
        .collect()
}

pub(crate) fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// `wᵀΣw` over a symmetric matrix.
pub(crate) fn quad_form(cov: &DMatrix<f64>, w: &[f64]) -> f64 {
    let n = w.len();
    let data = cov.as_slice();
    (0..n)
        .map(|j| w[j] * dot(&data[j * n..(j + 1) * n], w))
        .sum()
}

/// `Σw` (column-major storage; symmetric, so column j is row j).
pub(crate) fn mat_vec(cov: &DMatrix<f64>, w: &[f64]) -> Vec<f64> {
    let n = w.len();
    let data = cov.as_slice();
    (0..n).map(|i| dot(&data[i * n..(i + 1) * n], w)).collect()
}

pub(crate) fn risk_contributions(cov: &DMatrix<f64>, w: &[f64]) -> Vec<f64> {
    let sw = mat_vec(cov, w);
    let total: f64 = w.iter().zip(&sw).map(|(a, b)| a * b).sum();
    if total > 0.0 {
        w.iter().zip(&sw).map(|(a, b)| a * b / total).collect()
    } else {
        vec![0.0; w.len()]
    }
}

pub(crate) fn check_finite_slice(what: &str, v: &[f64]) -> Result<(), MathError> {
    match v.iter().position(|x| !x.is_finite()) {
        None => Ok(()),
        Some(i) => Err(MathError::NonFiniteInput {
            what: what.to_owned(),
            index: i.to_string(),
        }),
    }
}

pub(crate) fn check_finite_matrix(what: &str, m: &DMatrix<f64>) -> Result<(), MathError> {
    for j in 0..m.ncols() {
        for i in 0..m.nrows() {
            if !m[(i, j)].is_finite() {
                return Err(MathError::NonFiniteInput {
                    what: what.to_owned(),
                    index: format!("({i}, {j})"),
                });
            }
        }
    }
    Ok(())
}

/// Makes `m` exactly symmetric (averaging the halves) after checking it is symmetric to a
/// relative 1e-10: covariance arrives from JSON or sums in different orders, so the two
/// triangles may differ in the last bits, and the solvers rely on exact symmetry.
fn symmetrize_checked(m: &mut DMatrix<f64>) -> Result<(), MathError> {
    let n = m.nrows();
    for j in 0..n {
        for i in 0..j {
            let (a, b) = (m[(i, j)], m[(j, i)]);
            let scale = a.abs().max(b.abs()).max(f64::MIN_POSITIVE);
            if (a - b).abs() > 1e-10 * scale {
                return Err(MathError::NotSymmetric { row: i, col: j });
            }
            let avg = 0.5 * (a + b);
            m[(i, j)] = avg;
            m[(j, i)] = avg;
        }
    }
    Ok(())
}

/// Clips `w` into its bounds and spreads any budget residual over assets with room, so the
/// result respects the bounds exactly and sums to 1 within [`BUDGET_TOLERANCE`].
///
/// Solvers deliver weights exact to rounding; this removes the last bits so the invariants hold
/// with equality rather than "almost".
pub(crate) fn finalize_weights(
    mut w: Vec<f64>,
    lo: &[f64],
    hi: &[f64],
) -> Result<Vec<f64>, MathError> {
    if let Some(i) = w.iter().position(|x| !x.is_finite()) {
        return Err(MathError::InvalidResult(format!(
            "weight of asset {i} is not finite"
        )));
    }
    for ((x, &l), &h) in w.iter_mut().zip(lo).zip(hi) {
        *x = x.clamp(l, h);
    }
    for _ in 0..4 {
        let residual = 1.0 - w.iter().sum::<f64>();
        if residual.abs() <= 0.25 * BUDGET_TOLERANCE {
            break;
        }
        let room: Vec<f64> = w
            .iter()
            .zip(lo.iter().zip(hi))
            .map(|(&x, (&l, &h))| if residual > 0.0 { h - x } else { x - l })
            .collect();
        let total_room: f64 = room.iter().sum();
        if total_room <= 0.0 {
            break;
        }
        for ((x, r), (&l, &h)) in w.iter_mut().zip(&room).zip(lo.iter().zip(hi)) {
            *x = (*x + residual * r / total_room).clamp(l, h);
        }
    }
    let sum: f64 = w.iter().sum();
    if (sum - 1.0).abs() > BUDGET_TOLERANCE {
        return Err(MathError::InvalidResult(format!(
            "weights sum to {sum} after repair, expected 1"
        )));
    }
    Ok(w)
}
