//! Story: two companions, each with its own store, keep the same agent on target at the same
//! venue during scripted large wins. They name every plan after the event that triggered it,
//! so both send the same idempotency keys and the venue applies each leg once: two companions
//! move exactly what one would. A companion whose plan for a trigger differs (other targets)
//! is superseded by the first one's keys: its plan stops, nothing is retried, nothing loops.
//!
//! Everything runs in-process over loopback: one quiet simulated venue, two systems.

mod common;

use std::time::Duration;

use ballast::{sim::SimHandle, store::Store};
use ballast_actors::{metrics::Summary, settings::Validated, system::RunningSystem};
use common::{builder_at, quiet_sim, settings_with, start_synced, summary_when};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

/// The scripted wins, each more than 10% of the bankroll at that point.
const WINS_USDC: [Decimal; 4] = [dec!(176.47), dec!(150), dec!(220.10), dec!(180)];

async fn companion(sim: &SimHandle, validated: Validated) -> (RunningSystem, Store) {
    let store = Store::open_in_memory().expect("store");
    let system = start_synced(builder_at(&sim.base_url(), validated, store.clone())).await;
    (system, store)
}

/// Plays the wins, waiting after each until every companion has finished a plan for it
/// (applied, or replayed from the other companion's keys), and the venue has settled.
async fn play(sim: &SimHandle, companions: &[&RunningSystem]) -> Vec<Summary> {
    for (i, amount_usdc) in WINS_USDC.into_iter().enumerate() {
        common::win(sim, amount_usdc).await;
        for system in companions {
            summary_when(
                system,
                Duration::from_secs(20),
                "a companion never finished its plan for the win",
                |s| s.rebalances as usize > i,
            )
            .await;
        }
    }
    // Let any reply still on its way land before counting.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut summaries = Vec::new();
    for system in companions {
        summaries.push(system.summary().await.expect("summary"));
    }
    summaries
}

fn keys_applied_once(sim: &SimHandle) {
    let mut keys: Vec<String> = sim
        .transfers()
        .iter()
        .map(|t| t.idempotency_key.clone().expect("every leg carries a key"))
        .collect();
    let before = keys.len();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), before, "a key was applied twice");
    assert_eq!(sim.stats().duplicate_transfer_keys, 0);
}

#[actix_rt::test]
async fn two_companions_on_two_stores_move_what_one_would() {
    // Step 1: the baseline, one companion.
    let sim = quiet_sim().await;
    let (alone, _) = companion(&sim, settings_with(&[])).await;
    play(&sim, &[&alone]).await;
    let one = sim.transfers();
    let one_usdc: Decimal = one.iter().map(|t| t.amount_usdc).sum();
    alone.shutdown(Duration::from_secs(5)).await.expect("stops");
    sim.shutdown().await;
    assert!(
        one.len() >= WINS_USDC.len(),
        "every win rebalanced: {one:?}"
    );

    // Step 2: the same script against a fresh venue, two companions with their own stores.
    let sim = quiet_sim().await;
    let (a, store_a) = companion(&sim, settings_with(&[])).await;
    let (b, store_b) = companion(&sim, settings_with(&[])).await;
    let summaries = play(&sim, &[&a, &b]).await;
    let two = sim.transfers();
    let two_usdc: Decimal = two.iter().map(|t| t.amount_usdc).sum();
    println!(
        "transfers: one companion {} (${one_usdc}), two companions {} (${two_usdc})",
        one.len(),
        two.len()
    );

    // Step 3: the venue applied each leg once: the same transfers, the same money.
    keys_applied_once(&sim);
    assert_eq!(two.len(), one.len(), "transfers with two companions");
    assert_eq!(two_usdc, one_usdc);
    let stats = sim.stats();
    assert!(
        stats.idempotent_replays > 0,
        "the second companion's legs were replays: {stats:?}"
    );
    // Each store books every leg applied, with the one transfer the venue made for it.
    for (summary, store) in summaries.iter().zip([&store_a, &store_b]) {
        let status = store.status().await.expect("status");
        assert_eq!(status.legs_pending, 0, "{status:?}");
        assert_eq!(status.legs_applied, two.len() as u64, "{summary:?}");
        assert_eq!(status.turnover_usdc, summary.turnover_usdc);
        assert_eq!(summary.turnover_usdc, two_usdc);
    }
    a.shutdown(Duration::from_secs(5)).await.expect("stops");
    b.shutdown(Duration::from_secs(5)).await.expect("stops");
    sim.shutdown().await;
}

#[actix_rt::test]
async fn two_companions_splitting_legs_alike_send_the_same_part_keys() {
    // With a $50 cap per transfer both split each large leg the same way: every part's key is
    // the plan's (named after the win) and its place in the split plan, so the venue applies
    // each part once and replays it to the other companion.
    let cap = [("BALLAST__RISK__MAX_LEG_USDC", "50")];
    let sim = quiet_sim().await;
    let (a, store_a) = companion(&sim, settings_with(&cap)).await;
    let (b, store_b) = companion(&sim, settings_with(&cap)).await;
    let summaries = play(&sim, &[&a, &b]).await;
    let transfers = sim.transfers();
    keys_applied_once(&sim);
    assert!(
        transfers.iter().all(|t| t.amount_usdc <= dec!(50)),
        "{transfers:?}"
    );
    assert!(
        transfers.len() > WINS_USDC.len() * 2,
        "legs were split: {transfers:?}"
    );
    assert!(sim.stats().idempotent_replays > 0);
    for (summary, store) in summaries.iter().zip([&store_a, &store_b]) {
        let status = store.status().await.expect("status");
        assert_eq!(status.legs_pending, 0, "{status:?}");
        assert_eq!(status.legs_applied, transfers.len() as u64, "{summary:?}");
        assert_eq!(summary.legs_superseded, 0, "{summary:?}");
    }
    a.shutdown(Duration::from_secs(5)).await.expect("stops");
    b.shutdown(Duration::from_secs(5)).await.expect("stops");
    sim.shutdown().await;
}

#[actix_rt::test]
async fn a_companion_with_another_plan_for_the_same_trigger_is_superseded_not_looping() {
    // Two companions with different casino targets: for the same win they plan different
    // legs (the first, the casino decrease, already differs) under the same keys. Whichever reaches the venue first is applied; the other's first
    // leg is refused (`idempotency_key_reused`) and its plan stops there.
    let sim = quiet_sim().await;
    let (a, store_a) = companion(&sim, settings_with(&[])).await;
    let other_targets = settings_with(&[
        ("BALLAST__TARGETS__CASINO", "0.25"),
        ("BALLAST__TARGETS__TRADING", "0.25"),
    ]);
    let (b, store_b) = companion(&sim, other_targets).await;
    common::win(&sim, dec!(176.47)).await;
    let superseded =
        |summaries: &[Summary]| summaries.iter().map(|s| s.legs_superseded).sum::<u64>();
    let mut summaries = Vec::new();
    let settled = common::eventually(Duration::from_secs(20), async || {
        summaries = vec![
            a.summary().await.expect("summary"),
            b.summary().await.expect("summary"),
        ];
        superseded(&summaries) >= 1
            && summaries
                .iter()
                .all(|s| s.rebalances + s.legs_superseded >= 1)
    })
    .await;
    assert!(settled, "no companion was superseded: {summaries:?}");
    tokio::time::sleep(Duration::from_millis(300)).await;

    // One plan was applied whole; the other stopped at its first leg, superseded, and never
    // retried it: no failure loop, no second plan for the same win.
    keys_applied_once(&sim);
    let (winner, loser) = if summaries[0].legs_superseded == 0 {
        (&store_a, &store_b)
    } else {
        (&store_b, &store_a)
    };
    let won = winner.status().await.expect("status");
    let lost = loser.status().await.expect("status");
    assert_eq!(won.legs_applied as usize, sim.transfers().len());
    assert_eq!(lost.legs_applied, 0, "{lost:?}");
    assert_eq!(lost.legs_pending, 0, "{lost:?}");
    let reasons: Vec<&String> = lost.failure_reasons.values().collect();
    assert!(
        reasons
            .iter()
            .any(|r| r.starts_with("superseded: ") && r.contains("idempotency_key_reused")),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .filter(|r| !r.starts_with("superseded: "))
            .all(|r| r.contains("superseded by another request under its key")),
        "{reasons:?}"
    );
    let posts = sim
        .stats()
        .requests_by_endpoint
        .iter()
        .filter(|(endpoint, _)| endpoint.starts_with("POST"))
        .map(|(_, n)| *n)
        .sum::<u64>();
    assert_eq!(
        posts as usize,
        sim.transfers().len() + 1,
        "the superseded leg was sent once, never retried"
    );
    a.shutdown(Duration::from_secs(5)).await.expect("stops");
    b.shutdown(Duration::from_secs(5)).await.expect("stops");
    sim.shutdown().await;
}
