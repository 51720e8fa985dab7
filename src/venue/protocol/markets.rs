//! Perpetual futures and the wallet: orders, positions, closes, wallet trades and tax lots.
//!
//! The fields let a client reconcile orders, closes and trades to the cent (margin,
//! quantity, funding, spread, lots used).

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{portfolio::PortfolioResponse, wire};
// The sides are the core's (what an observation reports); the wire spells them the same.
pub use crate::observation::{PositionSide, TradeSide};

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
    /// Net funding the position received over its life, negative when it paid; already in
    /// `returned_usdc` through the margin (*addition*).
    #[serde(default, with = "wire")]
    pub funding_usdc: Decimal,
    /// Balances after the close, on the first reply only (*addition*).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub portfolio: Option<PortfolioResponse>,
}

/// `GET /trading/returns?market=M&days=N` (*addition*): the daily simple returns of a perp
/// market's mark, oldest first, day for day with `/agents/{id}/returns`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MarketReturnsResponse {
    /// The market, e.g. `BTC-PERP`.
    pub market: String,
    /// Daily simple returns of its mark, oldest first.
    pub returns: Vec<f64>,
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
