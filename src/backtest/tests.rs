//! The backtester against the reference loop, hand-computed days, event responses,
//! Monte Carlo determinism, and properties.

use proptest::prelude::*;

use super::{
    HUB, N, Row,
    engine::{BacktestConfig, NoEvents, PathInput, TargetsHook, TradeTrigger, rebalance, run_path},
    events::{DrawdownConfig, DrawdownHook, FreedWeightTo, SpikeConfig, SpikeHook},
    montecarlo::{MonteCarloConfig, run_monte_carlo, summarize_policy},
    observe::Recorder,
    paths::{PathSource, ServicesModel, parse_returns_csv},
    policies::{PolicyParams, named_policy},
};
use crate::policy::rules::{Band, RebalanceTo, RuleConfig};

const CONSERVATIVE: Row = [0.20, 0.30, 0.15, 0.15, 0.10, 0.10];

/// The reference backtest's numbers on `services_3650.csv`, from the anchors' own script:
///
/// ```text
/// python3 -m venv target/bt-venv && target/bt-venv/bin/pip install numpy==2.4.6 pandas==3.1.1 scipy==1.17.1
/// # in a copy of ../shared/anchors/bench: numpy_loop(np.loadtxt('../data/services_3650.csv',
/// #   delimiter=',', skiprows=1)) with run_backtest.py's TARGETS, BAND, FLOOR_DAYS, COST
/// # -> (13231.692600678478, 164, 74001.9092780243); pandas_loop gives the same.
/// ```
const REFERENCE_FINAL_VALUE: f64 = 13231.692600678478;
const REFERENCE_REBALANCES: u64 = 164;
const REFERENCE_MOVED: f64 = 74001.9092780243;

fn reference_config() -> BacktestConfig {
    BacktestConfig {
        targets: CONSERVATIVE,
        rule: RuleConfig::hybrid(Band::Absolute { points: 0.05 }, 30, RebalanceTo::Target),
        cost_bps: 10.0,
        min_trade_usdc: 0.0,
        initial_usdc: 10_000.0,
    }
}

fn path(returns: &[Row]) -> PathInput<'_> {
    PathInput {
        returns,
        flows_usdc: None,
    }
}

#[test]
fn reproduces_the_reference_numpy_loop() {
    let text = include_str!("../../tests/data/anchors/data/services_3650.csv");
    let returns = parse_returns_csv(text).expect("anchor parses");
    assert_eq!(returns.len(), 3650);
    let out = run_path(&reference_config(), path(&returns), &mut (), &mut NoEvents);
    assert_eq!(out.rebalances, REFERENCE_REBALANCES);
    assert!((out.final_value_usdc / REFERENCE_FINAL_VALUE - 1.0).abs() < 1e-9);
    assert!((out.amount_moved_usdc / REFERENCE_MOVED - 1.0).abs() < 1e-9);
    // With an observer the trading is the same.
    let mut recorder = Recorder::new(10_000.0, 0.05, returns.len());
    let observed = run_path(
        &reference_config(),
        path(&returns),
        &mut recorder,
        &mut NoEvents,
    );
    assert_eq!(observed, out);
    assert_eq!(recorder.metrics(0.0).rebalances, REFERENCE_REBALANCES);
}

#[test]
fn hand_computed_days() {
    struct TestCase {
        config: BacktestConfig,
        returns: Vec<Row>,
        expected_rebalances: u64,
        expected_skipped: u64,
        expected_holdings: Row,
        expected_moved: f64,
    }
    // Half casino, half reserve, 5-point band, 10 bps.
    let half: Row = [0.5, 0.0, 0.0, 0.0, 0.0, 0.5];
    let base = BacktestConfig {
        targets: half,
        rule: RuleConfig::threshold(Band::Absolute { points: 0.05 }, RebalanceTo::Target),
        cost_bps: 10.0,
        min_trade_usdc: 0.0,
        initial_usdc: 10_000.0,
    };
    let up20_up10 = vec![
        [0.2, 0.0, 0.0, 0.0, 0.0, 0.0],
        [0.1, 0.0, 0.0, 0.0, 0.0, 0.0],
    ];
    let cases = [
        // TC0: +20% (casino 6000 of 11000: 54.5%, inside), +10% (6600 of 11600: 56.9%, out):
        // moved (800 + 800) / 2 = 800, cost 0.80, 11599.20 split in half.
        TestCase {
            config: base.clone(),
            returns: up20_up10.clone(),
            expected_rebalances: 1,
            expected_skipped: 0,
            expected_holdings: [5799.6, 0.0, 0.0, 0.0, 0.0, 5799.6],
            expected_moved: 800.0,
        },
        // TC1: the same with a 1,000 USDC minimum trade: the 800 leg is dropped, nothing moves.
        TestCase {
            config: BacktestConfig {
                min_trade_usdc: 1000.0,
                ..base.clone()
            },
            returns: up20_up10.clone(),
            expected_rebalances: 0,
            expected_skipped: 1,
            expected_holdings: [6600.0, 0.0, 0.0, 0.0, 0.0, 5000.0],
            expected_moved: 0.0,
        },
        // TC2: band edge: casino to 55% of 11600 = 6380, moved 220, cost 0.22, then
        // 11599.78 × (0.55, 0.45).
        TestCase {
            config: BacktestConfig {
                rule: RuleConfig::threshold(Band::Absolute { points: 0.05 }, RebalanceTo::BandEdge),
                ..base.clone()
            },
            returns: up20_up10.clone(),
            expected_rebalances: 1,
            expected_skipped: 0,
            expected_holdings: [11599.78 * 0.55, 0.0, 0.0, 0.0, 0.0, 11599.78 * 0.45],
            expected_moved: 220.0,
        },
        // TC3: every other day on a flat path: day 2 trades, moving nothing but counted
        // (no minimum trade, as the reference loop).
        TestCase {
            config: BacktestConfig {
                rule: RuleConfig::calendar(2),
                ..base.clone()
            },
            returns: vec![[0.0; N]; 3],
            expected_rebalances: 0,
            expected_skipped: 1,
            expected_holdings: [5000.0, 0.0, 0.0, 0.0, 0.0, 5000.0],
            expected_moved: 0.0,
        },
        // TC4: buy-and-hold: just the returns.
        TestCase {
            config: BacktestConfig {
                rule: RuleConfig::buy_and_hold(),
                ..base.clone()
            },
            returns: up20_up10,
            expected_rebalances: 0,
            expected_skipped: 0,
            expected_holdings: [6600.0, 0.0, 0.0, 0.0, 0.0, 5000.0],
            expected_moved: 0.0,
        },
    ];
    for (index, case) in cases.iter().enumerate() {
        let out = run_path(&case.config, path(&case.returns), &mut (), &mut NoEvents);
        assert_eq!(out.rebalances, case.expected_rebalances, "TC{index}");
        assert_eq!(out.skipped_rebalances, case.expected_skipped, "TC{index}");
        for (a, b) in out.final_holdings_usdc.iter().zip(case.expected_holdings) {
            assert!(
                (a - b).abs() < 1e-9,
                "TC{index}: {:?}",
                out.final_holdings_usdc
            );
        }
        assert!(
            (out.amount_moved_usdc - case.expected_moved).abs() < 1e-9,
            "TC{index}"
        );
        assert!(
            (out.costs_usdc - case.expected_moved * 0.001).abs() < 1e-9,
            "TC{index}"
        );
    }
}

#[test]
fn cash_flows_are_added_after_the_returns() {
    let returns = vec![[0.1, 0.0, 0.0, 0.0, 0.0, 0.0]];
    let flows = vec![[0.0, 0.0, 0.0, 0.0, 0.0, 500.0]];
    let config = BacktestConfig {
        rule: RuleConfig::buy_and_hold(),
        ..reference_config()
    };
    let out = run_path(
        &config,
        PathInput {
            returns: &returns,
            flows_usdc: Some(&flows),
        },
        &mut (),
        &mut NoEvents,
    );
    assert!((out.final_holdings_usdc[0] - 2200.0).abs() < 1e-9);
    assert!((out.final_holdings_usdc[HUB] - 1500.0).abs() < 1e-9);
}

/// A path on which the narrower band trades once and the wider one every day: the two reset
/// at different levels, so a wider band can be crossed again and again inside the narrower
/// one's window. "A wider band never trades more often" holds for the first trade and on
/// average (below), not on every path.
#[test]
fn a_wider_band_can_trade_more_often_on_an_adversarial_path() {
    let casino = |r: f64| [r, 0.0, 0.0, 0.0, 0.0, 0.0];
    let mut returns = vec![casino(0.25), casino(0.2)];
    for _ in 0..5 {
        returns.push(casino(1.04 / 1.5 - 1.0));
        returns.push(casino(1.5 / 1.04 - 1.0));
    }
    let run = |points: f64| {
        let config = BacktestConfig {
            targets: [0.5, 0.0, 0.0, 0.0, 0.0, 0.5],
            rule: RuleConfig::threshold(Band::Absolute { points }, RebalanceTo::Target),
            cost_bps: 0.0,
            min_trade_usdc: 0.0,
            initial_usdc: 10_000.0,
        };
        run_path(&config, path(&returns), &mut (), &mut NoEvents).rebalances
    };
    assert_eq!(run(0.05), 1);
    assert_eq!(run(0.09), 11);
}

#[test]
fn wider_bands_trade_less_on_average() {
    let model = ServicesModel::default();
    let policies: Vec<BacktestConfig> = [0.02, 0.04, 0.06, 0.08, 0.10]
        .iter()
        .map(|points| BacktestConfig {
            rule: RuleConfig::threshold(Band::Absolute { points: *points }, RebalanceTo::Target),
            ..reference_config()
        })
        .collect();
    let mc = MonteCarloConfig {
        paths: 24,
        days: 365,
        seed: 11,
        risk_free_rate: 0.0,
        measure_band: 0.05,
    };
    let results = run_monte_carlo(&policies, PathSource::Model(&model), &mc, &|| {}).unwrap();
    let means: Vec<f64> = results
        .iter()
        .map(|r| summarize_policy(r).rebalances.unwrap().mean)
        .collect();
    assert!(means.windows(2).all(|w| w[0] > w[1]), "{means:?}");
}

#[test]
fn monte_carlo_is_the_same_on_any_thread_count() {
    let model = ServicesModel::default();
    let params = PolicyParams {
        band: 0.05,
        calendar_floor_days: 30,
        rebalance_to: RebalanceTo::Target,
    };
    let policies: Vec<BacktestConfig> = ["hybrid", "volatility-adjusted"]
        .iter()
        .map(|name| BacktestConfig {
            rule: named_policy(name, &params).unwrap(),
            ..reference_config()
        })
        .collect();
    let mc = MonteCarloConfig {
        paths: 12,
        days: 200,
        seed: 5,
        risk_free_rate: 0.045,
        measure_band: 0.05,
    };
    let run = |threads| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| run_monte_carlo(&policies, PathSource::Model(&model), &mc, &|| {}))
            .unwrap()
    };
    let one = run(1);
    assert_eq!(one, run(2));
    assert_eq!(one, run(3));
    assert_eq!(one[0].len(), 12);
}

fn drawdown(freed_to: FreedWeightTo) -> DrawdownConfig {
    DrawdownConfig {
        threshold: 0.20,
        cut_factor: 0.5,
        recovery: 0.05,
        restore_after_days: None,
        freed_to,
    }
}

#[test]
fn drawdown_protection_cuts_and_restores() {
    // Casino falls 25% (cut: 20% → 10%, the 10 points to the reserve), then recovers to
    // within 5% of its peak (restored).
    let mut hook = DrawdownHook::new(CONSERVATIVE, drawdown(FreedWeightTo::Reserve));
    let mut targets = CONSERVATIVE;
    let h = [0.0; N];
    let casino = |r: f64| [r, 0.0, 0.0, 0.0, 0.0, 0.0];
    assert!(!hook.on_day(0, &casino(-0.10), &h, &mut targets));
    assert!(hook.on_day(1, &casino(-1.0 / 6.0), &h, &mut targets));
    assert!((targets[0] - 0.10).abs() < 1e-12 && (targets[HUB] - 0.20).abs() < 1e-12);
    assert!(!hook.on_day(2, &casino(0.1), &h, &mut targets));
    assert!(hook.on_day(3, &casino(0.2), &h, &mut targets));
    assert_eq!(targets, CONSERVATIVE);
    assert_eq!((hook.protection.cuts, hook.protection.restores), (1, 1));
    // Pro rata: the freed 10 points go to the other services in proportion to their targets.
    let mut hook = DrawdownHook::new(CONSERVATIVE, drawdown(FreedWeightTo::ProRata));
    let mut targets = CONSERVATIVE;
    assert!(hook.on_day(0, &casino(-0.3), &h, &mut targets));
    assert!((targets[1] - (0.30 + 0.10 * 0.30 / 0.80)).abs() < 1e-12);
    assert!((targets.iter().sum::<f64>() - 1.0).abs() < 1e-12);
}

#[test]
fn volatility_spike_switches_and_switches_back() {
    let conservative: Row = [0.05, 0.15, 0.10, 0.20, 0.25, 0.25];
    let mut hook = SpikeHook::new(
        CONSERVATIVE,
        conservative,
        SpikeConfig {
            window: 5,
            history: 40,
            ratio: 2.0,
            calm_ratio: 1.2,
        },
    );
    let mut targets = CONSERVATIVE;
    let h = [100.0; N];
    let all = |r: f64| [r; N];
    let mut switches = Vec::new();
    // 40 calm days (±0.5%), 5 wild (±5%), 40 calm again.
    let days: Vec<f64> = (0..85)
        .map(|d| {
            let size = if (40..45).contains(&d) { 0.05 } else { 0.005 };
            if d % 2 == 0 { size } else { -size }
        })
        .collect();
    for (day, r) in days.iter().enumerate() {
        if hook.on_day(day, &all(*r), &h, &mut targets) {
            switches.push((day, hook.spike.active()));
        }
    }
    assert_eq!(switches.first().map(|s| s.1), Some(true));
    assert!(switches.first().unwrap().0 >= 40 && switches.first().unwrap().0 < 45);
    assert_eq!(switches.last().map(|s| s.1), Some(false));
    assert_eq!(targets, CONSERVATIVE);
}

#[test]
fn event_hooks_rebalance_through_the_engine() {
    // Casino −30% on day 0: the cut makes the engine trade at once, on an event.
    let returns = vec![[-0.3, 0.0, 0.0, 0.0, 0.0, 0.0]];
    let mut hook = DrawdownHook::new(CONSERVATIVE, drawdown(FreedWeightTo::Reserve));
    let mut recorder = Recorder::new(10_000.0, 0.05, 1);
    let out = run_path(
        &reference_config(),
        path(&returns),
        &mut recorder,
        &mut hook,
    );
    assert_eq!(out.rebalances, 1);
    let day = recorder.days[0];
    assert_eq!(day.trade.map(|t| t.trigger), Some(TradeTrigger::Event));
    assert!((day.weights[0] - 0.10).abs() < 1e-12);
}

fn row_strategy(lo: f64, hi: f64) -> impl Strategy<Value = Row> {
    prop::array::uniform6(lo..hi)
}

proptest! {
    #[test]
    fn prop_rebalancing_conserves_value_except_costs_and_respects_the_minimum(
        holdings in row_strategy(0.0, 5000.0),
        band_edge in any::<bool>(),
        min_trade in 0.0f64..200.0,
        cost_bps in 0.0f64..100.0,
    ) {
        let total: f64 = holdings.iter().sum();
        prop_assume!(total > 1.0);
        let weights = holdings.map(|h| h / total);
        let rule = RuleConfig::threshold(Band::Absolute { points: 0.05 }, if band_edge { RebalanceTo::BandEdge } else { RebalanceTo::Target });
        let state = crate::policy::rules::RuleState { days_since_rebalance: 0, vol_index: 0.5 };
        let Some(decision) = rule.decide(&state, &weights, &CONSERVATIVE) else { return Ok(()) };
        let desired = rule.desired_weights(&decision, &state, &weights, &CONSERVATIVE, HUB);
        let mut h = holdings;
        match rebalance(&mut h, total, &desired.weights, min_trade, cost_bps / 10_000.0) {
            None => prop_assert_eq!(h, holdings),
            Some((moved, cost)) => {
                let after: f64 = h.iter().sum();
                prop_assert!((after - (total - cost)).abs() <= 1e-9 * total);
                prop_assert!((cost - moved * cost_bps / 10_000.0).abs() <= 1e-12 * total);
                // A service either keeps its holding or its leg was at least the minimum
                // (or the hub could not fund the drops, and every leg traded).
                let kept: f64 = (0..N).filter(|j| *j != HUB).map(|j| {
                    let l = (holdings[j] - total * desired.weights[j]).abs();
                    if l > 0.0 && l < min_trade { holdings[j] } else { total * desired.weights[j] }
                }).sum();
                let unfunded = total - kept < 0.0;
                for i in (0..N).filter(|i| *i != HUB) {
                    let leg = (holdings[i] - total * desired.weights[i]).abs();
                    let ok = h[i] == holdings[i] || leg >= min_trade || leg == 0.0 || unfunded;
                    prop_assert!(ok, "service {} leg {} below {}", i, leg, min_trade);
                }
            }
        }
    }

    #[test]
    fn prop_buy_and_hold_never_trades(
        returns in prop::collection::vec(row_strategy(-0.5, 0.5), 1..200),
    ) {
        let config = BacktestConfig { rule: RuleConfig::buy_and_hold(), ..reference_config() };
        let out = run_path(&config, path(&returns), &mut (), &mut NoEvents);
        prop_assert_eq!(out.rebalances + out.skipped_rebalances, 0);
        for i in 0..N {
            let grown = returns.iter().fold(10_000.0 * CONSERVATIVE[i], |h, r| h * (1.0 + r[i]));
            prop_assert!((out.final_holdings_usdc[i] - grown).abs() <= 1e-9 * grown.max(1.0));
        }
    }

    #[test]
    fn prop_a_wider_band_never_trades_first(
        returns in prop::collection::vec(row_strategy(-0.2, 0.2), 1..120),
        narrow in 0.01f64..0.10,
        extra in 0.0f64..0.10,
    ) {
        // Until the first trade both portfolios are the same, and a breach of the wider band
        // is a breach of the narrower: the wider band's first trade is never earlier.
        let first_trade = |points: f64| {
            let config = BacktestConfig { rule: RuleConfig::threshold(Band::Absolute { points }, RebalanceTo::Target), ..reference_config() };
            let mut recorder = Recorder::new(10_000.0, 0.05, returns.len());
            run_path(&config, path(&returns), &mut recorder, &mut NoEvents);
            recorder.days.iter().position(|d| d.trade.is_some())
        };
        let (n, w) = (first_trade(narrow), first_trade(narrow + extra));
        prop_assert!(w.is_none() || n.is_some_and(|n| n <= w.unwrap()));
    }
}
