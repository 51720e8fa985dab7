//! The message catalogue: every message that crosses between actors, in one place.
//!
//! Messages are plain immutable data (`Arc` where they are large and fan out). Peers are
//! addressed as `Recipient<M>`, so a custom actor can take part by handling the same
//! types. [`Event`] wraps every message for subscribers that want the whole stream (the
//! MetricsRecorder, audit tools, custom triggers).
//!
//! # Invariants
//! - Every message is a Rust type; nothing travels as a string-keyed map.
//! - Money inside messages is `Decimal`.

use std::sync::Arc;

use actix::Message;
pub use ballast::alerting::{AlertDetails, AlertKind, Severity};
use ballast::{
    observation::Observation,
    optimizer::{OptimizerMethod, TargetDiagnostics},
    policy::{Decision, Notice, Trigger},
    portfolio::PortfolioSnapshot,
    service::{Direction, Service},
    targets::TargetAllocation,
};
use rust_decimal::Decimal;
use serde::Serialize;
use time::OffsetDateTime;

/// The daily tick from the Clock.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "()")]
pub struct Tick {
    /// The scheduled tick time (venue time when the clock follows the simulated venue).
    pub at: OffsetDateTime,
}

/// Where a snapshot came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SnapshotSource {
    /// A REST fetch at start-up or after a reconnect or gap.
    Resync,
    /// The REST fetch for the daily tick.
    Tick,
    /// Balances carried by an event frame.
    Event,
    /// Balances returned after the executor's last transfer.
    Execution,
    /// A REST fetch to confirm or refute an implausible jump ([`ConfirmBalances`]).
    Confirm,
}

/// Fresh balances.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct BalancesObserved {
    /// The balances (with the venue `seq` they reflect, when known).
    pub snapshot: PortfolioSnapshot,
    /// When observed.
    pub at: OffsetDateTime,
    /// Where from.
    pub source: SnapshotSource,
}

/// Balances changed at the venue with no event to explain them (an out-of-band deposit,
/// withdrawal or correction, or an event the venue never sent): an alert for the operator.
/// ballast adopts the venue's balances either way.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct BalanceMismatch {
    /// Each service that moved by more than the alert threshold.
    pub changes: Vec<ballast::portfolio::UnexplainedChange>,
    /// The venue `seq` both views were at.
    pub seq: u64,
    /// When noticed.
    pub at: OffsetDateTime,
    /// Which snapshot showed it.
    pub source: SnapshotSource,
}

/// Asks the BalanceWatcher for a fresh REST snapshot to settle a jump the DriftDetector holds
/// (`ballast::policy::plausibility`); it arrives as [`BalancesObserved`] with
/// [`SnapshotSource::Confirm`].
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct ConfirmBalances {
    /// The jump held, for logs.
    pub reason: String,
}

/// The plausibility guard held, confirmed or dropped a jump in what the venue reported; an
/// unconfirmed one is an alert for the operator.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct ImplausibleChange {
    /// What happened to the jump.
    pub notice: ballast::policy::plausibility::PlausibilityNotice,
    /// When.
    pub at: OffsetDateTime,
}

/// A venue event, in `seq` order, each delivered once: the frame as the venue adapter
/// observed it (its balances already a snapshot).
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct VenueEvent {
    /// What the venue reported.
    pub observation: Arc<Observation>,
}

/// The event stream's health.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub enum StreamStatus {
    /// Connected, resuming after `since`.
    Connected {
        /// Resume point.
        since: u64,
        /// Connections opened so far.
        connection: u64,
    },
    /// Disconnected; trading is paused until a resync snapshot arrives.
    Reconnecting {
        /// Why.
        reason: String,
    },
    /// The venue skipped events; a resync snapshot follows.
    Gap {
        /// Last delivered.
        after: u64,
        /// Arrived.
        next: u64,
    },
    /// A frame failed validation and was ignored.
    Malformed {
        /// The decoder's message, naming the field.
        error: String,
    },
    /// An alert: the venue's event numbering changed (a snapshot below the cursor, or a
    /// stream that started over). Trading pauses until a fresh snapshot of the new numbering,
    /// and plans are then named in the new `epoch`.
    Renumbered {
        /// The cursor in the old numbering.
        cursor: u64,
        /// Where the new numbering stands (the snapshot's `seq`, or the first frame's).
        venue_seq: u64,
        /// Numbering resets seen on this stream, this one included.
        epoch: u32,
    },
}

/// Asks the DriftDetector for a rebalance now: the hook for custom triggers.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct RebalanceRequest {
    /// Why, for logs and the store.
    pub reason: String,
}

/// New targets from the Optimizer.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct TargetsUpdated {
    /// The targets.
    pub targets: TargetAllocation,
    /// The method that produced them.
    pub method: OptimizerMethod,
    /// `configured`, or the solve's status, solver, iterations, expected return, volatility
    /// and risk contributions (`Display` prints one line).
    pub diagnostics: TargetDiagnostics,
    /// What prompted them (`start-up`, `daily tick`, a drawdown, a request's reason, ...).
    pub reason: String,
}

/// A solve the Optimizer refused to publish (not finite, out of bounds, not converged, bad
/// history): the previous targets stay.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct TargetsRefused {
    /// The method.
    pub method: OptimizerMethod,
    /// What prompted the solve.
    pub reason: String,
    /// A short stable name of the cause (`out_of_bounds`, `not_converged`, `fetch_failed`, ...).
    pub kind: &'static str,
    /// The cause, naming the service or field.
    pub error: String,
    /// Refusals so far in this run, this one included.
    pub refusals: u64,
}

/// Asks the Optimizer to recompute its targets now, on demand (an operator, a custom actor).
/// Like every trigger it respects `optimizer.min_interval_secs` (a request inside the interval
/// runs at its end); with method `fixed` it republishes the configured targets.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct RecomputeTargets {
    /// Why, for logs and the published update.
    pub reason: String,
}

/// Asks the Optimizer for its counters.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "crate::optimizer::OptimizerStats")]
pub struct GetOptimizerStats;

/// A plan for the SpotExecutor. On the bus it means more: the executor publishes it once
/// the plan and its legs are on disk, as their execution starts.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct RebalancePlanned {
    /// `v{venue}.{trigger}@{attempt}`: the same in every companion reacting to the same
    /// trigger at the same venue.
    pub plan_id: ballast::execution::PlanId,
    /// The decision (trigger, legs, drift report).
    pub decision: Arc<Decision>,
}

/// One leg applied by the venue.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct TradeExecuted {
    /// Plan id.
    pub plan_id: ballast::execution::PlanId,
    /// Idempotency key of the leg.
    pub idempotency_key: ballast::execution::LegKey,
    /// Service.
    pub service: Service,
    /// Direction.
    pub direction: Direction,
    /// Amount moved.
    pub amount_usdc: Decimal,
    /// Venue transfer id (`dry-run` in dry runs).
    pub transfer_id: String,
    /// Whether this was a dry run (nothing sent).
    pub dry_run: bool,
    /// POSTs sent for this leg, all under its one key (0 for a dry run or a leg resolved
    /// by a status query alone); more than one means retries.
    pub attempts: u32,
}

/// One leg that failed.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct TradeFailed {
    /// Plan id.
    pub plan_id: ballast::execution::PlanId,
    /// Idempotency key of the leg.
    pub idempotency_key: ballast::execution::LegKey,
    /// Service.
    pub service: Service,
    /// Direction.
    pub direction: Direction,
    /// Amount.
    pub amount_usdc: Decimal,
    /// Why, naming the endpoint and status.
    pub reason: String,
    /// POSTs sent for this leg (0 when it was skipped).
    pub attempts: u32,
    /// The venue holds another request under this leg's key: another companion made this
    /// plan first. Not applied, and not an error of this companion.
    pub superseded: bool,
}

/// A plan that was not executed: nothing of it was sent.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct PlanDropped {
    /// Plan id.
    pub plan_id: ballast::execution::PlanId,
    /// Trigger of the plan.
    pub trigger: Trigger,
    /// Why.
    pub why: DropReason,
}

/// Why a plan was dropped before any leg was sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DropReason {
    /// The store already holds a plan of this name: its trigger was planned by an earlier
    /// run (events replayed after a restart), so it is not planned again.
    AlreadyPlanned,
    /// The store could not record it (a full disk, a read-only file): nothing is sent
    /// unrecorded.
    NotRecorded {
        /// The store's error.
        error: String,
    },
}

/// An alert: the venue answered a transfer (or a status query) with a reply that does not
/// describe it. The leg stays unresolved (`pending`) and its plan stops.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct ReplyMismatched {
    /// What differs, field by field.
    pub mismatch: ballast::execution::ReplyMismatch,
    /// When noticed.
    pub at: OffsetDateTime,
}

/// The executor finished a plan (every leg applied, failed or skipped).
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct PlanFinished {
    /// Plan id.
    pub plan_id: ballast::execution::PlanId,
    /// Trigger of the plan.
    pub trigger: Trigger,
    /// Legs applied.
    pub applied: usize,
    /// Legs failed or skipped.
    pub failed: usize,
    /// Whether legs were skipped because the event stream went down mid-plan.
    pub interrupted: bool,
    /// USDC moved.
    pub moved_usdc: Decimal,
    /// Balances after the last applied leg, when the venue returned them.
    pub snapshot: Option<PortfolioSnapshot>,
    /// Legs not sent because the shutdown deadline passed: pending, for the next start.
    pub pending_at_stop: usize,
    /// When.
    pub at: OffsetDateTime,
}

/// The DriftDetector's news for the HedgeExecutor: the part of an overweight the venue will
/// not let move now. Sent after a plan that left such a part behind, and whenever the set of
/// services with one changes (an empty `excess` says every lock lifted).
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct HedgeRequest {
    /// The balances (with their locks) the excess was measured on.
    pub snapshot: PortfolioSnapshot,
    /// The targets it was measured against.
    pub targets: TargetAllocation,
    /// Each service whose overweight is partly locked.
    pub excess: Vec<ballast::hedge::LockedExcess>,
    /// Whether a rebalance was just planned on these balances.
    pub planned: bool,
    /// When.
    pub at: OffsetDateTime,
}

/// A perp hedge opened (or, in dry run, would have).
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct HedgeOpened {
    /// `v{venue}.{trigger}.h{service}@{attempt}` (`ballast::hedge::ids`).
    pub hedge_id: String,
    /// The service whose stuck overweight it covers.
    pub service: Service,
    /// The perp market.
    pub market: String,
    /// Notional of the short, USDC.
    pub notional_usdc: Decimal,
    /// Leverage.
    pub leverage: u32,
    /// Perp dollars per dollar of stuck overweight.
    pub ratio: Decimal,
    /// The stuck overweight it covers, USDC.
    pub stuck_usdc: Decimal,
    /// Opening fee, USDC.
    pub fee_usdc: Decimal,
    /// The venue's position id (`None` in dry run).
    pub position_id: Option<String>,
    /// Why, with the ratio's estimate and any cap that bit.
    pub reason: String,
    /// Nothing was sent.
    pub dry_run: bool,
    /// When.
    pub at: OffsetDateTime,
}

/// A perp hedge closed: by ballast (the lock lifted, the drift resolved, a resize) or by
/// the venue.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct HedgeClosed {
    /// `v{venue}.{trigger}.h{service}@{attempt}` (`ballast::hedge::ids`).
    pub hedge_id: String,
    /// The service it covered.
    pub service: Service,
    /// The perp market.
    pub market: String,
    /// Why.
    pub reason: ballast::hedge::CloseReason,
    /// What the hedge cost and earned over its life.
    pub costs: ballast::hedge::HedgeCosts,
    /// Nothing was sent.
    pub dry_run: bool,
    /// When.
    pub at: OffsetDateTime,
}

/// A hedge that did not open (or close), and why: below the threshold, too weak a
/// correlation, not material, the stream down, refused by the venue.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct HedgeSkipped {
    /// The service.
    pub service: Service,
    /// Why, naming the key or figure.
    pub reason: String,
    /// When.
    pub at: OffsetDateTime,
}

/// What the HedgeExecutor found at start-up: hedges resolved from the store, and venue
/// positions no hedge holds (reported, left alone).
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct HedgesReconciled {
    /// Live hedges still open at the venue.
    pub kept: usize,
    /// Hedges whose unknown outcome was resolved (opened, closed or failed).
    pub resolved: usize,
    /// Hedges still of unknown outcome (the venue could not say).
    pub unresolved: usize,
    /// Venue positions no hedge of the store holds, by id: never closed by ballast.
    pub foreign_positions: Vec<String>,
}

/// A plan the risk limits refused whole before anything was sent (its legs are reported
/// failed as well); the limits it broke, by name.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct PlanRefused {
    /// Plan id.
    pub plan_id: ballast::execution::PlanId,
    /// Every limit broken.
    pub refusals: Vec<ballast::risk::RiskRefusal>,
}

/// The operator's control action, accepted and recorded: the detector syncs its hold with the
/// [`ControlSwitch`](crate::control::ControlSwitch) at once (a resume fires the triggers that
/// waited), and observers show it.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct ControlApplied {
    /// Who asked what, when and why, and the mode after it.
    pub record: ballast::control::ControlRecord,
}

/// Something the trigger policy reports besides plans ([`Notice`]): targets adjusted by an
/// event response (drawdown protection, a volatility spike) with the reason, a day closed at
/// the tick (its returns and its observation for the metrics), or a decision whose every leg
/// was below the minimum trade.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct PolicyNoticed {
    /// What the policy reported.
    pub notice: Arc<Notice>,
}

/// A harvest decision the TaxHarvester recorded: a harvest, or a candidate skipped (with
/// the figures of the benefit test, or the wash-sale window that deferred it).
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct HarvestDecided {
    /// The decision and its figures.
    pub decision: Arc<ballast::tax::HarvestDecision>,
    /// The harvest's id (`ballast::tax::ids`) for a harvest.
    pub harvest_id: Option<String>,
    /// Recorded in dry run (nothing sent).
    pub dry_run: bool,
}

/// A harvest the venue executed: the losing lots sold and, when configured, the substitute
/// bought with the proceeds.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct HarvestExecuted {
    /// The harvest's id (`ballast::tax::ids`); its orders' keys are `{harvest_id}:sell` and
    /// `{harvest_id}:buy`.
    pub harvest_id: String,
    /// The asset sold.
    pub asset: String,
    /// Units sold.
    pub quantity: Decimal,
    /// Proceeds, USDC.
    pub proceeds_usdc: Decimal,
    /// Loss realized (basis − proceeds of the lots sold), USDC.
    pub loss_usdc: Decimal,
    /// The substitute bought, if any.
    pub substitute: Option<String>,
    /// Units of it bought.
    pub substitute_quantity: Decimal,
    /// What they cost, USDC.
    pub substitute_cost_usdc: Decimal,
    /// Recorded in dry run (nothing sent).
    pub dry_run: bool,
    /// When (venue time).
    pub at: OffsetDateTime,
}

/// A wallet buy the wash-sale guard refused, whichever buy path asked.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct WashSaleBuyPrevented {
    /// The asset and the window that forbids buying it.
    pub block: ballast::tax::WashBlock,
    /// Who asked (the reason the order carried).
    pub reason: String,
}

/// A buy outside ballast's control fell inside a wash-sale window: the disallowed loss moved
/// into the replacement lot's basis and its holding period carried over.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct WashSaleRecorded {
    /// The asset.
    pub asset: String,
    /// Each loss matched with its replacement.
    pub matches: Vec<ballast::tax::wash::WashMatch>,
}

/// An alert for the operator. The Notifier records every one in the store and delivers those
/// at or above `notify.min_severity` (webhook, command); the MetricsRecorder prints it. Any
/// actor may send one to the bus ([`crate::system::Handles::bus`]); the Notifier itself raises
/// balance mismatches, repeated leg failures, a stream down too long and refused targets from
/// the events it sees, and the SpotExecutor raises plans refused by a risk limit.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct Alert {
    /// What it is about (always `details.kind()`).
    pub kind: AlertKind,
    /// How urgent (the kind's).
    pub severity: Severity,
    /// One line for humans.
    pub message: String,
    /// When (the companion's clock).
    pub at: OffsetDateTime,
    /// The kind's fields.
    pub details: AlertDetails,
}

impl Alert {
    /// An alert of `details`' kind and that kind's severity.
    pub fn new(details: AlertDetails, message: impl Into<String>, at: OffsetDateTime) -> Self {
        let kind = details.kind();
        Self {
            kind,
            severity: kind.severity(),
            message: message.into(),
            at,
            details,
        }
    }
}

/// Defines [`Event`] with one variant per message and a `From` for each, from one list, so
/// a message added to the stream cannot miss its conversion.
macro_rules! events {
    ($($variant:ident($message:ident)),* $(,)?) => {
        /// Every message, for subscribers of the whole stream.
        #[derive(Debug, Clone, Message)]
        #[rtype(result = "()")]
        pub enum Event {
            $(
                #[doc = concat!("See [`", stringify!($message), "`].")]
                $variant($message),
            )*
        }

        $(impl From<$message> for Event {
            fn from(message: $message) -> Self {
                Event::$variant(message)
            }
        })*
    };
}

events!(
    Tick(Tick),
    Balances(BalancesObserved),
    Mismatch(BalanceMismatch),
    Venue(VenueEvent),
    Stream(StreamStatus),
    Targets(TargetsUpdated),
    TargetsRefused(TargetsRefused),
    Planned(RebalancePlanned),
    Executed(TradeExecuted),
    Failed(TradeFailed),
    Finished(PlanFinished),
    Dropped(PlanDropped),
    ReplyAlert(ReplyMismatched),
    HedgeOpened(HedgeOpened),
    HedgeClosed(HedgeClosed),
    HedgeSkipped(HedgeSkipped),
    HedgesReconciled(HedgesReconciled),
    Refused(PlanRefused),
    Control(ControlApplied),
    Noticed(PolicyNoticed),
    Implausible(ImplausibleChange),
    HarvestDecided(HarvestDecided),
    Harvested(HarvestExecuted),
    WashBuyPrevented(WashSaleBuyPrevented),
    WashSale(WashSaleRecorded),
    Alert(Alert),
);

/// Asks the MetricsRecorder for its running summary.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "crate::metrics::Summary")]
pub struct GetSummary;

/// Asks the MetricsRecorder to store the latest balances it has seen (at a clean stop, so
/// `ballast status` shows the last known balances).
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "()")]
pub struct RecordLatest;

/// Asks the Notifier for its counters.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "crate::notify::NotifierStats")]
pub struct GetNotifierStats;

/// Asks the StatusBoard (the HTTP API's view of the run) for its snapshot.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "crate::http::board::Board")]
pub struct GetBoard;
