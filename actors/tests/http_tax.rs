//! Story: an operator pauses a companion that harvests tax losses, through its HTTP API. A BTC
//! drop while paused is not harvested (nothing is sold; `/status` warns why); after `resume`
//! the next price move is, and `/status` lists the harvest and `/metrics` counts it.

#[path = "../../tests/common/mod.rs"]
mod common;
mod http_support;

use std::time::Duration;

use ballast::{sim::Injection, store::Store};
use common::{eventually, quiet_sim, settings_with};
use http_support::{TOKEN, client, control, status};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(20);

async fn btc_at(sim: &ballast::sim::SimHandle, price_usdc: Decimal) {
    sim.inject(Injection::Price {
        asset: "BTC".into(),
        price_usdc,
    })
    .await
    .expect("prices");
}

/// The warnings of `kind` in a status document.
fn warnings<'a>(status: &'a Value, kind: &str) -> Vec<&'a Value> {
    status["warnings"]
        .as_array()
        .expect("warnings")
        .iter()
        .filter(|w| w["kind"] == kind)
        .collect()
}

#[actix_rt::test]
async fn a_pause_holds_harvests_and_status_and_metrics_show_the_one_after_resume() {
    // Step 1: the agent holds 0.001 BTC bought at 95,000; the companion harvests.
    let sim = quiet_sim().await;
    sim.inject(Injection::ExternalBuy {
        asset: "BTC".into(),
        quantity: dec!(0.001),
    })
    .await
    .expect("buys");
    let validated = settings_with(&[("BALLAST__TAX__ENABLED", "true")]);
    let store = Store::open_in_memory().expect("store");
    let (system, base) = http_support::start(&sim, validated, store).await;
    assert_eq!(status(&base).await["harvests"], serde_json::json!([]));

    // Step 2: paused, a drop to 80,000 is a loss worth harvesting, but nothing is sold: the
    // harvest is refused for the operator's hold, and /status says so.
    let (code, body) = control(&base, "pause", Some(TOKEN), "tax review").await;
    assert_eq!(code, 200, "{body}");
    btc_at(&sim, dec!(80000)).await;
    let mut last = Value::Null;
    let warned = eventually(WAIT, async || {
        last = status(&base).await;
        !warnings(&last, "harvest_refused").is_empty()
    })
    .await;
    assert!(warned, "no harvest_refused warning: {last}");
    let message = warnings(&last, "harvest_refused")[0]["message"].clone();
    assert!(
        message
            .as_str()
            .is_some_and(|m| m.contains("BTC") && m.contains("paused by the operator")),
        "{message}"
    );
    assert_eq!(last["harvests"], serde_json::json!([]));
    assert_eq!(sim.stats().markets.wallet_sells, 0);

    // Step 3: resumed, the next move harvests: the lot is sold and ETH bought.
    let (code, body) = control(&base, "resume", Some(TOKEN), "done").await;
    assert_eq!(code, 200, "{body}");
    btc_at(&sim, dec!(79000)).await;
    let harvested = eventually(WAIT, async || {
        last = status(&base).await;
        last["harvests"].as_array().is_some_and(|h| h.len() == 1)
    })
    .await;
    assert!(harvested, "no harvest on /status: {last}");
    let harvest = &last["harvests"][0];
    assert_eq!(harvest["asset"], "BTC");
    assert_eq!(harvest["quantity"], "0.001");
    assert_eq!(harvest["substitute"], "ETH");
    assert_eq!(harvest["dry_run"], false);
    // Basis 95.10 against proceeds of 0.001 × 79,000 at the bid (78.92).
    assert_eq!(harvest["loss_usdc"], "16.18");
    assert!(
        harvest["harvest_id"]
            .as_str()
            // Named after the price event that prompted it (`v{venue}.e0.{seq}.xBTC@1`).
            .is_some_and(|id| id.contains(".e0.") && id.ends_with(".xBTC@1")),
        "{harvest}"
    );
    assert_eq!(last["metrics"]["tax"]["harvests"], 1);
    assert_eq!(sim.stats().markets.wallet_sells, 1);

    // Step 4: /metrics counts the harvest, its loss, and the refusal while paused.
    let text = client()
        .get(format!("{base}/metrics"))
        .send()
        .await
        .expect("scraped")
        .text()
        .await
        .expect("text");
    let value = |name: &str| -> f64 {
        text.lines()
            .find_map(|line| line.strip_prefix(&format!("{name} ")))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{name} missing:\n{text}"))
    };
    assert_eq!(value("ballast_harvests_total"), 1.0);
    assert_eq!(value("ballast_harvests_refused_total"), 1.0);
    assert_eq!(value("ballast_harvested_loss_usdc_total"), 16.18);
    common::stop(system, sim).await;
}
