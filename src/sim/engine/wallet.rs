//! The wallet's endpoints: `POST /wallet/buy`, `POST /wallet/sell` and
//! `GET /wallet/holdings`.
//!
//! # Invariants
//! - A trade's reply echoes the `wallet_trade` event it announced, to the cent.
//! - Holdings report every open lot, oldest first, at the mark.

use rust_decimal::Decimal;
use time::OffsetDateTime;

use super::{
    Engine,
    outcome::{Processed, applied, first_applied, not_applied, require_reason},
};
use crate::sim::http::Reply;
use crate::{
    service::Service,
    sim::{
        ledger::{Op, StateError, invalid},
        markets::Asset,
    },
    venue::protocol::{
        AssetHolding, EventKind, HoldingsResponse, TradeSide, WalletLot, WalletTradeBody,
        WalletTradeResponse,
    },
};

impl Engine {
    /// Handles `POST /wallet/buy` and `/wallet/sell` (already parsed; the agent checked); a
    /// trade applied under `idempotency_key` is logged for [`Engine::wallet_trade_status`].
    pub fn wallet_trade(
        &mut self,
        side: TradeSide,
        body: &WalletTradeBody,
        idempotency_key: Option<&str>,
        ts: OffsetDateTime,
    ) -> Result<Processed, StateError> {
        require_reason(&body.reason)?;
        let asset = Asset::parse("asset", &body.asset)?;
        let op = match side {
            TradeSide::Buy if !body.lot_ids.is_empty() => {
                return Err(invalid("lot_ids", "names lots to sell; a buy opens one"));
            }
            TradeSide::Buy => Op::WalletBuy {
                asset,
                quantity: body.quantity,
                at: ts,
            },
            TradeSide::Sell => Op::WalletSell {
                asset,
                quantity: body.quantity,
                lot_ids: body.lot_ids.clone(),
                at: ts,
            },
        };
        let frames = self.apply(ts, &op)?;
        let frame = first_applied(&frames, "quantity")?;
        let EventKind::WalletTrade {
            trade_id,
            quantity,
            price_usdc,
            notional_usdc,
            realized_pnl_usdc,
            mid_price_usdc,
            spread_usdc,
            lots,
            ..
        } = &frame.kind
        else {
            return Err(not_applied("quantity"));
        };
        tracing::info!(
            trade_id,
            asset = asset.symbol(),
            side = ?side,
            quantity = %quantity,
            price_usdc = %price_usdc,
            reason = body.reason,
            "sim applied wallet trade"
        );
        let response = WalletTradeResponse {
            trade_id: trade_id.clone(),
            asset: asset.symbol().to_owned(),
            side,
            quantity: *quantity,
            price_usdc: *price_usdc,
            notional_usdc: *notional_usdc,
            fee_usdc: Decimal::ZERO,
            mid_price_usdc: *mid_price_usdc,
            spread_usdc: *spread_usdc,
            realized_pnl_usdc: *realized_pnl_usdc,
            lots: lots.clone(),
            portfolio: frame.portfolio.clone(),
        };
        if let Some(key) = idempotency_key {
            let logged = WalletTradeResponse {
                portfolio: None,
                ..response.clone()
            };
            self.wallet_trades.insert(key.to_owned(), logged);
        }
        Ok(applied(&response, frames))
    }

    /// Handles `GET /wallet/trades/{key}` (*addition*): the first reply to the wallet trade
    /// POSTed under `key`, as a replay would return it, without applying anything; 404
    /// `unknown_idempotency_key` when no wallet trade arrived under that key. How a client
    /// resolves a buy or sale whose reply it never saw, without resubmitting it.
    pub fn wallet_trade_status(&self, wallet_fingerprint_prefix: &str, key: &str) -> Reply {
        // Evicted from the bounded replay map: the trade log still knows applied ones.
        self.key_status(wallet_fingerprint_prefix, key, "wallet trade", || {
            self.wallet_trades.get(key)
        })
    }

    /// `GET /wallet/holdings`: cash, and each asset held with its FIFO lots.
    pub fn holdings(&self) -> HoldingsResponse {
        let prices = self.ledger.prices();
        let holdings: Vec<AssetHolding> = Asset::ALL
            .into_iter()
            .filter_map(|asset| {
                let lots = self.ledger.lots(asset);
                if lots.is_empty() {
                    return None;
                }
                let quantity: Decimal = lots.iter().map(|lot| lot.quantity).sum();
                let cost_basis_usdc: Decimal = lots.iter().map(|lot| lot.cost_basis_usdc).sum();
                let market_value_usdc = quantity * prices[asset];
                Some(AssetHolding {
                    asset: asset.symbol().to_owned(),
                    quantity,
                    price_usdc: prices[asset],
                    market_value_usdc,
                    cost_basis_usdc,
                    unrealized_pnl_usdc: market_value_usdc - cost_basis_usdc,
                    lots: lots
                        .iter()
                        .map(|lot| WalletLot {
                            lot_id: lot.lot_id.clone(),
                            quantity: lot.quantity,
                            cost_basis_usdc: lot.cost_basis_usdc,
                            acquired_at: lot.acquired_at,
                            proceeds_usdc: None,
                            realized_pnl_usdc: None,
                        })
                        .collect(),
                })
            })
            .collect();
        let cash_usdc = self.ledger.balances()[Service::Wallet];
        let holdings_value_usdc: Decimal = holdings.iter().map(|h| h.market_value_usdc).sum();
        HoldingsResponse {
            cash_usdc,
            holdings_value_usdc,
            wallet_value_usdc: cash_usdc + holdings_value_usdc,
            holdings,
        }
    }
}
