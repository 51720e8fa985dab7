//! The DriftDetector: turns observations into plans via the pure trigger policy.
//!
//! The actor only translates messages into [`PolicyInput`]s, feeds
//! [`PolicyState::process`], sends any resulting plan to the SpotExecutor and publishes the
//! policy's notices (targets adjusted, days closed, decisions with nothing to trade) on the
//! bus; every decision lives in `ballast::policy`. With a [`Recording`] it also writes each
//! input and each decision as JSON lines (`ballast run --record-events FILE`), which
//! `ballast backtest --events FILE` replays through the same policy.
//!
//! # Invariants
//! - Plans go to the executor only from here, at most one in flight (the policy's rule).
//! - Plan ids are `{run_id}:{plan_seq}`; with the leg index they form idempotency keys that
//!   are unique across runs because run ids are.
//! - Every input the policy takes passes through [`DriftDetector::process`], so a recording
//!   holds all of them, in order, each line flushed as written.

use std::{
    fs::File,
    io::{LineWriter, Write as _},
    path::{Path, PathBuf},
    sync::Arc,
};

use actix::{Actor, Context, Handler, Recipient};
use anyhow::Context as _;
use ballast::{
    policy::{
        Decision, PolicyConfig, PolicyInput, PolicyState,
        replay::{RecordedLine, decision_line},
    },
    targets::TargetAllocation,
};
use tracing::{info, warn};

use crate::{
    clock::TimeSource,
    gate::TradingGate,
    messages::{
        BalancesObserved, Event, PlanFinished, PolicyNoticed, RebalancePlanned, RebalanceRequest,
        SnapshotSource, StreamStatus, TargetsUpdated, VenueEvent,
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
    ) -> anyhow::Result<Self> {
        let file = File::create(path)
            .with_context(|| format!("--record-events {}: cannot create", path.display()))?;
        let mut recording = Recording {
            path: path.to_owned(),
            out: Some(LineWriter::new(file)),
        };
        let start = RecordedLine::start(policy, targets).to_line()?;
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

/// The detector.
#[derive(Debug)]
pub struct DriftDetector {
    policy: PolicyState,
    run_id: String,
    time: TimeSource,
    gate: TradingGate,
    executor: Recipient<RebalancePlanned>,
    bus: Recipient<Event>,
    recording: Option<Recording>,
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
            recording: None,
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
        let Some(decision) = self.process(input) else {
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
