//! The simulated venue's own endpoints under `/api/v1/sim/` (a real venue has none): what
//! the venue saw (`GET /sim/stats`, and the clock part of it a companion follows), the
//! events a test or a scenario makes happen (`POST /sim/inject`), and the clock jump
//! (`POST /sim/advance`).
//!
//! The simulator serves these bodies and the client reads them, both from the definitions
//! here, so the two sides cannot drift apart.
//!
//! # Invariants
//! - Request bodies ([`InjectRequest`], [`AdvanceBody`]) reject unknown fields; response
//!   bodies accept them.
//! - A [`SimStats`] that decodes through [`decode_rest`](super::validation::decode_rest)
//!   has a positive speed.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{
    portfolio::{PortfolioResponse, WireDecimal},
    validation::RestPayload,
    wire,
};
use crate::service::Service;

/// What the venue saw: `GET /api/v1/sim/stats` (simulator only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimStats {
    /// The simulated agent.
    pub agent_id: String,
    /// Simulated time now.
    #[serde(with = "time::serde::rfc3339")]
    pub sim_time: OffsetDateTime,
    /// Simulated seconds per real second, so a companion can follow the venue's clock.
    #[serde(with = "wire")]
    pub speed: Decimal,
    /// `seq` of the last announced event.
    pub last_seq: u64,
    /// Requests by `METHOD /path/template` (unmatched paths under `unmatched`).
    pub requests_by_endpoint: BTreeMap<String, u64>,
    /// Rebalance transfers applied.
    pub applied_transfers: u64,
    /// Applied transfers whose `Idempotency-Key` had already been applied: a leg moved
    /// twice. Always 0 unless the idempotency guarantee is broken.
    pub duplicate_transfer_keys: u64,
    /// Replies served again for a repeated `Idempotency-Key`.
    pub idempotent_replays: u64,
    /// Requests answered with a 4xx by the venue itself (faults not included).
    pub rejected_requests: u64,
    /// Faults injected, by kind.
    pub faults_injected: BTreeMap<String, u64>,
    /// Websocket connections accepted.
    pub websocket_connections: u64,
    /// Balances now.
    pub portfolio: PortfolioResponse,
    /// The accounting identity, checked now.
    pub accounting: AccountingCheck,
    /// Orders, positions, funding and wallet trades.
    #[serde(default)]
    pub markets: MarketStats,
    /// `DELETE`s of positions already closed, answered with the first close.
    #[serde(default)]
    pub repeated_closes: u64,
    /// How much the casino's value moves per unit of BTC's return (its payouts held in
    /// crypto), calibrated at start from the configured correlation; 0 when uncorrelated.
    /// The true hedge ratio a test can hold an estimate against.
    #[serde(default, with = "wire")]
    pub casino_btc_beta: Decimal,
    /// Locks placed and released so far.
    #[serde(default)]
    pub locks: LockStats,
}

/// Locks on withdrawals the venue placed and released (simulator only).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LockStats {
    /// Locks placed (after large wins and by injection).
    pub placed: u64,
    /// Locks released.
    pub released: u64,
    /// Decreases refused because they asked for locked funds.
    pub refused_decreases: u64,
}

impl SimStats {
    /// The venue's clock as the stats report it.
    pub fn clock(&self) -> SimClock {
        SimClock {
            sim_time: self.sim_time,
            speed: self.speed,
        }
    }
}

impl RestPayload for SimStats {
    fn check(&self) -> Result<(), String> {
        if self.speed <= Decimal::ZERO {
            return Err(format!("speed {} is not positive", self.speed));
        }
        Ok(())
    }
}

/// A simulated venue's clock, from [`SimStats`]: what a companion needs to follow it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SimClock {
    /// Simulated time now.
    pub sim_time: OffsetDateTime,
    /// Simulated seconds per real second.
    pub speed: Decimal,
}

/// Cumulative realized income by kind since the start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncomeTotals {
    /// Referral income credited to the reserve.
    #[serde(with = "wire")]
    pub referral_usdc: Decimal,
    /// Domain rental income.
    #[serde(with = "wire")]
    pub domains_usdc: Decimal,
    /// Casino wins minus casino losses.
    #[serde(with = "wire")]
    pub casino_net_usdc: Decimal,
    /// Mark-to-market changes of untracked activity (including drawdowns), before fees.
    #[serde(with = "wire")]
    pub mark_to_market_usdc: Decimal,
    /// Fees the escrow service earned.
    #[serde(default, with = "wire")]
    pub escrow_fees_usdc: Decimal,
    /// Realized PnL of closed and liquidated positions, before closing fees.
    #[serde(default, with = "wire")]
    pub trading_realized_pnl_usdc: Decimal,
    /// Net funding received (negative when paid).
    #[serde(default, with = "wire")]
    pub funding_usdc: Decimal,
    /// Realized PnL of wallet sales (proceeds − basis of the lots used).
    #[serde(default, with = "wire")]
    pub wallet_realized_pnl_usdc: Decimal,
}

impl IncomeTotals {
    /// The sum of every kind.
    pub fn total_usdc(&self) -> Decimal {
        self.referral_usdc
            + self.domains_usdc
            + self.casino_net_usdc
            + self.mark_to_market_usdc
            + self.escrow_fees_usdc
            + self.trading_realized_pnl_usdc
            + self.funding_usdc
            + self.wallet_realized_pnl_usdc
    }
}

/// The result of checking the simulated books' accounting identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountingCheck {
    /// Whether `total_usdc == expected_usdc` exactly.
    pub ok: bool,
    /// Σ service values: cash + position values + holdings values.
    #[serde(with = "wire")]
    pub total_usdc: Decimal,
    /// Initial funds + realized income + unrealized PnL − fees + adjustments.
    #[serde(with = "wire")]
    pub expected_usdc: Decimal,
    /// Funds at the start.
    #[serde(with = "wire")]
    pub initial_funds_usdc: Decimal,
    /// Realized income by kind.
    pub income: IncomeTotals,
    /// Fees paid (trading fees included).
    #[serde(with = "wire")]
    pub fees_usdc: Decimal,
    /// Net out-of-band balance changes (`SetBalances`).
    #[serde(with = "wire")]
    pub adjustments_usdc: Decimal,
    /// Σ cash.
    #[serde(default, with = "wire")]
    pub cash_usdc: Decimal,
    /// Σ (margin + unrealized PnL) of open positions, plus resting orders' reservations.
    #[serde(default, with = "wire")]
    pub positions_value_usdc: Decimal,
    /// Σ quantity × mid of the wallet's lots.
    #[serde(default, with = "wire")]
    pub holdings_value_usdc: Decimal,
    /// Unrealized PnL of positions (at the mark) and lots (mid − basis).
    #[serde(default, with = "wire")]
    pub unrealized_pnl_usdc: Decimal,
    /// The part of `fees_usdc` paid on perp orders.
    #[serde(default, with = "wire")]
    pub trading_fees_usdc: Decimal,
}

/// What the simulated markets did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MarketStats {
    /// Orders accepted (filled at once or resting).
    pub orders_accepted: u64,
    /// Positions opened (immediate fills and resting orders filled later).
    pub positions_opened: u64,
    /// Resting limit orders filled by a mark move.
    pub limit_fills: u64,
    /// Positions closed by the agent.
    pub positions_closed: u64,
    /// Resting orders cancelled.
    pub orders_cancelled: u64,
    /// Positions liquidated.
    pub liquidations: u64,
    /// Open positions now.
    pub open_positions: u64,
    /// Resting orders now.
    pub pending_orders: u64,
    /// Funding settlements: one per open position per period, even when it rounds to zero.
    pub funding_payments: u64,
    /// Wallet buys.
    pub wallet_buys: u64,
    /// Wallet sales.
    pub wallet_sells: u64,
    /// Open lots now.
    pub open_lots: u64,
    /// What crossing the wallet's spread has cost against the mid.
    #[serde(with = "wire")]
    pub wallet_spread_usdc: Decimal,
    /// Escrow deals settled.
    pub escrow_deals: u64,
}

/// An event to make happen now: the body of `POST /api/v1/sim/inject` and of a scenario
/// step, tagged by `type` like the event it causes.
///
/// `Balances` is what a `balance` injection carries. On the wire (the default) it is a map
/// by service name that may name only some services; the others keep their cash. The
/// simulator's library form names every service (`ServiceMap<Decimal>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum InjectRequest<Balances = BTreeMap<Service, WireDecimal>> {
    /// The casino pays out `amount_usdc` net (a 1:1 bet of the same stake when the bankroll
    /// covers it, otherwise a long shot whose stake it does cover).
    CasinoWin {
        /// Net amount won, positive, whole cents.
        #[serde(with = "wire")]
        amount_usdc: Decimal,
    },
    /// The casino loses `amount_usdc` (at most its balance).
    CasinoLoss {
        /// Positive, whole cents.
        #[serde(with = "wire")]
        amount_usdc: Decimal,
    },
    /// Referral income paid into the reserve.
    ReferralIncome {
        /// Positive, whole cents.
        #[serde(with = "wire")]
        amount_usdc: Decimal,
        /// The service whose referrals earned it.
        source_service: Service,
    },
    /// Domain rental income.
    DomainsIncome {
        /// Positive, whole cents.
        #[serde(with = "wire")]
        amount_usdc: Decimal,
    },
    /// A signed change in a service's market value.
    MarkToMarket {
        /// The service (not the reserve).
        service: Service,
        /// Signed, whole cents, not zero.
        #[serde(with = "wire")]
        change_usdc: Decimal,
    },
    /// A service loses `drawdown` of its balance (0.2 = 20%), announced as a drawdown.
    Drawdown {
        /// The service (not the reserve).
        service: Service,
        /// Fraction in (0, 1].
        #[serde(with = "wire")]
        drawdown: Decimal,
    },
    /// Cash balances set out of band, announced as a `balance` event; positions and lots
    /// are untouched.
    Balance {
        /// The new cash by service (`casino`, ..., `reserve`).
        balances_usdc: Balances,
    },
    /// Locks `amount_usdc` of a service's balance for `hours` (funds in play, a settlement
    /// delay): a `decrease` cannot take it until then. Announced as `funds_locked`, and as
    /// `funds_released` at the first simulated hour's end at or after it expires.
    Lock {
        /// The service (not the reserve).
        service: Service,
        /// Positive, whole cents.
        #[serde(with = "wire")]
        amount_usdc: Decimal,
        /// Simulated hours, 1 to 8,784.
        hours: u32,
    },
}

/// `POST /api/v1/sim/advance` body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdvanceBody {
    /// Simulated hours to jump.
    pub hours: u32,
}

/// `POST /api/v1/sim/advance` response: what the jump did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdvanceResponse {
    /// Simulated time after the jump.
    #[serde(with = "time::serde::rfc3339")]
    pub sim_time: OffsetDateTime,
    /// Simulated hours run by the jump.
    pub hours_run: u32,
    /// `seq` of the last announced event.
    pub last_seq: u64,
}
