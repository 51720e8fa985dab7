//! The hedge's settings (`[hedge]`), checked by [`HedgeConfig::validate`].
//!
//! # Invariants
//! - A config that validates has a threshold in (0, 1), a correlation floor in [0, 1], a
//!   leverage of at least 1, positive caps with the minimum below the maximum, a market name
//!   and a lookback long enough for an estimate with a standard error.
//! - Every problem names its key relative to the `[hedge]` section.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::{
    math::hedge::MIN_HEDGE_OBSERVATIONS,
    validation::{KeyRuleError, every_problem},
};

/// How the hedge ratio is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RatioMethod {
    /// The minimum-variance ratio estimated from the return history, skipped below the
    /// correlation floor.
    Estimated,
    /// The article's 1:1 short, whatever the correlation.
    Fixed,
}

impl RatioMethod {
    /// The configuration's spelling.
    pub fn name(self) -> &'static str {
        match self {
            RatioMethod::Estimated => "estimated",
            RatioMethod::Fixed => "fixed",
        }
    }
}

/// Most days of returns an estimate may ask the venue for (its `/returns` limit).
pub const MAX_LOOKBACK_DAYS: u32 = 3_650;

/// The hedge's settings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HedgeConfig {
    /// Whether the HedgeExecutor runs at all (off by default: it opens leveraged positions).
    pub enabled: bool,
    /// A service must be overweight by more than this (weight units; the article's 0.10)
    /// before its locked part is hedged.
    pub threshold: Decimal,
    /// Estimated or fixed 1:1.
    pub ratio: RatioMethod,
    /// The perp market to short, e.g. `BTC-PERP`.
    pub market: String,
    /// Below this absolute correlation an estimated hedge is skipped.
    pub min_correlation: f64,
    /// Leverage of every hedge order (at least 1).
    pub max_leverage: u32,
    /// Largest notional of one hedge, USDC.
    pub max_notional_usdc: Decimal,
    /// Smallest notional worth opening (and below which an open hedge's cover is immaterial).
    pub min_notional_usdc: Decimal,
    /// Days of returns for the estimate.
    pub lookback_days: u32,
}

impl HedgeConfig {
    /// The article's numbers (a 10-point threshold, 2× leverage on BTC-PERP), off: where
    /// tests and examples start. The configuration's defaults are `config/default.toml`'s.
    pub fn article() -> Self {
        HedgeConfig {
            enabled: false,
            threshold: Decimal::new(10, 2),
            ratio: RatioMethod::Estimated,
            market: "BTC-PERP".to_owned(),
            min_correlation: 0.3,
            max_leverage: 2,
            max_notional_usdc: Decimal::from(500),
            min_notional_usdc: Decimal::from(10),
            lookback_days: 365,
        }
    }

    /// Checks every key.
    ///
    /// # Errors
    /// Every problem, each naming its key.
    pub fn validate(&self) -> Result<(), Vec<KeyRuleError>> {
        let mut problems = Vec::new();
        let mut check = |ok: bool, key: &'static str, value: String, rule: &'static str| {
            if !ok {
                problems.push(KeyRuleError { key, value, rule });
            }
        };
        check(
            self.threshold > Decimal::ZERO && self.threshold < Decimal::ONE,
            "threshold",
            self.threshold.to_string(),
            "must be in (0, 1) (weight units: 0.10 is 10 points)",
        );
        check(
            self.min_correlation.is_finite() && (0.0..=1.0).contains(&self.min_correlation),
            "min_correlation",
            self.min_correlation.to_string(),
            "must be in [0, 1]",
        );
        check(
            self.max_leverage >= 1,
            "max_leverage",
            self.max_leverage.to_string(),
            "must be at least 1",
        );
        check(
            self.max_notional_usdc > Decimal::ZERO,
            "max_notional_usdc",
            self.max_notional_usdc.to_string(),
            "must be positive",
        );
        check(
            self.min_notional_usdc >= Decimal::ZERO
                && self.min_notional_usdc <= self.max_notional_usdc,
            "min_notional_usdc",
            self.min_notional_usdc.to_string(),
            "must be in [0, max_notional_usdc]",
        );
        check(
            !self.market.trim().is_empty() && !self.market.contains(char::is_whitespace),
            "market",
            format!("`{}`", self.market),
            "must be a market name such as `BTC-PERP`",
        );
        let min_days = u32::try_from(MIN_HEDGE_OBSERVATIONS).unwrap_or(u32::MAX);
        check(
            (min_days..=MAX_LOOKBACK_DAYS).contains(&self.lookback_days),
            "lookback_days",
            self.lookback_days.to_string(),
            "must be in [3, 3650] (an estimate and its error need three days)",
        );
        every_problem(problems)
    }
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;

    #[test]
    fn each_bad_key_is_named() {
        struct TestCase {
            config: HedgeConfig,
            expected: Vec<&'static str>,
        }
        let base = HedgeConfig::article();
        let cases = [
            // TC0: the defaults are valid.
            TestCase {
                config: base.clone(),
                expected: vec![],
            },
            // TC1: a threshold of 10 (not 0.10).
            TestCase {
                config: HedgeConfig {
                    threshold: dec!(10),
                    ..base.clone()
                },
                expected: vec!["threshold"],
            },
            // TC2: NaN correlation and zero leverage, both reported.
            TestCase {
                config: HedgeConfig {
                    min_correlation: f64::NAN,
                    max_leverage: 0,
                    ..base.clone()
                },
                expected: vec!["min_correlation", "max_leverage"],
            },
            // TC3: a minimum above the maximum.
            TestCase {
                config: HedgeConfig {
                    min_notional_usdc: dec!(600),
                    ..base.clone()
                },
                expected: vec!["min_notional_usdc"],
            },
            // TC4: no market, too short a lookback.
            TestCase {
                config: HedgeConfig {
                    market: " ".into(),
                    lookback_days: 2,
                    ..base.clone()
                },
                expected: vec!["market", "lookback_days"],
            },
            // TC5: a zero maximum.
            TestCase {
                config: HedgeConfig {
                    max_notional_usdc: Decimal::ZERO,
                    min_notional_usdc: Decimal::ZERO,
                    ..base
                },
                expected: vec!["max_notional_usdc"],
            },
        ];
        for (i, case) in cases.iter().enumerate() {
            let keys: Vec<&str> = case
                .config
                .validate()
                .err()
                .unwrap_or_default()
                .iter()
                .map(|e| e.key)
                .collect();
            assert_eq!(keys, case.expected, "TC{i}");
        }
        let message = HedgeConfig {
            threshold: dec!(10),
            ..HedgeConfig::article()
        }
        .validate()
        .expect_err("invalid")[0]
            .to_string();
        assert!(
            message.starts_with("threshold: 10 must be in (0, 1)"),
            "{message}"
        );
    }
}
