//! The Purple Flea venue protocol: every request and response body, and the event stream.
//!
//! Paths and field names follow the source article so that real clients of that API work;
//! the additions a production system needs are marked *addition* and documented in
//! `docs/venue-protocol.md`: an `Idempotency-Key` header on every POST/DELETE, a `seq` on the
//! portfolio, a websocket event stream with monotonically increasing `seq`, error bodies
//! with a code and a message, the wallet's tax lots (`GET /wallet/holdings`), and the fields
//! that let a client reconcile orders, closes and trades to the cent (margin, quantity,
//! funding, spread, lots used).
//!
//! Money fields are JSON numbers read exactly into `Decimal` (see [`crate::money::wire`]).
//! Response types accept unknown fields (the venue may add some); request types reject them.
//!
//! # Invariants
//! - Decoding never panics; [`EventFrame::decode`] returns a typed error for every bad frame,
//!   and unknown event types decode to [`EventKind::Unknown`] rather than failing.
//! - [`PortfolioResponse::to_snapshot`] rejects negative balances, naming the field.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::{
    money::wire,
    portfolio::{PortfolioSnapshot, SnapshotError},
    service::{Service, ServiceMap},
};

/// Base path of every endpoint.
pub const API_BASE: &str = "/api/v1";
/// Header that makes a POST or DELETE idempotent (*addition*).
pub const IDEMPOTENCY_HEADER: &str = "Idempotency-Key";

/// `GET /agents/{id}/portfolio`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortfolioResponse {
    /// Casino bankroll.
    #[serde(with = "wire")]
    pub casino_balance: Decimal,
    /// Trading margin.
    #[serde(with = "wire")]
    pub trading_balance: Decimal,
    /// Wallet value in USDC.
    #[serde(with = "wire")]
    pub wallet_balance: Decimal,
    /// Domains value.
    #[serde(with = "wire")]
    pub domains_balance: Decimal,
    /// Escrow deposits.
    #[serde(with = "wire")]
    pub escrow_balance: Decimal,
    /// Idle USDC: ballast's reserve.
    #[serde(with = "wire")]
    pub available_balance: Decimal,
    /// The last event `seq` these balances reflect (*addition*).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
}

impl PortfolioResponse {
    /// Builds the response body from a balance map.
    pub fn from_balances(balances_usdc: &ServiceMap<Decimal>, seq: Option<u64>) -> Self {
        PortfolioResponse {
            casino_balance: balances_usdc[Service::Casino],
            trading_balance: balances_usdc[Service::Trading],
            wallet_balance: balances_usdc[Service::Wallet],
            domains_balance: balances_usdc[Service::Domains],
            escrow_balance: balances_usdc[Service::Escrow],
            available_balance: balances_usdc[Service::Reserve],
            seq,
        }
    }

    /// The balances keyed by service.
    pub fn balances(&self) -> ServiceMap<Decimal> {
        ServiceMap([
            self.casino_balance,
            self.trading_balance,
            self.wallet_balance,
            self.domains_balance,
            self.escrow_balance,
            self.available_balance,
        ])
    }

    /// Validates and converts to a snapshot.
    ///
    /// # Errors
    /// A negative balance, naming its field.
    pub fn to_snapshot(&self) -> Result<PortfolioSnapshot, SnapshotError> {
        PortfolioSnapshot::new(self.balances(), self.seq)
    }
}

/// Which way a rebalance transfer moves money, seen from the service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Move USDC from the reserve into the service.
    Increase,
    /// Move USDC from the service into the reserve.
    Decrease,
}

impl Direction {
    /// `(from, to)` of a transfer for `service`: the reserve is always the other side.
    pub const fn flow(self, service: Service) -> (Service, Service) {
        match self {
            Direction::Increase => (Service::Reserve, service),
            Direction::Decrease => (service, Service::Reserve),
        }
    }

    /// The wire name.
    pub const fn name(self) -> &'static str {
        match self {
            Direction::Increase => "increase",
            Direction::Decrease => "decrease",
        }
    }
}

/// `POST /agents/{id}/rebalance`: moves USDC between a service and the reserve.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RebalanceBody {
    /// The service to move money into or out of (never `reserve`).
    pub service: Service,
    /// Increase or decrease.
    pub direction: Direction,
    /// Amount in USDC, positive, whole cents.
    #[serde(with = "wire")]
    pub amount_usdc: Decimal,
    /// Human-readable reason, for the venue's audit trail.
    pub reason: String,
}

/// Response to a rebalance transfer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RebalanceResponse {
    /// Venue-assigned transfer id.
    pub transfer_id: String,
    /// Echo of the request.
    pub service: Service,
    /// Echo of the request.
    pub direction: Direction,
    /// Amount actually moved.
    #[serde(with = "wire")]
    pub amount_usdc: Decimal,
    /// Always `applied` for a success.
    pub status: String,
    /// Balances after the transfer (*addition*).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub portfolio: Option<PortfolioResponse>,
}

/// `GET /agents/{id}/returns?days=N`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReturnsResponse {
    /// Daily simple returns per service, oldest first.
    pub returns_by_service: BTreeMap<String, Vec<f64>>,
}

/// `GET /prices?assets=BTC,ETH`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PricesResponse {
    /// USDC price per asset.
    pub prices: BTreeMap<String, WireDecimal>,
}

/// A Decimal that (de)serializes as a JSON number, for use inside collections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct WireDecimal(#[serde(with = "wire")] pub Decimal);

/// `POST /wallet/sell` and `POST /wallet/buy`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WalletTradeBody {
    /// The agent.
    pub agent_id: String,
    /// Asset symbol, e.g. `BTC`.
    pub asset: String,
    /// Units of the asset.
    #[serde(with = "wire")]
    pub quantity: Decimal,
    /// Reason for the audit trail, e.g. `tax_loss_harvest`.
    pub reason: String,
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

/// Response to a wallet trade.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WalletTradeResponse {
    /// Venue-assigned trade id.
    pub trade_id: String,
    /// Asset symbol.
    pub asset: String,
    /// Buy or sell.
    pub side: TradeSide,
    /// Units traded.
    #[serde(with = "wire")]
    pub quantity: Decimal,
    /// Fill price in USDC per unit.
    #[serde(with = "wire")]
    pub price_usdc: Decimal,
    /// Cash paid (a buy, rounded up to the cent) or received (a sale, rounded down).
    #[serde(with = "wire")]
    pub notional_usdc: Decimal,
    /// Fee charged.
    #[serde(with = "wire")]
    pub fee_usdc: Decimal,
    /// The mid price the spread was taken from (*addition*).
    #[serde(default, with = "wire")]
    pub mid_price_usdc: Decimal,
    /// What the spread cost against the mid price, USDC (*addition*).
    #[serde(default, with = "wire")]
    pub spread_usdc: Decimal,
    /// For a sale: proceeds − the basis of the lots used (*addition*).
    #[serde(
        default,
        with = "wire::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub realized_pnl_usdc: Option<Decimal>,
    /// The lot a buy created, or the lots (first in, first out) a sale used (*addition*).
    #[serde(default)]
    pub lots: Vec<WalletLot>,
    /// Balances after the trade (*addition*).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub portfolio: Option<PortfolioResponse>,
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

/// Order type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OrderType {
    /// Fills at once at the mark (taker fee).
    Market,
    /// Fills at the limit price or better (maker fee).
    Limit,
}

/// `POST /trading/order`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderBody {
    /// The agent.
    pub agent_id: String,
    /// Market, e.g. `BTC-PERP`.
    pub market: String,
    /// Long or short.
    pub side: PositionSide,
    /// Notional in USDC.
    #[serde(with = "wire")]
    pub notional_usdc: Decimal,
    /// Leverage, at least 1.
    pub leverage: u32,
    /// Market or limit.
    pub order_type: OrderType,
    /// Why the order exists, e.g. `rebalance_hedge`.
    pub purpose: String,
    /// Limit price, for limit orders.
    #[serde(
        default,
        with = "wire::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub limit_price: Option<Decimal>,
}

/// An open perpetual-futures position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    /// Venue-assigned id.
    pub id: String,
    /// Market, e.g. `BTC-PERP`.
    pub market: String,
    /// Long or short.
    pub side: PositionSide,
    /// Notional at entry, USDC.
    #[serde(with = "wire")]
    pub notional_usdc: Decimal,
    /// Leverage.
    pub leverage: u32,
    /// Entry price.
    #[serde(with = "wire")]
    pub entry_price: Decimal,
    /// Current mark price.
    #[serde(with = "wire")]
    pub mark_price: Decimal,
    /// Unrealized PnL at the mark, USDC.
    #[serde(with = "wire")]
    pub unrealized_pnl_usdc: Decimal,
    /// Purpose given at open.
    #[serde(default)]
    pub purpose: String,
    /// Isolated margin held for the position, USDC: notional / leverage at open, plus
    /// funding received, less funding paid (*addition*).
    #[serde(default, with = "wire")]
    pub margin_usdc: Decimal,
    /// Units of the underlying (*addition*).
    #[serde(default, with = "wire")]
    pub quantity: Decimal,
    /// When the order was accepted (*addition*).
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub opened_at: Option<OffsetDateTime>,
    /// `open`, or `pending` for a limit order waiting for its price (*addition*).
    #[serde(default = "open_status")]
    pub status: String,
    /// Market or limit (*addition*).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_type: Option<OrderType>,
    /// The limit price of a limit order (*addition*).
    #[serde(
        default,
        with = "wire::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub limit_price: Option<Decimal>,
    /// Net funding received so far, USDC; negative when paid (*addition*).
    #[serde(default, with = "wire")]
    pub funding_usdc: Decimal,
    /// Fees paid so far, USDC (*addition*).
    #[serde(default, with = "wire")]
    pub fees_paid_usdc: Decimal,
}

fn open_status() -> String {
    "open".to_owned()
}

/// `GET /trading/positions?agent_id=`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PositionsResponse {
    /// Open positions.
    pub positions: Vec<Position>,
}

/// Response to `POST /trading/order`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderResponse {
    /// Venue-assigned order id.
    pub order_id: String,
    /// The position this order opened or added to.
    pub position_id: String,
    /// `filled` or `open`.
    pub status: String,
    /// Fill price, when filled.
    #[serde(
        default,
        with = "wire::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub fill_price: Option<Decimal>,
    /// Fee charged, USDC.
    #[serde(with = "wire")]
    pub fee_usdc: Decimal,
    /// Echo of the request (*addition*).
    #[serde(default)]
    pub market: String,
    /// Echo of the request (*addition*).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub side: Option<PositionSide>,
    /// Echo of the request (*addition*).
    #[serde(default, with = "wire")]
    pub notional_usdc: Decimal,
    /// Echo of the request (*addition*).
    #[serde(default)]
    pub leverage: u32,
    /// Margin taken from the trading balance (reserved, with the fee, while the order is
    /// `open`) (*addition*).
    #[serde(default, with = "wire")]
    pub margin_usdc: Decimal,
    /// Units of the underlying, when filled (*addition*).
    #[serde(default, with = "wire")]
    pub quantity: Decimal,
    /// Balances after the order (*addition*).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub portfolio: Option<PortfolioResponse>,
}

/// Response to `DELETE /trading/positions/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClosePositionResponse {
    /// The closed position.
    pub position_id: String,
    /// Realized PnL, USDC (before the fee).
    #[serde(with = "wire")]
    pub realized_pnl_usdc: Decimal,
    /// Fee charged on close, USDC.
    #[serde(with = "wire")]
    pub fee_usdc: Decimal,
    /// `closed`; `cancelled` for a limit order that never filled, `liquidated` when the
    /// venue closed it first (*addition*: the last two).
    pub status: String,
    /// The market (*addition*).
    #[serde(default)]
    pub market: String,
    /// The mark the position closed at (*addition*).
    #[serde(
        default,
        with = "wire::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub close_price: Option<Decimal>,
    /// Cash returned to the trading balance: margin + realized PnL − fee (*addition*).
    #[serde(default, with = "wire")]
    pub returned_usdc: Decimal,
    /// Balances after the close, on the first reply only (*addition*).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub portfolio: Option<PortfolioResponse>,
}

/// One tax lot of the wallet, or the part of a lot a sale used (*addition*).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WalletLot {
    /// Venue-assigned lot id.
    pub lot_id: String,
    /// Units (left in the lot, or sold from it).
    #[serde(with = "wire")]
    pub quantity: Decimal,
    /// Cash paid for those units, spread included, USDC.
    #[serde(with = "wire")]
    pub cost_basis_usdc: Decimal,
    /// When the lot was bought.
    #[serde(with = "time::serde::rfc3339")]
    pub acquired_at: OffsetDateTime,
    /// For a sale: the proceeds allotted to these units.
    #[serde(
        default,
        with = "wire::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub proceeds_usdc: Option<Decimal>,
    /// For a sale: proceeds − basis.
    #[serde(
        default,
        with = "wire::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub realized_pnl_usdc: Option<Decimal>,
}

/// One asset of `GET /wallet/holdings?agent_id=` (*addition*).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssetHolding {
    /// Asset symbol.
    pub asset: String,
    /// Units held.
    #[serde(with = "wire")]
    pub quantity: Decimal,
    /// Mid price, USDC per unit.
    #[serde(with = "wire")]
    pub price_usdc: Decimal,
    /// Quantity × mid price.
    #[serde(with = "wire")]
    pub market_value_usdc: Decimal,
    /// Σ lot bases.
    #[serde(with = "wire")]
    pub cost_basis_usdc: Decimal,
    /// Market value − cost basis.
    #[serde(with = "wire")]
    pub unrealized_pnl_usdc: Decimal,
    /// Open lots, oldest first (the order a sale uses them).
    pub lots: Vec<WalletLot>,
}

/// `GET /wallet/holdings?agent_id=` (*addition*).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoldingsResponse {
    /// USDC in the wallet, outside any asset.
    #[serde(with = "wire")]
    pub cash_usdc: Decimal,
    /// Σ market values.
    #[serde(with = "wire")]
    pub holdings_value_usdc: Decimal,
    /// Cash + holdings: the portfolio's `wallet_balance` (which rounds it down to the cent).
    #[serde(with = "wire")]
    pub wallet_value_usdc: Decimal,
    /// Assets with a non-zero quantity.
    pub holdings: Vec<AssetHolding>,
}

/// Every error response (*addition*): a stable machine code and a human message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Stable code, e.g. `insufficient_balance`, `bad_request`, `unauthorized`.
    pub code: String,
    /// Human-readable detail.
    pub message: String,
}

/// One frame of the event stream `GET /agents/{id}/events?since=SEQ` (*addition*).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventFrame {
    /// Monotonically increasing sequence number; the stream resumes after it.
    pub seq: u64,
    /// Venue time of the event.
    pub ts: OffsetDateTime,
    /// What happened.
    pub kind: EventKind,
    /// Balances right after the event, when the venue includes them.
    pub portfolio: Option<PortfolioResponse>,
}

/// What a venue event reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventKind {
    /// A casino bet paid out.
    CasinoWin {
        /// Net amount won, USDC.
        #[serde(with = "wire")]
        amount_usdc: Decimal,
        /// Stake of the bet, USDC.
        #[serde(with = "wire")]
        stake_usdc: Decimal,
        /// Payout multiple of the stake.
        #[serde(with = "wire")]
        multiplier: Decimal,
    },
    /// Casino losses (possibly several bets aggregated).
    CasinoLoss {
        /// Amount lost, USDC.
        #[serde(with = "wire")]
        amount_usdc: Decimal,
    },
    /// Referral income credited to the available balance.
    ReferralIncome {
        /// Amount, USDC.
        #[serde(with = "wire")]
        amount_usdc: Decimal,
        /// The service whose referrals earned it.
        source_service: Service,
    },
    /// Domain rental income credited to the domains balance.
    DomainsIncome {
        /// Amount, USDC.
        #[serde(with = "wire")]
        amount_usdc: Decimal,
    },
    /// Trading or wallet mark-to-market change.
    MarkToMarket {
        /// The service whose value moved.
        service: Service,
        /// Signed change, USDC.
        #[serde(with = "wire")]
        change_usdc: Decimal,
    },
    /// A rebalance transfer was applied.
    Transfer {
        /// Venue transfer id.
        transfer_id: String,
        /// Service.
        service: Service,
        /// Direction.
        direction: Direction,
        /// Amount, USDC.
        #[serde(with = "wire")]
        amount_usdc: Decimal,
    },
    /// A service fell from its local peak.
    Drawdown {
        /// The service.
        service: Service,
        /// Fall from the peak as a fraction (0.2 = 20%).
        #[serde(with = "wire")]
        drawdown: Decimal,
    },
    /// Asset prices.
    Price {
        /// USDC price per asset.
        prices: BTreeMap<String, WireDecimal>,
    },
    /// A limit order is resting until the mark reaches its price (*addition*).
    OrderPlaced {
        /// The position it will open.
        position_id: String,
        /// The order.
        order_id: String,
        /// Market, e.g. `BTC-PERP`.
        market: String,
        /// Long or short.
        side: PositionSide,
        /// Notional, USDC.
        #[serde(with = "wire")]
        notional_usdc: Decimal,
        /// Leverage.
        leverage: u32,
        /// Limit price.
        #[serde(with = "wire")]
        limit_price: Decimal,
        /// Margin and maker fee held back from the trading balance, USDC.
        #[serde(with = "wire")]
        reserved_usdc: Decimal,
    },
    /// An order filled and a position opened (*addition*).
    PositionOpened {
        /// The position.
        position_id: String,
        /// The order.
        order_id: String,
        /// Market, e.g. `BTC-PERP`.
        market: String,
        /// Long or short.
        side: PositionSide,
        /// Notional, USDC.
        #[serde(with = "wire")]
        notional_usdc: Decimal,
        /// Leverage.
        leverage: u32,
        /// Fill price.
        #[serde(with = "wire")]
        fill_price: Decimal,
        /// Fee charged, USDC.
        #[serde(with = "wire")]
        fee_usdc: Decimal,
        /// Margin taken, USDC.
        #[serde(with = "wire")]
        margin_usdc: Decimal,
        /// Units of the underlying.
        #[serde(with = "wire")]
        quantity: Decimal,
    },
    /// A position closed, was liquidated, or a resting order was cancelled (*addition*).
    PositionClosed {
        /// The position.
        position_id: String,
        /// Market.
        market: String,
        /// `closed`, `cancelled` or `liquidated`.
        status: String,
        /// The mark it closed at (none for a cancelled order).
        #[serde(
            default,
            with = "wire::option",
            skip_serializing_if = "Option::is_none"
        )]
        close_price: Option<Decimal>,
        /// Realized PnL before the fee, USDC.
        #[serde(with = "wire")]
        realized_pnl_usdc: Decimal,
        /// Closing fee, USDC.
        #[serde(with = "wire")]
        fee_usdc: Decimal,
    },
    /// Funding was exchanged on the open positions (*addition*).
    Funding {
        /// Rate of the period per market; positive: longs pay shorts.
        rates: BTreeMap<String, WireDecimal>,
        /// Net funding the agent received, USDC (negative when it paid).
        #[serde(with = "wire")]
        amount_usdc: Decimal,
    },
    /// The wallet bought or sold an asset (*addition*).
    WalletTrade {
        /// Venue trade id.
        trade_id: String,
        /// Asset symbol.
        asset: String,
        /// Buy or sell.
        side: TradeSide,
        /// Units.
        #[serde(with = "wire")]
        quantity: Decimal,
        /// Fill price, USDC per unit.
        #[serde(with = "wire")]
        price_usdc: Decimal,
        /// Cash paid or received, USDC.
        #[serde(with = "wire")]
        notional_usdc: Decimal,
        /// For a sale: proceeds − basis of the lots used.
        #[serde(
            default,
            with = "wire::option",
            skip_serializing_if = "Option::is_none"
        )]
        realized_pnl_usdc: Option<Decimal>,
        /// The mid price the spread was taken from.
        #[serde(with = "wire")]
        mid_price_usdc: Decimal,
        /// What the spread cost against the mid, USDC.
        #[serde(with = "wire")]
        spread_usdc: Decimal,
        /// The lot a buy created, or the lots a sale used, first in first out.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        lots: Vec<WalletLot>,
    },
    /// The escrow service earned its fee on settled deals (*addition*).
    EscrowFee {
        /// Volume of the deals settled, USDC.
        #[serde(with = "wire")]
        deal_usdc: Decimal,
        /// Fee earned (1% of the volume), USDC.
        #[serde(with = "wire")]
        amount_usdc: Decimal,
    },
    /// A balance snapshot with no other news.
    Balance,
    /// Keep-alive; carries no state.
    Heartbeat,
    /// An event type this version does not know; kept so its `seq` still advances.
    #[serde(skip)]
    Unknown {
        /// The `type` field as sent.
        type_name: String,
    },
}

impl EventKind {
    /// The wire `type` name.
    pub fn type_name(&self) -> &str {
        match self {
            EventKind::CasinoWin { .. } => "casino_win",
            EventKind::CasinoLoss { .. } => "casino_loss",
            EventKind::ReferralIncome { .. } => "referral_income",
            EventKind::DomainsIncome { .. } => "domains_income",
            EventKind::MarkToMarket { .. } => "mark_to_market",
            EventKind::Transfer { .. } => "transfer",
            EventKind::Drawdown { .. } => "drawdown",
            EventKind::Price { .. } => "price",
            EventKind::OrderPlaced { .. } => "order_placed",
            EventKind::PositionOpened { .. } => "position_opened",
            EventKind::PositionClosed { .. } => "position_closed",
            EventKind::Funding { .. } => "funding",
            EventKind::WalletTrade { .. } => "wallet_trade",
            EventKind::EscrowFee { .. } => "escrow_fee",
            EventKind::Balance => "balance",
            EventKind::Heartbeat => "heartbeat",
            EventKind::Unknown { type_name } => type_name,
        }
    }
}

const KNOWN_EVENT_TYPES: [&str; 16] = [
    "casino_win",
    "casino_loss",
    "referral_income",
    "domains_income",
    "mark_to_market",
    "transfer",
    "drawdown",
    "price",
    "order_placed",
    "position_opened",
    "position_closed",
    "funding",
    "wallet_trade",
    "escrow_fee",
    "balance",
    "heartbeat",
];

/// A frame that could not be decoded; names the field at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Not JSON, or not a JSON object.
    #[error("event frame is not a JSON object: {0}")]
    NotJson(String),
    /// A required field is absent.
    #[error("event frame is missing `{0}`")]
    Missing(&'static str),
    /// A field has the wrong type or an invalid value.
    #[error("event field `{field}` is invalid: {reason}")]
    Invalid {
        /// The field.
        field: String,
        /// Why.
        reason: String,
    },
}

impl EventFrame {
    /// Decodes one text frame of the event stream.
    ///
    /// # Errors
    /// A [`DecodeError`] naming the field; never panics. Amounts must be finite and, where
    /// they are sizes rather than changes, non-negative.
    pub fn decode(text: &str) -> Result<EventFrame, DecodeError> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| DecodeError::NotJson(e.to_string()))?;
        let mut object = match value {
            serde_json::Value::Object(map) => map,
            _ => return Err(DecodeError::NotJson("not an object".into())),
        };
        let seq = object
            .get("seq")
            .ok_or(DecodeError::Missing("seq"))?
            .as_u64()
            .ok_or_else(|| invalid("seq", "not a non-negative integer"))?;
        let ts_text = required_str(&object, "ts")?;
        let ts = OffsetDateTime::parse(ts_text, &time::format_description::well_known::Rfc3339)
            .map_err(|e| invalid("ts", &e.to_string()))?;
        let type_name = required_str(&object, "type")?.to_owned();
        let portfolio = match object.remove("portfolio") {
            None | Some(serde_json::Value::Null) => None,
            Some(p) => {
                let portfolio: PortfolioResponse =
                    serde_json::from_value(p).map_err(|e| invalid("portfolio", &e.to_string()))?;
                portfolio
                    .to_snapshot()
                    .map_err(|e| invalid("portfolio", &e.to_string()))?;
                Some(portfolio)
            }
        };
        let kind = if KNOWN_EVENT_TYPES.contains(&type_name.as_str()) {
            object.remove("seq");
            object.remove("ts");
            let kind: EventKind = serde_json::from_value(serde_json::Value::Object(object))
                .map_err(|e| invalid(&type_name, &e.to_string()))?;
            kind.validate()?;
            kind
        } else {
            EventKind::Unknown { type_name }
        };
        Ok(EventFrame {
            seq,
            ts,
            kind,
            portfolio,
        })
    }

    /// Encodes the frame as the venue sends it.
    pub fn encode(&self) -> String {
        let mut value = match &self.kind {
            EventKind::Unknown { type_name } => serde_json::json!({ "type": type_name }),
            kind => serde_json::to_value(kind).unwrap_or_else(|_| serde_json::json!({})),
        };
        if let serde_json::Value::Object(map) = &mut value {
            map.insert("seq".into(), self.seq.into());
            let ts = self
                .ts
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default();
            map.insert("ts".into(), ts.into());
            if let Some(portfolio) = &self.portfolio {
                map.insert(
                    "portfolio".into(),
                    serde_json::to_value(portfolio).unwrap_or(serde_json::Value::Null),
                );
            }
        }
        value.to_string()
    }
}

impl EventKind {
    fn validate(&self) -> Result<(), DecodeError> {
        let non_negative = |field: &str, v: &Decimal| {
            if v.is_sign_negative() && !v.is_zero() {
                Err(invalid(field, "negative"))
            } else {
                Ok(())
            }
        };
        let positive = |field: &str, v: &Decimal| {
            if *v <= Decimal::ZERO {
                Err(invalid(field, "not positive"))
            } else {
                Ok(())
            }
        };
        match self {
            EventKind::CasinoWin {
                amount_usdc,
                stake_usdc,
                multiplier,
            } => {
                non_negative("amount_usdc", amount_usdc)?;
                non_negative("stake_usdc", stake_usdc)?;
                non_negative("multiplier", multiplier)
            }
            EventKind::CasinoLoss { amount_usdc }
            | EventKind::ReferralIncome { amount_usdc, .. }
            | EventKind::DomainsIncome { amount_usdc }
            | EventKind::Transfer { amount_usdc, .. } => non_negative("amount_usdc", amount_usdc),
            EventKind::Drawdown { drawdown, .. } => non_negative("drawdown", drawdown),
            EventKind::Price { prices } => {
                for (asset, price) in prices {
                    if price.0 <= Decimal::ZERO {
                        return Err(invalid(&format!("prices.{asset}"), "not positive"));
                    }
                }
                Ok(())
            }
            EventKind::OrderPlaced {
                notional_usdc,
                limit_price,
                reserved_usdc,
                ..
            } => {
                positive("notional_usdc", notional_usdc)?;
                positive("limit_price", limit_price)?;
                non_negative("reserved_usdc", reserved_usdc)
            }
            EventKind::PositionOpened {
                notional_usdc,
                fill_price,
                fee_usdc,
                margin_usdc,
                ..
            } => {
                positive("notional_usdc", notional_usdc)?;
                positive("fill_price", fill_price)?;
                non_negative("fee_usdc", fee_usdc)?;
                non_negative("margin_usdc", margin_usdc)
            }
            EventKind::PositionClosed {
                close_price,
                fee_usdc,
                ..
            } => {
                if let Some(price) = close_price {
                    positive("close_price", price)?;
                }
                non_negative("fee_usdc", fee_usdc)
            }
            EventKind::WalletTrade {
                quantity,
                price_usdc,
                notional_usdc,
                ..
            } => {
                positive("quantity", quantity)?;
                positive("price_usdc", price_usdc)?;
                non_negative("notional_usdc", notional_usdc)
            }
            EventKind::EscrowFee {
                deal_usdc,
                amount_usdc,
            } => {
                non_negative("deal_usdc", deal_usdc)?;
                non_negative("amount_usdc", amount_usdc)
            }
            EventKind::MarkToMarket { .. }
            | EventKind::Funding { .. }
            | EventKind::Balance
            | EventKind::Heartbeat
            | EventKind::Unknown { .. } => Ok(()),
        }
    }
}

/// The string field `field` of a frame, which must be present.
fn required_str<'a>(
    object: &'a serde_json::Map<String, serde_json::Value>,
    field: &'static str,
) -> Result<&'a str, DecodeError> {
    object
        .get(field)
        .ok_or(DecodeError::Missing(field))?
        .as_str()
        .ok_or_else(|| invalid(field, "not a string"))
}

fn invalid(field: &str, reason: &str) -> DecodeError {
    DecodeError::Invalid {
        field: field.to_owned(),
        reason: reason.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;

    #[test]
    fn decode_event_frames() {
        struct TestCase {
            input: &'static str,
            expected: Result<&'static str, &'static str>,
        }
        let cases = [
            // TC0: a casino win with the portfolio after it.
            TestCase {
                input: r#"{"seq":7,"ts":"2026-01-01T00:00:00Z","type":"casino_win","amount_usdc":150.5,"stake_usdc":3,"multiplier":51.17,
                  "portfolio":{"casino_balance":350,"trading_balance":300,"wallet_balance":150,"domains_balance":150,"escrow_balance":100,"available_balance":100}}"#,
                expected: Ok("casino_win"),
            },
            // TC1: an unknown type is kept, not rejected.
            TestCase {
                input: r#"{"seq":8,"ts":"2026-01-01T00:00:00Z","type":"funding_payment","x":1}"#,
                expected: Ok("funding_payment"),
            },
            // TC2: missing seq.
            TestCase {
                input: r#"{"ts":"2026-01-01T00:00:00Z","type":"balance"}"#,
                expected: Err("seq"),
            },
            // TC3: negative seq.
            TestCase {
                input: r#"{"seq":-1,"ts":"2026-01-01T00:00:00Z","type":"balance"}"#,
                expected: Err("seq"),
            },
            // TC4: bad JSON.
            TestCase {
                input: r#"{"seq":1,"#,
                expected: Err("JSON"),
            },
            // TC5: negative win amount.
            TestCase {
                input: r#"{"seq":1,"ts":"2026-01-01T00:00:00Z","type":"casino_win","amount_usdc":-5,"stake_usdc":1,"multiplier":2}"#,
                expected: Err("amount_usdc"),
            },
            // TC6: negative balance inside the portfolio.
            TestCase {
                input: r#"{"seq":1,"ts":"2026-01-01T00:00:00Z","type":"balance","portfolio":{"casino_balance":-1,"trading_balance":0,"wallet_balance":0,"domains_balance":0,"escrow_balance":0,"available_balance":0}}"#,
                expected: Err("casino_balance"),
            },
            // TC7: a missing field of a known type.
            TestCase {
                input: r#"{"seq":1,"ts":"2026-01-01T00:00:00Z","type":"referral_income","amount_usdc":5}"#,
                expected: Err("source_service"),
            },
            // TC8: a bad timestamp.
            TestCase {
                input: r#"{"seq":1,"ts":"yesterday","type":"balance"}"#,
                expected: Err("ts"),
            },
            // TC9: a non-positive price.
            TestCase {
                input: r#"{"seq":1,"ts":"2026-01-01T00:00:00Z","type":"price","prices":{"BTC":0}}"#,
                expected: Err("prices.BTC"),
            },
            // TC10: a fill.
            TestCase {
                input: r#"{"seq":1,"ts":"2026-01-01T00:00:00Z","type":"position_opened","position_id":"pos-1","order_id":"ord-1","market":"BTC-PERP","side":"short","notional_usdc":100,"leverage":2,"fill_price":95000,"fee_usdc":0.1,"margin_usdc":50,"quantity":0.00105263}"#,
                expected: Ok("position_opened"),
            },
            // TC11: a negative fee.
            TestCase {
                input: r#"{"seq":1,"ts":"2026-01-01T00:00:00Z","type":"position_closed","position_id":"pos-1","market":"BTC-PERP","status":"closed","close_price":1,"realized_pnl_usdc":-3,"fee_usdc":-0.1}"#,
                expected: Err("fee_usdc"),
            },
            // TC12: funding is signed.
            TestCase {
                input: r#"{"seq":1,"ts":"2026-01-01T00:00:00Z","type":"funding","rates":{"BTC-PERP":0.0001},"amount_usdc":-0.11}"#,
                expected: Ok("funding"),
            },
            // TC13: a wallet trade of nothing.
            TestCase {
                input: r#"{"seq":1,"ts":"2026-01-01T00:00:00Z","type":"wallet_trade","trade_id":"wt-1","asset":"SOL","side":"buy","quantity":0,"price_usdc":180.18,"notional_usdc":0,"mid_price_usdc":180,"spread_usdc":0}"#,
                expected: Err("quantity"),
            },
            // TC14: escrow income.
            TestCase {
                input: r#"{"seq":1,"ts":"2026-01-01T00:00:00Z","type":"escrow_fee","deal_usdc":1234.56,"amount_usdc":12.34}"#,
                expected: Ok("escrow_fee"),
            },
        ];
        for (index, case) in cases.iter().enumerate() {
            match (EventFrame::decode(case.input), case.expected) {
                (Ok(frame), Ok(name)) => assert_eq!(frame.kind.type_name(), name, "TC{index}"),
                (Err(err), Err(needle)) => {
                    assert!(
                        err.to_string().contains(needle),
                        "TC{index}: {err} lacks {needle}"
                    )
                }
                (actual, expected) => panic!("TC{index}: got {actual:?}, expected {expected:?}"),
            }
        }
    }

    #[test]
    fn encode_then_decode_is_identity() {
        let frame = EventFrame {
            seq: 42,
            ts: time::macros::datetime!(2026-03-01 12:00 UTC),
            kind: EventKind::ReferralIncome {
                amount_usdc: dec!(12.34),
                source_service: Service::Trading,
            },
            portfolio: Some(PortfolioResponse::from_balances(
                &ServiceMap([dec!(1), dec!(2), dec!(3), dec!(4), dec!(5), dec!(6.01)]),
                Some(42),
            )),
        };
        assert_eq!(EventFrame::decode(&frame.encode()), Ok(frame));
    }
}
