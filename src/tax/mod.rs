//! Tax lots and tax-loss harvesting: plain functions over a lot book, for the TaxHarvester
//! actor to call.
//!
//! The parts: [`config`] holds the rules a user chooses (disposal method, long-term
//! threshold, minimum loss, tax rate, wash-sale window, substitutes, cost estimates), each
//! validated and named by its key; [`lot`] holds the records (a lot: quantity,
//! fee-inclusive basis, acquisition time, where it came from; a disposal; the term);
//! [`lots`] is the [`LotBook`]: the lots ballast knows of and the disposals it recorded; [`selection`] orders lots by the disposal method and picks the
//! ones a sale uses; [`wash`] is the wash-sale rule in both directions (which buys and
//! sales it forbids, and what it does to a loss whose replacement was bought anyway);
//! [`harvest`] decides what to harvest and whether it pays; [`report`] turns disposals into
//! IRS Form 8949 rows.
//!
//! The book mirrors the venue's lots one to one by the venue's lot id (a lot split by a
//! partial wash-sale replacement keeps its venue id on both parts), so a sale is recorded
//! with the lots the venue says it used, and a reconciliation against the venue's holdings
//! can compare lot by lot. What the book adds to the venue's view: the wash-sale
//! adjustments of basis and holding period, and which lots ballast bought.
//!
//! # Invariants
//! - No I/O; money and quantities are `Decimal` with checked arithmetic: an overflow is a
//!   [`TaxError::Overflow`], never a panic.
//! - For every sale, Σ gains of its disposals = its proceeds − the basis of the lots it
//!   used, exactly; no lot's quantity is ever negative (proptest in `lots`).
//! - Basis is conserved: Σ basis bought + Σ disallowed losses carried in = Σ basis of open
//!   lots + Σ basis disposed.

pub mod config;
pub mod harvest;
pub mod ids;
pub mod lot;
pub mod lots;
pub mod report;
pub mod selection;
pub mod wash;

use rust_decimal::Decimal;

pub use config::{DisposalMethod, Jurisdiction, TaxConfig, TaxConfigError, WashRule};
pub use harvest::{DecisionMemo, HarvestDecision, HarvestOutcome, RefusedBy, plan_harvests};
pub use lot::{Disposal, Lot, LotOrigin, SoldPart, Term, VenueLot};
pub use lots::LotBook;
pub use report::{Form8949Row, TaxReport, TermTotals};
pub use wash::WashBlock;

/// What the tax book refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaxError {
    /// A sale names a lot the book does not hold.
    #[error("lot `{lot_id}` of {asset} is not in the book")]
    UnknownLot {
        /// The asset.
        asset: String,
        /// The lot.
        lot_id: String,
    },
    /// A sale of more than the lots hold.
    #[error("{asset}: selling {requested} but the lots hold {available}")]
    InsufficientLots {
        /// The asset.
        asset: String,
        /// Units asked for.
        requested: Decimal,
        /// Units held (in the lots named, for a specific-lot sale).
        available: Decimal,
    },
    /// A quantity, price or amount that must be positive (or non-negative) is not.
    #[error("`{field}`: {value} must be {must}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// Its value.
        value: Decimal,
        /// What it must be.
        must: &'static str,
    },
    /// A lot id already in the book.
    #[error("lot `{0}` is already in the book")]
    DuplicateLot(String),
    /// Arithmetic beyond `Decimal`'s range.
    #[error("amount out of range in {0}")]
    Overflow(&'static str),
}

/// `a + b`, or an overflow naming `what`.
pub(crate) fn add(a: Decimal, b: Decimal, what: &'static str) -> Result<Decimal, TaxError> {
    a.checked_add(b).ok_or(TaxError::Overflow(what))
}

/// `a − b`, or an overflow naming `what`.
pub(crate) fn sub(a: Decimal, b: Decimal, what: &'static str) -> Result<Decimal, TaxError> {
    a.checked_sub(b).ok_or(TaxError::Overflow(what))
}

/// `a × b`, or an overflow naming `what`.
pub(crate) fn mul(a: Decimal, b: Decimal, what: &'static str) -> Result<Decimal, TaxError> {
    a.checked_mul(b).ok_or(TaxError::Overflow(what))
}

/// `a ÷ b`, or an overflow (or division by zero) naming `what`.
pub(crate) fn div(a: Decimal, b: Decimal, what: &'static str) -> Result<Decimal, TaxError> {
    a.checked_div(b).ok_or(TaxError::Overflow(what))
}

/// Rounds to the cent, half away from zero: a share of a basis or of proceeds (the shares
/// of one amount are made to add up by giving the last one the remainder).
pub(crate) fn cents(amount_usdc: Decimal) -> Decimal {
    amount_usdc.round_dp_with_strategy(
        crate::money::CENT_DP,
        rust_decimal::RoundingStrategy::MidpointAwayFromZero,
    )
}
