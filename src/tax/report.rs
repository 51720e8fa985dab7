//! Realized gains and losses in the columns of IRS Form 8949.
//!
//! One row per disposal sold in the year: (a) `description` (`0.0015 BTC`), (b)
//! `date_acquired` (the start of the holding period, carried over by a wash sale), (c)
//! `date_sold`, (d) `proceeds`, (e) `cost_basis` (fee-inclusive, with any disallowed loss
//! carried in), (f) `adjustment_code` (`W` for a wash sale), (g) `adjustment_amount` (the
//! loss disallowed, added back), (h) `gain_or_loss` = (d) − (e) + (g), and the `term`
//! (Part I short-term, Part II long-term). Dates are ISO 8601 (`2026-03-14`), UTC; amounts
//! are USDC to the cent.
//!
//! # Invariants
//! - Every row's `gain_or_loss` is `proceeds − cost_basis + adjustment_amount`, exactly, and
//!   each term's totals are the sums of its rows.
//! - Rows are in the order sold (then acquired), and only sales in the year are included.

use std::fmt::Write as _;

use rust_decimal::Decimal;
use serde::Serialize;

use super::lot::{Disposal, Term};

/// The CSV header: Form 8949's columns.
pub const CSV_HEADER: &str = "description,date_acquired,date_sold,proceeds,cost_basis,adjustment_code,adjustment_amount,gain_or_loss,term";

/// One row of Form 8949.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Form8949Row {
    /// (a) What was sold: `{quantity} {asset}`.
    pub description: String,
    /// (b) When the holding period started, `YYYY-MM-DD`.
    pub date_acquired: String,
    /// (c) When sold, `YYYY-MM-DD`.
    pub date_sold: String,
    /// (d) Proceeds, USDC.
    pub proceeds: Decimal,
    /// (e) Cost basis, USDC.
    pub cost_basis: Decimal,
    /// (f) `W` for a wash sale, else empty.
    pub adjustment_code: String,
    /// (g) Loss disallowed, USDC (0 when none).
    pub adjustment_amount: Decimal,
    /// (h) Gain (positive) or loss (negative), USDC.
    pub gain_or_loss: Decimal,
    /// Short- or long-term.
    pub term: Term,
}

/// The totals of one term.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct TermTotals {
    /// Rows.
    pub disposals: u64,
    /// Σ proceeds.
    pub proceeds: Decimal,
    /// Σ cost basis.
    pub cost_basis: Decimal,
    /// Σ adjustments.
    pub adjustment_amount: Decimal,
    /// Σ gain or loss.
    pub gain_or_loss: Decimal,
}

/// Totals by term.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    /// Part I.
    pub short: TermTotals,
    /// Part II.
    pub long: TermTotals,
}

/// A year's Form 8949.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaxReport {
    /// The rows.
    pub disposals: Vec<Form8949Row>,
    /// Totals by term.
    pub totals: Totals,
}

impl TaxReport {
    /// The disposals sold in `year` (UTC).
    pub fn for_year(disposals: &[Disposal], year: i32) -> Self {
        let mut sold: Vec<&Disposal> = disposals
            .iter()
            .filter(|d| d.sold_at.to_offset(time::UtcOffset::UTC).year() == year)
            .collect();
        sold.sort_by_key(|d| (d.sold_at, d.acquired_at));
        let mut totals = Totals::default();
        let rows = sold
            .into_iter()
            .map(|d| {
                let row = Form8949Row {
                    description: format!("{} {}", d.quantity.normalize(), d.asset),
                    date_acquired: iso_date(d.acquired_at),
                    date_sold: iso_date(d.sold_at),
                    proceeds: d.proceeds_usdc,
                    cost_basis: d.cost_basis_usdc,
                    adjustment_code: if d.disallowed_loss_usdc > Decimal::ZERO {
                        "W".to_owned()
                    } else {
                        String::new()
                    },
                    adjustment_amount: d.disallowed_loss_usdc,
                    gain_or_loss: d.reported_gain_usdc(),
                    term: d.term,
                };
                let t = match d.term {
                    Term::Short => &mut totals.short,
                    Term::Long => &mut totals.long,
                };
                t.disposals += 1;
                t.proceeds += row.proceeds;
                t.cost_basis += row.cost_basis;
                t.adjustment_amount += row.adjustment_amount;
                t.gain_or_loss += row.gain_or_loss;
                row
            })
            .collect();
        TaxReport {
            disposals: rows,
            totals,
        }
    }

    /// The CSV: the header, one line per row, then one total line per term
    /// (`Total short-term`, `Total long-term`).
    pub fn to_csv(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "{CSV_HEADER}");
        for row in &self.disposals {
            let _ = writeln!(
                out,
                "{},{},{},{},{},{},{},{},{}",
                csv_field(&row.description),
                row.date_acquired,
                row.date_sold,
                money(row.proceeds),
                money(row.cost_basis),
                row.adjustment_code,
                money(row.adjustment_amount),
                money(row.gain_or_loss),
                row.term.name()
            );
        }
        for (label, term, totals) in [
            ("Total short-term", Term::Short, &self.totals.short),
            ("Total long-term", Term::Long, &self.totals.long),
        ] {
            let _ = writeln!(
                out,
                "{label},,,{},{},,{},{},{}",
                money(totals.proceeds),
                money(totals.cost_basis),
                money(totals.adjustment_amount),
                money(totals.gain_or_loss),
                term.name()
            );
        }
        out
    }
}

fn iso_date(at: time::OffsetDateTime) -> String {
    at.to_offset(time::UtcOffset::UTC).date().to_string()
}

/// An amount with exactly two decimals.
fn money(amount: Decimal) -> String {
    format!("{:.2}", amount.round_dp(2))
}

/// A CSV field, quoted when it holds a comma, quote or line break.
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

/// The losses the harvests realized: for each harvest (`(harvest_id, the decision's expected
/// loss)`), the basis less the proceeds of the disposals booked under its id, or, when the
/// venue's sale was never booked as disposals, the loss its decision expected. The run
/// summary counts the same way (the loss booked from the venue's reply, else the decision's),
/// so `ballast status` and the summary agree.
pub fn harvested_loss_usdc(harvests: &[(String, Decimal)], disposals: &[Disposal]) -> Decimal {
    harvests
        .iter()
        .map(|(harvest_id, expected_usdc)| {
            let mut booked = disposals
                .iter()
                .filter(|d| d.harvest_id.as_deref() == Some(harvest_id.as_str()))
                .peekable();
            if booked.peek().is_none() {
                *expected_usdc
            } else {
                booked.map(|d| d.cost_basis_usdc - d.proceeds_usdc).sum()
            }
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;
    use time::{OffsetDateTime, macros::datetime};

    use super::*;

    #[allow(clippy::too_many_arguments)]
    fn disposal(
        asset: &str,
        quantity: Decimal,
        acquired: OffsetDateTime,
        sold: OffsetDateTime,
        proceeds: Decimal,
        basis: Decimal,
        disallowed: Decimal,
        term: Term,
    ) -> Disposal {
        Disposal {
            disposal_id: format!("{sold}:{asset}"),
            trade_id: "t".into(),
            asset: asset.into(),
            lot_id: "l".into(),
            quantity,
            acquired_at: acquired,
            sold_at: sold,
            proceeds_usdc: proceeds,
            cost_basis_usdc: basis,
            disallowed_loss_usdc: disallowed,
            unmatched_quantity: Decimal::ZERO,
            unmatched_loss_usdc: Decimal::ZERO,
            term,
            harvest_id: None,
        }
    }

    #[test]
    fn rows_and_totals_by_term() {
        let disposals = [
            // A long-term loss, harvested, whose loss was then washed (W 15.18).
            disposal(
                "BTC",
                dec!(0.001),
                datetime!(2025-12-31 12:00 UTC),
                datetime!(2027-01-02 12:00 UTC),
                dec!(79.92),
                dec!(95.10),
                dec!(15.18),
                Term::Long,
            ),
            // A short-term gain.
            disposal(
                "ETH",
                dec!(0.0266),
                datetime!(2027-01-02 12:00 UTC),
                datetime!(2027-03-01 00:00 UTC),
                dec!(90.00),
                dec!(79.91),
                dec!(0),
                Term::Short,
            ),
            // Another year: left out.
            disposal(
                "SOL",
                dec!(1),
                datetime!(2025-01-01 0:00 UTC),
                datetime!(2026-06-01 0:00 UTC),
                dec!(1),
                dec!(2),
                dec!(0),
                Term::Long,
            ),
        ];
        let report = TaxReport::for_year(&disposals, 2027);
        assert_eq!(report.disposals.len(), 2);
        let btc = &report.disposals[0];
        assert_eq!(
            (
                btc.description.as_str(),
                btc.date_acquired.as_str(),
                btc.date_sold.as_str()
            ),
            ("0.001 BTC", "2025-12-31", "2027-01-02")
        );
        assert_eq!(
            (btc.adjustment_code.as_str(), btc.gain_or_loss),
            ("W", dec!(0))
        );
        assert_eq!(report.totals.long.gain_or_loss, dec!(0));
        assert_eq!(report.totals.short.gain_or_loss, dec!(10.09));
        let csv = report.to_csv();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines[0], CSV_HEADER);
        assert_eq!(
            lines[1],
            "0.001 BTC,2025-12-31,2027-01-02,79.92,95.10,W,15.18,0.00,long"
        );
        assert_eq!(
            lines[2],
            "0.0266 ETH,2027-01-02,2027-03-01,90.00,79.91,,0.00,10.09,short"
        );
        assert_eq!(lines[3], "Total short-term,,,90.00,79.91,,0.00,10.09,short");
        assert_eq!(lines[4], "Total long-term,,,79.92,95.10,,15.18,0.00,long");
        for row in &report.disposals {
            assert_eq!(
                row.gain_or_loss,
                row.proceeds - row.cost_basis + row.adjustment_amount
            );
        }
        let json = serde_json::to_value(&report).expect("serializes");
        assert_eq!(json["disposals"][0]["term"], "long");
        assert_eq!(json["totals"]["short"]["disposals"], 1);
    }

    #[test]
    fn harvested_losses_are_the_booked_ones() {
        struct TestCase {
            harvests: Vec<(String, Decimal)>,
            expected: Decimal,
        }
        let at = datetime!(2026-03-01 00:00 UTC);
        let booked = |harvest: &str, proceeds, basis| Disposal {
            harvest_id: Some(harvest.into()),
            ..disposal(
                "BTC",
                dec!(0.001),
                at,
                at,
                proceeds,
                basis,
                dec!(0),
                Term::Short,
            )
        };
        let disposals = [
            booked("h1", dec!(79.20), dec!(100.00)),
            booked("h1", dec!(39.60), dec!(50.00)),
            // Sold outside any harvest: not a harvested loss.
            disposal(
                "ETH",
                dec!(1),
                at,
                at,
                dec!(10),
                dec!(30),
                dec!(0),
                Term::Short,
            ),
        ];
        let cases = [
            // TC0: a harvest booked in two disposals: 20.80 + 10.40, not the 31.50 expected.
            TestCase {
                harvests: vec![("h1".into(), dec!(31.50))],
                expected: dec!(31.20),
            },
            // TC1: a harvest whose sale was never booked counts what its decision expected.
            TestCase {
                harvests: vec![("h1".into(), dec!(31.50)), ("h2".into(), dec!(5.25))],
                expected: dec!(36.45),
            },
            // TC2: no harvests.
            TestCase {
                harvests: vec![],
                expected: dec!(0),
            },
        ];
        for (i, case) in cases.iter().enumerate() {
            assert_eq!(
                harvested_loss_usdc(&case.harvests, &disposals),
                case.expected,
                "TC{i}"
            );
        }
    }
}
