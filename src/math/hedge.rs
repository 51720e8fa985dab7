//! Minimum-variance hedge ratio between a service's returns and a perp's returns.
//!
//! Shorting `β` units of the perp per unit of service exposure minimizes the variance of the
//! hedged returns `s − β·p`; `β = cov(s, p) / var(p)`. The variance removed is the squared
//! correlation (hedge effectiveness `ρ²`). The article shorts BTC-PERP 1:1, which is optimal
//! only when `β = 1`.
//!
//! # Invariants
//! - Both series are finite, of equal length ≥ 2; the perp has non-zero variance.

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
}

/// The minimum-variance hedge ratio of `service` returns by `perp` returns.
///
/// # Errors
/// [`MathError::Dimension`] for unequal or too short series; [`MathError::NonFiniteInput`];
/// [`MathError::InvalidArgument`] for a constant perp series.
pub fn min_variance_hedge(service: &[f64], perp: &[f64]) -> Result<HedgeRatio, MathError> {
    if service.len() != perp.len() || service.len() < 2 {
        return Err(MathError::Dimension(format!(
            "hedge needs two equal series of at least 2 returns, got {} and {}",
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
    Ok(HedgeRatio {
        beta,
        correlation,
        effectiveness: correlation * correlation,
    })
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
                service: vec![0.01, 0.02],
                perp: vec![0.01, 0.01],
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
}
