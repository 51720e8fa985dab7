//! The simulated venue's books: a pure state machine over balances, positions, lots,
//! income and fees.
//!
//! Everything that moves money on the simulated venue is an [`Op`]; [`Ledger::apply`]
//! validates it, changes the books and returns the [`EventKind`] the venue announces for it
//! ([`Ledger::apply_all`] also returns what it set off: limit orders filled and positions
//! liquidated by a mark move or a funding payment). Nothing here does I/O, reads a clock or
//! draws a random number, so the same sequence of operations always gives the same books;
//! the HTTP layer and the models only build operations and hand them in.
//!
//! What a service is worth: every service holds USDC cash (its *balance* here, whole
//! cents). Two services also hold tracked assets on top of their cash:
//! - **trading**: perpetual positions ([`PerpPosition`]), worth their isolated margin plus
//!   unrealized PnL at the mark (a resting limit order is worth its reservation);
//! - **wallet**: FIFO tax lots of spot assets, worth quantity × mid price.
//!
//! A service's *value* ([`Ledger::values`]) is cash plus tracked assets; the portfolio
//! reports values (rounded down to the cent), and transfers, casino play and the other cash
//! operations move cash only. The background model's `MarkToMarket` of trading and wallet
//! stands for the agent's own activity outside this API and also moves cash.
//!
//! Beside the books the ledger keeps the day's performance: what each service earned or
//! lost today (excluding transfers, which are flows, not performance) and the money that
//! flowed into it, so that the day's simple return per service can be closed at midnight
//! ([`Ledger::close_day`]). Market operations book the change in the service's value, so
//! trading fees, funding and realized and unrealized PnL all reach `/returns`. Referral
//! income is paid into the reserve but booked as performance of the service whose referrals
//! earned it, so the reserve's return is zero.
//!
//! The rooms: this module holds the [`Ledger`] and dispatches each [`Op`] (`ops`) to the
//! room that applies it: `cash` (transfers, casino, income, marks, out-of-band balances),
//! `perps` (orders, closes, marks, funding, liquidations), `wallet` (spot buys and sales
//! over FIFO lots). `daybook` keeps the day's performance, `accounting` values the books
//! and checks the identity, `checks` holds the limits and the checked arithmetic, `error`
//! the refusals.
//!
//! # Invariants
//! - Every cash balance is non-negative, in whole cents, after every operation; an
//!   operation that would break this is rejected and changes nothing.
//! - The accounting identity holds exactly in `Decimal` after every operation
//!   ([`Ledger::accounting`]):
//!   `Σ cash + Σ position values + Σ holdings values = initial funds + realized income +
//!   unrealized PnL − fees + out-of-band adjustments`, where realized income is referral +
//!   domains + escrow fees + casino net + mark-to-market + realized trading PnL + funding +
//!   realized wallet PnL.
//! - A transfer never creates or destroys money: it moves cash between one service and the
//!   reserve.
//! - Every open position is above its maintenance margin after every operation (a mark
//!   move or funding that takes it there liquidates it in the same operation).

mod accounting;
mod cash;
mod checks;
mod daybook;
mod error;
mod ops;
mod perps;
#[cfg(test)]
mod property_tests;
#[cfg(test)]
mod testing;
mod wallet;

use std::collections::{BTreeMap, VecDeque};

use rust_decimal::Decimal;

pub use self::{
    cash::{ESCROW_FEE_RATE, round_multiplier},
    checks::{MAX_NOTIONAL_USDC, MAX_QUANTITY, check_cents},
    error::{StateError, invalid},
    ops::{Op, OpenOrder},
    perps::CLOSED_POSITIONS_KEPT,
};
use self::{
    checks::{check_balance, checked_sum, sub},
    daybook::DayBook,
};
use crate::{
    service::{Service, ServiceMap},
    sim::{
        book::{ClosedPosition, Lot, PerpPosition},
        markets::{Asset, AssetMap, MarketParams},
    },
    venue::protocol::{
        EventKind,
        sim::{IncomeTotals, MarketStats},
    },
};

/// The article's $1,000 agent on its conservative target (20/30/15/15/10/10), USDC: the
/// default starting balances, and the books the simulator's unit tests start from.
pub fn article_balances_usdc() -> ServiceMap<Decimal> {
    ServiceMap([200, 300, 150, 150, 100, 100].map(Decimal::from))
}

/// The books of one agent on the simulated venue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ledger {
    balances_usdc: ServiceMap<Decimal>,
    initial_funds_usdc: Decimal,
    income: IncomeTotals,
    fees_usdc: Decimal,
    trading_fees_usdc: Decimal,
    adjustments_usdc: Decimal,
    next_transfer_id: u64,
    day: DayBook,
    params: MarketParams,
    prices: AssetMap<Decimal>,
    /// Open positions and resting orders by id (ids sort in creation order).
    positions: BTreeMap<String, PerpPosition>,
    /// Recently closed positions by id, bounded by [`CLOSED_POSITIONS_KEPT`].
    closed: BTreeMap<String, ClosedPosition>,
    lots: AssetMap<VecDeque<Lot>>,
    next_position_id: u64,
    next_trade_id: u64,
    next_lot_id: u64,
    stats: MarketStats,
    /// Events set off by the operation being applied (fills, liquidations).
    notices: Vec<EventKind>,
}

impl Ledger {
    /// Opens the books with these balances and the default market parameters.
    ///
    /// # Errors
    /// A negative balance, or one with fractions of a cent, naming the service.
    pub fn new(initial_balances_usdc: ServiceMap<Decimal>) -> Result<Self, StateError> {
        Self::with_markets(initial_balances_usdc, MarketParams::default())
    }

    /// Opens the books with these balances and market parameters; prices start at each
    /// asset's start price.
    ///
    /// # Errors
    /// A negative balance, or one with fractions of a cent, naming the service; invalid
    /// parameters, naming them.
    pub fn with_markets(
        initial_balances_usdc: ServiceMap<Decimal>,
        params: MarketParams,
    ) -> Result<Self, StateError> {
        for (service, value) in initial_balances_usdc.iter() {
            check_balance(service, *value)?;
        }
        params.validate().map_err(|problems| StateError::Invalid {
            field: "markets",
            reason: problems.join("; "),
        })?;
        let initial_funds_usdc = checked_sum(initial_balances_usdc.values())?;
        Ok(Ledger {
            balances_usdc: initial_balances_usdc,
            initial_funds_usdc,
            income: IncomeTotals::default(),
            fees_usdc: Decimal::ZERO,
            trading_fees_usdc: Decimal::ZERO,
            adjustments_usdc: Decimal::ZERO,
            next_transfer_id: 1,
            day: DayBook::open(initial_balances_usdc),
            params,
            prices: AssetMap::from_fn(Asset::start_price_usdc),
            positions: BTreeMap::new(),
            closed: BTreeMap::new(),
            lots: AssetMap::default(),
            next_position_id: 1,
            next_trade_id: 1,
            next_lot_id: 1,
            stats: MarketStats::default(),
            notices: Vec::new(),
        })
    }

    /// Cash per service: what transfers, casino play and income move.
    pub fn balances(&self) -> ServiceMap<Decimal> {
        self.balances_usdc
    }

    /// Income by kind since the start.
    pub fn income(&self) -> IncomeTotals {
        self.income
    }

    /// Current mark (index) prices.
    pub fn prices(&self) -> AssetMap<Decimal> {
        self.prices
    }

    /// The market parameters.
    pub fn params(&self) -> &MarketParams {
        &self.params
    }

    /// Open positions and resting orders, in creation order.
    pub fn positions(&self) -> impl Iterator<Item = &PerpPosition> {
        self.positions.values()
    }

    /// A recently closed position.
    pub fn closed_position(&self, position_id: &str) -> Option<&ClosedPosition> {
        self.closed.get(position_id)
    }

    /// The wallet's open lots of `asset`, oldest first.
    pub fn lots(&self, asset: Asset) -> &VecDeque<Lot> {
        &self.lots[asset]
    }

    /// Validates and applies one operation, returning the event that announces it.
    ///
    /// # Errors
    /// A [`StateError`] naming the field at fault; the ledger is then unchanged.
    pub fn apply(&mut self, op: &Op) -> Result<EventKind, StateError> {
        self.apply_all(op)?
            .into_iter()
            .next()
            .ok_or_else(|| invalid("op", "announced nothing"))
    }

    /// Validates and applies one operation, returning the event that announces it followed
    /// by the events it set off (limit fills, liquidations), in order.
    ///
    /// # Errors
    /// A [`StateError`] naming the field at fault; the ledger is then unchanged.
    pub fn apply_all(&mut self, op: &Op) -> Result<Vec<EventKind>, StateError> {
        // Work on a copy so a failure half-way leaves nothing behind.
        let mut next = self.clone();
        let kind = next.apply_in_place(op)?;
        let mut kinds = Vec::with_capacity(1 + next.notices.len());
        kinds.push(kind);
        kinds.append(&mut next.notices);
        *self = next;
        Ok(kinds)
    }

    /// Hands the operation to the room that applies it.
    fn apply_in_place(&mut self, op: &Op) -> Result<EventKind, StateError> {
        match op {
            Op::Transfer {
                service,
                direction,
                amount_usdc,
            } => self.transfer(*service, *direction, *amount_usdc),
            Op::CasinoWin {
                amount_usdc,
                stake_usdc,
                multiplier,
            } => self.casino_win(*amount_usdc, *stake_usdc, *multiplier),
            Op::CasinoLoss { amount_usdc } => self.casino_loss(*amount_usdc),
            Op::ReferralIncome {
                amount_usdc,
                source_service,
            } => self.referral_income(*amount_usdc, *source_service),
            Op::DomainsIncome { amount_usdc } => self.domains_income(*amount_usdc),
            Op::EscrowFee { deal_usdc } => self.escrow_fee(*deal_usdc),
            Op::MarkToMarket {
                service,
                pnl_usdc,
                fee_usdc,
            } => self.mark_to_market(*service, *pnl_usdc, *fee_usdc),
            Op::Drawdown { service, drawdown } => self.drawdown(*service, *drawdown),
            Op::SetBalances { balances_usdc } => self.set_balances(balances_usdc),
            Op::OpenPosition(order) => self.market_op(|ledger| ledger.open_position(order)),
            Op::ClosePosition { position_id, at } => {
                self.market_op(|ledger| ledger.close_position(position_id, *at))
            }
            Op::MarkMove { prices, at } => self.market_op(|ledger| ledger.mark_move(prices, *at)),
            Op::Funding { rates, at } => self.market_op(|ledger| ledger.pay_funding(rates, *at)),
            Op::WalletBuy {
                asset,
                quantity,
                at,
            } => self.market_op(|ledger| ledger.wallet_buy(*asset, *quantity, *at)),
            Op::WalletSell {
                asset, quantity, ..
            } => self.market_op(|ledger| ledger.wallet_sell(*asset, *quantity)),
        }
    }

    /// Applies a market operation and books the change in trading's and the wallet's
    /// values as their performance.
    fn market_op(
        &mut self,
        apply: impl FnOnce(&mut Self) -> Result<EventKind, StateError>,
    ) -> Result<EventKind, StateError> {
        // Market operations move nothing in or out of trading and the wallet, so the whole
        // change in their values is performance: fees, funding, realized and unrealized PnL,
        // the spread.
        let before = self.values();
        let kind = apply(self)?;
        let after = self.values();
        for service in [Service::Trading, Service::Wallet] {
            self.book_pnl(service, sub(after[service], before[service])?)?;
        }
        Ok(kind)
    }
}
