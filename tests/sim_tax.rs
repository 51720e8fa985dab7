//! What the simulated venue gained for tax-loss harvesting, over real loopback HTTP: a
//! `price` injection that sets an asset's mark (the walk continues from it), an
//! `external_buy` injection (a wallet buy outside the API's callers), sales that name their
//! lots (`lot_ids`), and the status of a wallet trade by its idempotency key. The accounting
//! identity holds after all of it.

mod sim_support;

use ballast::{
    execution::KeyStatus,
    venue::protocol::{EventKind, TradeSide},
};
use rust_decimal_macros::dec;
use serde_json::json;
use sim_support::{
    client,
    clients::{markets_client, venue_client},
    inject_ok, post_json, start, stats, still,
};

#[tokio::test]
async fn price_and_external_buy_injections_move_the_books_exactly() {
    let sim = start(still()).await;
    let http = client();
    let inject = format!("{}/sim/inject", sim.base_url());

    // Step 1: an external buy of 0.001 BTC at 95,000 × 1.001: a lot of basis 95.10 and a
    // `wallet_trade` event, like any buy.
    let frame = inject_ok(
        &http,
        &sim,
        &json!({"type": "external_buy", "asset": "BTC", "quantity": 0.001}),
    )
    .await;
    let EventKind::WalletTrade {
        lots,
        notional_usdc,
        ..
    } = &frame.kind
    else {
        panic!("not a wallet trade: {frame:?}");
    };
    assert_eq!(*notional_usdc, dec!(95.10));
    assert_eq!(lots[0].cost_basis_usdc, dec!(95.10));

    // Step 2: BTC's mark set to 80,000: the price event carries it, the other assets keep
    // theirs, and the wallet is worth cash + 0.001 × 80,000.
    inject_ok(
        &http,
        &sim,
        &json!({"type": "price", "asset": "BTC", "price_usdc": 80000}),
    )
    .await;
    let holdings = markets_client(&sim).holdings().await.expect("holdings");
    assert_eq!(holdings.holdings[0].price_usdc, dec!(80000));
    assert_eq!(
        holdings.holdings[0].unrealized_pnl_usdc,
        dec!(80) - dec!(95.10)
    );
    let portfolio = sim.stats().portfolio;
    assert_eq!(portfolio.wallet_balance, dec!(150) - dec!(95.10) + dec!(80));
    // A quote of no asset in particular is every asset's (what the harvester confirms on).
    let venue = venue_client(&sim);
    let quote = venue.prices(&[]).await.expect("prices");
    assert_eq!(quote.prices.len(), 4);
    assert_eq!(quote.prices["BTC"].0, dec!(80000));

    // Step 3: the walk continues from the injected mark: four hours later BTC is near
    // 80,000, not near 95,000.
    sim.advance(4).await.expect("advances");
    let holdings = markets_client(&sim).holdings().await.expect("holdings");
    let moved = holdings.holdings[0].price_usdc;
    assert!((dec!(70000)..dec!(90000)).contains(&moved), "{moved}");

    // Step 4: refusals name their field and change nothing.
    for (body, needle) in [
        (
            json!({"type": "price", "asset": "DOGE", "price_usdc": 1}),
            "`asset`",
        ),
        (
            json!({"type": "price", "asset": "BTC", "price_usdc": 0}),
            "`prices`",
        ),
        (
            json!({"type": "external_buy", "asset": "BTC", "quantity": 1}),
            "`quantity`",
        ),
    ] {
        let reply = post_json(&http, &inject, &body).await;
        let text = reply.text().await.expect("body");
        assert!(text.contains(needle), "{body}: {text}");
    }
    let stats = stats(&sim).await;
    assert_eq!(stats.markets.wallet_buys, 1);
    assert!(stats.accounting.ok, "{:?}", stats.accounting);
    sim.shutdown().await;
}

#[tokio::test]
async fn sales_can_name_their_lots_and_trades_are_found_by_key() {
    let sim = start(still()).await;
    let markets = markets_client(&sim);

    // Step 1: two SOL lots at the same price.
    let first = markets
        .wallet_trade(TradeSide::Buy, "SOL", dec!(0.2), "test", "b-1")
        .await
        .expect("buys");
    let second = markets
        .wallet_trade(TradeSide::Buy, "SOL", dec!(0.3), "test", "b-2")
        .await
        .expect("buys");
    let (lot1, lot2) = (first.lots[0].lot_id.clone(), second.lots[0].lot_id.clone());

    // Step 2: a sale naming the newer lot uses it, not the oldest.
    let sold = markets
        .wallet_sell_lots(
            "SOL",
            dec!(0.1),
            std::slice::from_ref(&lot2),
            "harvest",
            "s-1",
        )
        .await
        .expect("sells");
    assert_eq!(sold.lots.len(), 1);
    assert_eq!(sold.lots[0].lot_id, lot2);
    let holdings = markets.holdings().await.expect("holdings");
    let left: Vec<_> = holdings.holdings[0]
        .lots
        .iter()
        .map(|l| (l.lot_id.clone(), l.quantity))
        .collect();
    assert_eq!(left, [(lot1.clone(), dec!(0.2)), (lot2.clone(), dec!(0.2))]);

    // Step 3: an unknown lot is refused, naming `lot_ids`; more than the named lot holds is
    // `insufficient_holdings`.
    let error = markets
        .wallet_sell_lots("SOL", dec!(0.1), &["lot-99".to_owned()], "harvest", "s-2")
        .await
        .expect_err("refused");
    assert!(error.to_string().contains("`lot_ids`"), "{error}");
    let error = markets
        .wallet_sell_lots("SOL", dec!(0.3), &[lot1], "harvest", "s-3")
        .await
        .expect_err("refused");
    assert!(
        error.to_string().contains("insufficient_holdings"),
        "{error}"
    );

    // Step 4: the status by key: the applied sale, a stored refusal, and a key never seen.
    match markets.wallet_trade_status("s-1").await.expect("answers") {
        KeyStatus::Applied(reply) => assert_eq!(reply.trade_id, sold.trade_id),
        other => panic!("not applied: {other:?}"),
    }
    assert!(matches!(
        markets.wallet_trade_status("s-3").await.expect("answers"),
        KeyStatus::Refused { code, .. } if code == "insufficient_holdings"
    ));
    assert_eq!(
        markets.wallet_trade_status("never").await.expect("answers"),
        KeyStatus::NeverArrived
    );
    let stats = stats(&sim).await;
    assert_eq!(stats.markets.wallet_sells, 1);
    assert!(stats.accounting.ok, "{:?}", stats.accounting);
    sim.shutdown().await;
}

#[test]
fn the_tax_year_scenario_parses() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/scenarios/tax-year.toml");
    let scenario = ballast::sim::Scenario::load(&path).expect("the README's scenario loads");
    assert_eq!(scenario.steps.len(), 15);
}
