//! The venue adapter's one translation of events: a wire [`EventFrame`] becomes the core's
//! [`Observation`] here, once, as the stream hands it on; the watcher, the policy, the metrics,
//! the optimizer and custom triggers read only the observation.
//!
//! # Invariants
//! - Total: every [`EventKind`] has its [`Happening`] (an unknown type is
//!   [`Happening::Other`] with its name), and `what.name()` is the frame's `type`.
//! - A decoded frame's portfolio always becomes the observation's snapshot (the decoder has
//!   already validated it), stamped with the frame's `seq`.

use super::protocol::{EventFrame, EventKind};
use crate::{
    observation::{Happening, Observation},
    portfolio::PortfolioSnapshot,
};

impl EventFrame {
    /// The frame in the core's words: its balances as a snapshot at this frame's `seq` (none
    /// when absent or, for a frame not built by [`EventFrame::decode`], invalid) and what it
    /// reports as a [`Happening`].
    pub fn to_observation(&self) -> Observation {
        let snapshot = self
            .portfolio
            .as_ref()
            .and_then(|portfolio| portfolio.to_snapshot().ok())
            .map(|snapshot| PortfolioSnapshot {
                seq: Some(self.seq),
                ..snapshot
            });
        Observation {
            seq: self.seq,
            at: self.ts,
            snapshot,
            what: self.kind.to_happening(),
        }
    }
}

impl EventKind {
    /// What the event reports, in the core's words (the fields the core and the actors use).
    pub fn to_happening(&self) -> Happening {
        match self {
            EventKind::CasinoWin {
                amount_usdc,
                stake_usdc,
                multiplier,
            } => Happening::CasinoWin {
                amount_usdc: *amount_usdc,
                stake_usdc: *stake_usdc,
                multiplier: *multiplier,
            },
            EventKind::CasinoLoss { amount_usdc } => Happening::CasinoLoss {
                amount_usdc: *amount_usdc,
            },
            EventKind::ReferralIncome {
                amount_usdc,
                source_service,
            } => Happening::ReferralIncome {
                amount_usdc: *amount_usdc,
                source: *source_service,
            },
            EventKind::DomainsIncome { amount_usdc } => Happening::DomainsIncome {
                amount_usdc: *amount_usdc,
            },
            EventKind::MarkToMarket {
                service,
                change_usdc,
            } => Happening::MarkToMarket {
                service: *service,
                change_usdc: *change_usdc,
            },
            EventKind::Transfer {
                transfer_id,
                service,
                direction,
                amount_usdc,
            } => Happening::Transfer {
                transfer_id: transfer_id.clone(),
                service: *service,
                direction: *direction,
                amount_usdc: *amount_usdc,
            },
            EventKind::Drawdown { service, drawdown } => Happening::Drawdown {
                service: *service,
                drawdown: *drawdown,
            },
            EventKind::Price { prices } => Happening::Prices {
                prices_usdc: prices
                    .iter()
                    .map(|(asset, price)| (asset.clone(), price.0))
                    .collect(),
            },
            EventKind::OrderPlaced {
                position_id,
                market,
                side,
                notional_usdc,
                limit_price,
                ..
            } => Happening::OrderPlaced {
                position_id: position_id.clone(),
                market: market.clone(),
                side: *side,
                notional_usdc: *notional_usdc,
                limit_price: *limit_price,
            },
            EventKind::PositionOpened {
                position_id,
                market,
                side,
                notional_usdc,
                fill_price,
                ..
            } => Happening::PositionOpened {
                position_id: position_id.clone(),
                market: market.clone(),
                side: *side,
                notional_usdc: *notional_usdc,
                fill_price: *fill_price,
            },
            EventKind::PositionClosed {
                position_id,
                market,
                status,
                realized_pnl_usdc,
                ..
            } => Happening::PositionClosed {
                position_id: position_id.clone(),
                market: market.clone(),
                status: status.clone(),
                realized_pnl_usdc: *realized_pnl_usdc,
            },
            EventKind::Funding { amount_usdc, .. } => Happening::Funding {
                amount_usdc: *amount_usdc,
            },
            EventKind::WalletTrade {
                trade_id,
                asset,
                side,
                quantity,
                price_usdc,
                ..
            } => Happening::WalletTrade {
                trade_id: trade_id.clone(),
                asset: asset.clone(),
                side: *side,
                quantity: *quantity,
                price_usdc: *price_usdc,
            },
            EventKind::EscrowFee {
                deal_usdc,
                amount_usdc,
            } => Happening::EscrowFee {
                deal_usdc: *deal_usdc,
                amount_usdc: *amount_usdc,
            },
            EventKind::FundsLocked {
                service,
                amount_usdc,
                until,
            } => Happening::FundsLocked {
                service: *service,
                amount_usdc: *amount_usdc,
                until: *until,
            },
            EventKind::FundsReleased {
                service,
                amount_usdc,
            } => Happening::FundsReleased {
                service: *service,
                amount_usdc: *amount_usdc,
            },
            EventKind::Balance => Happening::Balance,
            EventKind::Heartbeat => Happening::Heartbeat,
            EventKind::Unknown { type_name } => Happening::Other {
                type_name: type_name.clone(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use rust_decimal::Decimal;
    use rust_decimal_macros::dec;

    use super::*;
    use crate::{
        observation::{PositionSide, TradeSide},
        service::{Direction, Service, ServiceMap},
        venue::protocol::{PortfolioResponse, events::KNOWN_EVENT_TYPES},
    };

    #[test]
    fn frames_become_observations() {
        struct TestCase {
            /// The frame's fields after `seq` and `ts`.
            input: &'static str,
            expected: Happening,
        }
        let side = PositionSide::Short;
        let cases = [
            // TC0: a win keeps amount, stake and multiplier.
            TestCase {
                input: r#""type":"casino_win","amount_usdc":150.5,"stake_usdc":3,"multiplier":51.17"#,
                expected: Happening::CasinoWin {
                    amount_usdc: dec!(150.5),
                    stake_usdc: dec!(3),
                    multiplier: dec!(51.17),
                },
            },
            // TC1: a loss.
            TestCase {
                input: r#""type":"casino_loss","amount_usdc":12.5"#,
                expected: Happening::CasinoLoss {
                    amount_usdc: dec!(12.5),
                },
            },
            // TC2: referral income names its source service.
            TestCase {
                input: r#""type":"referral_income","amount_usdc":5,"source_service":"trading""#,
                expected: Happening::ReferralIncome {
                    amount_usdc: dec!(5),
                    source: Service::Trading,
                },
            },
            // TC3: domains income.
            TestCase {
                input: r#""type":"domains_income","amount_usdc":1.25"#,
                expected: Happening::DomainsIncome {
                    amount_usdc: dec!(1.25),
                },
            },
            // TC4: a signed mark-to-market change.
            TestCase {
                input: r#""type":"mark_to_market","service":"wallet","change_usdc":-3.5"#,
                expected: Happening::MarkToMarket {
                    service: Service::Wallet,
                    change_usdc: dec!(-3.5),
                },
            },
            // TC5: a transfer, with the core's direction.
            TestCase {
                input: r#""type":"transfer","transfer_id":"tx-1","service":"casino","direction":"decrease","amount_usdc":40"#,
                expected: Happening::Transfer {
                    transfer_id: "tx-1".into(),
                    service: Service::Casino,
                    direction: Direction::Decrease,
                    amount_usdc: dec!(40),
                },
            },
            // TC6: a drawdown.
            TestCase {
                input: r#""type":"drawdown","service":"trading","drawdown":0.2"#,
                expected: Happening::Drawdown {
                    service: Service::Trading,
                    drawdown: dec!(0.2),
                },
            },
            // TC7: prices become plain numbers by asset.
            TestCase {
                input: r#""type":"price","prices":{"BTC":95000.5,"ETH":3400}"#,
                expected: Happening::Prices {
                    prices_usdc: [("BTC".into(), dec!(95000.5)), ("ETH".into(), dec!(3400))]
                        .into_iter()
                        .collect(),
                },
            },
            // TC8: a resting limit order.
            TestCase {
                input: r#""type":"order_placed","position_id":"pos-1","order_id":"ord-1","market":"BTC-PERP","side":"short","notional_usdc":100,"leverage":2,"limit_price":96000,"reserved_usdc":50.02"#,
                expected: Happening::OrderPlaced {
                    position_id: "pos-1".into(),
                    market: "BTC-PERP".into(),
                    side,
                    notional_usdc: dec!(100),
                    limit_price: dec!(96000),
                },
            },
            // TC9: a fill.
            TestCase {
                input: r#""type":"position_opened","position_id":"pos-1","order_id":"ord-1","market":"BTC-PERP","side":"short","notional_usdc":100,"leverage":2,"fill_price":95000,"fee_usdc":0.1,"margin_usdc":50,"quantity":0.00105263"#,
                expected: Happening::PositionOpened {
                    position_id: "pos-1".into(),
                    market: "BTC-PERP".into(),
                    side,
                    notional_usdc: dec!(100),
                    fill_price: dec!(95000),
                },
            },
            // TC10: a close keeps its status as sent.
            TestCase {
                input: r#""type":"position_closed","position_id":"pos-1","market":"BTC-PERP","status":"liquidated","close_price":99000,"realized_pnl_usdc":-4.21,"fee_usdc":0.1"#,
                expected: Happening::PositionClosed {
                    position_id: "pos-1".into(),
                    market: "BTC-PERP".into(),
                    status: "liquidated".into(),
                    realized_pnl_usdc: dec!(-4.21),
                },
            },
            // TC11: funding is signed.
            TestCase {
                input: r#""type":"funding","rates":{"BTC-PERP":0.0001},"amount_usdc":-0.11"#,
                expected: Happening::Funding {
                    amount_usdc: dec!(-0.11),
                },
            },
            // TC12: a wallet trade.
            TestCase {
                input: r#""type":"wallet_trade","trade_id":"wt-1","asset":"SOL","side":"sell","quantity":2,"price_usdc":179.82,"notional_usdc":359.64,"realized_pnl_usdc":9.64,"mid_price_usdc":180,"spread_usdc":0.36"#,
                expected: Happening::WalletTrade {
                    trade_id: "wt-1".into(),
                    asset: "SOL".into(),
                    side: TradeSide::Sell,
                    quantity: dec!(2),
                    price_usdc: dec!(179.82),
                },
            },
            // TC13: escrow income.
            TestCase {
                input: r#""type":"escrow_fee","deal_usdc":1234.56,"amount_usdc":12.34"#,
                expected: Happening::EscrowFee {
                    deal_usdc: dec!(1234.56),
                    amount_usdc: dec!(12.34),
                },
            },
            // TC17: a lock, with its release time.
            TestCase {
                input: r#""type":"funds_locked","service":"casino","amount_usdc":150,"until":"2026-01-03T00:00:00Z""#,
                expected: Happening::FundsLocked {
                    service: Service::Casino,
                    amount_usdc: dec!(150),
                    until: time::macros::datetime!(2026-01-03 00:00 UTC),
                },
            },
            // TC18: its release.
            TestCase {
                input: r#""type":"funds_released","service":"casino","amount_usdc":150"#,
                expected: Happening::FundsReleased {
                    service: Service::Casino,
                    amount_usdc: dec!(150),
                },
            },
            // TC14: a balance update.
            TestCase {
                input: r#""type":"balance""#,
                expected: Happening::Balance,
            },
            // TC15: a heartbeat.
            TestCase {
                input: r#""type":"heartbeat""#,
                expected: Happening::Heartbeat,
            },
            // TC16: an unknown type keeps its name.
            TestCase {
                input: r#""type":"funding_payment","x":1"#,
                expected: Happening::Other {
                    type_name: "funding_payment".into(),
                },
            },
        ];
        let portfolio = r#""portfolio":{"casino_balance":350,"trading_balance":300,"wallet_balance":150,"domains_balance":150,"escrow_balance":100,"available_balance":100,"seq":3}"#;
        let balances = ServiceMap([350, 300, 150, 150, 100, 100].map(Decimal::from));
        for (index, case) in cases.iter().enumerate() {
            // Each case without balances, then with: the snapshot is stamped with the frame's
            // seq, whatever seq the portfolio itself carries.
            for with_portfolio in [false, true] {
                let extra = if with_portfolio {
                    format!(",{portfolio}")
                } else {
                    String::new()
                };
                let text = format!(
                    r#"{{"seq":7,"ts":"2026-01-01T00:00:00Z",{}{extra}}}"#,
                    case.input
                );
                let frame = EventFrame::decode(&text)
                    .unwrap_or_else(|e| panic!("TC{index}: {e} in {text}"));
                let observation = frame.to_observation();
                let expected = Observation {
                    seq: 7,
                    at: time::macros::datetime!(2026-01-01 00:00 UTC),
                    snapshot: with_portfolio.then_some(PortfolioSnapshot {
                        balances_usdc: balances,
                        seq: Some(7),
                        locked_usdc: ServiceMap::default(),
                    }),
                    what: case.expected.clone(),
                };
                assert_eq!(observation, expected, "TC{index} ({with_portfolio})");
                assert_eq!(observation.what.name(), frame.kind.type_name(), "TC{index}");
            }
        }
        // Every known type has a case above.
        let covered: Vec<String> = cases
            .iter()
            .map(|case| case.expected.name().to_owned())
            .collect();
        for name in KNOWN_EVENT_TYPES {
            assert!(covered.iter().any(|c| c == name), "{name} has no case");
        }
    }

    #[test]
    fn an_invalid_portfolio_built_by_hand_gives_no_snapshot() {
        let mut balances = ServiceMap([dec!(1); 6]);
        balances[Service::Casino] = dec!(-1);
        let frame = EventFrame {
            seq: 9,
            ts: time::macros::datetime!(2026-03-01 12:00 UTC),
            kind: EventKind::Balance,
            portfolio: Some(PortfolioResponse::from_balances(&balances, None)),
        };
        assert_eq!(frame.to_observation().snapshot, None);
    }
}
