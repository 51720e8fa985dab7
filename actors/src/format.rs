//! How numbers read on the console, shared by the actors' feed and the commands' tables.
//!
//! Money has its own formatter in the core ([`ballast::money::format_usdc`]); this module holds
//! the percentages, the time formats, venue events' lines and the counts by name.
//!
//! # Invariants
//! - One function per look: a weight is always `12.3%`, a ratio of the math commands always
//!   two decimals right-aligned in eight columns.

use std::collections::BTreeMap;

use ballast::{money::format_usdc, observation::Happening};
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

/// One row of an allocation table (`ballast ctl status`, the run summary): a service, its
/// balance, weight, target and drift in fixed columns. `allocation_row("service", "balance",
/// "weight", "target", "drift")` is the header.
pub fn allocation_row(
    service: &str,
    balance: &str,
    weight: &str,
    target: &str,
    drift: &str,
) -> String {
    format!("  {service:<8} {balance:>12} {weight:>7} {target:>7} {drift:>7}")
}

/// The header of an allocation table.
pub fn allocation_header() -> String {
    allocation_row("service", "balance", "weight", "target", "drift")
}

/// One line saying what a venue event was (`casino win +$99.71 at 60x, 10.3% of bankroll`),
/// `None` for what is not worth a line (heartbeats, a zero funding payment); `before_total` is
/// the portfolio's value before it, for a win's share of the bankroll.
pub fn event_detail(what: &Happening, before_total: Option<Decimal>) -> Option<String> {
    let text = match what {
        Happening::CasinoWin {
            amount_usdc,
            multiplier,
            ..
        } => {
            let share = before_total
                .filter(|t| *t > Decimal::ZERO)
                .map(|t| format!(", {} of bankroll", pct(amount_usdc / t)))
                .unwrap_or_default();
            format!(
                "casino win +{} at {multiplier}x{share}",
                format_usdc(*amount_usdc)
            )
        }
        Happening::CasinoLoss { amount_usdc } => {
            format!("casino loss -{}", format_usdc(*amount_usdc))
        }
        Happening::ReferralIncome {
            amount_usdc,
            source,
        } => format!(
            "referral income +{} from {}",
            format_usdc(*amount_usdc),
            source.name()
        ),
        Happening::DomainsIncome { amount_usdc } => {
            format!("domains income +{}", format_usdc(*amount_usdc))
        }
        Happening::MarkToMarket {
            service,
            change_usdc,
        } => format!("{} marked {change_usdc:+} USDC", service.name()),
        Happening::Transfer {
            service,
            direction,
            amount_usdc,
            ..
        } => format!(
            "transfer {} {} {}",
            direction.name(),
            service.name(),
            format_usdc(*amount_usdc)
        ),
        Happening::Drawdown { service, drawdown } => {
            format!("{} drawdown {}", service.name(), pct(*drawdown))
        }
        Happening::Prices { prices_usdc } => {
            format!("prices for {} assets", prices_usdc.len())
        }
        Happening::OrderPlaced {
            market,
            side,
            limit_price,
            ..
        } => format!("{side:?} {market} limit order resting at {limit_price}"),
        Happening::PositionOpened {
            market,
            side,
            notional_usdc,
            fill_price,
            ..
        } => format!(
            "{side:?} {market} {} opened at {fill_price}",
            format_usdc(*notional_usdc)
        ),
        Happening::PositionClosed {
            market,
            status,
            realized_pnl_usdc,
            ..
        } => format!("{market} position {status}, realized {realized_pnl_usdc:+} USDC"),
        // A zero funding payment moved nothing: counted, not printed.
        Happening::Funding { amount_usdc } if amount_usdc.is_zero() => return None,
        Happening::Funding { amount_usdc } => {
            format!("funding {amount_usdc:+} USDC")
        }
        Happening::WalletTrade {
            asset,
            side,
            quantity,
            price_usdc,
            ..
        } => format!("wallet {side:?} {quantity} {asset} at {price_usdc}"),
        Happening::EscrowFee { amount_usdc, .. } => {
            format!("escrow fee +{}", format_usdc(*amount_usdc))
        }
        Happening::FundsLocked {
            service,
            amount_usdc,
            until,
        } => format!(
            "{} {} locked until {}",
            service.name(),
            format_usdc(*amount_usdc),
            until
                .format(time::macros::format_description!(
                    "[year]-[month]-[day] [hour]:[minute]"
                ))
                .unwrap_or_default()
        ),
        Happening::FundsReleased {
            service,
            amount_usdc,
        } => format!("{} {} released", service.name(), format_usdc(*amount_usdc)),
        Happening::Balance => "balances updated".to_owned(),
        Happening::Heartbeat => return None,
        Happening::Other { type_name } => format!("unknown event type `{type_name}`"),
    };
    Some(text)
}

/// Counts by name, in the map's order: `casino_win 3, price 12`.
pub fn counts(by_name: &BTreeMap<String, u64>) -> String {
    by_name
        .iter()
        .map(|(name, count)| format!("{name} {count}"))
        .collect::<Vec<_>>()
        .join(", ")
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
    lines.extend(m.degenerate.iter().map(|d| format!("note: {d}")));
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
            // TC3: a time, RFC 3339 (not `2026-01-02 8:00:00.0 +00:00:00`).
            TestCase {
                got: rfc3339(time::macros::datetime!(2026-01-02 08:00 UTC)),
                expected: "2026-01-02T08:00:00Z",
            },
            // TC4: counts by name, in name order.
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

    #[test]
    fn event_lines_say_what_happened_and_skip_noise() {
        struct TestCase {
            what: Happening,
            expected: Option<&'static str>,
        }
        let cases = [
            // TC0: a zero funding payment is not worth a line.
            TestCase {
                what: Happening::Funding {
                    amount_usdc: dec!(0),
                },
                expected: None,
            },
            // TC1: a real one is.
            TestCase {
                what: Happening::Funding {
                    amount_usdc: dec!(-0.42),
                },
                expected: Some("funding -0.42 USDC"),
            },
            // TC2: heartbeats never print.
            TestCase {
                what: Happening::Heartbeat,
                expected: None,
            },
            // TC3: a win names its share of the bankroll.
            TestCase {
                what: Happening::CasinoWin {
                    amount_usdc: dec!(100),
                    multiplier: dec!(60),
                    stake_usdc: dec!(1.67),
                },
                expected: Some("casino win +$100.00 at 60x, 10.0% of bankroll"),
            },
        ];
        for (i, case) in cases.iter().enumerate() {
            assert_eq!(
                event_detail(&case.what, Some(dec!(1000))).as_deref(),
                case.expected,
                "TC{i}"
            );
        }
    }
}
