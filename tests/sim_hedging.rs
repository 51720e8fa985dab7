//! What the simulated venue gives a hedger, over real loopback HTTP: locks on withdrawals
//! (reported, enforced, released), an order's status by its key, a perp market's daily
//! returns, a close's funding, and a casino whose returns follow BTC with a configured
//! correlation that an estimate recovers within its standard error.
//!
//! Every venue here is quiet and its clock barely moves; time passes only by `advance`.

mod sim_support;

use ballast::{
    execution::KeyStatus,
    math::hedge::min_variance_hedge,
    service::Service,
    sim::{CasinoParams, LockParams, SimConfig, SimHandle},
    venue::protocol::{
        ClosePositionResponse, MarketReturnsResponse, OrderBody, OrderType, PortfolioResponse,
        PositionSide, ReturnsResponse,
    },
};
use rust_decimal::{Decimal, prelude::ToPrimitive};
use rust_decimal_macros::dec;
use serde_json::json;
use sim_support::{
    assert_refused, client,
    clients::{markets_client, venue_client},
    get, get_json, inject_ok, post_json, post_keyed, start, stats, still,
};

async fn portfolio(sim: &SimHandle) -> PortfolioResponse {
    let url = format!("{}/agents/agent-1/portfolio", sim.base_url());
    get_json(&client(), url, "portfolio").await
}

fn casino_decrease(amount_usdc: Decimal) -> serde_json::Value {
    json!({"service": "casino", "direction": "decrease", "amount_usdc": amount_usdc, "reason": "test"})
}

#[tokio::test]
async fn a_lock_is_reported_enforced_and_released() {
    let sim = start(still()).await;
    let http = client();
    let rebalance = format!("{}/agents/agent-1/rebalance", sim.base_url());
    // Step 1: nothing locked: the portfolio has no `locked_usdc` at all (old replies).
    let text = get(
        &http,
        format!("{}/agents/agent-1/portfolio", sim.base_url()),
    )
    .await
    .text()
    .await
    .expect("body");
    assert!(!text.contains("locked_usdc"), "{text}");
    // Step 2: 150 of the casino's 200 locked for 48 hours.
    inject_ok(
        &http,
        &sim,
        &json!({"type": "lock", "service": "casino", "amount_usdc": 150, "hours": 48}),
    )
    .await;
    let held = portfolio(&sim).await;
    assert_eq!(held.locked()[Service::Casino], dec!(150));
    let snapshot = held.to_snapshot().expect("valid");
    assert_eq!(snapshot.free_usdc(Service::Casino), dec!(50));
    // Step 3: a decrease above the free 50 is refused, naming the field and what is free.
    assert_refused(
        post_json(&http, &rebalance, &casino_decrease(dec!(60))).await,
        409,
        "funds_locked",
        "`amount_usdc`",
        "above the free part",
    )
    .await;
    // Step 4: the free part moves.
    let moved = post_json(&http, &rebalance, &casino_decrease(dec!(50))).await;
    assert_eq!(moved.status(), 200);
    // Step 5: it is released at the end of the first simulated hour after its 48 hours
    // (the clock stood a few seconds past 12:00), and everything may move.
    sim.advance(48).await.expect("advances");
    assert_eq!(portfolio(&sim).await.locked()[Service::Casino], dec!(150));
    sim.advance(1).await.expect("advances");
    assert!(portfolio(&sim).await.locked_usdc.is_empty());
    let moved = post_json(&http, &rebalance, &casino_decrease(dec!(150))).await;
    assert_eq!(moved.status(), 200);
    let stats = stats(&sim).await;
    assert_eq!(
        (
            stats.locks.placed,
            stats.locks.released,
            stats.locks.refused_decreases
        ),
        (1, 1, 1)
    );
    assert!(stats.accounting.ok, "{:?}", stats.accounting);
    // Bad locks are refused, naming the field.
    assert_refused(
        post_json(
            &http,
            format!("{}/sim/inject", sim.base_url()),
            &json!({"type": "lock", "service": "reserve", "amount_usdc": 1, "hours": 1}),
        )
        .await,
        400,
        "bad_request",
        "`service`",
        "the reserve",
    )
    .await;
    sim.shutdown().await;
}

#[tokio::test]
async fn a_large_win_locks_its_winnings_when_configured() {
    let sim = start(SimConfig {
        locks: LockParams {
            after_large_win_hours: 48,
            ..LockParams::default()
        },
        ..still()
    })
    .await;
    let frame = sim
        .inject(ballast::sim::Injection::CasinoWin {
            amount_usdc: dec!(231),
        })
        .await
        .expect("injects");
    // The win's own frame already carries the lock: the whole bankroll is in play.
    let locked = frame.portfolio.expect("balances").locked();
    assert_eq!(locked[Service::Casino], dec!(431));
    assert_eq!(portfolio(&sim).await.locked()[Service::Casino], dec!(431));
    sim.advance(49).await.expect("advances");
    assert!(portfolio(&sim).await.locked_usdc.is_empty());
    sim.shutdown().await;
}

#[tokio::test]
async fn an_order_is_found_by_its_key_and_a_close_reports_its_funding() {
    let sim = start(still()).await;
    let markets = markets_client(&sim);
    let order = OrderBody {
        agent_id: String::new(),
        market: "BTC-PERP".into(),
        side: PositionSide::Short,
        notional_usdc: dec!(100),
        leverage: 2,
        order_type: OrderType::Market,
        purpose: "rebalance_hedge".into(),
        limit_price: None,
    };
    // Unknown before it is sent.
    assert!(matches!(
        markets.order_status("r1:h1:open").await,
        Ok(KeyStatus::NeverArrived)
    ));
    let sent = markets.order(&order, "r1:h1:open").await.expect("fills");
    match markets.order_status("r1:h1:open").await {
        Ok(KeyStatus::Applied(reply)) => assert_eq!(reply, sent),
        other => panic!("{other:?}"),
    }
    // A refused order's key says so (margin above the trading cash).
    let too_big = OrderBody {
        notional_usdc: dec!(100000),
        ..order.clone()
    };
    assert!(markets.order(&too_big, "r1:h2:open").await.is_err());
    assert!(matches!(
        markets.order_status("r1:h2:open").await,
        Ok(KeyStatus::Refused { ref code, .. }) if code == "insufficient_balance"
    ));
    // A rebalance key is not an order key.
    let http = client();
    let transfer = post_keyed(
        &http,
        format!("{}/agents/agent-1/rebalance", sim.base_url()),
        "r1:1:0",
        &casino_decrease(dec!(1)),
    )
    .await;
    assert_eq!(transfer.status(), 200);
    assert!(matches!(
        markets.order_status("r1:1:0").await,
        Ok(KeyStatus::NeverArrived)
    ));
    // Two funding periods later the close reports the funding the position received.
    sim.advance(16).await.expect("advances");
    let open = markets.positions().await.expect("positions");
    let funding_so_far = open.positions[0].funding_usdc;
    let closed: ClosePositionResponse = markets
        .close_position(&sent.position_id, "r1:h1:close")
        .await
        .expect("closes");
    assert_eq!(closed.funding_usdc, funding_so_far);
    assert!(stats(&sim).await.accounting.ok);
    sim.shutdown().await;
}

/// The services' and BTC-PERP's daily returns over the last `days`, over HTTP.
async fn returns_over(
    http: &reqwest::Client,
    base: &str,
    days: u32,
) -> (ReturnsResponse, MarketReturnsResponse) {
    let services = get_json(
        http,
        format!("{base}/agents/agent-1/returns?days={days}"),
        "returns",
    )
    .await;
    let btc = get_json(
        http,
        format!("{base}/trading/returns?market=BTC-PERP&days={days}"),
        "market returns",
    )
    .await;
    (services, btc)
}

#[tokio::test]
async fn a_markets_returns_are_day_for_day_with_the_services() {
    let sim = start(still()).await;
    let http = client();
    let base = sim.base_url();
    let (services, btc) = returns_over(&http, &base, 60).await;
    assert_eq!(btc.market, "BTC-PERP");
    assert_eq!(
        btc.returns.len(),
        services.returns_by_service["casino"].len()
    );
    assert!(btc.returns.iter().all(|r| r.is_finite() && *r != 0.0));
    // A day closes at midnight for both.
    sim.advance(24).await.expect("advances");
    let (services_after, after) = returns_over(&http, &base, 3650).await;
    assert_eq!(
        after.returns.len(),
        services_after.returns_by_service["casino"].len()
    );
    // Refusals name the parameter.
    let unknown = get(&http, format!("{base}/trading/returns?market=DOGE-PERP")).await;
    assert_refused(unknown, 400, "unknown_market", "`market`", "unknown market").await;
    let missing = get(&http, format!("{base}/trading/returns")).await;
    assert_refused(missing, 400, "bad_request", "`market`", "no market").await;
    sim.shutdown().await;
}

/// The casino's returns against BTC-PERP's over the venue's two years of history.
async fn estimate(correlation: f64) -> (f64, ballast::math::hedge::HedgeRatio) {
    let sim = start(SimConfig {
        casino: CasinoParams {
            btc_correlation: correlation,
            ..CasinoParams::default()
        },
        ..still()
    })
    .await;
    let markets = markets_client(&sim);
    let venue = venue_client(&sim);
    let services = venue.returns(730).await.expect("returns");
    let btc = markets.market_returns("BTC-PERP", 730).await.expect("btc");
    let truth = stats(&sim)
        .await
        .casino_btc_beta
        .to_f64()
        .expect("a number");
    sim.shutdown().await;
    let ratio = min_variance_hedge(&services.returns_by_service["casino"], &btc.returns)
        .expect("estimates");
    (truth, ratio)
}

#[tokio::test]
async fn a_configured_correlation_is_recovered_within_the_standard_error() {
    struct TestCase {
        correlation: f64,
    }
    let cases = [
        // TC0: the casino's payouts follow BTC with ρ = 0.6.
        TestCase { correlation: 0.6 },
        // TC1: a weak link, ρ = 0.2.
        TestCase { correlation: 0.2 },
        // TC2: none: the true ratio is 0.
        TestCase { correlation: 0.0 },
    ];
    for (i, case) in cases.iter().enumerate() {
        let (truth, estimate) = estimate(case.correlation).await;
        if case.correlation == 0.0 {
            assert_eq!(truth, 0.0, "TC{i}");
        } else {
            assert!(truth > 0.0, "TC{i}: {truth}");
        }
        // Three standard errors: a seeded draw outside them would happen about 3 times in
        // 1,000.
        assert!(
            (estimate.beta - truth).abs() <= 3.0 * estimate.beta_std_error,
            "TC{i}: estimated {} ± {} against {truth}",
            estimate.beta,
            estimate.beta_std_error
        );
        assert!(
            (estimate.correlation - case.correlation).abs() < 0.1,
            "TC{i}: correlation {} against {}",
            estimate.correlation,
            case.correlation
        );
        assert_eq!(estimate.observations, 730, "TC{i}");
    }
}
