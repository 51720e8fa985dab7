//! How numbers read on the console, shared by the actors' feed and the commands' tables.
//!
//! Money has its own formatter in the core ([`ballast::money::format_usdc`]); this module holds
//! the percentages and the time format.
//!
//! # Invariants
//! - One function per look: a weight is always `12.3%`, a ratio of the math commands always
//!   two decimals right-aligned in eight columns.

use rust_decimal::Decimal;

/// A time as RFC 3339 (`2026-01-02T08:00:00Z`): the one time format of JSON output and of
/// the times `ballast status` prints.
pub fn rfc3339(at: time::OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// A weight as a percentage with one decimal: `12.3%`.
pub fn pct(weight: Decimal) -> String {
    format!("{:.1}%", weight * Decimal::ONE_HUNDRED)
}

/// A ratio of the math commands (weights, returns, volatilities) as a percentage with two
/// decimals, right-aligned for tables: `  12.34%`.
pub fn pct_f64(ratio: f64) -> String {
    format!("{:>7.2}%", 100.0 * ratio)
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
            // TC3: a time, RFC 3339 (not `2026-01-02 8:00:00.0 +00:00:00`).
            TestCase {
                got: rfc3339(time::macros::datetime!(2026-01-02 08:00 UTC)),
                expected: "2026-01-02T08:00:00Z",
            },
        ];
        for (i, case) in cases.iter().enumerate() {
            assert_eq!(case.got, case.expected, "TC{i}");
        }
    }
}
