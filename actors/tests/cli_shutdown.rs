//! Story: a stop in the middle of a plan. Every venue request takes hundreds of milliseconds,
//! so a five-leg plan takes seconds; the companion is stopped (SIGTERM, or `--for` expiry)
//! while it runs. Planning stops, the plan in flight finishes within
//! `executor.shutdown_deadline_ms` (the trading gate is not closed by the stop), the stop is
//! recorded, and ballast exits 0. With a deadline shorter than the plan, the legs not sent
//! stay pending, never mislabelled "skipped: stream down", and the next start reconciles them.
//!
//! Both sides are the real binary: `ballast sim` and `ballast run --venue`, on 127.0.0.1.

#![cfg(unix)]

mod cli_common;

use std::{
    process::Child,
    sync::mpsc::Receiver,
    time::{Duration, Instant},
};

use cli_common::{
    Sim, TempDir, is_kind, signal, status, stderr_of, synced_companion, wait_for_line,
};

const WIN: &str = r#"{"type":"casino_win","amount_usdc":176.47}"#;

/// Starts a companion on `sim`, waits for its start-up snapshot, injects a large win and
/// waits for the plan's line: the plan is recorded and its first leg is on its way.
fn companion_mid_plan(
    sim: &Sim,
    store: &std::path::Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> (Child, Receiver<String>, serde_json::Value) {
    let (child, lines) = synced_companion(&sim.base_url, store, args, env, "never synced");
    sim.inject(WIN);
    let plan = wait_for_line(&lines, Duration::from_secs(60), "no plan", |l| {
        is_kind(l, "plan")
    });
    let plan: serde_json::Value = serde_json::from_str(&plan).expect("JSON");
    (child, lines, plan)
}

/// Waits for the process to exit; returns its summary line and how long the exit took.
fn exit_summary(
    child: &mut Child,
    lines: &Receiver<String>,
    since: Instant,
) -> (serde_json::Value, Duration) {
    let status = child.wait().expect("exits");
    let took = since.elapsed();
    let stderr = stderr_of(child);
    assert!(status.success(), "exit {status:?}: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let summary = lines
        .try_iter()
        .find(|l| is_kind(l, "summary"))
        .unwrap_or_else(|| panic!("no summary line: {stderr}"));
    let summary: serde_json::Value = serde_json::from_str(&summary).expect("JSON");
    (summary["summary"].clone(), took)
}

/// The legs of the plan, as `ballast status` reports them, and every failure reason.
fn plan_legs(store: &std::path::Path, plan_id: &str) -> (Vec<String>, Vec<String>) {
    let report = status(store);
    let plan = report["recent_plans"]
        .as_array()
        .expect("plans")
        .iter()
        .find(|p| p["plan_id"] == plan_id)
        .unwrap_or_else(|| panic!("plan {plan_id} recorded: {report}"))
        .clone();
    let statuses = plan["legs"]
        .as_array()
        .expect("legs")
        .iter()
        .map(|leg| leg["status"].as_str().expect("status").to_owned())
        .collect();
    let reasons = report["failure_reasons"]
        .as_object()
        .map(|r| r.values().map(|v| v.to_string()).collect())
        .unwrap_or_default();
    assert!(
        report["last_run"]["stopped_at"].is_string(),
        "the stop was not recorded: {report}"
    );
    (statuses, reasons)
}

fn stop_mid_plan_finishes_it(signal_name: &str) {
    let dir = TempDir::new(&format!("shutdown-{signal_name}"));
    let store = dir.store();
    let sim = Sim::start(&["--no-autoplay", "--speed", "1", "--faults", "latency=250ms"]);
    let (mut child, lines, plan) = companion_mid_plan(&sim, &store, &[], &[]);
    let legs = plan["legs"].as_array().expect("legs").len();
    assert!(legs >= 3, "a multi-leg plan: {plan}");

    // The first leg is inside the venue's latency: stop now.
    std::thread::sleep(Duration::from_millis(100));
    let stopped_at = Instant::now();
    signal(child.id(), signal_name);
    let (summary, took) = exit_summary(&mut child, &lines, stopped_at);

    // Every leg of the plan was applied; none was skipped, none is left of unknown outcome.
    let plan_id = plan["plan_id"].as_str().expect("plan id");
    let (statuses, reasons) = plan_legs(&store, plan_id);
    assert_eq!(statuses, vec!["applied"; legs], "{reasons:?}");
    assert!(reasons.is_empty(), "{reasons:?}");
    assert_eq!(summary["legs_applied"], legs, "{summary}");
    assert_eq!(summary["legs_pending"], 0, "{summary}");
    assert_eq!(sim.stats()["applied_transfers"], legs);
    // Well inside the default 10 s deadline.
    let waited_ms = summary["shutdown_ms"].as_u64().expect("shutdown_ms");
    assert!(took < Duration::from_secs(10), "{took:?}");
    println!(
        "{signal_name} mid-plan: {legs} legs finished {waited_ms} ms after the stop; exit after {} ms",
        took.as_millis()
    );
}

#[test]
fn sigterm_mid_plan_lets_the_plan_finish() {
    stop_mid_plan_finishes_it("TERM");
}

#[test]
fn sigint_mid_plan_lets_the_plan_finish() {
    stop_mid_plan_finishes_it("INT");
}

#[test]
fn a_deadline_shorter_than_the_plan_leaves_its_legs_pending_not_failed() {
    let dir = TempDir::new("shutdown-deadline");
    let store = dir.store();
    let sim = Sim::start(&["--no-autoplay", "--speed", "1", "--faults", "latency=600ms"]);
    let deadline_ms = 300;
    let env = [("BALLAST__EXECUTOR__SHUTDOWN_DEADLINE_MS", "300")];
    let (mut child, lines, plan) = companion_mid_plan(&sim, &store, &[], &env);
    let legs = plan["legs"].as_array().expect("legs").len();

    let stopped_at = Instant::now();
    signal(child.id(), "TERM");
    let (summary, took) = exit_summary(&mut child, &lines, stopped_at);

    // The deadline was kept (plus the time to record the stop and print), and the legs not
    // finished are pending, not failed.
    assert!(
        took < Duration::from_millis(deadline_ms + 2_000),
        "the deadline was not kept: {took:?}"
    );
    let plan_id = plan["plan_id"].as_str().expect("plan id");
    let (statuses, reasons) = plan_legs(&store, plan_id);
    assert!(statuses.iter().any(|s| s == "pending"), "{statuses:?}");
    assert!(
        !statuses.iter().any(|s| s == "failed"),
        "{statuses:?} {reasons:?}"
    );
    assert!(
        !reasons.iter().any(|r| r.contains("stream down")),
        "{reasons:?}"
    );
    assert!(
        summary["legs_pending"].as_u64().unwrap_or(0) >= 1,
        "{summary}"
    );
    println!(
        "deadline {deadline_ms} ms: exit after {} ms, legs {statuses:?}",
        took.as_millis()
    );

    // The next start reconciles them: each is applied or abandoned, none resent, and the
    // store agrees with the venue.
    let (mut next, _next_lines) = synced_companion(&sim.base_url, &store, &[], &[], "never synced");
    std::thread::sleep(Duration::from_millis(1_500));
    signal(next.id(), "TERM");
    assert!(next.wait().expect("exits").success());
    let report = status(&store);
    assert_eq!(report["legs_pending"], 0, "{report}");
    let stats = sim.stats();
    assert_eq!(stats["duplicate_transfer_keys"], 0);
    assert_eq!(
        report["legs_applied"], stats["applied_transfers"],
        "{report}"
    );
    assert!(legs > 0);
}

#[test]
fn for_expiry_mid_plan_lets_the_plan_finish() {
    let dir = TempDir::new("shutdown-for");
    let store = dir.store();
    // Each request takes 1 s: the start-up sync alone takes two (the venue's clock, then the
    // snapshot) and the plan five, so `--for 6` expires in the middle of it.
    let sim = Sim::start(&[
        "--no-autoplay",
        "--speed",
        "1",
        "--faults",
        "latency=1000ms",
    ]);
    let run_for_secs = 6;
    let started = Instant::now();
    let (mut child, lines, plan) =
        companion_mid_plan(&sim, &store, &["--for", &run_for_secs.to_string()], &[]);
    let planned_after = started.elapsed();
    let legs = plan["legs"].as_array().expect("legs").len();
    let (summary, took) = exit_summary(&mut child, &lines, started);

    // The plan was still running when `--for` expired, and finished after it.
    assert!(
        planned_after < Duration::from_secs(run_for_secs),
        "the plan started after the expiry ({planned_after:?}): the test proves nothing"
    );
    assert!(took > Duration::from_secs(run_for_secs), "{took:?}");
    let plan_id = plan["plan_id"].as_str().expect("plan id");
    let (statuses, reasons) = plan_legs(&store, plan_id);
    assert_eq!(statuses, vec!["applied"; legs], "{reasons:?}");
    assert_eq!(summary["legs_pending"], 0, "{summary}");
    let waited_ms = summary["shutdown_ms"].as_u64().expect("shutdown_ms");
    assert!(waited_ms > 0, "{summary}");
    println!(
        "--for {run_for_secs} expired mid-plan: {legs} legs finished {waited_ms} ms later; exit after {} ms",
        took.as_millis()
    );
}
