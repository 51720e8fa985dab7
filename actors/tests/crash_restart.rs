//! Story: ballast is killed with SIGKILL at arbitrary moments while it trades against a
//! venue that loses acknowledgements, and restarted on the same store each time. Nothing may
//! be traded twice and nothing may be lost track of: after a final graceful stop, every leg
//! the venue applied is recorded as applied exactly once, no leg is left pending, and the
//! venue never applied one key twice.
//!
//! Both sides are the real binary: `ballast sim` and `ballast run --venue`, on 127.0.0.1.

#![cfg(unix)]

mod cli_common;

use std::{path::Path, process::Child, time::Duration};

use cli_common::{Sim, TempDir, companion_plain, lines_of, signal, status};

fn start_companion(base_url: &str, store: &Path) -> Child {
    companion_plain(
        base_url,
        store,
        &[
            // Plan often: every event's balances are band-checked against a tight band.
            ("BALLAST__POLICY__THRESHOLD_ON_EVENTS", "true"),
            ("BALLAST__POLICY__BAND", "0.01"),
            ("BALLAST__VENUE__REQUEST_TIMEOUT_MS", "300"),
        ],
    )
}

#[test]
fn sigkill_at_any_moment_never_trades_twice_or_loses_a_leg() {
    let dir = TempDir::new("crash");
    let store = dir.store();

    // The venue: accelerated, with latency (legs in flight when the kill lands) and lost acks.
    let sim = Sim::start(&["--speed", "21600", "--faults", "latency=30ms,lost_ack=0.2"]);
    let base_url = sim.base_url.clone();

    // Kill after this many applied transfers have been seen since the (re)start: the kill
    // lands while later legs are in flight, held in the venue's latency or losing their ack.
    for (restarts, kill_after_transfers) in [1_u64, 3, 2, 5, 1, 4].into_iter().enumerate() {
        let mut companion = start_companion(&base_url, &store);
        let lines = lines_of(&mut companion);
        let mut applied_here = 0;
        while applied_here < kill_after_transfers {
            match lines.recv_timeout(Duration::from_secs(60)) {
                Ok(line) if line.contains("(tr-") => applied_here += 1,
                Ok(_) => {}
                Err(error) => panic!("no progress after {restarts} restarts: {error}"),
            }
        }
        companion.kill().expect("SIGKILL");
        companion.wait().expect("reaped");
    }

    // A last run that is stopped gracefully, after it has reconciled what the kills left.
    let mut companion = start_companion(&base_url, &store);
    let lines = lines_of(&mut companion);
    let mut seen_event = false;
    while !seen_event {
        let line = lines
            .recv_timeout(Duration::from_secs(60))
            .expect("the last run makes progress");
        seen_event = line.contains(" event #");
    }
    // Let the last run trade a little, then stop it the polite way.
    std::thread::sleep(Duration::from_millis(500));
    signal(companion.id(), "INT");
    assert!(companion.wait().expect("exits").success());

    let stats = sim.stats();
    let report = status(&store);
    drop(sim);

    assert_eq!(report["runs"], 7, "{report}");
    assert_eq!(
        stats["duplicate_transfer_keys"], 0,
        "a leg was applied twice"
    );
    assert!(
        stats["accounting"]["ok"].as_bool().unwrap_or(false),
        "{stats}"
    );
    // Every leg the venue applied is recorded as applied, once, and nothing is left of
    // unknown outcome: the restarts reconciled what each kill left pending (the venue's
    // status endpoint is not faulted here, so every question gets an answer).
    let applied_by_venue = stats["applied_transfers"].as_u64().expect("count");
    assert!(applied_by_venue > 0);
    assert_eq!(
        report["legs_applied"].as_u64(),
        Some(applied_by_venue),
        "{report}"
    );
    assert_eq!(report["legs_pending"], 0, "{report}");
}
