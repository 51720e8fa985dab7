//! How numbers read on the console, shared by the actors' feed and the commands' tables.
//!
//! Money has its own formatter in the core ([`ballast::money::format_usdc`]); this module holds
//! the percentages.
//!
//! # Invariants
//! - One function per look: a weight is always `12.3%`, a ratio of the math commands always
//!   two decimals right-aligned in eight columns.

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

/// A time as the console shows it: `2026-01-01 05:00`.
pub fn short_time(at: time::OffsetDateTime) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]");
    at.format(&format).unwrap_or_default()
}

/// The article's metrics as three lines (what rebalancing did, how the portfolio did, and
/// one line per good-range warning), shared by the run summary, `ballast status` and
/// `ballast backtest`. A statistic that cannot be estimated yet reads `–`.
pub fn metrics_lines(m: &ballast::performance::Metrics) -> Vec<String> {
    let opt = |x: Option<f64>| x.map_or_else(|| "–".to_owned(), |x| pct_f64(x).trim().to_owned());
    let mut lines = vec![
        format!(
            "tracking error {}  turnover {}  cost drag {:.3}%  alpha {}",
            opt(m.tracking_error),
            pct_f64(m.annual_turnover).trim(),
            100.0 * m.cost_drag,
            opt(m.rebalancing_alpha)
        ),
        format!(
            "annual return {}  buy-and-hold {}  volatility {}  Sharpe {}  max drawdown {}  days outside band {}",
            opt(m.annual_return),
            opt(m.buy_and_hold_annual_return),
            opt(m.volatility),
            m.sharpe
                .map_or_else(|| "–".to_owned(), |s| format!("{s:.2}")),
            pct_f64(m.max_drawdown).trim(),
            m.days_outside_band
        ),
    ];
    lines.extend(m.warnings.iter().map(|w| format!("warning: {w}")));
    lines
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
        ];
        for (i, case) in cases.iter().enumerate() {
            assert_eq!(case.got, case.expected, "TC{i}");
        }
    }
}
