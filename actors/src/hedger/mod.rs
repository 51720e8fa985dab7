//! The HedgeExecutor: opens and closes the perp hedges that bridge a spot rebalance the venue
//! will not let happen yet. Every decision (whether, at what ratio and size, when to close,
//! what a restart does) is `ballast::hedge`'s; this actor does the I/O around them.
//!
//! It reacts to [`HedgeRequest`]s from the DriftDetector (a plan left a locked overweight
//! behind, or a lock appeared or lifted) and, from the bus, to REST snapshots
//! ([`BalancesObserved`](crate::messages::BalancesObserved): start-up, resyncs, the daily
//! tick), finished plans (the spot transfer landed), and the venue closing one of its
//! positions (a liquidation). It emits [`HedgeOpened`], [`HedgeClosed`], [`HedgeSkipped`] and,
//! once at start-up, [`HedgesReconciled`].
//!
//! A hedge is named after the balances it was decided on and the service it covers
//! (`ballast::hedge::ids`: the snapshot's venue event, or its date), so a second companion
//! deciding the same hedge sends the same keys and the venue fills it once; a name an earlier
//! run of the store already used is skipped for the next attempt.
//!
//! A hedge takes the transfers' durable path: it is recorded (`opening`) with its key
//! `{hedge_id}:open` before the order is sent; an ambiguous failure is resolved by asking the
//! venue what became of that key (`GET /trading/order/{key}`) and only an order the venue never
//! saw is sent again, under the same key; a close is recorded (`closing`) before the `DELETE`,
//! which the venue answers idempotently. At start-up the hedges the store holds as live are
//! resolved against the venue before anything else, and a venue position no hedge holds is
//! reported and left alone.
//!
//! # Invariants
//! - No order or close is sent before the hedge is on disk; if recording fails nothing is
//!   sent.
//! - No order or close is sent while the [`TradingGate`] is closed; the decision is taken
//!   again on the resync snapshot. No hedge opens while the operator has paused or halted
//!   trading ([`ControlSwitch`]); closes still go.
//! - An order is never resubmitted under a different key, and a position ballast does not
//!   know is never closed.
//! - Dry run records hedges as `dry_run` and sends nothing.
//! - One thing at a time: each handler holds the actor until its I/O is done.

use std::{
    collections::{BTreeMap, BTreeSet},
    future::Future,
    sync::{Arc, Mutex},
};

use actix::{
    Actor, ActorFutureExt, AsyncContext, AtomicResponse, Context, Handler, Recipient, WrapFuture,
};
use ballast::{
    execution::{
        ReconcileAction, RetryDecision, RetryInput, SendFailure, TriggerId, VenueTag,
        classify_pending, decide_retry,
    },
    hedge::{
        CloseReason, HedgeConfig, HedgeCosts, HedgeId, HedgeNamer, HedgeStatus, HeldHedge,
        HoldDecision, LockedExcess, OpenOrder, RatioDecision, RatioMethod, SizeLimits, SkipReason,
        StartupAction, decide_hold, decide_open, decide_ratio, eligible, foreign_positions,
        hedge_trigger, locked_excess, margin_available, startup_action,
    },
    math::hedge::min_variance_hedge,
    observation::{Happening, PositionSide},
    portfolio::PortfolioSnapshot,
    risk::RiskLimits,
    service::Service,
    store::{HedgeRecord, Store},
    targets::TargetAllocation,
    venue::{
        backoff::Backoff,
        client::{ClientError, VenueClient},
        markets::MarketsClient,
        protocol::{ClosePositionResponse, OrderBody, OrderResponse, OrderType, PositionsResponse},
    },
};
use rust_decimal::Decimal;
use tracing::{info, warn};

use crate::{
    clock::TimeSource,
    control::ControlSwitch,
    gate::{NumberingEpoch, TradingGate},
    messages::{
        Event, HedgeClosed, HedgeOpened, HedgeRequest, HedgeSkipped, HedgesReconciled,
        SnapshotSource,
    },
};

mod io;

use io::{fresh_id, publish_closed, publish_opened, save, send_close, send_order};

/// The venue's taker fee on a perp notional (docs/venue-protocol.md): what a market order
/// and a close cost, and what sizing keeps aside beside the margin.
pub const TAKER_FEE_RATE: Decimal = Decimal::from_parts(1, 0, 0, false, 3);
/// Mailbox capacity: requests, and the bus's snapshots and events.
pub const HEDGER_MAILBOX_CAPACITY: usize = 1_024;
/// The purpose every hedge order carries, for the venue's audit trail.
pub const HEDGE_PURPOSE: &str = "rebalance_hedge";

/// The HedgeExecutor's settings.
#[derive(Debug, Clone)]
pub struct HedgerConfig {
    /// `[hedge]`.
    pub hedge: HedgeConfig,
    /// Never send.
    pub dry_run: bool,
    /// `risk.max_leg_usdc` caps a hedge's notional like a transfer's amount.
    pub risk: RiskLimits,
    /// Retries per order or close (same key).
    pub retry_limit: u32,
    /// Retry schedule.
    pub retry_backoff: Backoff,
}

/// Cheap clones of the handles the I/O takes along.
#[derive(Debug, Clone)]
struct Shared {
    venue: VenueClient,
    markets: MarketsClient,
    store: Store,
    config: HedgerConfig,
    gate: TradingGate,
    control: ControlSwitch,
    bus: Recipient<Event>,
    run_id: String,
    time: TimeSource,
    /// The venue's event numbering, which hedge names follow.
    numbering: NumberingEpoch,
    /// The attempts made per trigger and service in this run.
    namer: Arc<Mutex<HedgeNamer>>,
}

/// What the actor knows between messages.
#[derive(Debug, Default)]
struct State {
    /// Hedges that may hold a position, and dry-run hedges not yet closed.
    book: Vec<HedgeRecord>,
    /// The targets to measure against: the configured ones, then each request's.
    targets: Option<TargetAllocation>,
    /// The kind of the last skip reported per service, so it is not reported again.
    last_skip: BTreeMap<Service, &'static str>,
}

/// The actor.
#[derive(Debug)]
pub struct HedgeExecutor {
    shared: Shared,
    state: State,
}

impl HedgeExecutor {
    /// A hedger for `run_id` measuring against `targets` until a request brings others,
    /// sending only while `gate` is open.
    ///
    /// # Errors
    /// When the markets client cannot be built.
    pub fn new(
        venue: VenueClient,
        store: Store,
        config: HedgerConfig,
        targets: TargetAllocation,
        run: (String, TimeSource),
        gate: TradingGate,
        bus: Recipient<Event>,
    ) -> Result<Self, ClientError> {
        let (run_id, time) = run;
        let markets = MarketsClient::new(&venue, ballast::venue::client::REQUEST_TIMEOUT_DEFAULT)?;
        // The same venue name plan ids carry (and the stored cursor is kept under).
        let tag = VenueTag::of(&crate::watcher::stream_name(
            venue.base_url(),
            venue.agent_id(),
        ));
        Ok(Self {
            shared: Shared {
                venue,
                markets,
                store,
                config,
                gate,
                control: ControlSwitch::default(),
                bus,
                run_id,
                time,
                numbering: NumberingEpoch::default(),
                namer: Arc::new(Mutex::new(HedgeNamer::new(tag))),
            },
            state: State {
                targets: Some(targets),
                ..State::default()
            },
        })
    }

    /// Obeys the operator's `control` switch: no hedge opens while trading is paused or
    /// halted (closes, which reduce exposure, still go).
    #[must_use]
    pub fn with_control(mut self, control: ControlSwitch) -> Self {
        self.shared.control = control;
        self
    }

    /// Follows the venue's event `numbering` (the watcher's), which hedge names carry; the
    /// default stays at epoch 0.
    #[must_use]
    pub fn with_numbering(mut self, numbering: NumberingEpoch) -> Self {
        self.shared.numbering = numbering;
        self
    }

    /// Runs `work` on the state, holding the actor until it is done.
    fn hold<F, Fut>(&mut self, work: F) -> AtomicResponse<Self, ()>
    where
        F: FnOnce(Shared, State) -> Fut,
        Fut: Future<Output = State> + 'static,
    {
        let state = std::mem::take(&mut self.state);
        let future = work(self.shared.clone(), state);
        AtomicResponse::new(Box::pin(
            future
                .into_actor(self)
                .map(|state, hedger, _| hedger.state = state),
        ))
    }
}

impl Actor for HedgeExecutor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(HEDGER_MAILBOX_CAPACITY);
        let state = std::mem::take(&mut self.state);
        let shared = self.shared.clone();
        ctx.wait(
            async move { reconcile(&shared, state).await }
                .into_actor(self)
                .map(|state, hedger, _| hedger.state = state),
        );
    }
}

impl Handler<HedgeRequest> for HedgeExecutor {
    type Result = AtomicResponse<Self, ()>;

    fn handle(&mut self, request: HedgeRequest, _ctx: &mut Self::Context) -> Self::Result {
        self.hold(move |shared, mut state| async move {
            state.targets = Some(request.targets.clone());
            evaluate(&shared, state, &request.snapshot, Some(request.excess)).await
        })
    }
}

impl Handler<Event> for HedgeExecutor {
    type Result = AtomicResponse<Self, ()>;

    fn handle(&mut self, event: Event, _ctx: &mut Self::Context) -> Self::Result {
        let has_book = !self.state.book.is_empty();
        // REST snapshots (start-up, resyncs that reopen the gate, the daily tick) are checked
        // for a stuck overweight too, so a request that met a closed gate is not lost; a
        // finished plan's balances (the spot transfer may have landed) only for closes.
        let (snapshot, rest) = match &event {
            Event::Balances(observed) if observed.source != SnapshotSource::Event => {
                (Some(observed.snapshot.clone()), true)
            }
            Event::Finished(finished) => (finished.snapshot.clone(), false),
            _ => (None, false),
        };
        let closed_by_venue = match &event {
            Event::Venue(venue) => match &venue.observation.what {
                Happening::PositionClosed {
                    position_id,
                    status,
                    realized_pnl_usdc,
                    ..
                } => Some((position_id.clone(), status.clone(), *realized_pnl_usdc)),
                _ => None,
            },
            _ => None,
        };
        self.hold(move |shared, state| async move {
            if let Some((position_id, status, realized_pnl_usdc)) = closed_by_venue {
                if !has_book {
                    return state;
                }
                return closed_at_venue(&shared, state, &position_id, &status, realized_pnl_usdc)
                    .await;
            }
            let Some(snapshot) = snapshot else {
                return state;
            };
            let excess = match (&state.targets, rest) {
                (Some(targets), true) => Some(locked_excess(&snapshot, targets)),
                _ => None,
            };
            if !has_book && excess.as_ref().is_none_or(Vec::is_empty) {
                return state;
            }
            evaluate(&shared, state, &snapshot, excess).await
        })
    }
}

/// Waits until the hedger has finished what it is doing (it handles messages in order).
#[derive(Debug, actix::Message)]
#[rtype(result = "()")]
pub struct DrainHedges;

impl Handler<DrainHedges> for HedgeExecutor {
    type Result = ();

    fn handle(&mut self, _message: DrainHedges, _ctx: &mut Self::Context) {}
}

/// Resolves every hedge the store holds as live against the venue, before anything else.
async fn reconcile(shared: &Shared, mut state: State) -> State {
    let live = match shared.store.live_hedges().await {
        Ok(live) => live,
        Err(error) => {
            warn!(%error, "live hedges not read; reconciliation deferred");
            return state;
        }
    };
    let positions = shared.markets.positions().await;
    let venue_ids: BTreeSet<String> = match &positions {
        Ok(positions) => positions.positions.iter().map(|p| p.id.clone()).collect(),
        Err(error) => {
            warn!(%error, "positions not read; live hedges kept as recorded");
            state.book = live;
            return state;
        }
    };
    let known: BTreeSet<String> = live.iter().filter_map(|h| h.position_id.clone()).collect();
    let mut report = HedgesReconciled {
        kept: 0,
        resolved: 0,
        unresolved: 0,
        foreign_positions: foreign_positions(&venue_ids, &known)
            .into_iter()
            .map(str::to_owned)
            .collect(),
    };
    for id in &report.foreign_positions {
        warn!(position_id = %id, "venue position no hedge of ballast holds; left alone");
    }
    for mut hedge in live {
        let this_run = hedge.run_id == shared.run_id;
        match startup_action(hedge.status, hedge.position_id.as_deref(), &venue_ids) {
            Some(StartupAction::Keep) => {
                report.kept += 1;
                state.book.push(hedge);
            }
            Some(StartupAction::Gone) => {
                report.resolved += 1;
                closed(shared, &mut hedge, CloseReason::ClosedByVenue).await;
            }
            Some(StartupAction::AskOrderStatus) => {
                let answer = shared.markets.order_status(&hedge.open_key).await;
                if let Err(error) = &answer {
                    warn!(%error, hedge_id = %hedge.hedge_id, "hedge order still unresolved");
                }
                match classify_pending(answer.ok(), this_run) {
                    ReconcileAction::RecordApplied(reply) => {
                        report.resolved += 1;
                        opened(shared, &mut hedge, &reply).await;
                        state.book.push(hedge);
                    }
                    ReconcileAction::RecordRefused { reason }
                    | ReconcileAction::RecordAbandoned { reason } => {
                        report.resolved += 1;
                        failed(shared, &mut hedge, reason).await;
                    }
                    // Order replies are not compared with their request: no mismatch comes.
                    ReconcileAction::LeavePending | ReconcileAction::Mismatched(_) => {
                        report.unresolved += 1;
                        state.book.push(hedge);
                    }
                }
            }
            Some(StartupAction::ResendClose) => {
                report.resolved += 1;
                let reason = close_reason_of(&hedge);
                state = close(shared, state, hedge, reason).await;
            }
            None => {}
        }
    }
    if report.kept + report.resolved + report.unresolved + report.foreign_positions.len() > 0 {
        info!(
            kept = report.kept,
            resolved = report.resolved,
            unresolved = report.unresolved,
            foreign = report.foreign_positions.len(),
            "hedges reconciled at start-up"
        );
        let _ = shared.bus.try_send(report.into());
    }
    state
}

/// The reason a hedge recorded `closing` was being closed for (a lock released, when the
/// store does not say).
fn close_reason_of(hedge: &HedgeRecord) -> CloseReason {
    hedge
        .close_reason
        .as_deref()
        .and_then(CloseReason::parse)
        .unwrap_or(CloseReason::LockReleased)
}

/// Brings the book up to date with fresh balances: resolves orders of unknown outcome,
/// refreshes funding, closes or resizes what should go, and (for a request) opens what
/// should be hedged.
async fn evaluate(
    shared: &Shared,
    mut state: State,
    snapshot: &PortfolioSnapshot,
    excess: Option<Vec<LockedExcess>>,
) -> State {
    state = resolve_opening(shared, state).await;
    let positions = if state.book.is_empty() && excess.as_ref().is_none_or(Vec::is_empty) {
        None
    } else {
        match shared.markets.positions().await {
            Ok(positions) => Some(positions),
            Err(error) => {
                warn!(%error, "positions not read; hedges unchanged until the next snapshot");
                return state;
            }
        }
    };
    if let Some(positions) = &positions {
        state = refresh_costs(shared, state, positions).await;
    }
    // What a hedge opened now answers: these balances (in every companion that sees them).
    let trigger = hedge_trigger(snapshot.seq, shared.numbering.get(), shared.time.now());
    state = hold_or_close(shared, state, snapshot, positions.as_ref(), trigger).await;
    let (Some(excess), Some(positions)) = (excess.as_deref(), positions.as_ref()) else {
        return state;
    };
    let hedged: BTreeSet<Service> = state.book.iter().map(|h| h.service).collect();
    for service in Service::TRADABLE {
        if !excess.iter().any(|e| e.service == service) {
            // Nothing stuck any more: a later skip for it is news again.
            state.last_skip.remove(&service);
        }
    }
    for stuck in excess.iter().filter(|e| !hedged.contains(&e.service)) {
        state = try_open(shared, state, stuck, (snapshot, trigger), positions).await;
    }
    state
}

/// Asks the venue about every order of unknown outcome.
async fn resolve_opening(shared: &Shared, mut state: State) -> State {
    for hedge in &mut state.book {
        if hedge.status != HedgeStatus::Opening {
            continue;
        }
        let this_run = hedge.run_id == shared.run_id;
        let answer = shared.markets.order_status(&hedge.open_key).await.ok();
        match classify_pending(answer, this_run) {
            ReconcileAction::RecordApplied(reply) => opened(shared, hedge, &reply).await,
            ReconcileAction::RecordRefused { reason }
            | ReconcileAction::RecordAbandoned { reason } => failed(shared, hedge, reason).await,
            ReconcileAction::LeavePending | ReconcileAction::Mismatched(_) => {}
        }
    }
    state.book.retain(|h| h.status != HedgeStatus::Failed);
    state
}

/// Copies each open hedge's fees and funding from the venue's positions; a hedge whose
/// position is gone was closed by the venue.
async fn refresh_costs(shared: &Shared, mut state: State, positions: &PositionsResponse) -> State {
    let mut gone = Vec::new();
    for hedge in &mut state.book {
        let (HedgeStatus::Open, Some(id)) = (hedge.status, hedge.position_id.as_deref()) else {
            continue;
        };
        match positions.positions.iter().find(|p| p.id == id) {
            Some(position) => {
                let costs = HedgeCosts {
                    fees_usdc: position.fees_paid_usdc.max(hedge.costs.fees_usdc),
                    funding_usdc: position.funding_usdc,
                    realized_pnl_usdc: hedge.costs.realized_pnl_usdc,
                };
                if costs != hedge.costs {
                    hedge.costs = costs;
                    save(shared, hedge).await;
                }
            }
            None => gone.push(id.to_owned()),
        }
    }
    for id in gone {
        state = closed_at_venue(shared, state, &id, "closed", Decimal::ZERO).await;
    }
    state
}

/// Closes or resizes every open hedge the fresh balances no longer call for, and retries
/// closes of unknown outcome.
async fn hold_or_close(
    shared: &Shared,
    mut state: State,
    snapshot: &PortfolioSnapshot,
    positions: Option<&PositionsResponse>,
    trigger: TriggerId,
) -> State {
    let Some(targets) = state.targets.clone() else {
        return state;
    };
    let book = std::mem::take(&mut state.book);
    let config = &shared.config.hedge;
    for hedge in book {
        let decision = match hedge.status {
            HedgeStatus::Closing => HoldDecision::Close(close_reason_of(&hedge)),
            HedgeStatus::Open | HedgeStatus::DryRun => {
                let held = HeldHedge {
                    service: hedge.service,
                    notional_usdc: hedge.notional_usdc,
                    ratio: hedge.ratio,
                };
                let limits = size_limits(shared, snapshot, positions);
                decide_hold(config, &held, snapshot, &targets, &limits)
            }
            _ => HoldDecision::Keep,
        };
        match decision {
            HoldDecision::Keep => state.book.push(hedge),
            HoldDecision::Close(reason) => {
                state = close(shared, state, hedge, reason).await;
            }
            HoldDecision::Resize { notional_usdc } => {
                let (service, ratio) = (hedge.service, hedge.ratio);
                state = close(shared, state, hedge, CloseReason::Resize).await;
                if state.book.iter().any(|h| h.service == service) {
                    // The close did not go through: keep the hedge as it is.
                    continue;
                }
                let order = OpenOrder {
                    service,
                    notional_usdc,
                    leverage: config.max_leverage,
                    ratio,
                    stuck_usdc: Decimal::ZERO,
                    capped_by: Vec::new(),
                };
                state = open(
                    shared,
                    state,
                    order,
                    trigger,
                    "resized to the stuck overweight".into(),
                )
                .await;
            }
        }
    }
    state
}

/// What bounds a hedge's size, given the trading balance of `snapshot` and the venue's
/// `positions`.
fn size_limits(
    shared: &Shared,
    snapshot: &PortfolioSnapshot,
    positions: Option<&PositionsResponse>,
) -> SizeLimits {
    let held = positions
        .map(|p| {
            p.positions
                .iter()
                .map(|p| p.margin_usdc + p.unrealized_pnl_usdc)
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    SizeLimits {
        margin_available_usdc: margin_available(snapshot.balance(Service::Trading), held),
        taker_fee_rate: TAKER_FEE_RATE,
        max_leg_usdc: shared.config.risk.max_leg_usdc,
    }
}

/// Opens a hedge for `stuck`, if the rules say so; reports a skip otherwise.
async fn try_open(
    shared: &Shared,
    mut state: State,
    stuck: &LockedExcess,
    (snapshot, trigger): (&PortfolioSnapshot, TriggerId),
    positions: &PositionsResponse,
) -> State {
    let config = &shared.config.hedge;
    if let Err(reason) = eligible(config, stuck) {
        skip_because(shared, &mut state, stuck.service, &reason);
        return state;
    }
    let (ratio, estimate) = match ratio(shared, stuck.service).await {
        RatioDecision::Use { ratio, estimate } => (ratio, estimate),
        RatioDecision::Skip { reason } => {
            let reason = SkipReason::Ratio { reason };
            skip_because(shared, &mut state, stuck.service, &reason);
            return state;
        }
    };
    // Size against the trading balance now, not the request's: the cash may have moved
    // since (marks, fills), and the venue refuses an order its cash cannot carry.
    let fresh = shared
        .venue
        .portfolio()
        .await
        .ok()
        .and_then(|p| p.to_snapshot().ok());
    let limits = size_limits(shared, fresh.as_ref().unwrap_or(snapshot), Some(positions));
    let order = match decide_open(config, stuck, ratio, &limits) {
        Ok(order) => order,
        Err(reason) => {
            skip_because(shared, &mut state, stuck.service, &reason);
            return state;
        }
    };
    let mut reason = format!(
        "{} {:.1} points over target, {} USDC of it locked: ratio {}",
        stuck.service.name(),
        stuck.drift * Decimal::ONE_HUNDRED,
        stuck.stuck_usdc,
        order.ratio
    );
    if let Some(estimate) = estimate {
        reason.push_str(&format!(
            " (estimated ± {:.4}, correlation {:.3}, {} days)",
            estimate.beta_std_error, estimate.correlation, estimate.observations
        ));
    } else {
        reason.push_str(" (fixed 1:1)");
    }
    if !order.capped_by.is_empty() {
        reason.push_str(&format!(", capped by {}", order.capped_by.join(", ")));
    }
    state.last_skip.remove(&stuck.service);
    open(shared, state, order, trigger, reason).await
}

/// The ratio to size `service`'s hedge with: fixed, or estimated from the venue's history.
async fn ratio(shared: &Shared, service: Service) -> RatioDecision {
    let config = &shared.config.hedge;
    if config.ratio == RatioMethod::Fixed {
        return decide_ratio(config, None);
    }
    let services = shared.venue.returns(config.lookback_days).await;
    let market = shared
        .markets
        .market_returns(&config.market, config.lookback_days)
        .await;
    let estimate = match (services, market) {
        (Ok(services), Ok(market)) => {
            let service = services
                .returns_by_service
                .get(service.name())
                .cloned()
                .unwrap_or_default();
            // The common tail: both series end today.
            let days = service.len().min(market.returns.len());
            Some(min_variance_hedge(
                &service[service.len() - days..],
                &market.returns[market.returns.len() - days..],
            ))
        }
        (Err(error), _) | (_, Err(error)) => {
            warn!(%error, "return history not read; no ratio");
            None
        }
    };
    decide_ratio(config, estimate)
}

/// Reports a skip once per kind of reason and service, until the kind changes or the
/// service has nothing stuck any more (a drift that creeps below the threshold is one
/// skip, not one per snapshot).
fn skip(shared: &Shared, state: &mut State, service: Service, kind: &'static str, reason: String) {
    if state.last_skip.get(&service).copied() == Some(kind) {
        return;
    }
    info!(service = service.name(), kind, %reason, "hedge skipped");
    state.last_skip.insert(service, kind);
    let _ = shared.bus.try_send(
        HedgeSkipped {
            service,
            reason,
            at: shared.time.now(),
        }
        .into(),
    );
}

/// [`skip`] for a [`SkipReason`]: its kind, described.
fn skip_because(shared: &Shared, state: &mut State, service: Service, reason: &SkipReason) {
    skip(shared, state, service, reason.kind(), reason.to_string());
}

/// Records and sends one hedge order, named after `trigger`.
async fn open(
    shared: &Shared,
    mut state: State,
    order: OpenOrder,
    trigger: TriggerId,
    reason: String,
) -> State {
    let config = &shared.config;
    let closed = if shared.control.holds_plans() {
        Some(SkipReason::Held)
    } else if !config.dry_run && !shared.gate.is_open() {
        Some(SkipReason::StreamDown)
    } else {
        None
    };
    if let Some(reason) = closed {
        skip_because(shared, &mut state, order.service, &reason);
        return state;
    }
    let Some(id) = fresh_id(shared, trigger, order.service).await else {
        return state;
    };
    let mut hedge = HedgeRecord {
        hedge_id: id.to_string(),
        run_id: shared.run_id.clone(),
        service: order.service,
        market: config.hedge.market.clone(),
        side: PositionSide::Short,
        notional_usdc: order.notional_usdc,
        leverage: order.leverage,
        ratio: order.ratio,
        reason: reason.clone(),
        status: if config.dry_run {
            HedgeStatus::DryRun
        } else {
            HedgeStatus::Opening
        },
        open_key: id.open_key(),
        close_key: None,
        position_id: None,
        created_at: shared.time.now(),
        opened_at: None,
        closed_at: None,
        close_reason: None,
        costs: HedgeCosts::default(),
        error: None,
    };
    if let Err(error) = shared.store.save_hedge(hedge.clone()).await {
        warn!(%error, hedge_id = %hedge.hedge_id, "hedge not recorded; nothing sent");
        return state;
    }
    if config.dry_run {
        publish_opened(shared, &hedge, order.stuck_usdc);
        state.book.push(hedge);
        return state;
    }
    let body = OrderBody {
        agent_id: String::new(),
        market: hedge.market.clone(),
        side: PositionSide::Short,
        notional_usdc: hedge.notional_usdc,
        leverage: hedge.leverage,
        order_type: OrderType::Market,
        purpose: HEDGE_PURPOSE.to_owned(),
        limit_price: None,
    };
    match send_order(shared, &body, &hedge.open_key).await {
        Ok(reply) => {
            opened(shared, &mut hedge, &reply).await;
            publish_opened(shared, &hedge, order.stuck_usdc);
            state.book.push(hedge);
        }
        Err((description, true)) => {
            // Unknown outcome: the hedge stays `opening` and is asked about again, under
            // its key, before anything else is decided.
            warn!(hedge_id = %hedge.hedge_id, reason = %description, "hedge order outcome unknown");
            state.book.push(hedge);
        }
        Err((description, false)) => {
            failed(shared, &mut hedge, description.clone()).await;
            let reason = format!("order refused: {description}");
            skip(shared, &mut state, order.service, "refused", reason);
        }
    }
    state
}

/// Records a hedge opened with the venue's reply.
async fn opened(shared: &Shared, hedge: &mut HedgeRecord, reply: &OrderResponse) {
    hedge.status = HedgeStatus::Open;
    hedge.position_id = Some(reply.position_id.clone());
    hedge.opened_at = Some(shared.time.now());
    hedge.costs.fees_usdc = reply.fee_usdc;
    info!(hedge_id = %hedge.hedge_id, position_id = %reply.position_id,
          notional_usdc = %hedge.notional_usdc, fee_usdc = %reply.fee_usdc, "hedge opened");
    save(shared, hedge).await;
}

/// Records a hedge failed with `reason`.
async fn failed(shared: &Shared, hedge: &mut HedgeRecord, reason: String) {
    warn!(hedge_id = %hedge.hedge_id, %reason, "hedge failed");
    hedge.status = HedgeStatus::Failed;
    hedge.error = Some(reason);
    save(shared, hedge).await;
}

/// Records and sends the close of `hedge`; it leaves the book once closed, and stays in it
/// (`closing`) while the close's outcome is unknown.
async fn close(
    shared: &Shared,
    mut state: State,
    mut hedge: HedgeRecord,
    reason: CloseReason,
) -> State {
    let at = shared.time.now();
    if hedge.status == HedgeStatus::DryRun {
        hedge.closed_at = Some(at);
        hedge.close_reason = Some(reason.name().to_owned());
        save(shared, &hedge).await;
        publish_closed(shared, &hedge, reason);
        return state;
    }
    if !shared.gate.is_open() {
        // Decided again on the resync snapshot.
        state.book.push(hedge);
        return state;
    }
    let Some(position_id) = hedge.position_id.clone() else {
        state.book.push(hedge);
        return state;
    };
    let key = hedge
        .close_key
        .clone()
        .unwrap_or_else(|| format!("{}:close", hedge.hedge_id));
    hedge.status = HedgeStatus::Closing;
    hedge.close_key = Some(key.clone());
    hedge.close_reason = Some(reason.name().to_owned());
    if let Err(error) = shared.store.save_hedge(hedge.clone()).await {
        warn!(%error, hedge_id = %hedge.hedge_id, "hedge close not recorded; nothing sent");
        hedge.status = HedgeStatus::Open;
        state.book.push(hedge);
        return state;
    }
    match send_close(shared, &position_id, &key).await {
        Ok(reply) => {
            let reason = if reply.status == "liquidated" {
                CloseReason::ClosedByVenue
            } else {
                reason
            };
            hedge.costs.fees_usdc += reply.fee_usdc;
            hedge.costs.funding_usdc = reply.funding_usdc;
            hedge.costs.realized_pnl_usdc = reply.realized_pnl_usdc;
            closed(shared, &mut hedge, reason).await;
        }
        Err((description, _)) if description.contains("position_not_found") => {
            // The venue has no such position (closed long ago, or never filled): nothing
            // left to close.
            closed(shared, &mut hedge, CloseReason::ClosedByVenue).await;
        }
        Err((description, _)) => {
            warn!(hedge_id = %hedge.hedge_id, reason = %description,
                  "hedge close not confirmed; retried under its key at the next snapshot");
            state.book.push(hedge);
        }
    }
    state
}

/// The venue closed one of the hedges' positions (a liquidation): record it.
async fn closed_at_venue(
    shared: &Shared,
    mut state: State,
    position_id: &str,
    status: &str,
    realized_pnl_usdc: Decimal,
) -> State {
    let Some(index) = state.book.iter().position(|h| {
        h.status == HedgeStatus::Open && h.position_id.as_deref() == Some(position_id)
    }) else {
        return state;
    };
    let mut hedge = state.book.remove(index);
    warn!(hedge_id = %hedge.hedge_id, %status, "hedge position closed by the venue");
    hedge.costs.realized_pnl_usdc = realized_pnl_usdc;
    closed(shared, &mut hedge, CloseReason::ClosedByVenue).await;
    state
}

/// Records a hedge closed for `reason` (its costs already set) and tells observers.
async fn closed(shared: &Shared, hedge: &mut HedgeRecord, reason: CloseReason) {
    hedge.status = HedgeStatus::Closed;
    hedge.closed_at = Some(shared.time.now());
    hedge.close_reason = Some(reason.name().to_owned());
    info!(hedge_id = %hedge.hedge_id, reason = reason.name(),
          realized_pnl_usdc = %hedge.costs.realized_pnl_usdc, fees_usdc = %hedge.costs.fees_usdc,
          "hedge closed");
    save(shared, hedge).await;
    publish_closed(shared, hedge, reason);
}
