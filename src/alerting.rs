//! Alerts for the operator: what each kind means, how severe it is, the JSON body a
//! notification carries, and the rules that turn a stream of leg outcomes into an alert.
//!
//! A notification body is one JSON object:
//!
//! ```json
//! {"kind": "risk_refused", "severity": "warning",
//!  "message": "plan v5c1d2e3f.e0.41@1 refused by risk limits: risk.max_daily_turnover_usdc: ...",
//!  "run_id": "r18f2c3", "at": "2026-01-02T08:00:00Z",
//!  "details": {"plan_id": "v5c1d2e3f.e0.41@1", "refusals": ["risk.max_daily_turnover_usdc: ..."]}}
//! ```
//!
//! `kind` names the [`AlertKind`], `details` holds that kind's fields ([`AlertDetails`]), `at`
//! is RFC 3339 in the companion's clock (venue time when it follows a simulated venue).
//!
//! # Invariants
//! - Every [`AlertDetails`] variant has exactly one [`AlertKind`], and every kind one default
//!   [`Severity`]: the body's `kind` and `details` can never disagree.
//! - [`LegFailureCounter`] raises one alert per run of consecutive failures, when the run
//!   reaches the threshold; an applied leg ends the run.
//! - Pure: no I/O, no clock.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::portfolio::UnexplainedChange;

/// How urgent an alert is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// For the record.
    Info,
    /// Needs a look.
    Warning,
    /// Needs action now.
    Critical,
}

impl Severity {
    /// The lowercase name (`warning`).
    pub const fn name(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

/// What an alert is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// Balances changed at the venue with no event to explain them.
    BalanceMismatch,
    /// A plan was refused by a risk limit; nothing of it was sent.
    RiskRefused,
    /// Trading was halted (by an operator, or by ballast itself).
    Halt,
    /// Several legs in a row failed after being sent.
    LegFailures,
    /// The venue's event stream has been down longer than the threshold.
    StreamDown,
    /// The optimizer's result was refused; the previous targets stay.
    TargetsRefused,
    /// An implausible jump of the portfolio was not confirmed by a fresh snapshot; its
    /// trigger was dropped.
    JumpUnconfirmed,
    /// A tax-loss harvest that was decided was not executed: a risk limit or the venue
    /// refused it (not the operator's own pause or halt).
    HarvestRefused,
    /// A wallet buy was refused by the wash-sale rule: the asset was sold at a loss within
    /// the window.
    WashBuyPrevented,
    /// The venue's event numbering started over (its `seq` went backwards): ballast moved its
    /// cursor into a new epoch and re-baselined on a fresh snapshot.
    NumberingReset,
    /// A venue reply said a leg applied but described another transfer; the leg was left
    /// unresolved and its plan stopped.
    ReplyMismatch,
    /// Another companion's request holds a leg's key (its plan for the same trigger came
    /// first, and differs); the leg was not applied and its plan stopped.
    LegSuperseded,
    /// The store could not record a plan; nothing of it was sent.
    PlanNotRecorded,
    /// A part of ballast failed (an actor panicked); the run stopped cleanly.
    ActorPanicked,
}

impl AlertKind {
    /// Every kind, in documentation order.
    pub const ALL: [AlertKind; 14] = [
        AlertKind::BalanceMismatch,
        AlertKind::RiskRefused,
        AlertKind::Halt,
        AlertKind::LegFailures,
        AlertKind::StreamDown,
        AlertKind::TargetsRefused,
        AlertKind::JumpUnconfirmed,
        AlertKind::HarvestRefused,
        AlertKind::WashBuyPrevented,
        AlertKind::NumberingReset,
        AlertKind::ReplyMismatch,
        AlertKind::LegSuperseded,
        AlertKind::PlanNotRecorded,
        AlertKind::ActorPanicked,
    ];

    /// The snake-case name used in bodies, the store and logs.
    pub const fn name(self) -> &'static str {
        match self {
            AlertKind::BalanceMismatch => "balance_mismatch",
            AlertKind::RiskRefused => "risk_refused",
            AlertKind::Halt => "halt",
            AlertKind::LegFailures => "leg_failures",
            AlertKind::StreamDown => "stream_down",
            AlertKind::TargetsRefused => "targets_refused",
            AlertKind::JumpUnconfirmed => "jump_unconfirmed",
            AlertKind::HarvestRefused => "harvest_refused",
            AlertKind::WashBuyPrevented => "wash_buy_prevented",
            AlertKind::NumberingReset => "numbering_reset",
            AlertKind::ReplyMismatch => "reply_mismatch",
            AlertKind::LegSuperseded => "leg_superseded",
            AlertKind::PlanNotRecorded => "plan_not_recorded",
            AlertKind::ActorPanicked => "actor_panicked",
        }
    }

    /// How urgent this kind is.
    pub const fn severity(self) -> Severity {
        match self {
            AlertKind::Halt
            | AlertKind::StreamDown
            | AlertKind::LegFailures
            | AlertKind::ReplyMismatch
            | AlertKind::PlanNotRecorded
            | AlertKind::ActorPanicked => Severity::Critical,
            AlertKind::BalanceMismatch
            | AlertKind::RiskRefused
            | AlertKind::TargetsRefused
            | AlertKind::JumpUnconfirmed
            | AlertKind::HarvestRefused
            | AlertKind::WashBuyPrevented
            | AlertKind::NumberingReset
            | AlertKind::LegSuperseded => Severity::Warning,
        }
    }
}

/// The fields of each kind of alert.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum AlertDetails {
    /// See [`AlertKind::BalanceMismatch`].
    BalanceMismatch {
        /// The venue `seq` both views were at.
        seq: u64,
        /// Each service that moved without an event.
        changes: Vec<UnexplainedChange>,
    },
    /// See [`AlertKind::RiskRefused`].
    RiskRefused {
        /// The plan refused.
        plan_id: String,
        /// Every limit it breached, each naming its key.
        refusals: Vec<String>,
    },
    /// See [`AlertKind::Halt`].
    Halt {
        /// Who or what halted (`operator`, `ballast ctl`, ...).
        source: String,
        /// Why, as given.
        reason: String,
    },
    /// See [`AlertKind::LegFailures`].
    LegFailures {
        /// Legs failed in a row.
        consecutive: u32,
        /// The last failed leg's idempotency key.
        last_key: String,
        /// Why it failed.
        last_reason: String,
    },
    /// See [`AlertKind::StreamDown`].
    StreamDown {
        /// Seconds (wall time) since the stream went down.
        down_secs: u64,
        /// Why it went down.
        reason: String,
    },
    /// See [`AlertKind::TargetsRefused`].
    TargetsRefused {
        /// The optimizer method.
        method: String,
        /// The cause's short name (`out_of_bounds`, `not_converged`, `fetch_failed`, ...).
        cause: String,
        /// The cause, naming the service or field.
        error: String,
        /// Refusals so far in the run.
        refusals: u64,
    },
    /// See [`AlertKind::JumpUnconfirmed`].
    JumpUnconfirmed {
        /// The venue `seq` that reported the jump, when known.
        seq: Option<u64>,
        /// The portfolio's total held before it, USDC.
        held_usdc: Decimal,
        /// The total it reported, USDC.
        reported_usdc: Decimal,
        /// The fresh snapshot's total, USDC (adopted).
        fresh_usdc: Decimal,
        /// The trigger dropped (its description), if one was waiting.
        dropped: Option<String>,
    },
    /// See [`AlertKind::HarvestRefused`].
    HarvestRefused {
        /// The asset that was to be sold.
        asset: String,
        /// The harvest's id (`v{venue}.{trigger}.x{asset}@{attempt}`) when its sale was sent.
        harvest_id: Option<String>,
        /// Who refused it: `risk_limit` or `venue`.
        refused_by: crate::tax::RefusedBy,
        /// Why, naming the limit or the venue's error.
        reason: String,
    },
    /// See [`AlertKind::WashBuyPrevented`].
    WashBuyPrevented {
        /// The asset, the loss sale and the window's end.
        block: crate::tax::WashBlock,
        /// Who asked for the buy (the reason the order carried).
        requested_by: String,
    },
    /// See [`AlertKind::NumberingReset`].
    NumberingReset {
        /// The last `seq` ballast had delivered.
        cursor: u64,
        /// The venue's `seq`, below it.
        venue_seq: u64,
        /// The numbering epoch ballast moved into (plan and hedge names carry it).
        epoch: u32,
    },
    /// See [`AlertKind::ReplyMismatch`].
    ReplyMismatch {
        /// The leg's idempotency key.
        key: String,
        /// What the reply said against what was asked.
        mismatch: String,
    },
    /// See [`AlertKind::LegSuperseded`].
    LegSuperseded {
        /// The leg's idempotency key.
        key: String,
        /// The venue's refusal.
        reason: String,
    },
    /// See [`AlertKind::PlanNotRecorded`].
    PlanNotRecorded {
        /// The plan not recorded.
        plan_id: String,
        /// Its trigger's short name.
        trigger: String,
        /// The store's error.
        error: String,
    },
    /// See [`AlertKind::ActorPanicked`].
    ActorPanicked {
        /// The panic's report (where, and its message).
        panic: String,
    },
}

impl AlertDetails {
    /// The kind these details belong to.
    pub const fn kind(&self) -> AlertKind {
        match self {
            AlertDetails::BalanceMismatch { .. } => AlertKind::BalanceMismatch,
            AlertDetails::RiskRefused { .. } => AlertKind::RiskRefused,
            AlertDetails::Halt { .. } => AlertKind::Halt,
            AlertDetails::LegFailures { .. } => AlertKind::LegFailures,
            AlertDetails::StreamDown { .. } => AlertKind::StreamDown,
            AlertDetails::TargetsRefused { .. } => AlertKind::TargetsRefused,
            AlertDetails::JumpUnconfirmed { .. } => AlertKind::JumpUnconfirmed,
            AlertDetails::HarvestRefused { .. } => AlertKind::HarvestRefused,
            AlertDetails::WashBuyPrevented { .. } => AlertKind::WashBuyPrevented,
            AlertDetails::NumberingReset { .. } => AlertKind::NumberingReset,
            AlertDetails::ReplyMismatch { .. } => AlertKind::ReplyMismatch,
            AlertDetails::LegSuperseded { .. } => AlertKind::LegSuperseded,
            AlertDetails::PlanNotRecorded { .. } => AlertKind::PlanNotRecorded,
            AlertDetails::ActorPanicked { .. } => AlertKind::ActorPanicked,
        }
    }
}

/// The JSON body of a notification (webhook POST, or a command's stdin).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NotificationBody<'a> {
    /// The alert's kind.
    pub kind: AlertKind,
    /// Its severity.
    pub severity: Severity,
    /// One line for humans.
    pub message: &'a str,
    /// The run that raised it.
    pub run_id: &'a str,
    /// When, RFC 3339.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// The kind's fields.
    pub details: &'a AlertDetails,
}

/// Counts legs that failed after being sent; raises [`AlertKind::LegFailures`] when
/// `threshold` fail in a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegFailureCounter {
    threshold: u32,
    consecutive: u32,
}

impl LegFailureCounter {
    /// A counter raising at `threshold` consecutive failures (at least 1).
    pub fn new(threshold: u32) -> Self {
        Self {
            threshold: threshold.max(1),
            consecutive: 0,
        }
    }

    /// An applied leg: the run of failures ends.
    pub fn applied(&mut self) {
        self.consecutive = 0;
    }

    /// A leg that failed after `attempts` POSTs. Legs never sent (skipped after an earlier
    /// failure, refused by a risk limit: 0 attempts) are consequences, not failures of their
    /// own, and do not count. Returns the alert when this failure makes the threshold.
    pub fn failed(&mut self, attempts: u32, key: &str, reason: &str) -> Option<AlertDetails> {
        if attempts == 0 {
            return None;
        }
        self.consecutive = self.consecutive.saturating_add(1);
        (self.consecutive == self.threshold).then(|| AlertDetails::LegFailures {
            consecutive: self.consecutive,
            last_key: key.to_owned(),
            last_reason: reason.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn consecutive_sent_failures_raise_once_at_the_threshold() {
        struct TestCase {
            steps: &'static [Option<u32>],
            expected_alerts: &'static [usize],
        }
        // `Some(attempts)` is a failure after that many POSTs; `None` an applied leg.
        let cases = [
            // TC0: three in a row, alert on the third only.
            TestCase {
                steps: &[Some(1), Some(2), Some(1), Some(1)],
                expected_alerts: &[2],
            },
            // TC1: an applied leg in between restarts the run.
            TestCase {
                steps: &[Some(1), Some(1), None, Some(1), Some(1), Some(1)],
                expected_alerts: &[5],
            },
            // TC2: skipped or refused legs (0 attempts) do not count.
            TestCase {
                steps: &[Some(1), Some(0), Some(0), Some(1)],
                expected_alerts: &[],
            },
        ];
        for (i, case) in cases.iter().enumerate() {
            let mut counter = LegFailureCounter::new(3);
            let mut alerts = Vec::new();
            for (k, step) in case.steps.iter().enumerate() {
                match step {
                    None => counter.applied(),
                    Some(attempts) => {
                        if counter.failed(*attempts, "r:1:0", "HTTP 500").is_some() {
                            alerts.push(k);
                        }
                    }
                }
            }
            assert_eq!(alerts, case.expected_alerts, "TC{i}");
        }
    }

    #[test]
    fn the_body_names_kind_severity_and_rfc3339_time() {
        let details = AlertDetails::Halt {
            source: "operator".into(),
            reason: "maintenance".into(),
        };
        let body = NotificationBody {
            kind: details.kind(),
            severity: details.kind().severity(),
            message: "trading halted",
            run_id: "r1",
            at: datetime!(2026-01-02 08:00 UTC),
            details: &details,
        };
        let json = serde_json::to_value(&body).expect("serializes");
        assert_eq!(
            json,
            serde_json::json!({
                "kind": "halt", "severity": "critical", "message": "trading halted",
                "run_id": "r1", "at": "2026-01-02T08:00:00Z",
                "details": {"source": "operator", "reason": "maintenance"}
            })
        );
        for kind in AlertKind::ALL {
            assert_eq!(
                serde_json::to_value(kind).expect("serializes"),
                serde_json::Value::String(kind.name().to_owned())
            );
        }
    }
}
