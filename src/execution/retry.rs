//! Whether a leg whose send failed is retried, resolved or given up, decided from what the
//! failure was, what a status query said, the retry budget and the trading gate.
//!
//! An ambiguous failure (the venue may have applied the request) is first resolved by a
//! status query under the same key: applied counts as success, refused fails, and only a
//! leg the venue has not seen (or cannot say about) goes on to the retry rule. A retryable
//! failure is retried under the same key while the budget lasts and the gate is open,
//! after the venue's `Retry-After` or else the caller's backoff delay, capped at
//! [`RETRY_DELAY_MAX`]. A retry that was due while the gate is closed interrupts the plan
//! rather than failing it. A refusal because the venue holds a different request under the
//! key (`idempotency_key_reused`: another companion made this plan first, against other
//! balances) is final and marks the leg superseded: this companion's plan stops, nothing is
//! retried, and the venue's state is the other plan's.
//!
//! # Invariants
//! - A retry is only ever under the same key; nothing here mints a key.
//! - No retry is decided while the gate is closed, or beyond `retry_limit` retries.
//! - A status answer is weighed only for an ambiguous failure.
//! - No decided delay exceeds [`RETRY_DELAY_MAX`].
//! - A superseded leg is never retried and never queried.
//! - The failure texts are fixed: `{failure}`, `{failure}; not retried: stream down`,
//!   `{failure}; status query: refused: {code}: {message}`, `superseded: {failure}`,
//!   `{failure}; not retried: shutting down`.

use std::time::Duration;

use super::reconcile::KeyStatus;

/// The longest wait before a retry, whatever the venue's `Retry-After` says.
pub const RETRY_DELAY_MAX: Duration = Duration::from_secs(60);

/// A send that failed, as the retry rule sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendFailure {
    /// The failure's text (endpoint, status, the venue's code), for the leg's reason.
    pub description: String,
    /// The venue may have applied the request although no success was seen.
    pub ambiguous: bool,
    /// Worth retrying (transport errors, 429, 5xx).
    pub retryable: bool,
    /// The venue's `Retry-After`, if it sent one.
    pub retry_after: Option<Duration>,
    /// The venue holds a different request under this key (another companion's plan for the
    /// same trigger came first): the leg was not applied and never will be.
    pub superseded: bool,
}

/// Why a leg was given up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegFailure {
    /// The leg's failure text.
    pub reason: String,
    /// The outcome is unknown: the leg stays pending for reconciliation.
    pub ambiguous: bool,
    /// A retry was due but the stream is down: the plan is interrupted, not refused.
    pub interrupted: bool,
    /// Another request holds the leg's key at the venue: not applied, never retried.
    pub superseded: bool,
}

/// Why a leg is not sent, or not retried, once the operator halted trading.
pub const HALTED_REASON: &str = "halted by the operator";

impl LegFailure {
    /// The leg given up because the operator halted trading: before its first send (`None`)
    /// or after the failed send `after`. The plan is interrupted, so its trigger fires again
    /// on resume; an ambiguous send stays ambiguous (pending, for reconciliation).
    pub fn halted(after: Option<&SendFailure>) -> Self {
        match after {
            None => LegFailure {
                reason: format!("not sent: {HALTED_REASON}"),
                ambiguous: false,
                interrupted: true,
                superseded: false,
            },
            Some(failure) => LegFailure {
                reason: format!("{}; not retried: {HALTED_REASON}", failure.description),
                ambiguous: failure.ambiguous,
                interrupted: true,
                superseded: false,
            },
        }
    }
}

impl SendFailure {
    /// Whether the venue must be asked about the key before anything else is decided.
    pub fn needs_status_query(&self) -> bool {
        self.ambiguous && !self.superseded
    }

    /// The leg given up because the gate closed while a retry was due.
    pub fn interrupted(&self) -> LegFailure {
        LegFailure {
            reason: format!("{}; not retried: stream down", self.description),
            ambiguous: self.ambiguous,
            interrupted: true,
            superseded: false,
        }
    }

    /// The leg given up because the shutdown deadline passed while a retry was due: its
    /// outcome is left to reconciliation (`pending`), whatever the failure was.
    pub fn stopped(&self) -> LegFailure {
        LegFailure {
            reason: format!("{}; not retried: shutting down", self.description),
            ambiguous: true,
            interrupted: false,
            superseded: false,
        }
    }

    fn given_up(&self) -> LegFailure {
        LegFailure {
            reason: self.description.clone(),
            ambiguous: self.ambiguous,
            interrupted: false,
            superseded: false,
        }
    }
}

/// What the retry rule reads after one failed send.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryInput<'a, A> {
    /// The failure.
    pub failure: &'a SendFailure,
    /// The status query's answer: `None` when it was not asked (the failure was not
    /// ambiguous) or could not say.
    pub status: Option<KeyStatus<A>>,
    /// Retries already sent for this leg (0 after the first send).
    pub retries_made: u32,
    /// Retries allowed per leg.
    pub retry_limit: u32,
    /// Whether the trading gate is open now.
    pub gate_open: bool,
}

/// The retry rule's decision.
#[derive(Debug, Clone, PartialEq)]
pub enum RetryDecision<A> {
    /// Send again, under the same key, after `delay`.
    Retry {
        /// How long to wait first.
        delay: Duration,
    },
    /// The status query found the leg applied: the venue's reply.
    Applied(A),
    /// Stop: the leg failed, is of unknown outcome, or was interrupted.
    GiveUp(LegFailure),
}

/// Decides what follows a failed send. `backoff_delay(n)` is the caller's (jittered) wait
/// before retry `n` (from 1), used when the venue sent no `Retry-After`.
pub fn decide_retry<A>(
    input: RetryInput<'_, A>,
    backoff_delay: impl FnOnce(u32) -> Duration,
) -> RetryDecision<A> {
    let RetryInput {
        failure,
        status,
        retries_made,
        retry_limit,
        gate_open,
    } = input;
    if failure.superseded {
        return RetryDecision::GiveUp(LegFailure {
            reason: format!("superseded: {}", failure.description),
            ambiguous: false,
            interrupted: false,
            superseded: true,
        });
    }
    if failure.ambiguous {
        match status {
            Some(KeyStatus::Applied(reply)) => return RetryDecision::Applied(reply),
            Some(KeyStatus::Refused { code, message }) => {
                return RetryDecision::GiveUp(LegFailure {
                    reason: format!(
                        "{}; status query: refused: {code}: {message}",
                        failure.description
                    ),
                    ambiguous: false,
                    interrupted: false,
                    superseded: false,
                });
            }
            // Not seen yet, or the venue cannot say: an idempotent retry is safe.
            Some(KeyStatus::NeverArrived) | None => {}
        }
    }
    let retry_due = failure.retryable && retries_made < retry_limit;
    if !retry_due {
        return RetryDecision::GiveUp(failure.given_up());
    }
    if !gate_open {
        return RetryDecision::GiveUp(failure.interrupted());
    }
    let delay = failure
        .retry_after
        .unwrap_or_else(|| backoff_delay(retries_made + 1));
    RetryDecision::Retry {
        delay: delay.min(RETRY_DELAY_MAX),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DESCRIPTION: &str = "POST /agents/a/rebalance: HTTP 503 unavailable: busy";

    fn failure(ambiguous: bool, retryable: bool, retry_after_secs: Option<u64>) -> SendFailure {
        SendFailure {
            description: DESCRIPTION.into(),
            ambiguous,
            retryable,
            retry_after: retry_after_secs.map(Duration::from_secs),
            superseded: false,
        }
    }

    fn give_up(reason: &str, ambiguous: bool, interrupted: bool) -> RetryDecision<&'static str> {
        RetryDecision::GiveUp(LegFailure {
            reason: reason.into(),
            ambiguous,
            interrupted,
            superseded: false,
        })
    }

    #[test]
    fn a_halt_interrupts_and_keeps_an_unknown_outcome_unknown() {
        let before = LegFailure::halted(None);
        assert_eq!(before.reason, "not sent: halted by the operator");
        assert!(before.interrupted && !before.ambiguous);
        let after = LegFailure::halted(Some(&failure(true, true, None)));
        assert_eq!(
            after.reason,
            format!("{DESCRIPTION}; not retried: halted by the operator")
        );
        assert!(after.interrupted && after.ambiguous);
    }

    #[test]
    fn every_branch_of_the_retry_rule() {
        struct TestCase {
            failure: SendFailure,
            status: Option<KeyStatus<&'static str>>,
            retries_made: u32,
            retry_limit: u32,
            gate_open: bool,
            expected: RetryDecision<&'static str>,
        }
        let refusal = KeyStatus::Refused {
            code: "insufficient_balance".into(),
            message: "casino holds 3".into(),
        };
        let stream_down = format!("{DESCRIPTION}; not retried: stream down");
        let cases = [
            // TC0: ambiguous, the status query says applied: success, whatever else holds.
            TestCase {
                failure: failure(true, true, None),
                status: Some(KeyStatus::Applied("reply")),
                retries_made: 5,
                retry_limit: 0,
                gate_open: false,
                expected: RetryDecision::Applied("reply"),
            },
            // TC1: ambiguous, refused by the venue: failed, no longer of unknown outcome.
            TestCase {
                failure: failure(true, true, None),
                status: Some(refusal.clone()),
                retries_made: 0,
                retry_limit: 3,
                gate_open: true,
                expected: give_up(
                    &format!(
                        "{DESCRIPTION}; status query: refused: insufficient_balance: casino holds 3"
                    ),
                    false,
                    false,
                ),
            },
            // TC2: ambiguous, never arrived, budget left: retried after the backoff delay.
            TestCase {
                failure: failure(true, true, None),
                status: Some(KeyStatus::NeverArrived),
                retries_made: 0,
                retry_limit: 3,
                gate_open: true,
                expected: RetryDecision::Retry {
                    delay: Duration::from_millis(100),
                },
            },
            // TC3: ambiguous, the query could not say: retried like never arrived.
            TestCase {
                failure: failure(true, true, None),
                status: None,
                retries_made: 1,
                retry_limit: 3,
                gate_open: true,
                expected: RetryDecision::Retry {
                    delay: Duration::from_millis(200),
                },
            },
            // TC4: ambiguous, budget spent: outcome unknown, the leg stays pending.
            TestCase {
                failure: failure(true, true, None),
                status: Some(KeyStatus::NeverArrived),
                retries_made: 3,
                retry_limit: 3,
                gate_open: true,
                expected: give_up(DESCRIPTION, true, false),
            },
            // TC5: ambiguous, retry due but the gate is closed: interrupted, still unknown.
            TestCase {
                failure: failure(true, true, None),
                status: None,
                retries_made: 0,
                retry_limit: 3,
                gate_open: false,
                expected: give_up(&stream_down, true, true),
            },
            // TC6: ambiguous but not retryable (a bad body): unknown outcome, no retry.
            TestCase {
                failure: failure(true, false, None),
                status: Some(KeyStatus::NeverArrived),
                retries_made: 0,
                retry_limit: 3,
                gate_open: true,
                expected: give_up(DESCRIPTION, true, false),
            },
            // TC7: a refusal (4xx): failed at once, the status answer not weighed.
            TestCase {
                failure: failure(false, false, None),
                status: Some(KeyStatus::Applied("ignored")),
                retries_made: 0,
                retry_limit: 3,
                gate_open: true,
                expected: give_up(DESCRIPTION, false, false),
            },
            // TC8: 429 with Retry-After: the venue's wait wins over the backoff.
            TestCase {
                failure: failure(false, true, Some(2)),
                status: None,
                retries_made: 0,
                retry_limit: 3,
                gate_open: true,
                expected: RetryDecision::Retry {
                    delay: Duration::from_secs(2),
                },
            },
            // TC9: a Retry-After beyond the cap is capped.
            TestCase {
                failure: failure(false, true, Some(3_600)),
                status: None,
                retries_made: 0,
                retry_limit: 3,
                gate_open: true,
                expected: RetryDecision::Retry {
                    delay: RETRY_DELAY_MAX,
                },
            },
            // TC10: a backoff delay beyond the cap is capped too.
            TestCase {
                failure: failure(false, true, None),
                status: None,
                retries_made: 999,
                retry_limit: 1_000,
                gate_open: true,
                expected: RetryDecision::Retry {
                    delay: RETRY_DELAY_MAX,
                },
            },
            // TC11: retryable, budget spent: failed (not ambiguous).
            TestCase {
                failure: failure(false, true, Some(1)),
                status: None,
                retries_made: 2,
                retry_limit: 2,
                gate_open: true,
                expected: give_up(DESCRIPTION, false, false),
            },
            // TC12: retryable, due, gate closed: interrupted (not ambiguous).
            TestCase {
                failure: failure(false, true, Some(1)),
                status: None,
                retries_made: 0,
                retry_limit: 2,
                gate_open: false,
                expected: give_up(&stream_down, false, true),
            },
            // TC13: no retries allowed at all: the first failure is final.
            TestCase {
                failure: failure(false, true, None),
                status: None,
                retries_made: 0,
                retry_limit: 0,
                gate_open: false,
                expected: give_up(DESCRIPTION, false, false),
            },
            // TC14: another request holds the key: superseded, final, whatever else holds.
            TestCase {
                failure: SendFailure {
                    superseded: true,
                    ..failure(false, false, None)
                },
                status: Some(KeyStatus::Applied("the other companion's transfer")),
                retries_made: 0,
                retry_limit: 3,
                gate_open: true,
                expected: RetryDecision::GiveUp(LegFailure {
                    reason: format!("superseded: {DESCRIPTION}"),
                    ambiguous: false,
                    interrupted: false,
                    superseded: true,
                }),
            },
        ];
        for (i, case) in cases.into_iter().enumerate() {
            let input = RetryInput {
                failure: &case.failure,
                status: case.status,
                retries_made: case.retries_made,
                retry_limit: case.retry_limit,
                gate_open: case.gate_open,
            };
            // 100 ms per retry number, so the test sees which retry the delay is for.
            let backoff = |retry: u32| Duration::from_millis(100 * u64::from(retry));
            assert_eq!(decide_retry(input, backoff), case.expected, "TC{i}");
        }
    }

    #[test]
    fn a_gate_closing_during_the_wait_interrupts_with_the_same_text() {
        struct TestCase {
            failure: SendFailure,
            expected: LegFailure,
        }
        let cases = [
            // TC0: an ambiguous failure stays of unknown outcome.
            TestCase {
                failure: failure(true, true, None),
                expected: LegFailure {
                    reason: format!("{DESCRIPTION}; not retried: stream down"),
                    ambiguous: true,
                    interrupted: true,
                    superseded: false,
                },
            },
            // TC1: a plain retryable failure.
            TestCase {
                failure: failure(false, true, Some(1)),
                expected: LegFailure {
                    reason: format!("{DESCRIPTION}; not retried: stream down"),
                    ambiguous: false,
                    interrupted: true,
                    superseded: false,
                },
            },
        ];
        for (i, case) in cases.iter().enumerate() {
            assert_eq!(case.failure.interrupted(), case.expected, "TC{i}");
            assert_eq!(
                case.failure.needs_status_query(),
                case.failure.ambiguous,
                "TC{i}"
            );
        }
    }
}
