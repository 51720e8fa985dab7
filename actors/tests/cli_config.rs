//! The `ballast` binary refuses bad configuration: it exits non-zero with a message that
//! names every field at fault, never panics, and never prints the API key.
//!
//! Each case writes a config layer to a temp file (or sets a `BALLAST__...` variable) and
//! runs `ballast plan` offline (`--balances`), which loads and validates the configuration
//! before doing anything else. A valid layer runs to completion, so the harness itself is
//! shown to work.

mod cli_common;

use std::path::PathBuf;

use cli_common::{Run, bare_command, finish, scratch_file};

const BALANCES: &str = "casino=200,trading=300,wallet=150,domains=150,escrow=100,reserve=100";
const SENTINEL: &str = "sk-SENTINEL-4f1c";

fn scratch(name: &str, body: &str) -> PathBuf {
    scratch_file("cli-config", name, body)
}

fn plan(config: Option<&PathBuf>, env: &[(&str, &str)]) -> Run {
    // The developer's own overrides must not leak into the cases.
    let mut command = bare_command();
    command
        .args(["plan", "--balances", BALANCES])
        .env("PURPLE_FLEA_API_KEY", SENTINEL);
    if let Some(path) = config {
        command.arg("--config").arg(path);
    }
    finish(command, env)
}

/// Asserts that case `i`'s `run` exited non-zero, named each of `fields` on stderr and did
/// not panic.
#[track_caller]
fn assert_refused_naming(i: usize, run: &Run, fields: &[&str]) {
    assert!(
        run.code.is_some_and(|c| c != 0),
        "TC{i}: exit code {:?}; stdout: {}",
        run.code,
        run.stdout
    );
    for field in fields {
        assert!(
            run.stderr.contains(field),
            "TC{i}: stderr does not name `{field}`:\n{}",
            run.stderr
        );
    }
    assert!(!run.stderr.contains("panicked"), "TC{i}: {}", run.stderr);
}

#[test]
fn bad_configuration_exits_non_zero_naming_each_field() {
    struct TestCase {
        name: &'static str,
        layer: &'static str,
        env: &'static [(&'static str, &'static str)],
        must_name: &'static [&'static str],
    }
    let cases = [
        // TC0: targets summing to 0.9.
        TestCase {
            name: "sum.toml",
            layer: "[targets]\ncasino = 0.10\n",
            env: &[],
            must_name: &["targets", "0.9"],
        },
        // TC1: an unknown service.
        TestCase {
            name: "service.toml",
            layer: "[targets]\nbitcoin = 0.0\n",
            env: &[],
            must_name: &["bitcoin"],
        },
        // TC2: a negative threshold.
        TestCase {
            name: "band.toml",
            layer: "[policy]\nband = -0.05\n",
            env: &[],
            must_name: &["policy.band"],
        },
        // TC3: an unknown key.
        TestCase {
            name: "key.toml",
            layer: "[venue]\nmode_typo = \"remote\"\n",
            env: &[],
            must_name: &["venue.mode_typo"],
        },
        // TC4: all of the above at once: every problem is listed, not just the first.
        TestCase {
            name: "all.toml",
            layer: "[targets]\ncasino = 0.10\nbitcoin = 0.0\n[policy]\nband = -0.05\n[venue]\nmode_typo = 1\n[oracle]\nx = 1\n",
            env: &[],
            must_name: &[
                "targets",
                "bitcoin",
                "policy.band",
                "venue.mode_typo",
                "oracle",
            ],
        },
        // TC5: a bad value from the environment.
        TestCase {
            name: "empty.toml",
            layer: "",
            env: &[("BALLAST__POLICY__BAND", "-1")],
            must_name: &["policy.band"],
        },
        // TC6: a value of the wrong type.
        TestCase {
            name: "type.toml",
            layer: "[policy]\nmin_trade_usdc = \"lots\"\n",
            env: &[],
            must_name: &["min_trade_usdc"],
        },
        // TC7: zero timeouts and backoffs that start above their ceiling, venue and notify.
        TestCase {
            name: "backoff.toml",
            layer: "[venue]\nidle_timeout_ms = 0\nreconnect_base_ms = 5000\nreconnect_max_ms = 100\n\
                    [notify]\ntimeout_ms = 0\nretry_base_ms = 900\nretry_max_ms = 50\n",
            env: &[],
            must_name: &[
                "venue.idle_timeout_ms: must be positive",
                "venue.reconnect_base_ms: 5000 exceeds venue.reconnect_max_ms 100",
                "notify.timeout_ms: must be positive",
                "notify.retry_base_ms: 900 exceeds notify.retry_max_ms 50",
            ],
        },
    ];
    for (i, case) in cases.iter().enumerate() {
        let path = scratch(case.name, case.layer);
        let run = plan(Some(&path), case.env);
        assert_refused_naming(i, &run, case.must_name);
        assert!(
            run.stdout.is_empty(),
            "TC{i}: printed a plan: {}",
            run.stdout
        );
        assert!(
            !run.stderr.contains(SENTINEL) && !run.stdout.contains(SENTINEL),
            "TC{i}: the API key leaked"
        );
    }
}

#[test]
fn a_missing_config_file_is_named() {
    let path = PathBuf::from("/nonexistent/ballast-missing.toml");
    let run = plan(Some(&path), &[]);
    assert!(run.code.is_some_and(|c| c != 0));
    assert!(
        run.stderr.contains("ballast-missing.toml"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_valid_layer_runs_and_never_prints_the_key() {
    let path = scratch("good.toml", "[policy]\nband = 0.04\n");
    let run = plan(Some(&path), &[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(run.stdout.contains("no rebalance needed"), "{}", run.stdout);
    assert!(
        run.stdout.contains("4.0%"),
        "the layer applied: {}",
        run.stdout
    );
    assert!(!run.stdout.contains(SENTINEL) && !run.stderr.contains(SENTINEL));
}

/// Issue 14, item 9: every type error at once, each with its key; paths named for what they
/// are; a TOML error names its line and key.
#[test]
fn every_type_error_and_bad_path_is_named_at_once() {
    struct TestCase {
        layer: Option<&'static str>,
        path: Option<PathBuf>,
        env: &'static [(&'static str, &'static str)],
        must_name: &'static [&'static str],
        problems: usize,
    }
    let cases = [
        // TC0: a number too large for its key names the key.
        TestCase {
            layer: Some("[executor]\nleg_retry_limit = 99999999999\n"),
            path: None,
            env: &[],
            must_name: &["executor.leg_retry_limit", "99999999999"],
            problems: 1,
        },
        // TC1: a path must be a string.
        TestCase {
            layer: Some("[store]\npath = 5\n"),
            path: None,
            env: &[],
            must_name: &["store.path", "expected path string"],
            problems: 1,
        },
        // TC2: three type errors, three lines, each with its key.
        TestCase {
            layer: Some(
                "[policy]\nband = \"x\"\nmin_trade_usdc = true\n[executor]\nleg_retry_limit = -1\n",
            ),
            path: None,
            env: &[],
            must_name: &[
                "policy.band",
                "policy.min_trade_usdc",
                "executor.leg_retry_limit",
            ],
            problems: 3,
        },
        // TC3: beyond what TOML holds: the line and the key.
        TestCase {
            layer: Some("[venue]\nrequest_timeout_ms = 18446744073709551615\n"),
            path: None,
            env: &[],
            must_name: &["line 2", "venue.request_timeout_ms"],
            problems: 1,
        },
        // TC4: type errors from the environment, with a too-large number among them.
        TestCase {
            layer: Some(""),
            path: None,
            env: &[
                ("BALLAST__VENUE__REQUEST_TIMEOUT_MS", "99999999999999999999"),
                ("BALLAST__EXECUTOR__DRY_RUN", "maybe"),
            ],
            must_name: &["venue.request_timeout_ms", "executor.dry_run"],
            problems: 2,
        },
        // TC5: type errors, an unknown key and a bad value together.
        TestCase {
            layer: Some("[policy]\nband = -0.05\nmin_trade_usdc = \"1\"\nbandz = 1\n"),
            path: None,
            env: &[],
            must_name: &["policy.band", "policy.min_trade_usdc", "policy.bandz"],
            problems: 3,
        },
        // TC6: a directory is named as one.
        TestCase {
            layer: None,
            path: Some(std::env::temp_dir()),
            env: &[],
            must_name: &["--config", "is a directory"],
            problems: 1,
        },
        // TC7: a path through a file cannot be read (and is not "missing").
        TestCase {
            layer: None,
            path: Some(scratch("plain.toml", "").join("inner.toml")),
            env: &[],
            must_name: &["--config", "cannot be read"],
            problems: 1,
        },
    ];
    for (i, case) in cases.into_iter().enumerate() {
        let path = match (case.layer, case.path) {
            (Some(layer), _) => scratch(&format!("types{i}.toml"), layer),
            (None, Some(path)) => path,
            (None, None) => unreachable!("a case has a layer or a path"),
        };
        let run = plan(Some(&path), case.env);
        assert_refused_naming(i, &run, case.must_name);
        assert!(
            run.stderr.contains(&format!(
                "invalid configuration ({} problem(s))",
                case.problems
            )),
            "TC{i}: {}",
            run.stderr
        );
    }
}
