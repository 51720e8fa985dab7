//! Shared helpers for the end-to-end tests: a simulated venue on 127.0.0.1:0 with no
//! background activity, and a companion system pointed at it. The actors package's tests
//! include this file too (`#[path = "../../tests/common/mod.rs"]`), so it uses only what
//! both packages' tests can see.
//!
//! # Invariants
//! - Every venue binds loopback port 0, so tests run in parallel without clashing.
//! - Every wait is bounded and fails naming what it waited for; none asserts a duration.

#![allow(dead_code)]

pub mod clients;

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use actix::{Actor, Addr, Context, Handler, Recipient};
use ballast::{
    service::ServiceMap,
    sim::{FaultConfig, Injection, SimConfig, SimHandle},
    store::Store,
};
use ballast_actors::{
    clock::TimeSource,
    messages::Event,
    metrics::{Console, Summary},
    settings::{Settings, Validated},
    system::{Handles, RunningSystem, SystemBuilder},
};
use rust_decimal::Decimal;

/// How long a test waits for the companion to sync with the venue.
const SYNC_LIMIT: Duration = Duration::from_secs(10);

/// A quiet venue's configuration: only requests and injections move money, and its clock
/// runs at one simulated second per real second, so it stays inside its first hour.
pub fn quiet_config() -> SimConfig {
    SimConfig {
        autoplay: false,
        speed: 1.0,
        ..SimConfig::default()
    }
}

/// Starts a venue with `cfg` on a free loopback port.
pub async fn start_sim(cfg: SimConfig) -> SimHandle {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds loopback");
    ballast::sim::start(cfg, listener)
        .await
        .expect("sim starts")
}

/// A quiet simulated venue: only requests and injections move money.
pub async fn quiet_sim() -> SimHandle {
    start_sim(quiet_config()).await
}

/// The default settings with `env` (`BALLAST__...` pairs) on top, validated.
pub fn settings_with(env: &[(&str, &str)]) -> Validated {
    let vars = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect::<Vec<_>>();
    Settings::load_with_env(&[], vars)
        .and_then(Settings::validate)
        .expect("valid settings")
}

/// The default settings, validated.
pub fn default_settings() -> Validated {
    settings_with(&[])
}

/// A system on the venue at `venue_url` (the sim's, or a proxy in front of it), with
/// `store` and no console.
pub fn builder_at(venue_url: &str, validated: Validated, store: Store) -> SystemBuilder {
    SystemBuilder::new(
        validated,
        venue_url,
        None,
        TimeSource::Wall,
        store,
        Console::Off,
    )
}

/// A system on `sim`, in-memory store, no console.
pub fn builder(sim: &SimHandle, validated: Validated) -> SystemBuilder {
    builder_at(
        &sim.base_url(),
        validated,
        Store::open_in_memory().expect("store"),
    )
}

/// Polls `probe` every 20 ms until it returns true, at most `limit`.
pub async fn eventually(limit: Duration, mut probe: impl AsyncFnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        if probe().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

/// Polls the system's summary until `done` holds for it, at most `limit`; fails naming
/// `what` with the last summary seen.
pub async fn summary_when(
    system: &RunningSystem,
    limit: Duration,
    what: &str,
    done: impl Fn(&Summary) -> bool,
) -> Summary {
    let mut last = None;
    let reached = eventually(limit, async || {
        let summary = system.summary().await.expect("summary");
        let ok = done(&summary);
        last = Some(summary);
        ok
    })
    .await;
    let summary = last.expect("polled at least once");
    assert!(reached, "{what}: {summary:?}");
    summary
}

/// Waits until the companion holds the venue's start-up snapshot.
pub async fn wait_synced(system: &RunningSystem) -> Summary {
    summary_when(
        system,
        SYNC_LIMIT,
        "companion never synced with the venue",
        |s| s.final_balances_usdc.is_some(),
    )
    .await
}

/// Starts the system `builder` describes and waits until it has synced with the venue: how
/// nearly every story begins.
pub async fn start_synced(builder: SystemBuilder) -> RunningSystem {
    let system = builder.start().await.expect("starts");
    wait_synced(&system).await;
    system
}

/// A companion on `sim` with `env` (`BALLAST__...` pairs) on top of the defaults, on
/// `store`, synced with the venue.
pub async fn companion_on(sim: &SimHandle, env: &[(&str, &str)], store: Store) -> RunningSystem {
    start_synced(builder_at(&sim.base_url(), settings_with(env), store)).await
}

/// Injects a casino win of `amount_usdc` at the venue.
pub async fn win(sim: &SimHandle, amount_usdc: Decimal) {
    sim.inject(Injection::CasinoWin { amount_usdc })
        .await
        .expect("injects");
}

/// Slows every venue reply by `latency`, then injects the article's large win ($176.47) and
/// waits until the five-leg rebalance it starts has landed its first leg: a plan under way.
pub async fn rebalance_under_way(sim: &SimHandle, latency: Duration) {
    sim.set_faults(FaultConfig {
        latency,
        ..FaultConfig::default()
    })
    .expect("faults");
    win(sim, rust_decimal_macros::dec!(176.47)).await;
    assert!(
        eventually(Duration::from_secs(10), async || !sim
            .transfers()
            .is_empty())
        .await,
        "the rebalance never started"
    );
}

/// Points `store`'s event cursor for `sim` at the venue's last event, so a companion on
/// `store` starts as one that has seen the venue's history already.
pub async fn mark_seen(sim: &SimHandle, store: &Store) {
    let cursor = format!("{}#{}", sim.base_url(), sim.agent_id());
    store
        .save_cursor(&cursor, sim.stats().last_seq)
        .await
        .expect("cursor");
}

/// An actor on the bus that hands every event to `record` with the test's state `S`, so a
/// test can assert on what the companion published.
pub struct Collector<S> {
    seen: Arc<Mutex<S>>,
    record: fn(&mut S, Event),
}

impl<S: 'static> Collector<S> {
    /// Starts a collector that records into `seen` with `record`.
    pub fn start_into(seen: &Arc<Mutex<S>>, record: fn(&mut S, Event)) -> Addr<Self> {
        Self {
            seen: Arc::clone(seen),
            record,
        }
        .start()
    }
}

impl<S: 'static> Actor for Collector<S> {
    type Context = Context<Self>;
}

impl<S: 'static> Handler<Event> for Collector<S> {
    type Result = ();

    fn handle(&mut self, event: Event, _ctx: &mut Self::Context) {
        (self.record)(&mut self.seen.lock().expect("not poisoned"), event);
    }
}

/// A fresh collector state and the factory that subscribes its collector to a system's bus
/// (for `SystemBuilder::add_actor`).
pub fn collecting<S: Default + 'static>(
    record: fn(&mut S, Event),
) -> (
    Arc<Mutex<S>>,
    impl FnOnce(&Handles) -> Option<Recipient<Event>> + 'static,
) {
    let seen = Arc::new(Mutex::new(S::default()));
    let shared = Arc::clone(&seen);
    (seen, move |_: &Handles| {
        Some(Collector::start_into(&shared, record).recipient())
    })
}

/// Stops the system, then the venue.
pub async fn stop(system: RunningSystem, sim: SimHandle) {
    system
        .shutdown(Duration::from_secs(5))
        .await
        .expect("stops");
    sim.shutdown().await;
}

/// Balances as a plain array for readable assertions.
pub fn weights(balances: &ServiceMap<rust_decimal::Decimal>) -> [rust_decimal::Decimal; 6] {
    let total: rust_decimal::Decimal = balances.values().copied().sum();
    let mut out = [rust_decimal::Decimal::ZERO; 6];
    for (service, balance) in balances.iter() {
        out[service.index()] = balance / total;
    }
    out
}
