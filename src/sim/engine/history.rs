//! The return history `GET /agents/{id}/returns` and `GET /trading/returns` read: a
//! synthetic past from the same seeded models, then one day per simulated midnight; per
//! service, and per asset's mark, day for day.
//!
//! # Invariants
//! - The history is bounded ([`MAX_RETURN_DAYS`]) and starts [`SYNTHETIC_HISTORY_DAYS`]
//!   long, so a year's lookback works from the first request.
//! - The same seed gives the same history; it shares no random stream with the live
//!   markets or activity.
//! - Every return is finite; the reserve's is always zero.
//! - The service and asset series always hold the same days.

use std::collections::VecDeque;

use rust_decimal::Decimal;
use time::OffsetDateTime;

use super::{
    Engine,
    crypto::{calibrate_beta, casino_crypto_mark},
};
use crate::{
    money::decimal_to_f64,
    service::{Service, ServiceMap},
    sim::{
        ledger::{Ledger, Op, StateError},
        markets::{Asset, AssetMap, PerpMarket},
        model::{ActivityModel, CasinoParams},
        prices::PriceModel,
    },
    venue::protocol::{MarketReturnsResponse, ReturnsResponse},
};

/// Days of daily returns kept.
pub const MAX_RETURN_DAYS: usize = 3_650;
/// Days of synthetic history generated at startup, so `/returns?days=365` (and longer
/// lookbacks) work before the simulation has lived that long.
pub const SYNTHETIC_HISTORY_DAYS: usize = 730;
/// Separates the synthetic history's random stream from the live market's.
const HISTORY_SEED_SALT: u64 = 0x4157_0000_0000_0001;

/// Daily returns: per service, and per asset's mark (a perp's mark is its underlying's
/// price), day for day.
#[derive(Debug, Clone, Default)]
pub(super) struct History {
    /// Per service, oldest first.
    pub(super) services: VecDeque<ServiceMap<f64>>,
    /// Per asset, the same days.
    pub(super) assets: VecDeque<AssetMap<f64>>,
}

impl History {
    /// One service's series.
    fn series(&self, service: Service) -> Vec<f64> {
        self.services.iter().map(|day| day[service]).collect()
    }

    /// One asset's series.
    fn asset_series(&self, asset: Asset) -> Vec<f64> {
        self.assets.iter().map(|day| day[asset]).collect()
    }
}

impl Engine {
    /// The last `days` daily returns of `market`'s mark, oldest first, day for day with
    /// [`Engine::returns`] (`GET /trading/returns`, *addition*).
    ///
    /// # Errors
    /// A market the venue does not list, naming `market`.
    pub fn market_returns(
        &self,
        market: &str,
        days: usize,
    ) -> Result<MarketReturnsResponse, StateError> {
        let market = PerpMarket::parse("market", market)?;
        let skip = self.history.assets.len().saturating_sub(days);
        Ok(MarketReturnsResponse {
            market: market.name().to_owned(),
            returns: self
                .history
                .assets
                .iter()
                .skip(skip)
                .map(|day| day[market.underlying()])
                .collect(),
        })
    }

    /// The last `days` daily returns per service, oldest first (all there are, when fewer).
    pub fn returns(&self, days: usize) -> ReturnsResponse {
        let skip = self.history.services.len().saturating_sub(days);
        let returns_by_service = Service::ALL
            .iter()
            .map(|service| {
                let series = self
                    .history
                    .services
                    .iter()
                    .skip(skip)
                    .map(|day| day[*service])
                    .collect();
                (service.name().to_owned(), series)
            })
            .collect();
        ReturnsResponse { returns_by_service }
    }

    /// Closes the day: its returns per service and per asset (from the prices at the day's
    /// open), forgetting the oldest beyond [`MAX_RETURN_DAYS`].
    pub(super) fn close_returns_day(&mut self) {
        let services = self.ledger.close_day();
        let prices = self.ledger.prices();
        let assets = asset_returns(&self.day_open_prices, &prices);
        self.day_open_prices = prices;
        self.history.push(services, assets);
    }
}

impl History {
    fn push(&mut self, services: ServiceMap<f64>, assets: AssetMap<f64>) {
        if self.services.len() == MAX_RETURN_DAYS {
            self.services.pop_front();
            self.assets.pop_front();
        }
        self.services.push_back(services);
        self.assets.push_back(assets);
    }
}

/// Each asset's simple return from `open` to `close` (0 for a price that is not positive,
/// which the ledger never holds).
fn asset_returns(open: &AssetMap<Decimal>, close: &AssetMap<Decimal>) -> AssetMap<f64> {
    AssetMap::from_fn(|asset| {
        let (o, c) = (decimal_to_f64(open[asset]), decimal_to_f64(close[asset]));
        if o > 0.0 { c / o - 1.0 } else { 0.0 }
    })
}

/// The synthetic history, with the casino following BTC at the ratio its configured
/// correlation calls for (found from a first pass without it, see `crypto`), and that ratio.
pub(super) fn calibrated_history(
    initial_balances_usdc: ServiceMap<Decimal>,
    casino: &CasinoParams,
    seed: u64,
    start: OffsetDateTime,
) -> Result<(History, f64), StateError> {
    if casino.btc_correlation == 0.0 {
        return Ok((
            synthetic_history(initial_balances_usdc, casino, seed, start, 0.0)?,
            0.0,
        ));
    }
    let own = synthetic_history(initial_balances_usdc, casino, seed, start, 0.0)?;
    let beta = calibrate_beta(
        casino.btc_correlation,
        &own.series(Service::Casino),
        &own.asset_series(Asset::Btc),
    );
    let history = synthetic_history(initial_balances_usdc, casino, seed, start, beta)?;
    Ok((history, beta))
}

/// Daily returns for the `SYNTHETIC_HISTORY_DAYS` before `start`, from the same models with
/// their own seed. Each day starts again from the initial balances, as if the agent had
/// rebalanced to them every midnight, so the history is stationary.
fn synthetic_history(
    initial_balances_usdc: ServiceMap<Decimal>,
    casino: &CasinoParams,
    seed: u64,
    start: OffsetDateTime,
    casino_btc_beta: f64,
) -> Result<History, StateError> {
    let mut model = ActivityModel::new(casino.clone(), seed ^ HISTORY_SEED_SALT);
    let mut markets = PriceModel::new(seed ^ HISTORY_SEED_SALT);
    let midnight = start.replace_time(time::Time::MIDNIGHT);
    let days = i64::try_from(SYNTHETIC_HISTORY_DAYS).unwrap_or(i64::MAX);
    let first_day = midnight - time::Duration::days(days);
    let mut history = History {
        services: VecDeque::with_capacity(SYNTHETIC_HISTORY_DAYS),
        assets: VecDeque::with_capacity(SYNTHETIC_HISTORY_DAYS),
    };
    let mut prices = AssetMap::from_fn(Asset::start_price_usdc);
    for day in 0..days {
        let mut ledger = Ledger::new(initial_balances_usdc)?;
        let day_open = prices;
        let day_start = first_day + time::Duration::days(day);
        for hour in 1..=24 {
            let hour_end = day_start + time::Duration::hours(hour);
            for op in markets.hour(hour_end) {
                // The history holds no positions or lots: only the prices matter, for the
                // wallet's basket and the casino's crypto.
                if let Op::MarkMove { prices: moved, .. } = &op {
                    let casino_usdc = ledger.balances()[Service::Casino];
                    if let Some(mark) = casino_crypto_mark(
                        casino_btc_beta,
                        prices[Asset::Btc],
                        moved[Asset::Btc],
                        casino_usdc,
                    ) {
                        let _ = ledger.apply(&mark);
                    }
                    prices = *moved;
                }
            }
            let cash = ledger.balances();
            for op in model.hour(&cash, hour_end, &prices) {
                // Refusals cannot happen for model output; skipping keeps history going.
                let _ = ledger.apply(&op);
            }
        }
        history.push(ledger.close_day(), asset_returns(&day_open, &prices));
    }
    Ok(history)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::engine::testing::engine;

    #[test]
    fn history_is_seeded_and_long_enough() {
        let engine = engine();
        let returns = engine.returns(365);
        for service in Service::ALL {
            let series = &returns.returns_by_service[service.name()];
            assert_eq!(series.len(), 365, "{service}");
            assert!(series.iter().all(|r| r.is_finite()));
        }
        assert!(
            returns.returns_by_service["reserve"]
                .iter()
                .all(|r| *r == 0.0)
        );
        assert!(
            returns.returns_by_service["casino"]
                .iter()
                .any(|r| *r != 0.0)
        );
        assert_eq!(
            engine.returns(10_000).returns_by_service["casino"].len(),
            SYNTHETIC_HISTORY_DAYS
        );
        assert_eq!(self::engine().returns(30), returns_tail(&returns, 30));
    }

    fn returns_tail(returns: &ReturnsResponse, days: usize) -> ReturnsResponse {
        ReturnsResponse {
            returns_by_service: returns
                .returns_by_service
                .iter()
                .map(|(k, v)| (k.clone(), v[v.len() - days..].to_vec()))
                .collect(),
        }
    }
}
