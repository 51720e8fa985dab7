//! Service managers stop ballast with SIGTERM: it must stop as gracefully as on Ctrl-C,
//! finishing the plan in progress, recording the clean stop and printing the summary.

#![cfg(unix)]

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    sync::mpsc,
    time::Duration,
};

fn signal(pid: u32, name: &str) {
    let status = Command::new("kill")
        .args([format!("-{name}"), pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
}

fn stops_gracefully_on(signal_name: &str) {
    let dir = std::env::temp_dir().join(format!(
        "ballast-signal-{signal_name}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let store = dir.join("ballast.db");
    let mut child = Command::new(env!("CARGO_BIN_EXE_ballast"))
        .args(["run"])
        .env("BALLAST__STORE__PATH", &store)
        .env_remove("PURPLE_FLEA_API_KEY")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    let stdout = child.stdout.take().expect("stdout");
    let (lines_tx, lines_rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    // Wait until the companion is running: its first venue event is printed.
    let mut seen = Vec::new();
    loop {
        let line = lines_rx
            .recv_timeout(Duration::from_secs(60))
            .expect("ballast prints events");
        let event = line.contains(" event #");
        seen.push(line);
        if event {
            break;
        }
    }
    signal(child.id(), signal_name);
    let status = child.wait().expect("exits");
    reader.join().expect("reader ends");
    seen.extend(lines_rx.try_iter());
    let output = seen.join("\n");
    assert!(status.success(), "{signal_name}: exit {status:?}\n{output}");
    assert!(
        output.contains("ballast summary"),
        "{signal_name}: no summary\n{output}"
    );

    let status = Command::new(env!("CARGO_BIN_EXE_ballast"))
        .args(["--json", "status", "--store"])
        .arg(&store)
        .output()
        .expect("status runs");
    let report: serde_json::Value =
        serde_json::from_slice(&status.stdout).expect("status prints JSON");
    assert!(
        report["last_run"]["stopped_at"].is_string(),
        "{signal_name}: the clean stop was not recorded: {report}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sigterm_stops_like_ctrl_c() {
    stops_gracefully_on("TERM");
}

#[test]
fn sigint_stops_gracefully() {
    stops_gracefully_on("INT");
}
