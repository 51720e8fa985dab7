//! Story: the unclean exits an operator can cause from the shell. An out-of-range `--for` is
//! refused by name before anything starts; a reader that closes stdout early
//! (`ballast status --json | head -1`, `ballast plan | head -1`, `ballast backtest | head`,
//! `ballast run | head -3`) ends the output, never the process's duties: no panic, the run
//! keeps trading until it is stopped, records its stop and exits 0. A venue URL carrying credentials is refused without printing them.

#![cfg(unix)]

mod cli_common;

use std::{
    io::{BufRead, BufReader},
    process::Command,
};

use cli_common::{BIN, TempDir, spawn_on, status};

#[test]
fn an_out_of_range_for_is_refused_by_name_before_anything_starts() {
    let dir = TempDir::new("for-range");
    let store = dir.store();
    for value in ["1e20", "inf", "-1", "0"] {
        let output = Command::new(BIN)
            .args(["run", &format!("--for={value}")])
            .env("BALLAST__STORE__PATH", &store)
            .output()
            .expect("runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{value}: {stderr}");
        assert!(stderr.contains("--for"), "{value}: {stderr}");
        assert!(!stderr.contains("panicked"), "{value}: {stderr}");
    }
    // Refused before the store was opened: no run was left unstopped.
    assert!(!store.exists());
}

#[test]
fn commands_into_a_closed_pipe_exit_quietly() {
    let dir = TempDir::new("status-pipe");
    let store = dir.store();
    let made = Command::new(BIN)
        .args(["run", "--for", "1", "--quiet"])
        .env("BALLAST__STORE__PATH", &store)
        .output()
        .expect("runs");
    assert!(made.status.success());
    let store_arg = store.to_str().expect("a UTF-8 path");
    let balances = "casino=700,trading=120,wallet=60,domains=60,escrow=40,reserve=20";
    let backtest = ["backtest", "--simulate", "--paths", "4", "--days", "60"];
    let returns = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/data/anchors/data/services_365.csv"
    );
    let cases: [&[&str]; 17] = [
        &["--json", "status", "--store", store_arg],
        &["status", "--store", store_arg],
        &["plan", "--balances", balances],
        &["--json", "plan", "--balances", balances],
        &["plan"],
        &backtest,
        &[
            "backtest",
            "--simulate",
            "--compare",
            "--paths",
            "4",
            "--days",
            "60",
        ],
        &["report", "--store", store_arg],
        &["report", "--store", store_arg, "--format", "csv"],
        &["--json", "report", "--store", store_arg],
        &["config", "reference"],
        &["config", "show"],
        &["--json", "config", "show"],
        &["kelly", "--win-prob", "0.55", "--odds", "1"],
        &["kelly", "--win-prob", "0.48", "--odds", "1"],
        &["optimize", "--returns", returns, "--method", "risk-parity"],
        &["frontier", "--returns", returns, "--points", "5"],
    ];
    for args in cases {
        // The reader is gone before ballast writes a byte, as `| head -1` can leave it.
        let mut child = spawn_on(&store, args);
        drop(child.stdout.take());
        let output = child.wait_with_output().expect("exits");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success(),
            "{args:?}: {:?} {stderr}",
            output.status
        );
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}

#[test]
fn run_into_a_closed_pipe_keeps_trading_records_its_stop_and_exits_cleanly() {
    let dir = TempDir::new("run-pipe");
    let store = dir.store();
    let mut child = spawn_on(&store, &["run", "--for", "4"]);
    // `| head -3`: three lines, then the reader goes away.
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    for _ in 0..3 {
        let mut line = String::new();
        stdout.read_line(&mut line).expect("a line");
    }
    drop(stdout);
    let output = child.wait_with_output().expect("exits");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{:?}: {stderr}", output.status);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.contains("Mailbox"), "{stderr}");
    // Logged once, not once per line.
    assert_eq!(
        stderr.matches("standard output closed").count(),
        1,
        "{stderr}"
    );
    let report = status(&store);
    assert!(
        report["last_run"]["stopped_at"].is_string(),
        "the stop was not recorded: {report}"
    );
    assert!(report["legs_pending"] == 0, "{report}");
}

#[test]
fn credentials_in_a_venue_url_are_refused_and_never_printed() {
    let dir = TempDir::new("url-credentials");
    let store = dir.store();
    let url = "http://agent:SENTINEL-KEY@127.0.0.1:9";
    /// Arguments, environment, and the name the refusal must give.
    type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);
    let cases: [Case; 3] = [
        (&["run", "--venue", url], &[], "--venue"),
        (&["plan", "--venue", url], &[], "--venue"),
        (
            &["run"],
            &[
                ("BALLAST__VENUE__MODE", "remote"),
                ("BALLAST__VENUE__URL", url),
            ],
            "venue.url",
        ),
    ];
    for (args, env, named) in cases {
        let mut command = Command::new(BIN);
        command
            .args(args)
            .env("BALLAST__STORE__PATH", &store)
            .env_remove("PURPLE_FLEA_API_KEY");
        for (key, value) in env {
            command.env(key, value);
        }
        let output = command.output().expect("runs");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert_eq!(output.status.code(), Some(2), "{args:?}: {text}");
        assert!(text.contains(named), "{args:?} names {named}: {text}");
        assert!(text.contains("credentials"), "{args:?}: {text}");
        assert!(
            !text.contains("SENTINEL"),
            "{args:?} printed the key: {text}"
        );
    }
    // Nothing was started, so nothing was stored (the key never reached `runs.venue`).
    assert!(!store.exists());
}
