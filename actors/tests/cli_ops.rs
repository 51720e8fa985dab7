//! The rough edges a new user hit (issue 13), through the `ballast` binary: each test would
//! have caught its edge. `run --json` lines carry RFC 3339 times, stderr carries no colour
//! codes when redirected, `status` shows the last known balances, `report` prints in its three
//! formats and plots, `kelly` without an edge answers 0, `frontier --plot` prints a summary,
//! `plan` without flags plans a drifted example and says so, and plan amounts have two
//! decimals.

mod cli_common;

use std::path::{Path, PathBuf};

use cli_common::{Run, bare_command, finish};

/// Runs the binary in `dir` with `args`, without the developer's own configuration.
fn ballast(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut command = bare_command();
    command.current_dir(dir).args(args);
    finish(command, env)
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("ballast-cli-ops-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn rfc3339(text: &str) -> bool {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).is_ok()
}

#[test]
fn r13_a_run_then_status_and_report_read_its_store() {
    let dir = scratch("run");
    // Step 1: four seconds of the embedded venue (a simulated day: its seeded large win comes
    // a quarter in), JSON lines, logs on, and a daily cap of $1 so every plan is refused.
    let run = ballast(
        &dir,
        &["run", "--json", "--for", "4"],
        &[
            ("RUST_LOG", "info"),
            ("BALLAST__RISK__MAX_DAILY_TURNOVER_USDC", "1"),
        ],
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    // Colour codes only belong on a terminal; this stderr is a pipe.
    assert!(!run.stderr.is_empty(), "logs were asked for");
    assert!(!run.stderr.contains('\u{1b}'), "ANSI codes on a pipe");
    let mut kinds = std::collections::BTreeSet::new();
    for line in run.stdout.lines() {
        let json: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
        let kind = json["kind"].as_str().expect("kind").to_owned();
        let at = json["at"].as_str().unwrap_or_default();
        assert!(rfc3339(at), "{kind} line without an RFC 3339 time: {line}");
        if kind == "alert" {
            assert_eq!(json["alert"], "risk_refused", "{line}");
        }
        if kind == "leg" {
            let amount = json["amount_usdc"].as_str().expect("amount");
            assert!(
                amount.split_once('.').is_some_and(|(_, c)| c.len() == 2),
                "{line}"
            );
        }
        kinds.insert(kind);
    }
    for kind in ["event", "balances", "plan", "leg", "alert", "summary"] {
        assert!(kinds.contains(kind), "no {kind} line: {kinds:?}");
    }

    // Step 2: status shows the last balances the run knew, with RFC 3339 times.
    let status = ballast(&dir, &["status"], &[]);
    assert_eq!(status.code, Some(0), "{}", status.stderr);
    let balances = status
        .stdout
        .lines()
        .find(|l| l.starts_with("balances"))
        .expect("a balances line");
    assert!(balances.contains("(last known, from"), "{balances}");
    assert!(
        status
            .stdout
            .lines()
            .any(|l| l.starts_with("alert") && l.contains("[risk_refused]")),
        "{}",
        status.stdout
    );
    let json = ballast(&dir, &["status", "--json"], &[]);
    let report: serde_json::Value = serde_json::from_str(&json.stdout).expect("JSON");
    let summary: serde_json::Value =
        serde_json::from_str(run.stdout.lines().last().expect("the summary line")).expect("JSON");
    assert_eq!(
        report["last_snapshot"]["balances_usdc"], summary["summary"]["final_balances_usdc"],
        "status shows other balances than the run ended with"
    );

    // Step 3: the report in its three formats, and a plot.
    let md = ballast(&dir, &["report", "--plot", "report.svg"], &[]);
    assert_eq!(md.code, Some(0), "{}", md.stderr);
    for needle in [
        "# ballast report",
        "tracking error",
        "rebalancing alpha",
        "## Legs by outcome",
    ] {
        assert!(md.stdout.contains(needle), "{needle}: {}", md.stdout);
    }
    assert!(dir.join("report.svg").is_file(), "no plot");
    let json = ballast(&dir, &["report", "--format", "json"], &[]);
    let report: serde_json::Value = serde_json::from_str(&json.stdout).expect("one JSON document");
    assert!(
        report["metrics"]["days"].as_u64().is_some_and(|d| d >= 1),
        "{report}"
    );
    assert!(report["series"].as_array().is_some_and(|s| s.len() >= 2));
    let same = ballast(&dir, &["report", "performance", "--json"], &[]);
    assert_eq!(
        same.stdout, json.stdout,
        "the group's default and its subcommand differ"
    );
    let csv = ballast(
        &dir,
        &["report", "--format", "csv", "--since", "2020-01-01"],
        &[],
    );
    assert!(
        csv.stdout.starts_with("section,key,value\n"),
        "{}",
        csv.stdout
    );
    assert!(
        csv.stdout.contains("metrics,tracking_error,"),
        "{}",
        csv.stdout
    );
    let bad = ballast(&dir, &["report", "--since", "yesterday"], &[]);
    assert_ne!(bad.code, Some(0));
    assert!(bad.stderr.contains("--since"), "{}", bad.stderr);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn r13_kelly_without_an_edge_answers_zero_and_exits_0() {
    let dir = scratch("kelly");
    let run = ballast(
        &dir,
        &["kelly", "--win-prob", "0.48", "--odds", "1", "--json"],
        &[],
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON");
    assert_eq!(json["stake_usdc"], "0.00");
    assert_eq!(json["edge"], -0.04);
    let text = ballast(&dir, &["kelly", "--win-prob", "0.48", "--odds", "1"], &[]);
    assert_eq!(text.code, Some(0));
    assert!(text.stdout.contains("no edge: -4.00%"), "{}", text.stdout);
}

#[test]
fn r13_frontier_with_a_plot_prints_a_summary_not_every_row() {
    let dir = scratch("frontier");
    let returns = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/data/anchors/data/services_730.csv");
    let returns = returns.to_string_lossy().into_owned();
    let run = ballast(
        &dir,
        &["frontier", "--returns", &returns, "--plot", "f.svg"],
        &[],
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(run.stdout.lines().count() <= 5, "{}", run.stdout);
    assert!(run.stdout.contains("50 frontier points"), "{}", run.stdout);
}

#[test]
fn r13_plan_without_flags_plans_a_drifted_example_and_amounts_have_two_decimals() {
    let dir = scratch("plan");
    let run = ballast(&dir, &["plan"], &[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(run.stderr.contains("hot-streak example"), "{}", run.stderr);
    assert!(
        run.stdout.contains("plan ("),
        "the example is off target: {}",
        run.stdout
    );
    let json = ballast(
        &dir,
        &[
            "plan",
            "--json",
            "--balances",
            "casino=436,trading=48.0,wallet=1320,domains=60,escrow=40,reserve=20",
        ],
        &[],
    );
    assert_eq!(json.code, Some(0), "{}", json.stderr);
    let plan: serde_json::Value = serde_json::from_str(&json.stdout).expect("JSON");
    let two_decimals = |v: &serde_json::Value| {
        v.as_str()
            .and_then(|t| t.split_once('.'))
            .is_some_and(|(_, cents)| cents.len() == 2)
    };
    assert!(two_decimals(&plan["total_usdc"]), "{}", plan["total_usdc"]);
    let legs = plan["legs"].as_array().expect("legs");
    assert!(!legs.is_empty());
    for leg in legs {
        assert!(two_decimals(&leg["amount_usdc"]), "{leg}");
    }
}

#[test]
fn r13_legs_reconciled_at_start_up_print_under_a_header() {
    use ballast::{
        service::{Direction, Service},
        sim::SimConfig,
        store::{LegRecord, LegStatus, PlanRecord, RunRecord, Store},
        venue::{client::VenueClient, protocol::RebalanceBody},
    };
    use rust_decimal_macros::dec;
    let dir = scratch("reconcile");
    let store_path = dir.join("ballast.db");
    // A quiet venue on loopback, served by this runtime's threads while the binary runs.
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let sim = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binds");
        let config = SimConfig {
            autoplay: false,
            speed: 1.0,
            ..SimConfig::default()
        };
        ballast::sim::start(config, listener).await.expect("sim")
    });
    let url = sim.base_url();
    // An earlier run left a leg pending in the store; the venue applied it under its key.
    runtime.block_on(async {
        let store = Store::open(&store_path).expect("store");
        let at = time::OffsetDateTime::now_utc();
        store
            .start_run(RunRecord {
                run_id: "r0".into(),
                started_at: at,
                stopped_at: None,
                venue: url.clone(),
                dry_run: false,
            })
            .await
            .expect("run");
        store
            .record_plan(PlanRecord {
                plan_id: "r0:1".into(),
                run_id: "r0".into(),
                created_at: at,
                trigger: "tick".into(),
                reason: "earlier".into(),
                total_usdc: dec!(1000),
                legs: vec![LegRecord {
                    idempotency_key: "r0:1:0".into(),
                    leg_index: 0,
                    service: Service::Casino,
                    direction: Direction::Decrease,
                    amount_usdc: dec!(5),
                    status: LegStatus::Pending,
                }],
            })
            .await
            .expect("plan");
        let client = VenueClient::new(&url, "agent-1", None, std::time::Duration::from_secs(5))
            .expect("client");
        let body = RebalanceBody {
            service: Service::Casino,
            direction: Direction::Decrease,
            amount_usdc: dec!(5),
            reason: "earlier".into(),
        };
        client.rebalance(&body, "r0:1:0").await.expect("applied");
    });
    let store_env = store_path.to_string_lossy().into_owned();
    let run = ballast(
        &dir,
        &["run", "--venue", &url, "--for", "2"],
        &[("BALLAST__STORE__PATH", &store_env)],
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let lines: Vec<&str> = run.stdout.lines().collect();
    let header = lines
        .iter()
        .position(|l| l.contains("legs of plan r0:1, resolved by asking the venue:"))
        .unwrap_or_else(|| panic!("no header: {}", run.stdout));
    assert!(
        lines[header + 1].contains("decrease casino"),
        "{}",
        run.stdout
    );
    runtime.block_on(sim.shutdown());
    let _ = std::fs::remove_dir_all(&dir);
}
