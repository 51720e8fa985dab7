//! The simulated venue's markets over real loopback HTTP: perp orders, closes, funding,
//! refusals, idempotent replays, wallet trades with FIFO lots, and the accounting identity
//! in `/sim/stats` after all of it.
//!
//! Every venue here is quiet (no background activity) and runs its clock at one simulated
//! second per real second, so nothing moves unless a step says so; markets move only by
//! `advance`, which jumps the simulated clock and runs the hours it skips. No test sleeps
//! and no assertion depends on timing.

mod sim_support;

use ballast::{
    observation::TradeSide,
    service::Service,
    sim::{SimConfig, SimHandle},
    venue::protocol::{
        ClosePositionResponse, EventFrame, EventKind, HoldingsResponse, OrderBody, OrderType,
        PortfolioResponse, Position, PositionSide, PositionsResponse, PricesResponse,
        ReturnsResponse,
    },
};
use rust_decimal::{Decimal, RoundingStrategy};
use rust_decimal_macros::dec;
use serde_json::json;
use sim_support::{
    assert_refused, client,
    clients::{markets_client, open_positions},
    error_body, get_json, inject_ok, keyed_replies, post_json, post_keyed, start, stats, still,
};
use tokio::sync::broadcast;

fn order(market: &str, side: PositionSide, notional_usdc: Decimal, leverage: u32) -> OrderBody {
    OrderBody {
        agent_id: String::new(),
        market: market.to_owned(),
        side,
        notional_usdc,
        leverage,
        order_type: OrderType::Market,
        purpose: "rebalance_hedge".to_owned(),
        limit_price: None,
    }
}

fn ceil_cents(value: Decimal) -> Decimal {
    value.round_dp_with_strategy(2, RoundingStrategy::ToPositiveInfinity)
}

fn floor_cents(value: Decimal) -> Decimal {
    value.round_dp_with_strategy(2, RoundingStrategy::ToNegativeInfinity)
}

async fn portfolio(sim: &SimHandle) -> PortfolioResponse {
    let url = format!("{}/agents/agent-1/portfolio", sim.base_url());
    get_json(&client(), url, "portfolio").await
}

/// Every frame announced so far.
fn drain(events: &mut broadcast::Receiver<EventFrame>) -> Vec<EventFrame> {
    let mut frames = Vec::new();
    while let Ok(frame) = events.try_recv() {
        frames.push(frame);
    }
    frames
}

fn only_position(positions: &PositionsResponse, id: &str) -> Position {
    positions
        .positions
        .iter()
        .find(|p| p.id == id)
        .cloned()
        .unwrap_or_else(|| panic!("no position {id} in {positions:?}"))
}

#[tokio::test]
async fn a_position_opens_and_closes_with_fee_and_pnl_at_the_mark() {
    let sim = start(still()).await;
    let markets = markets_client(&sim);

    // Step 1: a 5x long of 1,000 USDC of BTC fills at the mark with the 0.1% taker fee; the
    // margin (1,000 / 5) and the fee leave the trading cash, the position holds the margin.
    let prices: PricesResponse = get_json(
        &client(),
        format!("{}/prices?assets=BTC", sim.base_url()),
        "prices",
    )
    .await;
    let mark = prices.prices["BTC"].0;
    let opened = markets
        .order(
            &order("BTC-PERP", PositionSide::Long, dec!(1000), 5),
            "hedge-1",
        )
        .await
        .expect("order fills");
    assert_eq!(opened.status, "filled");
    assert_eq!(opened.fill_price, Some(mark));
    assert_eq!(opened.fee_usdc, dec!(1.00));
    assert_eq!(opened.margin_usdc, dec!(200));
    assert_eq!(sim.cash_balances()[Service::Trading], dec!(99));
    assert_eq!(portfolio(&sim).await.trading_balance, dec!(299));

    // Step 2: the position is listed with the article's fields; at the entry mark it has
    // no PnL.
    let listed = only_position(
        &markets.positions().await.expect("positions"),
        &opened.position_id,
    );
    assert_eq!(listed.market, "BTC-PERP");
    assert_eq!(listed.entry_price, mark);
    assert_eq!(listed.mark_price, mark);
    assert_eq!(listed.unrealized_pnl_usdc, Decimal::ZERO);
    assert_eq!(listed.margin_usdc, dec!(200));
    assert_eq!(listed.purpose, "rebalance_hedge");
    assert!(listed.opened_at.is_some());

    // Step 3: four simulated hours move the mark (and the 16:00 funding settles into the
    // margin).
    let advanced = sim.advance(4).await.expect("advances");
    assert_eq!(advanced.hours_run, 4);
    let listed = only_position(
        &markets.positions().await.expect("positions"),
        &opened.position_id,
    );
    assert_ne!(listed.mark_price, mark, "the mark did not move");
    let expected_pnl = floor_cents(listed.quantity * (listed.mark_price - listed.entry_price));
    assert_eq!(listed.unrealized_pnl_usdc, expected_pnl);

    // Step 4: closing realizes that PnL at the mark, pays the taker fee on the notional at
    // the mark, and returns margin + PnL − fee to the trading cash.
    let cash_before = sim.cash_balances()[Service::Trading];
    let closed = markets
        .close_position(&opened.position_id, "close-1")
        .await
        .expect("closes");
    let fee = ceil_cents(listed.quantity * listed.mark_price * dec!(0.001));
    assert_eq!(closed.status, "closed");
    assert_eq!(closed.close_price, Some(listed.mark_price));
    assert_eq!(closed.realized_pnl_usdc, expected_pnl);
    assert_eq!(closed.fee_usdc, fee);
    assert_eq!(
        closed.returned_usdc,
        listed.margin_usdc + expected_pnl - fee
    );
    assert_eq!(
        sim.cash_balances()[Service::Trading],
        cash_before + closed.returned_usdc
    );
    assert!(open_positions(&markets).await.is_empty());

    // Step 5: closing again answers the first close (without the key too) and changes
    // nothing; an id never opened is a 404 naming it.
    let http = client();
    let url = format!(
        "{}/trading/positions/{}",
        sim.base_url(),
        opened.position_id
    );
    let again: ClosePositionResponse = http
        .delete(&url)
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("close body");
    assert_eq!(again.realized_pnl_usdc, closed.realized_pnl_usdc);
    assert_eq!(again.fee_usdc, closed.fee_usdc);
    let response = http
        .delete(format!("{}/trading/positions/pos-99999999", sim.base_url()))
        .send()
        .await
        .expect("request");
    assert_refused(
        response,
        404,
        "position_not_found",
        "pos-99999999",
        "unknown id",
    )
    .await;

    // Step 6: the venue counted it and the books balance.
    let stats = stats(&sim).await;
    assert_eq!(stats.markets.positions_opened, 1);
    assert_eq!(stats.markets.positions_closed, 1);
    assert_eq!(stats.repeated_closes, 1);
    assert_eq!(
        stats.accounting.trading_fees_usdc,
        opened.fee_usdc + closed.fee_usdc
    );
    assert!(stats.accounting.ok, "{:?}", stats.accounting);
    sim.shutdown().await;
}

#[tokio::test]
async fn funding_is_exchanged_every_eight_simulated_hours() {
    let sim = start(still()).await;
    let markets = markets_client(&sim);
    let mut events = sim.subscribe_events();

    // Step 1: a long and a short, so one pays what the other would receive.
    let long = markets
        .order(&order("ETH-PERP", PositionSide::Long, dec!(340), 2), "f-1")
        .await
        .expect("fills");
    let short = markets
        .order(&order("SOL-PERP", PositionSide::Short, dec!(180), 3), "f-2")
        .await
        .expect("fills");

    // Step 2: three hours (to 15:00): no funding time has come.
    sim.advance(3).await.expect("advances");
    let frames = drain(&mut events);
    assert!(
        !frames
            .iter()
            .any(|f| matches!(f.kind, EventKind::Funding { .. })),
        "{frames:?}"
    );

    // Step 3: five more (to 20:00) pass 16:00: one funding event, paid on the 16:00 mark.
    sim.advance(5).await.expect("advances");
    let frames = drain(&mut events);
    let fundings: Vec<_> = frames
        .iter()
        .filter_map(|f| match &f.kind {
            EventKind::Funding { rates, amount_usdc } => Some((f.seq, rates.clone(), *amount_usdc)),
            _ => None,
        })
        .collect();
    assert_eq!(fundings.len(), 1, "{frames:?}");
    let (funding_seq, rates, net_usdc) = fundings[0].clone();
    // The marks funding used: the last price event before it.
    let marks = frames
        .iter()
        .filter(|f| f.seq < funding_seq)
        .filter_map(|f| match &f.kind {
            EventKind::Price { prices } => Some(prices.clone()),
            _ => None,
        })
        .next_back()
        .expect("a mark move before funding");
    let positions = markets.positions().await.expect("positions");
    let mut expected_net = Decimal::ZERO;
    for (opened, asset, market, sign) in [
        (&long, "ETH", "ETH-PERP", Decimal::ONE),
        (&short, "SOL", "SOL-PERP", Decimal::NEGATIVE_ONE),
    ] {
        let position = only_position(&positions, &opened.position_id);
        // Longs pay quantity × mark × rate when the rate is positive; shorts receive it.
        let long_pays = (position.quantity * marks[asset].0 * rates[market].0)
            .round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
        let received = -sign * long_pays;
        assert_eq!(position.funding_usdc, received, "{market}");
        assert_eq!(
            position.margin_usdc,
            opened.margin_usdc + received,
            "{market}"
        );
        expected_net += received;
    }
    assert_eq!(net_usdc, expected_net);

    // Step 4: another eight hours (to 04:00) pass midnight: the second payment.
    sim.advance(8).await.expect("advances");
    let frames = drain(&mut events);
    assert_eq!(
        frames
            .iter()
            .filter(|f| matches!(f.kind, EventKind::Funding { .. }))
            .count(),
        1
    );
    let stats = stats(&sim).await;
    assert_eq!(stats.markets.funding_payments, 4);
    assert!(stats.accounting.ok, "{:?}", stats.accounting);
    sim.shutdown().await;
}

#[tokio::test]
async fn bad_orders_are_refused_naming_the_field_and_change_nothing() {
    let sim = start(still()).await;
    let http = client();
    let url = format!("{}/trading/order", sim.base_url());
    let base = json!({
        "agent_id": "agent-1", "market": "BTC-PERP", "side": "long", "notional_usdc": 100,
        "leverage": 2, "order_type": "market", "purpose": "hedge"
    });
    let with = |changes: serde_json::Value| {
        let mut body = base.clone();
        for (key, value) in changes.as_object().expect("object") {
            if value.is_null() {
                body.as_object_mut().expect("object").remove(key);
            } else {
                body[key] = value.clone();
            }
        }
        body
    };
    let cases = [
        // TC0: over-leveraged: 50x against a 20x limit.
        (
            with(json!({"leverage": 50})),
            400,
            "bad_request",
            "`leverage`",
        ),
        // TC1: margin plus fee beyond the 300 USDC of trading cash.
        (
            with(json!({"notional_usdc": 100000})),
            409,
            "insufficient_balance",
            "`notional_usdc`",
        ),
        // TC2: a market the venue does not list.
        (
            with(json!({"market": "DOGE-PERP"})),
            400,
            "unknown_market",
            "`market`",
        ),
        // TC3: not a side.
        (
            with(json!({"side": "sideways"})),
            400,
            "bad_request",
            "`side`",
        ),
        // TC4: a limit order without its price.
        (
            with(json!({"order_type": "limit"})),
            400,
            "bad_request",
            "`limit_price`",
        ),
        // TC5: a market order with a price.
        (
            with(json!({"limit_price": 90000})),
            400,
            "bad_request",
            "`limit_price`",
        ),
        // TC6: a fraction of a cent.
        (
            with(json!({"notional_usdc": 100.001})),
            400,
            "bad_request",
            "`notional_usdc`",
        ),
        // TC7: no purpose.
        (
            with(json!({"purpose": null})),
            400,
            "bad_request",
            "`purpose`",
        ),
        // TC8: a fractional leverage.
        (
            with(json!({"leverage": 2.5})),
            400,
            "bad_request",
            "`leverage`",
        ),
        // TC9: another agent.
        (
            with(json!({"agent_id": "agent-2"})),
            404,
            "agent_not_found",
            "agent-2",
        ),
    ];
    let before = sim.balances();
    for (index, (body, status, code, needle)) in cases.into_iter().enumerate() {
        let response = post_json(&http, &url, &body).await;
        assert_refused(response, status, code, needle, &format!("TC{index}")).await;
    }
    assert_eq!(sim.balances(), before);
    let stats = stats(&sim).await;
    assert_eq!(stats.markets.orders_accepted, 0);
    assert!(stats.accounting.ok);
    sim.shutdown().await;
}

#[tokio::test]
async fn an_order_replays_under_its_idempotency_key() {
    let sim = start(still()).await;
    let http = client();
    let url = format!("{}/trading/order", sim.base_url());
    let body = json!({
        "agent_id": "agent-1", "market": "ETH-PERP", "side": "short", "notional_usdc": 68,
        "leverage": 4, "order_type": "limit", "purpose": "hedge", "limit_price": 3000
    });

    // Step 1: the same key and order three times: one position, three identical replies.
    let replies = keyed_replies(&http, &url, "run-7/hedge", &body, 3).await;
    assert_eq!(replies[0].0, 200, "{replies:?}");
    assert!(replies.iter().all(|r| *r == replies[0]), "{replies:?}");
    let positions: PositionsResponse = get_json(
        &http,
        format!("{}/trading/positions?agent_id=agent-1", sim.base_url()),
        "positions",
    )
    .await;
    assert_eq!(positions.positions.len(), 1);
    // A short limit below the mark is already reached: it filled at the mark, maker fee.
    assert_eq!(positions.positions[0].status, "open");
    assert_eq!(
        positions.positions[0].fees_paid_usdc,
        ceil_cents(dec!(68) * dec!(0.0005))
    );

    // Step 2: the key reused for another order is refused and changes nothing.
    let mut other = body.clone();
    other["notional_usdc"] = json!(69);
    let response = post_keyed(&http, &url, "run-7/hedge", &other).await;
    assert_eq!(response.status(), 422);
    assert_eq!(error_body(response).await.code, "idempotency_key_reused");

    // Step 3: a close under a key replays too.
    let close_url = format!(
        "{}/trading/positions/{}?agent_id=agent-1",
        sim.base_url(),
        positions.positions[0].id
    );
    let close = async || {
        http.delete(&close_url)
            .header("Idempotency-Key", "run-7/unhedge")
            .send()
            .await
            .expect("request")
            .text()
            .await
            .expect("body")
    };
    assert_eq!(close().await, close().await);

    let stats = stats(&sim).await;
    assert_eq!(stats.markets.orders_accepted, 1);
    assert_eq!(stats.markets.positions_closed, 1);
    assert_eq!(stats.idempotent_replays, 3);
    assert!(stats.accounting.ok, "{:?}", stats.accounting);
    sim.shutdown().await;
}

#[tokio::test]
async fn buys_create_lots_and_sales_consume_them_first_in_first_out() {
    let sim = start(still()).await;
    let markets = markets_client(&sim);

    // Step 1: 0.5 SOL at the mid plus the 0.1% half-spread, paid from the wallet's cash.
    let first = markets
        .wallet_trade(TradeSide::Buy, "SOL", dec!(0.5), "rebalance", "buy-1")
        .await
        .expect("buys");
    assert_eq!(first.price_usdc, first.mid_price_usdc * dec!(1.001));
    assert_eq!(
        first.notional_usdc,
        ceil_cents(dec!(0.5) * first.price_usdc)
    );
    assert_eq!(first.lots.len(), 1);
    assert_eq!(
        sim.cash_balances()[Service::Wallet],
        dec!(150) - first.notional_usdc
    );

    // Step 2: the price moves; 0.25 more at the new mid make a second, later lot.
    sim.advance(4).await.expect("advances");
    let second = markets
        .wallet_trade(TradeSide::Buy, "sol", dec!(0.25), "rebalance", "buy-2")
        .await
        .expect("buys");
    assert_ne!(second.mid_price_usdc, first.mid_price_usdc);
    let holdings = markets.holdings().await.expect("holdings");
    let sol = &holdings.holdings[0];
    assert_eq!(sol.asset, "SOL");
    assert_eq!(sol.quantity, dec!(0.75));
    let lots: Vec<_> = sol
        .lots
        .iter()
        .map(|l| (l.quantity, l.cost_basis_usdc))
        .collect();
    assert_eq!(
        lots,
        [
            (dec!(0.5), first.notional_usdc),
            (dec!(0.25), second.notional_usdc)
        ]
    );
    assert!(sol.lots[0].acquired_at < sol.lots[1].acquired_at);
    // Wallet value = cash + holdings at the mid, as the portfolio reports it (to the cent).
    assert_eq!(
        holdings.wallet_value_usdc,
        holdings.cash_usdc + dec!(0.75) * second.mid_price_usdc
    );
    assert_eq!(
        portfolio(&sim).await.wallet_balance,
        holdings
            .wallet_value_usdc
            .round_dp_with_strategy(2, RoundingStrategy::ToZero)
    );

    // Step 3: selling 0.6 takes the whole first lot and 0.1 of the second, with its
    // proportional basis; the realized PnL is proceeds − those bases.
    let sold = markets
        .wallet_trade(
            TradeSide::Sell,
            "SOL",
            dec!(0.6),
            "tax_loss_harvest",
            "sell-1",
        )
        .await
        .expect("sells");
    let second_part_basis = (second.notional_usdc * dec!(0.4))
        .round_dp_with_strategy(2, RoundingStrategy::MidpointNearestEven);
    let used: Vec<_> = sold
        .lots
        .iter()
        .map(|l| (l.lot_id.clone(), l.quantity, l.cost_basis_usdc))
        .collect();
    assert_eq!(
        used,
        [
            (first.lots[0].lot_id.clone(), dec!(0.5), first.notional_usdc),
            (second.lots[0].lot_id.clone(), dec!(0.1), second_part_basis),
        ]
    );
    assert_eq!(sold.price_usdc, sold.mid_price_usdc * dec!(0.999));
    assert_eq!(sold.notional_usdc, floor_cents(dec!(0.6) * sold.price_usdc));
    assert_eq!(
        sold.realized_pnl_usdc,
        Some(sold.notional_usdc - first.notional_usdc - second_part_basis)
    );
    let holdings: HoldingsResponse = markets.holdings().await.expect("holdings");
    let left = &holdings.holdings[0].lots;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].quantity, dec!(0.15));
    assert_eq!(
        left[0].cost_basis_usdc,
        second.notional_usdc - second_part_basis
    );

    // Step 4: more than the lots hold, an unknown asset and too many decimals are refused,
    // naming the field.
    let http = client();
    let url = format!("{}/wallet/sell", sim.base_url());
    for (body, status, code, needle) in [
        (
            json!({"agent_id":"agent-1","asset":"SOL","quantity":1,"reason":"x"}),
            409,
            "insufficient_holdings",
            "`quantity`",
        ),
        (
            json!({"agent_id":"agent-1","asset":"DOGE","quantity":1,"reason":"x"}),
            400,
            "unknown_asset",
            "`asset`",
        ),
        (
            json!({"agent_id":"agent-1","asset":"SOL","quantity":0.000000001,"reason":"x"}),
            400,
            "bad_request",
            "`quantity`",
        ),
        (
            json!({"agent_id":"agent-1","asset":"SOL","quantity":0.1,"reason":""}),
            400,
            "bad_request",
            "`reason`",
        ),
    ] {
        let response = post_json(&http, &url, &body).await;
        assert_refused(response, status, code, needle, &body.to_string()).await;
    }

    let stats = stats(&sim).await;
    assert_eq!(
        (stats.markets.wallet_buys, stats.markets.wallet_sells),
        (2, 1)
    );
    assert_eq!(stats.markets.open_lots, 1);
    assert!(stats.accounting.ok, "{:?}", stats.accounting);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_full_session_keeps_the_books_exact_and_returns_follow_them() {
    let sim = start(still()).await;
    let markets = markets_client(&sim);
    let http = client();

    // Step 1: money into trading, a hedge, a resting limit order far from the mark, a
    // wallet buy.
    let response = post_json(
        &http,
        format!("{}/agents/agent-1/rebalance", sim.base_url()),
        &json!({"service":"trading","direction":"increase","amount_usdc":50,"reason":"hedge budget"}),
    )
    .await;
    assert_eq!(response.status(), 200);
    markets
        .order(&order("BTC-PERP", PositionSide::Short, dec!(500), 2), "s-1")
        .await
        .expect("fills");
    let resting = markets
        .order(
            &OrderBody {
                order_type: OrderType::Limit,
                limit_price: Some(dec!(1000)),
                ..order("ETH-PERP", PositionSide::Long, dec!(50), 1)
            },
            "s-2",
        )
        .await
        .expect("rests");
    assert_eq!(resting.status, "open");
    markets
        .wallet_trade(TradeSide::Buy, "BTC", dec!(0.001), "diversify", "s-3")
        .await
        .expect("buys");

    // Step 2: to midnight: marks, funding, and the day closes with trading's and the
    // wallet's performance in it.
    let trading_before = portfolio(&sim).await.trading_balance;
    sim.advance(12).await.expect("advances");
    let trading_after = portfolio(&sim).await.trading_balance;
    let returns: ReturnsResponse = get_json(
        &http,
        format!("{}/agents/agent-1/returns?days=1", sim.base_url()),
        "returns",
    )
    .await;
    let trading_return = returns.returns_by_service["trading"][0];
    // The day opened at 300 and took 50 in; its gain is what the portfolio shows, to the
    // cent (the portfolio rounds values down).
    let shown = ((trading_after - dec!(350)) / dec!(350))
        .to_string()
        .parse::<f64>()
        .expect("number");
    assert!(
        (trading_return - shown).abs() <= 0.01 / 350.0,
        "return {trading_return} vs shown {shown} ({trading_before} → {trading_after})"
    );
    assert!(trading_return != 0.0);
    assert!(returns.returns_by_service["wallet"][0] != 0.0);

    // Step 3: an out-of-band top-up sets the casino's cash and leaves trading's alone.
    let trading_cash = sim.cash_balances()[Service::Trading];
    inject_ok(
        &http,
        &sim,
        &json!({"type":"balance","balances_usdc":{"casino":400}}),
    )
    .await;
    assert_eq!(sim.cash_balances()[Service::Casino], dec!(400));
    assert_eq!(sim.cash_balances()[Service::Trading], trading_cash);

    // Step 4: cancel the resting order (its reservation comes back) and close the hedge.
    let cancelled = markets
        .close_position(&resting.position_id, "s-4")
        .await
        .expect("cancels");
    assert_eq!(cancelled.status, "cancelled");
    assert_eq!(cancelled.fee_usdc, Decimal::ZERO);
    for position in open_positions(&markets).await {
        markets
            .close_position(&position.id, &format!("close-{}", position.id))
            .await
            .expect("closes");
    }

    // Step 5: the identity holds, and the stats count what happened.
    let stats = stats(&sim).await;
    assert!(stats.accounting.ok, "{:?}", stats.accounting);
    assert_eq!(stats.markets.orders_accepted, 2);
    assert_eq!(stats.markets.orders_cancelled, 1);
    assert_eq!(stats.markets.open_positions, 0);
    assert_eq!(stats.markets.wallet_buys, 1);
    assert_eq!(stats.applied_transfers, 1);
    assert_eq!(stats.portfolio.balances(), sim.balances());
    sim.shutdown().await;
}

#[tokio::test]
async fn advancing_an_autoplay_venue_runs_everything_and_keeps_the_books_exact() {
    // Autoplay on, but a clock too slow to reach the next hour by itself: only the jump
    // runs hours, with casino, income and markets together.
    let sim = start(SimConfig {
        speed: 1.0,
        ..SimConfig::default()
    })
    .await;
    let markets = markets_client(&sim);
    let mut events = sim.subscribe_events();
    markets
        .order(&order("SOL-PERP", PositionSide::Long, dec!(900), 10), "a-1")
        .await
        .expect("fills");
    markets
        .wallet_trade(TradeSide::Buy, "ETH", dec!(0.01), "diversify", "a-2")
        .await
        .expect("buys");

    // Three simulated days over HTTP.
    let http = client();
    let advance_url = format!("{}/sim/advance", sim.base_url());
    let response = post_json(&http, &advance_url, &json!({"hours": 72})).await;
    assert_eq!(response.status(), 200);
    let frames = drain(&mut events);
    let mut last = frames.first().map_or(0, |f| f.seq - 1);
    for frame in &frames {
        assert_eq!(frame.seq, last + 1, "seq gap");
        last = frame.seq;
    }
    let has = |name: &str| frames.iter().any(|f| f.kind.type_name() == name);
    for name in ["casino_win", "price", "funding", "escrow_fee"] {
        assert!(has(name), "no {name} in three days");
    }
    let stats = stats(&sim).await;
    assert!(stats.accounting.ok, "{:?}", stats.accounting);
    assert_eq!(stats.last_seq, last);

    // Out of range and malformed jumps are refused naming `hours`.
    for body in [
        json!({"hours": 0}),
        json!({"hours": -1}),
        json!({"hours": 100000}),
    ] {
        let response = post_json(&http, &advance_url, &body).await;
        assert_eq!(response.status(), 400, "{body}");
        assert!(error_body(response).await.message.contains("`hours`"));
    }
    sim.shutdown().await;
}
