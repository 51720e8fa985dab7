//! The seeded model of the simulated markets: mark prices as correlated geometric random
//! walks and a funding rate per perp.
//!
//! [`PriceModel`] steps the prices every [`MARK_EVERY_HOURS`] simulated hours and draws a
//! funding rate per perp every [`FUNDING_EVERY_HOURS`]; it emits them as ledger [`Op`]s
//! (`MarkMove`, `Funding`) so that the ledger, not the model, does every money movement.
//!
//! `f64` lives only inside the random walk; every price and rate crosses into `Decimal`
//! through a finiteness-checked conversion and is clamped to the ranges the ledger accepts.
//!
//! # Invariants
//! - The same seed gives the same prices and rates, hour for hour; the model reads no clock
//!   (time comes in as an argument) and shares no random stream with the casino.
//! - Every price emitted is positive, whole cents and at most [`MAX_PRICE_USDC`]; every
//!   funding rate is within ±[`MAX_FUNDING_RATE`], at most six decimal places.

use std::collections::BTreeMap;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use rust_decimal::{Decimal, RoundingStrategy};
use time::OffsetDateTime;

use super::{
    ledger::Op,
    markets::{
        Asset, AssetMap, FUNDING_EVERY_HOURS, MARK_EVERY_HOURS, MAX_FUNDING_RATE, MAX_PRICE_USDC,
        PerpMarket,
    },
};
use crate::money::{decimal_from_f64, decimal_to_f64};

/// Decimal places of a funding rate.
const FUNDING_RATE_DP: u32 = 6;
/// Mean funding rate per 8 h period (0.01%, the common perp baseline: longs pay).
const FUNDING_RATE_MEAN: f64 = 0.0001;
/// Standard deviation of the funding rate per period.
const FUNDING_RATE_VOL: f64 = 0.0002;
/// Weight of the common crypto factor in each asset's move.
const CRYPTO_FACTOR_LOADING: f64 = 0.7;
/// Separates this model's random stream from the casino's for the same seed.
const MARKET_SEED_SALT: u64 = 0x4d4b_5400_0000_0003;

/// Daily volatility of an asset's random walk.
const fn daily_vol(asset: Asset) -> f64 {
    match asset {
        Asset::Btc => 0.025,
        Asset::Eth | Asset::Xmr => 0.035,
        Asset::Sol => 0.045,
    }
}

/// The seeded price and funding model.
#[derive(Debug, Clone)]
pub struct PriceModel {
    rng: ChaCha8Rng,
    /// The walk's state per asset, unrounded, so rounding never accumulates.
    prices: AssetMap<f64>,
}

impl PriceModel {
    /// A model whose whole future is fixed by `seed`, starting at the assets' start prices.
    pub fn new(seed: u64) -> Self {
        PriceModel {
            rng: ChaCha8Rng::seed_from_u64(seed ^ MARKET_SEED_SALT),
            prices: AssetMap::from_fn(|asset| decimal_to_f64(asset.start_price_usdc())),
        }
    }

    /// The operations of the hour that ends at `hour_end`: a mark move every
    /// [`MARK_EVERY_HOURS`], then funding every [`FUNDING_EVERY_HOURS`] (after the move, so
    /// funding is paid on the fresh mark).
    pub fn hour(&mut self, hour_end: OffsetDateTime) -> Vec<Op> {
        let hour = hour_end.hour();
        let mut ops = Vec::new();
        if hour.is_multiple_of(MARK_EVERY_HOURS) {
            self.step(f64::from(MARK_EVERY_HOURS) / 24.0);
            ops.push(Op::MarkMove {
                prices: AssetMap::from_fn(|asset| price_usdc(self.prices[asset])),
                at: hour_end,
            });
        }
        if hour.is_multiple_of(FUNDING_EVERY_HOURS) {
            let rates = PerpMarket::ALL
                .into_iter()
                .map(|market| {
                    let z: f64 = self.rng.sample(StandardNormal);
                    (
                        market,
                        funding_rate(FUNDING_RATE_MEAN + FUNDING_RATE_VOL * z),
                    )
                })
                .collect::<BTreeMap<_, _>>();
            ops.push(Op::Funding {
                rates,
                at: hour_end,
            });
        }
        ops
    }

    /// One correlated geometric step of `dt_days`.
    fn step(&mut self, dt_days: f64) {
        let common: f64 = self.rng.sample(StandardNormal);
        let idiosyncratic_weight = (1.0 - CRYPTO_FACTOR_LOADING * CRYPTO_FACTOR_LOADING).sqrt();
        for asset in Asset::ALL {
            let own: f64 = self.rng.sample(StandardNormal);
            let z = CRYPTO_FACTOR_LOADING * common + idiosyncratic_weight * own;
            let vol = daily_vol(asset) * dt_days.sqrt();
            // No drift: the −σ²/2 term keeps the expected price flat.
            let growth = (vol * z - vol * vol / 2.0).exp();
            let price = &mut self.prices[asset];
            if growth.is_finite() {
                *price = (*price * growth).clamp(0.01, decimal_to_f64(MAX_PRICE_USDC));
            }
        }
    }
}

/// A walk price as whole cents within the ledger's range (a non-finite value, which the
/// clamp above rules out, would fall back to a cent).
fn price_usdc(price: f64) -> Decimal {
    decimal_from_f64(price, "price")
        .map(|p| p.round_dp(2).clamp(Decimal::new(1, 2), MAX_PRICE_USDC))
        .unwrap_or(Decimal::new(1, 2))
}

fn funding_rate(rate: f64) -> Decimal {
    decimal_from_f64(rate, "funding rate")
        .map(|r| {
            r.round_dp_with_strategy(FUNDING_RATE_DP, RoundingStrategy::MidpointNearestEven)
                .clamp(-MAX_FUNDING_RATE, MAX_FUNDING_RATE)
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn same_seed_same_marks_and_funding_on_schedule() {
        let run = |seed: u64| {
            let mut model = PriceModel::new(seed);
            let mut hour_end = datetime!(2025-12-31 13:00 UTC);
            let mut ops = Vec::new();
            for _ in 0..48 {
                ops.push((hour_end.hour(), model.hour(hour_end)));
                hour_end += time::Duration::HOUR;
            }
            ops
        };
        let a = run(42);
        assert_eq!(a, run(42));
        assert_ne!(a, run(43));
        for (hour, ops) in &a {
            let marks = ops
                .iter()
                .filter(|op| matches!(op, Op::MarkMove { .. }))
                .count();
            let funding = ops
                .iter()
                .filter(|op| matches!(op, Op::Funding { .. }))
                .count();
            assert_eq!(marks, usize::from(hour % MARK_EVERY_HOURS == 0), "{hour}");
            assert_eq!(
                funding,
                usize::from(hour % FUNDING_EVERY_HOURS == 0),
                "{hour}"
            );
            for op in ops {
                match op {
                    Op::MarkMove { prices, .. } => {
                        for (_, price) in prices.iter() {
                            assert!(*price > Decimal::ZERO && price.scale() <= 2);
                        }
                    }
                    Op::Funding { rates, .. } => {
                        assert_eq!(rates.len(), PerpMarket::ALL.len());
                        assert!(rates.values().all(|r| r.abs() <= MAX_FUNDING_RATE));
                    }
                    other => panic!("unexpected {other:?}"),
                }
            }
        }
        // Prices do move.
        let moved = a.iter().flat_map(|(_, ops)| ops).any(|op| {
            matches!(op, Op::MarkMove { prices, .. } if prices[Asset::Btc] != Asset::Btc.start_price_usdc())
        });
        assert!(moved);
    }
}
