//! Shared helpers for the end-to-end tests: a simulated venue on 127.0.0.1:0 with no
//! background activity, and a companion system pointed at it.

#![allow(dead_code)]

use std::time::Duration;

use ballast::{
    service::ServiceMap,
    sim::{SimConfig, SimHandle},
    store::Store,
};
use ballast_actors::{
    clock::TimeSource,
    metrics::{Console, Summary},
    settings::{Settings, Validated},
    system::{RunningSystem, SystemBuilder},
};

/// A quiet simulated venue: only requests and injections move money.
pub async fn quiet_sim() -> SimHandle {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds loopback");
    ballast::sim::start(
        SimConfig {
            autoplay: false,
            speed: 1.0,
            ..SimConfig::default()
        },
        listener,
    )
    .await
    .expect("sim starts")
}

/// The default settings, validated.
pub fn default_settings() -> Validated {
    Settings::load_with_env(&[], Vec::new())
        .and_then(Settings::validate)
        .expect("defaults are valid")
}

/// A system on `sim`, in-memory store, no console.
pub fn builder(sim: &SimHandle, validated: Validated) -> SystemBuilder {
    SystemBuilder::new(
        validated,
        &sim.base_url(),
        None,
        TimeSource::Wall,
        Store::open_in_memory().expect("store"),
        Console::Off,
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

/// Waits until the companion holds the venue's start-up snapshot.
pub async fn wait_synced(system: &RunningSystem) -> Summary {
    assert!(
        eventually(Duration::from_secs(10), async || system
            .summary()
            .await
            .map(|s| s.final_balances_usdc.is_some())
            .unwrap_or(false))
        .await,
        "companion never synced with the venue"
    );
    system.summary().await.expect("summary")
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
