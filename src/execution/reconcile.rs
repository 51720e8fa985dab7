//! What to do with a leg left `pending`: the venue is asked about its key, never sent it
//! again, and the answer decides.
//!
//! A leg of an earlier run that the venue never saw is abandoned (failed): its plan was made
//! against balances long gone. A leg of this run that the venue has not seen yet stays
//! pending, because its request may still be on the way. A query that fails decides nothing.
//!
//! # Invariants
//! - No answer leads to sending the leg again; the only actions are to record what the
//!   venue did, to record a failure, or to wait.
//! - An applied leg is recorded (and reported) once, with the venue's own reply.
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

/// What reconciling pending legs found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reconciled {
    /// Applied by the venue; now recorded (and reported) once.
    pub applied: usize,
    /// Refused by the venue; recorded as failed.
    pub refused: usize,
    /// Never received by the venue (earlier runs only); recorded as failed, not resent.
    pub never_arrived: usize,
    /// Still unknown; left pending for the next attempt.
    pub unresolved: usize,
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
}
