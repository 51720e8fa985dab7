//! Story: the store stops accepting writes (a full disk, a file made read-only) while the
//! companion runs. A plan that cannot be recorded is never sent, and ballast says so: the bus
//! carries `PlanDropped` (printed as "not recorded; nothing sent"), never the plan itself
//! (whose line reads "rebalance ... N legs"), and the venue sees no transfer. Once the store
//! accepts writes again, trading resumes.

#[path = "../../tests/common/mod.rs"]
mod common;

use std::time::Duration;

use ballast::store::Store;
use ballast_actors::messages::{DropReason, Event};
use common::{builder_at, eventually, quiet_sim, settings_with, start_synced, stop};
use rust_decimal_macros::dec;

async fn read_only(store: &Store, on: bool) {
    store
        .call(move |c| Ok(c.pragma_update(None, "query_only", on)?))
        .await
        .expect("pragma");
}

#[actix_rt::test]
async fn a_plan_the_store_cannot_record_is_neither_sent_nor_announced() {
    let sim = quiet_sim().await;
    let store = Store::open_in_memory().expect("store");
    // Keeps every event of the bus.
    let (events, subscribe) = common::collecting(Vec::push);
    let system = start_synced(
        builder_at(&sim.base_url(), settings_with(&[]), store.clone()).add_actor(subscribe),
    )
    .await;

    // Step 1: every write now fails, as on a full disk.
    read_only(&store, true).await;
    common::win(&sim, dec!(176.47)).await;
    let dropped = eventually(Duration::from_secs(10), async || {
        events
            .lock()
            .expect("lock")
            .iter()
            .any(|e| matches!(e, Event::Dropped(_)))
    })
    .await;
    assert!(dropped, "no PlanDropped was published");
    tokio::time::sleep(Duration::from_millis(200)).await;

    // Step 2: what was said is what happened: not recorded, nothing sent, no plan line.
    {
        let events = events.lock().expect("lock");
        let why: Vec<&DropReason> = events
            .iter()
            .filter_map(|e| match e {
                Event::Dropped(dropped) => Some(&dropped.why),
                _ => None,
            })
            .collect();
        assert!(
            matches!(why.as_slice(), [DropReason::NotRecorded { error }] if error.contains("readonly")),
            "{why:?}"
        );
        let planned = events
            .iter()
            .filter(|e| matches!(e, Event::Planned(_)))
            .count();
        let legs = events
            .iter()
            .filter(|e| matches!(e, Event::Executed(_) | Event::Failed(_)))
            .count();
        assert_eq!(
            (planned, legs),
            (0, 0),
            "a plan that was not recorded was announced"
        );
        // The operator is told: a `plan_not_recorded` alert.
        assert!(
            events.iter().any(|e| matches!(e, Event::Alert(alert)
                if alert.kind == ballast::alerting::AlertKind::PlanNotRecorded)),
            "no plan_not_recorded alert"
        );
    }
    assert!(sim.transfers().is_empty(), "an unrecorded plan was sent");
    let summary = system.summary().await.expect("summary");
    assert_eq!(
        (summary.plans_dropped, summary.rebalances),
        (1, 0),
        "{summary:?}"
    );

    // Step 3: the store recovers; the next large win trades, and is announced.
    read_only(&store, false).await;
    common::win(&sim, dec!(250)).await;
    let traded = eventually(Duration::from_secs(10), async || {
        !sim.transfers().is_empty()
    })
    .await;
    assert!(traded, "trading never resumed");
    assert!(
        eventually(Duration::from_secs(5), async || events
            .lock()
            .expect("lock")
            .iter()
            .any(|e| matches!(e, Event::Planned(_))))
        .await
    );
    stop(system, sim).await;
}
