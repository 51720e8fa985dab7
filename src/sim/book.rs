//! The tracked holdings behind two services' balances: perpetual positions (trading) and
//! FIFO tax lots (wallet), and the exact arithmetic of their value.
//!
//! The ledger ([`super::ledger`]) owns these and decides when they change; this module only
//! holds the records and computes with them, so every formula is a plain function over plain
//! data that a table test can check by hand.
//!
//! Money conventions, each chosen so that every USDC movement is whole cents while values
//! stay exact:
//! - A position's `quantity` is `notional / fill price` rounded toward zero to
//!   [`QUANTITY_DP`] places; its unrealized PnL is `± quantity × (mark − entry)`, exact.
//! - What the venue charges rounds up to the cent (fees, margin, the cost of a buy); what it
//!   pays rounds down (realized PnL, the proceeds of a sale). A rounding cent never favours
//!   the agent, so rounding can never mint money.
//! - A lot's cost basis is the cash paid for it, spread included (the tax convention).
//!   Selling part of a lot moves a proportional basis, rounded to the cent, and leaves the
//!   rest on the lot, so bases always add up to what was paid.
//!
//! # Invariants
//! - An open position's value (margin + unrealized PnL) stays above its maintenance margin
//!   between operations; the ledger liquidates it otherwise.
//! - Every lot has a positive quantity and a non-negative, whole-cent basis; lots of an
//!   asset are in acquisition order (FIFO).

use std::collections::VecDeque;

use rust_decimal::{Decimal, RoundingStrategy};
use time::OffsetDateTime;

use super::markets::PerpMarket;
use crate::{
    money::CENT_DP,
    venue::protocol::{OrderType, PositionSide},
};

/// Decimal places of a quantity (a satoshi for BTC).
pub const QUANTITY_DP: u32 = 8;

/// Rounds a charge up to the cent.
pub fn ceil_cents(amount_usdc: Decimal) -> Decimal {
    amount_usdc.round_dp_with_strategy(CENT_DP, RoundingStrategy::ToPositiveInfinity)
}

/// Rounds a payout down to the cent (toward −∞, so a loss rounds to the larger loss).
pub fn floor_cents(amount_usdc: Decimal) -> Decimal {
    amount_usdc.round_dp_with_strategy(CENT_DP, RoundingStrategy::ToNegativeInfinity)
}

/// Whether a position is filled or a limit order still waiting for its price.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PositionStatus {
    /// Filled: exposed to the mark, pays funding.
    Open,
    /// A resting limit order: its margin and fee are reserved, nothing else happens until a
    /// mark crosses the limit.
    Pending,
}

impl PositionStatus {
    /// The wire name.
    pub const fn name(self) -> &'static str {
        match self {
            PositionStatus::Open => "open",
            PositionStatus::Pending => "pending",
        }
    }
}

/// A perpetual-futures position (or a resting limit order that will become one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PerpPosition {
    /// Venue id, `pos-00000001`.
    pub id: String,
    /// The order that opened it, `ord-00000001`.
    pub order_id: String,
    /// The market.
    pub market: PerpMarket,
    /// Long or short.
    pub side: PositionSide,
    /// Market or limit.
    pub order_type: OrderType,
    /// Notional requested, USDC.
    pub notional_usdc: Decimal,
    /// Leverage.
    pub leverage: u32,
    /// Units of the underlying; zero while pending.
    pub quantity: Decimal,
    /// Fill price; the limit price while pending.
    pub entry_price: Decimal,
    /// The limit price of a limit order.
    pub limit_price: Option<Decimal>,
    /// Isolated margin, USDC: `notional / leverage` at open, plus funding received, less
    /// funding paid.
    pub margin_usdc: Decimal,
    /// Maker fee held back with the margin while pending; zero once filled.
    pub reserved_fee_usdc: Decimal,
    /// Fees paid so far (the opening fee).
    pub fees_paid_usdc: Decimal,
    /// Net funding received (negative when paid).
    pub funding_usdc: Decimal,
    /// When the order was accepted.
    pub opened_at: OffsetDateTime,
    /// Why, as the order said.
    pub purpose: String,
    /// Filled or pending.
    pub status: PositionStatus,
}

impl PerpPosition {
    /// `+1` for a long, `−1` for a short.
    pub fn sign(&self) -> Decimal {
        side_sign(self.side)
    }

    /// Unrealized PnL at `mark`, exact; zero while pending.
    pub fn unrealized_pnl_usdc(&self, mark: Decimal) -> Decimal {
        match self.status {
            PositionStatus::Open => self.sign() * self.quantity * (mark - self.entry_price),
            PositionStatus::Pending => Decimal::ZERO,
        }
    }

    /// What the position is worth to the agent at `mark`: margin plus unrealized PnL, or the
    /// reservation while pending.
    pub fn value_usdc(&self, mark: Decimal) -> Decimal {
        self.margin_usdc + self.reserved_fee_usdc + self.unrealized_pnl_usdc(mark)
    }

    /// Whether an open position at `mark` has fallen to its maintenance margin.
    pub fn is_liquidatable(&self, mark: Decimal, maintenance_margin_rate: Decimal) -> bool {
        self.status == PositionStatus::Open
            && self.margin_usdc + self.unrealized_pnl_usdc(mark)
                <= maintenance_margin_rate * self.quantity * mark
    }

    /// Whether a pending limit order fills at `mark`: a long when the price has come down
    /// to its limit, a short when it has come up.
    pub fn limit_crossed(&self, mark: Decimal) -> bool {
        match (self.status, self.limit_price) {
            (PositionStatus::Pending, Some(limit)) => match self.side {
                PositionSide::Long => mark <= limit,
                PositionSide::Short => mark >= limit,
            },
            _ => false,
        }
    }
}

/// `+1` for a long, `−1` for a short.
pub fn side_sign(side: PositionSide) -> Decimal {
    match side {
        PositionSide::Long => Decimal::ONE,
        PositionSide::Short => Decimal::NEGATIVE_ONE,
    }
}

/// Units bought by `notional_usdc` at `price`, toward zero to [`QUANTITY_DP`] places.
pub fn quantity_for(notional_usdc: Decimal, price: Decimal) -> Decimal {
    if price <= Decimal::ZERO {
        return Decimal::ZERO;
    }
    (notional_usdc / price).round_dp_with_strategy(QUANTITY_DP, RoundingStrategy::ToZero)
}

/// How a position ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseStatus {
    /// Closed by the agent at the mark.
    Closed,
    /// A pending limit order withdrawn before it filled.
    Cancelled,
    /// Closed by the venue at the maintenance margin; the margin is lost.
    Liquidated,
}

impl CloseStatus {
    /// The wire name.
    pub const fn name(self) -> &'static str {
        match self {
            CloseStatus::Closed => "closed",
            CloseStatus::Cancelled => "cancelled",
            CloseStatus::Liquidated => "liquidated",
        }
    }
}

/// The outcome of a position that is no longer open, kept so that a repeated close returns
/// the same answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClosedPosition {
    /// The position.
    pub position_id: String,
    /// The market.
    pub market: PerpMarket,
    /// How it ended.
    pub status: CloseStatus,
    /// The mark it closed at (none for a cancelled order).
    pub close_price: Option<Decimal>,
    /// Realized PnL, whole cents, before the closing fee.
    pub realized_pnl_usdc: Decimal,
    /// The closing fee.
    pub fee_usdc: Decimal,
    /// Cash returned to the trading balance: margin + realized PnL − fee (the reservation,
    /// for a cancelled order; zero after a liquidation).
    pub returned_usdc: Decimal,
    /// Net funding the position received over its life (negative when it paid).
    pub funding_usdc: Decimal,
    /// When.
    pub closed_at: OffsetDateTime,
}

/// One FIFO tax lot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lot {
    /// Venue id, `lot-00000001`.
    pub lot_id: String,
    /// Units left in the lot.
    pub quantity: Decimal,
    /// Cash paid for those units, spread included, whole cents.
    pub cost_basis_usdc: Decimal,
    /// When it was bought.
    pub acquired_at: OffsetDateTime,
}

/// The part of a lot a sale used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LotUse {
    /// The lot.
    pub lot_id: String,
    /// Units taken from it.
    pub quantity: Decimal,
    /// Basis moved out with them.
    pub cost_basis_usdc: Decimal,
    /// When the lot was bought (for the holding period).
    pub acquired_at: OffsetDateTime,
}

/// Takes `quantity` from the front of `lots` (first in, first out), splitting the last lot
/// used. Returns what was taken, or `None` (and changes nothing) when the lots hold less.
pub fn take_fifo(lots: &mut VecDeque<Lot>, quantity: Decimal) -> Option<Vec<LotUse>> {
    let held: Decimal = lots.iter().map(|lot| lot.quantity).sum();
    if quantity > held || quantity <= Decimal::ZERO {
        return None;
    }
    let mut left = quantity;
    let mut used = Vec::new();
    while left > Decimal::ZERO {
        let lot = lots.front_mut()?;
        if lot.quantity <= left {
            left -= lot.quantity;
            let lot = lots.pop_front()?;
            used.push(LotUse {
                lot_id: lot.lot_id,
                quantity: lot.quantity,
                cost_basis_usdc: lot.cost_basis_usdc,
                acquired_at: lot.acquired_at,
            });
        } else {
            // A proportional share of the basis, to the cent; the remainder stays on the lot
            // so the lot's and the sale's bases still add up to what was paid.
            let basis_usdc = (lot.cost_basis_usdc * left / lot.quantity)
                .round_dp_with_strategy(CENT_DP, RoundingStrategy::MidpointNearestEven)
                .min(lot.cost_basis_usdc);
            lot.quantity -= left;
            lot.cost_basis_usdc -= basis_usdc;
            used.push(LotUse {
                lot_id: lot.lot_id.clone(),
                quantity: left,
                cost_basis_usdc: basis_usdc,
                acquired_at: lot.acquired_at,
            });
            left = Decimal::ZERO;
        }
    }
    Some(used)
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;
    use time::macros::datetime;

    use super::*;

    fn lot(id: &str, quantity: Decimal, basis: Decimal) -> Lot {
        Lot {
            lot_id: id.to_owned(),
            quantity,
            cost_basis_usdc: basis,
            acquired_at: datetime!(2026-01-01 00:00 UTC),
        }
    }

    #[test]
    fn fifo_takes_oldest_first_and_splits_bases() {
        struct TestCase {
            take: Decimal,
            expected_used: Vec<(&'static str, Decimal, Decimal)>,
            expected_left: Vec<(&'static str, Decimal, Decimal)>,
        }
        let cases = [
            // TC0: exactly the first lot.
            TestCase {
                take: dec!(1),
                expected_used: vec![("a", dec!(1), dec!(100))],
                expected_left: vec![("b", dec!(2), dec!(250))],
            },
            // TC1: across both, splitting the second: a third of 250 is 83.33.
            TestCase {
                take: dec!(1.666666666666666666666666667).round_dp(8),
                expected_used: vec![
                    ("a", dec!(1), dec!(100)),
                    ("b", dec!(0.66666667), dec!(83.33)),
                ],
                expected_left: vec![("b", dec!(1.33333333), dec!(166.67))],
            },
            // TC2: everything.
            TestCase {
                take: dec!(3),
                expected_used: vec![("a", dec!(1), dec!(100)), ("b", dec!(2), dec!(250))],
                expected_left: vec![],
            },
        ];
        for (index, case) in cases.into_iter().enumerate() {
            let mut lots =
                VecDeque::from([lot("a", dec!(1), dec!(100)), lot("b", dec!(2), dec!(250))]);
            let used = take_fifo(&mut lots, case.take).expect("enough");
            let used: Vec<_> = used
                .iter()
                .map(|u| (u.lot_id.as_str(), u.quantity, u.cost_basis_usdc))
                .collect();
            let left: Vec<_> = lots
                .iter()
                .map(|l| (l.lot_id.as_str(), l.quantity, l.cost_basis_usdc))
                .collect();
            assert_eq!(used, case.expected_used, "TC{index}");
            assert_eq!(left, case.expected_left, "TC{index}");
        }
        // More than held, zero and negative change nothing.
        let mut lots = VecDeque::from([lot("a", dec!(1), dec!(100))]);
        for take in [dec!(1.00000001), dec!(0), dec!(-1)] {
            assert_eq!(take_fifo(&mut lots, take), None);
        }
        assert_eq!(lots.len(), 1);
    }

    #[test]
    fn position_value_liquidation_and_limits() {
        let mut position = PerpPosition {
            id: "pos-1".into(),
            order_id: "ord-1".into(),
            market: PerpMarket::BtcPerp,
            side: PositionSide::Short,
            order_type: OrderType::Market,
            notional_usdc: dec!(1000),
            leverage: 10,
            quantity: quantity_for(dec!(1000), dec!(100000)),
            entry_price: dec!(100000),
            limit_price: None,
            margin_usdc: dec!(100),
            reserved_fee_usdc: dec!(0),
            fees_paid_usdc: dec!(1),
            funding_usdc: dec!(0),
            opened_at: datetime!(2026-01-01 00:00 UTC),
            purpose: "hedge".into(),
            status: PositionStatus::Open,
        };
        assert_eq!(position.quantity, dec!(0.01));
        // A short gains 10 USDC when the price falls 1,000.
        assert_eq!(position.unrealized_pnl_usdc(dec!(99000)), dec!(10));
        assert_eq!(position.value_usdc(dec!(99000)), dec!(110));
        // Up 9.4%: equity 6 is above the maintenance margin 0.5% × 0.01 × 109,400 = 5.47.
        assert!(!position.is_liquidatable(dec!(109400), dec!(0.005)));
        // Up 9.5%: equity 5 is at or below 5.475: liquidated.
        assert!(position.is_liquidatable(dec!(109500), dec!(0.005)));
        position.status = PositionStatus::Pending;
        position.limit_price = Some(dec!(101000));
        assert!(!position.is_liquidatable(dec!(200000), dec!(0.005)));
        assert!(!position.limit_crossed(dec!(100999.99)));
        assert!(position.limit_crossed(dec!(101000)));
        assert_eq!(position.unrealized_pnl_usdc(dec!(1)), dec!(0));
    }

    #[test]
    fn rounding_never_favours_the_agent() {
        assert_eq!(ceil_cents(dec!(0.001)), dec!(0.01));
        assert_eq!(ceil_cents(dec!(-0.009)), dec!(0));
        assert_eq!(floor_cents(dec!(0.019)), dec!(0.01));
        assert_eq!(floor_cents(dec!(-0.001)), dec!(-0.01));
        assert_eq!(quantity_for(dec!(100), dec!(3)), dec!(33.33333333));
        assert_eq!(quantity_for(dec!(100), dec!(0)), dec!(0));
    }
}
