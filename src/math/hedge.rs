//! Minimum-variance hedge ratio between a service's returns and a perp's returns.
//!
//! Shorting `β` units of the perp per unit of service exposure minimizes the variance of the
//! hedged returns `s − β·p`; `β = cov(s, p) / var(p)`. The variance removed is the squared
//! correlation (hedge effectiveness `ρ²`). The article shorts BTC-PERP 1:1, which is optimal
//! only when `β = 1`.
//!
//! `β` is the least-squares slope of `s` on `p`, so its standard error is the regression's:
//! `se(β) = sqrt(Σ e² / (n − 2) / Σ (p − p̄)²)` with `e` the residuals. With independent
//! days an estimate falls within two standard errors of the true ratio about 95% of the time.
//!
//! # Invariants
//! - Both series are finite, of equal length ≥ 3 (two points always fit a line exactly, so
//!   the error needs a third); the perp has non-zero variance.
//! - Every field of a [`HedgeRatio`] returned is finite.

use super::{MathError, check_finite_slice};

/// A hedge ratio and how well it hedges.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct HedgeRatio {
    /// Perp units to short per unit of service exposure.
    pub beta: f64,
    /// Correlation of the two return series.
    pub correlation: f64,
    /// Fraction of the service's variance the hedge removes (ρ²).
    pub effectiveness: f64,
    /// Standard error of `beta`.
    pub beta_std_error: f64,
    /// Days of returns the estimate used.
    pub observations: usize,
}

/// Fewest paired returns an estimate needs.
pub const MIN_HEDGE_OBSERVATIONS: usize = 3;

/// The minimum-variance hedge ratio of `service` returns by `perp` returns.
///
/// # Errors
/// [`MathError::Dimension`] for unequal or too short series; [`MathError::NonFiniteInput`];
/// [`MathError::InvalidArgument`] for a constant perp series.
pub fn min_variance_hedge(service: &[f64], perp: &[f64]) -> Result<HedgeRatio, MathError> {
    if service.len() != perp.len() || service.len() < MIN_HEDGE_OBSERVATIONS {
        return Err(MathError::Dimension(format!(
            "hedge needs two equal series of at least {MIN_HEDGE_OBSERVATIONS} returns, got {} and {}",
            service.len(),
            perp.len()
        )));
    }
    check_finite_slice("service returns", service)?;
    check_finite_slice("perp returns", perp)?;
    let n = service.len() as f64;
    let ms = service.iter().sum::<f64>() / n;
    let mp = perp.iter().sum::<f64>() / n;
    let (mut cov, mut var_s, mut var_p) = (0.0, 0.0, 0.0);
    for (s, p) in service.iter().zip(perp) {
        let (ds, dp) = (s - ms, p - mp);
        cov += ds * dp;
        var_s += ds * ds;
        var_p += dp * dp;
    }
    if !(var_p > 0.0) {
        return Err(MathError::InvalidArgument {
            name: "perp returns".into(),
            reason: "constant series: it cannot hedge anything".into(),
        });
    }
    let beta = cov / var_p;
    let correlation = if var_s > 0.0 {
        (cov / (var_s.sqrt() * var_p.sqrt())).clamp(-1.0, 1.0)
    } else {
        0.0
    };
    // Σ e² = Σ (ds − β dp)² = var_s − β cov (sums, not means); rounding can take it a hair
    // below zero for a perfect fit.
    let residual = (var_s - beta * cov).max(0.0);
    let beta_std_error = (residual / (n - 2.0) / var_p).sqrt();
    let ratio = HedgeRatio {
        beta,
        correlation,
        effectiveness: correlation * correlation,
        beta_std_error,
        observations: service.len(),
    };
    if [beta, correlation, beta_std_error]
        .iter()
        .all(|v| v.is_finite())
    {
        Ok(ratio)
    } else {
        Err(MathError::InvalidArgument {
            name: "returns".into(),
            reason: "the hedge ratio overflows: returns too large".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hedge_cases() {
        struct TestCase {
            service: Vec<f64>,
            perp: Vec<f64>,
            expected: Result<(f64, f64), &'static str>,
        }
        let cases = [
            // TC0: service = 2 × perp: β = 2, perfectly hedged.
            TestCase {
                service: vec![0.02, -0.04, 0.06],
                perp: vec![0.01, -0.02, 0.03],
                expected: Ok((2.0, 1.0)),
            },
            // TC1: opposite moves: β = −1.
            TestCase {
                service: vec![0.01, -0.01, 0.02],
                perp: vec![-0.01, 0.01, -0.02],
                expected: Ok((-1.0, 1.0)),
            },
            // TC2: constant perp.
            TestCase {
                service: vec![0.01, 0.02, 0.03],
                perp: vec![0.01, 0.01, 0.01],
                expected: Err("constant"),
            },
            // TC3: unequal lengths.
            TestCase {
                service: vec![0.01, 0.02, 0.03],
                perp: vec![0.01, 0.02],
                expected: Err("equal series"),
            },
        ];
        for (i, case) in cases.iter().enumerate() {
            match (min_variance_hedge(&case.service, &case.perp), case.expected) {
                (Ok(h), Ok((beta, eff))) => {
                    assert!((h.beta - beta).abs() < 1e-12, "TC{i}: {h:?}");
                    assert!((h.effectiveness - eff).abs() < 1e-12, "TC{i}: {h:?}");
                }
                (Err(e), Err(needle)) => assert!(e.to_string().contains(needle), "TC{i}: {e}"),
                (got, want) => panic!("TC{i}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn the_standard_error_is_the_regression_slopes() {
        // s = 0.5 p + noise. The expected slope and its standard error are computed here from
        // the textbook definitions (intercept, residuals), not the code's shortcut.
        let perp = [0.01, 0.02, 0.03, 0.04];
        let noise = [0.001, -0.001, 0.001, -0.001];
        let service: Vec<f64> = perp.iter().zip(noise).map(|(p, e)| 0.5 * p + e).collect();
        let h = min_variance_hedge(&service, &perp).expect("estimates");
        let n = perp.len() as f64;
        let (mp, ms) = (
            perp.iter().sum::<f64>() / n,
            service.iter().sum::<f64>() / n,
        );
        let sxx: f64 = perp.iter().map(|p| (p - mp).powi(2)).sum();
        let sxy: f64 = perp
            .iter()
            .zip(&service)
            .map(|(p, s)| (p - mp) * (s - ms))
            .sum();
        let beta = sxy / sxx;
        let alpha = ms - beta * mp;
        let sse: f64 = perp
            .iter()
            .zip(&service)
            .map(|(p, s)| (s - alpha - beta * p).powi(2))
            .sum();
        let se = (sse / (n - 2.0) / sxx).sqrt();
        assert!((h.beta - beta).abs() < 1e-12, "{h:?}");
        assert!((h.beta_std_error - se).abs() < 1e-12, "{h:?} vs {se}");
        assert!(h.beta_std_error > 0.0);
        assert_eq!(h.observations, 4);
    }
}
