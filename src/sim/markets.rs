//! The simulated venue's markets: the spot assets of the wallet, the perpetual futures of the
//! trading service, and their parameters.
//!
//! The venue quotes four spot assets (BTC, ETH, SOL, XMR) and three perpetual markets
//! (BTC-PERP, ETH-PERP, SOL-PERP). A perp's mark price is its underlying's index price: the
//! simulator has no order book and no basis, which keeps the hedge arithmetic of a test
//! checkable by hand. The seeded model that moves the prices and draws funding rates is
//! [`PriceModel`](super::prices::PriceModel).
//!
//! # Invariants
//! - [`MarketParams::validate`] guarantees a position opened at the maximum leverage starts
//!   above its maintenance margin, so no order is liquidated by the act of opening it.
//! - Parsing a ticker or a market name never panics; an unknown one is an
//!   [`UnknownSymbol`] naming the field and listing what the venue quotes.

use std::{fmt, ops};

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// Hours between mark-price moves (and price announcements).
pub const MARK_EVERY_HOURS: u8 = 4;
/// Hours between funding payments: at 00:00, 08:00 and 16:00 UTC, as on most perp venues.
pub const FUNDING_EVERY_HOURS: u8 = 8;
/// The largest price the ledger accepts, USDC per unit (see
/// [`MAX_NOTIONAL_USDC`](super::ledger::MAX_NOTIONAL_USDC) for why it is bounded).
pub const MAX_PRICE_USDC: Decimal = Decimal::from_parts(10_000_000, 0, 0, false, 0);
/// The largest funding rate per period accepted, either sign (1%).
pub const MAX_FUNDING_RATE: Decimal = Decimal::from_parts(1, 0, 0, false, 2);

/// A ticker or market name the venue does not quote.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{field}`: unknown {} `{value}` (known: {known})", .code.trim_start_matches("unknown_"))]
pub struct UnknownSymbol {
    /// The request field at fault.
    pub field: &'static str,
    /// `unknown_asset` or `unknown_market`: the code of the venue's refusal.
    pub code: &'static str,
    /// What was sent.
    pub value: String,
    /// What the venue quotes.
    pub known: String,
}

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

    const fn index(self) -> usize {
        self as usize
    }

    /// Parses a ticker, case-insensitively.
    ///
    /// # Errors
    /// [`UnknownSymbol`] naming `field` and listing the known tickers.
    pub fn parse(field: &'static str, text: &str) -> Result<Asset, UnknownSymbol> {
        parse_symbol(field, "unknown_asset", text, Asset::ALL, Asset::symbol)
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
    /// [`UnknownSymbol`] naming `field` and listing the known markets.
    pub fn parse(field: &'static str, text: &str) -> Result<PerpMarket, UnknownSymbol> {
        parse_symbol(
            field,
            "unknown_market",
            text,
            PerpMarket::ALL,
            PerpMarket::name,
        )
    }
}

impl fmt::Display for PerpMarket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The one of `all` whose `name` is `text` (trimmed, any case), or an [`UnknownSymbol`]
/// with `code` listing them.
fn parse_symbol<T: Copy, const N: usize>(
    field: &'static str,
    code: &'static str,
    text: &str,
    all: [T; N],
    name: fn(T) -> &'static str,
) -> Result<T, UnknownSymbol> {
    let upper = text.trim().to_ascii_uppercase();
    all.into_iter()
        .find(|item| name(*item) == upper)
        .ok_or_else(|| UnknownSymbol {
            field,
            code,
            value: text.to_owned(),
            known: all.map(name).join(", "),
        })
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
        crate::validation::every_problem(problems)
    }
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

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
            Asset::parse("asset", "DOGE").map_err(|e| e.code),
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
}
