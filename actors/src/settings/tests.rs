//! Settings tests: layers, unknown keys, and every problem named under its key.

use std::{io::Write, path::PathBuf, time::Duration};

use ballast::{
    math::returns::CovarianceMethod, optimizer::OptimizerMethod, service::Service,
    targets::TargetAllocation,
};
use rust_decimal::Decimal;

use super::*;

fn load(toml: &str, env: &[(&str, &str)]) -> Result<Validated, ConfigError> {
    // One directory per call: tests run in parallel and each removes its own.
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("ballast-settings-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("test.toml");
    std::fs::File::create(&path)
        .and_then(|mut f| f.write_all(toml.as_bytes()))
        .expect("writes");
    let env = env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned()));
    let result = Settings::load_with_env(&[path], env).and_then(Settings::validate);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// A configuration (a file and environment variables) that must be refused, and a fragment
/// of the error that names the field.
struct Refusal {
    toml: &'static str,
    env: &'static [(&'static str, &'static str)],
    expected_fragment: &'static str,
}

/// Asserts that every case fails to load and its error names the field.
fn assert_refused(cases: &[Refusal]) {
    for (i, case) in cases.iter().enumerate() {
        let error = load(case.toml, case.env).expect_err(&format!("TC{i} must fail"));
        let text = error.to_string();
        assert!(text.contains(case.expected_fragment), "TC{i}: {text}");
    }
}

/// The defaults alone, validated.
fn defaults() -> Validated {
    Settings::load_with_env(&[], Vec::new())
        .and_then(Settings::validate)
        .expect("defaults validate")
}

#[test]
fn the_defaults_are_valid() {
    let validated = defaults();
    assert_eq!(validated.targets, TargetAllocation::conservative());
    assert_eq!(validated.policy.bands.absolute, Decimal::new(5, 2));
    assert_eq!(validated.optimizer.method, OptimizerMethod::Fixed);
    assert_eq!(validated.optimizer.risk_free_rate, 0.045);
    assert_eq!(
        (validated.optimizer.bound_lo, validated.optimizer.bound_hi),
        (0.01, 0.80)
    );
    assert!(validated.optimizer.black_litterman.views.is_empty());
}

#[test]
fn bad_config_names_the_field() {
    let cases = [
        // TC0: targets summing to 0.9.
        Refusal {
            toml: "[targets]\ncasino = 0.10\n",
            env: &[],
            expected_fragment: "targets",
        },
        // TC1: an unknown service.
        Refusal {
            toml: "[targets]\npoker = 0.0\n",
            env: &[],
            expected_fragment: "poker",
        },
        // TC2: a negative threshold.
        Refusal {
            toml: "[policy]\nband = -0.05\n",
            env: &[],
            expected_fragment: "policy.band",
        },
        // TC3: an unknown key.
        Refusal {
            toml: "[policy]\nbnad = 0.05\n",
            env: &[],
            expected_fragment: "bnad",
        },
        // TC4: a bad value from the environment.
        Refusal {
            toml: "",
            env: &[("BALLAST__CLOCK__TICK_UTC", "25:00")],
            expected_fragment: "clock.tick_utc",
        },
        // TC5: a wrong type.
        Refusal {
            toml: "[sim]\nspeed = \"fast\"\n",
            env: &[],
            expected_fragment: "speed",
        },
        // TC6: an unknown optimizer method.
        Refusal {
            toml: "[optimizer]\nmethod = \"magic\"\n",
            env: &[],
            expected_fragment: "magic",
        },
        // TC7: bounds six services cannot sum to 1 under.
        Refusal {
            toml: "[optimizer]\nbound_lo = 0.2\n",
            env: &[],
            expected_fragment: "optimizer.bound_lo",
        },
        // TC8: a cap below 1/6.
        Refusal {
            toml: "",
            env: &[("BALLAST__OPTIMIZER__BOUND_HI", "0.1")],
            expected_fragment: "optimizer.bound_hi",
        },
        // TC9: over-betting.
        Refusal {
            toml: "[optimizer]\nkelly_multiplier = 1.5\n",
            env: &[],
            expected_fragment: "optimizer.kelly_multiplier",
        },
        // TC10: too short a history.
        Refusal {
            toml: "[optimizer]\nlookback_days = 3\n",
            env: &[],
            expected_fragment: "optimizer.lookback_days",
        },
        // TC11: a view naming an unknown service.
        Refusal {
            toml: "[[optimizer.black_litterman.views]]\nportfolio = { poker = 1.0 }\nexpected_return = 0.1\n",
            env: &[],
            expected_fragment: "optimizer.black_litterman.views[0].portfolio.poker",
        },
        // TC12: a view confidence above 1.
        Refusal {
            toml: "[[optimizer.black_litterman.views]]\nportfolio = { trading = 1.0 }\nexpected_return = 0.1\nconfidence = 2.0\n",
            env: &[],
            expected_fragment: "optimizer.black_litterman.views[0].confidence",
        },
        // TC13: risk parity holds the reserve, whose target is under the floor.
        Refusal {
            toml: "[optimizer]\nmethod = \"risk-parity\"\nbound_lo = 0.12\n",
            env: &[],
            expected_fragment: "targets.reserve",
        },
        // TC14: an unknown covariance estimator.
        Refusal {
            toml: "[optimizer]\ncovariance = \"shrunk\"\n",
            env: &[],
            expected_fragment: "shrunk",
        },
        // TC15: a spike ratio that is not above 1.
        Refusal {
            toml: "[optimizer.vol_spike]\nratio = 0.5\n",
            env: &[],
            expected_fragment: "optimizer.vol_spike.ratio",
        },
        // TC16: an unknown policy kind.
        Refusal {
            toml: "[policy]\nkind = \"monthly\"\n",
            env: &[],
            expected_fragment: "monthly",
        },
        // TC17: a calendar that never comes round.
        Refusal {
            toml: "[policy]\nkind = \"calendar\"\ncalendar_days = 0\n",
            env: &[],
            expected_fragment: "policy.calendar_days",
        },
        // TC18: no band at all.
        Refusal {
            toml: "[policy]\nband = 0.0\n",
            env: &[],
            expected_fragment: "policy.band: 0 needs a relative_band",
        },
        // TC19: a recovery at or beyond the threshold would restore at once.
        Refusal {
            toml: "[policy.drawdown]\nrecovery = 0.3\n",
            env: &[],
            expected_fragment: "policy.drawdown.recovery",
        },
        // TC20: an unknown home for freed weight.
        Refusal {
            toml: "[policy.drawdown]\nfreed_to = \"casino\"\n",
            env: &[],
            expected_fragment: "casino",
        },
        // TC21: no hysteresis.
        Refusal {
            toml: "",
            env: &[("BALLAST__POLICY__VOL_SPIKE__CALM_RATIO", "2.5")],
            expected_fragment: "policy.vol_spike.calm_ratio",
        },
        // TC22: conservative targets that do not sum to 1, named under their section.
        Refusal {
            toml: "[policy.vol_spike.targets]\ncasino = 0.5\n",
            env: &[],
            expected_fragment: "policy.vol_spike.targets",
        },
        // TC23: a volatility-adjusted band needs its base.
        Refusal {
            toml: "[policy]\nkind = \"volatility-adjusted\"\nband = 0.0\nrelative_band = 0.25\n",
            env: &[],
            expected_fragment: "policy.band: 0 must be above 0 for kind",
        },
    ];
    assert_refused(&cases);
}

#[test]
fn the_live_example_loads() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../config/live.example.toml");
    let validated = Settings::load_with_env(&[path], Vec::new())
        .and_then(Settings::validate)
        .expect("the example validates");
    assert_eq!(validated.settings.venue.mode, VenueMode::Remote);
    assert_eq!(validated.optimizer.method, OptimizerMethod::Fixed);
}

#[test]
fn optimizer_settings_load_with_views() {
    let validated = load(
        "[optimizer]\nmethod = \"black-litterman\"\ncovariance = \"ledoit-wolf\"\n\
         min_interval_secs = 0\n\
         [[optimizer.black_litterman.views]]\nportfolio = { trading = 1.0, wallet = -1.0 }\n\
         expected_return = 0.05\nconfidence = 0.6\n",
        &[("BALLAST__OPTIMIZER__KELLY_MULTIPLIER", "0.5")],
    )
    .expect("valid");
    let optimizer = &validated.optimizer;
    assert_eq!(optimizer.method, OptimizerMethod::BlackLitterman);
    assert_eq!(optimizer.covariance, CovarianceMethod::LedoitWolf);
    assert_eq!(optimizer.kelly_multiplier, 0.5);
    assert_eq!(optimizer.min_interval, Duration::ZERO);
    let view = &optimizer.black_litterman.views[0];
    assert_eq!(view.portfolio[Service::Trading], 1.0);
    assert_eq!(view.portfolio[Service::Wallet], -1.0);
    assert_eq!(view.portfolio[Service::Casino], 0.0);
    assert_eq!(view.confidence, Some(0.6));
}

#[test]
fn policy_kinds_and_event_responses_load() {
    use ballast::policy::{
        PolicyKind,
        responses::FreedWeightTo,
        rules::{Band, RuleConfig},
    };
    // The defaults: the hybrid, both event responses on.
    let defaults = load("", &[]).expect("valid");
    let policy = &defaults.policy;
    assert_eq!(policy.kind, PolicyKind::Hybrid);
    assert_eq!(
        policy.rule(),
        RuleConfig::hybrid(
            Band::Absolute {
                points: Decimal::new(5, 2)
            },
            30,
            Default::default()
        )
    );
    let drawdown = policy.drawdown.expect("on by default");
    assert_eq!((drawdown.threshold, drawdown.cut_factor), (0.20, 0.5));
    let spike = policy.vol_spike.as_ref().expect("on by default");
    assert_eq!((spike.spike.window, spike.spike.history), (10, 30));
    assert_eq!(spike.targets.weight(Service::Reserve), Decimal::new(25, 2));
    // A weekly calendar with the band switched off for a relative one, pro-rata cuts restored
    // after 7 days, no spike response.
    let validated = load(
        "[policy]\nkind = \"calendar\"\ncalendar_days = 7\nband = 0.0\nrelative_band = 0.25\n\
         [policy.drawdown]\nfreed_to = \"pro-rata\"\nrestore_after_days = 7\n\
         [policy.vol_spike]\nenabled = false\n",
        &[],
    )
    .expect("valid");
    let policy = &validated.policy;
    assert_eq!(policy.rule(), RuleConfig::calendar(7));
    assert_eq!(
        policy.band(),
        Band::Relative {
            fraction: Decimal::new(25, 2)
        }
    );
    let drawdown = policy.drawdown.expect("on");
    assert_eq!(
        (drawdown.freed_to, drawdown.restore_after_days),
        (FreedWeightTo::ProRata, Some(7))
    );
    assert!(policy.vol_spike.is_none());
    // Off is off.
    let off = load("", &[("BALLAST__POLICY__DRAWDOWN__ENABLED", "false")]).expect("valid");
    assert!(off.policy.drawdown.is_none());
}

#[test]
fn all_problems_are_reported_at_once() {
    let error = load("[policy]\nband = 2.0\nmin_trade_usdc = -1.0\n", &[]).expect_err("fails");
    assert_eq!(error.0.len(), 2, "{error}");
}

#[test]
fn the_environment_overrides_files() {
    let validated = load(
        "[policy]\nband = 0.04\n",
        &[("BALLAST__POLICY__BAND", "0.03")],
    )
    .expect("valid");
    assert_eq!(validated.policy.bands.absolute, Decimal::new(3, 2));
}

#[test]
fn tax_settings_load_and_name_their_keys() {
    use ballast::tax::{DisposalMethod, WashRule};
    // The defaults: off, FIFO, the article's substitutes, a 30-day window.
    let defaults = defaults();
    assert!(!defaults.settings.tax.enabled);
    assert_eq!(defaults.tax.method, DisposalMethod::Fifo);
    assert_eq!(defaults.tax.wash, WashRule::Window { days: 30 });
    assert_eq!(defaults.tax.substitutes_of("XMR"), ["BTC".to_owned()]);
    assert_eq!(defaults.tax.trade_cost_rate, Decimal::new(1, 3));
    // A file switches it on, changes the method, and maps SOL to two substitutes; the
    // `none` jurisdiction turns the wash-sale rule off; the environment sets the rate.
    let validated = load(
        "[tax]\nenabled = true\nmethod = \"hifo\"\njurisdiction = \"none\"\n\
         [tax.substitutes]\nSOL = [\"ETH\", \"BTC\"]\n",
        &[("BALLAST__TAX__RATE", "0.37")],
    )
    .expect("valid");
    assert!(validated.settings.tax.enabled);
    assert_eq!(validated.tax.method, DisposalMethod::Hifo);
    assert_eq!(validated.tax.wash, WashRule::None);
    assert_eq!(validated.tax.rate, Decimal::new(37, 2));
    assert_eq!(
        validated.tax.substitutes_of("SOL"),
        ["ETH".to_owned(), "BTC".to_owned()]
    );
    // Bad values name their keys, all at once.
    let error = load(
        "[tax]\nrate = 24\nwash_sale_days = 0\nmethod = \"lifo\"\n",
        &[],
    )
    .expect_err("fails");
    assert!(error.to_string().contains("lifo"), "{error}");
    let error = load(
        "[tax]\nrate = 24\nwash_sale_days = 0\n[tax.substitutes]\nBTC = [\"BTC\"]\n",
        &[],
    )
    .expect_err("fails");
    let text = error.to_string();
    for key in ["tax.rate", "tax.wash_sale_days", "tax.substitutes.BTC"] {
        assert!(text.contains(key), "{key}: {text}");
    }
    let error = load("[tax]\nharvest = true\n", &[]).expect_err("fails");
    assert!(
        error.to_string().contains("unknown key `tax.harvest`"),
        "{error}"
    );
}

#[test]
fn environment_values_take_the_type_of_their_key() {
    // A string key keeps digits as written; a number key still parses.
    let validated = load(
        "",
        &[
            ("BALLAST__VENUE__AGENT_ID", "007"),
            ("BALLAST__POLICY__BAND", "0.04"),
            ("BALLAST__EXECUTOR__DRY_RUN", "true"),
            ("BALLAST__TARGETS__CASINO", "0.2"),
        ],
    )
    .expect("valid");
    assert_eq!(validated.settings.venue.agent_id, "007");
    assert_eq!(validated.policy.bands.absolute, Decimal::new(4, 2));
    assert!(validated.settings.executor.dry_run);
}

#[test]
fn hedge_settings_load_off_by_default_and_bad_ones_name_their_key() {
    let validated = defaults();
    assert!(!validated.hedge.enabled, "hedging must be off by default");
    assert_eq!(validated.hedge.threshold, Decimal::new(10, 2));
    assert_eq!(validated.hedge.market, "BTC-PERP");
    let cases = [
        // TC0: a threshold of 10 points written as 10.
        Refusal {
            toml: "[hedge]\nthreshold = 10\n",
            env: &[],
            expected_fragment: "hedge.threshold: 10 must be in (0, 1)",
        },
        // TC1: an unknown ratio method.
        Refusal {
            toml: "[hedge]\nratio = \"beta\"\n",
            env: &[],
            expected_fragment: "beta",
        },
        // TC2: a correlation floor above 1, from the environment.
        Refusal {
            toml: "",
            env: &[("BALLAST__HEDGE__MIN_CORRELATION", "1.5")],
            expected_fragment: "hedge.min_correlation",
        },
        // TC3: an unknown key of the section.
        Refusal {
            toml: "[hedge]\nleverage = 3\n",
            env: &[],
            expected_fragment: "hedge.leverage",
        },
        // TC4: the simulated venue's correlation out of range.
        Refusal {
            toml: "[sim]\ncasino_btc_correlation = 1.0\n",
            env: &[],
            expected_fragment: "sim.casino_btc_correlation",
        },
    ];
    assert_refused(&cases);
}
