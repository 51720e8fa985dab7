//! Black–Litterman: blend an equilibrium prior with views into posterior expected returns and
//! covariance, then hand them to any optimizer.
//!
//! Prior: `π = δ·Σ·w_mkt` (reverse optimization of the market — or target — weights at risk
//! aversion `δ`). Views: `P·μ = Q + ε`, `ε ~ N(0, Ω)`. Ω per view `k`:
//! - He–Litterman: `Ωₖₖ = τ·pₖᵀΣpₖ` (the view is as uncertain as the prior of its portfolio);
//! - Idzorek (the closed form used by PyPortfolioOpt): a confidence `cₖ ∈ (0, 1]` gives
//!   `Ωₖₖ = τ·αₖ·pₖᵀΣpₖ` with `αₖ = (1 − cₖ)/cₖ`: `c = 1` is a certain view, `c = ½` is
//!   He–Litterman, and `c → 0` ignores the view.
//!
//! Posterior: `μ_BL = π + τΣPᵀ(τPΣPᵀ + Ω)⁻¹(Q − Pπ)` and
//! `Σ_BL = Σ + τΣ − τΣPᵀ(τPΣPᵀ + Ω)⁻¹PτΣ` (He & Litterman 1999: the posterior uncertainty of
//! the mean added to the return covariance).
//!
//! # Invariants
//! - Inputs are checked finite and shaped; the posterior covariance is exactly symmetric.
//! - A singular `τPΣPᵀ + Ω` (e.g. two certain views on the same portfolio) is an error, not NaN.

use nalgebra::{DMatrix, DVector};

use super::{MarketModel, MathError, check_finite_slice};

/// One view: `Σⱼ portfolio[j]·μⱼ = expected_return`, with an optional Idzorek confidence.
#[derive(Debug, Clone, PartialEq)]
pub struct View {
    /// The view portfolio `pₖ` (absolute view: one 1; relative: +1/−1), over the model's assets.
    pub portfolio: Vec<f64>,
    /// The annualized return the view asserts for that portfolio.
    pub expected_return: f64,
    /// Idzorek confidence in (0, 1]; `None` uses He–Litterman's Ω.
    pub confidence: Option<f64>,
}

/// Black–Litterman parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct BlackLitterman {
    /// Market (or target) weights of the prior.
    pub prior_weights: Vec<f64>,
    /// Risk aversion δ (PyPortfolioOpt's default 1; the classic 2.5 for equity markets).
    pub risk_aversion: f64,
    /// Uncertainty scale of the prior τ (commonly 0.05).
    pub tau: f64,
    /// The views.
    pub views: Vec<View>,
}

/// Prior and posterior.
#[derive(Debug, Clone, PartialEq)]
pub struct Posterior {
    /// Equilibrium returns π.
    pub prior_mean: Vec<f64>,
    /// Posterior expected returns.
    pub mean: Vec<f64>,
    /// Posterior covariance.
    pub cov: DMatrix<f64>,
    /// The Ω used (diagonal).
    pub omega: Vec<f64>,
}

impl Posterior {
    /// The posterior as a market model (names from `model`).
    ///
    /// # Errors
    /// As [`MarketModel::new`].
    pub fn model(&self, model: &MarketModel) -> Result<MarketModel, MathError> {
        MarketModel::new(model.names().to_vec(), self.mean.clone(), self.cov.clone())
    }
}

fn invalid(name: &str, reason: String) -> MathError {
    MathError::InvalidArgument {
        name: name.to_owned(),
        reason,
    }
}

/// Computes the Black–Litterman posterior for `model` (whose mean is ignored: the prior replaces
/// it) under `params`.
///
/// # Errors
/// [`MathError::InvalidArgument`] for bad δ, τ, confidences or shapes; [`MathError::Dimension`]
/// for a singular view system.
pub fn posterior(model: &MarketModel, params: &BlackLitterman) -> Result<Posterior, MathError> {
    let n = model.len();
    let sigma = model.cov();
    if params.prior_weights.len() != n {
        return Err(invalid(
            "prior weights",
            format!("{} weights for {n} assets", params.prior_weights.len()),
        ));
    }
    check_finite_slice("prior weights", &params.prior_weights)?;
    if !(params.risk_aversion.is_finite() && params.risk_aversion > 0.0) {
        return Err(invalid(
            "risk aversion",
            format!("{} is not positive", params.risk_aversion),
        ));
    }
    if !(params.tau.is_finite() && params.tau > 0.0) {
        return Err(invalid("tau", format!("{} is not positive", params.tau)));
    }
    let w = DVector::from_column_slice(&params.prior_weights);
    let pi = (sigma * &w) * params.risk_aversion;
    let k = params.views.len();
    if k == 0 {
        return Ok(Posterior {
            prior_mean: pi.iter().copied().collect(),
            mean: pi.iter().copied().collect(),
            cov: sigma * (1.0 + params.tau),
            omega: Vec::new(),
        });
    }
    let mut p = DMatrix::<f64>::zeros(k, n);
    let mut q = DVector::<f64>::zeros(k);
    for (r, view) in params.views.iter().enumerate() {
        if view.portfolio.len() != n {
            return Err(invalid(
                "view",
                format!(
                    "view {r} has {} weights for {n} assets",
                    view.portfolio.len()
                ),
            ));
        }
        check_finite_slice("view portfolio", &view.portfolio)?;
        if !view.expected_return.is_finite() {
            return Err(invalid("view", format!("view {r} return is not finite")));
        }
        if view.portfolio.iter().all(|x| *x == 0.0) {
            return Err(invalid("view", format!("view {r} names no asset")));
        }
        for (c, x) in view.portfolio.iter().enumerate() {
            p[(r, c)] = *x;
        }
        q[r] = view.expected_return;
    }
    let tau_sigma = sigma * params.tau;
    let tau_sigma_pt = &tau_sigma * p.transpose();
    let p_tau_sigma_pt = &p * &tau_sigma_pt;
    let mut omega = Vec::with_capacity(k);
    for (r, view) in params.views.iter().enumerate() {
        let base = p_tau_sigma_pt[(r, r)];
        let scale = match view.confidence {
            None => 1.0,
            Some(c) if c.is_finite() && c > 0.0 && c <= 1.0 => (1.0 - c) / c,
            Some(c) => {
                return Err(invalid(
                    "confidence",
                    format!("view {r}: {c} is outside (0, 1]"),
                ));
            }
        };
        omega.push(base * scale);
    }
    let mut m = p_tau_sigma_pt.clone();
    for (r, o) in omega.iter().enumerate() {
        m[(r, r)] += o;
    }
    let m_inv = m
        .clone()
        .cholesky()
        .map(|c| c.inverse())
        .or_else(|| m.clone().try_inverse())
        .ok_or_else(|| MathError::Dimension("the view system τPΣPᵀ + Ω is singular".into()))?;
    let gain = &tau_sigma_pt * m_inv;
    let mean = &pi + &gain * (q - &p * &pi);
    let mut cov = sigma + &tau_sigma - &gain * tau_sigma_pt.transpose();
    for j in 0..n {
        for i in (j + 1)..n {
            let avg = 0.5 * (cov[(i, j)] + cov[(j, i)]);
            cov[(i, j)] = avg;
            cov[(j, i)] = avg;
        }
    }
    let out = Posterior {
        prior_mean: pi.iter().copied().collect(),
        mean: mean.iter().copied().collect(),
        cov,
        omega,
    };
    check_finite_slice("posterior mean", &out.mean)?;
    super::check_finite_matrix("posterior covariance", &out.cov)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> MarketModel {
        MarketModel::unnamed(
            vec![0.0, 0.0],
            DMatrix::from_row_slice(2, 2, &[0.04, 0.01, 0.01, 0.09]),
        )
        .expect("valid")
    }

    #[test]
    fn posterior_cases() {
        struct TestCase {
            views: Vec<View>,
            check: fn(&Posterior),
        }
        let cases = [
            // TC0: no views: the posterior mean is the prior π = δΣw.
            TestCase {
                views: vec![],
                check: |p| {
                    assert!((p.mean[0] - 2.5 * (0.04 * 0.5 + 0.01 * 0.5)).abs() < 1e-15);
                },
            },
            // TC1: a certain absolute view is met exactly.
            TestCase {
                views: vec![View {
                    portfolio: vec![1.0, 0.0],
                    expected_return: 0.2,
                    confidence: Some(1.0),
                }],
                check: |p| assert!((p.mean[0] - 0.2).abs() < 1e-12, "{:?}", p.mean),
            },
            // TC2: a He–Litterman view moves the mean halfway toward it (Ω = τpᵀΣp).
            TestCase {
                views: vec![View {
                    portfolio: vec![1.0, 0.0],
                    expected_return: 0.2,
                    confidence: None,
                }],
                check: |p| {
                    let halfway = 0.5 * (p.prior_mean[0] + 0.2);
                    assert!((p.mean[0] - halfway).abs() < 1e-12, "{:?}", p.mean);
                },
            },
        ];
        for (i, case) in cases.into_iter().enumerate() {
            let params = BlackLitterman {
                prior_weights: vec![0.5, 0.5],
                risk_aversion: 2.5,
                tau: 0.05,
                views: case.views,
            };
            let post = posterior(&model(), &params).unwrap_or_else(|e| panic!("TC{i}: {e}"));
            (case.check)(&post);
        }
    }

    #[test]
    fn bad_confidence_is_named() {
        let params = BlackLitterman {
            prior_weights: vec![0.5, 0.5],
            risk_aversion: 2.5,
            tau: 0.05,
            views: vec![View {
                portfolio: vec![1.0, 0.0],
                expected_return: 0.2,
                confidence: Some(1.5),
            }],
        };
        let err = posterior(&model(), &params).unwrap_err();
        assert!(err.to_string().contains("confidence"), "{err}");
    }
}
