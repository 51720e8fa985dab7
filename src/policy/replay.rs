//! Recording and replaying what the live policy saw, so a run's decisions can be reproduced
//! and checked byte for byte (`ballast run --record-events FILE`, then
//! `ballast backtest --events FILE`).
//!
//! # The file
//! JSON lines, one [`RecordedLine`] each, written by the DriftDetector as it works:
//! - first a `start` line: the policy settings and the base targets the run began with;
//! - then every input the policy took, in order: `snapshot` (REST balances; `resync` and
//!   `tick` say which), `event` (a venue event as observed: its `seq`, time, balances and
//!   what happened, tagged by the venue's event `type`), `request`, `targets`,
//!   `stream_down`, `renumbered` (the venue's event numbering started over), `hold` (the
//!   operator paused, halted or resumed), `confirmation` (a fresh snapshot settling a held
//!   jump), `plan_finished`;
//! - after an input that produced a plan, a `decision` line holding the decision exactly as
//!   serialized live (`{"kind":"decision","decision":` + the decision's JSON + `}`).
//!
//! [`replay`] feeds the inputs to a fresh [`PolicyState`] built from the `start` line and
//! compares each decision it makes with the recorded one, as text.
//!
//! # Invariants
//! - Pure: text in, a report out (the CLI reads the file, the detector writes it).
//! - A replay of an unmodified recording reproduces every recorded decision byte for byte:
//!   the policy reads no clock and no randomness, only its inputs.
//! - A malformed line is an error naming its line number, never skipped.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{Decision, Notice, PolicyConfig, PolicyInput, PolicyState};
use crate::{observation::Observation, portfolio::PortfolioSnapshot, targets::TargetAllocation};

/// The recording format's version (the `start` line's `version`).
pub const FORMAT_VERSION: u32 = 1;

/// What a `decision` line starts with; the decision's JSON follows, then `}`.
pub const DECISION_PREFIX: &str = r#"{"kind":"decision","decision":"#;

/// One line of a recording (see the module docs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RecordedLine {
    /// The first line.
    Start {
        /// [`FORMAT_VERSION`].
        version: u32,
        /// The policy settings.
        policy: PolicyConfig,
        /// The base targets at the start.
        targets: TargetAllocation,
        /// The plausibility guard's jump factor (`risk.max_jump_factor`), when on: a held jump
        /// changes what the policy decides, so a replay must hold the same ones.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_jump_factor: Option<rust_decimal::Decimal>,
    },
    /// REST balances.
    Snapshot {
        /// The balances.
        snapshot: PortfolioSnapshot,
        /// When observed.
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
        /// A resync snapshot.
        resync: bool,
        /// The tick's snapshot.
        tick: bool,
    },
    /// A venue event.
    Event {
        /// The event as observed.
        observation: Observation,
    },
    /// A rebalance request.
    Request {
        /// Why.
        reason: String,
        /// When.
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
    },
    /// New base targets.
    Targets {
        /// The targets.
        targets: TargetAllocation,
    },
    /// The stream dropped.
    StreamDown,
    /// The venue renumbered its events (the held balances' `seq` is of the old numbering).
    Renumbered,
    /// The operator paused or halted trading (`held`), or resumed it.
    Hold {
        /// Whether plans wait.
        held: bool,
        /// When.
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
    },
    /// A fresh REST snapshot fetched to settle a held jump.
    Confirmation {
        /// The balances.
        snapshot: PortfolioSnapshot,
        /// When observed.
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
    },
    /// The plan in flight finished.
    PlanFinished {
        /// Balances after it.
        snapshot: Option<PortfolioSnapshot>,
        /// When.
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
        /// Whether a leg moved money.
        moved: bool,
        /// Stopped by the stream going down.
        interrupted: bool,
    },
}

impl RecordedLine {
    /// The `start` line.
    pub fn start(
        policy: &PolicyConfig,
        targets: &TargetAllocation,
        max_jump_factor: Option<rust_decimal::Decimal>,
    ) -> Self {
        RecordedLine::Start {
            version: FORMAT_VERSION,
            policy: policy.clone(),
            targets: targets.clone(),
            max_jump_factor,
        }
    }

    /// The line of an input.
    pub fn input(input: &PolicyInput) -> Self {
        match input {
            PolicyInput::Snapshot {
                snapshot,
                at,
                resync,
                tick,
            } => RecordedLine::Snapshot {
                snapshot: snapshot.clone(),
                at: *at,
                resync: *resync,
                tick: *tick,
            },
            PolicyInput::Event(observation) => RecordedLine::Event {
                observation: (**observation).clone(),
            },
            PolicyInput::Request { reason, at } => RecordedLine::Request {
                reason: reason.clone(),
                at: *at,
            },
            PolicyInput::Targets(targets) => RecordedLine::Targets {
                targets: targets.clone(),
            },
            PolicyInput::StreamDown => RecordedLine::StreamDown,
            PolicyInput::Renumbered => RecordedLine::Renumbered,
            PolicyInput::Confirmation { snapshot, at } => RecordedLine::Confirmation {
                snapshot: snapshot.clone(),
                at: *at,
            },
            PolicyInput::Hold { held, at } => RecordedLine::Hold {
                held: *held,
                at: *at,
            },
            PolicyInput::PlanFinished {
                snapshot,
                at,
                moved,
                interrupted,
            } => RecordedLine::PlanFinished {
                snapshot: snapshot.clone(),
                at: *at,
                moved: *moved,
                interrupted: *interrupted,
            },
        }
    }

    /// The input of a line (`None` for `start`).
    fn to_input(&self) -> Option<PolicyInput> {
        Some(match self {
            RecordedLine::Start { .. } => return None,
            RecordedLine::Snapshot {
                snapshot,
                at,
                resync,
                tick,
            } => PolicyInput::Snapshot {
                snapshot: snapshot.clone(),
                at: *at,
                resync: *resync,
                tick: *tick,
            },
            RecordedLine::Event { observation } => {
                PolicyInput::Event(Arc::new(observation.clone()))
            }
            RecordedLine::Request { reason, at } => PolicyInput::Request {
                reason: reason.clone(),
                at: *at,
            },
            RecordedLine::Targets { targets } => PolicyInput::Targets(targets.clone()),
            RecordedLine::StreamDown => PolicyInput::StreamDown,
            RecordedLine::Renumbered => PolicyInput::Renumbered,
            RecordedLine::Confirmation { snapshot, at } => PolicyInput::Confirmation {
                snapshot: snapshot.clone(),
                at: *at,
            },
            RecordedLine::Hold { held, at } => PolicyInput::Hold {
                held: *held,
                at: *at,
            },
            RecordedLine::PlanFinished {
                snapshot,
                at,
                moved,
                interrupted,
            } => PolicyInput::PlanFinished {
                snapshot: snapshot.clone(),
                at: *at,
                moved: *moved,
                interrupted: *interrupted,
            },
        })
    }

    /// The line as JSON text (no newline).
    ///
    /// # Errors
    /// If serialization fails (it does not for these types).
    pub fn to_line(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(self)
    }
}

/// A decision as a `decision` line (no newline).
///
/// # Errors
/// If serialization fails (it does not for these types).
pub fn decision_line(decision: &Decision) -> Result<String, serde_json::Error> {
    Ok(format!(
        "{DECISION_PREFIX}{}}}",
        serde_json::to_string(decision)?
    ))
}

/// What a recording could not be replayed for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplayError {
    /// No `start` line first.
    #[error("line 1: a recording starts with a `start` line (policy and targets)")]
    NoStart,
    /// A version this build does not read.
    #[error("line 1: recording format version {0}, this ballast reads {FORMAT_VERSION}")]
    Version(u32),
    /// A line that does not parse.
    #[error("line {line}: {problem}")]
    BadLine {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        problem: String,
    },
}

/// A difference between the replay and the recording.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mismatch {
    /// 0-based index of the decision.
    pub index: usize,
    /// The recorded decision's JSON, if the recording has one at this index.
    pub recorded: Option<String>,
    /// The replayed decision's JSON, if the replay made one at this index.
    pub replayed: Option<String>,
}

/// The result of a replay.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Replay {
    /// Inputs fed.
    pub inputs: usize,
    /// Decisions the replay made, each as the JSON the live run would record.
    pub decisions: Vec<String>,
    /// Decisions the recording holds.
    pub recorded_decisions: usize,
    /// Target adjustments and days closed during the replay, in order.
    pub notices: Vec<Notice>,
    /// The first difference, if any.
    pub first_mismatch: Option<Mismatch>,
}

impl Replay {
    /// True when every recorded decision was reproduced, byte for byte, and no other.
    pub fn identical(&self) -> bool {
        self.first_mismatch.is_none()
    }
}

/// Replays a recording (see the module docs).
///
/// # Errors
/// [`ReplayError`] naming the line at fault.
pub fn replay(text: &str) -> Result<Replay, ReplayError> {
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim_start_matches('\u{feff}').trim_end()))
        .filter(|(_, l)| !l.is_empty());
    let parse = |line: usize, text: &str| {
        serde_json::from_str::<RecordedLine>(text).map_err(|e| ReplayError::BadLine {
            line,
            problem: e.to_string(),
        })
    };
    let Some((first, text)) = lines.next() else {
        return Err(ReplayError::NoStart);
    };
    let RecordedLine::Start {
        version,
        policy,
        targets,
        max_jump_factor,
    } = parse(first, text).map_err(|_| ReplayError::NoStart)?
    else {
        return Err(ReplayError::NoStart);
    };
    if version != FORMAT_VERSION {
        return Err(ReplayError::Version(version));
    }
    let mut state = PolicyState::new(policy, targets).with_max_jump_factor(max_jump_factor);
    let mut out = Replay {
        inputs: 0,
        decisions: Vec::new(),
        recorded_decisions: 0,
        notices: Vec::new(),
        first_mismatch: None,
    };
    let mut recorded = Vec::new();
    for (line, text) in lines {
        if let Some(body) = text.strip_prefix(DECISION_PREFIX) {
            let Some(json) = body.strip_suffix('}') else {
                return Err(ReplayError::BadLine {
                    line,
                    problem: "a decision line ends with `}`".to_owned(),
                });
            };
            recorded.push(json.to_owned());
            continue;
        }
        let Some(input) = parse(line, text)?.to_input() else {
            return Err(ReplayError::BadLine {
                line,
                problem: "a second `start` line".to_owned(),
            });
        };
        out.inputs += 1;
        if let Some(decision) = state.process(input) {
            let json = serde_json::to_string(&decision).map_err(|e| ReplayError::BadLine {
                line,
                problem: e.to_string(),
            })?;
            out.decisions.push(json);
        }
        out.notices.extend(state.take_notices());
    }
    out.recorded_decisions = recorded.len();
    let longest = recorded.len().max(out.decisions.len());
    out.first_mismatch = (0..longest)
        .find(|i| recorded.get(*i) != out.decisions.get(*i))
        .map(|index| Mismatch {
            index,
            recorded: recorded.get(index).cloned(),
            replayed: out.decisions.get(index).cloned(),
        });
    Ok(out)
}
