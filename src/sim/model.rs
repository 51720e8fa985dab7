//! The simulated agent's own activity: casino play, income and the untracked books of
//! trading and wallet, one simulated hour at a time.
//!
//! [`ActivityModel::hour`] looks at the cash balances and the current prices and returns the
//! [`Op`]s that happened in the hour that just ended; the caller applies them to the ledger
//! and announces them. It draws every random number from one seeded ChaCha stream, so a seed
//! fixes the whole activity: the same seed, balances and prices give the same operations.
//! Prices and funding belong to the price model ([`super::prices`]), which has its own
//! stream; the positions and lots opened through the API belong to the ledger.
//!
//! What happens, and how often (simulated time):
//! - **Casino**, every hour: `bets_per_hour` even-money bets of `stake_fraction` of the
//!   bankroll, won with the streak regime's probability (cold, normal or hot, switching at
//!   random, so wins and losses come in streaks), aggregated into one `casino_win` or
//!   `casino_loss`; plus `jackpot_bets_per_hour` long-shot bets at 10–100× with a house edge,
//!   each reported as its own `casino_win` when it hits. A 50× or 100× jackpot on a 1% stake
//!   is a win of 10–20% of a $1,000 bankroll with a 20% casino: the events a post-win
//!   rebalance exists for. The casino stops betting when a stake would round to zero cents.
//! - **Referral income**, a few times a day at random, small, to the reserve.
//! - **Escrow fees**, a few deals a day at random, each a slice of the escrow balance, earn
//!   the escrow service its 1% fee.
//! - Every [`MARK_EVERY_HOURS`] the wallet's cash (an equal-weight basket of the quoted
//!   assets, standing for the agent's own trading outside this API) and trading's cash (a
//!   random walk with a small drift, less trading fees every 8 h) are marked to market.
//! - **Domains** earn rental income and move in value once a day.
//!
//! # Invariants
//! - No operation produced takes a balance below zero when applied in order to the balances
//!   given: losses are bounded by what was staked, marks by the service's balance.
//! - Every amount is whole cents; zero-amount operations are never produced.
//! - No I/O and no clock: time comes in as an argument.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Binomial, Distribution, Poisson, StandardNormal};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{
    ledger::{Op, round_multiplier},
    markets::{Asset, AssetMap, MARK_EVERY_HOURS},
};
use crate::{
    money::{decimal_from_f64, decimal_to_f64, round_cents},
    service::{Service, ServiceMap},
};

/// Hours between trading-fee charges (perp funding cadence).
const TRADING_FEE_EVERY_HOURS: u8 = 8;
/// Trading fees charged per fee period, as a fraction of the trading balance.
const TRADING_FEE_RATE: f64 = 0.0001;
/// Daily drift and volatility of the trading balance.
const TRADING_DAILY_DRIFT: f64 = 0.0008;
const TRADING_DAILY_VOL: f64 = 0.02;
/// Domains: daily rental yield (before noise) and daily value volatility.
const DOMAINS_DAILY_YIELD: f64 = 0.0005;
const DOMAINS_DAILY_VOL: f64 = 0.008;
/// Escrow deals settled per simulated day, and each one's size as a fraction of the escrow
/// balance: about 0.035% of the balance a day in fees, the article's "very low vol, fee-based"
/// service.
const ESCROW_DEALS_PER_DAY: f64 = 2.0;
const ESCROW_DEAL_FRACTION: std::ops::Range<f64> = 0.005..0.03;
/// Referral payouts per simulated day, and their range in cents.
const REFERRALS_PER_DAY: f64 = 1.0;
const REFERRAL_CENTS: std::ops::RangeInclusive<i64> = 10..=200;

/// How the simulated agent plays the casino.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CasinoParams {
    /// Probability of winning an even-money bet in the normal regime (below 0.5: the
    /// house edge).
    pub win_probability: f64,
    /// Even-money bets per simulated hour.
    pub bets_per_hour: u32,
    /// Stake of each bet as a fraction of the casino balance at the start of the hour.
    pub stake_fraction: f64,
    /// How far a hot (cold) streak raises (lowers) the win probability.
    pub streak_shift: f64,
    /// Probability per hour that the streak regime is redrawn.
    pub streak_switch_probability: f64,
    /// Long-shot bets per simulated hour, each at one of `jackpot_multipliers`.
    pub jackpot_bets_per_hour: u32,
    /// Payout multiples of the long-shot bets, drawn uniformly.
    pub jackpot_multipliers: Vec<u32>,
    /// House edge of a long shot: it pays `m×` with probability `(1 − edge) / m`.
    pub jackpot_house_edge: f64,
    /// Correlation of the casino's daily returns with BTC's, in (−1, 1): its payouts held
    /// in crypto and marked to USDC at every BTC move (0: none). See `engine::crypto`.
    pub btc_correlation: f64,
}

impl Default for CasinoParams {
    fn default() -> Self {
        CasinoParams {
            win_probability: 0.49,
            bets_per_hour: 4,
            stake_fraction: 0.01,
            streak_shift: 0.04,
            streak_switch_probability: 0.05,
            jackpot_bets_per_hour: 1,
            jackpot_multipliers: vec![10, 25, 60, 120],
            jackpot_house_edge: 0.03,
            btc_correlation: 0.0,
        }
    }
}

impl CasinoParams {
    /// Checks every parameter, listing every problem.
    ///
    /// # Errors
    /// One line per bad field, naming it.
    pub fn validate(&self) -> Result<(), Vec<String>> {
        let mut problems = Vec::new();
        let mut probability = |name: &str, p: f64| {
            if !(0.0..=1.0).contains(&p) {
                problems.push(format!("casino.{name}: {p} is not in [0, 1]"));
            }
        };
        probability("win_probability", self.win_probability);
        probability("streak_switch_probability", self.streak_switch_probability);
        probability("jackpot_house_edge", self.jackpot_house_edge);
        probability("streak_shift", self.streak_shift);
        let (cold, hot) = (
            self.win_probability - self.streak_shift,
            self.win_probability + self.streak_shift,
        );
        if self.streak_shift.is_finite() && (cold < 0.0 || hot > 1.0) {
            problems.push(format!(
                "casino.streak_shift: {} takes the win probability outside [0, 1]",
                self.streak_shift
            ));
        }
        let bets = f64::from(self.bets_per_hour) + f64::from(self.jackpot_bets_per_hour);
        if !(self.stake_fraction > 0.0 && self.stake_fraction * bets <= 1.0) {
            problems.push(format!(
                "casino.stake_fraction: {} must be positive and at most 1 / (bets_per_hour + jackpot_bets_per_hour) so an hour's stakes fit in the bankroll",
                self.stake_fraction
            ));
        }
        if self.jackpot_bets_per_hour > 0 && self.jackpot_multipliers.is_empty() {
            problems.push("casino.jackpot_multipliers: empty while jackpot bets are on".into());
        }
        if let Some(m) = self.jackpot_multipliers.iter().find(|m| **m < 2) {
            problems.push(format!(
                "casino.jackpot_multipliers: {m} must be at least 2"
            ));
        }
        if !(self.btc_correlation.is_finite() && self.btc_correlation.abs() < 1.0) {
            problems.push(format!(
                "casino.btc_correlation: {} must be in (-1, 1)",
                self.btc_correlation
            ));
        }
        crate::validation::every_problem(problems)
    }
}

/// The casino's current streak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Streak {
    Cold,
    Normal,
    Hot,
}

/// The seeded activity model.
#[derive(Debug, Clone)]
pub struct ActivityModel {
    casino: CasinoParams,
    rng: ChaCha8Rng,
    streak: Streak,
    /// Prices at the last wallet mark, to compute the basket's return since.
    marked_prices: AssetMap<f64>,
}

impl ActivityModel {
    /// A model whose whole future is fixed by `seed`.
    pub fn new(casino: CasinoParams, seed: u64) -> Self {
        ActivityModel {
            casino,
            rng: ChaCha8Rng::seed_from_u64(seed),
            streak: Streak::Normal,
            marked_prices: AssetMap::from_fn(|asset| decimal_to_f64(asset.start_price_usdc())),
        }
    }

    /// The operations of the hour that ends at `hour_end`, given the cash balances at its
    /// start and the prices now.
    pub fn hour(
        &mut self,
        balances_usdc: &ServiceMap<Decimal>,
        hour_end: OffsetDateTime,
        prices: &AssetMap<Decimal>,
    ) -> Vec<Op> {
        let mut ops = Vec::new();
        self.casino_hour(balances_usdc[Service::Casino], &mut ops);
        self.referrals(&mut ops);
        self.escrow_deals(balances_usdc[Service::Escrow], &mut ops);
        let hour = hour_end.hour();
        if hour.is_multiple_of(MARK_EVERY_HOURS) {
            self.mark_wallet(balances_usdc[Service::Wallet], prices, &mut ops);
            let fee_due = hour.is_multiple_of(TRADING_FEE_EVERY_HOURS);
            self.mark_trading(balances_usdc[Service::Trading], fee_due, &mut ops);
        }
        if hour == 0 {
            self.daily(balances_usdc, &mut ops);
        }
        ops
    }

    fn casino_hour(&mut self, casino_usdc: Decimal, ops: &mut Vec<Op>) {
        if self.rng.random_bool(self.casino.streak_switch_probability) {
            self.streak = match self.rng.random_range(0..3) {
                0 => Streak::Cold,
                1 => Streak::Normal,
                _ => Streak::Hot,
            };
        }
        let stake_usdc =
            round_cents(casino_usdc * usdc(self.casino.stake_fraction).unwrap_or_default());
        if stake_usdc < Decimal::new(1, 2) {
            // Broke (or nearly): the agent stops playing rather than go negative.
            return;
        }
        let win_probability = match self.streak {
            Streak::Cold => self.casino.win_probability - self.casino.streak_shift,
            Streak::Normal => self.casino.win_probability,
            Streak::Hot => self.casino.win_probability + self.casino.streak_shift,
        }
        .clamp(0.0, 1.0);
        let bets = u64::from(self.casino.bets_per_hour);
        let wins = Binomial::new(bets, win_probability)
            .map(|d| d.sample(&mut self.rng))
            .unwrap_or(0);
        let mut staked_usdc = stake_usdc * Decimal::from(bets);
        let payout_usdc = stake_usdc * Decimal::from(2 * wins);
        let mut jackpots = Vec::new();
        for _ in 0..self.casino.jackpot_bets_per_hour {
            let Some(&multiplier) = self.casino.jackpot_multipliers.get(
                self.rng
                    .random_range(0..self.casino.jackpot_multipliers.len().max(1)),
            ) else {
                break;
            };
            let p =
                ((1.0 - self.casino.jackpot_house_edge) / f64::from(multiplier)).clamp(0.0, 1.0);
            if self.rng.random_bool(p) {
                jackpots.push(multiplier);
            } else {
                staked_usdc += stake_usdc;
            }
        }
        // Losses first: they are bounded by what was staked, so the bankroll covers them.
        let net_usdc = payout_usdc - staked_usdc;
        if net_usdc > Decimal::ZERO {
            ops.push(Op::CasinoWin {
                amount_usdc: net_usdc,
                stake_usdc: staked_usdc,
                multiplier: round_multiplier(payout_usdc / staked_usdc),
            });
        } else if net_usdc < Decimal::ZERO {
            ops.push(Op::CasinoLoss {
                amount_usdc: -net_usdc,
            });
        }
        for multiplier in jackpots {
            let multiplier = Decimal::from(multiplier);
            ops.push(Op::CasinoWin {
                amount_usdc: stake_usdc * (multiplier - Decimal::ONE),
                stake_usdc,
                multiplier,
            });
        }
    }

    /// How many of an event that happens `per_day` times a day on average happen this hour.
    fn hourly_count(&mut self, per_day: f64) -> u32 {
        let count = Poisson::new(per_day / 24.0)
            .map(|d| d.sample(&mut self.rng))
            .unwrap_or(0.0);
        // A Poisson draw is a whole number stored as f64; a handful at most per hour.
        count.clamp(0.0, 100.0) as u32
    }

    fn referrals(&mut self, ops: &mut Vec<Op>) {
        for _ in 0..self.hourly_count(REFERRALS_PER_DAY) {
            let cents = self.rng.random_range(REFERRAL_CENTS);
            let source_service =
                [Service::Casino, Service::Trading, Service::Domains][self.rng.random_range(0..3)];
            ops.push(Op::ReferralIncome {
                amount_usdc: Decimal::new(cents, 2),
                source_service,
            });
        }
    }

    fn escrow_deals(&mut self, escrow_usdc: Decimal, ops: &mut Vec<Op>) {
        for _ in 0..self.hourly_count(ESCROW_DEALS_PER_DAY) {
            let fraction = self.rng.random_range(ESCROW_DEAL_FRACTION);
            let deal_usdc = round_cents(escrow_usdc * usdc(fraction).unwrap_or_default());
            // A deal must earn at least a cent of fee; an empty escrow settles nothing.
            if deal_usdc >= Decimal::ONE {
                ops.push(Op::EscrowFee { deal_usdc });
            }
        }
    }

    fn mark_wallet(&mut self, wallet_usdc: Decimal, prices: &AssetMap<Decimal>, ops: &mut Vec<Op>) {
        let now = AssetMap::from_fn(|asset| decimal_to_f64(prices[asset]));
        // An equal-weight basket, rebalanced at every mark.
        let then = std::mem::replace(&mut self.marked_prices, now);
        let basket_return = Asset::ALL
            .iter()
            .map(|asset| now[*asset] / then[*asset] - 1.0)
            .sum::<f64>()
            / Asset::ALL.len() as f64;
        if basket_return.is_finite() {
            push_mark(ops, Service::Wallet, wallet_usdc, basket_return, 0.0);
        }
    }

    fn mark_trading(&mut self, trading_usdc: Decimal, fee_due: bool, ops: &mut Vec<Op>) {
        let dt_days = f64::from(MARK_EVERY_HOURS) / 24.0;
        let z: f64 = self.rng.sample(StandardNormal);
        let r = TRADING_DAILY_DRIFT * dt_days + TRADING_DAILY_VOL * dt_days.sqrt() * z;
        let fee_rate = if fee_due { TRADING_FEE_RATE } else { 0.0 };
        push_mark(ops, Service::Trading, trading_usdc, r, fee_rate);
    }

    fn daily(&mut self, balances_usdc: &ServiceMap<Decimal>, ops: &mut Vec<Op>) {
        let domains_usdc = balances_usdc[Service::Domains];
        let rent_noise = self.rng.random_range(0.5..1.5);
        let rent_usdc =
            round_cents(domains_usdc * usdc(DOMAINS_DAILY_YIELD * rent_noise).unwrap_or_default());
        if rent_usdc > Decimal::ZERO {
            ops.push(Op::DomainsIncome {
                amount_usdc: rent_usdc,
            });
        }
        let z: f64 = self.rng.sample(StandardNormal);
        push_mark(
            ops,
            Service::Domains,
            domains_usdc + rent_usdc,
            DOMAINS_DAILY_VOL * z,
            0.0,
        );
    }
}

/// Pushes a mark of `balance × r` less `balance × fee_rate`, whole cents, never more than
/// the balance, skipping a mark that rounds to nothing.
fn push_mark(ops: &mut Vec<Op>, service: Service, balance_usdc: Decimal, r: f64, fee_rate: f64) {
    let pnl_usdc = round_cents(balance_usdc * usdc(r).unwrap_or_default()).max(-balance_usdc);
    let fee_usdc = round_cents(balance_usdc * usdc(fee_rate).unwrap_or_default())
        .min(balance_usdc + pnl_usdc)
        .max(Decimal::ZERO);
    if pnl_usdc.is_zero() && fee_usdc.is_zero() {
        return;
    }
    ops.push(Op::MarkToMarket {
        service,
        pnl_usdc,
        fee_usdc,
    });
}

/// A model `f64` as a Decimal, or `None` when it is not finite.
fn usdc(value: f64) -> Option<Decimal> {
    decimal_from_f64(value, "model value").ok()
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;
    use time::macros::datetime;

    use super::*;
    use crate::sim::{
        ledger::{Ledger, article_balances_usdc},
        prices::PriceModel,
        test_support::assert_validation,
    };

    #[test]
    fn casino_params_validation_names_fields() {
        struct TestCase {
            params: CasinoParams,
            expected: Option<&'static str>,
        }
        let cases = [
            // TC0: the defaults are valid.
            TestCase {
                params: CasinoParams::default(),
                expected: None,
            },
            // TC1: a probability above 1.
            TestCase {
                params: CasinoParams {
                    win_probability: 1.2,
                    ..CasinoParams::default()
                },
                expected: Some("casino.win_probability"),
            },
            // TC2: stakes that cannot fit the bankroll.
            TestCase {
                params: CasinoParams {
                    stake_fraction: 0.5,
                    ..CasinoParams::default()
                },
                expected: Some("casino.stake_fraction"),
            },
            // TC3: NaN.
            TestCase {
                params: CasinoParams {
                    stake_fraction: f64::NAN,
                    ..CasinoParams::default()
                },
                expected: Some("casino.stake_fraction"),
            },
            // TC5: a perfect correlation cannot be calibrated.
            TestCase {
                params: CasinoParams {
                    btc_correlation: 1.0,
                    ..CasinoParams::default()
                },
                expected: Some("casino.btc_correlation"),
            },
            // TC4: a 1× jackpot.
            TestCase {
                params: CasinoParams {
                    jackpot_multipliers: vec![1],
                    ..CasinoParams::default()
                },
                expected: Some("casino.jackpot_multipliers"),
            },
        ];
        for (index, case) in cases.iter().enumerate() {
            assert_validation(index, case.params.validate(), case.expected);
        }
    }

    #[test]
    fn same_seed_same_world_and_every_op_applies() {
        let run = |seed: u64| {
            let mut model = ActivityModel::new(CasinoParams::default(), seed);
            let mut markets = PriceModel::new(seed);
            let mut ledger = Ledger::new(article_balances_usdc()).expect("valid");
            let mut hour_end = datetime!(2025-12-31 13:00 UTC);
            let mut all = Vec::new();
            for _ in 0..24 * 30 {
                for op in markets.hour(hour_end) {
                    ledger.apply(&op).expect("market op applies");
                }
                for op in model.hour(&ledger.balances(), hour_end, &ledger.prices()) {
                    ledger
                        .apply(&op)
                        .unwrap_or_else(|e| panic!("{op:?} refused: {e}"));
                    all.push(op);
                }
                hour_end += time::Duration::HOUR;
            }
            assert!(ledger.accounting().ok);
            (all, ledger.balances())
        };
        let (ops_a, balances_a) = run(42);
        let (ops_b, balances_b) = run(42);
        assert_eq!(ops_a, ops_b);
        assert_eq!(balances_a, balances_b);
        assert_ne!(run(43).0, ops_a);
        // A month of play has every kind of activity.
        let has = |f: fn(&Op) -> bool| ops_a.iter().any(f);
        assert!(has(|op| matches!(op, Op::CasinoWin { .. })));
        assert!(has(|op| matches!(op, Op::CasinoLoss { .. })));
        assert!(has(|op| matches!(op, Op::ReferralIncome { .. })));
        assert!(has(|op| matches!(op, Op::DomainsIncome { .. })));
        assert!(has(|op| matches!(op, Op::EscrowFee { .. })));
        assert!(has(|op| matches!(
            op,
            Op::MarkToMarket {
                service: Service::Wallet,
                ..
            }
        )));
        assert!(has(
            |op| matches!(op, Op::MarkToMarket { fee_usdc, .. } if !fee_usdc.is_zero())
        ));
    }

    #[test]
    fn large_wins_happen_within_a_few_simulated_days() {
        // At the default speed (6 simulated hours per real second) 10 days is 40 s of real
        // time; a win of at least 10% of the $1,000 bankroll must turn up well within that.
        let mut model = ActivityModel::new(CasinoParams::default(), 1);
        let balances = article_balances_usdc();
        let prices = AssetMap::from_fn(Asset::start_price_usdc);
        let mut hour_end = datetime!(2025-12-31 13:00 UTC);
        let mut found = false;
        for _ in 0..24 * 10 {
            found |= model.hour(&balances, hour_end, &prices).iter().any(
                |op| matches!(op, Op::CasinoWin { amount_usdc, .. } if *amount_usdc >= dec!(100)),
            );
            hour_end += time::Duration::HOUR;
        }
        assert!(found);
    }

    #[test]
    fn an_empty_casino_stops_betting() {
        let mut model = ActivityModel::new(CasinoParams::default(), 3);
        let mut balances = article_balances_usdc();
        balances[Service::Casino] = dec!(0.5);
        let prices = AssetMap::from_fn(Asset::start_price_usdc);
        let mut hour_end = datetime!(2025-12-31 13:00 UTC);
        for _ in 0..100 {
            assert!(
                !model
                    .hour(&balances, hour_end, &prices)
                    .iter()
                    .any(|op| matches!(op, Op::CasinoWin { .. } | Op::CasinoLoss { .. }))
            );
            hour_end += time::Duration::HOUR;
        }
    }
}
