//! Story: tax-loss harvesting against the simulated venue over real loopback sockets.
//!
//! The agent bought BTC a year ago and again today (outside ballast). A scripted BTC drop
//! makes both lots losses; the TaxHarvester sells them and buys ETH with the proceeds. In
//! the 30 days after, nothing of ballast buys BTC back: the wallet's order path refuses
//! it, a falling ETH cannot be harvested into BTC (recorded as a wash-sale buy prevented),
//! and a rebalance moves only USDC. The agent's own BTC buy inside the window is recorded
//! as the rule says: the disallowed loss moves into its basis, with the old lot's holding
//! period. `ballast report tax` lists the disposals with the right terms and the W code.
//!
//! And: a wallet made mostly of coins, overweight after they rise, gives up only its cash in
//! a rebalance (the venue reports the coins as locked), so no leg asks for the coins' value.

mod common;

use std::{path::PathBuf, time::Duration};

use ballast::{
    observation::TradeSide,
    service::{Direction, Service},
    sim::{Injection, SimHandle},
    store::Store,
};
use ballast_actors::{
    commands::report::tax::{Format, render},
    messages::RebalanceRequest,
    wallet_orders::{OrderOutcome, WalletOrder},
};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

const WAIT: Duration = Duration::from_secs(15);

fn store_path(name: &str) -> PathBuf {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("ballast-tax-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir.join("ballast.db")
}

async fn inject(sim: &SimHandle, injection: Injection) {
    sim.inject(injection).await.expect("injects");
}

fn price(asset: &str, price_usdc: Decimal) -> Injection {
    Injection::Price {
        asset: asset.to_owned(),
        price_usdc,
    }
}

fn external_buy(asset: &str, quantity: Decimal) -> Injection {
    Injection::ExternalBuy {
        asset: asset.to_owned(),
        quantity,
    }
}

#[actix_rt::test]
async fn a_btc_drop_is_harvested_and_btc_is_not_bought_back_in_the_window() {
    // Step 1: a quiet venue. The agent buys 0.001 BTC at 95,000 (basis 95.10) on
    // 2025-12-31; a year and a day pass (the markets move); prices are set back to the
    // start, and the agent buys 0.0005 BTC more (basis 47.55) on 2027-01-01.
    let sim = common::quiet_sim().await;
    inject(&sim, external_buy("BTC", dec!(0.001))).await;
    sim.advance(24 * 366).await.expect("advances a year");
    inject(&sim, price("BTC", dec!(95000))).await;
    inject(&sim, price("ETH", dec!(3400))).await;
    inject(&sim, external_buy("BTC", dec!(0.0005))).await;

    // Step 2: the companion with harvesting on, on a store whose event cursor is at the
    // venue's last event (it has seen the year already).
    let path = store_path("e2e");
    let store = Store::open(&path).expect("store");
    common::mark_seen(&sim, &store).await;
    // The scripted BTC and ETH drops take the wallet more than 20% below its peak: the
    // policy's drawdown protection would halve its target, and the rebalance of step 6 would
    // leave the wallet no cash for the agent's own buy of step 7. It is off here.
    let system = common::companion_on(
        &sim,
        &[
            ("BALLAST__TAX__ENABLED", "true"),
            ("BALLAST__POLICY__DRAWDOWN__ENABLED", "false"),
        ],
        store.clone(),
    )
    .await;
    let booked = common::eventually(WAIT, async || {
        store.tax_status().await.is_ok_and(|s| s.open_lots == 2)
    })
    .await;
    assert!(booked, "the two BTC lots were not booked from the holdings");

    // Step 3: BTC drops to 80,000: losses of 15.18 and 7.59 at the bid. The harvest pays
    // (22.77 × 24% = 5.46 against 0.24 of spread and 1.20 of holding cost): both lots are
    // sold, and ETH is bought with the 119.88 of proceeds.
    inject(&sim, price("BTC", dec!(80000))).await;
    let summary = common::summary_when(&system, WAIT, "no harvest", |s| s.tax.harvests >= 1).await;
    assert_eq!(summary.tax.harvests, 1);
    assert_eq!(summary.tax.harvested_loss_usdc, dec!(22.77));
    assert_eq!(summary.tax.substitutes_bought, 1);
    let holdings = sim_holdings(&sim).await;
    assert_eq!(holdings, [("ETH".to_owned(), dec!(0.03522066))]);
    let stats = sim.stats();
    assert_eq!(
        (stats.markets.wallet_sells, stats.markets.wallet_buys),
        (1, 3)
    );

    // Step 4: in the window after, the wallet's order path refuses to buy BTC, whoever asks.
    let desk = system.handles.wallet.clone().expect("tax is on");
    let refused = desk
        .buy(WalletOrder {
            key: "test:rebuy".into(),
            harvest_id: "test".into(),
            side: TradeSide::Buy,
            asset: "BTC".into(),
            quantity: dec!(0.0001),
            lot_ids: vec![],
            reason: "a custom actor".into(),
            at: sim.now() + time::Duration::days(10),
        })
        .await;
    let OrderOutcome::Failed { reason } = refused else {
        panic!("a BTC buy inside the window went through: {refused:?}");
    };
    assert!(reason.contains("wash-sale window"), "{reason}");

    // Step 5: ETH falls 26%: a loss worth harvesting, but its substitute is BTC, inside the
    // window: deferred, the buy prevented, nothing sold.
    inject(&sim, price("ETH", dec!(2500))).await;
    let summary = common::summary_when(&system, WAIT, "no deferral", |s| s.tax.deferred >= 1).await;
    assert_eq!(summary.tax.wash_buys_prevented, 2, "{:?}", summary.tax);
    assert_eq!(sim.stats().markets.wallet_sells, 1);

    // Step 6: a large win triggers a rebalance in the window: it moves USDC, never BTC.
    let buys_before = sim.stats().markets.wallet_buys;
    common::win(&sim, dec!(176.47)).await;
    common::summary_when(&system, WAIT, "no rebalance", |s| s.rebalances >= 1).await;
    assert_eq!(sim.stats().markets.wallet_buys, buys_before);
    assert!(
        sim_holdings(&sim)
            .await
            .iter()
            .all(|(asset, _)| asset != "BTC")
    );

    // Step 7: a day later the agent itself buys 0.0005 BTC: a replacement inside the
    // window. Half of the first lot's loss (7.59) is disallowed and moves into its basis.
    sim.advance(24).await.expect("advances a day");
    inject(&sim, external_buy("BTC", dec!(0.0005))).await;
    let summary = common::summary_when(&system, WAIT, "no wash sale", |s| {
        s.tax.wash_sales_recorded >= 1
    })
    .await;
    assert_eq!(summary.tax.wash_sales_recorded, 1);
    let status = store.tax_status().await.expect("status");
    assert_eq!(status.disallowed_loss_usdc, dec!(7.59));
    system
        .shutdown(Duration::from_secs(5))
        .await
        .expect("stops");

    // Step 8: the report: the year-old lot's loss is long-term and carries the W
    // adjustment; the new lot's loss is short-term; totals by term at the end.
    let csv = render(&path, 2027, Format::Csv).expect("report");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 5, "{csv}");
    assert_eq!(
        lines[1],
        "0.001 BTC,2025-12-31,2027-01-01,79.92,95.10,W,7.59,-7.59,long"
    );
    assert_eq!(
        lines[2],
        "0.0005 BTC,2027-01-01,2027-01-01,39.96,47.55,,0.00,-7.59,short"
    );
    assert_eq!(lines[3], "Total short-term,,,39.96,47.55,,0.00,-7.59,short");
    assert_eq!(lines[4], "Total long-term,,,79.92,95.10,,7.59,-7.59,long");
    let json: serde_json::Value =
        serde_json::from_str(&render(&path, 2027, Format::Json).expect("report")).expect("json");
    assert_eq!(json["disposals"][0]["adjustment_code"], "W");
    assert_eq!(json["totals"]["long"]["disposals"], 1);
    // Nothing was sold in 2026.
    let empty = render(&path, 2026, Format::Csv).expect("report");
    assert_eq!(empty.lines().count(), 3, "{empty}");
    let stats = sim.stats();
    assert!(stats.accounting.ok, "{:?}", stats.accounting);
    sim.shutdown().await;
}

#[actix_rt::test]
async fn an_overweight_wallet_of_coins_gives_up_only_its_cash() {
    // Step 1: the agent puts most of the wallet's $150 into BTC (outside ballast): about
    // $142.64 of coins and $7.36 of cash.
    let sim = common::quiet_sim().await;
    inject(&sim, external_buy("BTC", dec!(0.0015))).await;
    let cash_usdc = sim.cash_balances()[Service::Wallet];
    assert!(cash_usdc < dec!(10), "{cash_usdc}");
    let store = Store::open_in_memory().expect("store");
    let system = common::companion_on(&sim, &[], store.clone()).await;

    // Step 2: BTC doubles: the wallet is about 25% of the portfolio against its 15% target,
    // and a rebalance is asked for. It takes the wallet's cash, never the coins' value, and
    // every leg applies.
    inject(&sim, price("BTC", dec!(190000))).await;
    common::summary_when(&system, WAIT, "no price event", |s| {
        s.events_by_type.contains_key("price")
    })
    .await;
    system
        .handles
        .requests
        .try_send(RebalanceRequest {
            reason: "test".into(),
        })
        .expect("asks");
    let summary = common::summary_when(&system, WAIT, "no rebalance", |s| s.rebalances >= 1).await;
    assert_eq!(summary.legs_failed, 0, "{summary:?}");
    let taken_usdc: Decimal = sim
        .transfers()
        .iter()
        .filter(|t| t.service == Service::Wallet && t.direction == Direction::Decrease)
        .map(|t| t.amount_usdc)
        .sum();
    assert!(taken_usdc > Decimal::ZERO, "the wallet's cash was not used");
    assert!(taken_usdc <= cash_usdc, "{taken_usdc} > {cash_usdc}");
    let status = store.status().await.expect("status");
    assert_eq!(status.legs_failed, 0, "{:?}", status.failure_reasons);
    assert_eq!(sim_holdings(&sim).await, [("BTC".to_owned(), dec!(0.0015))]);
    common::stop(system, sim).await;
}

/// The wallet's holdings at the venue: (asset, quantity).
/// Two companions watching one agent, each with harvesting on and a store of its own, see
/// the same BTC drop: both decide the same harvest and name it after the price event, so
/// they send the same order keys and the venue sells once. When harvests were named after the
/// run, the second companion's sale (another key) sold the agent's other BTC lot, the one at a
/// gain: two sales at the venue.
#[actix_rt::test]
async fn two_companions_harvest_a_drop_once() {
    // A lot at 95,000 (a loss once BTC is at 80,000) and a later one at 50,000 (a gain), a
    // month old: the harvest sells the first; a second, differently keyed sale (first in,
    // first out) would take the second.
    let sim = common::quiet_sim().await;
    inject(&sim, external_buy("BTC", dec!(0.001))).await;
    inject(&sim, price("BTC", dec!(50000))).await;
    inject(&sim, external_buy("BTC", dec!(0.001))).await;
    // Past the wash-sale window of the second buy (the markets move meanwhile).
    sim.advance(24 * 31).await.expect("advances a month");
    let env = [
        ("BALLAST__TAX__ENABLED", "true"),
        ("BALLAST__POLICY__DRAWDOWN__ENABLED", "false"),
    ];
    let mut companions = Vec::new();
    for name in ["first", "second"] {
        let store = Store::open(&store_path(&format!("two-{name}"))).expect("store");
        common::mark_seen(&sim, &store).await;
        let system = common::companion_on(&sim, &env, store.clone()).await;
        let booked = common::eventually(WAIT, async || {
            store.tax_status().await.is_ok_and(|s| s.open_lots == 2)
        })
        .await;
        assert!(
            booked,
            "{name}: the two BTC lots were not booked from the holdings"
        );
        companions.push(system);
    }
    let sells_before = sim.stats().markets.wallet_sells;

    inject(&sim, price("BTC", dec!(80000))).await;
    for system in &companions {
        common::summary_when(system, WAIT, "no harvest", |s| s.tax.harvests >= 1).await;
    }
    let stats = sim.stats();
    assert_eq!(
        stats.markets.wallet_sells - sells_before,
        1,
        "one sale at the venue"
    );
    let holdings = sim_holdings(&sim).await;
    let btc: Decimal = holdings
        .iter()
        .filter(|(asset, _)| asset == "BTC")
        .map(|(_, quantity)| *quantity)
        .sum();
    assert_eq!(
        btc,
        dec!(0.001),
        "the lot at a gain is still held: {holdings:?}"
    );
    for system in companions {
        system
            .shutdown(Duration::from_secs(5))
            .await
            .expect("stops");
    }
    sim.shutdown().await;
}

async fn sim_holdings(sim: &SimHandle) -> Vec<(String, Decimal)> {
    common::clients::markets_client(sim)
        .holdings()
        .await
        .expect("holdings")
        .holdings
        .into_iter()
        .map(|h| (h.asset, h.quantity))
        .collect()
}
