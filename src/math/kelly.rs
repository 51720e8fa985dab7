//! Kelly sizing: the article's binary bet and the multi-asset growth-optimal portfolio.
//!
//! **Binary** ([`binary_kelly`]): a bet that wins `odds` per unit staked with probability `p`
//! and loses the stake otherwise has growth-optimal stake `f* = (odds·p − (1 − p)) / odds` of the
//! bankroll; fractional Kelly stakes `multiplier·f*` (quarter Kelly: 52% at 1:1 gives
//! `f* = 4%`, staked 1%). A non-positive edge has optimal stake zero: it is refused with
//! [`MathError::NoEdge`] so no caller can mistake "do not bet" for a small bet.
//!
//! **Portfolio** ([`kelly_portfolio`]): with annualized excess returns `μ − rf` and covariance
//! `Σ`, the expected log growth of `w` is approximately `g(w) = rf + (μ − rf)ᵀw − ½wᵀΣw`; full
//! Kelly maximizes it. Fractional Kelly with multiplier `m` maximizes
//! `(μ − rf)ᵀw − wᵀΣw/(2m)` — risk aversion `1/m` — which without constraints is exactly
//! `m ×` the full-Kelly portfolio with the rest in cash (the textbook mixing rule). Here weights
//! are long-only, bounded and fully invested (the reserve is the near-cash asset), so we solve
//! that objective under the constraints; under the budget `rf` only shifts `g` and does not
//! move the optimum. It is the frontier point of risk tolerance `t = m` ([`super::markowitz`]),
//! so the kelly multiplier in config acts: a smaller multiplier moves along the frontier toward
//! minimum variance.
//!
//! # Invariants
//! - `0 < multiplier ≤ 1` (over-betting beyond full Kelly is refused), probabilities in (0, 1),
//!   odds > 0, bankroll ≥ 0 and finite.

use super::{
    MarketModel, MathError, WeightBounds, check_finite,
    markowitz::{Allocation, mean_variance},
};

/// The article's default multiplier: quarter Kelly.
pub const DEFAULT_MULTIPLIER: f64 = 0.25;

/// A sized binary bet.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct BinaryKelly {
    /// Expected profit per unit staked: `odds·p − (1 − p)`.
    pub edge: f64,
    /// Full-Kelly fraction of the bankroll.
    pub full_fraction: f64,
    /// The multiplier applied.
    pub multiplier: f64,
    /// Fraction of the bankroll to stake.
    pub fraction: f64,
    /// Stake in the bankroll's unit.
    pub stake: f64,
    /// Expected log growth per bet at the staked fraction.
    pub growth_per_bet: f64,
}

fn check_multiplier(multiplier: f64) -> Result<(), MathError> {
    if multiplier.is_finite() && multiplier > 0.0 && multiplier <= 1.0 {
        Ok(())
    } else {
        Err(MathError::InvalidArgument {
            name: "kelly multiplier".into(),
            reason: format!("{multiplier} is outside (0, 1]"),
        })
    }
}

/// Sizes a binary bet by fractional Kelly.
///
/// # Errors
/// [`MathError::InvalidArgument`] for a probability outside (0, 1), non-positive odds, a
/// multiplier outside (0, 1] or a negative bankroll; [`MathError::NoEdge`] for a non-positive
/// edge.
pub fn binary_kelly(
    win_prob: f64,
    odds: f64,
    multiplier: f64,
    bankroll: f64,
) -> Result<BinaryKelly, MathError> {
    if !(win_prob.is_finite() && win_prob > 0.0 && win_prob < 1.0) {
        return Err(MathError::InvalidArgument {
            name: "win probability".into(),
            reason: format!("{win_prob} is outside (0, 1)"),
        });
    }
    if !(odds.is_finite() && odds > 0.0) {
        return Err(MathError::InvalidArgument {
            name: "odds".into(),
            reason: format!("{odds} is not positive"),
        });
    }
    check_multiplier(multiplier)?;
    if !(bankroll.is_finite() && bankroll >= 0.0) {
        return Err(MathError::InvalidArgument {
            name: "bankroll".into(),
            reason: format!("{bankroll} is not a finite non-negative amount"),
        });
    }
    let loss_prob = 1.0 - win_prob;
    let edge = odds * win_prob - loss_prob;
    if edge <= 0.0 {
        return Err(MathError::NoEdge {
            win_prob,
            odds,
            edge,
        });
    }
    let full_fraction = edge / odds;
    let fraction = multiplier * full_fraction;
    let growth_per_bet =
        win_prob * (1.0 + odds * fraction).ln() + loss_prob * (1.0 - fraction).ln();
    Ok(BinaryKelly {
        edge,
        full_fraction,
        multiplier,
        fraction,
        stake: fraction * bankroll,
        growth_per_bet,
    })
}

/// A fractional-Kelly portfolio.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct KellyPortfolio {
    /// The optimized allocation.
    pub allocation: Allocation,
    /// The multiplier applied.
    pub multiplier: f64,
    /// Approximate expected annual log growth `rf + (μ − rf)ᵀw − ½wᵀΣw`.
    pub growth_rate: f64,
}

/// The long-only, bounded, fully invested fractional-Kelly portfolio (see the module docs).
///
/// # Errors
/// [`MathError::InvalidArgument`] for a multiplier outside (0, 1] or a non-finite `rf`; solver
/// errors.
pub fn kelly_portfolio(
    model: &MarketModel,
    bounds: &WeightBounds,
    rf: f64,
    multiplier: f64,
) -> Result<KellyPortfolio, MathError> {
    check_multiplier(multiplier)?;
    check_finite("risk-free rate", rf)?;
    let allocation = mean_variance(model, bounds, multiplier)?;
    let variance = allocation.volatility * allocation.volatility;
    let growth_rate = rf + (allocation.expected_return - rf) - 0.5 * variance;
    Ok(KellyPortfolio {
        allocation,
        multiplier,
        growth_rate,
    })
}

#[cfg(test)]
mod tests {
    use nalgebra::DMatrix;

    use super::*;

    #[test]
    fn binary_cases() {
        struct TestCase {
            p: f64,
            odds: f64,
            m: f64,
            bankroll: f64,
            expected: Result<f64, &'static str>,
        }
        let cases = [
            // TC0: the article: 52% at 1:1, quarter Kelly → 1% of 1000 = 10.
            TestCase {
                p: 0.52,
                odds: 1.0,
                m: 0.25,
                bankroll: 1000.0,
                expected: Ok(10.0),
            },
            // TC1: full Kelly at 60% and 2:1: f* = (2·0.6 − 0.4)/2 = 0.4.
            TestCase {
                p: 0.6,
                odds: 2.0,
                m: 1.0,
                bankroll: 100.0,
                expected: Ok(40.0),
            },
            // TC2: a fair coin has no edge.
            TestCase {
                p: 0.5,
                odds: 1.0,
                m: 0.25,
                bankroll: 1000.0,
                expected: Err("no edge"),
            },
            // TC3: a losing bet.
            TestCase {
                p: 0.4,
                odds: 1.0,
                m: 0.25,
                bankroll: 1000.0,
                expected: Err("no edge"),
            },
            // TC4: a probability of 1 is not a bet.
            TestCase {
                p: 1.0,
                odds: 1.0,
                m: 0.25,
                bankroll: 1000.0,
                expected: Err("win probability"),
            },
            // TC5: over-betting multiplier refused.
            TestCase {
                p: 0.6,
                odds: 1.0,
                m: 2.0,
                bankroll: 1000.0,
                expected: Err("multiplier"),
            },
        ];
        for (i, c) in cases.iter().enumerate() {
            match (binary_kelly(c.p, c.odds, c.m, c.bankroll), c.expected) {
                (Ok(k), Ok(stake)) => {
                    assert!((k.stake - stake).abs() < 1e-9, "TC{i}: {k:?}");
                    assert!(k.growth_per_bet > 0.0, "TC{i}");
                }
                (Err(e), Err(needle)) => assert!(e.to_string().contains(needle), "TC{i}: {e}"),
                (got, want) => panic!("TC{i}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn multiplier_moves_toward_min_variance() {
        let model = MarketModel::unnamed(
            vec![0.30, 0.02],
            DMatrix::from_row_slice(2, 2, &[0.36, 0.0, 0.0, 0.0001]),
        )
        .expect("valid");
        let bounds = WeightBounds::long_only(2);
        let full = kelly_portfolio(&model, &bounds, 0.0, 1.0).expect("solves");
        let quarter = kelly_portfolio(&model, &bounds, 0.0, 0.25).expect("solves");
        assert!(quarter.allocation.weights[0] < full.allocation.weights[0]);
        // Unconstrained by the cap, quarter Kelly is close to a quarter of the risky stake.
        let ratio = quarter.allocation.weights[0] / full.allocation.weights[0];
        assert!((ratio - 0.25).abs() < 0.01, "{ratio}");
    }
}
