//! The DriftDetector: turns observations into plans via the pure trigger policy.
//!
//! The actor only translates messages into [`PolicyInput`]s, feeds
//! [`PolicyState::process`], and sends any resulting plan to the SpotExecutor; every
//! decision lives in `ballast::policy`. With hedging on it also sends the HedgeExecutor a
//! [`HedgeRequest`] when a plan leaves a locked overweight behind or the set of such
//! services changes (`ballast::hedge::request_due`).
//!
//! # Invariants
//! - Plans go to the executor only from here, at most one in flight (the policy's rule).
//! - Plan ids are `{run_id}:{plan_seq}`; with the leg index they form idempotency keys that
//!   are unique across runs because run ids are.

use std::sync::Arc;

use actix::{Actor, Context, Handler, Recipient};
use ballast::{
    hedge::{locked_excess, request_due, services_of},
    policy::{PolicyInput, PolicyState},
    service::Service,
};
use tracing::{info, warn};

use crate::{
    clock::TimeSource,
    gate::TradingGate,
    messages::{
        BalancesObserved, Event, HedgeRequest, PlanFinished, RebalancePlanned, RebalanceRequest,
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
    /// The HedgeExecutor, when hedging is on.
    hedger: Option<Recipient<HedgeRequest>>,
    /// The services with a locked overweight it was last told about.
    hedger_told: Vec<Service>,
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
            hedger: None,
            hedger_told: Vec::new(),
        }
    }

    /// Tells `hedger` about overweights a plan cannot move because the venue locked them.
    #[must_use]
    pub fn with_hedger(mut self, hedger: Recipient<HedgeRequest>) -> Self {
        self.hedger = Some(hedger);
        self
    }

    fn feed(&mut self, input: PolicyInput) {
        let decision = self.policy.process(input);
        self.tell_hedger(decision.is_some());
        let Some(decision) = decision else {
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

impl DriftDetector {
    /// Sends the hedger the locked part of any overweight, when the core's rule says it is
    /// news (after a plan, or when the set of such services changed).
    fn tell_hedger(&mut self, planned: bool) {
        let (Some(hedger), Some(snapshot)) = (&self.hedger, self.policy.latest()) else {
            return;
        };
        let excess = locked_excess(snapshot, &self.policy.targets);
        if !request_due(&self.hedger_told, &excess, planned) {
            return;
        }
        self.hedger_told = services_of(&excess);
        let request = HedgeRequest {
            snapshot: snapshot.clone(),
            targets: self.policy.targets.clone(),
            excess,
            planned,
            at: self.time.now(),
        };
        if let Err(error) = hedger.try_send(request) {
            // Remember a set no snapshot can have (the reserve is never overweight in this
            // sense), so the next input tells it again.
            warn!(%error, "hedger unavailable; hedge request dropped");
            self.hedger_told = vec![Service::Reserve];
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
