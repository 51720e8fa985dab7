//! Service managers stop ballast with SIGTERM: it must stop as gracefully as on Ctrl-C,
//! finishing the plan in progress, recording the clean stop and printing the summary.

#![cfg(unix)]

mod cli_common;

use std::{
    io::{BufRead, BufReader},
    sync::mpsc,
    time::Duration,
};

use cli_common::{TempDir, signal, spawn_on, status};

fn stops_gracefully_on(signal_name: &str) {
    let dir = TempDir::new(&format!("signal-{signal_name}"));
    let store = dir.store();
    let mut child = spawn_on(&store, &["run"]);
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
    let exit = child.wait().expect("exits");
    reader.join().expect("reader ends");
    seen.extend(lines_rx.try_iter());
    let output = seen.join("\n");
    assert!(exit.success(), "{signal_name}: exit {exit:?}\n{output}");
    assert!(
        output.contains("ballast summary"),
        "{signal_name}: no summary\n{output}"
    );

    let report = status(&store);
    assert!(
        report["last_run"]["stopped_at"].is_string(),
        "{signal_name}: the clean stop was not recorded: {report}"
    );
}

#[test]
fn sigterm_stops_like_ctrl_c() {
    stops_gracefully_on("TERM");
}

#[test]
fn sigint_stops_gracefully() {
    stops_gracefully_on("INT");
}
