//! The return history `GET /agents/{id}/returns` reads: a synthetic past from the same
//! seeded models, then one day per simulated midnight.
//!
//! # Invariants
//! - The history is bounded ([`MAX_RETURN_DAYS`]) and starts [`SYNTHETIC_HISTORY_DAYS`]
//!   long, so a year's lookback works from the first request.
//! - The same seed gives the same history; it shares no random stream with the live
//!   markets or activity.
//! - Every return is finite; the reserve's is always zero.

use std::collections::VecDeque;

use rust_decimal::Decimal;
use time::OffsetDateTime;

use super::Engine;
use crate::{
    service::{Service, ServiceMap},
    sim::{
        ledger::{Ledger, Op, StateError},
        markets::{Asset, AssetMap},
        model::{ActivityModel, CasinoParams},
        prices::PriceModel,
    },
    venue::protocol::ReturnsResponse,
};

/// Days of daily returns kept.
pub const MAX_RETURN_DAYS: usize = 3_650;
/// Days of synthetic history generated at startup, so `/returns?days=365` (and longer
/// lookbacks) work before the simulation has lived that long.
pub const SYNTHETIC_HISTORY_DAYS: usize = 730;
/// Separates the synthetic history's random stream from the live market's.
const HISTORY_SEED_SALT: u64 = 0x4157_0000_0000_0001;

impl Engine {
    /// The last `days` daily returns per service, oldest first (all there are, when fewer).
    pub fn returns(&self, days: usize) -> ReturnsResponse {
        let skip = self.returns.len().saturating_sub(days);
        let returns_by_service = Service::ALL
            .iter()
            .map(|service| {
                let series = self
                    .returns
                    .iter()
                    .skip(skip)
                    .map(|day| day[*service])
                    .collect();
                (service.name().to_owned(), series)
            })
            .collect();
        ReturnsResponse { returns_by_service }
    }

    /// Adds a closed day, forgetting the oldest beyond [`MAX_RETURN_DAYS`].
    pub(super) fn push_returns(&mut self, day: ServiceMap<f64>) {
        if self.returns.len() == MAX_RETURN_DAYS {
            self.returns.pop_front();
        }
        self.returns.push_back(day);
    }
}

/// Daily returns for the `SYNTHETIC_HISTORY_DAYS` before `start`, from the same models with
/// their own seed. Each day starts again from the initial balances, as if the agent had
/// rebalanced to them every midnight, so the history is stationary.
pub(super) fn synthetic_history(
    initial_balances_usdc: ServiceMap<Decimal>,
    casino: &CasinoParams,
    seed: u64,
    start: OffsetDateTime,
) -> Result<VecDeque<ServiceMap<f64>>, StateError> {
    let mut model = ActivityModel::new(casino.clone(), seed ^ HISTORY_SEED_SALT);
    let mut markets = PriceModel::new(seed ^ HISTORY_SEED_SALT);
    let midnight = start.replace_time(time::Time::MIDNIGHT);
    let days = i64::try_from(SYNTHETIC_HISTORY_DAYS).unwrap_or(i64::MAX);
    let first_day = midnight - time::Duration::days(days);
    let mut history = VecDeque::with_capacity(SYNTHETIC_HISTORY_DAYS);
    let mut prices = AssetMap::from_fn(Asset::start_price_usdc);
    for day in 0..days {
        let mut ledger = Ledger::new(initial_balances_usdc)?;
        let day_start = first_day + time::Duration::days(day);
        for hour in 1..=24 {
            let hour_end = day_start + time::Duration::hours(hour);
            for op in markets.hour(hour_end) {
                // The history holds no positions or lots: only the prices matter, for the
                // wallet's basket.
                if let Op::MarkMove { prices: moved, .. } = &op {
                    prices = *moved;
                }
            }
            let cash = ledger.balances();
            for op in model.hour(&cash, hour_end, &prices) {
                // Refusals cannot happen for model output; skipping keeps history going.
                let _ = ledger.apply(&op);
            }
        }
        history.push_back(ledger.close_day());
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
