//! What the venue reported, in the core's words: an [`Observation`] is one venue event as the
//! trigger policy, the actors and custom triggers see it.
//!
//! The venue adapter turns each wire frame into an observation once, as it arrives
//! (`EventFrame::to_observation`, in `venue::observe`); from then on nothing reads the wire.
//! The balances an event carries arrive as a validated [`PortfolioSnapshot`], and a
//! [`Happening`] holds what the core and the actors act on or print, not every wire field.
//!
//! # Invariants
//! - A snapshot's `seq` is its observation's `seq`: the balances are those right after this
//!   event.
//! - [`Happening::name`] is the venue's event type name (`casino_win`, ..., or an unknown type
//!   as sent), so counts and logs keyed by it read as they did on the wire.
//! - Amounts, prices and rates are `Decimal`; nothing here does I/O.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::{
    portfolio::PortfolioSnapshot,
    service::{Direction, Service},
};

/// One venue event, in `seq` order (serializable, so a run's events can be recorded and
/// replayed through the policy).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observation {
    /// The venue's event sequence number; the stream resumes after it.
    pub seq: u64,
    /// Venue time of the event.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// Balances right after the event (with `seq` set to this observation's), when the venue
    /// sent them.
    pub snapshot: Option<PortfolioSnapshot>,
    /// What happened.
    pub what: Happening,
}

/// What a venue event reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Happening {
    /// A casino bet paid out.
    CasinoWin {
        /// Net amount won, USDC.
        amount_usdc: Decimal,
        /// Stake of the bet, USDC.
        stake_usdc: Decimal,
        /// Payout multiple of the stake.
        multiplier: Decimal,
    },
    /// Casino losses (possibly several bets aggregated).
    CasinoLoss {
        /// Amount lost, USDC.
        amount_usdc: Decimal,
    },
    /// Referral income credited to the reserve.
    ReferralIncome {
        /// Amount, USDC.
        amount_usdc: Decimal,
        /// The service whose referrals earned it.
        source: Service,
    },
    /// Domain rental income credited to the domains balance.
    DomainsIncome {
        /// Amount, USDC.
        amount_usdc: Decimal,
    },
    /// A service's value moved with the market.
    MarkToMarket {
        /// The service whose value moved.
        service: Service,
        /// Signed change, USDC.
        change_usdc: Decimal,
    },
    /// A rebalance transfer was applied.
    Transfer {
        /// Venue transfer id.
        transfer_id: String,
        /// The service on the other side from the reserve.
        service: Service,
        /// Into or out of the service.
        direction: Direction,
        /// Amount, USDC.
        amount_usdc: Decimal,
    },
    /// A service fell from its local peak.
    Drawdown {
        /// The service.
        service: Service,
        /// Fall from the peak as a fraction (0.2 = 20%).
        drawdown: Decimal,
    },
    /// Asset prices.
    Prices {
        /// USDC per unit, by asset symbol.
        prices_usdc: BTreeMap<String, Decimal>,
    },
    /// A limit order is resting until the mark reaches its price.
    OrderPlaced {
        /// The position it will open.
        position_id: String,
        /// Market, e.g. `BTC-PERP`.
        market: String,
        /// Long or short.
        side: PositionSide,
        /// Notional, USDC.
        notional_usdc: Decimal,
        /// Limit price.
        limit_price: Decimal,
    },
    /// An order filled and a position opened.
    PositionOpened {
        /// The position.
        position_id: String,
        /// Market, e.g. `BTC-PERP`.
        market: String,
        /// Long or short.
        side: PositionSide,
        /// Notional, USDC.
        notional_usdc: Decimal,
        /// Fill price.
        fill_price: Decimal,
    },
    /// A position closed, was liquidated, or a resting order was cancelled.
    PositionClosed {
        /// The position.
        position_id: String,
        /// Market.
        market: String,
        /// `closed`, `cancelled` or `liquidated`, as the venue said it.
        status: String,
        /// Realized PnL before the fee, USDC.
        realized_pnl_usdc: Decimal,
    },
    /// Funding was exchanged on the open positions.
    Funding {
        /// Net funding the agent received, USDC (negative when it paid).
        amount_usdc: Decimal,
    },
    /// The wallet bought or sold an asset.
    WalletTrade {
        /// Venue trade id.
        trade_id: String,
        /// Asset symbol.
        asset: String,
        /// Buy or sell.
        side: TradeSide,
        /// Units.
        quantity: Decimal,
        /// Fill price, USDC per unit.
        price_usdc: Decimal,
        /// Cash paid (a buy) or received (a sale), USDC.
        notional_usdc: Decimal,
        /// The lot a buy opened, or the lots a sale used with their proceeds (empty when the
        /// venue did not say).
        lots: Vec<TradeLot>,
    },
    /// The escrow service earned its fee on settled deals.
    EscrowFee {
        /// Volume of the deals settled, USDC.
        deal_usdc: Decimal,
        /// Fee earned, USDC.
        amount_usdc: Decimal,
    },
    /// Part of a service's balance is locked until `until`: it cannot be moved before.
    FundsLocked {
        /// The service.
        service: Service,
        /// Amount locked, USDC.
        amount_usdc: Decimal,
        /// When it is released.
        until: OffsetDateTime,
    },
    /// A lock was released: its amount may move again.
    FundsReleased {
        /// The service.
        service: Service,
        /// Amount the lock held, USDC.
        amount_usdc: Decimal,
    },
    /// A balance update with no other news.
    Balance,
    /// Keep-alive; carries no news.
    Heartbeat,
    /// An event type this version does not know; observed so its `seq` still advances.
    Other {
        /// The venue's type name, as sent.
        type_name: String,
    },
}

impl Happening {
    /// The venue's name for this kind of event (`casino_win`, ..., or an unknown type as
    /// sent).
    pub fn name(&self) -> &str {
        match self {
            Happening::CasinoWin { .. } => "casino_win",
            Happening::CasinoLoss { .. } => "casino_loss",
            Happening::ReferralIncome { .. } => "referral_income",
            Happening::DomainsIncome { .. } => "domains_income",
            Happening::MarkToMarket { .. } => "mark_to_market",
            Happening::Transfer { .. } => "transfer",
            Happening::Drawdown { .. } => "drawdown",
            Happening::Prices { .. } => "price",
            Happening::OrderPlaced { .. } => "order_placed",
            Happening::PositionOpened { .. } => "position_opened",
            Happening::PositionClosed { .. } => "position_closed",
            Happening::Funding { .. } => "funding",
            Happening::WalletTrade { .. } => "wallet_trade",
            Happening::EscrowFee { .. } => "escrow_fee",
            Happening::FundsLocked { .. } => "funds_locked",
            Happening::FundsReleased { .. } => "funds_released",
            Happening::Balance => "balance",
            Happening::Heartbeat => "heartbeat",
            Happening::Other { type_name } => type_name,
        }
    }
}

/// A lot a wallet trade opened or used, as the venue reported it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TradeLot {
    /// The venue's lot id.
    pub lot_id: String,
    /// Units (bought into the lot, or sold from it).
    pub quantity: Decimal,
    /// Basis of those units (cash paid, spread included), USDC.
    pub cost_basis_usdc: Decimal,
    /// When the lot was bought.
    #[serde(with = "time::serde::rfc3339")]
    pub acquired_at: OffsetDateTime,
    /// For a sale: the proceeds allotted to these units, USDC.
    pub proceeds_usdc: Option<Decimal>,
}

/// Side of a perpetual-futures position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PositionSide {
    /// Gains when the price rises.
    Long,
    /// Gains when the price falls.
    Short,
}

/// Side of a wallet trade.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TradeSide {
    /// Bought.
    Buy,
    /// Sold.
    Sell,
}

impl TradeSide {
    /// `buy` or `sell`: the wire's, the store's and the messages' name.
    pub const fn name(self) -> &'static str {
        match self {
            TradeSide::Buy => "buy",
            TradeSide::Sell => "sell",
        }
    }
}
