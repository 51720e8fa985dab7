//! The simulated venue's core: the ledger, the event log, idempotency, return history and
//! counters, behind one lock and without I/O.
//!
//! The HTTP layer ([`super::server`]) parses requests, takes the lock, calls one method here
//! and broadcasts the frames it returns while still holding the lock, so frames reach
//! subscribers in `seq` order. The activity task calls [`Engine::run_hour`] the same way.
//!
//! Simulated hours run in order from a cursor ([`Engine::next_hour_end`]): each runs the
//! markets (mark moves, funding) and, with autoplay, the agent's own activity; at midnight
//! the day's returns close. The activity task runs hours as the clock reaches them, and
//! `/sim/advance` runs the hours it skips over at once, so an hour never runs twice.
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

use std::collections::{BTreeMap, HashMap, VecDeque};

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{
    book::{ClosedPosition, floor_cents},
    inject::Injection,
    markets::{Asset, AssetMap, MarketModel, MarketParams, PerpMarket},
    model::{ActivityModel, CasinoParams},
    state::{AccountingCheck, Ledger, MarketStats, Op, OpenOrder, StateError},
};
use crate::{
    money::decimal_from_f64,
    service::{Service, ServiceMap},
    venue::protocol::{
        AssetHolding, ClosePositionResponse, Direction, ErrorBody, EventFrame, EventKind,
        HoldingsResponse, OrderBody, OrderResponse, PortfolioResponse, Position, PositionsResponse,
        RebalanceBody, RebalanceResponse, ReturnsResponse, TradeSide, WalletLot, WalletTradeBody,
        WalletTradeResponse, WireDecimal, wire,
    },
};

/// Frames kept for replay to clients that resume with `since`.
pub const EVENT_BUFFER_CAPACITY: usize = 10_000;
/// Idempotency keys remembered; the oldest is forgotten first.
pub const IDEMPOTENCY_CAPACITY: usize = 100_000;
/// Days of daily returns kept.
pub const MAX_RETURN_DAYS: usize = 3_650;
/// Days of synthetic history generated at startup, so `/returns?days=365` (and longer
/// lookbacks) work before the simulation has lived that long.
pub const SYNTHETIC_HISTORY_DAYS: usize = 730;
/// Separates the synthetic history's random stream from the live market's.
const HISTORY_SEED_SALT: u64 = 0x4157_0000_0000_0001;
/// A service this far below its local peak is announced as a drawdown.
const DRAWDOWN_ALERT: f64 = 0.2;
/// Most simulated hours one `/sim/advance` runs (a leap year), so one request cannot hold
/// the venue for long.
pub const MAX_ADVANCE_HOURS: u32 = 24 * 366;

/// The bounded buffer of announced frames, and the `seq` counter.
#[derive(Debug, Clone)]
pub struct EventLog {
    frames: VecDeque<EventFrame>,
    capacity: usize,
    last_seq: u64,
    last_ts: Option<OffsetDateTime>,
}

impl EventLog {
    /// An empty log keeping at most `capacity` frames (at least one).
    pub fn new(capacity: usize) -> Self {
        EventLog {
            frames: VecDeque::new(),
            capacity: capacity.max(1),
            last_seq: 0,
            last_ts: None,
        }
    }

    /// The `seq` of the last announced event (0 before the first).
    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    /// Announces an event: gives it the next `seq` and the portfolio after it.
    pub fn push(
        &mut self,
        ts: OffsetDateTime,
        kind: EventKind,
        balances_usdc: &ServiceMap<Decimal>,
    ) -> EventFrame {
        self.last_seq += 1;
        let ts = self.last_ts.map_or(ts, |last| ts.max(last));
        self.last_ts = Some(ts);
        let frame = EventFrame {
            seq: self.last_seq,
            ts,
            kind,
            portfolio: Some(PortfolioResponse::from_balances(
                balances_usdc,
                Some(self.last_seq),
            )),
        };
        if self.frames.len() == self.capacity {
            self.frames.pop_front();
        }
        self.frames.push_back(frame.clone());
        frame
    }

    /// Buffered frames with `seq > since`, oldest first. When `since` is older than the
    /// buffer, this starts at the oldest frame kept: the client sees the gap in `seq` and
    /// must refetch the portfolio.
    pub fn since(&self, since: u64) -> Vec<EventFrame> {
        let start = self.frames.partition_point(|f| f.seq <= since);
        self.frames.range(start..).cloned().collect()
    }
}

/// A reply remembered under an idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredReply {
    /// Method, path and canonical body of the first request.
    pub fingerprint: String,
    /// HTTP status of the first reply.
    pub status: u16,
    /// JSON body of the first reply.
    pub body: String,
}

/// What an idempotency lookup found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// The key is new.
    Miss,
    /// The same request was seen: replay this.
    Replay(StoredReply),
    /// The key was used for a different request.
    Conflict,
}

/// Idempotency keys and their first replies, bounded (oldest forgotten first).
#[derive(Debug, Clone)]
pub struct IdempotencyStore {
    replies: HashMap<String, StoredReply>,
    order: VecDeque<String>,
    capacity: usize,
}

impl IdempotencyStore {
    /// A store remembering at most `capacity` keys (at least one).
    pub fn new(capacity: usize) -> Self {
        IdempotencyStore {
            replies: HashMap::new(),
            order: VecDeque::new(),
            capacity: capacity.max(1),
        }
    }

    /// The first reply stored under `key`, whatever the request was.
    pub fn get(&self, key: &str) -> Option<&StoredReply> {
        self.replies.get(key)
    }

    /// Looks a key up against the request's fingerprint.
    pub fn lookup(&self, key: &str, fingerprint: &str) -> Lookup {
        match self.replies.get(key) {
            None => Lookup::Miss,
            Some(stored) if stored.fingerprint == fingerprint => Lookup::Replay(stored.clone()),
            Some(_) => Lookup::Conflict,
        }
    }

    /// Remembers the first reply for a key.
    pub fn insert(&mut self, key: String, reply: StoredReply) {
        if self.replies.contains_key(&key) {
            return;
        }
        if self.order.len() == self.capacity
            && let Some(oldest) = self.order.pop_front()
        {
            self.replies.remove(&oldest);
        }
        self.order.push_back(key.clone());
        self.replies.insert(key, reply);
    }

    /// Keys remembered.
    pub fn len(&self) -> usize {
        self.replies.len()
    }

    /// Whether no key is remembered.
    pub fn is_empty(&self) -> bool {
        self.replies.is_empty()
    }
}

/// A rebalance transfer the venue applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedTransfer {
    /// `seq` of the `transfer` event that announced it.
    pub seq: u64,
    /// Venue transfer id.
    pub transfer_id: String,
    /// The service.
    pub service: Service,
    /// Increase or decrease.
    pub direction: Direction,
    /// Amount moved.
    pub amount_usdc: Decimal,
    /// The request's `Idempotency-Key`, if it had one.
    pub idempotency_key: Option<String>,
    /// When the request reached the venue (before any injected latency or processing).
    pub received_at: tokio::time::Instant,
    /// Simulated time it was applied.
    pub sim_time: OffsetDateTime,
}

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
}

/// A reply for the HTTP layer to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// JSON body.
    pub body: String,
}

impl Reply {
    /// An error reply with an [`ErrorBody`].
    pub fn error(status: u16, code: &str, message: impl Into<String>) -> Self {
        let body = ErrorBody {
            code: code.to_owned(),
            message: message.into(),
        };
        Reply {
            status,
            body: serde_json::to_string(&body).unwrap_or_default(),
        }
    }

    fn from_state_error(error: &StateError) -> Self {
        Reply::error(error.http_status(), error.code(), error.to_string())
    }
}

/// The outcome of a mutating request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Processed {
    /// What to answer.
    pub reply: Reply,
    /// Frames to broadcast.
    pub frames: Vec<EventFrame>,
    /// The transfer applied, for a rebalance that applied one.
    pub transfer: Option<AppliedTransfer>,
    /// Whether the books changed (a lost ack only makes sense then).
    pub applied: bool,
}

#[derive(Debug, Clone, Default)]
struct Counters {
    requests_by_endpoint: BTreeMap<String, u64>,
    idempotent_replays: u64,
    repeated_closes: u64,
    rejected_requests: u64,
    faults_injected: BTreeMap<String, u64>,
    websocket_connections: u64,
}

/// Tracks each service's performance index against its local peak.
#[derive(Debug, Clone)]
struct DrawdownWatch {
    index: ServiceMap<f64>,
    peak: ServiceMap<f64>,
}

impl DrawdownWatch {
    fn new() -> Self {
        DrawdownWatch {
            index: ServiceMap([1.0; 6]),
            peak: ServiceMap([1.0; 6]),
        }
    }

    /// Records a performance change; returns the drawdown when it crosses the alert level
    /// (and then measures the next one from here, so one fall is announced once).
    fn observe(
        &mut self,
        service: Service,
        before_usdc: Decimal,
        after_usdc: Decimal,
    ) -> Option<f64> {
        let before = crate::money::decimal_to_f64(before_usdc);
        if before <= 0.0 {
            return None;
        }
        let growth = crate::money::decimal_to_f64(after_usdc) / before;
        self.index[service] = (self.index[service] * growth).max(0.0);
        self.peak[service] = self.peak[service].max(self.index[service]);
        let drawdown = 1.0 - self.index[service] / self.peak[service];
        if drawdown.is_finite() && drawdown >= DRAWDOWN_ALERT {
            self.peak[service] = self.index[service];
            Some(drawdown)
        } else {
            None
        }
    }

    fn reset(&mut self, service: Service) {
        self.peak[service] = self.index[service];
    }
}

/// The whole simulated venue for one agent.
#[derive(Debug)]
pub struct Engine {
    agent_id: String,
    ledger: Ledger,
    log: EventLog,
    idempotency: IdempotencyStore,
    returns: VecDeque<ServiceMap<f64>>,
    model: ActivityModel,
    markets: MarketModel,
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
        let returns = synthetic_history(initial_balances_usdc, casino, seed, start)?;
        let next_hour_end = start
            .replace_time(time::Time::from_hms(start.hour(), 0, 0).unwrap_or(time::Time::MIDNIGHT))
            + time::Duration::HOUR;
        Ok(Engine {
            agent_id: agent_id.to_owned(),
            ledger,
            log: EventLog::new(EVENT_BUFFER_CAPACITY),
            idempotency: IdempotencyStore::new(IDEMPOTENCY_CAPACITY),
            returns,
            model: ActivityModel::new(casino.clone(), seed),
            markets: MarketModel::new(seed),
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

    /// The portfolio body, with the last `seq`.
    pub fn portfolio(&self) -> PortfolioResponse {
        PortfolioResponse::from_balances(&self.balances(), Some(self.log.last_seq()))
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

    /// Every applied transfer, in order.
    pub fn transfers(&self) -> &[AppliedTransfer] {
        &self.transfers
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
        let reported = self.ledger.reported_values();
        let mut frames: Vec<EventFrame> = kinds
            .into_iter()
            .map(|kind| self.log.push(ts, kind, &reported))
            .collect();
        let performance_of: &[Service] = match op {
            Op::CasinoWin { .. } | Op::CasinoLoss { .. } => &[Service::Casino],
            Op::DomainsIncome { .. } => &[Service::Domains],
            Op::EscrowFee { .. } => &[Service::Escrow],
            Op::MarkToMarket { service, .. } | Op::Drawdown { service, .. } => {
                std::slice::from_ref(service)
            }
            Op::OpenPosition(_) | Op::ClosePosition { .. } | Op::Funding { .. } => {
                &[Service::Trading]
            }
            Op::WalletBuy { .. } | Op::WalletSell { .. } => &[Service::Wallet],
            Op::MarkMove { .. } => &[Service::Trading, Service::Wallet],
            Op::Transfer { .. } | Op::ReferralIncome { .. } | Op::SetBalances { .. } => &[],
        };
        for service in performance_of.iter().copied() {
            let alert = self
                .drawdowns
                .observe(service, before[service], after[service]);
            if matches!(op, Op::Drawdown { .. }) {
                // The injected drawdown was announced as such already.
                self.drawdowns.reset(service);
            } else if let Some(drawdown) = alert {
                let drawdown = decimal_from_f64(drawdown, "drawdown")
                    .map(|d| d.round_dp(4))
                    .unwrap_or(Decimal::ONE);
                frames.push(self.log.push(
                    ts,
                    EventKind::Drawdown { service, drawdown },
                    &reported,
                ));
            }
        }
        Ok(frames)
    }

    /// The end of the next simulated hour to run.
    pub fn next_hour_end(&self) -> OffsetDateTime {
        self.next_hour_end
    }

    /// Runs the next simulated hour if the clock has reached its end.
    pub fn run_next_hour_if_due(&mut self, now: OffsetDateTime) -> Option<Vec<EventFrame>> {
        if self.next_hour_end > now {
            return None;
        }
        let hour_end = self.next_hour_end;
        self.next_hour_end += time::Duration::HOUR;
        Some(self.run_hour(hour_end))
    }

    /// Runs every hour whose end the clock has reached, at most [`MAX_ADVANCE_HOURS`];
    /// returns the frames and the number of hours run.
    pub fn run_due_hours(&mut self, now: OffsetDateTime) -> (Vec<EventFrame>, u32) {
        let mut frames = Vec::new();
        let mut hours = 0;
        while hours < MAX_ADVANCE_HOURS {
            let Some(mut emitted) = self.run_next_hour_if_due(now) else {
                break;
            };
            frames.append(&mut emitted);
            hours += 1;
        }
        (frames, hours)
    }

    /// Runs the simulated hour that ends at `hour_end`: the markets, then (with autoplay)
    /// the agent's activity at the new prices; at midnight also closes the day's returns.
    pub fn run_hour(&mut self, hour_end: OffsetDateTime) -> Vec<EventFrame> {
        let mut frames = Vec::new();
        let market_ops = self.markets.hour(hour_end);
        self.apply_model_ops(hour_end, market_ops, &mut frames);
        if self.autoplay {
            // The activity sees the cash and prices after this hour's market moves.
            let (cash, prices) = (self.ledger.balances(), self.ledger.prices());
            let activity_ops = self.model.hour(&cash, hour_end, &prices);
            self.apply_model_ops(hour_end, activity_ops, &mut frames);
        }
        if hour_end.hour() == 0 && hour_end.minute() == 0 {
            let day = self.ledger.close_day();
            self.push_returns(day);
        }
        frames
    }

    fn apply_model_ops(
        &mut self,
        hour_end: OffsetDateTime,
        ops: Vec<Op>,
        frames: &mut Vec<EventFrame>,
    ) {
        for op in ops {
            match self.apply(hour_end, &op) {
                Ok(mut emitted) => frames.append(&mut emitted),
                // The models only produce operations the ledger accepts; if one is refused
                // anyway the market simply skips it.
                Err(error) => tracing::warn!(%error, ?op, "simulated activity refused"),
            }
        }
    }

    /// Applies an injection now.
    ///
    /// # Errors
    /// The ledger's refusal.
    pub fn inject(
        &mut self,
        ts: OffsetDateTime,
        injection: &Injection,
    ) -> Result<Vec<EventFrame>, StateError> {
        let op = injection.to_op(&self.ledger.balances())?;
        self.apply(ts, &op)
    }

    /// Handles `POST /agents/{id}/rebalance` (already parsed).
    pub fn rebalance(
        &mut self,
        body: &RebalanceBody,
        idempotency_key: Option<&str>,
        fingerprint: &str,
        received_at: tokio::time::Instant,
        ts: OffsetDateTime,
    ) -> Processed {
        self.idempotent(idempotency_key, fingerprint, |engine| {
            require_reason(&body.reason)?;
            let op = Op::Transfer {
                service: body.service,
                direction: body.direction,
                amount_usdc: body.amount_usdc,
            };
            let frames = engine.apply(ts, &op)?;
            let frame = first_applied(&frames, "amount_usdc")?;
            let transfer_id = match &frame.kind {
                EventKind::Transfer { transfer_id, .. } => transfer_id.clone(),
                _ => String::new(),
            };
            let transfer = AppliedTransfer {
                seq: frame.seq,
                transfer_id: transfer_id.clone(),
                service: body.service,
                direction: body.direction,
                amount_usdc: body.amount_usdc,
                idempotency_key: idempotency_key.map(str::to_owned),
                received_at,
                sim_time: frame.ts,
            };
            engine.transfers.push(transfer.clone());
            tracing::info!(
                transfer_id,
                service = %body.service,
                direction = body.direction.name(),
                amount_usdc = %body.amount_usdc,
                reason = body.reason,
                seq = frame.seq,
                "sim applied transfer"
            );
            let response = RebalanceResponse {
                transfer_id,
                service: body.service,
                direction: body.direction,
                amount_usdc: body.amount_usdc,
                status: "applied".to_owned(),
                portfolio: frame.portfolio.clone(),
            };
            Ok(Processed {
                transfer: Some(transfer),
                ..applied(&response, frames)
            })
        })
    }

    /// Handles `POST /sim/inject` (already parsed).
    pub fn inject_request(
        &mut self,
        injection: &Injection,
        idempotency_key: Option<&str>,
        fingerprint: &str,
        ts: OffsetDateTime,
    ) -> Processed {
        self.idempotent(idempotency_key, fingerprint, |engine| {
            let frames = engine.inject(ts, injection)?;
            Ok(Processed {
                reply: Reply {
                    status: 200,
                    body: frames.first().map(EventFrame::encode).unwrap_or_default(),
                },
                frames,
                transfer: None,
                applied: true,
            })
        })
    }

    /// Handles `GET /agents/{id}/rebalance/{key}` (*addition*): the first reply to the
    /// rebalance POSTed under `key`, as a replay would return it, without applying anything;
    /// 404 `unknown_idempotency_key` when no rebalance arrived under that key. This is how a
    /// client resolves a leg whose response it never saw, without resubmitting it.
    pub fn rebalance_status(&self, rebalance_fingerprint_prefix: &str, key: &str) -> Reply {
        if let Some(stored) = self.idempotency.get(key)
            && stored.fingerprint.starts_with(rebalance_fingerprint_prefix)
        {
            return Reply {
                status: stored.status,
                body: stored.body.clone(),
            };
        }
        // Evicted from the bounded replay map: the transfer log still knows applied ones.
        if let Some(transfer) = self
            .transfers
            .iter()
            .rev()
            .find(|t| t.idempotency_key.as_deref() == Some(key))
        {
            let response = RebalanceResponse {
                transfer_id: transfer.transfer_id.clone(),
                service: transfer.service,
                direction: transfer.direction,
                amount_usdc: transfer.amount_usdc,
                status: "applied".to_owned(),
                portfolio: None,
            };
            return match serde_json::to_string(&response) {
                Ok(body) => Reply { status: 200, body },
                Err(e) => Reply::error(500, "internal", format!("encoding the status: {e}")),
            };
        }
        Reply::error(
            404,
            "unknown_idempotency_key",
            format!("no rebalance was received under Idempotency-Key `{key}`"),
        )
    }

    /// `GET /trading/positions`: open positions and resting orders, oldest first.
    pub fn positions(&self) -> PositionsResponse {
        let prices = self.ledger.prices();
        let positions = self
            .ledger
            .positions()
            .map(|p| {
                let mark = prices[p.market.underlying()];
                Position {
                    id: p.id.clone(),
                    market: p.market.name().to_owned(),
                    side: p.side,
                    notional_usdc: p.notional_usdc,
                    leverage: p.leverage,
                    entry_price: p.entry_price,
                    mark_price: mark,
                    // Rounded as a close would realize it, so closing at this mark realizes
                    // exactly this (before the closing fee).
                    unrealized_pnl_usdc: floor_cents(p.unrealized_pnl_usdc(mark)),
                    purpose: p.purpose.clone(),
                    margin_usdc: p.margin_usdc,
                    quantity: p.quantity,
                    opened_at: Some(p.opened_at),
                    status: p.status.name().to_owned(),
                    order_type: Some(p.order_type),
                    limit_price: p.limit_price,
                    funding_usdc: p.funding_usdc,
                    fees_paid_usdc: p.fees_paid_usdc,
                }
            })
            .collect();
        PositionsResponse { positions }
    }

    /// Handles `POST /trading/order` (already parsed; the agent checked).
    pub fn order(
        &mut self,
        body: &OrderBody,
        idempotency_key: Option<&str>,
        fingerprint: &str,
        ts: OffsetDateTime,
    ) -> Processed {
        self.idempotent(idempotency_key, fingerprint, |engine| {
            let market = PerpMarket::parse("market", &body.market)?;
            let op = Op::OpenPosition(OpenOrder {
                market,
                side: body.side,
                notional_usdc: body.notional_usdc,
                leverage: body.leverage,
                order_type: body.order_type,
                limit_price: body.limit_price,
                purpose: body.purpose.clone(),
                at: ts,
            });
            let frames = engine.apply(ts, &op)?;
            let frame = first_applied(&frames, "notional_usdc")?;
            let (order_id, position_id, status, fill_price, fee_usdc, quantity) = match &frame.kind
            {
                EventKind::PositionOpened {
                    order_id,
                    position_id,
                    fill_price,
                    fee_usdc,
                    quantity,
                    ..
                } => (
                    order_id.clone(),
                    position_id.clone(),
                    "filled",
                    Some(*fill_price),
                    *fee_usdc,
                    *quantity,
                ),
                EventKind::OrderPlaced {
                    order_id,
                    position_id,
                    ..
                } => (
                    order_id.clone(),
                    position_id.clone(),
                    "open",
                    None,
                    Decimal::ZERO,
                    Decimal::ZERO,
                ),
                _ => (
                    String::new(),
                    String::new(),
                    "filled",
                    None,
                    Decimal::ZERO,
                    Decimal::ZERO,
                ),
            };
            let margin_usdc = engine
                .ledger
                .positions()
                .find(|p| p.id == position_id)
                .map(|p| p.margin_usdc)
                .unwrap_or_default();
            tracing::info!(
                order_id,
                position_id,
                market = market.name(),
                side = ?body.side,
                notional_usdc = %body.notional_usdc,
                leverage = body.leverage,
                status,
                purpose = body.purpose,
                "sim accepted order"
            );
            let response = OrderResponse {
                order_id,
                position_id,
                status: status.to_owned(),
                fill_price,
                fee_usdc,
                market: market.name().to_owned(),
                side: Some(body.side),
                notional_usdc: body.notional_usdc,
                leverage: body.leverage,
                margin_usdc,
                quantity,
                portfolio: frame.portfolio.clone(),
            };
            Ok(applied(&response, frames))
        })
    }

    /// Handles `DELETE /trading/positions/{id}`: closes at the mark, cancels a resting
    /// order, or (for a position already closed) answers the first close again.
    pub fn close_position(
        &mut self,
        position_id: &str,
        idempotency_key: Option<&str>,
        fingerprint: &str,
        ts: OffsetDateTime,
    ) -> Processed {
        self.idempotent(idempotency_key, fingerprint, |engine| {
            if let Some(closed) = engine.ledger.closed_position(position_id) {
                let response = close_response(closed, None);
                engine.counters.repeated_closes += 1;
                let mut processed = applied(&response, Vec::new());
                processed.applied = false;
                return Ok(processed);
            }
            let op = Op::ClosePosition {
                position_id: position_id.to_owned(),
                at: ts,
            };
            let frames = engine.apply(ts, &op)?;
            let closed = engine.ledger.closed_position(position_id).ok_or_else(|| {
                StateError::PositionNotFound {
                    position_id: position_id.to_owned(),
                }
            })?;
            let portfolio = frames.first().and_then(|f| f.portfolio.clone());
            let response = close_response(closed, portfolio);
            tracing::info!(
                position_id,
                status = response.status,
                realized_pnl_usdc = %response.realized_pnl_usdc,
                fee_usdc = %response.fee_usdc,
                "sim closed position"
            );
            Ok(applied(&response, frames))
        })
    }

    /// Handles `POST /wallet/buy` and `/wallet/sell` (already parsed; the agent checked).
    pub fn wallet_trade(
        &mut self,
        side: TradeSide,
        body: &WalletTradeBody,
        idempotency_key: Option<&str>,
        fingerprint: &str,
        ts: OffsetDateTime,
    ) -> Processed {
        self.idempotent(idempotency_key, fingerprint, |engine| {
            require_reason(&body.reason)?;
            let asset = Asset::parse("asset", &body.asset)?;
            let op = match side {
                TradeSide::Buy => Op::WalletBuy {
                    asset,
                    quantity: body.quantity,
                    at: ts,
                },
                TradeSide::Sell => Op::WalletSell {
                    asset,
                    quantity: body.quantity,
                    at: ts,
                },
            };
            let frames = engine.apply(ts, &op)?;
            let frame = first_applied(&frames, "quantity")?;
            let EventKind::WalletTrade {
                trade_id,
                quantity,
                price_usdc,
                notional_usdc,
                realized_pnl_usdc,
                mid_price_usdc,
                spread_usdc,
                lots,
                ..
            } = &frame.kind
            else {
                return Err(not_applied("quantity"));
            };
            tracing::info!(
                trade_id,
                asset = asset.symbol(),
                side = ?side,
                quantity = %quantity,
                price_usdc = %price_usdc,
                reason = body.reason,
                "sim applied wallet trade"
            );
            let response = WalletTradeResponse {
                trade_id: trade_id.clone(),
                asset: asset.symbol().to_owned(),
                side,
                quantity: *quantity,
                price_usdc: *price_usdc,
                notional_usdc: *notional_usdc,
                fee_usdc: Decimal::ZERO,
                mid_price_usdc: *mid_price_usdc,
                spread_usdc: *spread_usdc,
                realized_pnl_usdc: *realized_pnl_usdc,
                lots: lots.clone(),
                portfolio: frame.portfolio.clone(),
            };
            Ok(applied(&response, frames))
        })
    }

    /// `GET /wallet/holdings`: cash, and each asset held with its FIFO lots.
    pub fn holdings(&self) -> HoldingsResponse {
        let prices = self.ledger.prices();
        let holdings: Vec<AssetHolding> = Asset::ALL
            .into_iter()
            .filter_map(|asset| {
                let lots = self.ledger.lots(asset);
                if lots.is_empty() {
                    return None;
                }
                let quantity: Decimal = lots.iter().map(|lot| lot.quantity).sum();
                let cost_basis_usdc: Decimal = lots.iter().map(|lot| lot.cost_basis_usdc).sum();
                let market_value_usdc = quantity * prices[asset];
                Some(AssetHolding {
                    asset: asset.symbol().to_owned(),
                    quantity,
                    price_usdc: prices[asset],
                    market_value_usdc,
                    cost_basis_usdc,
                    unrealized_pnl_usdc: market_value_usdc - cost_basis_usdc,
                    lots: lots
                        .iter()
                        .map(|lot| WalletLot {
                            lot_id: lot.lot_id.clone(),
                            quantity: lot.quantity,
                            cost_basis_usdc: lot.cost_basis_usdc,
                            acquired_at: lot.acquired_at,
                            proceeds_usdc: None,
                            realized_pnl_usdc: None,
                        })
                        .collect(),
                })
            })
            .collect();
        let cash_usdc = self.ledger.balances()[Service::Wallet];
        let holdings_value_usdc: Decimal = holdings.iter().map(|h| h.market_value_usdc).sum();
        HoldingsResponse {
            cash_usdc,
            holdings_value_usdc,
            wallet_value_usdc: cash_usdc + holdings_value_usdc,
            holdings,
        }
    }

    /// Runs `process` unless the key was seen: then replays the first reply (same request)
    /// or refuses with 422 (different request), changing nothing. A [`StateError`] from
    /// `process` becomes its refusal, which is remembered under the key like a success.
    fn idempotent(
        &mut self,
        key: Option<&str>,
        fingerprint: &str,
        process: impl FnOnce(&mut Engine) -> Result<Processed, StateError>,
    ) -> Processed {
        let process = |engine: &mut Engine| process(engine).unwrap_or_else(|e| refused(&e));
        let Some(key) = key else {
            return process(self);
        };
        match self.idempotency.lookup(key, fingerprint) {
            Lookup::Replay(stored) => {
                self.counters.idempotent_replays += 1;
                tracing::debug!(idempotency_key = key, "sim replayed an idempotent reply");
                Processed {
                    reply: Reply {
                        status: stored.status,
                        body: stored.body,
                    },
                    frames: Vec::new(),
                    transfer: None,
                    applied: false,
                }
            }
            Lookup::Conflict => refused_with(Reply::error(
                422,
                "idempotency_key_reused",
                format!("Idempotency-Key `{key}` was already used for a different request"),
            )),
            Lookup::Miss => {
                let processed = process(self);
                self.idempotency.insert(
                    key.to_owned(),
                    StoredReply {
                        fingerprint: fingerprint.to_owned(),
                        status: processed.reply.status,
                        body: processed.reply.body.clone(),
                    },
                );
                processed
            }
        }
    }

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

    fn push_returns(&mut self, day: ServiceMap<f64>) {
        if self.returns.len() == MAX_RETURN_DAYS {
            self.returns.pop_front();
        }
        self.returns.push_back(day);
    }

    /// Counts a request to an endpoint.
    pub fn count_request(&mut self, endpoint: &str) {
        *self
            .counters
            .requests_by_endpoint
            .entry(endpoint.to_owned())
            .or_default() += 1;
    }

    /// Counts a request the venue itself refused.
    pub fn count_rejected(&mut self) {
        self.counters.rejected_requests += 1;
    }

    /// Counts an injected fault.
    pub fn count_fault(&mut self, name: &str) {
        *self
            .counters
            .faults_injected
            .entry(name.to_owned())
            .or_default() += 1;
    }

    /// Counts an accepted websocket.
    pub fn count_websocket(&mut self) {
        self.counters.websocket_connections += 1;
    }

    /// What the venue saw.
    pub fn stats(&self, sim_time: OffsetDateTime) -> SimStats {
        SimStats {
            agent_id: self.agent_id.clone(),
            sim_time,
            // The engine does not own the clock; `Shared::stats` fills this in.
            speed: Decimal::ZERO,
            last_seq: self.log.last_seq(),
            requests_by_endpoint: self.counters.requests_by_endpoint.clone(),
            applied_transfers: self.transfers.len() as u64,
            duplicate_transfer_keys: duplicate_keys(&self.transfers),
            idempotent_replays: self.counters.idempotent_replays,
            rejected_requests: self.counters.rejected_requests,
            faults_injected: self.counters.faults_injected.clone(),
            websocket_connections: self.counters.websocket_connections,
            portfolio: self.portfolio(),
            accounting: self.ledger.accounting(),
            markets: self.ledger.market_stats(),
            repeated_closes: self.counters.repeated_closes,
        }
    }
}

/// How many transfers repeat a key applied before them.
fn duplicate_keys(transfers: &[AppliedTransfer]) -> u64 {
    let mut seen = std::collections::HashSet::new();
    transfers
        .iter()
        .filter_map(|t| t.idempotency_key.as_deref())
        .filter(|key| !seen.insert(*key))
        .count() as u64
}

/// A 200 reply with `response` as its body, for a request that changed the books.
fn applied<T: Serialize>(response: &T, frames: Vec<EventFrame>) -> Processed {
    Processed {
        reply: Reply {
            status: 200,
            body: serde_json::to_string(response).unwrap_or_default(),
        },
        frames,
        transfer: None,
        applied: true,
    }
}

fn close_response(
    closed: &ClosedPosition,
    portfolio: Option<PortfolioResponse>,
) -> ClosePositionResponse {
    ClosePositionResponse {
        position_id: closed.position_id.clone(),
        realized_pnl_usdc: closed.realized_pnl_usdc,
        fee_usdc: closed.fee_usdc,
        status: closed.status.name().to_owned(),
        market: closed.market.name().to_owned(),
        close_price: closed.close_price,
        returned_usdc: closed.returned_usdc,
        portfolio,
    }
}

/// The first frame of an applied op: the one whose fields the reply echoes. An op that
/// announced nothing was not applied, which is refused naming `field`.
fn first_applied<'a>(
    frames: &'a [EventFrame],
    field: &'static str,
) -> Result<&'a EventFrame, StateError> {
    frames.first().ok_or_else(|| not_applied(field))
}

fn not_applied(field: &'static str) -> StateError {
    StateError::Invalid {
        field,
        reason: "was not applied".into(),
    }
}

/// Every audited request carries a reason; a blank one is refused before anything moves.
fn require_reason(reason: &str) -> Result<(), StateError> {
    if reason.trim().is_empty() {
        return Err(StateError::Invalid {
            field: "reason",
            reason: "must not be empty".into(),
        });
    }
    Ok(())
}

fn refused(error: &StateError) -> Processed {
    refused_with(Reply::from_state_error(error))
}

fn refused_with(reply: Reply) -> Processed {
    Processed {
        reply,
        frames: Vec::new(),
        transfer: None,
        applied: false,
    }
}

/// Daily returns for the `SYNTHETIC_HISTORY_DAYS` before `start`, from the same models with
/// their own seed. Each day starts again from the initial balances, as if the agent had
/// rebalanced to them every midnight, so the history is stationary.
fn synthetic_history(
    initial_balances_usdc: ServiceMap<Decimal>,
    casino: &CasinoParams,
    seed: u64,
    start: OffsetDateTime,
) -> Result<VecDeque<ServiceMap<f64>>, StateError> {
    let mut model = ActivityModel::new(casino.clone(), seed ^ HISTORY_SEED_SALT);
    let mut markets = MarketModel::new(seed ^ HISTORY_SEED_SALT);
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
    use rust_decimal_macros::dec;
    use time::macros::datetime;

    use super::*;
    use crate::sim::article_balances_usdc;

    const START: OffsetDateTime = datetime!(2025-12-31 12:00 UTC);

    fn engine() -> Engine {
        Engine::new(
            "agent-1",
            article_balances_usdc(),
            &CasinoParams::default(),
            &MarketParams::default(),
            7,
            START,
            true,
        )
        .expect("valid")
    }

    fn body(direction: Direction, amount_usdc: Decimal) -> RebalanceBody {
        RebalanceBody {
            service: Service::Casino,
            direction,
            amount_usdc,
            reason: "test".into(),
        }
    }

    #[test]
    fn event_log_is_bounded_and_resumes_after_since() {
        let mut log = EventLog::new(3);
        for _ in 0..5 {
            log.push(START, EventKind::Balance, &ServiceMap::default());
        }
        let seqs = |frames: Vec<EventFrame>| frames.iter().map(|f| f.seq).collect::<Vec<_>>();
        assert_eq!(seqs(log.since(0)), [3, 4, 5]);
        assert_eq!(seqs(log.since(4)), [5]);
        assert!(log.since(5).is_empty());
        assert!(log.since(99).is_empty());
        // Timestamps never go backwards.
        let frame = log.push(
            START - time::Duration::HOUR,
            EventKind::Balance,
            &ServiceMap::default(),
        );
        assert_eq!(frame.ts, START);
        assert_eq!(frame.portfolio.and_then(|p| p.seq), Some(6));
    }

    #[test]
    fn idempotency_store_replays_conflicts_and_forgets_oldest() {
        let reply = |fingerprint: &str| StoredReply {
            fingerprint: fingerprint.into(),
            status: 200,
            body: "{}".into(),
        };
        let mut store = IdempotencyStore::new(2);
        store.insert("a".into(), reply("A"));
        store.insert("b".into(), reply("B"));
        assert_eq!(store.lookup("a", "A"), Lookup::Replay(reply("A")));
        assert_eq!(store.lookup("a", "B"), Lookup::Conflict);
        store.insert("c".into(), reply("C"));
        assert_eq!(store.lookup("a", "A"), Lookup::Miss);
        assert_eq!(store.len(), 2);
    }

    #[test]
    fn rebalance_replies_and_idempotent_replays() {
        struct TestCase {
            body: RebalanceBody,
            key: Option<&'static str>,
            fingerprint: &'static str,
            expected_status: u16,
            expected_applied: bool,
        }
        let cases = [
            // TC0: a decrease applies.
            TestCase {
                body: body(Direction::Decrease, dec!(20)),
                key: Some("k1"),
                fingerprint: "f1",
                expected_status: 200,
                expected_applied: true,
            },
            // TC1: the same key and request replays without applying.
            TestCase {
                body: body(Direction::Decrease, dec!(20)),
                key: Some("k1"),
                fingerprint: "f1",
                expected_status: 200,
                expected_applied: false,
            },
            // TC2: the same key with another request is refused.
            TestCase {
                body: body(Direction::Decrease, dec!(21)),
                key: Some("k1"),
                fingerprint: "f2",
                expected_status: 422,
                expected_applied: false,
            },
            // TC3: more than the casino holds.
            TestCase {
                body: body(Direction::Decrease, dec!(1000)),
                key: Some("k2"),
                fingerprint: "f3",
                expected_status: 409,
                expected_applied: false,
            },
            // TC4: a refusal is remembered too: the retry gets the same 409.
            TestCase {
                body: body(Direction::Decrease, dec!(1000)),
                key: Some("k2"),
                fingerprint: "f3",
                expected_status: 409,
                expected_applied: false,
            },
            // TC5: an empty reason.
            TestCase {
                body: RebalanceBody {
                    reason: " ".into(),
                    ..body(Direction::Increase, dec!(1))
                },
                key: None,
                fingerprint: "f4",
                expected_status: 400,
                expected_applied: false,
            },
        ];
        let mut engine = engine();
        let now = tokio::time::Instant::now();
        for (index, case) in cases.iter().enumerate() {
            let processed = engine.rebalance(&case.body, case.key, case.fingerprint, now, START);
            assert_eq!(
                processed.reply.status, case.expected_status,
                "TC{index}: {processed:?}"
            );
            assert_eq!(processed.applied, case.expected_applied, "TC{index}");
        }
        assert_eq!(engine.transfers().len(), 1);
        assert_eq!(engine.balances()[Service::Casino], dec!(180));
        let stats = engine.stats(START);
        assert_eq!(stats.idempotent_replays, 2);
        assert!(stats.accounting.ok);
    }

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

    #[test]
    fn hours_emit_events_in_seq_order_and_midnight_adds_a_day() {
        let mut engine = engine();
        let days_before = engine.returns(usize::MAX).returns_by_service["casino"].len();
        let mut hour_end = START + time::Duration::HOUR;
        let mut last = 0;
        for _ in 0..48 {
            for frame in engine.run_hour(hour_end) {
                assert_eq!(frame.seq, last + 1);
                last = frame.seq;
            }
            hour_end += time::Duration::HOUR;
        }
        assert!(last > 48);
        let days_after = engine.returns(usize::MAX).returns_by_service["casino"].len();
        assert_eq!(days_after, (days_before + 2).min(MAX_RETURN_DAYS));
        assert!(engine.stats(hour_end).accounting.ok);
    }

    #[test]
    fn drawdowns_are_announced_once_per_fall() {
        let mut engine = engine();
        let frames = engine
            .inject(
                START,
                &Injection::MarkToMarket {
                    service: Service::Trading,
                    change_usdc: dec!(-75),
                },
            )
            .expect("applies");
        assert_eq!(frames.len(), 2, "{frames:?}");
        assert_eq!(
            frames[1].kind,
            EventKind::Drawdown {
                service: Service::Trading,
                drawdown: dec!(0.25)
            }
        );
        // A further small fall is not a new 20% drawdown from the reset peak.
        let frames = engine
            .inject(
                START,
                &Injection::MarkToMarket {
                    service: Service::Trading,
                    change_usdc: dec!(-10),
                },
            )
            .expect("applies");
        assert_eq!(frames.len(), 1);
    }
}
