//! The perps room: orders (market and limit), closes and cancels, mark moves with their
//! limit fills and liquidations, and funding, over the isolated-margin positions of the
//! trading service.
//!
//! # Invariants
//! - Opening reserves margin + fee from trading's cash; a resting order keeps both reserved
//!   until it fills (fee paid) or is cancelled (both returned).
//! - Every open position is above its maintenance margin after every operation: a mark move
//!   or funding that takes it there liquidates it, losing its margin.
//! - A close never pays out less than zero: the loss is capped at the margin and the fee
//!   at what is left.

use std::collections::BTreeMap;

use rust_decimal::{Decimal, RoundingStrategy};
use time::OffsetDateTime;

use super::{
    Ledger, OpenOrder,
    checks::{MAX_NOTIONAL_USDC, add, add_to, check_cents, check_price, sub},
    error::{StateError, invalid},
};
use crate::{
    money::CENT_DP,
    service::Service,
    sim::{
        book::{
            CloseStatus, ClosedPosition, PerpPosition, PositionStatus, ceil_cents, floor_cents,
            quantity_for,
        },
        markets::{Asset, AssetMap, MAX_FUNDING_RATE, PerpMarket},
    },
    venue::protocol::{EventKind, OrderType, PositionSide, WireDecimal},
};

/// Closed positions remembered so that a repeated close answers the same; oldest first out.
pub const CLOSED_POSITIONS_KEPT: usize = 10_000;
/// Longest `purpose` accepted.
const PURPOSE_MAX_LEN: usize = 200;

impl Ledger {
    /// An order for a perpetual position; see [`Op::OpenPosition`](super::Op::OpenPosition).
    pub(super) fn open_position(&mut self, order: &OpenOrder) -> Result<EventKind, StateError> {
        let OpenOrder {
            market,
            side,
            notional_usdc,
            leverage,
            order_type,
            limit_price,
            ref purpose,
            at,
        } = *order;
        check_cents("notional_usdc", notional_usdc)?;
        if notional_usdc > MAX_NOTIONAL_USDC {
            return Err(invalid(
                "notional_usdc",
                &format!("must be at most {MAX_NOTIONAL_USDC}"),
            ));
        }
        let max_leverage = self.params.max_leverage;
        if !(1..=max_leverage).contains(&leverage) {
            return Err(invalid(
                "leverage",
                &format!("{leverage} must be between 1 and {max_leverage}"),
            ));
        }
        if purpose.trim().is_empty() {
            return Err(invalid("purpose", "must not be empty"));
        }
        if purpose.len() > PURPOSE_MAX_LEN {
            return Err(invalid(
                "purpose",
                &format!("must be at most {PURPOSE_MAX_LEN} bytes"),
            ));
        }
        let mark = self.prices[market.underlying()];
        let (fill_price, fee_rate, resting) = match (order_type, limit_price) {
            (OrderType::Market, None) => (mark, self.params.taker_fee_rate, false),
            (OrderType::Market, Some(_)) => {
                return Err(invalid("limit_price", "only applies to limit orders"));
            }
            (OrderType::Limit, None) => {
                return Err(invalid("limit_price", "is required for a limit order"));
            }
            (OrderType::Limit, Some(limit)) => {
                check_price("limit_price", limit)?;
                let reached = match side {
                    PositionSide::Long => limit >= mark,
                    PositionSide::Short => limit <= mark,
                };
                // A limit the mark has already reached fills at the mark (the better
                // price); otherwise the order rests at its limit.
                if reached {
                    (mark, self.params.maker_fee_rate, false)
                } else {
                    (limit, self.params.maker_fee_rate, true)
                }
            }
        };
        let quantity = quantity_for(notional_usdc, fill_price);
        if quantity.is_zero() {
            return Err(invalid(
                "notional_usdc",
                "buys less than the smallest quantity (1e-8) of the underlying",
            ));
        }
        let margin_usdc = ceil_cents(notional_usdc / Decimal::from(leverage));
        let fee_usdc = ceil_cents(notional_usdc * fee_rate);
        let required_usdc = add(margin_usdc, fee_usdc)?;
        self.debit_for("notional_usdc", Service::Trading, required_usdc, || {
            format!("margin {margin_usdc} at {leverage}x + fee {fee_usdc}")
        })?;
        let number = self.next_position_id;
        self.next_position_id += 1;
        let mut position = PerpPosition {
            id: format!("pos-{number:08}"),
            order_id: format!("ord-{number:08}"),
            market,
            side,
            order_type,
            notional_usdc,
            leverage,
            quantity: Decimal::ZERO,
            entry_price: fill_price,
            limit_price,
            margin_usdc,
            reserved_fee_usdc: fee_usdc,
            fees_paid_usdc: Decimal::ZERO,
            funding_usdc: Decimal::ZERO,
            opened_at: at,
            purpose: purpose.trim().to_owned(),
            status: PositionStatus::Pending,
        };
        self.stats.orders_accepted += 1;
        let kind = if resting {
            EventKind::OrderPlaced {
                position_id: position.id.clone(),
                order_id: position.order_id.clone(),
                market: market.name().to_owned(),
                side,
                notional_usdc,
                leverage,
                limit_price: fill_price,
                reserved_usdc: required_usdc,
            }
        } else {
            self.fill(&mut position, fill_price)?
        };
        self.positions.insert(position.id.clone(), position);
        Ok(kind)
    }

    /// Fills a pending position at `price`: the reserved fee is paid, the margin stays.
    fn fill(
        &mut self,
        position: &mut PerpPosition,
        price: Decimal,
    ) -> Result<EventKind, StateError> {
        let fee_usdc = position.reserved_fee_usdc;
        position.status = PositionStatus::Open;
        position.entry_price = price;
        position.quantity = quantity_for(position.notional_usdc, price);
        position.reserved_fee_usdc = Decimal::ZERO;
        add_to(&mut position.fees_paid_usdc, fee_usdc)?;
        add_to(&mut self.fees_usdc, fee_usdc)?;
        add_to(&mut self.trading_fees_usdc, fee_usdc)?;
        self.stats.positions_opened += 1;
        Ok(EventKind::PositionOpened {
            position_id: position.id.clone(),
            order_id: position.order_id.clone(),
            market: position.market.name().to_owned(),
            side: position.side,
            notional_usdc: position.notional_usdc,
            leverage: position.leverage,
            fill_price: price,
            fee_usdc,
            margin_usdc: position.margin_usdc,
            quantity: position.quantity,
        })
    }

    /// Closes an open position at the mark (taker fee), or cancels a resting order.
    pub(super) fn close_position(
        &mut self,
        position_id: &str,
        at: OffsetDateTime,
    ) -> Result<EventKind, StateError> {
        let position =
            self.positions
                .remove(position_id)
                .ok_or_else(|| StateError::PositionNotFound {
                    position_id: position_id.to_owned(),
                })?;
        let closed = match position.status {
            PositionStatus::Pending => {
                let returned_usdc = add(position.margin_usdc, position.reserved_fee_usdc)?;
                self.credit(Service::Trading, returned_usdc)?;
                self.stats.orders_cancelled += 1;
                ClosedPosition {
                    position_id: position.id,
                    market: position.market,
                    status: CloseStatus::Cancelled,
                    close_price: None,
                    realized_pnl_usdc: Decimal::ZERO,
                    fee_usdc: Decimal::ZERO,
                    returned_usdc,
                    funding_usdc: position.funding_usdc,
                    closed_at: at,
                }
            }
            PositionStatus::Open => {
                let mark = self.prices[position.market.underlying()];
                // Rounded down, and never below losing the whole margin: positions above
                // their maintenance margin cannot lose more, and the guard keeps the payout
                // non-negative whatever the rounding.
                let realized_pnl_usdc =
                    floor_cents(position.unrealized_pnl_usdc(mark)).max(-position.margin_usdc);
                let equity_usdc = add(position.margin_usdc, realized_pnl_usdc)?;
                let fee_usdc = ceil_cents(position.quantity * mark * self.params.taker_fee_rate)
                    .min(equity_usdc);
                let returned_usdc = sub(equity_usdc, fee_usdc)?;
                self.credit(Service::Trading, returned_usdc)?;
                add_to(&mut self.fees_usdc, fee_usdc)?;
                add_to(&mut self.trading_fees_usdc, fee_usdc)?;
                self.income.trading_realized_pnl_usdc =
                    add(self.income.trading_realized_pnl_usdc, realized_pnl_usdc)?;
                self.stats.positions_closed += 1;
                ClosedPosition {
                    position_id: position.id,
                    market: position.market,
                    status: CloseStatus::Closed,
                    close_price: Some(mark),
                    realized_pnl_usdc,
                    fee_usdc,
                    returned_usdc,
                    funding_usdc: position.funding_usdc,
                    closed_at: at,
                }
            }
        };
        let kind = closed_event(&closed);
        self.remember_closed(closed);
        Ok(kind)
    }

    fn remember_closed(&mut self, closed: ClosedPosition) {
        if self.closed.len() >= CLOSED_POSITIONS_KEPT {
            self.closed.pop_first();
        }
        self.closed.insert(closed.position_id.clone(), closed);
    }

    /// Fills every resting order whose limit the current mark has reached, at its limit.
    fn fill_limit_orders(&mut self) -> Result<(), StateError> {
        let reached: Vec<String> = self
            .positions
            .values()
            .filter(|p| p.limit_crossed(self.prices[p.market.underlying()]))
            .map(|p| p.id.clone())
            .collect();
        for id in reached {
            let Some(mut position) = self.positions.remove(&id) else {
                continue;
            };
            let limit = position.limit_price.unwrap_or(position.entry_price);
            let kind = self.fill(&mut position, limit)?;
            self.stats.limit_fills += 1;
            self.notices.push(kind);
            self.positions.insert(id, position);
        }
        Ok(())
    }

    /// Liquidates every open position at or below its maintenance margin: the venue takes
    /// the margin (what is left of it goes to its insurance fund, which also absorbs any
    /// loss beyond it).
    fn liquidate_underwater(&mut self, at: OffsetDateTime) -> Result<(), StateError> {
        let mm_rate = self.params.maintenance_margin_rate;
        let underwater: Vec<String> = self
            .positions
            .values()
            .filter(|p| p.is_liquidatable(self.prices[p.market.underlying()], mm_rate))
            .map(|p| p.id.clone())
            .collect();
        for id in underwater {
            let Some(position) = self.positions.remove(&id) else {
                continue;
            };
            let realized_pnl_usdc = -position.margin_usdc;
            self.income.trading_realized_pnl_usdc =
                add(self.income.trading_realized_pnl_usdc, realized_pnl_usdc)?;
            self.stats.liquidations += 1;
            let closed = ClosedPosition {
                position_id: position.id,
                market: position.market,
                status: CloseStatus::Liquidated,
                close_price: Some(self.prices[position.market.underlying()]),
                realized_pnl_usdc,
                fee_usdc: Decimal::ZERO,
                returned_usdc: Decimal::ZERO,
                funding_usdc: position.funding_usdc,
                closed_at: at,
            };
            self.notices.push(closed_event(&closed));
            self.remember_closed(closed);
        }
        Ok(())
    }

    /// A funding payment on every open position at its mark, from and into the
    /// positions' isolated margin; see [`Op::Funding`](super::Op::Funding).
    pub(super) fn pay_funding(
        &mut self,
        rates: &BTreeMap<PerpMarket, Decimal>,
        at: OffsetDateTime,
    ) -> Result<EventKind, StateError> {
        for rate in rates.values() {
            if rate.abs() > MAX_FUNDING_RATE {
                return Err(invalid(
                    "rates",
                    &format!("every rate must be within ±{MAX_FUNDING_RATE}"),
                ));
            }
        }
        let mut net_usdc = Decimal::ZERO;
        for position in self.positions.values_mut() {
            if position.status != PositionStatus::Open {
                continue;
            }
            let Some(rate) = rates.get(&position.market) else {
                continue;
            };
            let mark = self.prices[position.market.underlying()];
            let long_pays_usdc = (position.quantity * mark * rate)
                .round_dp_with_strategy(CENT_DP, RoundingStrategy::MidpointAwayFromZero);
            // Isolated margin: funding settles into the position's own margin, and a payment
            // larger than the margin takes all of it (the position is then liquidated below).
            let received_usdc = (-position.sign() * long_pays_usdc).max(-position.margin_usdc);
            self.stats.funding_payments += 1;
            add_to(&mut position.margin_usdc, received_usdc)?;
            add_to(&mut position.funding_usdc, received_usdc)?;
            add_to(&mut net_usdc, received_usdc)?;
        }
        add_to(&mut self.income.funding_usdc, net_usdc)?;
        self.liquidate_underwater(at)?;
        Ok(EventKind::Funding {
            rates: by_name(rates.iter(), |market| market.name()),
            amount_usdc: net_usdc,
        })
    }

    /// New marks: revalues positions and lots, fills the limit orders they reach and
    /// liquidates the positions they take to their maintenance margin.
    pub(super) fn mark_move(
        &mut self,
        prices: &AssetMap<Decimal>,
        at: OffsetDateTime,
    ) -> Result<EventKind, StateError> {
        for (_, price) in prices.iter() {
            check_price("prices", *price)?;
        }
        self.prices = *prices;
        self.fill_limit_orders()?;
        self.liquidate_underwater(at)?;
        Ok(EventKind::Price {
            prices: by_name(prices.iter(), Asset::symbol),
        })
    }
}

/// The `position_closed` event announcing how a position ended.
fn closed_event(closed: &ClosedPosition) -> EventKind {
    EventKind::PositionClosed {
        position_id: closed.position_id.clone(),
        market: closed.market.name().to_owned(),
        status: closed.status.name().to_owned(),
        close_price: closed.close_price,
        realized_pnl_usdc: closed.realized_pnl_usdc,
        fee_usdc: closed.fee_usdc,
    }
}

/// Values keyed by market or asset as the wire keys them: by name.
fn by_name<'a, K>(
    entries: impl Iterator<Item = (K, &'a Decimal)>,
    name: impl Fn(K) -> &'static str,
) -> BTreeMap<String, WireDecimal> {
    entries
        .map(|(key, value)| (name(key).to_owned(), WireDecimal(*value)))
        .collect()
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;
    use crate::sim::ledger::{
        Op,
        testing::{AT, article_ledger, assert_identity, mark_move, open},
    };

    #[test]
    fn perp_story_fees_funding_pnl_and_liquidation() {
        let mut ledger = article_ledger();

        // Step 1: a 5x long of 1,000 USDC of BTC at 95,000: margin 200 and a 0.1% taker
        // fee of 1.00 leave the trading balance 300 − 201 = 99; the position is worth its
        // margin, so trading is worth 299.
        let kinds = ledger
            .apply_all(&open(
                PerpMarket::BtcPerp,
                PositionSide::Long,
                dec!(1000),
                5,
                None,
            ))
            .expect("opens");
        assert_eq!(
            kinds,
            [EventKind::PositionOpened {
                position_id: "pos-00000001".into(),
                order_id: "ord-00000001".into(),
                market: "BTC-PERP".into(),
                side: PositionSide::Long,
                notional_usdc: dec!(1000),
                leverage: 5,
                fill_price: dec!(95000),
                fee_usdc: dec!(1.00),
                margin_usdc: dec!(200),
                quantity: dec!(0.01052631),
            }]
        );
        assert_eq!(ledger.balances()[Service::Trading], dec!(99));
        assert_eq!(ledger.values()[Service::Trading], dec!(299));
        assert_identity(&ledger, "open");

        // Step 2: BTC to 100,000: unrealized 0.01052631 × 5,000 = 52.63155, exact.
        ledger
            .apply(&mark_move(dec!(100000), dec!(3400), dec!(180)))
            .expect("moves");
        assert_eq!(ledger.values()[Service::Trading], dec!(351.63155));
        assert_eq!(ledger.reported_values()[Service::Trading], dec!(351.63));
        assert_identity(&ledger, "mark");

        // Step 3: a positive rate: the long pays 0.01052631 × 100,000 × 0.0001 = 0.105 → 0.11
        // from its margin.
        let funding = ledger
            .apply(&Op::Funding {
                rates: BTreeMap::from([(PerpMarket::BtcPerp, dec!(0.0001))]),
                at: AT,
            })
            .expect("funds");
        assert!(
            matches!(funding, EventKind::Funding { amount_usdc, .. } if amount_usdc == dec!(-0.11))
        );
        let position = ledger.positions().next().expect("open");
        assert_eq!(
            (position.margin_usdc, position.funding_usdc),
            (dec!(199.89), dec!(-0.11))
        );
        assert_identity(&ledger, "funding");

        // Step 4: refusals name their field and change nothing.
        let before = ledger.clone();
        for (op, needle) in [
            (
                open(
                    PerpMarket::EthPerp,
                    PositionSide::Short,
                    dec!(100),
                    21,
                    None,
                ),
                "`leverage`",
            ),
            (
                open(PerpMarket::EthPerp, PositionSide::Short, dec!(100), 0, None),
                "`leverage`",
            ),
            (
                open(
                    PerpMarket::EthPerp,
                    PositionSide::Short,
                    dec!(1000),
                    2,
                    None,
                ),
                "`notional_usdc`: insufficient balance",
            ),
            (
                open(
                    PerpMarket::EthPerp,
                    PositionSide::Short,
                    dec!(10.001),
                    2,
                    None,
                ),
                "`notional_usdc`",
            ),
            (
                Op::OpenPosition(OpenOrder {
                    market: PerpMarket::EthPerp,
                    side: PositionSide::Short,
                    notional_usdc: dec!(10),
                    leverage: 2,
                    order_type: OrderType::Limit,
                    limit_price: None,
                    purpose: "hedge".into(),
                    at: AT,
                }),
                "`limit_price`",
            ),
            (
                Op::ClosePosition {
                    position_id: "pos-00000009".into(),
                    at: AT,
                },
                "pos-00000009",
            ),
        ] {
            let error = ledger.apply(&op).expect_err("refused");
            assert!(error.to_string().contains(needle), "{error} lacks {needle}");
            assert_eq!(ledger, before);
        }

        // Step 5: close at 100,000: realized floor(52.63155) = 52.63, taker fee
        // ceil(1,052.631 × 0.1%) = 1.06; 199.89 + 52.63 − 1.06 = 251.46 comes back.
        let closed = ledger
            .apply(&Op::ClosePosition {
                position_id: "pos-00000001".into(),
                at: AT,
            })
            .expect("closes");
        assert_eq!(
            closed,
            EventKind::PositionClosed {
                position_id: "pos-00000001".into(),
                market: "BTC-PERP".into(),
                status: "closed".into(),
                close_price: Some(dec!(100000)),
                realized_pnl_usdc: dec!(52.63),
                fee_usdc: dec!(1.06),
            }
        );
        assert_eq!(ledger.balances()[Service::Trading], dec!(350.46));
        assert_eq!(
            ledger.accounting().income.trading_realized_pnl_usdc,
            dec!(52.63)
        );
        assert_eq!(ledger.accounting().trading_fees_usdc, dec!(2.06));
        assert_eq!(
            ledger
                .closed_position("pos-00000001")
                .map(|c| c.returned_usdc),
            Some(dec!(251.46))
        );
        assert_identity(&ledger, "close");

        // Step 6: a short limit above the mark rests, reserving margin 175 and the maker fee
        // 0.175 → 0.18; the mark reaching it fills it at the limit.
        let placed = ledger
            .apply(&open(
                PerpMarket::EthPerp,
                PositionSide::Short,
                dec!(350),
                2,
                Some(dec!(3500)),
            ))
            .expect("rests");
        assert!(
            matches!(placed, EventKind::OrderPlaced { reserved_usdc, .. } if reserved_usdc == dec!(175.18))
        );
        assert_eq!(ledger.balances()[Service::Trading], dec!(175.28));
        let kinds = ledger
            .apply_all(&mark_move(dec!(100000), dec!(3600), dec!(180)))
            .expect("moves");
        assert!(
            matches!(&kinds[1], EventKind::PositionOpened { fill_price, fee_usdc, quantity, .. }
            if *fill_price == dec!(3500) && *fee_usdc == dec!(0.18) && *quantity == dec!(0.1))
        );
        assert_identity(&ledger, "limit fill");

        // Step 7: at 5,200 equity is 175 − 170 = 5, above maintenance (2.60); at 5,230 it is
        // 2, below 2.615: liquidated, the margin lost.
        let kinds = ledger
            .apply_all(&mark_move(dec!(100000), dec!(5200), dec!(180)))
            .expect("moves");
        assert_eq!(kinds.len(), 1);
        let kinds = ledger
            .apply_all(&mark_move(dec!(100000), dec!(5230), dec!(180)))
            .expect("moves");
        assert!(
            matches!(&kinds[1], EventKind::PositionClosed { status, realized_pnl_usdc, .. }
            if status == "liquidated" && *realized_pnl_usdc == dec!(-175))
        );
        assert_eq!(ledger.positions().count(), 0);
        let stats = ledger.market_stats();
        assert_eq!(
            (
                stats.positions_opened,
                stats.positions_closed,
                stats.limit_fills,
                stats.liquidations
            ),
            (2, 1, 1, 1)
        );
        assert_identity(&ledger, "liquidation");
    }
}
