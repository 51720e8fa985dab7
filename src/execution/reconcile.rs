//! What to do with a leg left `pending`: the venue is asked about its key, never sent it
//! again, and the answer decides.
//!
//! A leg of an earlier run that the venue never saw is abandoned (failed): its plan was made
//! against balances long gone. A leg of this run that the venue has not seen yet stays
//! pending, because its request may still be on the way. A query that fails decides nothing.
//! An answer that claims the leg applied but describes another transfer ([`check_applied`])
//! decides nothing either: the leg stays pending and the mismatch is alerted.
//!
//! Whether a leg is this run's comes from the store (the run that recorded its plan), not
//! from its key: keys are named after triggers, and only legacy keys carry a run id.
//!
//! # Invariants
//! - No answer leads to sending the leg again; the only actions are to record what the
//!   venue did, to record a failure, or to wait.
//! - An applied leg is recorded (and reported) once, and only on a reply that describes it.
//! - The failure texts are fixed: they are what `ballast status` shows for such legs.

/// What the venue says about an idempotency key, asked without resubmitting the request.
///
/// `A` is the venue's reply to the applied request (the adapter's response type).
#[derive(Debug, Clone, PartialEq)]
pub enum KeyStatus<A> {
    /// The venue applied it; this is its first reply.
    Applied(A),
    /// The venue received it and refused it (insufficient balance, ...).
    Refused {
        /// The venue's error code.
        code: String,
        /// The venue's message.
        message: String,
    },
    /// The venue never received a request under this key.
    NeverArrived,
}

/// What to do with one pending leg.
#[derive(Debug, Clone, PartialEq)]
pub enum ReconcileAction<A> {
    /// Record it applied, with the venue's reply, and report it once.
    RecordApplied(A),
    /// Record it failed: the venue refused it.
    RecordRefused {
        /// The failure text to store.
        reason: String,
    },
    /// Record it failed: an earlier run's leg the venue never saw, abandoned, not resent.
    RecordAbandoned {
        /// The failure text to store.
        reason: String,
    },
    /// Leave it pending: this run's leg not seen yet, or the venue could not say.
    LeavePending,
    /// Leave it pending and alert: the venue says applied, but describes another transfer.
    Mismatched(super::reply::ReplyMismatch),
}

/// The failure text of a pending leg the venue refused.
pub fn refused_reason(code: &str, message: &str) -> String {
    format!("venue refused it: {code}: {message}")
}

/// The failure text of an earlier run's leg the venue never saw.
pub const ABANDONED_REASON: &str = "never reached the venue; abandoned, not resent";

/// Decides what becomes of a pending leg, given the status query's answer (`None` when the
/// query failed) and whether the leg belongs to the run asking.
pub fn classify_pending<A>(answer: Option<KeyStatus<A>>, this_run: bool) -> ReconcileAction<A> {
    match answer {
        Some(KeyStatus::Applied(reply)) => ReconcileAction::RecordApplied(reply),
        Some(KeyStatus::Refused { code, message }) => ReconcileAction::RecordRefused {
            reason: refused_reason(&code, &message),
        },
        Some(KeyStatus::NeverArrived) if !this_run => ReconcileAction::RecordAbandoned {
            reason: ABANDONED_REASON.to_owned(),
        },
        Some(KeyStatus::NeverArrived) | None => ReconcileAction::LeavePending,
    }
}

/// Checks an `applied` answer against the leg: `check` compares the venue's reply with the
/// request; a reply that does not describe the leg turns the action into
/// [`ReconcileAction::Mismatched`]. Other actions pass unchanged.
pub fn check_applied<A>(
    action: ReconcileAction<A>,
    check: impl FnOnce(&A) -> Result<(), super::reply::ReplyMismatch>,
) -> ReconcileAction<A> {
    match action {
        ReconcileAction::RecordApplied(reply) => match check(&reply) {
            Ok(()) => ReconcileAction::RecordApplied(reply),
            Err(mismatch) => ReconcileAction::Mismatched(mismatch),
        },
        other => other,
    }
}

/// What reconciling pending legs found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reconciled {
    /// Applied by the venue; now recorded (and reported) once.
    pub applied: usize,
    /// Refused by the venue; recorded as failed.
    pub refused: usize,
    /// Never received by the venue (earlier runs only); recorded as failed, not resent.
    pub never_arrived: usize,
    /// Still unknown; left pending for the next attempt (mismatched replies included).
    pub unresolved: usize,
    /// Of the unresolved: the venue's reply described another transfer (alerted).
    pub mismatched: usize,
}

impl Reconciled {
    /// Legs looked at.
    pub fn total(&self) -> usize {
        self.applied + self.refused + self.never_arrived + self.unresolved
    }

    /// Counts one leg's action.
    pub fn count<A>(&mut self, action: &ReconcileAction<A>) {
        let counter = match action {
            ReconcileAction::RecordApplied(_) => &mut self.applied,
            ReconcileAction::RecordRefused { .. } => &mut self.refused,
            ReconcileAction::RecordAbandoned { .. } => &mut self.never_arrived,
            ReconcileAction::LeavePending => &mut self.unresolved,
            ReconcileAction::Mismatched(_) => {
                self.mismatched += 1;
                &mut self.unresolved
            }
        };
        *counter += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_answer_decides_the_pending_leg() {
        struct TestCase {
            answer: Option<KeyStatus<&'static str>>,
            this_run: bool,
            expected: ReconcileAction<&'static str>,
            counted: (usize, usize, usize, usize),
        }
        // Which counter each action lands in: (applied, refused, never_arrived, unresolved).
        let applied = (1, 0, 0, 0);
        let refused = (0, 1, 0, 0);
        let never_arrived = (0, 0, 1, 0);
        let unresolved = (0, 0, 0, 1);
        let refusal = || KeyStatus::Refused {
            code: "insufficient_balance".into(),
            message: "casino holds 3".into(),
        };
        let refused_reason = "venue refused it: insufficient_balance: casino holds 3";
        let cases = [
            // TC0: applied, by an earlier run: recorded once with the reply.
            TestCase {
                answer: Some(KeyStatus::Applied("t-1")),
                this_run: false,
                expected: ReconcileAction::RecordApplied("t-1"),
                counted: applied,
            },
            // TC1: applied, by this run: the same.
            TestCase {
                answer: Some(KeyStatus::Applied("t-2")),
                this_run: true,
                expected: ReconcileAction::RecordApplied("t-2"),
                counted: applied,
            },
            // TC2: refused, by an earlier run: failed with the venue's reason.
            TestCase {
                answer: Some(refusal()),
                this_run: false,
                expected: ReconcileAction::RecordRefused {
                    reason: refused_reason.into(),
                },
                counted: refused,
            },
            // TC3: refused, by this run: the same.
            TestCase {
                answer: Some(refusal()),
                this_run: true,
                expected: ReconcileAction::RecordRefused {
                    reason: refused_reason.into(),
                },
                counted: refused,
            },
            // TC4: never arrived, from an earlier run: abandoned, not resent.
            TestCase {
                answer: Some(KeyStatus::NeverArrived),
                this_run: false,
                expected: ReconcileAction::RecordAbandoned {
                    reason: "never reached the venue; abandoned, not resent".into(),
                },
                counted: never_arrived,
            },
            // TC5: never arrived, from this run: may still be on the way.
            TestCase {
                answer: Some(KeyStatus::NeverArrived),
                this_run: true,
                expected: ReconcileAction::LeavePending,
                counted: unresolved,
            },
            // TC6: the query failed, earlier run: nothing decided.
            TestCase {
                answer: None,
                this_run: false,
                expected: ReconcileAction::LeavePending,
                counted: unresolved,
            },
            // TC7: the query failed, this run: nothing decided.
            TestCase {
                answer: None,
                this_run: true,
                expected: ReconcileAction::LeavePending,
                counted: unresolved,
            },
        ];
        for (i, case) in cases.into_iter().enumerate() {
            let action = classify_pending(case.answer, case.this_run);
            let mut report = Reconciled::default();
            report.count(&action);
            assert_eq!(action, case.expected, "TC{i}");
            let counted = (
                report.applied,
                report.refused,
                report.never_arrived,
                report.unresolved,
            );
            assert_eq!(counted, case.counted, "TC{i}");
            assert_eq!(report.total(), 1, "TC{i}");
        }
    }

    #[test]
    fn an_applied_answer_must_describe_the_leg() {
        use super::super::reply::{Mismatch, ReplyMismatch};
        let mismatch = ReplyMismatch {
            key: "e0.1@1:0".into(),
            mismatches: vec![Mismatch::Status {
                replied: "lost".into(),
            }],
        };
        struct TestCase {
            action: ReconcileAction<&'static str>,
            check: Result<(), ReplyMismatch>,
            expected: ReconcileAction<&'static str>,
            mismatched: usize,
        }
        let cases = [
            // TC0: the reply describes the leg: recorded applied.
            TestCase {
                action: ReconcileAction::RecordApplied("t-1"),
                check: Ok(()),
                expected: ReconcileAction::RecordApplied("t-1"),
                mismatched: 0,
            },
            // TC1: it describes another transfer: left pending, alerted, counted unresolved.
            TestCase {
                action: ReconcileAction::RecordApplied("t-1"),
                check: Err(mismatch.clone()),
                expected: ReconcileAction::Mismatched(mismatch.clone()),
                mismatched: 1,
            },
            // TC2: other actions are not checked.
            TestCase {
                action: ReconcileAction::LeavePending,
                check: Err(mismatch),
                expected: ReconcileAction::LeavePending,
                mismatched: 0,
            },
        ];
        for (i, case) in cases.into_iter().enumerate() {
            let check = case.check;
            let action = check_applied(case.action, |_| check);
            let mut report = Reconciled::default();
            report.count(&action);
            assert_eq!(action, case.expected, "TC{i}");
            assert_eq!(report.mismatched, case.mismatched, "TC{i}");
        }
    }
}
