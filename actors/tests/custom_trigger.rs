//! The example custom trigger, end to end: a drawdown event on the simulated venue makes
//! `DrawdownGuard` request a rebalance, which the companion executes.

#[path = "../examples/custom_trigger.rs"]
#[allow(dead_code)]
mod example;

use std::time::Duration;

use actix::Actor;
use ballast::{
    service::Service,
    sim::{Injection, SimConfig},
    store::Store,
};
use ballast_actors::{
    clock::TimeSource, metrics::Console, settings::Settings, system::SystemBuilder,
};
use rust_decimal_macros::dec;

#[actix_rt::test]
async fn a_drawdown_triggers_a_requested_rebalance() {
    // Step 1: a quiet venue, slightly off target but inside every band, so only an explicit
    // request (not the policy's own triggers) would move money.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let mut config = SimConfig {
        autoplay: false,
        speed: 1.0,
        ..SimConfig::default()
    };
    config.initial_balances_usdc[Service::Casino] = dec!(230);
    config.initial_balances_usdc[Service::Trading] = dec!(270);
    let sim = ballast::sim::start(config, listener).await.expect("sim");
    let validated = Settings::load_with_env(&[], Vec::new())
        .and_then(Settings::validate)
        .expect("defaults");
    let system = SystemBuilder::new(
        validated,
        &sim.base_url(),
        None,
        TimeSource::Wall,
        Store::open_in_memory().expect("store"),
        Console::Off,
    )
    .add_actor(|handles| {
        let guard = example::DrawdownGuard {
            requests: handles.requests.clone(),
            threshold: dec!(0.15),
        };
        Some(guard.start().recipient())
    })
    .start()
    .await
    .expect("starts");

    // Step 2: wait for the start-up sync; nothing is outside a band, so nothing moves.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while system
        .summary()
        .await
        .expect("summary")
        .final_balances_usdc
        .is_none()
    {
        assert!(tokio::time::Instant::now() < deadline, "never synced");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(sim.transfers().is_empty());

    // Step 3: a 20% drawdown in trading: the guard requests, the companion rebalances.
    sim.inject(Injection::Drawdown {
        service: Service::Trading,
        drawdown: dec!(0.20),
    })
    .await
    .expect("injects");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let summary = system.summary().await.expect("summary");
        if summary.rebalances_by_trigger.get("request") == Some(&1) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no requested rebalance: {summary:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The drawdown cut trading to $216 (total $946): casino, the most overweight, is
    // decreased first and ends on its 20% target.
    let transfers = sim.transfers();
    assert_eq!(transfers[0].service, Service::Casino);
    assert_eq!(
        transfers[0].direction,
        ballast::venue::protocol::Direction::Decrease
    );
    let total: rust_decimal::Decimal = sim.balances().values().copied().sum();
    let casino_weight = sim.balance(Service::Casino) / total;
    assert!(
        (casino_weight - dec!(0.20)).abs() < dec!(0.005),
        "{casino_weight}"
    );

    system
        .shutdown(Duration::from_secs(5))
        .await
        .expect("stops");
    sim.shutdown().await;
}
