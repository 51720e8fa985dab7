//! The `ballast` binary bounds what its inputs can cost and refuses inputs that make no sense
//! (issue 14, items 5 and 9; promise 23): `--points` and the size of a returns file are capped
//! before anything grows with them, returns of −100% or worse are refused with their row and
//! column, a byte-order mark never reaches a name, and constant returns are reported as such
//! instead of as a Sharpe ratio of 5e16.
//!
//! Each case runs the binary on a file written here and checks the exit code and the message;
//! none asserts a duration or a memory figure (those are measured by hand, see the report).

mod cli_common;

use std::path::PathBuf;

use cli_common::{Run, bare_command, finish, scratch_file};

fn scratch(name: &str, body: &str) -> PathBuf {
    scratch_file("cli-inputs", name, body)
}

fn ballast(args: &[&str]) -> Run {
    let mut command = bare_command();
    command.args(args);
    finish(command, &[])
}

/// A CSV of `columns` assets and `rows` days of small varying returns.
fn wide_csv(columns: usize, rows: usize) -> String {
    let header: Vec<String> = (0..columns).map(|k| format!("a{k}")).collect();
    let mut text = header.join(",");
    for t in 0..rows {
        text.push('\n');
        let row: Vec<String> = (0..columns)
            .map(|k| format!("{:.4}", ((t * 7 + k * 13) % 17) as f64 / 1000.0 - 0.008))
            .collect();
        text.push_str(&row.join(","));
    }
    text.push('\n');
    text
}

fn constant_csv() -> String {
    let mut text = String::from("a,b,c\n");
    for _ in 0..30 {
        text.push_str("0.001,0.002,0.003\n");
    }
    text
}

#[test]
fn sizes_and_senseless_returns_are_refused_naming_the_flag() {
    struct TestCase {
        args: Vec<String>,
        must_name: &'static [&'static str],
    }
    let anchor = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/data/anchors/data/services_365.csv"
    );
    let wide = scratch("wide.csv", &wide_csv(10_000, 3));
    let just_over = scratch("over.csv", &wide_csv(1_001, 2));
    let constant = scratch("constant.csv", &constant_csv());
    let total_loss = scratch(
        "loss.csv",
        "casino,trading\n0.01,0.02\n-5,0.01\n0.02,0.00\n0.01,0.01\n",
    );
    let dir = std::env::temp_dir();
    let path = |p: &PathBuf| p.display().to_string();
    let cases = [
        // TC0: the 14 GB frontier: refused before the returns are read.
        TestCase {
            args: vec![
                "frontier".into(),
                "--returns".into(),
                anchor.into(),
                "--points".into(),
                "100000000".into(),
            ],
            must_name: &["--points 100000000", "1 to 10000 points"],
        },
        // TC1: the 10,000-column optimize: refused from the header.
        TestCase {
            args: vec![
                "optimize".into(),
                "--returns".into(),
                path(&wide),
                "--method".into(),
                "min-variance".into(),
                "--covariance".into(),
                "ledoit-wolf".into(),
            ],
            must_name: &["--returns", "10000 assets", "more than the 1000"],
        },
        // TC2: one column over the cap, for the frontier too.
        TestCase {
            args: vec!["frontier".into(), "--returns".into(), path(&just_over)],
            must_name: &["--returns", "1001 assets"],
        },
        // TC3: constant returns: no weights and no 5e16 Sharpe.
        TestCase {
            args: vec![
                "optimize".into(),
                "--returns".into(),
                path(&constant),
                "--method".into(),
                "max-sharpe".into(),
            ],
            must_name: &["--returns", "constant", "volatility is zero"],
        },
        // TC4: and for the frontier.
        TestCase {
            args: vec!["frontier".into(), "--returns".into(), path(&constant)],
            must_name: &["volatility is zero"],
        },
        // TC5: a −500% day for optimize, with its row and column.
        TestCase {
            args: vec![
                "optimize".into(),
                "--returns".into(),
                path(&total_loss),
                "--method".into(),
                "min-variance".into(),
            ],
            must_name: &["--returns", "row 3, column casino", "−100% or worse"],
        },
        // TC6: and for backtest.
        TestCase {
            args: vec!["backtest".into(), "--returns".into(), path(&total_loss)],
            must_name: &["--returns", "row 3, column casino", "−100% or worse"],
        },
        // TC7: a directory named as one.
        TestCase {
            args: vec![
                "optimize".into(),
                "--returns".into(),
                path(&dir),
                "--method".into(),
                "min-variance".into(),
            ],
            must_name: &["--returns", "is a directory"],
        },
    ];
    for (i, case) in cases.iter().enumerate() {
        let args: Vec<&str> = case.args.iter().map(String::as_str).collect();
        let run = ballast(&args);
        assert_eq!(run.code, Some(2), "TC{i}: {}{}", run.stdout, run.stderr);
        for needle in case.must_name {
            assert!(
                run.stderr.contains(needle),
                "TC{i}: stderr lacks `{needle}`: {}",
                run.stderr
            );
        }
        assert!(run.stdout.is_empty(), "TC{i}: printed {}", run.stdout);
        assert!(!run.stderr.contains("panicked"), "TC{i}: {}", run.stderr);
    }
}

#[test]
fn a_byte_order_mark_never_reaches_a_name() {
    let mut text = String::from("\u{feff}");
    text.push_str(&wide_csv(3, 40));
    let file = scratch("bom.csv", &text);
    let run = ballast(&[
        "optimize",
        "--returns",
        &file.display().to_string(),
        "--method",
        "min-variance",
        "--json",
    ]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let out: serde_json::Value = serde_json::from_str(&run.stdout).expect("one JSON document");
    let names: Vec<&str> = out["weights"]
        .as_object()
        .expect("weights by name")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(names, ["a0", "a1", "a2"], "{}", run.stdout);
}

#[test]
fn a_riskless_portfolio_has_no_sharpe_ratio() {
    // `cash` never moves; minimum variance puts everything in it.
    let mut text = String::from("cash,risky\n");
    for t in 0..40 {
        text.push_str(&format!("0.0001,{:.4}\n", (t % 7) as f64 / 100.0 - 0.03));
    }
    let file = scratch("riskless.csv", &text);
    let file = file.display().to_string();
    let json = ballast(&[
        "optimize",
        "--returns",
        &file,
        "--method",
        "min-variance",
        "--json",
    ]);
    assert_eq!(json.code, Some(0), "{}", json.stderr);
    let out: serde_json::Value = serde_json::from_str(&json.stdout).expect("JSON");
    assert!(out["sharpe"].is_null(), "{}", json.stdout);
    let text = ballast(&["optimize", "--returns", &file, "--method", "min-variance"]);
    assert!(
        text.stdout
            .contains("Sharpe undefined (volatility is zero)"),
        "{}",
        text.stdout
    );
}

#[test]
fn constant_backtest_returns_say_why_the_sharpe_ratio_is_missing() {
    let mut text = String::from("casino,trading,wallet,domains,escrow,reserve\n");
    for _ in 0..30 {
        text.push_str("0.001,0.001,0.001,0.001,0.001,0.001\n");
    }
    let file = scratch("constant6.csv", &text);
    let run = ballast(&["backtest", "--returns", &file.display().to_string()]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(
        run.stdout
            .contains("sharpe undefined: volatility is zero (constant returns)"),
        "{}",
        run.stdout
    );
}
