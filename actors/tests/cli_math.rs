//! The portfolio-math commands (`optimize`, `frontier`, `kelly`) end to end through their
//! `execute` functions, on the anchor data in `tests/data/anchors`, with the built-in
//! configuration supplying what the flags leave open.

use std::path::PathBuf;

use ballast::{math::returns::CovarianceMethod, optimizer::OptimizerMethod};
use ballast_actors::{
    commands::{frontier, kelly, math_common::ModelArgs, optimize},
    settings::{Settings, Validated},
};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

/// The defaults of `config/default.toml`, as `ballast optimize` loads them without `--config`.
fn defaults() -> Validated {
    Settings::load_with_env(&[], Vec::new())
        .and_then(Settings::validate)
        .expect("the defaults validate")
}

fn anchor(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("../tests/data/anchors/data/{name}.csv"))
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("ballast-cli-math-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir.join(name)
}

fn opt(method: OptimizerMethod) -> optimize::Args {
    optimize::Args {
        model: ModelArgs {
            returns: Some(anchor("services_730")),
            covariance: Some(CovarianceMethod::Sample),
            bounds: None,
        },
        venue: None,
        method: Some(method),
        budgets: None,
        hold: None,
        rf: Some(0.045),
        views: None,
        kelly_multiplier: Some(0.25),
    }
}

fn sum(out: &optimize::Output) -> f64 {
    out.weights.values().sum()
}

#[test]
fn risk_parity_holds_the_reserve_by_default() {
    let out = optimize::execute(&opt(OptimizerMethod::RiskParity), &defaults()).expect("solves");
    assert!((out.weights["reserve"] - 0.10).abs() < 1e-15);
    assert!((sum(&out) - 1.0).abs() <= 1e-12);
    assert!(out.rc_max_rel_error.expect("rc") <= 1e-9);
    let json = serde_json::to_value(&out).expect("serializes");
    for key in [
        "method",
        "weights",
        "risk_contributions",
        "expected_return",
        "volatility",
        "sharpe",
        "status",
    ] {
        assert!(json.get(key).is_some(), "missing {key}");
    }
    assert_eq!(json["method"], "risk-parity");
    assert_eq!(json["status"], "optimal");
}

#[test]
fn open_flags_take_the_configuration() {
    // Without --rf, --kelly-multiplier and --covariance the defaults file decides: the same
    // answer as the explicit values it holds.
    let explicit = optimize::execute(&opt(OptimizerMethod::Kelly), &defaults()).expect("solves");
    let mut open = opt(OptimizerMethod::Kelly);
    (open.rf, open.kelly_multiplier, open.model.covariance) = (None, None, None);
    let configured = optimize::execute(&open, &defaults()).expect("solves");
    assert_eq!(configured.weights, explicit.weights);
    assert_eq!(configured.sharpe, explicit.sharpe);
    // A configuration layer moves them; a flag overrides it again.
    let layered = Settings::load_with_env(
        &[],
        vec![(
            "BALLAST__OPTIMIZER__RISK_FREE_RATE".to_owned(),
            "0.01".to_owned(),
        )],
    )
    .and_then(Settings::validate)
    .expect("valid");
    let at_one_percent = optimize::execute(&open, &layered).expect("solves");
    assert_ne!(at_one_percent.sharpe, explicit.sharpe);
    let flagged = optimize::execute(&opt(OptimizerMethod::Kelly), &layered).expect("solves");
    assert_eq!(flagged.sharpe, explicit.sharpe);
}

#[test]
fn risk_parity_with_article_budgets_and_bounds() {
    let mut args = opt(OptimizerMethod::RiskParity);
    args.hold = Some("none".into());
    args.model.bounds = Some("0.01,0.80".into());
    args.budgets =
        Some("casino=0.30,trading=0.25,wallet=0.15,domains=0.15,escrow=0.10,reserve=0.05".into());
    let out = optimize::execute(&args, &defaults()).expect("solves");
    // The near-riskless reserve wants far more than 80%: it is capped.
    assert!(
        (out.weights["reserve"] - 0.80).abs() < 1e-9,
        "{:?}",
        out.weights
    );
    assert!((sum(&out) - 1.0).abs() <= 1e-12);
}

#[test]
fn markowitz_methods_match_the_references() {
    let expected: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../tests/data/anchors/expected/services_730.json"),
        )
        .expect("json"),
    )
    .expect("valid");
    let names: Vec<String> = expected["assets"]
        .as_array()
        .expect("assets")
        .iter()
        .map(|a| a.as_str().expect("name").to_owned())
        .collect();
    for (method, key) in [
        (OptimizerMethod::MinVariance, "min_variance"),
        (OptimizerMethod::MaxSharpe, "max_sharpe"),
    ] {
        let mut args = opt(method);
        args.model.bounds = Some("0.02,0.60".into());
        let out = optimize::execute(&args, &defaults()).expect("solves");
        for (i, name) in names.iter().enumerate() {
            let want = expected[key]["weights"][i].as_f64().expect("weight");
            assert!((out.weights[name] - want).abs() < 1e-6, "{key} {name}");
        }
    }
}

#[test]
fn black_litterman_and_kelly_run() {
    let views = scratch("views.toml");
    std::fs::write(
        &views,
        "tau = 0.05\nrisk_aversion = 2.5\n[[views]]\nportfolio = { trading = 1.0, wallet = -1.0 }\nexpected_return = 0.05\nconfidence = 0.6\n",
    )
    .expect("write views");
    let mut args = opt(OptimizerMethod::BlackLitterman);
    args.views = Some(views);
    args.model.bounds = Some("0.02,0.60".into());
    let out = optimize::execute(&args, &defaults()).expect("solves");
    assert!((sum(&out) - 1.0).abs() <= 1e-12);
    assert!(out.posterior_mean.is_some());
    // The near-riskless reserve is held at its prior weight (equal weights: 1/6).
    assert!(
        (out.weights["reserve"] - 1.0 / 6.0).abs() < 1e-12,
        "{:?}",
        out.weights
    );

    // Risk parity may now hold the reserve under bounds too.
    let mut args = opt(OptimizerMethod::RiskParity);
    args.model.bounds = Some("0.01,0.80".into());
    let out = optimize::execute(&args, &defaults()).expect("solves");
    assert!((out.weights["reserve"] - 0.10).abs() < 1e-15);
    assert!(out.weights.values().all(|w| (0.01..=0.80).contains(w)));

    let mut args = opt(OptimizerMethod::Kelly);
    args.model.bounds = Some("0.02,0.60".into());
    let quarter = optimize::execute(&args, &defaults()).expect("solves");
    args.kelly_multiplier = Some(1.0);
    let full = optimize::execute(&args, &defaults()).expect("solves");
    // The multiplier acts: full Kelly takes more risk.
    assert!(full.volatility > quarter.volatility);
}

#[test]
fn bad_input_names_its_cause() {
    struct TestCase {
        csv: Option<&'static str>,
        bounds: Option<&'static str>,
        budgets: Option<&'static str>,
        expected: &'static str,
    }
    let cases = [
        // TC0: ragged CSV.
        TestCase {
            csv: Some("a,b\n0.1,0.2\n0.3\n0.1,0.1\n"),
            bounds: None,
            budgets: None,
            expected: "row 3: 1 fields",
        },
        // TC1: NaN.
        TestCase {
            csv: Some("a,b\n0.1,0.2\n0.3,nan\n0.1,0.1\n"),
            bounds: None,
            budgets: None,
            expected: "column b: `nan` is not finite",
        },
        // TC2: fewer rows than assets.
        TestCase {
            csv: Some("a,b,c\n0.1,0.2,0.3\n0.3,0.1,0.0\n"),
            bounds: None,
            budgets: None,
            expected: "rows of returns for 3 assets",
        },
        // TC3: infeasible bounds.
        TestCase {
            csv: None,
            bounds: Some("0.5,0.9"),
            budgets: None,
            expected: "--bounds",
        },
        // TC4: budgets not summing to 1.
        TestCase {
            csv: None,
            bounds: None,
            budgets: Some("casino=0.5,trading=0.5,wallet=0.5,domains=0.1,escrow=0.1"),
            expected: "sum to",
        },
    ];
    for (i, case) in cases.iter().enumerate() {
        let mut args = opt(OptimizerMethod::RiskParity);
        if let Some(csv) = case.csv {
            let path = scratch(&format!("bad{i}.csv"));
            std::fs::write(&path, csv).expect("write");
            args.model.returns = Some(path);
            args.method = Some(OptimizerMethod::MinVariance);
        }
        args.model.bounds = case.bounds.map(str::to_owned);
        args.budgets = case.budgets.map(str::to_owned);
        if case.bounds.is_some() {
            args.method = Some(OptimizerMethod::MinVariance);
        }
        let err = optimize::execute(&args, &defaults()).expect_err("must fail");
        assert!(format!("{err:#}").contains(case.expected), "TC{i}: {err:#}");
    }
}

#[test]
fn r13_optimize_previews_the_targets_a_run_would_use_from_the_venue() {
    // No --returns: the embedded simulated venue's /returns and portfolio, solved with
    // [optimizer] as the live Optimizer does (bounds 0.01..0.80, the reserve held).
    let mut args = opt(OptimizerMethod::RiskParity);
    args.model.returns = None;
    args.model.covariance = None;
    args.rf = None;
    let out = optimize::execute(&args, &defaults()).expect("previews");
    assert!(out.source.contains("/returns"), "{}", out.source);
    assert!((sum(&out) - 1.0).abs() <= 1e-9);
    assert!(
        out.weights
            .values()
            .all(|w| (0.01 - 1e-9..=0.80 + 1e-9).contains(w))
    );
    assert!((out.weights["reserve"] - 0.10).abs() < 1e-9);
    let turnover = out.turnover.expect("measured from the current portfolio");
    assert!(turnover.turnover >= 0.0);
    // The status says whether equal risk was possible within the bounds.
    assert_eq!(out.status == "bounded", out.equal_risk_gap.is_some());
    // A turnover cap moves at most that much of the portfolio.
    let mut capped = defaults();
    capped.optimizer.max_turnover = 0.05;
    let out = optimize::execute(&args, &capped).expect("previews");
    assert!(out.turnover.expect("measured").turnover <= 0.05 + 1e-6);
    // Flags of the CSV path are refused, naming themselves.
    args.hold = Some("none".into());
    let err = optimize::execute(&args, &defaults()).expect_err("refused");
    assert!(err.to_string().contains("--hold"), "{err}");
}

#[test]
fn frontier_has_every_point_and_plots() {
    for ext in ["svg", "png"] {
        let plot = scratch(&format!("frontier.{ext}"));
        let args = frontier::Args {
            model: ModelArgs {
                returns: Some(anchor("services_730")),
                covariance: Some(CovarianceMethod::Sample),
                bounds: Some("0.01,0.70".into()),
            },
            points: 50,
            rf: Some(0.045),
            plot: Some(plot.clone()),
        };
        let out = frontier::execute(&args, &defaults().optimizer).expect("frontier");
        assert_eq!(out.points.len(), 50);
        assert!(out.max_sharpe.is_some());
        let size = std::fs::metadata(&plot).expect("plot written").len();
        assert!(size > 1000, "{ext} plot is {size} bytes");
    }
}

#[test]
fn kelly_sizes_the_article_bet_and_stakes_nothing_without_an_edge() {
    let mut args = kelly::Args {
        win_prob: 0.52,
        odds: 1.0,
        fraction: 0.25,
        bankroll_usdc: dec!(1000),
    };
    let k = kelly::execute(&args).expect("sizes");
    // 0.52 − 0.48 is 0.04000000000000004 in f64: the stake is still exactly $10.00.
    assert_eq!(k.stake_usdc, dec!(10.00));
    let json = serde_json::to_value(&k).expect("serializes");
    assert_eq!(json["stake_usdc"], "10.00", "money is a decimal string");
    assert_eq!(json["bankroll_usdc"], "1000");
    assert!(json["fraction"].is_f64(), "ratios stay numbers");
    // r13: no float noise in the JSON figures (0.52 − 0.48 is 0.04000000000000004 in f64).
    assert_eq!(json["edge"], 0.04);
    assert_eq!(json["full_fraction"], 0.04);
    assert_eq!(json["fraction"], 0.01);
    // r13: no edge is the article's stake of 0, shown with its negative edge, not an error.
    args.win_prob = 0.48;
    let k = kelly::execute(&args).expect("no edge is an answer");
    assert_eq!(
        (k.stake_usdc, k.fraction, k.has_edge),
        (dec!(0.00), 0.0, false)
    );
    let json = serde_json::to_value(&k).expect("serializes");
    assert_eq!(json["edge"], -0.04);
    assert_eq!(json["stake_usdc"], "0.00");
}

#[test]
fn kelly_stakes_whole_cents_toward_zero() {
    struct TestCase {
        win_prob: f64,
        odds: f64,
        fraction: f64,
        bankroll_usdc: Decimal,
        expected: Result<Decimal, &'static str>,
    }
    let cases = [
        // TC0: 5% of $333.33 is $16.6665: cents toward zero, never more than Kelly allows.
        TestCase {
            win_prob: 0.55,
            odds: 1.0,
            fraction: 0.5,
            bankroll_usdc: dec!(333.33),
            expected: Ok(dec!(16.66)),
        },
        // TC1: full Kelly at 60% and 2:1 stakes 40%.
        TestCase {
            win_prob: 0.6,
            odds: 2.0,
            fraction: 1.0,
            bankroll_usdc: dec!(100),
            expected: Ok(dec!(40.00)),
        },
        // TC2: an empty bankroll stakes nothing.
        TestCase {
            win_prob: 0.52,
            odds: 1.0,
            fraction: 0.25,
            bankroll_usdc: dec!(0),
            expected: Ok(dec!(0)),
        },
        // TC3: a negative bankroll names its flag.
        TestCase {
            win_prob: 0.52,
            odds: 1.0,
            fraction: 0.25,
            bankroll_usdc: dec!(-5),
            expected: Err("--bankroll"),
        },
        // TC4: over-betting beyond full Kelly is refused.
        TestCase {
            win_prob: 0.52,
            odds: 1.0,
            fraction: 1.5,
            bankroll_usdc: dec!(1000),
            expected: Err("kelly multiplier"),
        },
    ];
    for (i, case) in cases.iter().enumerate() {
        let args = kelly::Args {
            win_prob: case.win_prob,
            odds: case.odds,
            fraction: case.fraction,
            bankroll_usdc: case.bankroll_usdc,
        };
        match (kelly::execute(&args), &case.expected) {
            (Ok(k), Ok(want)) => assert_eq!(k.stake_usdc, *want, "TC{i}"),
            (Err(e), Err(needle)) => assert!(e.to_string().contains(needle), "TC{i}: {e}"),
            (got, want) => panic!("TC{i}: got {got:?}, want {want:?}"),
        }
    }
}
