//! The simulated venue's markets: the spot assets of the wallet, the perpetual futures of the
//! trading service, their parameters, and the seeded model that moves their prices and
//! draws funding rates.
//!
//! The venue quotes four spot assets (BTC, ETH, SOL, XMR) and three perpetual markets
//! (BTC-PERP, ETH-PERP, SOL-PERP). A perp's mark price is its underlying's index price: the
//! simulator has no order book and no basis, which keeps the hedge arithmetic of a test
//! checkable by hand. [`MarketModel`] steps the prices as correlated geometric random walks
//! every [`MARK_EVERY_HOURS`] simulated hours and draws a funding rate per perp every
//! [`FUNDING_EVERY_HOURS`]; it emits them as ledger [`Op`]s (`MarkMove`, `Funding`) so that
//! the ledger, not the model, does every money movement.
//!
//! `f64` lives only inside the random walk; every price and rate crosses into `Decimal`
//! through a finiteness-checked conversion and is clamped to the ranges the ledger accepts.
//!
//! # Invariants
//! - The same seed gives the same prices and rates, hour for hour; the model reads no clock
//!   (time comes in as an argument) and shares no random stream with the casino.
//! - Every price emitted is positive, whole cents and at most [`MAX_PRICE_USDC`]; every
//!   funding rate is within ±[`MAX_FUNDING_RATE`], at most six decimal places.
//! - [`MarketParams::validate`] guarantees a position opened at the maximum leverage starts
//!   above its maintenance margin, so no order is liquidated by the act of opening it.

use std::{collections::BTreeMap, fmt, ops};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::state::{Op, StateError};
use crate::money::{decimal_from_f64, decimal_to_f64};

/// Hours between mark-price moves (and price announcements).
pub const MARK_EVERY_HOURS: u8 = 4;
/// Hours between funding payments: at 00:00, 08:00 and 16:00 UTC, as on most perp venues.
pub const FUNDING_EVERY_HOURS: u8 = 8;
/// The largest price the ledger accepts, USDC per unit (see
/// [`MAX_NOTIONAL_USDC`](super::state::MAX_NOTIONAL_USDC) for why it is bounded).
pub const MAX_PRICE_USDC: Decimal = Decimal::from_parts(10_000_000, 0, 0, false, 0);
/// The largest funding rate per period accepted, either sign (1%).
pub const MAX_FUNDING_RATE: Decimal = Decimal::from_parts(1, 0, 0, false, 2);
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

/// A spot asset the wallet can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Asset {
    /// Bitcoin.
    Btc,
    /// Ether.
    Eth,
    /// Solana.
    Sol,
    /// Monero.
    Xmr,
}

impl Asset {
    /// Every asset, in the order of [`AssetMap`].
    pub const ALL: [Asset; 4] = [Asset::Btc, Asset::Eth, Asset::Sol, Asset::Xmr];

    /// The ticker on the wire (`BTC`, ...).
    pub const fn symbol(self) -> &'static str {
        match self {
            Asset::Btc => "BTC",
            Asset::Eth => "ETH",
            Asset::Sol => "SOL",
            Asset::Xmr => "XMR",
        }
    }

    /// Price when the venue opens, USDC per unit.
    pub fn start_price_usdc(self) -> Decimal {
        match self {
            Asset::Btc => Decimal::from(95_000),
            Asset::Eth => Decimal::from(3_400),
            Asset::Sol => Decimal::from(180),
            Asset::Xmr => Decimal::from(160),
        }
    }

    /// Daily volatility of the random walk.
    const fn daily_vol(self) -> f64 {
        match self {
            Asset::Btc => 0.025,
            Asset::Eth | Asset::Xmr => 0.035,
            Asset::Sol => 0.045,
        }
    }

    const fn index(self) -> usize {
        self as usize
    }

    /// Parses a ticker, case-insensitively.
    ///
    /// # Errors
    /// [`StateError::Unknown`] naming `field` and listing the known tickers.
    pub fn parse(field: &'static str, text: &str) -> Result<Asset, StateError> {
        let upper = text.trim().to_ascii_uppercase();
        Asset::ALL
            .into_iter()
            .find(|asset| asset.symbol() == upper)
            .ok_or_else(|| StateError::Unknown {
                field,
                code: "unknown_asset",
                value: text.to_owned(),
                known: Asset::ALL.map(Asset::symbol).join(", "),
            })
    }
}

impl fmt::Display for Asset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.symbol())
    }
}

/// A value per asset, dense, in [`Asset::ALL`] order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct AssetMap<T>(pub [T; 4]);

impl<T> AssetMap<T> {
    /// Builds a map by calling `f` once per asset.
    pub fn from_fn(mut f: impl FnMut(Asset) -> T) -> Self {
        AssetMap(Asset::ALL.map(&mut f))
    }

    /// Iterates `(asset, &value)`.
    pub fn iter(&self) -> impl Iterator<Item = (Asset, &T)> {
        Asset::ALL.into_iter().zip(self.0.iter())
    }
}

impl<T> ops::Index<Asset> for AssetMap<T> {
    type Output = T;

    fn index(&self, asset: Asset) -> &T {
        &self.0[asset.index()]
    }
}

impl<T> ops::IndexMut<Asset> for AssetMap<T> {
    fn index_mut(&mut self, asset: Asset) -> &mut T {
        &mut self.0[asset.index()]
    }
}

/// A perpetual-futures market of the trading service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PerpMarket {
    /// BTC-PERP.
    BtcPerp,
    /// ETH-PERP.
    EthPerp,
    /// SOL-PERP.
    SolPerp,
}

impl PerpMarket {
    /// Every market.
    pub const ALL: [PerpMarket; 3] = [
        PerpMarket::BtcPerp,
        PerpMarket::EthPerp,
        PerpMarket::SolPerp,
    ];

    /// The name on the wire (`BTC-PERP`, ...).
    pub const fn name(self) -> &'static str {
        match self {
            PerpMarket::BtcPerp => "BTC-PERP",
            PerpMarket::EthPerp => "ETH-PERP",
            PerpMarket::SolPerp => "SOL-PERP",
        }
    }

    /// The spot asset whose index price is this market's mark.
    pub const fn underlying(self) -> Asset {
        match self {
            PerpMarket::BtcPerp => Asset::Btc,
            PerpMarket::EthPerp => Asset::Eth,
            PerpMarket::SolPerp => Asset::Sol,
        }
    }

    /// Parses a market name, case-insensitively.
    ///
    /// # Errors
    /// [`StateError::Unknown`] naming `field` and listing the known markets.
    pub fn parse(field: &'static str, text: &str) -> Result<PerpMarket, StateError> {
        let upper = text.trim().to_ascii_uppercase();
        PerpMarket::ALL
            .into_iter()
            .find(|market| market.name() == upper)
            .ok_or_else(|| StateError::Unknown {
                field,
                code: "unknown_market",
                value: text.to_owned(),
                known: PerpMarket::ALL.map(PerpMarket::name).join(", "),
            })
    }
}

impl fmt::Display for PerpMarket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Fees, spreads and limits of the simulated markets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MarketParams {
    /// Half the wallet's bid/ask spread as a fraction of the mid price: buys fill at
    /// `mid × (1 + h)`, sells at `mid × (1 − h)`. The spread is the wallet's only trading
    /// cost.
    pub wallet_half_spread: Decimal,
    /// Highest leverage a perp order may use.
    pub max_leverage: u32,
    /// Fee of limit orders (maker), as a fraction of the notional.
    pub maker_fee_rate: Decimal,
    /// Fee of market orders and closes (taker), as a fraction of the notional.
    pub taker_fee_rate: Decimal,
    /// A position whose margin plus unrealized PnL falls to this fraction of its notional at
    /// the mark is liquidated, losing its margin.
    pub maintenance_margin_rate: Decimal,
}

impl Default for MarketParams {
    fn default() -> Self {
        MarketParams {
            // 0.1%: a liquid crypto spot market's cost of crossing the spread.
            wallet_half_spread: Decimal::new(1, 3),
            max_leverage: 20,
            // The article's 0.05% maker / 0.1% taker.
            maker_fee_rate: Decimal::new(5, 4),
            taker_fee_rate: Decimal::new(1, 3),
            maintenance_margin_rate: Decimal::new(5, 3),
        }
    }
}

impl MarketParams {
    /// Checks every parameter, listing every problem.
    ///
    /// # Errors
    /// One line per bad field, naming it.
    pub fn validate(&self) -> Result<(), Vec<String>> {
        let mut problems = Vec::new();
        let mut fraction = |name: &str, value: Decimal, max: Decimal| {
            if value < Decimal::ZERO || value > max {
                problems.push(format!("markets.{name}: {value} is not in [0, {max}]"));
            }
        };
        fraction(
            "wallet_half_spread",
            self.wallet_half_spread,
            Decimal::new(5, 2),
        );
        fraction("maker_fee_rate", self.maker_fee_rate, Decimal::new(1, 2));
        fraction("taker_fee_rate", self.taker_fee_rate, Decimal::new(1, 2));
        fraction(
            "maintenance_margin_rate",
            self.maintenance_margin_rate,
            Decimal::new(5, 1),
        );
        if !(1..=125).contains(&self.max_leverage) {
            problems.push(format!(
                "markets.max_leverage: {} is not in [1, 125]",
                self.max_leverage
            ));
        } else if self.maintenance_margin_rate * Decimal::from(self.max_leverage) >= Decimal::ONE {
            // At the maximum leverage the initial margin is 1/max of the notional; it must be
            // above the maintenance margin or a fresh position would be liquidated at once.
            problems.push(format!(
                "markets.maintenance_margin_rate: {} must be below 1 / max_leverage ({})",
                self.maintenance_margin_rate, self.max_leverage
            ));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }
}

/// The seeded price and funding model.
#[derive(Debug, Clone)]
pub struct MarketModel {
    rng: ChaCha8Rng,
    /// The walk's state per asset, unrounded, so rounding never accumulates.
    prices: [f64; 4],
}

impl MarketModel {
    /// A model whose whole future is fixed by `seed`, starting at the assets' start prices.
    pub fn new(seed: u64) -> Self {
        MarketModel {
            rng: ChaCha8Rng::seed_from_u64(seed ^ MARKET_SEED_SALT),
            prices: Asset::ALL.map(|asset| decimal_to_f64(asset.start_price_usdc())),
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
                prices: AssetMap::from_fn(|asset| price_usdc(self.prices[asset.index()])),
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
            let vol = asset.daily_vol() * dt_days.sqrt();
            // No drift: the −σ²/2 term keeps the expected price flat.
            let growth = (vol * z - vol * vol / 2.0).exp();
            let price = &mut self.prices[asset.index()];
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
    use rust_decimal_macros::dec;
    use time::macros::datetime;

    use super::*;
    use crate::sim::test_support::assert_validation;

    #[test]
    fn parse_names_the_field_and_lists_known_values() {
        struct TestCase {
            input: &'static str,
            expected: Result<PerpMarket, &'static str>,
        }
        let cases = [
            // TC0: exact.
            TestCase {
                input: "BTC-PERP",
                expected: Ok(PerpMarket::BtcPerp),
            },
            // TC1: any case, padded.
            TestCase {
                input: " sol-perp ",
                expected: Ok(PerpMarket::SolPerp),
            },
            // TC2: a spot ticker is not a market.
            TestCase {
                input: "BTC",
                expected: Err(
                    "`market`: unknown market `BTC` (known: BTC-PERP, ETH-PERP, SOL-PERP)",
                ),
            },
        ];
        for (index, case) in cases.iter().enumerate() {
            let got = PerpMarket::parse("market", case.input).map_err(|e| e.to_string());
            match (&got, &case.expected) {
                (Ok(a), Ok(b)) => assert_eq!(a, b, "TC{index}"),
                (Err(text), Err(needle)) => assert_eq!(text, needle, "TC{index}"),
                _ => panic!("TC{index}: got {got:?}"),
            }
        }
        assert_eq!(Asset::parse("asset", "xmr"), Ok(Asset::Xmr));
        assert_eq!(
            Asset::parse("asset", "DOGE").map_err(|e| e.code()),
            Err("unknown_asset")
        );
    }

    #[test]
    fn params_validation_names_fields() {
        struct TestCase {
            params: MarketParams,
            expected: Option<&'static str>,
        }
        let cases = [
            // TC0: the defaults are valid.
            TestCase {
                params: MarketParams::default(),
                expected: None,
            },
            // TC1: a negative spread.
            TestCase {
                params: MarketParams {
                    wallet_half_spread: dec!(-0.001),
                    ..MarketParams::default()
                },
                expected: Some("markets.wallet_half_spread"),
            },
            // TC2: zero leverage.
            TestCase {
                params: MarketParams {
                    max_leverage: 0,
                    ..MarketParams::default()
                },
                expected: Some("markets.max_leverage"),
            },
            // TC3: maximum leverage at or below maintenance: liquidated on open.
            TestCase {
                params: MarketParams {
                    max_leverage: 100,
                    maintenance_margin_rate: dec!(0.01),
                    ..MarketParams::default()
                },
                expected: Some("markets.maintenance_margin_rate"),
            },
        ];
        for (index, case) in cases.iter().enumerate() {
            assert_validation(index, case.params.validate(), case.expected);
        }
    }

    #[test]
    fn same_seed_same_marks_and_funding_on_schedule() {
        let run = |seed: u64| {
            let mut model = MarketModel::new(seed);
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
