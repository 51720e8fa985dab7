//! The tax rules a user chooses, checked once, each problem naming its key.
//!
//! # Invariants
//! - A [`TaxConfig`] that passed [`TaxConfig::validate`] has a rate in [0, 1], a positive
//!   long-term threshold, non-negative costs and minimum, a wash-sale window of 1 to 366
//!   days under `us` (none under `none`), and substitutes that are plain tickers, none of
//!   them the asset it stands in for.
//! - Keys in errors are relative to the `[tax]` section (`rate`, `substitutes.BTC`).

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use time::{Duration, OffsetDateTime};

use crate::validation::every_problem;

/// Which lots a sale uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum DisposalMethod {
    /// First in, first out: the oldest lots first (the venue's own order).
    #[default]
    Fifo,
    /// Highest in, first out: the lots with the highest basis per unit first (the largest
    /// losses first; ties by age).
    Hifo,
    /// Specific lots: a harvest names exactly the lots at a loss.
    Specific,
}

impl DisposalMethod {
    /// The configuration's name.
    pub const fn name(self) -> &'static str {
        match self {
            DisposalMethod::Fifo => "fifo",
            DisposalMethod::Hifo => "hifo",
            DisposalMethod::Specific => "specific",
        }
    }
}

/// Which wash-sale rule applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Jurisdiction {
    /// The US rule: no loss on a sale whose asset is bought within `wash_sale_days` before
    /// or after it (the disallowed loss moves into the replacement's basis).
    #[default]
    Us,
    /// No wash-sale rule.
    None,
}

/// The wash-sale rule in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "rule")]
pub enum WashRule {
    /// No rule (jurisdiction `none`).
    None,
    /// Buys within `days` before or after a loss sale disallow the loss.
    Window {
        /// The window, days each side of the sale.
        days: u32,
    },
}

impl WashRule {
    /// The window, if any.
    pub fn window(self) -> Option<Duration> {
        match self {
            WashRule::None => None,
            WashRule::Window { days } => Some(Duration::days(i64::from(days))),
        }
    }

    /// Whether `later` falls within the window after `earlier` (inclusive).
    pub fn within(self, earlier: OffsetDateTime, later: OffsetDateTime) -> bool {
        self.window()
            .is_some_and(|window| later >= earlier && later - earlier <= window)
    }
}

/// The rules, in the core's units (fractions, not basis points).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaxConfig {
    /// Which lots a sale uses.
    pub method: DisposalMethod,
    /// A lot held more than this many days is long-term.
    pub long_term_days: u32,
    /// Least unrealized loss worth harvesting, USDC (the lots a harvest sells, together).
    pub min_loss_usdc: Decimal,
    /// The tax rate a harvested loss saves, in [0, 1].
    pub rate: Decimal,
    /// The wash-sale rule (none under jurisdiction `none`).
    pub wash: WashRule,
    /// Substitutes by asset, tried in order; an asset without an entry is sold without one.
    pub substitutes: BTreeMap<String, Vec<String>>,
    /// What one wallet trade costs (half spread + fee), as a fraction of its notional.
    pub trade_cost_rate: Decimal,
    /// Expected cost of holding a substitute instead of the asset through the wash-sale
    /// window (tracking difference), as a fraction of its notional.
    pub holding_cost_rate: Decimal,
}

impl Default for TaxConfig {
    /// The article's numbers: FIFO, 365 days, $5, BTC→ETH, ETH→BTC, SOL→ETH, XMR→BTC,
    /// a 30-day window; a 24% rate, 10 bps per trade, 100 bps of holding cost.
    fn default() -> Self {
        let substitutes = [
            ("BTC", "ETH"),
            ("ETH", "BTC"),
            ("SOL", "ETH"),
            ("XMR", "BTC"),
        ]
        .into_iter()
        .map(|(from, to)| (from.to_owned(), vec![to.to_owned()]))
        .collect();
        TaxConfig {
            method: DisposalMethod::Fifo,
            long_term_days: 365,
            min_loss_usdc: Decimal::from(5),
            rate: Decimal::new(24, 2),
            wash: WashRule::Window { days: 30 },
            substitutes,
            trade_cost_rate: Decimal::new(1, 3),
            holding_cost_rate: Decimal::new(1, 2),
        }
    }
}

/// One problem with the configuration; `Display` names the key relative to `[tax]`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {problem}")]
pub struct TaxConfigError {
    /// The key, e.g. `rate` or `substitutes.BTC`.
    pub key: String,
    /// What is wrong with its value.
    pub problem: String,
}

impl TaxConfigError {
    fn new(key: impl Into<String>, problem: impl Into<String>) -> Self {
        TaxConfigError {
            key: key.into(),
            problem: problem.into(),
        }
    }
}

/// Longest wash-sale window accepted, days.
pub const MAX_WASH_SALE_DAYS: u32 = 366;

impl TaxConfig {
    /// Builds the rules from the configuration's numbers: basis points become fractions
    /// and the jurisdiction chooses the wash-sale rule.
    #[allow(clippy::too_many_arguments)]
    pub fn from_settings(
        method: DisposalMethod,
        long_term_days: u32,
        min_loss_usdc: Decimal,
        rate: Decimal,
        jurisdiction: Jurisdiction,
        wash_sale_days: u32,
        substitutes: BTreeMap<String, Vec<String>>,
        trade_cost_bps: Decimal,
        holding_cost_bps: Decimal,
    ) -> Self {
        let bps = Decimal::from(10_000);
        TaxConfig {
            method,
            long_term_days,
            min_loss_usdc,
            rate,
            wash: match jurisdiction {
                Jurisdiction::Us => WashRule::Window {
                    days: wash_sale_days,
                },
                Jurisdiction::None => WashRule::None,
            },
            substitutes: substitutes
                .into_iter()
                .map(|(asset, list)| {
                    (
                        asset.trim().to_ascii_uppercase(),
                        list.iter().map(|s| s.trim().to_ascii_uppercase()).collect(),
                    )
                })
                .collect(),
            trade_cost_rate: trade_cost_bps.checked_div(bps).unwrap_or(Decimal::MAX),
            holding_cost_rate: holding_cost_bps.checked_div(bps).unwrap_or(Decimal::MAX),
        }
    }

    /// Checks every rule, listing every problem.
    ///
    /// # Errors
    /// One [`TaxConfigError`] per bad key.
    pub fn validate(&self) -> Result<(), Vec<TaxConfigError>> {
        let mut problems = Vec::new();
        if self.long_term_days == 0 {
            problems.push(TaxConfigError::new("long_term_days", "must be positive"));
        }
        if self.min_loss_usdc < Decimal::ZERO {
            problems.push(TaxConfigError::new(
                "min_loss_usdc",
                format!("{} must not be negative", self.min_loss_usdc),
            ));
        }
        if !(Decimal::ZERO..=Decimal::ONE).contains(&self.rate) {
            problems.push(TaxConfigError::new(
                "rate",
                format!("{} must be in [0, 1] (0.24 is 24%)", self.rate),
            ));
        }
        if let WashRule::Window { days } = self.wash
            && !(1..=MAX_WASH_SALE_DAYS).contains(&days)
        {
            problems.push(TaxConfigError::new(
                "wash_sale_days",
                format!(
                    "{days} must be in [1, {MAX_WASH_SALE_DAYS}] (jurisdiction = \"none\" turns the rule off)"
                ),
            ));
        }
        // At most 10%: above that a "cost estimate" is a typo for a percentage.
        let max_cost = Decimal::new(1, 1);
        if !(Decimal::ZERO..=max_cost).contains(&self.trade_cost_rate) {
            problems.push(TaxConfigError::new(
                "trade_cost_bps",
                format!(
                    "{} must be in [0, 1000]",
                    self.trade_cost_rate * Decimal::from(10_000)
                ),
            ));
        }
        if !(Decimal::ZERO..=Decimal::ONE).contains(&self.holding_cost_rate) {
            problems.push(TaxConfigError::new(
                "holding_cost_bps",
                format!(
                    "{} must be in [0, 10000]",
                    self.holding_cost_rate * Decimal::from(10_000)
                ),
            ));
        }
        for (asset, list) in &self.substitutes {
            let key = format!("substitutes.{asset}");
            if !is_ticker(asset) {
                problems.push(TaxConfigError::new(
                    key.clone(),
                    format!("`{asset}` is not a ticker (letters and digits)"),
                ));
            }
            for substitute in list {
                if !is_ticker(substitute) {
                    problems.push(TaxConfigError::new(
                        key.clone(),
                        format!("`{substitute}` is not a ticker (letters and digits)"),
                    ));
                } else if substitute == asset {
                    problems.push(TaxConfigError::new(
                        key.clone(),
                        format!(
                            "`{asset}` cannot substitute for itself: buying it back is the wash sale"
                        ),
                    ));
                }
            }
        }
        every_problem(problems)
    }

    /// The substitutes of `asset`, in the order they are tried.
    pub fn substitutes_of(&self, asset: &str) -> &[String] {
        self.substitutes.get(asset).map_or(&[], Vec::as_slice)
    }
}

fn is_ticker(text: &str) -> bool {
    !text.is_empty() && text.len() <= 16 && text.chars().all(|c| c.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;

    #[test]
    fn validation_names_each_key() {
        struct TestCase {
            config: TaxConfig,
            expected: Vec<&'static str>,
        }
        let base = TaxConfig::default;
        let cases = [
            // TC0: the defaults are valid.
            TestCase {
                config: base(),
                expected: vec![],
            },
            // TC1: a percentage where a fraction belongs, and a zero threshold.
            TestCase {
                config: TaxConfig {
                    rate: dec!(24),
                    long_term_days: 0,
                    ..base()
                },
                expected: vec!["long_term_days", "rate"],
            },
            // TC2: a zero window under `us`.
            TestCase {
                config: TaxConfig {
                    wash: WashRule::Window { days: 0 },
                    ..base()
                },
                expected: vec!["wash_sale_days"],
            },
            // TC3: no window under `none`, whatever the days.
            TestCase {
                config: TaxConfig {
                    wash: WashRule::None,
                    ..base()
                },
                expected: vec![],
            },
            // TC4: an asset substituting for itself, and a bad ticker.
            TestCase {
                config: TaxConfig {
                    substitutes: [
                        ("BTC".to_owned(), vec!["BTC".to_owned()]),
                        ("ETH".to_owned(), vec!["B-T".to_owned()]),
                    ]
                    .into_iter()
                    .collect(),
                    ..base()
                },
                expected: vec!["substitutes.BTC", "substitutes.ETH"],
            },
            // TC5: negative costs and minimum.
            TestCase {
                config: TaxConfig {
                    min_loss_usdc: dec!(-1),
                    trade_cost_rate: dec!(-0.001),
                    holding_cost_rate: dec!(2),
                    ..base()
                },
                expected: vec!["min_loss_usdc", "trade_cost_bps", "holding_cost_bps"],
            },
        ];
        for (index, case) in cases.into_iter().enumerate() {
            let keys: Vec<String> = case
                .config
                .validate()
                .err()
                .unwrap_or_default()
                .into_iter()
                .map(|e| e.key)
                .collect();
            assert_eq!(keys, case.expected, "TC{index}");
        }
    }

    #[test]
    fn settings_convert_basis_points_and_the_jurisdiction() {
        let config = TaxConfig::from_settings(
            DisposalMethod::Hifo,
            365,
            dec!(5),
            dec!(0.3),
            Jurisdiction::None,
            30,
            [("btc".to_owned(), vec![" eth".to_owned()])]
                .into_iter()
                .collect(),
            dec!(10),
            dec!(100),
        );
        assert_eq!(config.trade_cost_rate, dec!(0.001));
        assert_eq!(config.holding_cost_rate, dec!(0.01));
        assert_eq!(config.wash, WashRule::None);
        assert_eq!(config.substitutes_of("BTC"), ["ETH".to_owned()]);
        assert!(config.substitutes_of("SOL").is_empty());
    }
}
