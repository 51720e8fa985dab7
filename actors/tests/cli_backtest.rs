//! `ballast backtest` end to end through the binary: a hand-computed fixture, the reference
//! path (`services_3650.csv`: the anchors' 164 rebalances and final value), the JSON
//! contracts of every form, plots, and refused input.

mod cli_common;

use std::{path::PathBuf, process::Output};

use cli_common::{bare_command, scratch_dir};
use serde_json::Value;

/// The reference loop's final value on `services_3650.csv` (see `ballast::backtest` tests
/// for the command that produced it).
const REFERENCE_FINAL_VALUE: f64 = 13231.692600678478;

const COMPARE: [&str; 7] = [
    "buy-and-hold",
    "calendar-daily",
    "calendar-weekly",
    "threshold-5",
    "threshold-10",
    "hybrid",
    "volatility-adjusted",
];

const ROW_KEYS: [&str; 7] = [
    "policy",
    "annual_rebalances",
    "days_outside_band",
    "annual_turnover",
    "tracking_error",
    "cost_drag",
    "rebalancing_alpha",
];

fn anchor() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/data/anchors/data/services_3650.csv")
}

fn scratch(name: &str) -> PathBuf {
    scratch_dir("cli-backtest").join(name)
}

/// `ballast backtest ARGS`; the developer's own overrides must not change the defaults
/// under test.
fn ballast(args: &[&str]) -> Output {
    let mut command = bare_command();
    command.arg("backtest").args(args);
    command.output().expect("runs")
}

fn json(args: &[&str]) -> Value {
    json_with_env(args, &[])
}

fn json_with_env(args: &[&str], env: &[(&str, &str)]) -> Value {
    let mut command = bare_command();
    command
        .arg("backtest")
        .args(args)
        .arg("--json")
        .envs(env.iter().copied());
    let out = command.output().expect("runs");
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON document")
}

fn number(v: &Value, key: &str) -> f64 {
    v[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} is not a number: {v}"))
}

fn check_compare_contract(doc: &Value) {
    let policies = doc["policies"].as_array().expect("policies");
    let names: Vec<&str> = policies
        .iter()
        .map(|p| p["policy"].as_str().expect("name"))
        .collect();
    assert_eq!(names, COMPARE);
    for p in policies {
        for key in ROW_KEYS {
            assert!(p.get(key).is_some(), "{key} missing in {p}");
        }
        for key in [
            "annual_rebalances",
            "days_outside_band",
            "annual_turnover",
            "cost_drag",
        ] {
            assert!(number(p, key).is_finite());
        }
        for key in ["tracking_error", "rebalancing_alpha"] {
            assert!(p[key].is_number() || p[key].is_null(), "{key}: {p}");
        }
    }
    let bh = &policies[0];
    assert_eq!(number(bh, "annual_rebalances"), 0.0);
    assert_eq!(number(bh, "annual_turnover"), 0.0);
}

#[test]
fn hand_computed_fixture() {
    // Half casino, half reserve, 5-point threshold, 10 bps: +20% (54.5%: inside), +10%
    // (6600 of 11600: 56.9%, out): moved 800, cost 0.80, final 11599.20. The file has a BOM.
    let file = scratch("two_days.csv");
    std::fs::write(&file, "\u{feff}casino,reserve\n0.2,0\n0.1,0\n").expect("fixture");
    let out = json(&[
        "--returns",
        file.to_str().unwrap(),
        "--targets",
        "casino=0.5,reserve=0.5",
        "--policy",
        "threshold",
        "--band",
        "0.05",
    ]);
    assert!((number(&out, "final_value_usdc") - 11599.2).abs() < 1e-9);
    assert_eq!(out["rebalances"], 1);
    assert!((number(&out, "amount_moved_usdc") - 800.0).abs() < 1e-9);
    assert!((number(&out, "costs_usdc") - 0.8).abs() < 1e-9);
    assert_eq!(out["days"], 2);
    let metrics = &out["metrics"];
    for key in [
        "tracking_error",
        "annual_turnover",
        "rebalances",
        "cost_drag",
        "rebalancing_alpha",
        "max_drawdown",
        "volatility",
        "sharpe",
        "warnings",
    ] {
        assert!(metrics.get(key).is_some(), "metrics.{key} missing");
    }
}

#[test]
fn reference_path_with_the_default_configuration() {
    // Defaults: [targets] 20/30/15/15/10/10, policy.band 0.05, policy.calendar_floor_days 30,
    // --cost-bps 10, --initial-usdc 10000: the reference loop's work.
    let out = json(&["--returns", anchor().to_str().unwrap()]);
    assert_eq!(out["policy"], "hybrid");
    assert_eq!(out["rebalances"], 164);
    assert_eq!(out["days"], 3650);
    let value = number(&out, "final_value_usdc");
    assert!(
        (value / REFERENCE_FINAL_VALUE - 1.0).abs() < 1e-9,
        "{value}"
    );
    let moved = number(&out, "amount_moved_usdc");
    assert!((number(&out, "costs_usdc") - moved * 0.001).abs() < 1e-9);
    assert_eq!(out["metrics"]["rebalances"], 164);
    assert_eq!(out["skipped_rebalances"], 0);
    // With a 500 USDC minimum trade some decisions find nothing worth sending, and say so.
    let text = ballast(&[
        "--returns",
        anchor().to_str().unwrap(),
        "--min-trade-usdc",
        "500",
    ]);
    let text = String::from_utf8(text.stdout).expect("utf-8");
    assert!(
        text.contains("decisions made no trade: every leg was below --min-trade-usdc 500"),
        "{text}"
    );
}

#[test]
fn defaults_follow_the_configuration() {
    let file = anchor();
    let path = file.to_str().unwrap();
    // policy.band 0.10 without a floor is the table's threshold-10.
    let ten = json_with_env(
        &["--returns", path],
        &[
            ("BALLAST__POLICY__BAND", "0.1"),
            ("BALLAST__POLICY__CALENDAR_FLOOR_DAYS", "0"),
        ],
    );
    let table = json(&["--compare", "--returns", path]);
    assert_eq!(
        ten["metrics"]["annual_rebalances"],
        table["policies"][4]["annual_rebalances"]
    );
    // policy.rebalance_to = band-edge moves less than to target.
    let edge = json_with_env(
        &["--returns", path],
        &[("BALLAST__POLICY__REBALANCE_TO", "band-edge")],
    );
    let full = json(&["--returns", path]);
    assert!(number(&edge, "amount_moved_usdc") < number(&full, "amount_moved_usdc"));
    // optimizer.risk_free_rate is the Sharpe ratio's: 0 gives mean × 365 / volatility.
    let rf0 = json_with_env(
        &["--returns", path],
        &[("BALLAST__OPTIMIZER__RISK_FREE_RATE", "0")],
    );
    let vol = number(&rf0["metrics"], "volatility");
    let gap = number(&rf0["metrics"], "sharpe") - number(&full["metrics"], "sharpe");
    assert!((gap - 0.045 / vol).abs() < 1e-9, "{gap}");
}

#[test]
fn compare_on_the_file_and_on_simulated_paths() {
    let file = json(&["--compare", "--returns", anchor().to_str().unwrap()]);
    check_compare_contract(&file);
    assert_eq!(file["policies"][5]["annual_rebalances"], 16.400000000000002);
    let simulated_args = [
        "--compare",
        "--simulate",
        "--paths",
        "4",
        "--days",
        "200",
        "--seed",
        "3",
    ];
    let simulated = json(&simulated_args);
    check_compare_contract(&simulated);
    assert_eq!(simulated["source"]["kind"], "model");
    assert_eq!(simulated["source"]["paths"], 4);
    assert!(simulated["policies"][5]["percentiles"]["final_value_usdc"]["p50"].is_number());
    // The same seed gives the same table.
    let again = json(&simulated_args);
    assert_eq!(simulated, again);
}

#[test]
fn simulate_bootstrap_and_sweep() {
    let mc = json(&[
        "--simulate",
        "--returns",
        anchor().to_str().unwrap(),
        "--paths",
        "3",
        "--days",
        "100",
    ]);
    assert_eq!(mc["source"]["kind"], "bootstrap");
    for key in ["p5", "p50", "p95"] {
        assert!(mc["summary"]["tracking_error"][key].is_number());
    }
    let svg = scratch("sweep.svg");
    let sweep = json(&[
        "--sweep",
        "band=0.02:0.10:0.01",
        "--returns",
        anchor().to_str().unwrap(),
        "--plot",
        svg.to_str().unwrap(),
    ]);
    let points = sweep["points"].as_array().expect("points");
    assert_eq!(points.len(), 9);
    assert_eq!(points[0]["band"], 0.02);
    assert_eq!(points[8]["band"], 0.1);
    // The narrowest band trades more than the widest on this path.
    assert!(number(&points[0], "annual_rebalances") > number(&points[8], "annual_rebalances"));
    let text = std::fs::read_to_string(&svg).expect("plot written");
    assert!(text.contains("<svg"));
}

#[test]
fn plot_of_one_path() {
    let png = scratch("path.png");
    let out = json(&[
        "--returns",
        anchor().to_str().unwrap(),
        "--plot",
        png.to_str().unwrap(),
    ]);
    assert_eq!(out["plot"], png.to_str().unwrap());
    let bytes = std::fs::read(&png).expect("plot written");
    assert_eq!(&bytes[1..4], b"PNG");
}

#[test]
fn text_output_prints_the_trigger_table() {
    let out = ballast(&["--compare", "--returns", anchor().to_str().unwrap()]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).expect("utf-8");
    for name in COMPARE {
        assert!(text.contains(name), "{name} missing:\n{text}");
    }
    // Not a terminal: no progress bar on stderr.
    let mc = ballast(&["--simulate", "--paths", "3", "--days", "50"]);
    assert!(mc.status.success());
    assert!(
        mc.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&mc.stderr)
    );
}

#[test]
fn bad_input_is_refused_naming_it() {
    struct TestCase {
        csv: Option<&'static str>,
        args: Vec<&'static str>,
        expected: &'static str,
    }
    let cases = [
        // TC0: a return of −100% names its row and column.
        TestCase {
            csv: Some("casino,trading\n0.1,0\n0,-1.0\n"),
            args: vec![],
            expected: "row 3, column trading: a return of -1 is −100% or worse",
        },
        // TC1: infinity.
        TestCase {
            csv: Some("casino,trading\ninf,0\n"),
            args: vec![],
            expected: "row 2, column casino: `inf` is not finite",
        },
        // TC2: not a service.
        TestCase {
            csv: Some("casino,bonds\n0,0\n"),
            args: vec![],
            expected: "`bonds` is not a service",
        },
        // TC3: neither a file nor a simulation.
        TestCase {
            csv: None,
            args: vec![],
            expected: "give --returns FILE.csv (one path) or --simulate (Monte Carlo)",
        },
        // TC4: a cost of 100%.
        TestCase {
            csv: None,
            args: vec!["--simulate", "--cost-bps", "10000"],
            expected: "--cost-bps: 10000 must be in [0, 10000)",
        },
        // TC5: a bad sweep.
        TestCase {
            csv: None,
            args: vec!["--simulate", "--sweep", "band=0.1:0.02:0.01"],
            expected: "--sweep: `0.1:0.02:0.01`: need START ≤ END and a positive STEP",
        },
    ];
    for (index, case) in cases.iter().enumerate() {
        let mut args: Vec<String> = case.args.iter().map(ToString::to_string).collect();
        if let Some(csv) = case.csv {
            let file = scratch(&format!("bad{index}.csv"));
            std::fs::write(&file, csv).expect("fixture");
            args.extend(["--returns".to_owned(), file.display().to_string()]);
        }
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = ballast(&refs);
        assert_eq!(out.status.code(), Some(2), "TC{index}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(case.expected), "TC{index}: {stderr}");
    }
}
