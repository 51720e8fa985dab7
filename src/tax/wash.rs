//! The wash-sale rule, both ways and for every buyer.
//!
//! Under the US rule a loss on a sale is disallowed when substantially identical units are
//! bought within `days` before or after it; the disallowed loss moves into the basis of
//! those replacement units, and the sold units' holding period carries over to them. The
//! rule is about the taxpayer, not about which program bought, so ballast enforces it
//! system-wide:
//! - [`sale_block`]: no harvest sale of an asset bought in the window before it (other than
//!   the lots being sold), since that purchase would disallow the loss harvested;
//! - [`buy_block`]: no buy by any of ballast's buy paths of an asset sold at a loss in the
//!   window before it;
//! - what ballast does not control (the agent's own trades, seen in events or holdings) is
//!   recorded as the rule says: [`LotBook::open_lot`](super::LotBook::open_lot) and
//!   [`LotBook::record_sale`](super::LotBook::record_sale) match
//!   each loss with replacements in its window, moving the loss into their basis.
//!
//! Units replace one loss only ([`Lot::replacement`]); a lot larger than the loss it
//! replaces is split, and only the matched part carries the adjustment. Units bought in the
//! same purchase as the units sold never replace them.
//!
//! # Invariants
//! - Under [`WashRule::None`] nothing is blocked and nothing is matched.
//! - A loss is disallowed at most once in total: Σ disallowed over its matches ≤ its loss,
//!   with equality once all its units are matched; each disallowed cent lands in exactly
//!   one replacement's basis.

use std::fmt;

use rust_decimal::Decimal;
use serde::Serialize;
use time::OffsetDateTime;

pub use super::config::WashRule;
use super::{
    TaxError, add, cents, div,
    lot::{Disposal, Lot, venue_id_of},
    mul, sub,
};

/// The book's parts the matching changes: open lots (in book order), disposals, and the
/// count of parts split off (for unique part ids).
#[derive(Debug)]
pub(super) struct Books<'a> {
    /// Open lots.
    pub lots: &'a mut Vec<Lot>,
    /// Every disposal.
    pub disposals: &'a mut Vec<Disposal>,
    /// Parts split off so far.
    pub splits: &'a mut u64,
}

/// Which side of the rule blocks an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WashSide {
    /// The asset was sold at a loss: no buy until the window closes.
    SoldAtLoss,
    /// The asset was bought: no loss sale until the window closes.
    Bought,
}

/// An order the wash-sale rule forbids now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WashBlock {
    /// The asset.
    pub asset: String,
    /// The sale or purchase that blocks it.
    pub side: WashSide,
    /// When that happened.
    #[serde(with = "time::serde::rfc3339")]
    pub since: OffsetDateTime,
    /// When the window closes (the order is allowed after this instant).
    #[serde(with = "time::serde::rfc3339")]
    pub until: OffsetDateTime,
}

impl fmt::Display for WashBlock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let day = |at: OffsetDateTime| at.date().to_string();
        match self.side {
            WashSide::SoldAtLoss => write!(
                f,
                "{} was sold at a loss on {}: no buy until {} (wash-sale window)",
                self.asset,
                day(self.since),
                day(self.until)
            ),
            WashSide::Bought => write!(
                f,
                "{} was bought on {}: a loss sale before {} would be a wash sale",
                self.asset,
                day(self.since),
                day(self.until)
            ),
        }
    }
}

/// A loss matched with its replacement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WashMatch {
    /// The disposal whose loss was (partly) disallowed.
    pub disposal_id: String,
    /// The replacement (book lot id; a part split off when only some units replace).
    pub lot_id: String,
    /// Units matched.
    pub quantity: Decimal,
    /// Loss disallowed and moved into the replacement's basis, USDC.
    pub disallowed_usdc: Decimal,
    /// The replacement's holding period now starts here.
    #[serde(with = "time::serde::rfc3339")]
    pub acquired_at: OffsetDateTime,
}

/// Whether a buy of `asset` at `at` is forbidden: the latest loss sale of it within the
/// window before. Every buy path of ballast asks this before sending a buy.
pub fn buy_block(
    disposals: &[Disposal],
    asset: &str,
    at: OffsetDateTime,
    rule: WashRule,
) -> Option<WashBlock> {
    let losses = disposals
        .iter()
        .filter(|d| d.asset == asset && d.gain_usdc() < Decimal::ZERO && rule.within(d.sold_at, at))
        .map(|d| d.sold_at);
    latest_block(asset, WashSide::SoldAtLoss, rule, losses)
}

/// Whether a loss sale at `at` of `asset`'s lots `selling` (book ids) is forbidden: the
/// latest other purchase of the asset still held, not yet a replacement, within the window
/// before.
pub fn sale_block(
    lots: &[Lot],
    asset: &str,
    selling: &[String],
    at: OffsetDateTime,
    rule: WashRule,
) -> Option<WashBlock> {
    let sold_venue_ids: Vec<&str> = selling.iter().map(|id| venue_id_of(id)).collect();
    let purchases = lots
        .iter()
        .filter(|lot| {
            lot.asset == asset
                && !lot.replacement
                && !sold_venue_ids.contains(&lot.venue_lot_id.as_str())
                && rule.within(lot.bought_at, at)
        })
        .map(|lot| lot.bought_at);
    latest_block(asset, WashSide::Bought, rule, purchases)
}

/// The block of `asset` by the latest of `times` (the loss sales or the purchases that
/// count, on `side`), lasting `rule`'s window after it; none without a window or a time.
fn latest_block(
    asset: &str,
    side: WashSide,
    rule: WashRule,
    times: impl Iterator<Item = OffsetDateTime>,
) -> Option<WashBlock> {
    let window = rule.window()?;
    times.max().map(|since| WashBlock {
        asset: asset.to_owned(),
        side,
        since,
        until: since + window,
    })
}

/// Matches the lot `lot_id`, just bought, with the unmatched losses of its asset sold in
/// the window before its purchase, oldest first.
pub(super) fn match_buy(
    book: &mut Books<'_>,
    lot_id: &str,
    rule: WashRule,
) -> Result<Vec<WashMatch>, TaxError> {
    if rule.window().is_none() {
        return Ok(Vec::new());
    }
    let Some(lot) = book.lots.iter().find(|l| l.lot_id == lot_id).cloned() else {
        return Ok(Vec::new());
    };
    let losses: Vec<usize> = book
        .disposals
        .iter()
        .enumerate()
        .filter(|(_, d)| {
            d.asset == lot.asset
                && d.unmatched_quantity > Decimal::ZERO
                && venue_id_of(&d.lot_id) != lot.venue_lot_id
                && rule.within(d.sold_at, lot.bought_at)
        })
        .map(|(index, _)| index)
        .collect();
    let mut matches = Vec::new();
    for disposal in losses {
        // The unmatched rest of the lot keeps its id; stop once all of it replaces.
        let still_free = book
            .lots
            .iter()
            .any(|l| l.lot_id == lot_id && !l.replacement);
        if !still_free {
            break;
        }
        matches.push(replace(book, disposal, lot_id)?);
    }
    Ok(matches)
}

/// Matches each of the disposals `disposal_ids`, just recorded, with the lots of its asset
/// bought in the window before the sale and still held, oldest first.
pub(super) fn match_sale(
    book: &mut Books<'_>,
    disposal_ids: &[String],
    rule: WashRule,
) -> Result<Vec<WashMatch>, TaxError> {
    if rule.window().is_none() {
        return Ok(Vec::new());
    }
    let mut matches = Vec::new();
    for id in disposal_ids {
        let Some(index) = book.disposals.iter().position(|d| &d.disposal_id == id) else {
            continue;
        };
        let disposal = book.disposals[index].clone();
        if disposal.unmatched_quantity <= Decimal::ZERO {
            continue;
        }
        let mut candidates: Vec<&Lot> = book
            .lots
            .iter()
            .filter(|l| {
                l.asset == disposal.asset
                    && !l.replacement
                    && l.venue_lot_id != venue_id_of(&disposal.lot_id)
                    && rule.within(l.bought_at, disposal.sold_at)
            })
            .collect();
        candidates.sort_by_key(|l| l.bought_at);
        let candidates: Vec<String> = candidates.into_iter().map(|l| l.lot_id.clone()).collect();
        for lot_id in candidates {
            if book.disposals[index].unmatched_quantity <= Decimal::ZERO {
                break;
            }
            matches.push(replace(book, index, &lot_id)?);
        }
    }
    Ok(matches)
}

/// Makes (part of) lot `lot_id` the replacement of disposal `disposal`'s unmatched loss:
/// as many units as both have; the lot is split when it has more.
fn replace(book: &mut Books<'_>, disposal: usize, lot_id: &str) -> Result<WashMatch, TaxError> {
    let lot_index = book
        .lots
        .iter()
        .position(|l| l.lot_id == lot_id)
        .ok_or_else(|| TaxError::UnknownLot {
            asset: book.disposals[disposal].asset.clone(),
            lot_id: lot_id.to_owned(),
        })?;
    let unmatched = book.disposals[disposal].unmatched_quantity;
    let units = unmatched.min(book.lots[lot_index].quantity);
    let part_index = if units < book.lots[lot_index].quantity {
        // Split: the matched units become a part of their own, right after the rest.
        let (basis, adjustment) = book.lots[lot_index].take(units)?;
        *book.splits += 1;
        let mut part = book.lots[lot_index].clone();
        part.lot_id = format!("{}/{}", part.venue_lot_id, book.splits);
        part.quantity = units;
        part.cost_basis_usdc = basis;
        part.wash_adjustment_usdc = adjustment;
        book.lots.insert(lot_index + 1, part);
        lot_index + 1
    } else {
        lot_index
    };
    let d = &mut book.disposals[disposal];
    let disallowed = if units == unmatched {
        d.unmatched_loss_usdc
    } else {
        cents(mul(
            d.unmatched_loss_usdc,
            div(units, unmatched, "matched share")?,
            "disallowed",
        )?)
        .min(d.unmatched_loss_usdc)
    };
    d.unmatched_quantity = sub(d.unmatched_quantity, units, "unmatched quantity")?;
    d.unmatched_loss_usdc = sub(d.unmatched_loss_usdc, disallowed, "unmatched loss")?;
    d.disallowed_loss_usdc = add(d.disallowed_loss_usdc, disallowed, "disallowed loss")?;
    let held_for = d.sold_at - d.acquired_at;
    let disposal_id = d.disposal_id.clone();
    let part = &mut book.lots[part_index];
    part.cost_basis_usdc = add(part.cost_basis_usdc, disallowed, "replacement basis")?;
    part.wash_adjustment_usdc = add(
        part.wash_adjustment_usdc,
        disallowed,
        "replacement adjustment",
    )?;
    part.replacement = true;
    // The sold units' holding period carries over to their replacement.
    part.acquired_at = part.bought_at - held_for;
    Ok(WashMatch {
        disposal_id,
        lot_id: part.lot_id.clone(),
        quantity: units,
        disallowed_usdc: disallowed,
        acquired_at: part.acquired_at,
    })
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;
    use time::{Duration, macros::datetime};

    use super::*;
    use crate::tax::{
        config::DisposalMethod,
        lot::{LotOrigin, Term, VenueLot, venue_lot},
        lots::{LotBook, SaleRules},
    };

    const RULE: WashRule = WashRule::Window { days: 30 };
    const RULES: SaleRules = SaleRules {
        long_term_days: 365,
        wash: RULE,
    };
    const T0: OffsetDateTime = datetime!(2025-01-01 00:00 UTC);

    fn day(n: i64) -> OffsetDateTime {
        T0 + Duration::days(n)
    }

    /// Opens `lot` as bought outside ballast, under [`RULE`].
    fn open_external(book: &mut LotBook, lot: VenueLot) {
        book.open_lot(&lot, LotOrigin::External, RULE)
            .expect("opens");
    }

    /// Sells `units` of `asset` for `proceeds` at `at` as trade `trade_id`, under [`RULES`]:
    /// the `named` lots, or first in, first out when none is named.
    fn sell(
        book: &mut LotBook,
        asset: &str,
        units: Decimal,
        proceeds: Decimal,
        named: &[String],
        at: OffsetDateTime,
        trade_id: &str,
    ) -> (Vec<Disposal>, Vec<WashMatch>) {
        let method = if named.is_empty() {
            DisposalMethod::Fifo
        } else {
            DisposalMethod::Specific
        };
        book.dispose(asset, units, proceeds, method, named, at, trade_id, RULES)
            .expect("sells")
    }

    /// A book with one BTC lot of 1 unit at basis 100 bought on day 0, sold on day 100
    /// for 60 (a loss of 40).
    fn book_with_loss() -> LotBook {
        let mut book = LotBook::new();
        open_external(&mut book, venue_lot("L1", "BTC", dec!(1), dec!(100), T0));
        sell(&mut book, "BTC", dec!(1), dec!(60), &[], day(100), "S1");
        book
    }

    #[test]
    fn buys_are_blocked_in_the_window_after_a_loss() {
        struct TestCase {
            rule: WashRule,
            asset: &'static str,
            at: OffsetDateTime,
            expected_until: Option<OffsetDateTime>,
        }
        let cases = [
            // TC0: a day after the loss: blocked until day 130.
            TestCase {
                rule: RULE,
                asset: "BTC",
                at: day(101),
                expected_until: Some(day(130)),
            },
            // TC1: on the window's last day: still blocked.
            TestCase {
                rule: RULE,
                asset: "BTC",
                at: day(130),
                expected_until: Some(day(130)),
            },
            // TC2: a day after the window: allowed.
            TestCase {
                rule: RULE,
                asset: "BTC",
                at: day(131),
                expected_until: None,
            },
            // TC3: another asset (the substitute): allowed.
            TestCase {
                rule: RULE,
                asset: "ETH",
                at: day(101),
                expected_until: None,
            },
            // TC4: no rule in force.
            TestCase {
                rule: WashRule::None,
                asset: "BTC",
                at: day(101),
                expected_until: None,
            },
        ];
        let book = book_with_loss();
        for (index, case) in cases.iter().enumerate() {
            let block = book.buy_block(case.asset, case.at, case.rule);
            assert_eq!(block.map(|b| b.until), case.expected_until, "TC{index}");
        }
        // A gain never blocks.
        let mut gain = LotBook::new();
        open_external(&mut gain, venue_lot("G", "BTC", dec!(1), dec!(100), T0));
        sell(&mut gain, "BTC", dec!(1), dec!(150), &[], day(10), "S");
        assert_eq!(gain.buy_block("BTC", day(11), RULE), None);
    }

    #[test]
    fn harvest_sales_are_blocked_in_the_window_after_a_buy() {
        struct TestCase {
            selling: Vec<&'static str>,
            at: OffsetDateTime,
            expected_since: Option<OffsetDateTime>,
        }
        // L1 bought on day 0, L2 on day 50.
        let mut book = LotBook::new();
        for (id, at) in [("L1", T0), ("L2", day(50))] {
            open_external(&mut book, venue_lot(id, "SOL", dec!(1), dec!(200), at));
        }
        let cases = [
            // TC0: selling L1 ten days after L2 was bought: L2 would replace it.
            TestCase {
                selling: vec!["L1"],
                at: day(60),
                expected_since: Some(day(50)),
            },
            // TC1: 31 days after: allowed.
            TestCase {
                selling: vec!["L1"],
                at: day(81),
                expected_since: None,
            },
            // TC2: selling both: nothing bought in the window stays held.
            TestCase {
                selling: vec!["L1", "L2"],
                at: day(60),
                expected_since: None,
            },
            // TC3: selling L2 itself: L1 is old, so nothing blocks.
            TestCase {
                selling: vec!["L2"],
                at: day(60),
                expected_since: None,
            },
        ];
        for (index, case) in cases.iter().enumerate() {
            let selling: Vec<String> = case.selling.iter().map(|s| (*s).to_owned()).collect();
            let block = book.sale_block("SOL", &selling, case.at, RULE);
            assert_eq!(block.map(|b| b.since), case.expected_since, "TC{index}");
        }
    }

    /// A lot as the table checks it: (id, units, basis, acquired day, replacement).
    type LotView = (&'static str, Decimal, Decimal, i64, bool);

    #[test]
    fn a_replacement_takes_the_disallowed_loss_and_the_holding_period() {
        struct TestCase {
            /// The replacement bought after the loss sale: (units, basis, day).
            buy: (Decimal, Decimal, i64),
            /// Expected: (disallowed on the disposal, parts of the replacement as
            /// (id, units, basis, acquired day relative to T0, replacement)).
            expected: (Decimal, Vec<LotView>),
        }
        let cases = [
            // TC0: a full replacement 10 days later: the whole 40 loss moves into its basis,
            // and its holding period starts 100 days before its purchase (day 10).
            TestCase {
                buy: (dec!(1), dec!(70), 110),
                expected: (dec!(40), vec![("R", dec!(1), dec!(110), 10, true)]),
            },
            // TC1: half the units: half the loss (20) is disallowed; no split needed.
            TestCase {
                buy: (dec!(0.5), dec!(35), 110),
                expected: (dec!(20), vec![("R", dec!(0.5), dec!(55), 10, true)]),
            },
            // TC2: twice the units: the lot splits; only the matched unit takes the loss.
            TestCase {
                buy: (dec!(2), dec!(140), 110),
                expected: (
                    dec!(40),
                    vec![
                        ("R", dec!(1), dec!(70), 110, false),
                        ("R/1", dec!(1), dec!(110), 10, true),
                    ],
                ),
            },
            // TC3: outside the window (31 days later): the loss stands.
            TestCase {
                buy: (dec!(1), dec!(70), 131),
                expected: (dec!(0), vec![("R", dec!(1), dec!(70), 131, false)]),
            },
        ];
        for (index, case) in cases.into_iter().enumerate() {
            let mut book = book_with_loss();
            let (units, basis, at) = case.buy;
            open_external(&mut book, venue_lot("R", "BTC", units, basis, day(at)));
            let (disallowed, parts) = case.expected;
            assert_eq!(
                book.disposals()[0].disallowed_loss_usdc,
                disallowed,
                "TC{index}"
            );
            let got: Vec<_> = book
                .lots()
                .iter()
                .map(|l| {
                    (
                        l.lot_id.as_str(),
                        l.quantity,
                        l.cost_basis_usdc,
                        (l.acquired_at - T0).whole_days(),
                        l.replacement,
                    )
                })
                .collect();
            assert_eq!(got, parts, "TC{index}");
            // Form 8949: the loss of 40 is reported as 0 when fully disallowed.
            let d = &book.disposals()[0];
            assert_eq!(d.reported_gain_usdc(), dec!(-40) + disallowed, "TC{index}");
        }
    }

    #[test]
    fn a_loss_sale_after_a_purchase_is_washed_by_it() {
        // The agent bought L2 on day 90 and sold old L1 at a loss on day 100 (outside
        // ballast's control): L2 replaces L1, taking the loss and L1's holding period.
        let mut book = LotBook::new();
        open_external(&mut book, venue_lot("L1", "XMR", dec!(2), dec!(400), T0));
        open_external(
            &mut book,
            venue_lot("L2", "XMR", dec!(2), dec!(300), day(90)),
        );
        let (disposals, matches) = sell(&mut book, "XMR", dec!(2), dec!(290), &[], day(100), "S1");
        assert_eq!(disposals[0].disallowed_loss_usdc, dec!(110));
        assert_eq!(matches.len(), 1);
        let l2 = &book.lots()[0];
        assert_eq!((l2.cost_basis_usdc, l2.replacement), (dec!(410), true));
        // Held since day 0 + (90 − 100) ... i.e. L1's 100 days carried to day 90: day −10.
        assert_eq!((l2.acquired_at - T0).whole_days(), -10);
        // Sold 357 days later, it is long-term thanks to the carried holding period.
        assert_eq!(Term::of(l2.acquired_at, day(357), 365), Term::Long);
        // A later loss sale cannot use L2 again: its units already replace one loss.
        open_external(
            &mut book,
            venue_lot("L3", "XMR", dec!(1), dec!(250), day(101)),
        );
        let (second, _) = sell(
            &mut book,
            "XMR",
            dec!(1),
            dec!(150),
            &["L3".to_owned()],
            day(102),
            "S2",
        );
        assert_eq!(second[0].disallowed_loss_usdc, dec!(0));
        assert_eq!(book.sale_block("XMR", &[], day(103), RULE), None);
    }
}
