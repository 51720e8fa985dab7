//! Story: one companion per store. A second `ballast run` on a store in use refuses to start
//! (exit 2, naming the holder's pid) before it touches the venue; once the holder is killed
//! (SIGKILL: no clean-up at all), the lock it held is gone and a new companion starts.

#![cfg(unix)]

mod cli_common;

use cli_common::{Sim, TempDir, companion, signal, stderr_of, synced_companion};

#[test]
fn a_second_companion_on_the_same_store_refuses_to_start() {
    let dir = TempDir::new("one-companion");
    let store = dir.store();
    // A quiet venue on a real-time clock: no daily tick fetches a snapshot during the test.
    let sim = Sim::start(&["--no-autoplay", "--speed", "1"]);

    // Step 1: the first companion runs and has synced.
    let (mut first, _first_lines) =
        synced_companion(&sim.base_url, &store, &[], &[], "first never synced");

    // Step 2: a second one on the same store is refused at once, naming the holder.
    let mut second = companion(&sim.base_url, &store, &[], &[]);
    let status = second.wait().expect("exits");
    let stderr = stderr_of(&mut second);
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("pid {}", first.id())),
        "the holder is named: {stderr}"
    );
    assert!(stderr.contains("store.path"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let requests = sim.stats()["requests_by_endpoint"].clone();
    let portfolio_gets = requests
        .as_object()
        .expect("an object")
        .iter()
        .filter(|(endpoint, _)| endpoint.contains("portfolio"))
        .map(|(_, n)| n.as_u64().unwrap_or(0))
        .sum::<u64>();
    assert_eq!(
        portfolio_gets, 1,
        "only the first companion synced: {requests}"
    );

    // Step 3: the holder dies without cleaning up; its lock dies with it.
    first.kill().expect("SIGKILL");
    first.wait().expect("reaped");
    let (mut third, _third_lines) = synced_companion(
        &sim.base_url,
        &store,
        &[],
        &[],
        "a stale lock blocked the next companion",
    );
    signal(third.id(), "TERM");
    assert!(third.wait().expect("exits").success());
}
