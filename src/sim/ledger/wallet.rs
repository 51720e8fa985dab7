//! The wallet room: spot buys and sales across the wallet's spread, over FIFO tax lots.
//!
//! # Invariants
//! - A buy pays `quantity × mid × (1 + half spread)` rounded up to the cent and opens one
//!   lot of that basis; a sale is paid `quantity × mid × (1 − half spread)` rounded down and
//!   takes the oldest lots first.
//! - The proceeds of a sale are shared across the lots it used in proportion to their units,
//!   and the shares add up to the proceeds exactly.

use rust_decimal::Decimal;
use time::OffsetDateTime;

use super::{
    Ledger,
    checks::{add, add_to, check_quantity, sub},
    error::StateError,
};
use crate::{
    money::round_cents,
    service::Service,
    sim::{
        book::{self, Lot, ceil_cents, floor_cents},
        markets::Asset,
    },
    venue::protocol::{EventKind, TradeSide, WalletLot},
};

impl Ledger {
    /// Buys `quantity` of `asset` at the ask from the wallet's cash, opening a lot.
    pub(super) fn wallet_buy(
        &mut self,
        asset: Asset,
        quantity: Decimal,
        at: OffsetDateTime,
    ) -> Result<EventKind, StateError> {
        check_quantity(quantity)?;
        let mid = self.prices[asset];
        let ask = mid * (Decimal::ONE + self.params.wallet_half_spread);
        let cost_usdc = ceil_cents(quantity * ask);
        self.debit_for("quantity", Service::Wallet, cost_usdc, || {
            format!("{quantity} {asset} at {ask}")
        })?;
        let lot = Lot {
            lot_id: format!("lot-{:08}", self.next_lot_id),
            quantity,
            cost_basis_usdc: cost_usdc,
            acquired_at: at,
        };
        self.next_lot_id += 1;
        let spread_usdc = sub(cost_usdc, quantity * mid)?;
        self.stats.wallet_buys += 1;
        add_to(&mut self.stats.wallet_spread_usdc, spread_usdc)?;
        let wire_lot = WalletLot {
            lot_id: lot.lot_id.clone(),
            quantity,
            cost_basis_usdc: cost_usdc,
            acquired_at: at,
            proceeds_usdc: None,
            realized_pnl_usdc: None,
        };
        self.lots[asset].push_back(lot);
        Ok(EventKind::WalletTrade {
            trade_id: self.next_trade_id(),
            asset: asset.symbol().to_owned(),
            side: TradeSide::Buy,
            quantity,
            price_usdc: ask,
            notional_usdc: cost_usdc,
            realized_pnl_usdc: None,
            mid_price_usdc: mid,
            spread_usdc,
            lots: vec![wire_lot],
        })
    }

    /// Sells `quantity` of `asset` at the bid into the wallet's cash, from the oldest lots.
    pub(super) fn wallet_sell(
        &mut self,
        asset: Asset,
        quantity: Decimal,
    ) -> Result<EventKind, StateError> {
        check_quantity(quantity)?;
        let available: Decimal = self.lots[asset].iter().map(|lot| lot.quantity).sum();
        if quantity > available {
            return Err(StateError::InsufficientHoldings {
                asset,
                requested: quantity,
                available,
            });
        }
        let mid = self.prices[asset];
        let bid = mid * (Decimal::ONE - self.params.wallet_half_spread);
        let proceeds_usdc = floor_cents(quantity * bid).max(Decimal::ZERO);
        let used = book::take_fifo(&mut self.lots[asset], quantity).ok_or(
            StateError::InsufficientHoldings {
                asset,
                requested: quantity,
                available,
            },
        )?;
        // Proceeds are shared across the lots used in proportion to their units (the last
        // takes the remainder, so the shares add up exactly).
        let mut lots = Vec::with_capacity(used.len());
        let mut proceeds_left = proceeds_usdc;
        let mut basis_usdc = Decimal::ZERO;
        for (index, part) in used.iter().enumerate() {
            let share_usdc = if index + 1 == used.len() {
                proceeds_left
            } else {
                round_cents(proceeds_usdc * part.quantity / quantity).min(proceeds_left)
            };
            proceeds_left -= share_usdc;
            add_to(&mut basis_usdc, part.cost_basis_usdc)?;
            lots.push(WalletLot {
                lot_id: part.lot_id.clone(),
                quantity: part.quantity,
                cost_basis_usdc: part.cost_basis_usdc,
                acquired_at: part.acquired_at,
                proceeds_usdc: Some(share_usdc),
                realized_pnl_usdc: Some(share_usdc - part.cost_basis_usdc),
            });
        }
        let realized_pnl_usdc = sub(proceeds_usdc, basis_usdc)?;
        self.credit(Service::Wallet, proceeds_usdc)?;
        self.income.wallet_realized_pnl_usdc =
            add(self.income.wallet_realized_pnl_usdc, realized_pnl_usdc)?;
        let spread_usdc = sub(quantity * mid, proceeds_usdc)?;
        self.stats.wallet_sells += 1;
        add_to(&mut self.stats.wallet_spread_usdc, spread_usdc)?;
        Ok(EventKind::WalletTrade {
            trade_id: self.next_trade_id(),
            asset: asset.symbol().to_owned(),
            side: TradeSide::Sell,
            quantity,
            price_usdc: bid,
            notional_usdc: proceeds_usdc,
            realized_pnl_usdc: Some(realized_pnl_usdc),
            mid_price_usdc: mid,
            spread_usdc,
            lots,
        })
    }

    fn next_trade_id(&mut self) -> String {
        let id = format!("wt-{:08}", self.next_trade_id);
        self.next_trade_id += 1;
        id
    }
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;
    use crate::sim::ledger::{
        Op,
        testing::{AT, article_ledger, assert_identity, mark_move, wallet},
    };

    #[test]
    fn wallet_fifo_lots_spread_and_escrow_fees() {
        let mut ledger = article_ledger();

        // Step 1: 0.5 SOL at the ask 180 × 1.001 = 180.18 costs 90.09, a lot of that basis.
        let bought = ledger
            .apply(&wallet(TradeSide::Buy, Asset::Sol, dec!(0.5)))
            .expect("buys");
        assert!(
            matches!(bought, EventKind::WalletTrade { notional_usdc, spread_usdc, .. }
            if notional_usdc == dec!(90.09) && spread_usdc == dec!(0.09))
        );
        assert_eq!(ledger.balances()[Service::Wallet], dec!(59.91));
        // Wallet value: cash + 0.5 × 180 at the mid; the spread is already a loss.
        assert_eq!(ledger.values()[Service::Wallet], dec!(149.91));
        assert_identity(&ledger, "buy");

        // Step 2: SOL to 200, 0.25 more at 200.20: 50.05.
        ledger
            .apply(&mark_move(dec!(95000), dec!(3400), dec!(200)))
            .expect("moves");
        ledger
            .apply(&Op::WalletBuy {
                asset: Asset::Sol,
                quantity: dec!(0.25),
                at: AT + time::Duration::DAY,
            })
            .expect("buys");
        assert_identity(&ledger, "second buy");

        // Step 3: SOL to 150, sell 0.6 at the bid 149.85 for 89.91: all of the first lot and
        // 0.1 of the second (basis 50.05 × 0.4 = 20.02).
        ledger
            .apply(&mark_move(dec!(95000), dec!(3400), dec!(150)))
            .expect("moves");
        let sold = ledger
            .apply(&wallet(TradeSide::Sell, Asset::Sol, dec!(0.6)))
            .expect("sells");
        let EventKind::WalletTrade {
            notional_usdc,
            realized_pnl_usdc,
            lots,
            ..
        } = sold
        else {
            panic!("not a trade: {sold:?}");
        };
        assert_eq!(notional_usdc, dec!(89.91));
        assert_eq!(realized_pnl_usdc, Some(dec!(-20.20)));
        let used: Vec<_> = lots
            .iter()
            .map(|l| {
                (
                    l.lot_id.as_str(),
                    l.quantity,
                    l.cost_basis_usdc,
                    l.proceeds_usdc,
                )
            })
            .collect();
        assert_eq!(
            used,
            [
                ("lot-00000001", dec!(0.5), dec!(90.09), Some(dec!(74.92))),
                ("lot-00000002", dec!(0.1), dec!(20.02), Some(dec!(14.99))),
            ]
        );
        let left = ledger.lots(Asset::Sol);
        assert_eq!(left.len(), 1);
        assert_eq!(
            (left[0].quantity, left[0].cost_basis_usdc),
            (dec!(0.15), dec!(30.03))
        );
        assert_eq!(ledger.balances()[Service::Wallet], dec!(99.77));
        assert_identity(&ledger, "sell");

        // Step 4: refusals name their field and change nothing.
        let before = ledger.clone();
        for (op, code, needle) in [
            (
                wallet(TradeSide::Sell, Asset::Sol, dec!(1)),
                "insufficient_holdings",
                "`quantity`",
            ),
            (
                wallet(TradeSide::Buy, Asset::Btc, dec!(1)),
                "insufficient_balance",
                "`quantity`",
            ),
            (
                wallet(TradeSide::Buy, Asset::Btc, dec!(0.000000001)),
                "bad_request",
                "`quantity`",
            ),
            (
                Op::EscrowFee {
                    deal_usdc: dec!(0.99),
                },
                "bad_request",
                "`deal_usdc`",
            ),
        ] {
            let error = ledger.apply(&op).expect_err("refused");
            assert_eq!(error.code(), code, "{error}");
            assert!(error.to_string().contains(needle), "{error} lacks {needle}");
            assert_eq!(ledger, before);
        }

        // Step 5: escrow earns 1% of a settled deal, toward zero to the cent.
        let fee = ledger
            .apply(&Op::EscrowFee {
                deal_usdc: dec!(1234.56),
            })
            .expect("earns");
        assert_eq!(
            fee,
            EventKind::EscrowFee {
                deal_usdc: dec!(1234.56),
                amount_usdc: dec!(12.34)
            }
        );
        assert_eq!(ledger.balances()[Service::Escrow], dec!(112.34));
        assert_identity(&ledger, "escrow");
        let stats = ledger.market_stats();
        assert_eq!(
            (stats.wallet_buys, stats.wallet_sells, stats.open_lots),
            (2, 1, 1)
        );
    }
}
