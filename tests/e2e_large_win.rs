//! Story: a large casino win pushes casino 12 points over target; the companion, running
//! against the simulated venue over real loopback sockets, restores every service to its
//! band with decreases first and no transfer below the minimum trade. With a per-transfer
//! risk limit below the plan's largest leg, that leg is split into transfers under the limit;
//! with a daily cap below the plan, the win is refused whole and nothing moves.

mod common;

use std::time::Duration;

use ballast::{service::Service, targets::TargetAllocation, venue::protocol::Direction};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

#[actix_rt::test]
async fn a_large_win_is_rebalanced_back_into_every_band() {
    // Step 1: a quiet venue with the article's $1,000 agent on target, and the companion.
    let sim = common::quiet_sim().await;
    let validated = common::default_settings();
    let band = validated.policy.bands.absolute;
    let min_trade = validated.policy.min_trade_usdc;
    let system = common::start_synced(common::builder(&sim, validated)).await;
    assert!(sim.transfers().is_empty(), "on target: nothing moves");

    // Step 2: a win of $176.47 takes casino from 20% to 32% of the portfolio (12 points
    // over), which is 17.6% of the bankroll: above the 10% post-win trigger.
    common::win(&sim, dec!(176.47)).await;
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
async fn r13_a_leg_above_the_per_leg_cap_is_split_into_legs_under_it() {
    // A $50 cap per transfer: the large win's casino decrease (~$141) is split into three
    // legs under it, each with its own key, and the portfolio still goes back to target.
    let sim = common::quiet_sim().await;
    let validated = common::settings_with(&[("BALLAST__RISK__MAX_LEG_USDC", "50")]);
    let band = validated.policy.bands.absolute;
    let system = common::start_synced(common::builder(&sim, validated)).await;
    common::win(&sim, dec!(176.47)).await;
    let summary = common::summary_when(&system, Duration::from_secs(10), "no rebalance", |s| {
        s.plans_attempted >= 1
    })
    .await;
    assert_eq!(
        (summary.legs_failed, summary.rebalances),
        (0, 1),
        "{summary:?}"
    );
    let transfers = sim.transfers();
    assert!(
        transfers.iter().all(|t| t.amount_usdc <= dec!(50)),
        "{transfers:?}"
    );
    let casino: Vec<_> = transfers
        .iter()
        .filter(|t| t.service == Service::Casino)
        .collect();
    assert_eq!(casino.len(), 3, "{transfers:?}");
    let mut keys: Vec<_> = transfers
        .iter()
        .filter_map(|t| t.idempotency_key.clone())
        .collect();
    keys.sort();
    keys.dedup();
    assert_eq!(
        keys.len(),
        transfers.len(),
        "every split leg has its own key"
    );
    // Each part's key is the plan's (named after the win's event) and its place in the split
    // plan: `{plan_id}:0` to `{plan_id}:{n-1}`, the same in every companion that splits alike.
    let parsed: Vec<ballast::execution::LegKey> = keys
        .iter()
        .map(|k| k.parse().expect("a key ballast writes"))
        .collect();
    let plan_id = parsed[0].plan_id().clone();
    assert!(
        matches!(
            plan_id.trigger(),
            Some(ballast::execution::TriggerId::Event { .. })
        ),
        "{plan_id}"
    );
    let mut indexes: Vec<u32> = parsed
        .iter()
        .inspect(|k| assert_eq!(k.plan_id(), &plan_id, "one plan"))
        .map(ballast::execution::LegKey::leg_index)
        .collect();
    indexes.sort_unstable();
    assert_eq!(indexes, (0..transfers.len() as u32).collect::<Vec<_>>());
    let targets = TargetAllocation::conservative();
    let weights = common::weights(&sim.balances());
    for service in Service::ALL {
        let drift = weights[service.index()] - targets.weight(service);
        assert!(drift.abs() <= band, "{service:?} drift {drift}");
    }
    common::stop(system, sim).await;
}

#[actix_rt::test]
async fn r13_a_plan_beyond_the_daily_cap_is_refused_whole_each_leg_naming_its_reason() {
    // A $100 daily cap: the ~$265 plan breaks it; nothing is sent, every leg is recorded with
    // the daily cap as its reason (not leg 0's), and a risk alert is raised.
    let sim = common::quiet_sim().await;
    let store = ballast::store::Store::open_in_memory().expect("store");
    let system = common::companion_on(
        &sim,
        &[("BALLAST__RISK__MAX_DAILY_TURNOVER_USDC", "100")],
        store.clone(),
    )
    .await;
    common::win(&sim, dec!(176.47)).await;
    let summary = common::summary_when(&system, Duration::from_secs(10), "no refusal", |s| {
        s.plans_failed >= 1 && s.alerts_by_kind.contains_key("risk_refused")
    })
    .await;
    assert_eq!(
        (summary.legs_applied, summary.rebalances),
        (0, 0),
        "{summary:?}"
    );
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
            .all(|why| why.starts_with("refused: risk.max_daily_turnover_usdc")),
        "{:?}",
        status.failure_reasons
    );
    let alerts = common::eventually(Duration::from_secs(5), async || {
        store
            .status()
            .await
            .is_ok_and(|s| s.recent_alerts.iter().any(|a| a.kind == "risk_refused"))
    })
    .await;
    assert!(alerts, "the refusal was not recorded as an alert");
    common::stop(system, sim).await;
}

#[actix_rt::test]
async fn r13_legs_are_not_sent_from_a_plan_that_grew_older_than_the_bound() {
    // Every venue reply takes 100 ms of wall time, and the companion's clock runs 3,600 times
    // faster: each leg takes six venue minutes, past a 60-second bound. After its first leg a
    // plan therefore stops, fresh balances are fetched, and the trigger is planned again on
    // them, one leg per plan, until the portfolio is back in its bands.
    let mut config = common::quiet_config();
    config.faults.latency = Duration::from_millis(100);
    let sim = common::start_sim(config).await;
    let validated = common::settings_with(&[("BALLAST__EXECUTOR__MAX_PLAN_AGE_SECS", "60")]);
    let band = validated.policy.bands.absolute;
    let store = ballast::store::Store::open_in_memory().expect("store");
    let system = ballast_actors::system::SystemBuilder::new(
        validated,
        &sim.base_url(),
        None,
        ballast_actors::clock::TimeSource::scaled(sim.now(), 3600.0),
        store.clone(),
        ballast_actors::metrics::Console::Off,
    )
    .start()
    .await
    .expect("starts");
    common::wait_synced(&system).await;
    common::win(&sim, dec!(176.47)).await;
    let targets = TargetAllocation::conservative();
    let in_bands = common::eventually(Duration::from_secs(30), async || {
        let weights = common::weights(&sim.balances());
        Service::ALL
            .iter()
            .all(|s| (weights[s.index()] - targets.weight(*s)).abs() <= band)
    })
    .await;
    assert!(in_bands, "never back in the bands: {:?}", sim.balances());
    let summary = system.summary().await.expect("summary");
    assert!(summary.plans_partial >= 1, "{summary:?}");
    let data = store.period(None).await.expect("reads");
    assert!(data.plans.len() >= 2, "planned again: {:?}", data.plans);
    let status = store.status().await.expect("status");
    let stale: Vec<_> = status
        .failure_reasons
        .values()
        .filter(|why| why.contains("s old (limit 60 s)"))
        .collect();
    assert!(!stale.is_empty(), "{:?}", status.failure_reasons);
    // Planned again under the same trigger (the win's event), each time as its next attempt:
    // a second companion re-planning alike sends the same keys.
    let win_plans: std::collections::BTreeSet<String> = sim
        .transfers()
        .iter()
        .filter_map(|t| {
            t.idempotency_key
                .as_deref()?
                .parse::<ballast::execution::LegKey>()
                .ok()
        })
        .filter(|k| {
            matches!(
                k.plan_id().trigger(),
                Some(ballast::execution::TriggerId::Event { .. })
            )
        })
        .map(|k| k.plan_id().to_string())
        .collect();
    let triggers: std::collections::BTreeSet<&str> = win_plans
        .iter()
        .filter_map(|id| id.rsplit_once('@').map(|(trigger, _)| trigger))
        .collect();
    assert_eq!(triggers.len(), 1, "{win_plans:?}");
    assert!(
        win_plans.iter().any(|id| id.ends_with("@1"))
            && win_plans.iter().any(|id| id.ends_with("@2")),
        "attempts 1 and 2 of the win's trigger: {win_plans:?}"
    );
    common::stop(system, sim).await;
}
