//! Story: an operator runs `ballast run` with its HTTP API on a free port, and steers it from
//! a shell with `ballast ctl`, which finds the API and the token in the data directory. The
//! token is generated private (0600) and never printed, not even in the run's trace-level logs
//! of the control requests; a wrong token is refused; the halt is in the store after the run
//! stops; and with no run, `ballast ctl` says so.
//!
//! Both sides are the real binary; the venue is the embedded simulated one.

#![cfg(unix)]

mod cli_common;

use std::{
    os::unix::fs::PermissionsExt,
    path::Path,
    process::{Command, Output, Stdio},
    time::Duration,
};

use cli_common::{BIN, TempDir, lines_of, signal};

fn ctl(store: &Path, args: &[&str], token: Option<&str>) -> Output {
    let mut command = Command::new(BIN);
    command
        .arg("ctl")
        .args(args)
        .env("BALLAST__STORE__PATH", store)
        .env_remove("BALLAST_CONTROL_TOKEN");
    if let Some(token) = token {
        command.env("BALLAST_CONTROL_TOKEN", token);
    }
    command.output().expect("ctl runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Asserts that a `ballast ctl` run failed and said `why` on stderr.
#[track_caller]
fn assert_refused(output: &Output, why: &str) {
    assert!(!output.status.success(), "{}", text(&output.stdout));
    let stderr = text(&output.stderr);
    assert!(stderr.contains(why), "{stderr}");
}

#[test]
fn ballast_ctl_steers_a_running_companion_through_its_api() {
    let temp = TempDir::new("ctl");
    let (dir, store) = (&temp.0, temp.store());

    // Step 1: the run, its API on a free loopback port; the address is printed.
    let log = dir.join("stderr.log");
    let mut run = Command::new(BIN)
        .args(["--json", "run", "--http", "127.0.0.1:0"])
        .env("BALLAST__STORE__PATH", &store)
        .env("RUST_LOG", "trace")
        .env("BALLAST__OUTPUT__LOG", "trace")
        .env_remove("PURPLE_FLEA_API_KEY")
        .env_remove("BALLAST_CONTROL_TOKEN")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).expect("log file"))
        .spawn()
        .expect("run starts");
    let lines = lines_of(&mut run);
    let mut printed = Vec::new();
    let http = loop {
        let line = lines
            .recv_timeout(Duration::from_secs(60))
            .expect("the run prints its API address");
        let value: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
        printed.push(line);
        if value["kind"] == "http" {
            break value;
        }
    };
    assert!(
        http["url"]
            .as_str()
            .expect("url")
            .starts_with("http://127.0.0.1:"),
        "{http}"
    );

    // Step 2: the token is in the data directory, private, and was not printed.
    let token_file = dir.join("control.token");
    let token = std::fs::read_to_string(&token_file).expect("token generated");
    let mode = std::fs::metadata(&token_file)
        .expect("file")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    assert!(printed.iter().all(|line| !line.contains(token.trim())));
    assert!(dir.join("http.addr").is_file());

    // Step 3: a wrong token is refused; the right one (from the file) halts.
    let refused = ctl(&store, &["halt"], Some("not-the-token"));
    assert_refused(&refused, "HTTP 403");
    let halted = ctl(&store, &["halt", "--reason", "drill"], None);
    assert!(halted.status.success(), "{}", text(&halted.stderr));
    assert!(
        text(&halted.stdout).starts_with("halt: trading is halted (was running)"),
        "{}",
        text(&halted.stdout)
    );
    let status = ctl(&store, &["status"], None);
    assert!(status.status.success(), "{}", text(&status.stderr));
    let status = text(&status.stdout);
    assert!(
        status.contains("control    halted — halt by ballast ctl ("),
        "{status}"
    );
    assert!(status.contains(": drill"), "{status}");
    // Pausing a halted companion would loosen the halt: refused, naming the mode.
    let paused = ctl(&store, &["pause"], None);
    assert_refused(&paused, "trading is halted");

    // Step 4: a clean stop removes the address; the store remembers the halt.
    signal(run.id(), "INT");
    assert!(run.wait().expect("exits").success());
    assert!(!dir.join("http.addr").exists());
    let logged = std::fs::read_to_string(&log).expect("log");
    // Trace level on (the secret check below means something only then): a fast run may log
    // few lines, so look for the level itself rather than count them.
    assert!(logged.contains("TRACE"), "trace logging was not on");
    assert!(logged.contains("control action"), "the halt was not logged");
    assert!(
        !logged.contains(token.trim()),
        "the token leaked into the logs"
    );
    let report = Command::new(BIN)
        .args(["status", "--store"])
        .arg(&store)
        .output()
        .expect("status runs");
    assert!(
        text(&report.stdout).contains("control    halted — halt by"),
        "{}",
        text(&report.stdout)
    );
    let gone = ctl(&store, &["status"], None);
    assert_refused(&gone, "no running ballast found");
}
