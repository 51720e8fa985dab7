//! The simulated venue's core: the ledger, the event log, idempotency, return history and
//! counters, behind one lock and without I/O.
//!
//! The HTTP layer (the `server` module) parses requests, takes the lock, calls one method
//! here and broadcasts the frames it returns while still holding the lock, so frames reach
//! subscribers in `seq` order. The activity task calls [`Engine::run_hour`] the same way.
//!
//! The rooms: this module holds the [`Engine`], announces what the ledger applies
//! ([`Engine::apply`]) and takes injections; `event_log` numbers and buffers the frames,
//! `idempotency` remembers first replies, `outcome` shapes what a request comes to,
//! `transfers`, `trading` and `wallet` handle the endpoints of the same names, `hours`
//! runs simulated time, `history` keeps the daily returns, `drawdowns` watches for falls,
//! `locks` holds funds a decrease may not take yet, `crypto` makes the casino follow BTC
//! by a configured correlation, and `stats` counts what the venue saw.
//!
//! # Invariants
//! - `seq` increases by one per announced event; heartbeats are not events and never take
//!   a `seq`. Every frame carries the portfolio right after its event, with that `seq`.
//! - Frame timestamps never go backwards in `seq` order.
//! - A repeated `Idempotency-Key` with the same request returns the first reply and changes
//!   nothing; with a different request it is refused (422) and changes nothing.
//! - The event buffer, the idempotency map and the return history are bounded.
//! - Closing a position that is already closed answers the first close again and changes
//!   nothing, with or without an `Idempotency-Key`.

mod crypto;
mod drawdowns;
mod event_log;
mod history;
mod hours;
mod idempotency;
mod locks;
mod outcome;
mod stats;
#[cfg(test)]
mod testing;
mod trading;
mod transfers;
mod wallet;

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use time::OffsetDateTime;

use self::{
    drawdowns::DrawdownWatch,
    history::{History, calibrated_history},
    locks::Locks,
    stats::Counters,
};
pub use self::{
    event_log::{EVENT_BUFFER_CAPACITY, EventLog},
    history::{MAX_RETURN_DAYS, SYNTHETIC_HISTORY_DAYS},
    hours::MAX_ADVANCE_HOURS,
    idempotency::{IDEMPOTENCY_CAPACITY, IdempotencyStore, Lookup, StoredReply},
    locks::LockParams,
    outcome::AppliedTransfer,
    outcome::Processed,
};
use super::{
    http::Reply,
    inject::{NewBalances, to_op},
    ledger::{Ledger, Op, StateError},
    markets::{AssetMap, MarketParams},
    model::{ActivityModel, CasinoParams},
    prices::PriceModel,
};
use crate::{
    service::{Service, ServiceMap},
    venue::protocol::{EventFrame, EventKind, PortfolioResponse, WireDecimal, sim::InjectRequest},
};

/// The whole simulated venue for one agent.
#[derive(Debug)]
pub struct Engine {
    agent_id: String,
    ledger: Ledger,
    log: EventLog,
    idempotency: IdempotencyStore,
    history: History,
    /// Prices when the current day opened, for the day's asset returns.
    day_open_prices: AssetMap<Decimal>,
    /// How the casino's value follows BTC (0: it does not).
    casino_btc_beta: f64,
    locks: Locks,
    model: ActivityModel,
    price_model: PriceModel,
    /// Whether hours run the agent's own activity (casino, income, marks) or only markets.
    autoplay: bool,
    /// The end of the next simulated hour to run.
    next_hour_end: OffsetDateTime,
    transfers: Vec<AppliedTransfer>,
    counters: Counters,
    drawdowns: DrawdownWatch,
}

impl Engine {
    /// Opens the venue with these balances, a seeded market and a synthetic return history.
    /// The first hour to run is the one after `start`'s (a partial hour is skipped).
    ///
    /// # Errors
    /// Invalid initial balances or market parameters.
    pub fn new(
        agent_id: &str,
        initial_balances_usdc: ServiceMap<Decimal>,
        casino: &CasinoParams,
        markets: &MarketParams,
        seed: u64,
        start: OffsetDateTime,
        autoplay: bool,
    ) -> Result<Self, StateError> {
        let ledger = Ledger::with_markets(initial_balances_usdc, markets.clone())?;
        let (history, casino_btc_beta) =
            calibrated_history(initial_balances_usdc, casino, seed, start)?;
        let day_open_prices = ledger.prices();
        let next_hour_end = start
            .replace_time(time::Time::from_hms(start.hour(), 0, 0).unwrap_or(time::Time::MIDNIGHT))
            + time::Duration::HOUR;
        Ok(Engine {
            agent_id: agent_id.to_owned(),
            ledger,
            log: EventLog::new(EVENT_BUFFER_CAPACITY),
            idempotency: IdempotencyStore::new(IDEMPOTENCY_CAPACITY),
            history,
            day_open_prices,
            casino_btc_beta,
            locks: Locks::default(),
            model: ActivityModel::new(casino.clone(), seed),
            price_model: PriceModel::new(seed),
            autoplay,
            next_hour_end,
            transfers: Vec::new(),
            counters: Counters::default(),
            drawdowns: DrawdownWatch::new(),
        })
    }

    /// The simulated agent's id.
    pub fn agent_id(&self) -> &str {
        &self.agent_id
    }

    /// Each service's value now (cash plus positions or lots), rounded down to the cent: what
    /// the portfolio reports.
    pub fn balances(&self) -> ServiceMap<Decimal> {
        self.ledger.reported_values()
    }

    /// Each service's cash now, outside positions and lots.
    pub fn cash_balances(&self) -> ServiceMap<Decimal> {
        self.ledger.balances()
    }

    /// The books.
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// `seq` of the last announced event.
    pub fn last_seq(&self) -> u64 {
        self.log.last_seq()
    }

    /// The portfolio body, with the last `seq` and the locks.
    pub fn portfolio(&self) -> PortfolioResponse {
        PortfolioResponse {
            seq: Some(self.log.last_seq()),
            ..self.portfolio_now()
        }
    }

    /// The balances and locks now, without a `seq` (an event frame stamps its own).
    fn portfolio_now(&self) -> PortfolioResponse {
        PortfolioResponse::from_balances(&self.balances(), None).with_locked(&self.locked_usdc())
    }

    /// Announces an event that moved no money, with the portfolio now.
    fn announce(&mut self, ts: OffsetDateTime, kind: EventKind) -> EventFrame {
        let portfolio = self.portfolio_now();
        self.log.push(ts, kind, &portfolio)
    }

    /// Current prices (the marks), by asset symbol.
    pub fn prices(&self) -> BTreeMap<String, WireDecimal> {
        self.ledger
            .prices()
            .iter()
            .map(|(asset, price)| (asset.symbol().to_owned(), WireDecimal(*price)))
            .collect()
    }

    /// Buffered frames after `since`.
    pub fn frames_since(&self, since: u64) -> Vec<EventFrame> {
        self.log.since(since)
    }

    /// Moves one service's cash by `change_usdc` without announcing it: no event, no `seq`.
    /// This is a venue that fails to tell its clients about a change, for rehearsing the
    /// companion's sync check; the books still balance (it counts as an adjustment).
    ///
    /// # Errors
    /// [`StateError`] when the cash would go negative.
    pub fn adjust_unannounced(
        &mut self,
        service: Service,
        change_usdc: Decimal,
    ) -> Result<(), StateError> {
        let mut balances_usdc = self.ledger.balances();
        balances_usdc[service] += change_usdc;
        self.ledger
            .apply_all(&Op::SetBalances { balances_usdc })
            .map(|_announcements_dropped| ())
    }

    /// Applies one operation and announces it, what it set off (fills, liquidations), and
    /// any drawdown it causes.
    ///
    /// # Errors
    /// The ledger's refusal; nothing changes then.
    pub fn apply(&mut self, ts: OffsetDateTime, op: &Op) -> Result<Vec<EventFrame>, StateError> {
        let before = self.ledger.values();
        let kinds = self.ledger.apply_all(op)?;
        let after = self.ledger.values();
        // A large win's lock is in place before the win is announced, so the win's own
        // frame already says what may not move.
        let before_total_usdc = before.values().copied().sum();
        let lock = self.lock_after_win(ts, op, before_total_usdc);
        let reported = self.portfolio_now();
        let mut frames: Vec<EventFrame> = kinds
            .into_iter()
            .map(|kind| self.log.push(ts, kind, &reported))
            .collect();
        self.announce_drawdowns(ts, op, &before, &after, &reported, &mut frames);
        if let Some(lock) = lock {
            frames.push(self.announce_lock(ts, lock));
        }
        Ok(frames)
    }

    /// Applies an injection now.
    ///
    /// # Errors
    /// The ledger's refusal.
    pub fn inject<B: NewBalances>(
        &mut self,
        ts: OffsetDateTime,
        injection: &InjectRequest<B>,
    ) -> Result<Vec<EventFrame>, StateError> {
        if let InjectRequest::Lock {
            service,
            amount_usdc,
            hours,
        } = injection
        {
            return Ok(vec![self.lock(ts, *service, *amount_usdc, *hours)?]);
        }
        let op = to_op(injection, &self.ledger.balances())?;
        self.apply(ts, &op)
    }

    /// Handles `POST /sim/inject` (already parsed); a `balance` that leaves services out
    /// keeps their cash.
    pub fn inject_request(
        &mut self,
        injection: &InjectRequest,
        ts: OffsetDateTime,
    ) -> Result<Processed, StateError> {
        let frames = self.inject(ts, injection)?;
        Ok(Processed {
            reply: Reply {
                status: 200,
                body: frames.first().map(EventFrame::encode).unwrap_or_default(),
            },
            frames,
            transfer: None,
            applied: true,
        })
    }
}
