//! `ballast sim` never serves other machines by accident (issue 14, item 10): a listen address
//! beyond loopback needs `--allow-remote` and an API key, and is refused before anything is
//! bound, naming what is missing.
//!
//! Only refusals are run here: nothing in the tests listens beyond loopback.

use std::{
    process::{Command, Stdio},
    time::{Duration, Instant},
};

/// Runs `ballast sim` with `args` and no API key; it must exit by itself (a venue that started
/// listening would not), within a generous bound that only a hang can reach.
fn sim_refusal(args: &[&str]) -> (Option<i32>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ballast"))
        .arg("sim")
        .args(args)
        .env_remove("PURPLE_FLEA_API_KEY")
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runs the binary");
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if child.try_wait().expect("waits").is_some() {
            let output = child.wait_with_output().expect("output");
            let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
            return (output.status.code(), stderr);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let output = child.wait_with_output().expect("output");
    panic!(
        "ballast sim {args:?} kept running (it listens): {}",
        String::from_utf8_lossy(&output.stdout)
    );
}

#[test]
fn a_listen_address_beyond_loopback_needs_allow_remote_and_a_key() {
    struct TestCase {
        args: &'static [&'static str],
        must_name: &'static [&'static str],
    }
    let cases = [
        // TC0: the issue's `--listen 0.0.0.0` with auth off: both missing, both named.
        TestCase {
            args: &["--listen", "0.0.0.0:0", "--no-autoplay"],
            must_name: &["0.0.0.0:0", "--allow-remote", "PURPLE_FLEA_API_KEY"],
        },
        // TC1: allowed, but with no key.
        TestCase {
            args: &["--listen", "0.0.0.0:0", "--allow-remote", "--no-autoplay"],
            must_name: &["api_key", "PURPLE_FLEA_API_KEY"],
        },
    ];
    for (i, case) in cases.iter().enumerate() {
        let (code, stderr) = sim_refusal(case.args);
        assert_eq!(code, Some(2), "TC{i}: {stderr}");
        for needle in case.must_name {
            assert!(stderr.contains(needle), "TC{i}: lacks `{needle}`: {stderr}");
        }
        if i == 1 {
            assert!(!stderr.contains("--allow-remote`)"), "TC{i}: {stderr}");
        }
    }
}
