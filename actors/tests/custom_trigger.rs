//! The example custom trigger, end to end: a drawdown event on the simulated venue makes
//! `DrawdownGuard` request a rebalance, which the companion executes.

#[path = "../../tests/common/mod.rs"]
mod common;
#[path = "../examples/custom_trigger.rs"]
#[allow(dead_code)]
mod example;

use common::{builder, quiet_config, settings_with, start_sim, stop, summary_when, wait_synced};
use std::time::Duration;

use actix::Actor;
use ballast::{
    service::{Direction, Service},
    sim::Injection,
};
use rust_decimal_macros::dec;

#[actix_rt::test]
async fn a_drawdown_triggers_a_requested_rebalance() {
    // Step 1: a quiet venue, slightly off target but inside every band, so only an explicit
    // request (not the policy's own triggers) would move money. The policy's own drawdown
    // protection is off: it would answer the same drawdown itself.
    let mut config = quiet_config();
    config.initial_balances_usdc[Service::Casino] = dec!(230);
    config.initial_balances_usdc[Service::Trading] = dec!(270);
    let sim = start_sim(config).await;
    let system = builder(
        &sim,
        settings_with(&[("BALLAST__POLICY__DRAWDOWN__ENABLED", "false")]),
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
    wait_synced(&system).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(sim.transfers().is_empty());

    // Step 3: a 20% drawdown in trading: the guard requests, the companion rebalances.
    sim.inject(Injection::Drawdown {
        service: Service::Trading,
        drawdown: dec!(0.20),
    })
    .await
    .expect("injects");
    summary_when(
        &system,
        Duration::from_secs(10),
        "no requested rebalance",
        |s| s.rebalances_by_trigger.get("request") == Some(&1),
    )
    .await;
    // The drawdown cut trading to $216 (total $946): casino, the most overweight, is
    // decreased first and ends on its 20% target.
    let transfers = sim.transfers();
    assert_eq!(transfers[0].service, Service::Casino);
    assert_eq!(transfers[0].direction, Direction::Decrease);
    let total: rust_decimal::Decimal = sim.balances().values().copied().sum();
    let casino_weight = sim.balance(Service::Casino) / total;
    assert!(
        (casino_weight - dec!(0.20)).abs() < dec!(0.005),
        "{casino_weight}"
    );

    stop(system, sim).await;
}
