//! The HedgeExecutor alone against the simulated venue over loopback: no hedge order while
//! the trading gate is closed (the stream down or resyncing) or the operator has paused
//! trading, the same request sent once the gate opens (or trading resumes), and the hedge on
//! disk with its key before the venue sees it; a second companion deciding the same hedge
//! sends the same key, so the venue fills it once.

#[path = "../../tests/common/mod.rs"]
mod common;

use common::Collector;

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use actix::Actor;
use ballast::{
    execution::VenueTag,
    hedge::{
        HedgeConfig, HedgeCosts, HedgeId, HedgeStatus, RatioMethod, hedge_trigger, locked_excess,
    },
    observation::PositionSide,
    risk::RiskLimits,
    service::Service,
    sim::{Injection, SimHandle},
    store::{HedgeRecord, Store},
    targets::TargetAllocation,
    venue::{backoff::Backoff, client::VenueClient},
};
use ballast_actors::{
    clock::TimeSource,
    control::ControlSwitch,
    gate::TradingGate,
    hedger::{HedgeExecutor, HedgerConfig},
    messages::{Event, HedgeOpened, HedgeRequest, HedgeSkipped},
    watcher::stream_name,
};
use rust_decimal_macros::dec;

/// What the collector saw on the bus.
#[derive(Debug, Default)]
struct Seen {
    opened: Vec<HedgeOpened>,
    skipped: Vec<HedgeSkipped>,
}

/// Keeps the hedger's publications (a [`common::Collector`]'s record).
fn record(seen: &mut Seen, event: Event) {
    match event {
        Event::HedgeOpened(opened) => seen.opened.push(opened),
        Event::HedgeSkipped(skipped) => seen.skipped.push(skipped),
        _ => {}
    }
}

/// The scenario's request: 380 of the casino locked, then a win of 230.77.
async fn request(sim: &SimHandle, client: &VenueClient) -> HedgeRequest {
    sim.inject(Injection::Lock {
        service: Service::Casino,
        amount_usdc: dec!(380),
        hours: 48,
    })
    .await
    .expect("locks");
    sim.inject(Injection::CasinoWin {
        amount_usdc: dec!(230.77),
    })
    .await
    .expect("wins");
    let snapshot = client
        .portfolio()
        .await
        .expect("portfolio")
        .to_snapshot()
        .expect("valid");
    let targets = TargetAllocation::conservative();
    HedgeRequest {
        excess: locked_excess(&snapshot, &targets),
        snapshot,
        targets,
        planned: true,
        at: sim.now(),
    }
}

/// A 1:1 hedger's settings.
fn hedger_config() -> HedgerConfig {
    HedgerConfig {
        hedge: HedgeConfig {
            enabled: true,
            ratio: RatioMethod::Fixed,
            ..HedgeConfig::article()
        },
        dry_run: false,
        risk: RiskLimits::default(),
        retry_limit: 2,
        retry_backoff: Backoff {
            base: Duration::from_millis(10),
            max: Duration::from_millis(50),
        },
    }
}

/// A 1:1 hedger of run `run_id` sending through `gate`.
fn hedger(
    run_id: &str,
    client: &VenueClient,
    store: &Store,
    gate: &TradingGate,
    bus: actix::Recipient<Event>,
) -> HedgeExecutor {
    HedgeExecutor::new(
        client.clone(),
        store.clone(),
        hedger_config(),
        TargetAllocation::conservative(),
        (run_id.to_owned(), TimeSource::Wall),
        gate.clone(),
        bus,
    )
    .expect("builds")
}

/// Waits until the collector has seen something in the list `pick` chooses (the bus hands
/// it its copy a moment after the hedger publishes), then returns that list; fails naming
/// `what`.
async fn seen_when<T: Clone>(seen: &Mutex<Seen>, pick: fn(&Seen) -> &Vec<T>, what: &str) -> Vec<T> {
    let told = common::eventually(Duration::from_secs(5), async || {
        !pick(&seen.lock().expect("lock")).is_empty()
    })
    .await;
    assert!(told, "no {what} reported");
    pick(&seen.lock().expect("lock")).clone()
}

/// A quiet venue and a client of its agent.
async fn venue() -> (SimHandle, VenueClient) {
    let sim = common::quiet_sim().await;
    let client = common::clients::venue_client(&sim);
    (sim, client)
}

/// A gate a fresh snapshot has opened.
fn open_gate() -> TradingGate {
    let gate = TradingGate::new();
    assert!(gate.open_if(gate.epoch()));
    gate
}

/// A collector of the hedger's publications, and what it saw.
fn bus() -> (Arc<Mutex<Seen>>, actix::Addr<Collector<Seen>>) {
    let seen = Arc::default();
    let bus = Collector::start_into(&seen, record);
    (seen, bus)
}

#[actix_rt::test]
async fn no_hedge_opens_while_trading_is_paused() {
    let (sim, client) = venue().await;
    let store = Store::open_in_memory().expect("store");
    let (seen, bus) = bus();
    let gate = open_gate();
    let control = ControlSwitch::new(ballast::control::Mode::Paused);
    let hedger = hedger("r1", &client, &store, &gate, bus.recipient())
        .with_control(control.clone())
        .start();
    let request = request(&sim, &client).await;
    // Paused: skipped, said so, nothing sent.
    hedger.send(request.clone()).await.expect("handled");
    let reason = seen_when(&seen, |s| &s.skipped, "skip").await[0]
        .reason
        .clone();
    assert!(reason.contains("paused or halted"), "{reason}");
    assert_eq!(sim.stats().markets.orders_accepted, 0);
    // Resumed: the same request opens the hedge.
    control.set_mode(ballast::control::Mode::Running);
    hedger.send(request).await.expect("handled");
    assert_eq!(sim.stats().markets.orders_accepted, 1);
    sim.shutdown().await;
}

#[actix_rt::test]
async fn no_hedge_order_while_the_gate_is_closed() {
    let (sim, client) = venue().await;
    let store = Store::open_in_memory().expect("store");
    let (seen, bus) = bus();
    // A gate starts closed: nothing has been resynced.
    let gate = TradingGate::new();
    let hedger = hedger("r1", &client, &store, &gate, bus.recipient()).start();
    let request = request(&sim, &client).await;
    let request_seq = request.snapshot.seq;
    assert_eq!(request.excess[0].stuck_usdc, dec!(133.84));

    // Step 1: the gate is closed: the hedge is skipped, said so, and nothing reaches the
    // venue or the store.
    hedger.send(request.clone()).await.expect("handled");
    assert_eq!(sim.stats().markets.orders_accepted, 0);
    // The bus hands the collector its copy a moment later.
    let skipped = seen_when(&seen, |s| &s.skipped, "skip").await;
    assert_eq!(skipped.len(), 1);
    assert!(skipped[0].reason.contains("stream down"), "{skipped:?}");
    assert_eq!(store.status().await.expect("status").hedges.opened, 0);

    // Step 2: a fresh snapshot opened the gate: the same request opens one 1:1 hedge, on
    // disk with its key, and a repeat of the request opens nothing more.
    assert!(gate.open_if(gate.epoch()));
    hedger.send(request.clone()).await.expect("handled");
    hedger.send(request).await.expect("handled");
    let stats = sim.stats();
    assert_eq!(stats.markets.orders_accepted, 1);
    let opened = seen_when(&seen, |s| &s.opened, "opening").await;
    assert_eq!(opened.len(), 1);
    assert_eq!(opened[0].notional_usdc, dec!(133.84));
    let hedge = store
        .hedge(opened[0].hedge_id.clone())
        .await
        .expect("reads")
        .expect("recorded");
    assert_eq!(hedge.status, HedgeStatus::Open);
    // Named after the balances it was decided on: the request's venue event.
    let seq = request_seq.expect("a REST snapshot names its seq");
    assert!(
        hedge.hedge_id.ends_with(&format!(".e0.{seq}.hcasino@1")),
        "{}",
        hedge.hedge_id
    );
    assert_eq!(hedge.open_key, format!("{}:open", hedge.hedge_id));
    assert!(stats.accounting.ok);
    sim.shutdown().await;
}

#[actix_rt::test]
async fn a_second_companion_deciding_the_same_hedge_sends_the_same_key() {
    // Two companions (their own stores and runs) get the same request: both name the hedge
    // after the same balances, so the venue fills one order and replays it to the second,
    // and both books hold the one position.
    let (sim, client) = venue().await;
    let gate = open_gate();
    let (_, bus) = bus();
    let (store_a, store_b) = (
        Store::open_in_memory().expect("store"),
        Store::open_in_memory().expect("store"),
    );
    let a = hedger("r1", &client, &store_a, &gate, bus.clone().recipient()).start();
    let b = hedger("r2", &client, &store_b, &gate, bus.recipient()).start();
    let request = request(&sim, &client).await;
    a.send(request.clone()).await.expect("handled");
    b.send(request).await.expect("handled");
    let stats = sim.stats();
    assert_eq!(
        stats.markets.orders_accepted, 1,
        "one order for two companions"
    );
    assert_eq!(stats.markets.open_positions, 1);
    let live_a = store_a.live_hedges().await.expect("reads");
    let live_b = store_b.live_hedges().await.expect("reads");
    assert_eq!(
        (live_a.len(), live_b.len()),
        (1, 1),
        "{live_a:?} {live_b:?}"
    );
    assert_eq!(live_a[0].open_key, live_b[0].open_key);
    assert_eq!(live_a[0].position_id, live_b[0].position_id);
    assert_eq!(live_b[0].status, HedgeStatus::Open);
    assert!(stats.accounting.ok);
    sim.shutdown().await;
}

#[actix_rt::test]
async fn a_hedge_name_an_earlier_run_of_the_store_used_is_skipped_for_the_next_attempt() {
    // The store already holds a closed hedge named after the same balances and service (an
    // earlier run decided it): the new one is attempt 2, never an overwrite of the old record
    // nor a reuse of its order key.
    let (sim, client) = venue().await;
    let store = Store::open_in_memory().expect("store");
    let gate = open_gate();
    let (_, bus) = bus();
    let request = request(&sim, &client).await;
    let venue = VenueTag::of(&stream_name(client.base_url(), client.agent_id()));
    let trigger = hedge_trigger(request.snapshot.seq, 0, request.at);
    let earlier = HedgeId::for_trigger(venue, trigger, Service::Casino, 1);
    store
        .save_hedge(HedgeRecord {
            hedge_id: earlier.to_string(),
            run_id: "r0".into(),
            service: Service::Casino,
            market: "BTC-PERP".into(),
            side: PositionSide::Short,
            notional_usdc: dec!(100),
            leverage: 2,
            ratio: dec!(1),
            reason: "an earlier run's".into(),
            status: HedgeStatus::Closed,
            open_key: earlier.open_key(),
            close_key: Some(earlier.close_key()),
            position_id: None,
            created_at: request.at,
            opened_at: None,
            closed_at: Some(request.at),
            close_reason: Some("lock_released".into()),
            costs: HedgeCosts::default(),
            error: None,
        })
        .await
        .expect("records");
    let hedger = hedger("r1", &client, &store, &gate, bus.recipient()).start();
    hedger.send(request).await.expect("handled");
    assert_eq!(sim.stats().markets.orders_accepted, 1);
    let live = store.live_hedges().await.expect("reads");
    assert_eq!(live.len(), 1, "{live:?}");
    assert_eq!(
        live[0].hedge_id,
        HedgeId::for_trigger(venue, trigger, Service::Casino, 2).to_string()
    );
    let old = store
        .hedge(earlier.to_string())
        .await
        .expect("reads")
        .expect("kept");
    assert_eq!(old.status, HedgeStatus::Closed);
    sim.shutdown().await;
}
