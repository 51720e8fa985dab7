//! The API key never appears in anything ballast prints, even with every log on.
//!
//! A full story: `ballast run` with the embedded simulated venue (which then requires the key
//! on every request, so the key is really in use), at trace level for every crate, in JSON
//! output, for a few seconds of accelerated venue time; then `ballast status --json` on its
//! store. A sentinel key must be absent from every byte of stdout and stderr.

use std::process::Command;

const SENTINEL: &str = "sk-SENTINEL-9c2e7b";

fn ballast(args: &[&str], store: &std::path::Path) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_ballast"))
        .args(args)
        .env("PURPLE_FLEA_API_KEY", SENTINEL)
        .env("RUST_LOG", "trace")
        .env("BALLAST__OUTPUT__LOG", "trace")
        .env("BALLAST__STORE__PATH", store)
        .output()
        .expect("runs the binary");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

#[test]
fn a_full_run_at_trace_level_never_prints_the_key() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("ballast-secrets-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let store = dir.join("ballast.db");

    let (ok, run) = ballast(&["--json", "run", "--for", "3"], &store);
    assert!(
        ok,
        "run failed:\n{}",
        &run[run.len().saturating_sub(4_000)..]
    );
    assert!(run.lines().count() > 100, "trace logging was not on");
    assert!(
        run.contains("\"kind\":\"summary\""),
        "no summary: the key was not accepted by the venue?"
    );
    assert!(!run.contains(SENTINEL), "the API key leaked from `run`");
    // The redacted form is what shows instead.
    assert!(!run.contains("9c2e7b"), "part of the key leaked");

    let (ok, status) = ballast(&["--json", "status"], &store);
    assert!(ok, "status failed: {status}");
    assert!(!status.contains(SENTINEL));
    let _ = std::fs::remove_dir_all(&dir);
}
