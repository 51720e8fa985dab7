//! The DriftDetector: turns observations into plans via the pure trigger policy.
//!
//! The actor only translates messages into [`PolicyInput`]s, feeds
//! [`PolicyState::process`], names each resulting plan with [`PlanNamer`], sends it to the
//! SpotExecutor and publishes the policy's notices (targets adjusted, days closed, decisions
//! with nothing to trade) on the bus; every decision lives in `ballast::policy` and
//! `ballast::execution`. With a [`Recording`] it also writes each input and each decision as
//! JSON lines (`ballast run --record-events FILE`), which `ballast backtest --events FILE`
//! replays through the same policy. With hedging on it also sends the HedgeExecutor a
//! [`HedgeRequest`] when a plan leaves a locked overweight behind or the set of such services
//! changes (`ballast::hedge::request_due`).
//!
//! # Invariants
//! - Plans go to the executor only from here, at most one in flight (the policy's rule).
//! - No plan is made while the operator's [`ControlSwitch`] is paused or halted: before each
//!   input the policy's hold is synced with the switch, so a trigger waits (as while stale)
//!   and fires on resume. The switch is read directly, never queued behind events.
//! - A jump the policy holds (`ballast::policy::plausibility`) is sent to the watcher as a
//!   [`ConfirmBalances`] request, and its fresh snapshot comes back as a confirmation; every
//!   notice is published as an [`ImplausibleChange`].
//! - Plans are named here, in one place, after their trigger (`v{venue}.{trigger}@{attempt}`,
//!   [`PlanNamer`]), so two companions reacting to the same trigger send the same idempotency
//!   keys; the namer follows the venue's event numbering (its epoch changes on
//!   [`StreamStatus::Renumbered`]).
//! - After [`StopPlanning`] (a shutdown), no plan leaves: the one in flight finishes.
//! - Every input the policy takes passes through [`DriftDetector::process`], so a recording
//!   holds all of them, in order, each line flushed as written.

use std::{
    fs::File,
    io::{LineWriter, Write as _},
    path::{Path, PathBuf},
    sync::Arc,
};

use actix::{Actor, Context, Handler, Message, Recipient};
use anyhow::Context as _;
use ballast::{
    execution::PlanNamer,
    hedge::{locked_excess, request_due, services_of},
    policy::{
        Decision, PolicyConfig, PolicyInput, PolicyState,
        plausibility::PlausibilityNotice,
        replay::{RecordedLine, decision_line},
    },
    service::Service,
    targets::TargetAllocation,
};
use tracing::{info, warn};

use crate::{
    clock::TimeSource,
    control::ControlSwitch,
    gate::TradingGate,
    messages::{
        BalancesObserved, ConfirmBalances, ControlApplied, Event, HedgeRequest, ImplausibleChange,
        PlanFinished, PolicyNoticed, RebalancePlanned, RebalanceRequest, SnapshotSource,
        StreamStatus, TargetsUpdated, VenueEvent,
    },
};

/// A recording of the policy's inputs and decisions, one JSON line each
/// (`ballast::policy::replay` defines the lines).
#[derive(Debug)]
pub struct Recording {
    path: PathBuf,
    out: Option<LineWriter<File>>,
}

impl Recording {
    /// Creates (truncating) `path` and writes the `start` line.
    ///
    /// # Errors
    /// When the file cannot be created or written, naming it.
    pub fn create(
        path: &Path,
        policy: &PolicyConfig,
        targets: &TargetAllocation,
        max_jump_factor: Option<rust_decimal::Decimal>,
    ) -> anyhow::Result<Self> {
        let file = File::create(path)
            .with_context(|| format!("--record-events {}: cannot create", path.display()))?;
        let mut recording = Recording {
            path: path.to_owned(),
            out: Some(LineWriter::new(file)),
        };
        let start = RecordedLine::start(policy, targets, max_jump_factor).to_line()?;
        recording.write(&start);
        if recording.out.is_none() {
            anyhow::bail!("--record-events {}: cannot write", path.display());
        }
        Ok(recording)
    }

    /// Writes one line; after a failure the recording stops (with one warning), the run
    /// goes on.
    fn write(&mut self, line: &str) {
        if let Some(out) = &mut self.out
            && let Err(error) = writeln!(out, "{line}")
        {
            warn!(%error, path = %self.path.display(), "recording stopped");
            self.out = None;
        }
    }

    fn line(&mut self, line: Result<String, serde_json::Error>) {
        match line {
            Ok(line) => self.write(&line),
            Err(error) => warn!(%error, "a recording line could not be encoded"),
        }
    }
}

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
    bus: Recipient<Event>,
    control: ControlSwitch,
    /// The hold the policy was last told of.
    held: bool,
    recording: Option<Recording>,
    /// Where fresh snapshots are asked for when a jump is held (the watcher).
    confirmer: Option<Recipient<ConfirmBalances>>,
    /// The HedgeExecutor, when hedging is on.
    hedger: Option<Recipient<HedgeRequest>>,
    /// The services with a locked overweight it was last told about.
    hedger_told: Vec<Service>,
}

impl DriftDetector {
    /// A detector naming plans with `namer` (the venue's, resuming from the stored cursor),
    /// sending them to `executor` and its notices to `bus`.
    pub fn new(
        policy: PolicyState,
        namer: PlanNamer,
        time: TimeSource,
        gate: TradingGate,
        executor: Recipient<RebalancePlanned>,
        bus: Recipient<Event>,
    ) -> Self {
        Self {
            policy,
            namer,
            stopping: false,
            time,
            gate,
            executor,
            bus,
            control: ControlSwitch::default(),
            held: false,
            recording: None,
            confirmer: None,
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

    /// Sends the hedger the locked part of any overweight, when the core's rule says it is
    /// news (after a plan, or when the set of such services changed).
    fn tell_hedger(&mut self, planned: bool) {
        let (Some(hedger), Some(snapshot)) = (&self.hedger, self.policy.latest()) else {
            return;
        };
        let targets = self.policy.targets_in_force();
        let excess = locked_excess(snapshot, targets);
        if !request_due(&self.hedger_told, &excess, planned) {
            return;
        }
        self.hedger_told = services_of(&excess);
        let request = HedgeRequest {
            snapshot: snapshot.clone(),
            targets: targets.clone(),
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

    /// Records every input and decision to `recording`.
    #[must_use]
    pub fn record_to(mut self, recording: Recording) -> Self {
        self.recording = Some(recording);
        self
    }

    /// The one way into the policy: records the input, processes it, publishes the notices,
    /// records the decision.
    fn process(&mut self, input: PolicyInput) -> Option<Decision> {
        if let Some(recording) = &mut self.recording {
            recording.line(RecordedLine::input(&input).to_line());
        }
        let decision = self.policy.process(input);
        for notice in self.policy.take_notices() {
            let _ = self.bus.try_send(
                PolicyNoticed {
                    notice: Arc::new(notice),
                }
                .into(),
            );
        }
        if let (Some(recording), Some(decision)) = (&mut self.recording, &decision) {
            recording.line(decision_line(decision));
        }
        decision
    }

    fn feed(&mut self, input: PolicyInput) {
        self.sync_hold();
        self.dispatch(input);
    }

    fn dispatch(&mut self, input: PolicyInput) {
        let decision = self.process(input);
        self.relay_plausibility();
        self.tell_hedger(decision.is_some());
        let Some(decision) = decision else {
            return;
        };
        if self.stopping {
            info!(
                trigger = decision.trigger.name(),
                "shutting down; not planned"
            );
            return;
        }
        let plan_id = self.namer.name(&decision.trigger);
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
            self.process(PolicyInput::PlanFinished {
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

/// A message the detector hands to the policy, and what the policy sees of it: the one
/// handler below feeds each input in turn.
trait PolicyMessage: Message<Result = ()> {
    fn inputs(self, detector: &mut DriftDetector) -> Vec<PolicyInput>;
}

impl<M: PolicyMessage> Handler<M> for DriftDetector {
    type Result = ();

    fn handle(&mut self, message: M, _ctx: &mut Self::Context) {
        for input in message.inputs(self) {
            self.feed(input);
        }
    }
}

impl Handler<StopPlanning> for DriftDetector {
    type Result = ();

    fn handle(&mut self, _message: StopPlanning, _ctx: &mut Self::Context) {
        self.stopping = true;
    }
}

impl PolicyMessage for BalancesObserved {
    fn inputs(self, _detector: &mut DriftDetector) -> Vec<PolicyInput> {
        if self.source == SnapshotSource::Confirm {
            // The fresh snapshot a held jump asked for.
            return vec![PolicyInput::Confirmation {
                snapshot: self.snapshot,
                at: self.at,
            }];
        }
        vec![PolicyInput::Snapshot {
            snapshot: self.snapshot,
            at: self.at,
            resync: self.source == SnapshotSource::Resync,
            tick: self.source == SnapshotSource::Tick,
        }]
    }
}

impl Handler<ControlApplied> for DriftDetector {
    type Result = ();

    fn handle(&mut self, _message: ControlApplied, _ctx: &mut Self::Context) {
        // The switch already holds the mode; this only makes a resume act at once.
        self.sync_hold();
    }
}

impl PolicyMessage for VenueEvent {
    fn inputs(self, detector: &mut DriftDetector) -> Vec<PolicyInput> {
        detector.namer.saw_event(self.observation.seq);
        vec![PolicyInput::Event(self.observation)]
    }
}

impl PolicyMessage for StreamStatus {
    fn inputs(self, detector: &mut DriftDetector) -> Vec<PolicyInput> {
        match self {
            StreamStatus::Reconnecting { .. } | StreamStatus::Gap { .. } => {
                vec![PolicyInput::StreamDown]
            }
            StreamStatus::Renumbered { epoch, .. } => {
                detector.namer.renumbered(epoch);
                vec![PolicyInput::Renumbered]
            }
            StreamStatus::Connected { .. } | StreamStatus::Malformed { .. } => Vec::new(),
        }
    }
}

impl PolicyMessage for RebalanceRequest {
    fn inputs(self, detector: &mut DriftDetector) -> Vec<PolicyInput> {
        info!(reason = %self.reason, "rebalance requested");
        vec![PolicyInput::Request {
            reason: self.reason,
            at: detector.time.now(),
        }]
    }
}

impl PolicyMessage for TargetsUpdated {
    fn inputs(self, _detector: &mut DriftDetector) -> Vec<PolicyInput> {
        vec![PolicyInput::Targets(self.targets)]
    }
}

impl PolicyMessage for PlanFinished {
    fn inputs(self, detector: &mut DriftDetector) -> Vec<PolicyInput> {
        let finished = PolicyInput::PlanFinished {
            snapshot: self.snapshot,
            at: self.at,
            moved: self.applied > 0,
            interrupted: self.interrupted,
        };
        if self.interrupted && !detector.gate.is_open() {
            // The watcher's stream-down status may still be queued behind this message;
            // the gate already knows. The interrupted plan resumes after the resync.
            vec![PolicyInput::StreamDown, finished]
        } else {
            vec![finished]
        }
    }
}
