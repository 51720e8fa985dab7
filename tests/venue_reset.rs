//! Story: the venue restarts on the same port under a running companion and numbers its
//! events from zero again. Before, ballast resumed "after event N", saw nothing of the new
//! numbering (every frame looked old), and made no rebalance while the casino grew. Now the
//! resync snapshot's `seq`, below the cursor, is recognised as a new numbering: an alert, a
//! re-baseline on a fresh snapshot, and trading on the new numbering, whose next large win
//! is rebalanced.

mod common;

use std::time::Duration;

use ballast::store::Store;
use common::{builder_at, quiet_config, quiet_sim, settings_with, start_synced, summary_when};
use rust_decimal_macros::dec;

#[actix_rt::test]
async fn a_venue_restarted_on_the_same_port_is_followed_on_its_new_numbering() {
    let sim = quiet_sim().await;
    let addr = sim.addr();
    let store = Store::open_in_memory().expect("store");
    let validated = settings_with(&[("BALLAST__VENUE__RECONNECT_MAX_MS", "500")]);
    let system = start_synced(builder_at(&sim.base_url(), validated, store.clone())).await;

    // Step 1: two large wins, each rebalanced: the cursor moves well past what the
    // restarted venue will number.
    for (i, amount_usdc) in [dec!(176.47), dec!(210)].into_iter().enumerate() {
        common::win(&sim, amount_usdc).await;
        summary_when(
            &system,
            Duration::from_secs(10),
            "win not rebalanced",
            |s| s.rebalances as usize > i,
        )
        .await;
    }
    let cursor_before = sim.stats().last_seq;
    assert!(cursor_before >= 10, "{cursor_before}");

    // Step 2: the venue restarts on the same address with a fresh event log.
    sim.shutdown().await;
    let listener = tokio::net::TcpListener::bind(addr).await.expect("rebinds");
    let sim = ballast::sim::start(quiet_config(), listener)
        .await
        .expect("restarts");
    let summary = summary_when(
        &system,
        Duration::from_secs(20),
        "the renumbering was not noticed",
        |s| s.numbering_resets >= 1,
    )
    .await;
    assert_eq!(summary.numbering_resets, 1, "{summary:?}");
    // Raised as an alert too: recorded, notified and printed as such.
    let summary = summary_when(
        &system,
        Duration::from_secs(5),
        "the renumbering raised no alert",
        |s| s.alerts_by_kind.contains_key("numbering_reset"),
    )
    .await;
    assert_eq!(summary.alerts_by_kind["numbering_reset"], 1, "{summary:?}");

    // Step 3: the next large win of the new numbering is rebalanced.
    let rebalances = summary.rebalances;
    tokio::time::sleep(Duration::from_millis(300)).await;
    common::win(&sim, dec!(176.47)).await;
    summary_when(
        &system,
        Duration::from_secs(10),
        "deaf after the venue restarted",
        |s| s.rebalances > rebalances,
    )
    .await;
    assert!(!sim.transfers().is_empty(), "no transfer on the new venue");
    // Its plan is named in the new numbering, and the stored cursor followed it down.
    let plans = store.status().await.expect("status").recent_plans;
    assert!(plans[0].plan_id.contains(".e1."), "{}", plans[0].plan_id);
    system
        .shutdown(Duration::from_secs(5))
        .await
        .expect("stops");
    let status = store.status().await.expect("status");
    assert!(status.cursor_seq < cursor_before, "{}", status.cursor_seq);
    sim.shutdown().await;
}
