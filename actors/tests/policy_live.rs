//! The live policy end to end against the simulated venue over loopback: a scripted drawdown
//! cuts the service's target and the cut is restored after recovery; a scripted volatility
//! burst switches to the conservative targets and back; a recorded run replays through the
//! same policy to the same decisions, byte for byte; `ballast status` shows the run's
//! metrics and adjustments.
//!
//! Daily checks are driven by sending `Tick`s to `Handles::ticks` (the Clock's own path), so
//! a test runs as many days as it needs without waiting for the wall clock.

#[path = "../../tests/common/mod.rs"]
mod common;

use std::{
    path::PathBuf,
    process::Command,
    sync::{Arc, Mutex},
    time::Duration,
};

use ballast::{
    policy::{Adjustment, Notice, replay::replay},
    service::Service,
    sim::{Injection, SimHandle},
    store::Store,
};
use ballast_actors::{
    messages::{Event, Tick},
    metrics::Summary,
    settings::Validated,
    system::RunningSystem,
};
use common::{builder_at, quiet_sim, settings_with, stop, summary_when, weights};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

const LIMIT: Duration = Duration::from_secs(10);

/// The target adjustments seen on the bus, in order.
#[derive(Debug, Default)]
struct Seen(Vec<Adjustment>);

/// Keeps the target adjustments (a [`common::Collector`]'s record).
fn adjustments(seen: &mut Seen, event: Event) {
    if let Event::Noticed(noticed) = event
        && let Notice::TargetsAdjusted { adjustments, .. } = &*noticed.notice
    {
        seen.0.extend(adjustments.iter().cloned());
    }
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("ballast-policy-live-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir.join(name)
}

async fn start(
    sim: &SimHandle,
    validated: Validated,
    store: Store,
    record: Option<&PathBuf>,
) -> (RunningSystem, Arc<Mutex<Seen>>) {
    let (seen, subscribe) = common::collecting(adjustments);
    let mut builder = builder_at(&sim.base_url(), validated, store).add_actor(subscribe);
    if let Some(path) = record {
        builder = builder.record_events(path);
    }
    let system = common::start_synced(builder).await;
    (system, seen)
}

fn kinds(seen: &Arc<Mutex<Seen>>) -> Vec<&'static str> {
    seen.lock()
        .expect("not poisoned")
        .0
        .iter()
        .map(Adjustment::name)
        .collect()
}

/// Waits until the venue's `service` holds `weight` of the portfolio (within 0.5 points).
async fn weight_reaches(sim: &SimHandle, service: Service, weight: Decimal) {
    let reached = common::eventually(LIMIT, async || {
        (weights(&sim.balances())[service.index()] - weight).abs() < dec!(0.005)
    })
    .await;
    assert!(
        reached,
        "{service:?} never reached {weight}: {:?}",
        weights(&sim.balances())
    );
}

/// Injects `injection` and waits until the one rebalance it triggers, of kind `trigger`, is
/// counted; returns the summary then.
async fn rebalanced_after(
    sim: &SimHandle,
    system: &RunningSystem,
    injection: Injection,
    trigger: &str,
) -> Summary {
    sim.inject(injection).await.expect("injects");
    summary_when(system, LIMIT, &format!("no {trigger} rebalance"), |s| {
        s.rebalances_by_trigger.get(trigger) == Some(&1)
    })
    .await
}

#[actix_rt::test]
async fn a_drawdown_cuts_the_target_and_recovery_restores_it() {
    // Step 1: a quiet venue on target, the default policy (drawdown protection on: 20%
    // threshold, cut in half, restored within 5% of the peak, freed weight to the reserve).
    let sim = quiet_sim().await;
    let store = Store::open_in_memory().expect("store");
    let (system, seen) = start(&sim, settings_with(&[]), store.clone(), None).await;

    // Step 2: trading falls 25%: its target is cut from 30% to 15% and the portfolio
    // rebalanced to it, the freed 15 points in the reserve (25%).
    rebalanced_after(
        &sim,
        &system,
        Injection::Drawdown {
            service: Service::Trading,
            drawdown: dec!(0.25),
        },
        "drawdown_cut",
    )
    .await;
    weight_reaches(&sim, Service::Trading, dec!(0.15)).await;
    weight_reaches(&sim, Service::Reserve, dec!(0.25)).await;
    assert_eq!(kinds(&seen), ["drawdown_cut"]);

    // Step 3: trading recovers 30% (0.75 × 1.3 = 97.5% of its peak, within 5%): restored.
    let trading = sim.balance(Service::Trading);
    let summary = rebalanced_after(
        &sim,
        &system,
        Injection::MarkToMarket {
            service: Service::Trading,
            change_usdc: (trading * dec!(0.3)).round_dp(2),
        },
        "drawdown_restore",
    )
    .await;
    weight_reaches(&sim, Service::Trading, dec!(0.30)).await;
    weight_reaches(&sim, Service::Reserve, dec!(0.10)).await;
    assert_eq!(kinds(&seen), ["drawdown_cut", "drawdown_restore"]);
    assert_eq!(
        summary.target_adjustments.get("drawdown_restore"),
        Some(&1),
        "{summary:?}"
    );

    // Step 4: both are on record with their reasons, and the plans with their triggers.
    let recorded = common::eventually(LIMIT, async || {
        store
            .run_performance()
            .await
            .expect("reads")
            .is_some_and(|p| p.adjustments.len() == 2)
    })
    .await;
    assert!(recorded);
    let performance = store.run_performance().await.expect("reads").expect("run");
    assert_eq!(performance.adjustments[0].kind, "drawdown_cut");
    assert!(
        performance.adjustments[0]
            .reason
            .starts_with("trading target cut 30.0% → 15.0% because it fell 25.0% from its peak"),
        "{}",
        performance.adjustments[0].reason
    );
    assert_eq!(performance.adjustments[1].kind, "drawdown_restore");
    assert!(
        performance.adjustments[1]
            .reason
            .starts_with("trading target restored 15.0% → 30.0% because it recovered"),
        "{}",
        performance.adjustments[1].reason
    );
    let status = store.status().await.expect("status");
    let triggers: Vec<&str> = status
        .recent_plans
        .iter()
        .map(|p| p.trigger.as_str())
        .collect();
    assert!(triggers.contains(&"drawdown_cut") && triggers.contains(&"drawdown_restore"));
    stop(system, sim).await;
}

/// Moves the whole portfolio by `r` with one mark per service except the reserve (which
/// cannot be marked), in proportion to their balances; returns the events injected.
async fn move_portfolio(sim: &SimHandle, r: Decimal) -> u64 {
    let balances = sim.balances();
    let total: Decimal = balances.values().copied().sum();
    let risky: Decimal = Service::TRADABLE.iter().map(|s| balances[*s]).sum();
    let mut injected = 0;
    for service in Service::TRADABLE {
        let change = (r * total * balances[service] / risky).round_dp(2);
        if change.is_zero() {
            continue;
        }
        sim.inject(Injection::MarkToMarket {
            service,
            change_usdc: change,
        })
        .await
        .expect("injects");
        injected += 1;
    }
    injected
}

/// Closes one day: waits until the companion has taken `events` venue events, sends the
/// daily tick, and waits until the day is in the metrics.
async fn close_day(system: &RunningSystem, events: u64, day: u64) -> Summary {
    summary_when(system, LIMIT, "events not taken", |s| {
        s.events_seen >= events
    })
    .await;
    system
        .handles
        .ticks
        .try_send(Tick {
            at: system.handles.time.now(),
        })
        .expect("tick delivered");
    summary_when(system, LIMIT, "day not closed", |s| {
        s.performance.as_ref().is_some_and(|p| p.days > day)
    })
    .await
}

#[actix_rt::test]
async fn a_volatility_burst_switches_to_conservative_targets_and_back() {
    // Step 1: the spike response on a short history (2 recent days against 10), drawdown
    // protection off so the burst's −10% day is only volatility; the run's days and
    // adjustments in a store file `ballast status` will read.
    let sim = quiet_sim().await;
    let path = scratch("burst.db");
    let _ = std::fs::remove_file(&path);
    let store = Store::open(&path).expect("store");
    let validated = settings_with(&[
        ("BALLAST__POLICY__DRAWDOWN__ENABLED", "false"),
        ("BALLAST__POLICY__VOL_SPIKE__WINDOW", "2"),
        ("BALLAST__POLICY__VOL_SPIKE__HISTORY", "10"),
    ]);
    let (system, seen) = start(&sim, validated, store, None).await;

    // Step 2: eight calm days (±1%), then +10% and −10%: on the tenth day the last two
    // days' volatility (10%) is above twice the ten days' (4.6%): conservative targets.
    let moves = [
        dec!(0.01),
        dec!(-0.01),
        dec!(0.01),
        dec!(-0.01),
        dec!(0.01),
        dec!(-0.01),
        dec!(0.01),
        dec!(-0.01),
        dec!(0.1),
        dec!(-0.1),
    ];
    let mut events = system.summary().await.expect("summary").events_seen;
    for (day, r) in moves.iter().enumerate() {
        events += move_portfolio(&sim, *r).await;
        let summary = close_day(&system, events, day as u64).await;
        events = summary.events_seen;
    }
    let summary = summary_when(&system, LIMIT, "no spike", |s| {
        s.rebalances_by_trigger.get("vol_spike") == Some(&1)
    })
    .await;
    assert_eq!(kinds(&seen), ["vol_spike"]);
    weight_reaches(&sim, Service::Reserve, dec!(0.25)).await;
    weight_reaches(&sim, Service::Casino, dec!(0.10)).await;
    events = summary.events_seen;

    // Step 3: a calm day (+1%): the last two days' volatility (5.5%) is under 1.5 × the
    // history's: back to the base targets.
    events += move_portfolio(&sim, dec!(0.01)).await;
    close_day(&system, events, moves.len() as u64).await;
    summary_when(&system, LIMIT, "no calm", |s| {
        s.rebalances_by_trigger.get("vol_calm") == Some(&1)
    })
    .await;
    assert_eq!(kinds(&seen), ["vol_spike", "vol_calm"]);
    weight_reaches(&sim, Service::Reserve, dec!(0.10)).await;
    weight_reaches(&sim, Service::Casino, dec!(0.20)).await;
    let summary = system.summary().await.expect("summary");
    let performance = summary.performance.as_ref().expect("metrics");
    assert_eq!(performance.days, 11);
    assert!(
        performance.volatility.is_some_and(|v| v > 0.5),
        "{performance:?}"
    );
    stop(system, sim).await;

    // Step 4: `ballast status` shows the run's metrics and the two adjustments with reasons.
    let output = Command::new(env!("CARGO_BIN_EXE_ballast"))
        .args(["status", "--store"])
        .arg(&path)
        .env_remove("RUST_LOG")
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{text}");
    assert!(text.contains("performance run "), "{text}");
    assert!(text.contains("over 11 day(s)"), "{text}");
    assert!(text.contains("tracking error "), "{text}");
    assert!(
        text.contains("[vol_spike] conservative targets because"),
        "{text}"
    );
    assert!(
        text.contains("[vol_calm] base targets restored because"),
        "{text}"
    );
    let output = Command::new(env!("CARGO_BIN_EXE_ballast"))
        .args(["--json", "status", "--store"])
        .arg(&path)
        .env_remove("RUST_LOG")
        .output()
        .expect("runs");
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("one document");
    assert_eq!(json["performance"]["metrics"]["days"], 11);
    assert_eq!(json["performance"]["adjustments"][0]["kind"], "vol_spike");
    let _ = std::fs::remove_file(&path);
}

#[actix_rt::test]
async fn a_recorded_run_replays_to_the_same_decisions() {
    // Step 1: a run recording its policy's inputs: a large win, a drawdown and its
    // recovery, a referral payment and a few daily checks.
    let sim = quiet_sim().await;
    let path = scratch("recorded.jsonl");
    let (system, _) = start(
        &sim,
        settings_with(&[]),
        Store::open_in_memory().expect("store"),
        Some(&path),
    )
    .await;
    common::win(&sim, dec!(150)).await;
    summary_when(&system, LIMIT, "no post-win rebalance", |s| {
        s.rebalances_by_trigger.get("large_win") == Some(&1)
    })
    .await;
    rebalanced_after(
        &sim,
        &system,
        Injection::Drawdown {
            service: Service::Domains,
            drawdown: dec!(0.3),
        },
        "drawdown_cut",
    )
    .await;
    rebalanced_after(
        &sim,
        &system,
        Injection::ReferralIncome {
            amount_usdc: dec!(20),
            source_service: Service::Casino,
        },
        "referral_income",
    )
    .await;
    let mut events = system.summary().await.expect("summary").events_seen;
    for day in 0..3 {
        events += u64::from(
            sim.inject(Injection::MarkToMarket {
                service: Service::Casino,
                change_usdc: dec!(-12.5),
            })
            .await
            .is_ok(),
        );
        events = close_day(&system, events, day).await.events_seen;
    }
    let summary = system.summary().await.expect("summary");
    stop(system, sim).await;

    // Step 2: the replay through a fresh policy decides exactly as the run did.
    let text = std::fs::read_to_string(&path).expect("recorded");
    let result = replay(&text).expect("replays");
    assert!(result.recorded_decisions >= 3, "{summary:?}");
    assert!(result.identical(), "{:?}", result.first_mismatch);
    let recorded: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix(ballast::policy::replay::DECISION_PREFIX))
        .map(|l| l.strip_suffix('}').expect("closed"))
        .collect();
    assert_eq!(recorded, result.decisions);

    // Step 3: the same through the command.
    let output = Command::new(env!("CARGO_BIN_EXE_ballast"))
        .args(["--json", "backtest", "--events"])
        .arg(&path)
        .env_remove("RUST_LOG")
        .output()
        .expect("runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("one document");
    assert_eq!(json["identical"], true);
    assert_eq!(json["recorded_decisions"], result.recorded_decisions);
    assert_eq!(json["days_closed"], 3);
    assert_eq!(
        json["target_adjustments"][0]["adjustments"][0]["kind"],
        "drawdown_cut"
    );

    // Step 4: an altered recording is caught: the first decision's input changes.
    let altered = text.replacen("\"amount_usdc\":\"150", "\"amount_usdc\":\"1", 1);
    assert_ne!(altered, text);
    std::fs::write(&path, altered).expect("writes");
    let output = Command::new(env!("CARGO_BIN_EXE_ballast"))
        .args(["backtest", "--events"])
        .arg(&path)
        .env_remove("RUST_LOG")
        .output()
        .expect("runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("differs from the recording"), "{stderr}");
    let _ = std::fs::remove_file(&path);
}
