//! How much perp per dollar of stuck overweight: the article's fixed 1:1, or the
//! minimum-variance ratio estimated from the return history, skipped when the correlation is
//! too weak for a short to reduce risk.
//!
//! A hedge on an uncorrelated asset adds its own variance and removes none, and one on a
//! negatively related asset adds exposure; both are skipped with the figure named.
//!
//! # Invariants
//! - `fixed` always uses 1, whatever the history.
//! - An estimated ratio is used only when the estimate exists, its absolute correlation is
//!   at least `min_correlation`, and the ratio is positive; it enters money as a `Decimal`
//!   of at most four decimal places.

use rust_decimal::Decimal;
use serde::Serialize;

use super::config::{HedgeConfig, RatioMethod};
use crate::{
    math::{MathError, hedge::HedgeRatio},
    money::decimal_from_f64,
};

/// Decimal places of a ratio used for sizing.
const RATIO_DP: u32 = 4;

/// The ratio to size a hedge with, or why there is none.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RatioDecision {
    /// Size with `ratio`.
    Use {
        /// Perp dollars per dollar of stuck overweight.
        ratio: Decimal,
        /// The estimate behind it (`None` for `fixed`).
        estimate: Option<HedgeRatio>,
    },
    /// Do not hedge.
    Skip {
        /// Why, naming the figure and the key.
        reason: String,
    },
}

/// Decides the ratio: `estimate` is the minimum-variance estimate from the history (unused
/// for `fixed`, which needs no history).
pub fn decide_ratio(
    config: &HedgeConfig,
    estimate: Option<Result<HedgeRatio, MathError>>,
) -> RatioDecision {
    if config.ratio == RatioMethod::Fixed {
        return RatioDecision::Use {
            ratio: Decimal::ONE,
            estimate: None,
        };
    }
    let estimate = match estimate {
        None => {
            return RatioDecision::Skip {
                reason: "no return history to estimate the ratio from".to_owned(),
            };
        }
        Some(Err(error)) => {
            return RatioDecision::Skip {
                reason: format!("ratio not estimated: {error}"),
            };
        }
        Some(Ok(estimate)) => estimate,
    };
    if estimate.correlation.abs() < config.min_correlation {
        return RatioDecision::Skip {
            reason: format!(
                "correlation {:.3} with {} is below hedge.min_correlation {}: a short would add risk",
                estimate.correlation, config.market, config.min_correlation
            ),
        };
    }
    if estimate.beta <= 0.0 {
        return RatioDecision::Skip {
            reason: format!(
                "estimated ratio {:.4} is not positive: a short of {} would add exposure",
                estimate.beta, config.market
            ),
        };
    }
    match decimal_from_f64(estimate.beta, "hedge ratio") {
        Ok(ratio) if ratio.round_dp(RATIO_DP) > Decimal::ZERO => RatioDecision::Use {
            ratio: ratio.round_dp(RATIO_DP),
            estimate: Some(estimate),
        },
        _ => RatioDecision::Skip {
            reason: format!("estimated ratio {} is not usable", estimate.beta),
        },
    }
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;

    fn estimate(beta: f64, correlation: f64) -> HedgeRatio {
        HedgeRatio {
            beta,
            correlation,
            effectiveness: correlation * correlation,
            beta_std_error: 0.1,
            observations: 365,
        }
    }

    #[test]
    fn ratio_table() {
        struct TestCase {
            method: RatioMethod,
            estimate: Option<Result<HedgeRatio, MathError>>,
            expected: Result<Decimal, &'static str>,
        }
        let cases = [
            // TC0: fixed is 1:1 with no history at all.
            TestCase {
                method: RatioMethod::Fixed,
                estimate: None,
                expected: Ok(dec!(1)),
            },
            // TC1: fixed ignores even an uncorrelated estimate (the article's rule).
            TestCase {
                method: RatioMethod::Fixed,
                estimate: Some(Ok(estimate(0.1, 0.01))),
                expected: Ok(dec!(1)),
            },
            // TC2: a usable estimate, rounded to 4 places.
            TestCase {
                method: RatioMethod::Estimated,
                estimate: Some(Ok(estimate(0.812_345_6, 0.7))),
                expected: Ok(dec!(0.8123)),
            },
            // TC3: a weak correlation is skipped, naming the key.
            TestCase {
                method: RatioMethod::Estimated,
                estimate: Some(Ok(estimate(0.5, 0.1))),
                expected: Err("below hedge.min_correlation 0.3"),
            },
            // TC4: a strong negative correlation: a short would add exposure.
            TestCase {
                method: RatioMethod::Estimated,
                estimate: Some(Ok(estimate(-0.9, -0.8))),
                expected: Err("not positive"),
            },
            // TC5: the estimate failed.
            TestCase {
                method: RatioMethod::Estimated,
                estimate: Some(Err(MathError::Dimension("too short".into()))),
                expected: Err("ratio not estimated"),
            },
            // TC6: no history fetched.
            TestCase {
                method: RatioMethod::Estimated,
                estimate: None,
                expected: Err("no return history"),
            },
            // TC7: exactly at the floor is enough.
            TestCase {
                method: RatioMethod::Estimated,
                estimate: Some(Ok(estimate(1.5, 0.3))),
                expected: Ok(dec!(1.5)),
            },
        ];
        for (i, case) in cases.into_iter().enumerate() {
            let config = HedgeConfig {
                ratio: case.method,
                ..HedgeConfig::article()
            };
            match (decide_ratio(&config, case.estimate), case.expected) {
                (RatioDecision::Use { ratio, .. }, Ok(expected)) => {
                    assert_eq!(ratio, expected, "TC{i}");
                }
                (RatioDecision::Skip { reason }, Err(needle)) => {
                    assert!(reason.contains(needle), "TC{i}: {reason}");
                }
                (got, want) => panic!("TC{i}: got {got:?}, want {want:?}"),
            }
        }
    }
}
