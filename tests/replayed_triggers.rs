//! Story: plans are named after their triggers, so one store sees the same name twice in two
//! ways. A restart replays the events after the last saved cursor: a trigger an earlier run
//! already planned against this venue is not planned again (the store refuses the name, the
//! plan is dropped and said to be). A new venue numbers its events from the start again (the
//! embedded simulator of every `cargo run`): its triggers are another venue's, named apart, and
//! traded as usual.

mod common;

use std::time::Duration;

use ballast::{service::Service, store::Store};
use ballast_actors::system::RunningSystem;
use common::{builder_at, quiet_sim, settings_with, start_synced, summary_when};
use rust_decimal_macros::dec;

async fn start(url: &str, store: &Store) -> RunningSystem {
    start_synced(builder_at(url, settings_with(&[]), store.clone())).await
}

async fn win_rebalanced(system: &RunningSystem, sim: &ballast::sim::SimHandle) {
    common::win(sim, dec!(176.47)).await;
    summary_when(system, Duration::from_secs(10), "win not rebalanced", |s| {
        s.rebalances >= 1
    })
    .await;
}

#[actix_rt::test]
async fn a_replayed_trigger_is_not_planned_again_but_another_venues_is() {
    let store = Store::open_in_memory().expect("store");

    // Step 1: a run rebalances a win, then stops.
    let sim = quiet_sim().await;
    let system = start(&sim.base_url(), &store).await;
    win_rebalanced(&system, &sim).await;
    system
        .shutdown(Duration::from_secs(5))
        .await
        .expect("stops");
    let transfers = sim.transfers().len();

    // Step 2: the next run replays the win (as after a crash, before the cursor was saved),
    // with the casino off target since (so the replayed win would plan legs): the trigger is
    // known, its plan dropped, nothing sent.
    sim.adjust_unannounced(Service::Casino, dec!(60))
        .expect("adjusts");
    let stream = format!("{}#{}", sim.base_url(), sim.agent_id());
    store.rebase_cursor(&stream, 0, 0).await.expect("rewinds");
    let system = start(&sim.base_url(), &store).await;
    let summary = summary_when(
        &system,
        Duration::from_secs(10),
        "the replayed trigger was not dropped",
        |s| s.plans_dropped >= 1,
    )
    .await;
    assert_eq!(summary.rebalances, 0, "{summary:?}");
    assert!(
        summary.events_seen >= 1,
        "the win was replayed: {summary:?}"
    );
    system
        .shutdown(Duration::from_secs(5))
        .await
        .expect("stops");
    assert_eq!(
        sim.transfers().len(),
        transfers,
        "a replayed trigger traded"
    );
    sim.shutdown().await;

    // Step 3: a new venue (another port) numbers the same win alike: it is traded.
    let sim = quiet_sim().await;
    let system = start(&sim.base_url(), &store).await;
    win_rebalanced(&system, &sim).await;
    let summary = system.summary().await.expect("summary");
    assert_eq!(summary.plans_dropped, 0, "{summary:?}");
    assert_eq!(
        sim.transfers().len(),
        transfers,
        "the same plan, at the new venue"
    );
    system
        .shutdown(Duration::from_secs(5))
        .await
        .expect("stops");
    sim.shutdown().await;
}
