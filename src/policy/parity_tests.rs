//! The live policy against the backtester on the same path (policies and drawdown
//! protection), and replays of a recorded sequence.

use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use time::Duration;

use super::{
    kinds_tests::{ON_TARGET, T0, apply_and_report, drawdown_config, event, resync, tick},
    responses::{DrawdownConfig, FreedWeightTo},
    *,
};
use crate::{
    backtest::{
        N as BN, Row,
        engine::{BacktestConfig, NoEvents, PathInput, TargetsHook, TradeTrigger, run_path},
        observe::Recorder,
        paths::{PathSource, ServicesModel},
        policies::{PolicyParams, named_policy},
    },
    money::decimal_from_f64,
    observation::Happening,
    service::Service,
    testing::usdc,
};

/// Runs the backtester over `returns` with `hook`; its trade days with each trade's trigger
/// named as the live policy names it.
fn backtest_trades(
    config: &BacktestConfig,
    returns: &[Row],
    hook: &mut impl TargetsHook,
) -> Vec<(usize, &'static str)> {
    let mut recorder = Recorder::new(config.initial_usdc, 0.05, returns.len());
    run_path(
        config,
        PathInput {
            returns,
            flows_usdc: None,
        },
        &mut recorder,
        hook,
    );
    recorder
        .days
        .iter()
        .enumerate()
        .filter_map(|(day, d)| {
            d.trade.map(|t| {
                let trigger = match t.trigger {
                    TradeTrigger::Calendar => "calendar",
                    TradeTrigger::Threshold => "tick",
                    TradeTrigger::Event => "event",
                };
                (day, trigger)
            })
        })
        .collect()
}

/// Drives the live `policy` over `returns` from $1M on `targets`: day d's tick a minute after
/// T0 + d days, each plan applied and reported back; the decision days, named by `name`.
fn live_trades(
    policy: &mut PolicyState,
    targets: Row,
    returns: &[Row],
    name: impl Fn(&Decision) -> &'static str,
) -> Vec<(usize, &'static str)> {
    let mut balances = targets.map(|t| decimal_from_f64(t * 1_000_000.0, "b").expect("f"));
    policy.process(resync(balances, None));
    let mut got = Vec::new();
    for (day, r) in returns.iter().enumerate() {
        for i in 0..BN {
            let growth = decimal_from_f64(1.0 + r[i], "r").expect("finite");
            balances[i] = (balances[i] * growth).round_dp(2);
        }
        let at = T0 + Duration::days(day as i64) + Duration::minutes(1);
        if let Some(decision) = policy.process(tick(balances, at)) {
            got.push((day, name(&decision)));
            balances = apply_and_report(policy, balances, &decision, at);
        }
    }
    got
}

/// The live policy and the backtester decide on the same days, for the same reasons, on the
/// same simulated path: the live side in exact decimals with cent legs, ticks a day apart,
/// each plan applied and reported back; the backtester in `f64` without costs.
#[test]
fn the_live_policy_and_the_backtester_decide_identically() {
    let model = ServicesModel::default();
    let mut returns = vec![[0.0; BN]; 300];
    PathSource::Model(&model).fill(7, 0, &mut returns);
    let conservative: Row = [0.20, 0.30, 0.15, 0.15, 0.10, 0.10];
    let params = PolicyParams {
        band: 0.05,
        calendar_floor_days: 30,
        rebalance_to: RebalanceTo::Target,
    };
    struct TestCase {
        name: &'static str,
        live: PolicyConfig,
    }
    let base = PolicyConfig {
        min_trade_usdc: Decimal::ZERO,
        ..PolicyConfig::default()
    };
    let cases = [
        TestCase {
            name: "hybrid",
            live: base.clone(),
        },
        TestCase {
            name: "threshold",
            live: PolicyConfig {
                kind: PolicyKind::Threshold,
                ..base.clone()
            },
        },
        TestCase {
            name: "calendar-weekly",
            live: PolicyConfig {
                kind: PolicyKind::Calendar,
                calendar_days: 7,
                ..base.clone()
            },
        },
        TestCase {
            name: "calendar-daily",
            live: PolicyConfig {
                kind: PolicyKind::Calendar,
                calendar_days: 1,
                ..base.clone()
            },
        },
        TestCase {
            name: "volatility-adjusted",
            live: PolicyConfig {
                kind: PolicyKind::VolatilityAdjusted,
                ..base.clone()
            },
        },
    ];
    for case in &cases {
        // The backtester.
        let config = BacktestConfig {
            targets: conservative,
            rule: named_policy(case.name, &params).expect("named"),
            cost_bps: 0.0,
            min_trade_usdc: 0.0,
            initial_usdc: 1_000_000.0,
        };
        let expected = backtest_trades(&config, &returns, &mut NoEvents);
        let mut policy = PolicyState::new(case.live.clone(), TargetAllocation::conservative());
        let got = live_trades(&mut policy, conservative, &returns, |d| d.trigger.name());
        assert!(
            expected.len() >= 5,
            "{}: {} trades",
            case.name,
            expected.len()
        );
        assert_eq!(got, expected, "{}", case.name);
    }
}

/// With drawdown protection (a 10% threshold, so the path cuts and restores often) both
/// callers cut, restore and rebalance on the same days: the response is one implementation.
#[test]
fn the_live_policy_and_the_backtester_respond_to_drawdowns_identically() {
    use crate::backtest::events::DrawdownHook;
    let model = ServicesModel::default();
    let mut returns = vec![[0.0; BN]; 300];
    PathSource::Model(&model).fill(11, 0, &mut returns);
    let conservative: Row = [0.20, 0.30, 0.15, 0.15, 0.10, 0.10];
    let drawdown = DrawdownConfig {
        threshold: 0.10,
        cut_factor: 0.5,
        recovery: 0.03,
        restore_after_days: Some(20),
        freed_to: FreedWeightTo::ProRata,
    };
    let config = BacktestConfig {
        targets: conservative,
        rule: crate::policy::rules::RuleConfig::hybrid(
            crate::policy::rules::Band::Absolute { points: 0.05 },
            30,
            RebalanceTo::Target,
        ),
        cost_bps: 0.0,
        min_trade_usdc: 0.0,
        initial_usdc: 1_000_000.0,
    };
    let mut hook = DrawdownHook::new(conservative, drawdown);
    let expected = backtest_trades(&config, &returns, &mut hook);
    let mut policy = PolicyState::new(
        PolicyConfig {
            min_trade_usdc: Decimal::ZERO,
            drawdown: Some(drawdown),
            ..PolicyConfig::default()
        },
        TargetAllocation::conservative(),
    );
    let got = live_trades(&mut policy, conservative, &returns, |d| match d.trigger {
        Trigger::Adjusted { .. } => "event",
        _ => d.trigger.name(),
    });
    let events = expected.iter().filter(|(_, t)| *t == "event").count();
    assert!(events >= 4, "{events} cuts and restores: {expected:?}");
    assert_eq!(got, expected);
    assert_eq!(hook.protection.cuts, {
        let notices = policy.take_notices();
        notices
            .iter()
            .filter_map(|n| match n {
                Notice::TargetsAdjusted { adjustments, .. } => Some(
                    adjustments
                        .iter()
                        .filter(|a| matches!(a, Adjustment::DrawdownCut { .. }))
                        .count() as u64,
                ),
                _ => None,
            })
            .sum::<u64>()
    });
}

/// A recorded sequence replays to the same decisions byte for byte; a changed input does
/// not, and the replay says where.
#[test]
fn a_recording_replays_identically_and_a_changed_one_does_not() {
    let config = drawdown_config();
    let inputs = vec![
        resync(ON_TARGET, Some(1)),
        event(
            2,
            usdc![200, 225, 150, 150, 100, 100],
            Happening::Drawdown {
                service: Service::Trading,
                drawdown: dec!(0.25),
            },
        ),
        PolicyInput::PlanFinished {
            snapshot: None,
            at: T0 + Duration::hours(3),
            moved: true,
            interrupted: false,
        },
        tick(usdc![300, 150, 150, 150, 100, 150], T0 + Duration::days(1)),
    ];
    let record = |inputs: &[PolicyInput]| {
        let mut policy = PolicyState::new(config.clone(), TargetAllocation::conservative());
        let mut lines = vec![
            replay::RecordedLine::start(&config, &TargetAllocation::conservative(), None)
                .to_line()
                .expect("encodes"),
        ];
        for input in inputs {
            lines.push(
                replay::RecordedLine::input(input)
                    .to_line()
                    .expect("encodes"),
            );
            if let Some(decision) = policy.process(input.clone()) {
                lines.push(replay::decision_line(&decision).expect("encodes"));
            }
        }
        lines.join("\n")
    };
    let text = record(&inputs);
    let result = replay::replay(&text).expect("replays");
    assert_eq!((result.inputs, result.recorded_decisions), (4, 2));
    assert!(result.identical(), "{:?}", result.first_mismatch);
    // The tick's casino is changed after recording: the second decision differs.
    let changed = text.replacen(r#""casino":"300""#, r#""casino":"310""#, 1);
    assert_ne!(changed, text);
    let result = replay::replay(&changed).expect("replays");
    assert_eq!(result.first_mismatch.map(|m| m.index), Some(1));
    // A malformed line is named.
    let broken = format!("{text}\n{{\"kind\":\"event\"}}");
    assert!(
        replay::replay(&broken)
            .expect_err("bad line")
            .to_string()
            .starts_with("line 8: ")
    );
}
