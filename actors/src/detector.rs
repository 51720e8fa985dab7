//! The DriftDetector: turns observations into plans via the pure trigger policy.
//!
//! The actor only translates messages into [`PolicyInput`]s, feeds
//! [`PolicyState::process`], names each resulting plan with [`PlanNamer`] and sends it to
//! the SpotExecutor; every decision lives in `ballast::policy` and `ballast::execution`.
//!
//! # Invariants
//! - Plans go to the executor only from here, at most one in flight (the policy's rule).
//! - Plans are named after their trigger (`v{venue}.{trigger}@{attempt}`), so two companions reacting
//!   to the same trigger send the same idempotency keys; the namer follows the venue's event
//!   numbering (its epoch changes on [`StreamStatus::Renumbered`]).
//! - After [`StopPlanning`] (a shutdown), no plan leaves: the one in flight finishes.

use std::sync::Arc;

use actix::{Actor, Context, Handler, Message, Recipient};
use ballast::{
    execution::{PlanNamer, VenueTag},
    policy::{PolicyInput, PolicyState},
};
use tracing::{info, warn};

use crate::{
    clock::TimeSource,
    gate::TradingGate,
    messages::{
        BalancesObserved, PlanFinished, RebalancePlanned, RebalanceRequest, SnapshotSource,
        StreamStatus, TargetsUpdated, VenueEvent,
    },
};

/// Mailbox capacity: events arrive with backpressure from the watcher.
pub const DETECTOR_MAILBOX_CAPACITY: usize = 256;

/// Stops planning (a shutdown): later triggers are dropped, the plan in flight finishes.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "()")]
pub struct StopPlanning;

/// The detector.
#[derive(Debug)]
pub struct DriftDetector {
    policy: PolicyState,
    namer: PlanNamer,
    stopping: bool,
    time: TimeSource,
    gate: TradingGate,
    executor: Recipient<RebalancePlanned>,
}

impl DriftDetector {
    /// A detector naming plans after `venue`'s triggers in numbering `epoch` (from the
    /// store), sending them to `executor`.
    pub fn new(
        policy: PolicyState,
        venue: VenueTag,
        epoch: u32,
        time: TimeSource,
        gate: TradingGate,
        executor: Recipient<RebalancePlanned>,
    ) -> Self {
        Self {
            policy,
            namer: PlanNamer::new(venue, epoch),
            stopping: false,
            time,
            gate,
            executor,
        }
    }

    fn feed(&mut self, input: PolicyInput) {
        let Some(decision) = self.policy.process(input) else {
            return;
        };
        if self.stopping {
            info!(
                trigger = decision.trigger.name(),
                "shutting down; not planned"
            );
            return;
        }
        let plan_id = self.namer.name(&decision.trigger, decision.at);
        info!(
            %plan_id,
            trigger = decision.trigger.name(),
            legs = decision.plan.legs.len(),
            moved_usdc = %decision.plan.moved_usdc(),
            "rebalance planned"
        );
        let planned = RebalancePlanned {
            plan_id,
            decision: Arc::new(decision),
        };
        // The bus hears of the plan from the executor, once it is on disk.
        if let Err(error) = self.executor.try_send(planned) {
            // Only possible if the executor died: release the in-flight slot so the policy
            // does not wait forever, and let the next trigger retry.
            warn!(%error, "executor unavailable; plan dropped");
            self.policy.process(PolicyInput::PlanFinished {
                snapshot: None,
                at: self.time.now(),
                moved: false,
                interrupted: false,
            });
        }
    }
}

impl Actor for DriftDetector {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(DETECTOR_MAILBOX_CAPACITY);
    }
}

impl Handler<BalancesObserved> for DriftDetector {
    type Result = ();

    fn handle(&mut self, message: BalancesObserved, _ctx: &mut Self::Context) {
        self.feed(PolicyInput::Snapshot {
            snapshot: message.snapshot,
            at: message.at,
            resync: message.source == SnapshotSource::Resync,
            tick: message.source == SnapshotSource::Tick,
        });
    }
}

impl Handler<VenueEvent> for DriftDetector {
    type Result = ();

    fn handle(&mut self, message: VenueEvent, _ctx: &mut Self::Context) {
        self.namer.saw_event(message.observation.seq);
        self.feed(PolicyInput::Event(message.observation));
    }
}

impl Handler<StreamStatus> for DriftDetector {
    type Result = ();

    fn handle(&mut self, message: StreamStatus, _ctx: &mut Self::Context) {
        match message {
            StreamStatus::Reconnecting { .. } | StreamStatus::Gap { .. } => {
                self.feed(PolicyInput::StreamDown);
            }
            StreamStatus::Renumbered { epoch, .. } => {
                self.namer.renumbered(epoch);
                self.feed(PolicyInput::Renumbered);
            }
            StreamStatus::Connected { .. } | StreamStatus::Malformed { .. } => {}
        }
    }
}

impl Handler<StopPlanning> for DriftDetector {
    type Result = ();

    fn handle(&mut self, _message: StopPlanning, _ctx: &mut Self::Context) {
        self.stopping = true;
    }
}

impl Handler<RebalanceRequest> for DriftDetector {
    type Result = ();

    fn handle(&mut self, message: RebalanceRequest, _ctx: &mut Self::Context) {
        info!(reason = %message.reason, "rebalance requested");
        self.feed(PolicyInput::Request {
            reason: message.reason,
            at: self.time.now(),
        });
    }
}

impl Handler<TargetsUpdated> for DriftDetector {
    type Result = ();

    fn handle(&mut self, message: TargetsUpdated, _ctx: &mut Self::Context) {
        self.feed(PolicyInput::Targets(message.targets));
    }
}

impl Handler<PlanFinished> for DriftDetector {
    type Result = ();

    fn handle(&mut self, message: PlanFinished, _ctx: &mut Self::Context) {
        if message.interrupted && !self.gate.is_open() {
            // The watcher's stream-down status may still be queued behind this message;
            // the gate already knows. The interrupted plan resumes after the resync.
            self.feed(PolicyInput::StreamDown);
        }
        self.feed(PolicyInput::PlanFinished {
            snapshot: message.snapshot,
            at: message.at,
            moved: message.applied > 0,
            interrupted: message.interrupted,
        });
    }
}
