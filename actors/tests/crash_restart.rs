//! Story: ballast is killed with SIGKILL at arbitrary moments while it trades against a
//! venue that loses acknowledgements, and restarted on the same store each time. Nothing may
//! be traded twice and nothing may be lost track of: after a final graceful stop, every leg
//! the venue applied is recorded as applied exactly once, no leg is left pending, and the
//! venue never applied one key twice.
//!
//! Both sides are the real binary: `ballast sim` and `ballast run --venue`, on 127.0.0.1.

#![cfg(unix)]

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::TcpStream,
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::Duration,
};

const BIN: &str = env!("CARGO_BIN_EXE_ballast");

/// Lines of a child's stdout, read on a thread.
fn lines_of(child: &mut Child) -> mpsc::Receiver<String> {
    let stdout = child.stdout.take().expect("stdout piped");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// `GET path` on the venue, as JSON (a plain HTTP/1.1 request: the test needs no client).
fn get_json(addr: &str, path: &str) -> serde_json::Value {
    let mut stream = TcpStream::connect(addr).expect("venue reachable");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("request written");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("response read");
    let body = response.split("\r\n\r\n").nth(1).expect("a body");
    serde_json::from_str(body).expect("JSON body")
}

fn start_companion(base_url: &str, store: &std::path::Path) -> Child {
    Command::new(BIN)
        .args(["run", "--venue", base_url])
        .env("BALLAST__STORE__PATH", store)
        // Plan often: every event's balances are band-checked against a tight band.
        .env("BALLAST__POLICY__THRESHOLD_ON_EVENTS", "true")
        .env("BALLAST__POLICY__BAND", "0.01")
        .env("BALLAST__VENUE__REQUEST_TIMEOUT_MS", "300")
        .env_remove("PURPLE_FLEA_API_KEY")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("companion starts")
}

#[test]
fn sigkill_at_any_moment_never_trades_twice_or_loses_a_leg() {
    let dir = std::env::temp_dir().join(format!("ballast-crash-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let store = dir.join("ballast.db");

    // The venue: accelerated, with latency (legs in flight when the kill lands) and lost acks.
    let mut sim = Command::new(BIN)
        .args([
            "--json",
            "sim",
            "--listen",
            "127.0.0.1:0",
            "--speed",
            "21600",
            "--faults",
            "latency=30ms,lost_ack=0.2",
        ])
        .env_remove("PURPLE_FLEA_API_KEY")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("sim starts");
    let sim_lines = lines_of(&mut sim);
    let first: serde_json::Value = serde_json::from_str(
        &sim_lines
            .recv_timeout(Duration::from_secs(30))
            .expect("sim prints its address"),
    )
    .expect("JSON");
    let base_url = first["base_url"].as_str().expect("base_url").to_owned();
    let addr = first["addr"].as_str().expect("addr").to_owned();

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
    let status = Command::new("kill")
        .args(["-INT", &companion.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    assert!(companion.wait().expect("exits").success());

    let stats = get_json(&addr, "/api/v1/sim/stats");
    let report: serde_json::Value = serde_json::from_slice(
        &Command::new(BIN)
            .args(["--json", "status", "--store"])
            .arg(&store)
            .output()
            .expect("status runs")
            .stdout,
    )
    .expect("status JSON");
    sim.kill().expect("sim stops");
    let _ = sim.wait();

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
    let _ = std::fs::remove_dir_all(&dir);
}
