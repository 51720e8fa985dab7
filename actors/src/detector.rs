//! The DriftDetector: turns observations into plans via the pure trigger policy.
//!
//! The actor only translates messages into [`PolicyInput`]s, feeds
//! [`PolicyState::process`], and sends any resulting plan to the SpotExecutor; every
//! decision lives in `ballast::policy`.
//!
//! # Invariants
//! - Plans go to the executor only from here, at most one in flight (the policy's rule).
//! - No plan is made while the operator's [`ControlSwitch`] is paused or halted: before each
//!   input the policy's hold is synced with the switch, so a trigger waits (as while stale)
//!   and fires on resume. The switch is read directly, never queued behind events.
//! - Plan ids are `{run_id}:{plan_seq}`; with the leg index they form idempotency keys that
//!   are unique across runs because run ids are.

use std::sync::Arc;

use actix::{Actor, Context, Handler, Recipient};
use ballast::policy::{PolicyInput, PolicyState};
use tracing::{info, warn};

use crate::{
    clock::TimeSource,
    control::ControlSwitch,
    gate::TradingGate,
    messages::{
        BalancesObserved, ControlApplied, Event, PlanFinished, RebalancePlanned, RebalanceRequest,
        SnapshotSource, StreamStatus, TargetsUpdated, VenueEvent,
    },
};

/// Mailbox capacity: events arrive with backpressure from the watcher.
pub const DETECTOR_MAILBOX_CAPACITY: usize = 256;

/// The detector.
#[derive(Debug)]
pub struct DriftDetector {
    policy: PolicyState,
    run_id: String,
    time: TimeSource,
    gate: TradingGate,
    executor: Recipient<RebalancePlanned>,
    bus: Recipient<Event>,
    control: ControlSwitch,
    /// The hold the policy was last told of.
    held: bool,
}

impl DriftDetector {
    /// A detector for `run_id`, sending plans to `executor`.
    pub fn new(
        policy: PolicyState,
        run_id: String,
        time: TimeSource,
        gate: TradingGate,
        executor: Recipient<RebalancePlanned>,
        bus: Recipient<Event>,
    ) -> Self {
        Self {
            policy,
            run_id,
            time,
            gate,
            executor,
            bus,
            control: ControlSwitch::default(),
            held: false,
        }
    }

    /// Obeys the operator's `control` switch (the default switch always runs).
    #[must_use]
    pub fn with_control(mut self, control: ControlSwitch) -> Self {
        self.control = control;
        self
    }

    /// Tells the policy of a pause, halt or resume it has not heard of yet.
    fn sync_hold(&mut self) {
        let held = self.control.holds_plans();
        if held != self.held {
            self.held = held;
            info!(held, mode = %self.control.mode(), "operator hold synced");
            let at = self.time.now();
            self.dispatch(PolicyInput::Hold { held, at });
        }
    }

    fn feed(&mut self, input: PolicyInput) {
        self.sync_hold();
        self.dispatch(input);
    }

    fn dispatch(&mut self, input: PolicyInput) {
        let Some(decision) = self.policy.process(input) else {
            return;
        };
        let plan_id = ballast::execution::PlanId::new(self.run_id.clone(), decision.plan_seq);
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
        let _ = self.bus.try_send(planned.clone().into());
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
        self.feed(PolicyInput::Event(message.observation));
    }
}

impl Handler<StreamStatus> for DriftDetector {
    type Result = ();

    fn handle(&mut self, message: StreamStatus, _ctx: &mut Self::Context) {
        if matches!(
            message,
            StreamStatus::Reconnecting { .. } | StreamStatus::Gap { .. }
        ) {
            self.feed(PolicyInput::StreamDown);
        }
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

impl Handler<ControlApplied> for DriftDetector {
    type Result = ();

    fn handle(&mut self, _message: ControlApplied, _ctx: &mut Self::Context) {
        // The switch already holds the mode; this only makes a resume act at once.
        self.sync_hold();
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
