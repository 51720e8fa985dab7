//! Story: an operator watches a running companion through its HTTP API. A scrape of
//! `/metrics` taken during an end-to-end run (a large win and its rebalance, against the
//! simulated venue over loopback) parses as Prometheus text and agrees with `/status`; the
//! probes answer; control needs the token; and a pause holds a large win until resume.

#[path = "../../tests/common/mod.rs"]
mod common;
mod http_support;

use std::{collections::BTreeMap, time::Duration};

use ballast::{service::Service, store::Store};
use common::{default_settings, eventually, quiet_sim, settings_with, summary_when};
use http_support::{TOKEN, control, get_json, status};
use prometheus_parse::{Sample, Scrape, Value as PromValue};
use rust_decimal::{Decimal, prelude::ToPrimitive};
use rust_decimal_macros::dec;
use serde_json::Value;

fn decimal(value: &Value) -> f64 {
    value
        .as_str()
        .and_then(|text| text.parse::<Decimal>().ok())
        .and_then(|d| d.to_f64())
        .unwrap_or_else(|| value.as_f64().unwrap_or(f64::NAN))
}

/// The value of a gauge or counter sample.
fn scalar(sample: &Sample) -> f64 {
    match &sample.value {
        PromValue::Gauge(v) | PromValue::Counter(v) | PromValue::Untyped(v) => *v,
        other => panic!("{} is not a scalar: {other:?}", sample.metric),
    }
}

/// `metric{label=key}` for every key, from the scrape.
fn by_label(scrape: &Scrape, metric: &str, label: &str) -> BTreeMap<String, f64> {
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == metric)
        .map(|s| (s.labels.get(label).expect("labelled").to_owned(), scalar(s)))
        .collect()
}

fn single(scrape: &Scrape, metric: &str) -> f64 {
    let samples: Vec<&Sample> = scrape
        .samples
        .iter()
        .filter(|s| s.metric == metric)
        .collect();
    assert_eq!(samples.len(), 1, "{metric}");
    scalar(samples[0])
}

#[actix_rt::test]
async fn a_metrics_scrape_during_a_run_parses_and_agrees_with_status() {
    // Step 1: a quiet venue and the companion with its API.
    let sim = quiet_sim().await;
    let (system, base) = http_support::start_default(&sim).await;
    let ready = eventually(Duration::from_secs(10), async || {
        get_json(&format!("{base}/ready")).await.0 == 200
    })
    .await;
    assert!(ready, "never ready");
    assert_eq!(get_json(&format!("{base}/health")).await.0, 200);

    // Step 2: a large win, and the rebalance it triggers.
    common::win(&sim, dec!(176.47)).await;
    summary_when(&system, Duration::from_secs(10), "no rebalance", |s| {
        s.rebalances >= 1
    })
    .await;
    // The board hears the plan's end through the bus, a moment after the recorder may.
    let settled = eventually(Duration::from_secs(10), async || {
        let status = status(&base).await;
        status["recent_plans"][0]["status"] == "done"
            && status["counters"]["event_to_order_seconds"]["count"] == 1
    })
    .await;
    assert!(settled, "{}", status(&base).await);

    // Step 3: scrape, then read the status; nothing moves in between on a quiet venue.
    let response = http_support::client()
        .get(format!("{base}/metrics"))
        .send()
        .await
        .expect("scraped");
    assert!(
        response.headers()["content-type"]
            .to_str()
            .expect("text")
            .starts_with("text/plain; version=0.0.4")
    );
    let text = response.text().await.expect("body");
    let scrape = Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).expect("Prometheus text");
    let status = status(&base).await;

    // Step 4: every per-service gauge matches the status's allocation.
    let allocation = &status["allocation"];
    let services = allocation["services"].as_array().expect("services");
    assert_eq!(services.len(), Service::ALL.len());
    for (metric, field) in [
        ("ballast_balance_usdc", "balance_usdc"),
        ("ballast_weight", "weight"),
        ("ballast_target_weight", "target"),
        ("ballast_band", "band"),
        ("ballast_drift", "drift"),
    ] {
        let scraped = by_label(&scrape, metric, "service");
        for line in services {
            let service = line["service"].as_str().expect("name");
            assert_eq!(
                scraped[service],
                decimal(&line[field]),
                "{metric}{{{service}}}"
            );
        }
    }
    assert_eq!(
        single(&scrape, "ballast_portfolio_value_usdc"),
        decimal(&allocation["total_usdc"])
    );
    assert_eq!(single(&scrape, "ballast_portfolio_value_usdc"), 1176.47);

    // Step 5: counters match the run's metrics and the board's counters.
    let metrics = &status["metrics"];
    let events = by_label(&scrape, "ballast_events_total", "kind");
    let expected_events: BTreeMap<String, f64> = metrics["events_by_type"]
        .as_object()
        .expect("map")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_f64().expect("count")))
        .collect();
    assert_eq!(events, expected_events);
    assert_eq!(events["casino_win"], 1.0);
    let legs = by_label(&scrape, "ballast_legs_total", "outcome");
    assert_eq!(
        legs["applied"],
        metrics["legs_applied"].as_f64().expect("n")
    );
    assert_eq!(legs["failed"], metrics["legs_failed"].as_f64().expect("n"));
    assert!(legs["applied"] >= 1.0);
    assert_eq!(
        by_label(&scrape, "ballast_plans_total", "trigger")["large_win"],
        status["counters"]["plans_by_trigger"]["large_win"]
            .as_f64()
            .expect("n")
    );
    assert_eq!(
        by_label(&scrape, "ballast_rebalances_total", "trigger")["large_win"],
        1.0
    );
    assert_eq!(
        single(&scrape, "ballast_turnover_usdc_total"),
        decimal(&metrics["turnover_usdc"])
    );
    assert_eq!(
        single(&scrape, "ballast_last_event_seq"),
        status["last_event_seq"].as_f64().expect("seq")
    );
    assert_eq!(single(&scrape, "ballast_gate_open"), 1.0);
    assert_eq!(single(&scrape, "ballast_stream_connected"), 1.0);
    assert_eq!(
        by_label(&scrape, "ballast_control_mode", "mode"),
        BTreeMap::from([
            ("halted".to_owned(), 0.0),
            ("paused".to_owned(), 0.0),
            ("running".to_owned(), 1.0)
        ])
    );
    assert_eq!(
        by_label(&scrape, "ballast_risk_refusals_total", "limit"),
        BTreeMap::from([
            ("max_daily_turnover_usdc".to_owned(), 0.0),
            ("max_leg_usdc".to_owned(), 0.0)
        ])
    );

    // Step 6: the latency histogram: one large win, one first leg.
    let histogram = scrape
        .samples
        .iter()
        .find(|s| s.metric == "ballast_event_to_order_seconds")
        .expect("the histogram");
    let PromValue::Histogram(buckets) = &histogram.value else {
        panic!("not a histogram: {:?}", histogram.value);
    };
    let infinite = buckets
        .iter()
        .find(|b| b.less_than.is_infinite())
        .expect("+Inf bucket");
    assert_eq!(infinite.count, 1.0);
    assert_eq!(
        status["counters"]["event_to_order_seconds"]["count"]
            .as_f64()
            .expect("count"),
        1.0
    );

    // Step 7: the status names the plan's reason and each leg's fate.
    let plan = &status["recent_plans"][0];
    assert_eq!(plan["trigger"], "large_win");
    assert!(
        plan["reason"]
            .as_str()
            .expect("reason")
            .starts_with("casino won 176.47 USDC"),
        "{plan}"
    );
    assert!(
        plan["legs"]
            .as_array()
            .expect("legs")
            .iter()
            .all(|leg| leg["status"] == "applied")
    );
    assert_eq!(status["control"]["mode"], "running");
    assert_eq!(status["hedges"], serde_json::json!([]));
    common::stop(system, sim).await;
}

#[actix_rt::test]
async fn control_needs_the_token_and_a_pause_holds_a_win_until_resume() {
    let sim = quiet_sim().await;
    let store = Store::open_in_memory().expect("store");
    let (system, base) = http_support::start(&sim, default_settings(), store.clone()).await;

    // Without the token: 401 with a challenge; with another: 403; nothing changes.
    let response = http_support::client()
        .post(format!("{base}/control/halt"))
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status().as_u16(), 401);
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    let (code, body) = control(&base, "halt", Some("not-the-token"), "").await;
    assert_eq!(code, 403, "{body}");
    assert!(!body.to_string().contains(TOKEN));
    let (code, _) = control(&base, "explode", Some(TOKEN), "").await;
    assert_eq!(code, 404);
    assert_eq!(status(&base).await["control"]["mode"], "running");
    assert_eq!(store.last_control().await.expect("reads"), None);

    // Pause: a large win plans nothing, and a rebalance is refused while paused.
    let (code, body) = control(&base, "pause", Some(TOKEN), "maintenance").await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["mode"], "paused");
    common::win(&sim, dec!(176.47)).await;
    summary_when(&system, Duration::from_secs(10), "win not seen", |s| {
        s.events_by_type.get("casino_win") == Some(&1)
    })
    .await;
    let (code, body) = control(&base, "rebalance", Some(TOKEN), "").await;
    assert_eq!(code, 409, "{body}");
    // The detector has handled the win (the recorder saw it first); give the executor a
    // moment in which it would have sent a leg.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(sim.transfers().is_empty(), "a paused companion traded");

    // Resume: the win that waited is rebalanced.
    let (code, body) = control(&base, "resume", Some(TOKEN), "done").await;
    assert_eq!(code, 200, "{body}");
    let summary = summary_when(
        &system,
        Duration::from_secs(10),
        "no rebalance after resume",
        |s| s.rebalances >= 1,
    )
    .await;
    assert_eq!(summary.rebalances_by_trigger.get("large_win"), Some(&1));
    assert!(!sim.transfers().is_empty());
    let recorded = store
        .last_control()
        .await
        .expect("reads")
        .expect("recorded");
    assert_eq!(
        (recorded.command.name(), recorded.by.as_str()),
        ("resume", "test")
    );
    let actions = status(&base).await["recent_control"]
        .as_array()
        .expect("list")
        .len();
    assert_eq!(actions, 2, "pause and resume");
    common::stop(system, sim).await;
}

#[actix_rt::test]
async fn each_operator_rebalance_is_a_plan_of_its_own_also_after_a_restart() {
    // Plans are named after their trigger, a request after the last venue event seen and its
    // reason. An operator's rebalance is refused by a risk limit (nothing moves, so no venue
    // event follows); the operator raises the limit, restarts and asks again in the same
    // words: a new action, traded, not taken for the refused one.
    let sim = quiet_sim().await;
    let store = Store::open_in_memory().expect("store");
    // Off target without an event (nothing triggers by itself).
    sim.adjust_unannounced(Service::Casino, dec!(60))
        .expect("adjusts");
    let runs = [
        // A relative cap refuses (an absolute one would split the legs under it).
        (
            settings_with(&[("BALLAST__RISK__MAX_LEG_FRACTION", "0.001")]),
            0,
        ),
        (default_settings(), 1),
    ];
    for (run, (settings, traded)) in runs.into_iter().enumerate() {
        let (system, base) = http_support::start(&sim, settings, store.clone()).await;
        let (code, body) = control(&base, "rebalance", Some(TOKEN), "drift").await;
        assert_eq!(code, 200, "{body}");
        let summary = summary_when(
            &system,
            Duration::from_secs(10),
            "the operator's rebalance was not planned",
            |s| {
                s.rebalances_by_trigger.contains_key("request")
                    || s.legs_failed > 0
                    || s.plans_dropped > 0
            },
        )
        .await;
        assert_eq!(summary.plans_dropped, 0, "run {run}: {summary:?}");
        assert_eq!(
            summary.rebalances_by_trigger.get("request").copied(),
            (traded > 0).then_some(traded),
            "run {run}: {summary:?}"
        );
        system
            .shutdown(Duration::from_secs(5))
            .await
            .expect("stops");
    }
    assert!(!sim.transfers().is_empty(), "the second request traded");
    let plans = store.status().await.expect("status").recent_plans;
    let requests: Vec<&str> = plans
        .iter()
        .filter(|plan| plan.trigger == "request")
        .map(|plan| plan.plan_id.as_str())
        .collect();
    assert_eq!(requests.len(), 2, "{plans:?}");
    assert_ne!(requests[0], requests[1]);
    sim.shutdown().await;
}
