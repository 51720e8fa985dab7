//! Random sequences of every kind of operation against the ledger's invariants.

use proptest::prelude::*;
use rust_decimal::Decimal;

use super::{
    Ledger, Op,
    testing::{AT, open},
};
use crate::{
    money::CENT_DP,
    service::{Service, ServiceMap},
    sim::markets::{Asset, AssetMap, PerpMarket},
    venue::protocol::{Direction, PositionSide},
};

fn cents() -> impl Strategy<Value = Decimal> {
    // Mostly whole cents, some zero, some with a third decimal place (invalid).
    prop_oneof![
        8 => (0_i64..50_000).prop_map(|c| Decimal::new(c, 2)),
        1 => Just(Decimal::ZERO),
        1 => (1_i64..50_000).prop_map(|m| Decimal::new(m, 3)),
    ]
}

fn service() -> impl Strategy<Value = Service> {
    prop::sample::select(Service::ALL.to_vec())
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (service(), any::<bool>(), cents()).prop_map(|(service, up, amount_usdc)| {
            Op::Transfer {
                service,
                direction: if up {
                    Direction::Increase
                } else {
                    Direction::Decrease
                },
                amount_usdc,
            }
        }),
        (cents(), cents(), 100_u32..10_000).prop_map(|(amount_usdc, stake_usdc, m)| {
            Op::CasinoWin {
                amount_usdc,
                stake_usdc,
                multiplier: Decimal::new(i64::from(m), 2),
            }
        }),
        cents().prop_map(|amount_usdc| Op::CasinoLoss { amount_usdc }),
        (cents(), service()).prop_map(|(amount_usdc, source_service)| Op::ReferralIncome {
            amount_usdc,
            source_service,
        }),
        cents().prop_map(|amount_usdc| Op::DomainsIncome { amount_usdc }),
        (service(), cents(), any::<bool>(), cents()).prop_map(
            |(service, pnl, negative, fee_usdc)| Op::MarkToMarket {
                service,
                pnl_usdc: if negative { -pnl } else { pnl },
                fee_usdc,
            }
        ),
        (service(), 0_i64..=120).prop_map(|(service, pct)| Op::Drawdown {
            service,
            drawdown: Decimal::new(pct, 2),
        }),
        prop::array::uniform6(cents()).prop_map(|b| Op::SetBalances {
            balances_usdc: ServiceMap(b),
        }),
        cents().prop_map(|deal_usdc| Op::EscrowFee { deal_usdc }),
        // Market operations are half the mix: they have the most ways to go wrong.
        market_op(),
        market_op(),
        market_op(),
        market_op(),
        market_op(),
        market_op(),
        market_op(),
    ]
}

/// A price between half and one and a half times the asset's start price, whole cents.
fn price(asset: Asset) -> impl Strategy<Value = Decimal> {
    (50_u32..=150).prop_map(move |pct| {
        (asset.start_price_usdc() * Decimal::from(pct) / Decimal::ONE_HUNDRED).round_dp(2)
    })
}

/// Quantities from a satoshi up to `10^(6 − min_scale)` units, some with too many
/// decimals.
fn quantity(min_scale: u32) -> impl Strategy<Value = Decimal> {
    prop_oneof![
        9 => (1_i64..1_000_000, min_scale..=8).prop_map(|(m, scale)| Decimal::new(m, scale)),
        1 => (1_i64..5_000, Just(9_u32)).prop_map(|(m, scale)| Decimal::new(m, scale)),
    ]
}

fn market_op() -> impl Strategy<Value = Op> {
    let market = prop::sample::select(PerpMarket::ALL.to_vec());
    let asset = prop::sample::select(Asset::ALL.to_vec());
    prop_oneof![
        (
            market.clone(),
            any::<bool>(),
            cents(),
            0_u32..=25,
            prop::option::of(50_u32..=150),
            prop_oneof![9 => Just("hedge"), 1 => Just(" ")],
        )
            .prop_map(
                |(market, long, notional_usdc, leverage, limit_pct, purpose)| {
                    let start = market.underlying().start_price_usdc();
                    let side = if long {
                        PositionSide::Long
                    } else {
                        PositionSide::Short
                    };
                    let limit_price = limit_pct
                        .map(|pct| (start * Decimal::from(pct) / Decimal::ONE_HUNDRED).round_dp(2));
                    let mut op = open(market, side, notional_usdc, leverage, limit_price);
                    if let Op::OpenPosition(order) = &mut op {
                        order.purpose = purpose.to_owned();
                    }
                    op
                }
            ),
        // Mostly ids that exist; some already closed or never opened.
        (1_u64..6).prop_map(|n| Op::ClosePosition {
            position_id: format!("pos-{n:08}"),
            at: AT,
        }),
        (
            price(Asset::Btc),
            price(Asset::Eth),
            price(Asset::Sol),
            price(Asset::Xmr)
        )
            .prop_map(|(btc, eth, sol, xmr)| Op::MarkMove {
                prices: AssetMap([btc, eth, sol, xmr]),
                at: AT,
            }),
        prop::collection::btree_map(market, -12_000_i64..=12_000, 0..=3).prop_map(|rates| {
            Op::Funding {
                // Up to ±1.2%: a little beyond the ±1% accepted, to see refusals.
                rates: rates
                    .into_iter()
                    .map(|(market, r)| (market, Decimal::new(r, 6)))
                    .collect(),
                at: AT,
            }
        }),
        // Up to 10 units bought, up to 0.1 sold: sales mostly fit what was bought.
        (asset.clone(), quantity(5)).prop_map(|(asset, quantity)| Op::WalletBuy {
            asset,
            quantity,
            at: AT,
        }),
        (asset, quantity(7)).prop_map(|(asset, quantity)| Op::WalletSell {
            asset,
            quantity,
            at: AT,
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Random sequences of every kind of operation: the identity holds exactly after each
    /// one, refusals change nothing, cash stays non-negative whole cents, no position is
    /// left below its maintenance margin, and lots stay well formed.
    #[test]
    fn prop_identity_holds_and_balances_stay_non_negative(
        initial in prop::array::uniform6((0_i64..100_000).prop_map(|c| Decimal::new(c, 2))),
        ops in prop::collection::vec(op(), 1..80),
    ) {
        let mut ledger = Ledger::new(ServiceMap(initial)).expect("valid start");
        for op in &ops {
            let before = ledger.clone();
            let total_before = before.accounting().total_usdc;
            match ledger.apply(op) {
                Ok(_) => {
                    if let Op::Transfer { .. } = op {
                        // Transfers conserve the total exactly.
                        prop_assert_eq!(ledger.accounting().total_usdc, total_before);
                    }
                }
                Err(_) => prop_assert_eq!(&ledger, &before),
            }
            let check = ledger.accounting();
            prop_assert!(check.ok, "identity broken after {:?}: {:?}", op, check);
            for (service, value) in ledger.balances().iter() {
                prop_assert!(*value >= Decimal::ZERO, "{} negative after {:?}", service, op);
                prop_assert!(value.normalize().scale() <= CENT_DP);
            }
            let prices = ledger.prices();
            let mm_rate = ledger.params().maintenance_margin_rate;
            for position in ledger.positions() {
                let mark = prices[position.market.underlying()];
                prop_assert!(
                    !position.is_liquidatable(mark, mm_rate),
                    "{} left below maintenance after {:?}", position.id, op
                );
                prop_assert!(position.value_usdc(mark) > Decimal::ZERO);
                prop_assert!(position.margin_usdc.normalize().scale() <= CENT_DP);
            }
            for asset in Asset::ALL {
                for lot in ledger.lots(asset) {
                    prop_assert!(lot.quantity > Decimal::ZERO);
                    prop_assert!(lot.cost_basis_usdc >= Decimal::ZERO);
                    prop_assert!(lot.cost_basis_usdc.normalize().scale() <= CENT_DP);
                }
            }
        }
        for r in ledger.close_day().values() {
            prop_assert!(r.is_finite());
        }
    }
}
