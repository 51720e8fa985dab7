//! How numbers read on the console, shared by the actors' feed and the commands' tables.
//!
//! Money has its own formatter in the core ([`ballast::money::format_usdc`]); this module holds
//! the percentages and the counts by name.
//!
//! # Invariants
//! - One function per look: a weight is always `12.3%`, a ratio of the math commands always
//!   two decimals right-aligned in eight columns.

use std::collections::BTreeMap;

use rust_decimal::Decimal;

/// A weight as a percentage with one decimal: `12.3%`.
pub fn pct(weight: Decimal) -> String {
    format!("{:.1}%", weight * Decimal::ONE_HUNDRED)
}

/// A ratio of the math commands (weights, returns, volatilities) as a percentage with two
/// decimals, right-aligned for tables: `  12.34%`.
pub fn pct_f64(ratio: f64) -> String {
    format!("{:>7.2}%", 100.0 * ratio)
}

/// Counts by name, in the map's order: `casino_win 3, price 12`.
pub fn counts(by_name: &BTreeMap<String, u64>) -> String {
    by_name
        .iter()
        .map(|(name, count)| format!("{name} {count}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;

    #[test]
    fn percentages_read_as_before() {
        struct TestCase {
            got: String,
            expected: &'static str,
        }
        let cases = [
            // TC0: a weight, one decimal.
            TestCase {
                got: pct(dec!(0.123)),
                expected: "12.3%",
            },
            // TC1: a negative drift.
            TestCase {
                got: pct(dec!(-0.05)),
                expected: "-5.0%",
            },
            // TC2: a ratio, padded to eight columns.
            TestCase {
                got: pct_f64(0.1234),
                expected: "  12.34%",
            },
            // TC3: counts by name, in name order.
            TestCase {
                got: counts(&BTreeMap::from([
                    ("price".into(), 12),
                    ("casino_win".into(), 3),
                ])),
                expected: "casino_win 3, price 12",
            },
        ];
        for (i, case) in cases.iter().enumerate() {
            assert_eq!(case.got, case.expected, "TC{i}");
        }
    }
}
