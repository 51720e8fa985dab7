//! The policy's commands through the binary: `ballast plan --to band-edge` says why a plan is
//! not at the band edge or has no legs (text and JSON), and `ballast backtest --events`
//! refuses a bad recording naming the line.

use std::process::{Command, Output};

use serde_json::Value;

fn ballast(args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ballast"));
    command.args(args).env_remove("RUST_LOG");
    for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("BALLAST__")) {
        command.env_remove(key);
    }
    command.output().expect("runs")
}

fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The article's hot streak: casino 70% of $1,000.
const HOT_STREAK: &str = "casino=700,trading=120,wallet=60,domains=60,escrow=40,reserve=20";

/// Casino 5.5 points over, the reserve 5.5 under: at the band edge a $5 leg.
const JUST_OVER: &str = "casino=255,trading=300,wallet=150,domains=150,escrow=100,reserve=45";

#[test]
fn plan_band_edge_says_why() {
    struct TestCase {
        args: Vec<&'static str>,
        expected_legs: usize,
        expected_text: &'static str,
        expected_note: Option<&'static str>,
    }
    let cases = [
        // TC0: the hot streak at the band edge would leave the reserve at 25%: to target,
        // with the reason.
        TestCase {
            args: vec!["--balances", HOT_STREAK, "--to", "band-edge"],
            expected_legs: 5,
            expected_text: "note: to target, not the band edge: with every breached service on \
                            its band edge the reserve would hold 25.0%, outside its band of \
                            10.0% ± 5.0%",
            expected_note: Some("fell_back_to_target"),
        },
        // TC1: to target, the same legs and no note.
        TestCase {
            args: vec!["--balances", HOT_STREAK, "--to", "target"],
            expected_legs: 5,
            expected_text: "plan (5 legs, $920.00 moved",
            expected_note: None,
        },
        // TC2: band edge moves casino only to 25%: one $5 leg, below a $10 minimum.
        TestCase {
            args: vec![
                "--balances",
                JUST_OVER,
                "--to",
                "band-edge",
                "--min-trade-usdc",
                "10",
            ],
            expected_legs: 0,
            expected_text: "no legs: every leg is below the minimum trade of 10 USDC (the \
                            largest would move 5.00 USDC)",
            expected_note: Some("below_minimum_trade"),
        },
        // TC3: with the default $1 minimum, the band edge's one leg.
        TestCase {
            args: vec!["--balances", JUST_OVER, "--to", "band-edge"],
            expected_legs: 1,
            expected_text: "1. decrease casino          $5.00",
            expected_note: None,
        },
    ];
    for (index, case) in cases.iter().enumerate() {
        let mut args = vec!["plan"];
        args.extend(&case.args);
        let text = stdout(&ballast(&args));
        assert!(text.contains(case.expected_text), "TC{index}: {text}");
        let mut json_args = vec!["--json", "plan"];
        json_args.extend(&case.args);
        let json: Value =
            serde_json::from_str(&stdout(&ballast(&json_args))).expect("one document");
        assert_eq!(
            json["legs"].as_array().map(Vec::len),
            Some(case.expected_legs),
            "TC{index}"
        );
        assert_eq!(
            json["notes"][0]["kind"].as_str(),
            case.expected_note,
            "TC{index}: {json}"
        );
    }
}

#[test]
fn plan_marks_a_drift_on_the_edge_as_outside() {
    let text = stdout(&ballast(&[
        "plan",
        "--balances",
        "casino=250,trading=250,wallet=150,domains=150,escrow=100,reserve=100",
    ]));
    let casino = text
        .lines()
        .find(|l| l.starts_with("casino"))
        .expect("casino row");
    assert!(casino.ends_with("outside band"), "{text}");
    assert!(text.contains("plan (2 legs, $100.00 moved"), "{text}");
}

#[test]
fn backtest_events_refuses_a_bad_recording() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("ballast-cli-policy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    struct TestCase {
        text: &'static str,
        expected: &'static str,
    }
    let cases = [
        // TC0: no start line.
        TestCase {
            text: "{\"kind\":\"stream_down\"}\n",
            expected: "line 1: a recording starts with a `start` line",
        },
        // TC1: empty.
        TestCase {
            text: "",
            expected: "line 1: a recording starts with a `start` line",
        },
    ];
    for (index, case) in cases.iter().enumerate() {
        let path = dir.join(format!("bad-{index}.jsonl"));
        std::fs::write(&path, case.text).expect("writes");
        let output = ballast(&["backtest", "--events", path.to_str().expect("utf-8")]);
        assert!(!output.status.success(), "TC{index}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(case.expected), "TC{index}: {stderr}");
        assert!(stderr.contains("--events"), "TC{index}: {stderr}");
    }
    let missing = ballast(&["backtest", "--events", "/nonexistent/run.jsonl"]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("cannot read the file"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_run_prints_its_metrics_and_its_recording_replays() {
    // Six simulated days (a day a second on the embedded venue), recorded.
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("ballast-cli-policy-run-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let recording = dir.join("run.jsonl");
    let output = Command::new(env!("CARGO_BIN_EXE_ballast"))
        .args(["run", "--quiet", "--for", "6", "--record-events"])
        .arg(&recording)
        .env("BALLAST__STORE__PATH", dir.join("ballast.db"))
        .env("BALLAST__SIM__SPEED", "86400")
        .env_remove("RUST_LOG")
        .env_remove("PURPLE_FLEA_API_KEY")
        .output()
        .expect("runs");
    let text = stdout(&output);
    assert!(text.contains("performance   over "), "{text}");
    assert!(text.contains("  tracking error "), "{text}");
    assert!(text.contains("  annual return "), "{text}");
    // The recording replays through the policy to the run's own decisions.
    let replayed = stdout(&ballast(&[
        "--json",
        "backtest",
        "--events",
        recording.to_str().expect("utf-8"),
    ]));
    let json: Value = serde_json::from_str(&replayed).expect("one document");
    assert_eq!(json["identical"], true, "{json}");
    assert!(
        json["days_closed"].as_u64().is_some_and(|d| d >= 1),
        "{json}"
    );
    let decisions = json["recorded_decisions"].as_u64().expect("a count");
    let text = stdout(&ballast(&[
        "backtest",
        "--events",
        recording.to_str().expect("utf-8"),
    ]));
    assert!(
        text.contains(&format!(
            "identical to the recorded run: all {decisions} decisions, byte for byte"
        )),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
