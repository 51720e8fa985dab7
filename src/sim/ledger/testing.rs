//! What the ledger's room tests share: a fixed time, price sets, orders and the identity
//! check.

use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use time::OffsetDateTime;

use super::{Ledger, Op, OpenOrder, article_balances_usdc};
use crate::{
    sim::markets::{Asset, AssetMap, PerpMarket},
    venue::protocol::{OrderType, PositionSide, TradeSide},
};

/// When the tests' operations happen.
pub(super) const AT: OffsetDateTime = time::macros::datetime!(2026-01-01 00:00 UTC);

/// A ledger of the article's $1,000 agent on target, at the start prices.
pub(super) fn article_ledger() -> Ledger {
    Ledger::new(article_balances_usdc()).expect("valid")
}

/// Prices of BTC, ETH and SOL, with XMR at 160.
pub(super) fn prices(btc: Decimal, eth: Decimal, sol: Decimal) -> AssetMap<Decimal> {
    AssetMap([btc, eth, sol, dec!(160)])
}

/// Marks moved to these prices of BTC, ETH and SOL (XMR at 160), at [`AT`].
pub(super) fn mark_move(btc: Decimal, eth: Decimal, sol: Decimal) -> Op {
    Op::MarkMove {
        prices: prices(btc, eth, sol),
        at: AT,
    }
}

/// The wallet buys (`Buy`) or sells `quantity` of `asset` at [`AT`].
pub(super) fn wallet(side: TradeSide, asset: Asset, quantity: Decimal) -> Op {
    match side {
        TradeSide::Buy => Op::WalletBuy {
            asset,
            quantity,
            at: AT,
        },
        TradeSide::Sell => Op::WalletSell {
            asset,
            quantity,
            at: AT,
        },
    }
}

/// A hedge: a market order, or a limit order when `limit_price` is set, at [`AT`].
pub(super) fn open(
    market: PerpMarket,
    side: PositionSide,
    notional_usdc: Decimal,
    leverage: u32,
    limit_price: Option<Decimal>,
) -> Op {
    Op::OpenPosition(OpenOrder {
        market,
        side,
        notional_usdc,
        leverage,
        order_type: if limit_price.is_some() {
            OrderType::Limit
        } else {
            OrderType::Market
        },
        limit_price,
        purpose: "hedge".into(),
        at: AT,
    })
}

/// Fails the test at `step` when the accounting identity is broken.
pub(super) fn assert_identity(ledger: &Ledger, step: &str) {
    let check = ledger.accounting();
    assert!(check.ok, "{step}: identity broken: {check:?}");
}
