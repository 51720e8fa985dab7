//! The tax book's records: a lot (one purchase, or part of one), a disposal (the part of a
//! lot a sale used), their term and origin, and a lot or sale as the venue reports it.
//!
//! A lot's cost basis is fee-inclusive (spread and fees paid) plus any loss a wash sale
//! carried in; its holding period starts at the purchase, or earlier when a wash sale
//! carried a sold lot's holding period over. A disposal carries its share of the sale's
//! proceeds and of the lot's basis, its term, and any loss the wash-sale rule disallowed.
//!
//! # Invariants
//! - [`Lot::take`] never leaves a negative quantity or basis, and the basis taken plus the
//!   basis left is the basis before, exactly.
//! - A term is decided on UTC calendar days: more than `long_term_days` is long-term.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{TaxError, cents, div, mul, sub};

/// Who bought a lot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LotOrigin {
    /// ballast (a harvest's substitute, or another of its buy paths).
    Ballast,
    /// Someone else: the agent itself, an operator; seen in events or holdings.
    External,
}

impl LotOrigin {
    /// The stored name.
    pub const fn name(self) -> &'static str {
        match self {
            LotOrigin::Ballast => "ballast",
            LotOrigin::External => "external",
        }
    }
}

/// Short- or long-term.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Term {
    /// Held `long_term_days` or less.
    Short,
    /// Held more than `long_term_days`.
    Long,
}

impl Term {
    /// A lot whose holding period started at `acquired_at` and ended at `sold_at` is
    /// long-term when more than `long_term_days` calendar days (UTC) lie between them: the
    /// US rule is "more than one year", so 365 days held is short-term and 366 long.
    pub fn of(acquired_at: OffsetDateTime, sold_at: OffsetDateTime, long_term_days: u32) -> Term {
        let utc = time::UtcOffset::UTC;
        let days = (sold_at.to_offset(utc).date() - acquired_at.to_offset(utc).date()).whole_days();
        if days > i64::from(long_term_days) {
            Term::Long
        } else {
            Term::Short
        }
    }

    /// The stored and reported name.
    pub const fn name(self) -> &'static str {
        match self {
            Term::Short => "short",
            Term::Long => "long",
        }
    }
}

/// One lot (or part of one) in the book.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Lot {
    /// Book id: the venue's lot id, or `{venue_lot_id}/{n}` for a part split off by a
    /// partial wash-sale replacement.
    pub lot_id: String,
    /// The venue's lot id.
    pub venue_lot_id: String,
    /// Asset ticker.
    pub asset: String,
    /// Units held.
    pub quantity: Decimal,
    /// What the units cost, spread and fees included, plus any disallowed loss carried in,
    /// USDC.
    pub cost_basis_usdc: Decimal,
    /// The part of the basis that is a disallowed loss carried in by the wash-sale rule.
    pub wash_adjustment_usdc: Decimal,
    /// When the units were bought.
    #[serde(with = "time::serde::rfc3339")]
    pub bought_at: OffsetDateTime,
    /// When the holding period started (earlier than `bought_at` when a wash sale carried
    /// a sold lot's holding period over).
    #[serde(with = "time::serde::rfc3339")]
    pub acquired_at: OffsetDateTime,
    /// Who bought it.
    pub origin: LotOrigin,
    /// Already the replacement of a disallowed loss (units replace one loss only).
    pub replacement: bool,
}

/// The part of a lot a sale used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Disposal {
    /// `{trade_id}:{lot_id}`, unique.
    pub disposal_id: String,
    /// The venue trade that sold it.
    pub trade_id: String,
    /// Asset ticker.
    pub asset: String,
    /// The book lot.
    pub lot_id: String,
    /// Units sold.
    pub quantity: Decimal,
    /// Start of the holding period.
    #[serde(with = "time::serde::rfc3339")]
    pub acquired_at: OffsetDateTime,
    /// When sold.
    #[serde(with = "time::serde::rfc3339")]
    pub sold_at: OffsetDateTime,
    /// Its share of the sale's proceeds, USDC.
    pub proceeds_usdc: Decimal,
    /// Its share of the lot's basis, USDC.
    pub cost_basis_usdc: Decimal,
    /// Loss disallowed by the wash-sale rule (Form 8949 code W), USDC, non-negative.
    pub disallowed_loss_usdc: Decimal,
    /// Of a loss: units not yet matched with a replacement.
    pub unmatched_quantity: Decimal,
    /// Of a loss: the loss on those units, USDC.
    pub unmatched_loss_usdc: Decimal,
    /// Short- or long-term.
    pub term: Term,
    /// The harvest that sold it, when one did.
    pub harvest_id: Option<String>,
}

impl Disposal {
    /// Proceeds − basis, before any wash-sale adjustment.
    pub fn gain_usdc(&self) -> Decimal {
        self.proceeds_usdc - self.cost_basis_usdc
    }

    /// What Form 8949 reports: proceeds − basis + the disallowed loss.
    pub fn reported_gain_usdc(&self) -> Decimal {
        self.gain_usdc() + self.disallowed_loss_usdc
    }
}

/// A lot as the venue reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VenueLot {
    /// The venue's lot id.
    pub venue_lot_id: String,
    /// Asset ticker.
    pub asset: String,
    /// Units left in the lot.
    pub quantity: Decimal,
    /// Their basis (the cash paid, spread included), USDC.
    pub cost_basis_usdc: Decimal,
    /// When bought.
    pub acquired_at: OffsetDateTime,
}

impl VenueLot {
    /// The lot of `asset` a venue event or reply reported.
    pub fn from_trade_lot(asset: &str, lot: &crate::observation::TradeLot) -> Self {
        VenueLot {
            venue_lot_id: lot.lot_id.clone(),
            asset: asset.to_owned(),
            quantity: lot.quantity,
            cost_basis_usdc: lot.cost_basis_usdc,
            acquired_at: lot.acquired_at,
        }
    }
}

/// The part of a venue lot a sale used, as the venue reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SoldPart {
    /// The venue's lot id.
    pub venue_lot_id: String,
    /// Units sold from it.
    pub quantity: Decimal,
    /// The proceeds allotted to them, USDC.
    pub proceeds_usdc: Decimal,
}

impl SoldPart {
    /// The part of a lot a venue sale reported using (no proceeds reported: none).
    pub fn from_trade_lot(lot: &crate::observation::TradeLot) -> Self {
        SoldPart {
            venue_lot_id: lot.lot_id.clone(),
            quantity: lot.quantity,
            proceeds_usdc: lot.proceeds_usdc.unwrap_or(Decimal::ZERO),
        }
    }
}

impl Lot {
    /// Takes `units` from the lot: all of it, or a proportional share of its basis (and of
    /// its carried-in adjustment) to the cent. Returns the basis and adjustment taken; the
    /// lot keeps the rest (it is left empty when all was taken).
    ///
    /// # Errors
    /// Units that are not positive or exceed the lot; the lot is unchanged then.
    pub(super) fn take(&mut self, units: Decimal) -> Result<(Decimal, Decimal), TaxError> {
        if units <= Decimal::ZERO || units > self.quantity {
            return Err(TaxError::InsufficientLots {
                asset: self.asset.clone(),
                requested: units,
                available: self.quantity,
            });
        }
        let (basis, adjustment) = if units == self.quantity {
            (self.cost_basis_usdc, self.wash_adjustment_usdc)
        } else {
            let fraction = div(units, self.quantity, "lot fraction")?;
            (
                cents(mul(self.cost_basis_usdc, fraction, "basis share")?),
                cents(mul(
                    self.wash_adjustment_usdc,
                    fraction,
                    "adjustment share",
                )?),
            )
        };
        let quantity = sub(self.quantity, units, "lot quantity")?;
        let basis_left = sub(self.cost_basis_usdc, basis, "lot basis")?;
        let adjustment_left = sub(self.wash_adjustment_usdc, adjustment, "lot adjustment")?;
        self.quantity = quantity;
        self.cost_basis_usdc = basis_left;
        self.wash_adjustment_usdc = adjustment_left;
        Ok((basis, adjustment))
    }
}

/// The venue lot id of a book lot id (`lot-7/2` → `lot-7`).
pub fn venue_id_of(lot_id: &str) -> &str {
    lot_id.split_once('/').map_or(lot_id, |(venue, _)| venue)
}

/// A lot for tests: bought and acquired at `at`, external, not a replacement.
#[cfg(test)]
pub(crate) fn test_lot(
    id: &str,
    asset: &str,
    quantity: Decimal,
    basis: Decimal,
    at: OffsetDateTime,
) -> Lot {
    Lot {
        lot_id: id.to_owned(),
        venue_lot_id: id.to_owned(),
        asset: asset.to_owned(),
        quantity,
        cost_basis_usdc: basis,
        wash_adjustment_usdc: Decimal::ZERO,
        bought_at: at,
        acquired_at: at,
        origin: LotOrigin::External,
        replacement: false,
    }
}

/// A venue lot for tests.
#[cfg(test)]
pub(crate) fn venue_lot(
    id: &str,
    asset: &str,
    quantity: Decimal,
    basis: Decimal,
    at: OffsetDateTime,
) -> VenueLot {
    VenueLot {
        venue_lot_id: id.to_owned(),
        asset: asset.to_owned(),
        quantity,
        cost_basis_usdc: basis,
        acquired_at: at,
    }
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;
    use time::macros::datetime;

    use super::*;

    #[test]
    fn term_is_more_than_the_threshold() {
        struct TestCase {
            acquired: OffsetDateTime,
            sold: OffsetDateTime,
            days: u32,
            expected: Term,
        }
        let cases = [
            // TC0: exactly 365 days is short-term ("more than one year" is long).
            TestCase {
                acquired: datetime!(2025-01-10 09:00 UTC),
                sold: datetime!(2026-01-10 23:00 UTC),
                days: 365,
                expected: Term::Short,
            },
            // TC1: 366 days is long-term.
            TestCase {
                acquired: datetime!(2025-01-10 09:00 UTC),
                sold: datetime!(2026-01-11 00:30 UTC),
                days: 365,
                expected: Term::Long,
            },
            // TC2: the same day.
            TestCase {
                acquired: datetime!(2026-03-01 00:00 UTC),
                sold: datetime!(2026-03-01 23:59 UTC),
                days: 365,
                expected: Term::Short,
            },
            // TC3: a configured threshold of 30 days.
            TestCase {
                acquired: datetime!(2026-03-01 00:00 UTC),
                sold: datetime!(2026-04-01 00:00 UTC),
                days: 30,
                expected: Term::Long,
            },
            // TC4: dates are taken in UTC, whatever the offset written.
            TestCase {
                acquired: datetime!(2025-01-10 23:30 -05:00),
                sold: datetime!(2026-01-11 01:00 UTC),
                days: 365,
                expected: Term::Short,
            },
        ];
        for (index, case) in cases.iter().enumerate() {
            assert_eq!(
                Term::of(case.acquired, case.sold, case.days),
                case.expected,
                "TC{index}"
            );
        }
    }

    #[test]
    fn taking_part_of_a_lot_keeps_the_bases_whole() {
        let at = datetime!(2025-01-01 00:00 UTC);
        let mut lot = test_lot("a", "BTC", dec!(3), dec!(100.00), at);
        lot.wash_adjustment_usdc = dec!(10.00);
        // A third: 33.33 of basis (3.33 of it carried in); 66.67 stays.
        assert_eq!(lot.take(dec!(1)), Ok((dec!(33.33), dec!(3.33))));
        assert_eq!(
            (lot.quantity, lot.cost_basis_usdc, lot.wash_adjustment_usdc),
            (dec!(2), dec!(66.67), dec!(6.67))
        );
        // More than is left: refused, unchanged.
        let before = lot.clone();
        assert!(lot.take(dec!(2.5)).is_err());
        assert_eq!(lot, before);
        // The rest: all of what is left.
        assert_eq!(lot.take(dec!(2)), Ok((dec!(66.67), dec!(6.67))));
        assert!(lot.quantity.is_zero() && lot.cost_basis_usdc.is_zero());
    }
}
