//! The simulated venue's REST endpoints over real loopback HTTP: portfolio, rebalance,
//! idempotency, auth, returns, prices, inject, stats and HTTP faults.

mod sim_support;

use std::time::Duration;

use ballast::{
    secret::ApiKey,
    service::Service,
    sim::{FaultConfig, SimConfig},
    venue::protocol::{
        ErrorBody, PortfolioResponse, PricesResponse, RebalanceResponse, ReturnsResponse,
    },
};
use rust_decimal_macros::dec;
use serde_json::json;
use sim_support::{
    client, error_body, even_money_win, get, get_json, inject_ok, keyed_replies, post_json,
    post_keyed, quiet, start, stats,
};

#[tokio::test]
async fn portfolio_round_trip_and_not_found() {
    let sim = start(quiet()).await;
    let http = client();
    let base = sim.base_url();

    // The article's $1,000 agent on target, before any event.
    let response = get(&http, format!("{base}/agents/agent-1/portfolio")).await;
    assert_eq!(response.status(), 200);
    let portfolio: PortfolioResponse = response.json().await.expect("portfolio");
    assert_eq!(portfolio.balances(), sim.balances());
    assert_eq!(portfolio.casino_balance, dec!(200));
    assert_eq!(portfolio.seq, Some(0));

    // Another agent, an unknown path and a wrong method are ErrorBody JSON.
    let cases = [
        (
            http.get(format!("{base}/agents/agent-2/portfolio")),
            404,
            "agent_not_found",
        ),
        (http.get(format!("{base}/nope")), 404, "not_found"),
        (
            http.get(format!("http://{}/elsewhere", sim.addr())),
            404,
            "not_found",
        ),
        (
            http.get(format!("{base}/agents/agent-1/rebalance")),
            405,
            "method_not_allowed",
        ),
    ];
    for (index, (request, status, code)) in cases.into_iter().enumerate() {
        let response = request.send().await.expect("request");
        assert_eq!(response.status(), status, "TC{index}");
        assert_eq!(error_body(response).await.code, code, "TC{index}");
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn rebalance_moves_money_and_rejects_bad_requests_naming_the_field() {
    let sim = start(quiet()).await;
    let http = client();
    let url = format!("{}/agents/agent-1/rebalance", sim.base_url());
    let mut transfers = sim.subscribe_transfers();

    // Step 1: a decrease moves casino money into the reserve.
    let response = post_json(
        &http,
        &url,
        &json!({"service":"casino","direction":"decrease","amount_usdc":50,"reason":"post-win"}),
    )
    .await;
    assert_eq!(response.status(), 200);
    let applied: RebalanceResponse = response.json().await.expect("response");
    assert_eq!(applied.status, "applied");
    let after = applied.portfolio.expect("portfolio after");
    assert_eq!(after.casino_balance, dec!(150));
    assert_eq!(after.available_balance, dec!(150));
    assert_eq!(
        transfers.recv().await.expect("notified").transfer_id,
        applied.transfer_id
    );

    // Step 2: an increase moves it on into trading.
    let response = post_json(
        &http,
        &url,
        &json!({"service":"trading","direction":"increase","amount_usdc":25.5,"reason":"drift"}),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(sim.balance(Service::Trading), dec!(325.5));
    assert_eq!(sim.balance(Service::Reserve), dec!(124.5));

    // Step 3: every bad request is refused, names its field, and changes nothing.
    let cases = [
        (
            json!({"service":"escrow","direction":"decrease","amount_usdc":1000,"reason":"x"}),
            409,
            "insufficient_balance",
        ),
        (
            json!({"service":"wallet","direction":"increase","amount_usdc":500,"reason":"x"}),
            409,
            "insufficient_balance",
        ),
        (
            json!({"service":"reserve","direction":"increase","amount_usdc":1,"reason":"x"}),
            400,
            "`service`",
        ),
        (
            json!({"service":"casino","direction":"increase","amount_usdc":1.001,"reason":"x"}),
            400,
            "`amount_usdc`",
        ),
        (
            json!({"service":"casino","direction":"increase","amount_usdc":-1,"reason":"x"}),
            400,
            "`amount_usdc`",
        ),
        (
            json!({"service":"casino","direction":"increase","amount_usdc":0,"reason":"x"}),
            400,
            "`amount_usdc`",
        ),
        (
            json!({"service":"casino","direction":"increase","amount_usdc":"ten","reason":"x"}),
            400,
            "`amount_usdc`",
        ),
        (
            json!({"service":"casino","direction":"increase","amount_usdc":1}),
            400,
            "`reason`",
        ),
        (
            json!({"service":"casino","direction":"increase","amount_usdc":1,"reason":""}),
            400,
            "`reason`",
        ),
        (
            json!({"service":"bank","direction":"increase","amount_usdc":1,"reason":"x"}),
            400,
            "`service`",
        ),
        (
            json!({"service":"casino","direction":"sideways","amount_usdc":1,"reason":"x"}),
            400,
            "`direction`",
        ),
        (
            json!({"service":"casino","direction":"increase","amount_usdc":1,"reason":"x","extra":1}),
            400,
            "`extra`",
        ),
        (json!([1, 2]), 400, "object"),
    ];
    let before = sim.balances();
    for (index, (body, status, needle)) in cases.into_iter().enumerate() {
        let response = post_json(&http, &url, &body).await;
        assert_eq!(response.status(), status, "TC{index}");
        let error = error_body(response).await;
        assert!(
            error.code.contains(needle) || error.message.contains(needle),
            "TC{index}: {error:?} lacks {needle}"
        );
    }
    let response = http
        .post(&url)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 400);
    assert_eq!(sim.balances(), before);

    // Step 4: the venue recorded exactly the two transfers, in order, and saw the refusals.
    let recorded = sim.transfers();
    assert_eq!(recorded.len(), 2);
    assert_eq!(recorded[0].service, Service::Casino);
    assert_eq!(recorded[1].service, Service::Trading);
    assert!(recorded[0].seq < recorded[1].seq);
    let stats = sim.stats();
    assert_eq!(stats.applied_transfers, 2);
    assert_eq!(stats.rejected_requests, 14);
    assert!(stats.accounting.ok);
    sim.shutdown().await;
}

#[tokio::test]
async fn idempotent_replay_returns_the_first_result_and_changes_nothing() {
    let sim = start(quiet()).await;
    let http = client();
    let url = format!("{}/agents/agent-1/rebalance", sim.base_url());
    let body = json!({"service":"casino","direction":"decrease","amount_usdc":20,"reason":"leg-1"});

    // The same key and body, three times: one transfer, three identical replies.
    let replies = keyed_replies(&http, &url, "run-1/leg-1", &body, 3).await;
    assert!(replies.iter().all(|r| *r == replies[0]), "{replies:?}");
    assert_eq!(replies[0].0, 200);
    assert_eq!(sim.transfers().len(), 1);
    assert_eq!(sim.balance(Service::Casino), dec!(180));
    assert_eq!(
        sim.transfers()[0].idempotency_key.as_deref(),
        Some("run-1/leg-1")
    );

    // The same amount written differently is the same request.
    let same =
        json!({"service":"casino","direction":"decrease","amount_usdc":"20.00","reason":"leg-1"});
    let response = post_keyed(&http, &url, "run-1/leg-1", &same).await;
    assert_eq!(response.status(), 200);

    // The key reused for another request is refused.
    let other =
        json!({"service":"casino","direction":"decrease","amount_usdc":21,"reason":"leg-1"});
    let response = post_keyed(&http, &url, "run-1/leg-1", &other).await;
    assert_eq!(response.status(), 422);
    assert_eq!(error_body(response).await.code, "idempotency_key_reused");

    // A refused request is remembered too: its retry gets the same 409, not a fresh try.
    let too_much =
        json!({"service":"escrow","direction":"decrease","amount_usdc":101,"reason":"leg-2"});
    for _ in 0..2 {
        let response = post_keyed(&http, &url, "run-1/leg-2", &too_much).await;
        assert_eq!(response.status(), 409);
    }

    assert_eq!(sim.transfers().len(), 1);
    assert_eq!(sim.stats().idempotent_replays, 4);
    sim.shutdown().await;
}

#[tokio::test]
async fn api_key_guards_every_route() {
    let key = "sk-test-SENTINEL-123";
    let sim = start(SimConfig {
        api_key: ApiKey::new(key),
        ..quiet()
    })
    .await;
    let http = client();
    let base = sim.base_url();
    let portfolio = format!("{base}/agents/agent-1/portfolio");

    for (index, request) in [
        http.get(&portfolio),
        http.get(&portfolio).bearer_auth("wrong"),
        http.get(&portfolio).header("Authorization", key),
        http.get(format!("{base}/sim/stats")),
        http.post(format!("{base}/sim/inject"))
            .json(&json!({"type":"casino_win","amount_usdc":1})),
    ]
    .into_iter()
    .enumerate()
    {
        let response = request.send().await.expect("request");
        assert_eq!(response.status(), 401, "TC{index}");
        let body = response.text().await.expect("body");
        assert!(
            !body.contains("SENTINEL"),
            "TC{index}: the key leaked: {body}"
        );
        let error: ErrorBody = serde_json::from_str(&body).expect("ErrorBody");
        assert_eq!(error.code, "unauthorized", "TC{index}");
    }

    // The websocket upgrade is guarded too.
    let ws_url = format!("ws://{}/api/v1/agents/agent-1/events?since=0", sim.addr());
    match tokio_tungstenite::connect_async(ws_url).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 401)
        }
        other => panic!("expected 401, got {:?}", other.map(|_| ())),
    }

    // With the key, it works; nothing changed while unauthorized.
    let response = http
        .get(&portfolio)
        .bearer_auth(key)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    assert_eq!(sim.stats().last_seq, 0);
    sim.shutdown().await;
}

#[tokio::test]
async fn returns_prices_inject_and_stats() {
    let sim = start(quiet()).await;
    let http = client();
    let base = sim.base_url();

    // A year of daily returns for every service, at startup.
    let returns: ReturnsResponse = get_json(
        &http,
        format!("{base}/agents/agent-1/returns?days=365"),
        "returns",
    )
    .await;
    assert_eq!(returns.returns_by_service.len(), 6);
    for (service, series) in &returns.returns_by_service {
        assert_eq!(series.len(), 365, "{service}");
    }
    for bad in ["0", "abc", "-1", "99999"] {
        let response = get(&http, format!("{base}/agents/agent-1/returns?days={bad}")).await;
        assert_eq!(response.status(), 400, "days={bad}");
        assert!(error_body(response).await.message.contains("`days`"));
    }

    // Prices for the assets asked for, all positive; unknown assets are named.
    let prices: PricesResponse =
        get_json(&http, format!("{base}/prices?assets=BTC,eth"), "prices").await;
    assert_eq!(prices.prices.keys().collect::<Vec<_>>(), ["BTC", "ETH"]);
    assert!(prices.prices.values().all(|p| p.0 > dec!(0)));
    let response = get(&http, format!("{base}/prices?assets=BTC,DOGE")).await;
    assert_eq!(response.status(), 400);
    assert!(error_body(response).await.message.contains("DOGE"));

    // An injected win over HTTP answers with the announced frame and its portfolio.
    let frame = inject_ok(&http, &sim, &json!({"type":"casino_win","amount_usdc":150})).await;
    assert_eq!(frame.seq, 1);
    assert_eq!(frame.kind, even_money_win(dec!(150)));
    assert_eq!(
        frame.portfolio.expect("portfolio").casino_balance,
        dec!(350)
    );
    let inject = format!("{base}/sim/inject");
    let response = post_json(
        &http,
        &inject,
        &json!({"type":"casino_loss","amount_usdc":10000}),
    )
    .await;
    assert_eq!(response.status(), 409);
    let response = post_json(&http, &inject, &json!({"type":"casino_win","amount":1})).await;
    assert_eq!(response.status(), 400);
    assert!(error_body(response).await.message.contains("amount"));

    // Stats over HTTP equal the handle's, and count what happened.
    let stats = stats(&sim).await;
    assert!(stats.accounting.ok);
    assert_eq!(stats.accounting.income.casino_net_usdc, dec!(150));
    assert_eq!(stats.last_seq, 1);
    assert_eq!(
        stats.requests_by_endpoint["GET /api/v1/agents/{id}/returns"],
        5
    );
    assert_eq!(stats.requests_by_endpoint["POST /api/v1/sim/inject"], 3);
    assert_eq!(stats.rejected_requests, 7);
    assert_eq!(sim.stats().portfolio, stats.portfolio);
    sim.shutdown().await;
}

#[tokio::test]
async fn http_faults_throttle_fail_and_lose_acks() {
    // Step 1: every request throttled, with Retry-After; /sim is exempt.
    let sim = start(SimConfig {
        faults: "http429=1".parse::<FaultConfig>().expect("spec"),
        ..quiet()
    })
    .await;
    let http = client();
    let response = get(
        &http,
        format!("{}/agents/agent-1/portfolio", sim.base_url()),
    )
    .await;
    assert_eq!(response.status(), 429);
    assert_eq!(
        response.headers().get("retry-after").map(|v| v.as_bytes()),
        Some(&b"1"[..])
    );
    assert_eq!(error_body(response).await.code, "rate_limited");
    let stats = stats(&sim).await;
    assert_eq!(stats.faults_injected["http429"], 1);
    assert_eq!(stats.rejected_requests, 0);
    sim.shutdown().await;

    // Step 2: every request fails with 503 before it is processed.
    let sim = start(SimConfig {
        faults: "http5xx=1".parse::<FaultConfig>().expect("spec"),
        ..quiet()
    })
    .await;
    let response = post_json(
        &http,
        format!("{}/agents/agent-1/rebalance", sim.base_url()),
        &json!({"service":"casino","direction":"decrease","amount_usdc":5,"reason":"x"}),
    )
    .await;
    assert_eq!(response.status(), 503);
    assert!(sim.transfers().is_empty());
    sim.shutdown().await;

    // Step 3: the transfer is applied but the response never arrives; the client's
    // idempotent retry gets the first result, and the venue shows exactly one transfer.
    let sim = start(SimConfig {
        faults: "lost_ack=1".parse::<FaultConfig>().expect("spec"),
        ..quiet()
    })
    .await;
    let url = format!("{}/agents/agent-1/rebalance", sim.base_url());
    let body = json!({"service":"casino","direction":"decrease","amount_usdc":5,"reason":"x"});
    let lost = http
        .post(&url)
        .header("Idempotency-Key", "leg-1")
        .json(&body)
        .timeout(Duration::from_millis(300))
        .send()
        .await;
    assert!(lost.is_err_and(|e| e.is_timeout()));
    assert_eq!(sim.transfers().len(), 1);
    let retry = post_keyed(&http, &url, "leg-1", &body).await;
    assert_eq!(retry.status(), 200);
    let retry: RebalanceResponse = retry.json().await.expect("response");
    assert_eq!(retry.transfer_id, sim.transfers()[0].transfer_id);
    assert_eq!(sim.transfers().len(), 1);
    assert_eq!(sim.stats().faults_injected["lost_ack"], 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn invalid_configs_are_refused_naming_every_field() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let cfg = SimConfig {
        agent_id: "bad id/with slash".into(),
        speed: f64::NAN,
        ..quiet()
    };
    let error = ballast::sim::start(cfg, listener)
        .await
        .expect_err("invalid");
    let text = error.to_string();
    assert!(
        text.contains("agent_id") && text.contains("speed"),
        "{text}"
    );
}
