//! The wallet's order path under the harvester, against the simulated venue over loopback:
//! a lost reply is resolved by asking the venue about the key (never by a fresh key), a
//! restart books an order an earlier run left pending, dry run sends nothing, the risk
//! limits refuse a harvest whole, and the operator's halt stops the orders of a harvest
//! under way once the POST in flight has returned.

mod common;

use std::time::Duration;

use ballast::{
    control::Mode,
    observation::TradeSide,
    sim::{FaultConfig, Injection, SimHandle},
    store::{LegStatus, Store, WalletOrderRecord},
};
use ballast_actors::system::RunningSystem;
use common::clients::markets_client;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

const WAIT: Duration = Duration::from_secs(20);

/// Harvesting on.
const TAX: (&str, &str) = ("BALLAST__TAX__ENABLED", "true");

/// A venue where the agent holds 0.001 BTC bought at 95,000 (basis 95.10).
async fn venue_with_btc() -> SimHandle {
    let sim = common::quiet_sim().await;
    sim.inject(Injection::ExternalBuy {
        asset: "BTC".into(),
        quantity: dec!(0.001),
    })
    .await
    .expect("buys");
    sim
}

async fn drop_btc(sim: &SimHandle) {
    sim.inject(Injection::Price {
        asset: "BTC".into(),
        price_usdc: dec!(80000),
    })
    .await
    .expect("drops");
}

/// Whether the store holds no wallet order of unknown outcome.
async fn nothing_pending(store: &Store) -> bool {
    store
        .pending_wallet_orders()
        .await
        .expect("reads")
        .is_empty()
}

/// A harvesting companion on `sim` with `extra` on top, on a fresh in-memory store; returns
/// both.
async fn harvester(sim: &SimHandle, extra: (&str, &str)) -> (RunningSystem, Store) {
    let store = Store::open_in_memory().expect("store");
    let system = common::companion_on(sim, &[TAX, extra], store.clone()).await;
    (system, store)
}

/// A harvester whose requests time out after `timeout_ms`, on a venue with BTC that applies
/// every POST but withholds its reply; BTC has just dropped into a harvestable loss.
async fn harvest_losing_replies(timeout_ms: &str) -> (SimHandle, RunningSystem, Store) {
    let sim = venue_with_btc().await;
    let (system, store) = harvester(&sim, ("BALLAST__VENUE__REQUEST_TIMEOUT_MS", timeout_ms)).await;
    sim.set_faults(FaultConfig {
        lost_ack: 1.0,
        ..FaultConfig::default()
    })
    .expect("faults");
    drop_btc(&sim).await;
    (sim, system, store)
}

#[actix_rt::test]
async fn lost_replies_are_resolved_by_status_queries_and_applied_once() {
    // Every POST is applied but its reply withheld; a short timeout makes the desk ask.
    let (sim, system, store) = harvest_losing_replies("300").await;
    let summary = common::summary_when(&system, WAIT, "no harvest", |s| s.tax.harvests >= 1).await;
    assert_eq!(summary.tax.substitutes_bought, 1, "{:?}", summary.tax);
    // One sale and one buy at the venue (plus the agent's buy): nothing twice.
    let stats = sim.stats();
    assert_eq!(
        (stats.markets.wallet_sells, stats.markets.wallet_buys),
        (1, 2)
    );
    assert!(stats.faults_injected["lost_ack"] >= 2);
    assert!(nothing_pending(&store).await);
    common::stop(system, sim).await;
}

#[actix_rt::test]
async fn a_restart_books_what_an_earlier_run_left_pending_and_resends_nothing() {
    let sim = venue_with_btc().await;
    drop_btc(&sim).await;
    let store = Store::open_in_memory().expect("store");
    let at = sim.now();
    let order = |key: &str, side, asset: &str, quantity| WalletOrderRecord {
        idempotency_key: key.into(),
        harvest_id: "r-old:h1".into(),
        side,
        asset: asset.into(),
        quantity,
        lot_ids: vec![],
        reason: "tax_loss_harvest".into(),
        status: LegStatus::Pending,
        created_at: at,
    };
    // Step 1: an earlier run recorded its sale and sent it (the venue applied it), then
    // crashed before the reply; its buy was recorded but never sent.
    store
        .record_wallet_order(order("r-old:h1:sell", TradeSide::Sell, "BTC", dec!(0.001)))
        .await
        .expect("records");
    store
        .record_wallet_order(order("r-old:h1:buy", TradeSide::Buy, "ETH", dec!(0.02)))
        .await
        .expect("records");
    let sold = markets_client(&sim)
        .wallet_trade(
            TradeSide::Sell,
            "BTC",
            dec!(0.001),
            "tax_loss_harvest",
            "r-old:h1:sell",
        )
        .await
        .expect("sells");
    // The book still holds the lot (the crash came before it was booked).
    let lot = sold.lots[0].clone();
    let book = ballast::tax::LotBook::restore(
        vec![ballast::tax::Lot {
            lot_id: lot.lot_id.clone(),
            venue_lot_id: lot.lot_id.clone(),
            asset: "BTC".into(),
            quantity: lot.quantity,
            cost_basis_usdc: lot.cost_basis_usdc,
            wash_adjustment_usdc: Decimal::ZERO,
            bought_at: lot.acquired_at,
            acquired_at: lot.acquired_at,
            origin: ballast::tax::LotOrigin::External,
            replacement: false,
        }],
        vec![],
    );
    store
        .save_tax_book(book.lots().to_vec(), book.disposals().to_vec())
        .await
        .expect("saves");

    // Step 2: the restart resolves both by asking: the sale is booked once, under its
    // harvest; the buy the venue never saw is abandoned, not sent.
    let system = common::companion_on(&sim, &[TAX], store.clone()).await;
    let resolved = common::eventually(WAIT, async || {
        store
            .pending_wallet_orders()
            .await
            .is_ok_and(|pending| pending.is_empty())
    })
    .await;
    assert!(resolved, "pending orders not reconciled");
    let (lots, disposals) = store.load_tax_book().await.expect("loads");
    assert!(lots.is_empty(), "{lots:?}");
    assert_eq!(disposals.len(), 1);
    assert_eq!(disposals[0].trade_id, sold.trade_id);
    assert_eq!(disposals[0].harvest_id.as_deref(), Some("r-old:h1"));
    assert_eq!(disposals[0].proceeds_usdc, dec!(79.92));
    let stats = sim.stats();
    assert_eq!(
        (stats.markets.wallet_sells, stats.markets.wallet_buys),
        (1, 1)
    );
    common::stop(system, sim).await;
}

#[actix_rt::test]
async fn dry_run_records_the_harvest_and_sends_nothing() {
    let sim = venue_with_btc().await;
    let (system, store) = harvester(&sim, ("BALLAST__EXECUTOR__DRY_RUN", "true")).await;
    drop_btc(&sim).await;
    let summary =
        common::summary_when(&system, WAIT, "no dry-run harvest", |s| s.tax.harvests >= 1).await;
    assert_eq!(summary.tax.harvests, 1);
    // A second price move the same day does not record it again: once the recorder has
    // seen the event, the harvester has it queued, and shutting down drains it first.
    sim.inject(Injection::Price {
        asset: "BTC".into(),
        price_usdc: dec!(79000),
    })
    .await
    .expect("moves");
    common::summary_when(&system, WAIT, "second price not seen", |s| {
        s.events_by_type.get("price").copied().unwrap_or(0) >= 2
    })
    .await;
    let summary = system
        .shutdown(Duration::from_secs(5))
        .await
        .expect("stops");
    assert_eq!(summary.tax.harvests, 1, "{:?}", summary.tax);
    let stats = sim.stats();
    assert_eq!(
        (stats.markets.wallet_sells, stats.markets.wallet_buys),
        (0, 1)
    );
    let status = store.tax_status().await.expect("status");
    assert_eq!(
        (status.open_lots, status.disposals, status.harvests),
        (1, 0, 1)
    );
    sim.shutdown().await;
}

#[actix_rt::test]
async fn hifo_sells_the_losing_lot_the_venue_would_not_sell_first() {
    // Step 1: an old BTC lot bought at 50,000 (a gain at 80,000) and, 31 days later (outside
    // its wash-sale window), a new one at 95,000.
    let sim = common::quiet_sim().await;
    let buy_at = async |price_usdc| {
        sim.inject(Injection::Price {
            asset: "BTC".into(),
            price_usdc,
        })
        .await
        .expect("prices");
        sim.inject(Injection::ExternalBuy {
            asset: "BTC".into(),
            quantity: dec!(0.001),
        })
        .await
        .expect("buys");
    };
    buy_at(dec!(50000)).await;
    sim.advance(24 * 31).await.expect("advances");
    buy_at(dec!(95000)).await;
    // The companion has seen the month already (its cursor is at the venue's last event).
    let store = Store::open_in_memory().expect("store");
    common::mark_seen(&sim, &store).await;
    let system = common::companion_on(&sim, &[TAX, ("BALLAST__TAX__METHOD", "hifo")], store).await;

    // Step 2: at 80,000 only the new lot is at a loss: HIFO sells it, by name; first in,
    // first out would have sold the old lot, at a gain.
    drop_btc(&sim).await;
    let summary = common::summary_when(&system, WAIT, "no harvest", |s| s.tax.harvests >= 1).await;
    assert_eq!(summary.tax.harvested_loss_usdc, dec!(15.18));
    let holdings = markets_client(&sim).holdings().await.expect("holdings");
    let btc = holdings
        .holdings
        .iter()
        .find(|h| h.asset == "BTC")
        .expect("the old lot stays");
    let left: Vec<_> = btc
        .lots
        .iter()
        .map(|l| (l.lot_id.as_str(), l.cost_basis_usdc))
        .collect();
    assert_eq!(left, [("lot-00000001", dec!(50.05))]);
    common::stop(system, sim).await;
}

#[actix_rt::test]
async fn a_harvest_beyond_the_risk_limits_is_refused_and_nothing_is_sold() {
    struct TestCase {
        limit: (&'static str, &'static str),
    }
    let cases = [
        // TC0: a $50 cap per order: the harvest's sale of 79.92 breaks it.
        TestCase {
            limit: ("BALLAST__RISK__MAX_LEG_USDC", "50"),
        },
        // TC1: orders of at most 1% of the portfolio (about $11): the sale breaks it too.
        TestCase {
            limit: ("BALLAST__RISK__MAX_LEG_FRACTION", "0.01"),
        },
    ];
    for (i, case) in cases.iter().enumerate() {
        let sim = venue_with_btc().await;
        let (system, store) = harvester(&sim, case.limit).await;
        drop_btc(&sim).await;
        // Refused once, and the operator alerted once (the Notifier's alert comes back
        // through the bus).
        let summary = common::summary_when(&system, WAIT, "no refusal alert", |s| {
            s.tax.refused >= 1 && s.alerts_by_kind.contains_key("harvest_refused")
        })
        .await;
        assert_eq!(summary.tax.refused, 1, "TC{i}");
        assert_eq!(
            summary.alerts_by_kind.get("harvest_refused"),
            Some(&1),
            "TC{i}"
        );
        assert_eq!(summary.tax.harvests, 0, "TC{i}");
        assert_eq!(sim.stats().markets.wallet_sells, 0, "TC{i}");
        let status = store.tax_status().await.expect("status");
        assert_eq!((status.open_lots, status.harvests), (1, 0), "TC{i}");
        common::stop(system, sim).await;
    }
}

#[actix_rt::test]
async fn a_halt_waits_for_the_sale_in_flight_and_stops_the_substitutes_buy() {
    // Every reply is withheld until the client gives up: the sale's POST stays in flight.
    let (sim, system, store) = harvest_losing_replies("1000").await;
    let selling = common::eventually(WAIT, async || sim.stats().markets.wallet_sells == 1).await;
    assert!(selling, "the sale never reached the venue");

    // The halt returns once the sale's POST has (its reply lost, the venue asked about the
    // key); from then on nothing is sent: the substitute's buy is recorded failed, unsent.
    system.control().set(Mode::Halted).await;
    let summary = common::summary_when(&system, WAIT, "no harvest", |s| s.tax.harvests >= 1).await;
    assert_eq!(summary.tax.substitutes_bought, 0, "{:?}", summary.tax);
    let stats = sim.stats();
    assert_eq!(
        (stats.markets.wallet_sells, stats.markets.wallet_buys),
        (1, 1),
        "one sale; no buy beyond the agent's own"
    );
    let (lots, disposals) = store.load_tax_book().await.expect("loads");
    assert!(lots.is_empty(), "{lots:?}");
    assert_eq!(disposals.len(), 1, "the sale is booked once");
    assert!(nothing_pending(&store).await);
    common::stop(system, sim).await;
}
