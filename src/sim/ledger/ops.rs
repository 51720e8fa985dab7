//! The ledger's vocabulary: every operation that changes (or announces) the simulated
//! venue's books.
//!
//! Requests, injections and the seeded models all become an [`Op`] before anything moves;
//! the ledger validates each one whole.
//!
//! # Invariants
//! - An `Op` is plain data: building one moves nothing and checks nothing.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use time::OffsetDateTime;

use crate::{
    service::{Service, ServiceMap},
    sim::markets::{Asset, AssetMap, PerpMarket},
    venue::protocol::{Direction, OrderType, PositionSide},
};

/// The order of an [`Op::OpenPosition`]; a struct of its own so the ledger's handler
/// takes it whole instead of repeating its eight fields as arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenOrder {
    /// The market.
    pub market: PerpMarket,
    /// Long or short.
    pub side: PositionSide,
    /// Notional, positive whole cents, at most
    /// [`MAX_NOTIONAL_USDC`](crate::sim::ledger::MAX_NOTIONAL_USDC).
    pub notional_usdc: Decimal,
    /// In `1..=max_leverage`.
    pub leverage: u32,
    /// Market or limit.
    pub order_type: OrderType,
    /// Required for limit orders, refused for market orders.
    pub limit_price: Option<Decimal>,
    /// Why; non-empty.
    pub purpose: String,
    /// When the order arrived.
    pub at: OffsetDateTime,
}

/// One thing that changes (or announces) the venue's books.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// A rebalance: USDC between a tradable service and the reserve.
    Transfer {
        /// The service (never the reserve).
        service: Service,
        /// Increase (reserve → service) or decrease (service → reserve).
        direction: Direction,
        /// Positive, whole cents.
        amount_usdc: Decimal,
    },
    /// Casino bets paid out (net of their stakes).
    CasinoWin {
        /// Net amount won, positive, whole cents.
        amount_usdc: Decimal,
        /// Total staked on the bets, whole cents.
        stake_usdc: Decimal,
        /// Payout as a multiple of the stake (2 for an even-money win).
        multiplier: Decimal,
    },
    /// Casino bets lost.
    CasinoLoss {
        /// Amount lost, positive, whole cents, at most the casino balance.
        amount_usdc: Decimal,
    },
    /// Referral income credited to the reserve.
    ReferralIncome {
        /// Positive, whole cents.
        amount_usdc: Decimal,
        /// The service whose referrals earned it (never the reserve).
        source_service: Service,
    },
    /// Domain rental income credited to the domains balance.
    DomainsIncome {
        /// Positive, whole cents.
        amount_usdc: Decimal,
    },
    /// The escrow service settled deals and earned
    /// [`ESCROW_FEE_RATE`](crate::sim::ledger::ESCROW_FEE_RATE) of their volume.
    EscrowFee {
        /// Volume settled, positive, whole cents, at most
        /// [`MAX_NOTIONAL_USDC`](crate::sim::ledger::MAX_NOTIONAL_USDC).
        deal_usdc: Decimal,
    },
    /// A change in the cash value of a service's untracked activity, less fees paid on it.
    MarkToMarket {
        /// The service (never the reserve).
        service: Service,
        /// Signed change in value before fees, whole cents.
        pnl_usdc: Decimal,
        /// Fees paid, non-negative, whole cents.
        fee_usdc: Decimal,
    },
    /// A fall in a service's cash by a fraction of it.
    Drawdown {
        /// The service (never the reserve).
        service: Service,
        /// Fraction lost, in (0, 1].
        drawdown: Decimal,
    },
    /// Cash balances set out of band (an operator's correction, a deposit or withdrawal);
    /// positions and lots are untouched.
    SetBalances {
        /// The new cash of every service, non-negative, whole cents.
        balances_usdc: ServiceMap<Decimal>,
    },
    /// An order for a perpetual position: a market order fills at the mark (taker fee); a
    /// limit order fills at the mark when its limit is already reached, or rests until a
    /// mark move reaches it (maker fee either way: the simulator has no book to take from).
    OpenPosition(OpenOrder),
    /// Closes an open position at the mark (taker fee), or cancels a resting limit order.
    ClosePosition {
        /// The position.
        position_id: String,
        /// When.
        at: OffsetDateTime,
    },
    /// New mark (index) prices: revalues positions and lots, fills limit orders the price
    /// reached, liquidates positions at their maintenance margin. Announced as `price`.
    MarkMove {
        /// Every asset's price, positive, whole cents, at most
        /// [`MAX_PRICE_USDC`](crate::sim::markets::MAX_PRICE_USDC).
        prices: AssetMap<Decimal>,
        /// When.
        at: OffsetDateTime,
    },
    /// A funding payment on every open position at its mark: with a positive rate longs pay
    /// shorts `quantity × mark × rate`, from and into the positions' isolated margin.
    Funding {
        /// Rate per market, within ±[`MAX_FUNDING_RATE`](crate::sim::markets::MAX_FUNDING_RATE); a
        /// market left out pays nothing.
        rates: BTreeMap<PerpMarket, Decimal>,
        /// When.
        at: OffsetDateTime,
    },
    /// The wallet buys at `mid × (1 + half spread)` from its cash, opening a lot.
    WalletBuy {
        /// The asset.
        asset: Asset,
        /// Units, positive, at most [`QUANTITY_DP`](crate::sim::book::QUANTITY_DP) places and
        /// [`MAX_QUANTITY`](crate::sim::ledger::MAX_QUANTITY).
        quantity: Decimal,
        /// When (the lot's acquisition time).
        at: OffsetDateTime,
    },
    /// The wallet sells at `mid × (1 − half spread)` into its cash, from its oldest lots.
    WalletSell {
        /// The asset.
        asset: Asset,
        /// Units, as for a buy, at most what the lots hold.
        quantity: Decimal,
        /// When.
        at: OffsetDateTime,
    },
}
