//! Story: a large win leaves the casino 15 points over target with most of its bankroll in
//! play (locked). The companion, against the simulated venue over real loopback sockets,
//! moves the free part at once and opens a short BTC-PERP for the stuck part, sized by the
//! minimum-variance ratio it estimates from the venue's history (the casino's payouts follow
//! BTC with a known correlation). When the lock clears, the spot rebalance lands and the
//! hedge closes; its fees and funding show in the summary and the store, and the venue's
//! accounting identity holds. In dry run the same story records a hedge and sends nothing;
//! with an uncorrelated casino the hedge is skipped with the reason said.

mod common;

use std::time::Duration;

use ballast::{
    hedge::{CloseReason, HedgeStatus},
    math::hedge::min_variance_hedge,
    service::Service,
    sim::{CasinoParams, Scenario, SimConfig, SimHandle},
    store::Store,
    venue::protocol::Direction,
};
use ballast_actors::system::RunningSystem;
use rust_decimal::{Decimal, prelude::ToPrimitive};
use rust_decimal_macros::dec;

const SCENARIO: &str = include_str!("data/scenarios/hedge_locked_win.toml");

/// A quiet venue whose casino's payouts follow BTC with correlation `rho`, its own bets small
/// enough that the hedge ratio is near 0.8 rather than the default casino's 10.
async fn venue(rho: f64) -> SimHandle {
    common::start_sim(SimConfig {
        casino: CasinoParams {
            jackpot_bets_per_hour: 0,
            stake_fraction: 0.002,
            btc_correlation: rho,
            ..CasinoParams::default()
        },
        ..common::quiet_config()
    })
    .await
}

/// Hedging on.
const HEDGE: (&str, &str) = ("BALLAST__HEDGE__ENABLED", "true");

/// A hedging companion on `sim` with `extra` on top, on a fresh in-memory store; once it has
/// synced, the venue plays the scenario: 380 of the casino locked, then a win of 230.77 (15
/// points over). Returns the companion and its store.
async fn hedging_through_the_scenario(
    sim: &SimHandle,
    extra: &[(&str, &str)],
) -> (RunningSystem, Store) {
    let store = Store::open_in_memory().expect("store");
    let system = common::companion_on(sim, &[&[HEDGE], extra].concat(), store.clone()).await;
    Scenario::parse(SCENARIO, "hedge_locked_win.toml")
        .expect("scenario parses")
        .run(sim)
        .await
        .expect("scenario plays");
    (system, store)
}

#[actix_rt::test]
async fn a_locked_overweight_is_hedged_until_the_spot_rebalance_lands() {
    // Step 1: the companion with hedging on, against a venue whose casino follows BTC.
    // Step 2: the scenario: 380 of the casino locked, then a win of 230.77 (15 points over).
    let sim = venue(0.7).await;
    let lookback = common::settings_with(&[HEDGE]).hedge.lookback_days;
    let (system, store) = hedging_through_the_scenario(&sim, &[]).await;
    let summary = common::summary_when(&system, Duration::from_secs(20), "no hedge", |s| {
        s.hedges.opened == 1 && s.rebalances >= 1
    })
    .await;

    // Step 3: the free 50.77 left the casino at once, and no more.
    let transfers = sim.transfers();
    assert_eq!(transfers[0].service, Service::Casino);
    assert_eq!(transfers[0].direction, Direction::Decrease);
    assert_eq!(transfers[0].amount_usdc, dec!(50.77));
    assert_eq!(sim.balance(Service::Casino), dec!(380));

    // Step 4: the hedge is a short with the ratio estimated from the venue's own history,
    // which is within three standard errors of the ratio the venue was built with.
    let (venue_client, markets) = (
        common::clients::venue_client(&sim),
        common::clients::markets_client(&sim),
    );
    let casino = venue_client.returns(lookback).await.expect("returns");
    let btc = markets
        .market_returns("BTC-PERP", lookback)
        .await
        .expect("btc");
    let estimate =
        min_variance_hedge(&casino.returns_by_service["casino"], &btc.returns).expect("estimates");
    let truth = sim.stats().casino_btc_beta.to_f64().expect("number");
    assert!(
        (estimate.beta - truth).abs() <= 3.0 * estimate.beta_std_error,
        "{estimate:?} against {truth}"
    );
    let report = store.status().await.expect("status").hedges;
    let hedge = &report.recent[0];
    assert_eq!(hedge.status, HedgeStatus::Open);
    let ratio = Decimal::try_from(estimate.beta)
        .expect("finite")
        .round_dp(4);
    assert_eq!(hedge.ratio, ratio);
    // 133.84 stuck (the 184.62 excess less the free 50.77), times the ratio.
    let expected_notional =
        (dec!(133.84) * ratio).round_dp_with_strategy(2, rust_decimal::RoundingStrategy::ToZero);
    assert_eq!(hedge.notional_usdc, expected_notional);
    let positions = common::clients::open_positions(&markets).await;
    assert_eq!(positions.len(), 1);
    assert_eq!(Some(&positions[0].id), hedge.position_id.as_ref());
    assert_eq!(positions[0].notional_usdc, expected_notional);
    assert_eq!(positions[0].purpose, "rebalance_hedge");
    assert_eq!(summary.hedges.opened, 1);

    // Step 5: two days pass (six funding payments); the lock is released at the end of the
    // hour after its 48 hours, the spot rebalance moves the rest and the hedge closes.
    sim.advance(49).await.expect("advances");
    let summary = common::summary_when(&system, Duration::from_secs(20), "no close", |s| {
        s.hedges.closed == 1
    })
    .await;
    let landed = common::eventually(Duration::from_secs(10), async || {
        sim.transfers()
            .iter()
            .skip(1)
            .any(|t| t.service == Service::Casino && t.direction == Direction::Decrease)
    })
    .await;
    assert!(
        landed,
        "the spot rebalance never landed: {:?}",
        sim.transfers()
    );
    assert!(common::clients::open_positions(&markets).await.is_empty());
    let report = store.status().await.expect("status").hedges;
    let closed = &report.recent[0];
    assert_eq!(closed.status, HedgeStatus::Closed);
    assert_eq!(
        closed.close_reason.as_deref(),
        Some(CloseReason::LockReleased.name())
    );

    // Step 6: fees (0.1% in and out) and funding, the same in the summary, the store and
    // the venue's books; the identity holds and nothing was applied twice.
    let stats = sim.stats();
    assert_eq!(summary.hedges.costs, report.costs);
    assert_eq!(report.costs.fees_usdc, stats.accounting.trading_fees_usdc);
    assert_eq!(
        report.costs.funding_usdc,
        stats.accounting.income.funding_usdc
    );
    assert_eq!(
        report.costs.realized_pnl_usdc,
        stats.accounting.income.trading_realized_pnl_usdc
    );
    assert!(report.costs.fees_usdc >= expected_notional * dec!(0.002) - dec!(0.02));
    assert_eq!(stats.markets.funding_payments, 6);
    assert!(stats.accounting.ok, "{:?}", stats.accounting);
    assert_eq!(stats.duplicate_transfer_keys, 0);
    common::stop(system, sim).await;
}

#[actix_rt::test]
async fn in_dry_run_the_hedge_is_recorded_and_nothing_is_sent() {
    let sim = venue(0.7).await;
    let (system, store) =
        hedging_through_the_scenario(&sim, &[("BALLAST__EXECUTOR__DRY_RUN", "true")]).await;
    let summary = common::summary_when(&system, Duration::from_secs(20), "no dry hedge", |s| {
        s.hedges.dry_run == 1
    })
    .await;
    assert_eq!(summary.hedges.opened, 0);
    let stats = sim.stats();
    assert_eq!(stats.markets.orders_accepted, 0, "a dry run sent an order");
    assert_eq!(stats.applied_transfers, 0);
    let report = store.status().await.expect("status").hedges;
    assert_eq!(report.dry_run, 1);
    assert_eq!(report.recent[0].status, HedgeStatus::DryRun);
    common::stop(system, sim).await;
}

#[actix_rt::test]
async fn an_uncorrelated_casino_is_not_hedged_and_the_reason_is_said() {
    let sim = venue(0.0).await;
    let (system, _store) = hedging_through_the_scenario(&sim, &[]).await;
    let summary = common::summary_when(&system, Duration::from_secs(20), "no skip", |s| {
        s.hedges.skipped >= 1
    })
    .await;
    assert_eq!(summary.hedges.opened, 0);
    let reason = summary.hedges.last_skip_reason.unwrap_or_default();
    assert!(
        reason.contains("below hedge.min_correlation 0.3"),
        "{reason}"
    );
    assert_eq!(sim.stats().markets.orders_accepted, 0);
    common::stop(system, sim).await;
}
