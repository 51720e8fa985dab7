//! The DriftDetector: turns observations into plans via the pure trigger policy.
//!
//! The actor only translates messages into [`PolicyInput`]s, feeds
//! [`PolicyState::process`], and sends any resulting plan to the SpotExecutor; every
//! decision lives in `ballast::policy`.
//!
//! # Invariants
//! - Plans go to the executor only from here, at most one in flight (the policy's rule).
//! - A jump the policy holds (`ballast::policy::plausibility`) is sent to the watcher as a
//!   [`ConfirmBalances`] request, and its fresh snapshot comes back as a confirmation; every
//!   notice is published as an [`ImplausibleChange`].
//! - Plan ids are `{run_id}:{plan_seq}`; with the leg index they form idempotency keys that
//!   are unique across runs because run ids are.

use std::sync::Arc;

use actix::{Actor, Context, Handler, Recipient};
use ballast::policy::plausibility::PlausibilityNotice;
use ballast::policy::{PolicyInput, PolicyState};
use tracing::{info, warn};

use crate::{
    clock::TimeSource,
    gate::TradingGate,
    messages::{
        BalancesObserved, ConfirmBalances, Event, ImplausibleChange, PlanFinished,
        RebalancePlanned, RebalanceRequest, SnapshotSource, StreamStatus, TargetsUpdated,
        VenueEvent,
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
    /// Where fresh snapshots are asked for when a jump is held (the watcher).
    confirmer: Option<Recipient<ConfirmBalances>>,
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
            confirmer: None,
        }
    }

    /// Asks `confirmer` for a fresh REST snapshot whenever the policy holds a jump.
    #[must_use]
    pub fn confirm_with(mut self, confirmer: Recipient<ConfirmBalances>) -> Self {
        self.confirmer = Some(confirmer);
        self
    }

    /// Publishes the policy's plausibility notices, asking for a snapshot on each hold.
    fn relay_plausibility(&mut self) {
        for notice in self.policy.take_plausibility_notices() {
            let text = notice.describe();
            match &notice {
                PlausibilityNotice::Held { .. } => {
                    warn!(%text, "implausible change held");
                    let asked = self.confirmer.as_ref().map(|confirmer| {
                        confirmer.try_send(ConfirmBalances {
                            reason: text.clone(),
                        })
                    });
                    if !matches!(asked, Some(Ok(()))) {
                        // The next tick or resync snapshot settles the hold instead.
                        warn!(
                            "no confirming snapshot requested; waiting for the next REST snapshot"
                        );
                    }
                }
                PlausibilityNotice::Confirmed { .. } => {
                    info!(%text, "implausible change confirmed")
                }
                PlausibilityNotice::Unconfirmed { .. } => {
                    warn!(%text, "implausible change not confirmed; trigger dropped");
                }
            }
            let _ = self.bus.try_send(
                ImplausibleChange {
                    notice,
                    at: self.time.now(),
                }
                .into(),
            );
        }
    }

    fn feed(&mut self, input: PolicyInput) {
        let decision = self.policy.process(input);
        self.relay_plausibility();
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

impl Actor for DriftDetector {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(DETECTOR_MAILBOX_CAPACITY);
    }
}

impl Handler<BalancesObserved> for DriftDetector {
    type Result = ();

    fn handle(&mut self, message: BalancesObserved, _ctx: &mut Self::Context) {
        if message.source == SnapshotSource::Confirm {
            self.feed(PolicyInput::Confirmation {
                snapshot: message.snapshot,
                at: message.at,
            });
            return;
        }
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
