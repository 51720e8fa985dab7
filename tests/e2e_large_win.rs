//! Story: a large casino win pushes casino 12 points over target; the companion, running
//! against the simulated venue over real loopback sockets, restores every service to its
//! band with decreases first and no transfer below the minimum trade. With a per-transfer
//! risk limit below the plan's largest leg, the same win is refused whole and nothing moves.

mod common;

use std::time::Duration;

use ballast::{
    service::Service, sim::Injection, targets::TargetAllocation, venue::protocol::Direction,
};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

#[actix_rt::test]
async fn a_large_win_is_rebalanced_back_into_every_band() {
    // Step 1: a quiet venue with the article's $1,000 agent on target, and the companion.
    let sim = common::quiet_sim().await;
    let validated = common::default_settings();
    let band = validated.policy.bands.absolute;
    let min_trade = validated.policy.min_trade_usdc;
    let system = common::builder(&sim, validated)
        .start()
        .await
        .expect("starts");
    common::wait_synced(&system).await;
    assert!(sim.transfers().is_empty(), "on target: nothing moves");

    // Step 2: a win of $176.47 takes casino from 20% to 32% of the portfolio (12 points
    // over), which is 17.6% of the bankroll: above the 10% post-win trigger.
    sim.inject(Injection::CasinoWin {
        amount_usdc: dec!(176.47),
    })
    .await
    .expect("injects");
    let casino_weight = common::weights(&sim.balances())[Service::Casino.index()];
    assert!(
        (casino_weight - dec!(0.32)).abs() < dec!(0.001),
        "{casino_weight}"
    );

    // Step 3: the companion rebalances; wait until its plan has finished.
    let finished = common::eventually(Duration::from_secs(10), async || {
        system
            .summary()
            .await
            .map(|s| s.rebalances >= 1)
            .unwrap_or(false)
    })
    .await;
    assert!(finished, "no rebalance finished");

    // Step 4: every service is back inside its band.
    let targets = TargetAllocation::conservative();
    let weights = common::weights(&sim.balances());
    for service in Service::ALL {
        let drift = weights[service.index()] - targets.weight(service);
        assert!(drift.abs() <= band, "{service:?} drift {drift}");
    }

    // Step 5: the venue saw decreases strictly before increases, none below the minimum,
    // each with its own idempotency key.
    let transfers = sim.transfers();
    assert!(!transfers.is_empty());
    let first_increase = transfers
        .iter()
        .position(|t| t.direction == Direction::Increase)
        .unwrap_or(transfers.len());
    assert!(
        transfers[first_increase..]
            .iter()
            .all(|t| t.direction == Direction::Increase),
        "a decrease came after an increase: {transfers:?}"
    );
    assert_eq!(transfers[0].service, Service::Casino);
    assert!(transfers.iter().all(|t| t.amount_usdc >= min_trade));
    let mut keys: Vec<_> = transfers
        .iter()
        .filter_map(|t| t.idempotency_key.clone())
        .collect();
    assert_eq!(keys.len(), transfers.len(), "every leg carries a key");
    keys.dedup();
    assert_eq!(keys.len(), transfers.len());

    // Step 6: value is conserved by transfers.
    let total: Decimal = sim.balances().values().copied().sum();
    assert_eq!(total, dec!(1176.47));

    let summary = system
        .shutdown(Duration::from_secs(5))
        .await
        .expect("stops");
    assert_eq!(summary.legs_failed, 0);
    assert_eq!(summary.rebalances_by_trigger.get("large_win"), Some(&1));
    sim.shutdown().await;
}

#[actix_rt::test]
async fn a_plan_beyond_the_risk_limits_is_refused_whole_and_nothing_is_sent() {
    // A $50 cap per transfer: the large win's casino decrease (~$141) breaks it.
    let sim = common::quiet_sim().await;
    let store = ballast::store::Store::open_in_memory().expect("store");
    let validated = common::settings_with(&[("BALLAST__RISK__MAX_LEG_USDC", "50")]);
    let system = common::builder_at(&sim.base_url(), validated, store.clone())
        .start()
        .await
        .expect("starts");
    common::wait_synced(&system).await;
    sim.inject(Injection::CasinoWin {
        amount_usdc: dec!(176.47),
    })
    .await
    .expect("injects");
    let summary = common::summary_when(&system, Duration::from_secs(10), "no refusal", |s| {
        s.legs_failed >= 1
    })
    .await;
    assert_eq!(summary.legs_applied, 0, "{summary:?}");
    assert!(sim.transfers().is_empty(), "a refused plan sent a leg");
    // The refusal is recorded leg by leg: wait until the last one is on disk.
    let recorded = common::eventually(Duration::from_secs(10), async || {
        let status = store.status().await.expect("status");
        status.legs_pending == 0 && status.legs_failed > 0
    })
    .await;
    assert!(recorded, "the refused legs were never all recorded");
    let status = store.status().await.expect("status");
    assert_eq!(
        status.legs_failed as usize,
        status.recent_plans[0].legs.len()
    );
    assert!(
        status
            .failure_reasons
            .values()
            .all(|why| why.contains("risk.max_leg_usdc")),
        "{:?}",
        status.failure_reasons
    );
    common::stop(system, sim).await;
}
