//! One plan's progress, leg by leg: what the next leg does, and the tally the plan ends with.
//!
//! Legs run in order. After a leg fails, every later leg of the plan is skipped: the next
//! plan starts from fresh balances instead of guessing. A closed trading gate (stream down
//! or resyncing) skips the leg in hand and the rest, and marks the plan interrupted so its
//! trigger resumes after the resync. A leg superseded by another companion's request under
//! its key stops the plan too: the other companion's plan for the same trigger is the one
//! the venue holds. A shutdown past its deadline leaves the legs not yet sent `pending` in
//! the store, for the next start to reconcile: they are neither sent nor failed.
//!
//! # Invariants
//! - Every leg is counted once: applied, failed (failed, skipped, or of unknown outcome), or
//!   left pending at a shutdown.
//! - Once a leg is skipped or given up, no later leg of the plan is sent.
//! - The skip texts are fixed: `skipped: leg {i} failed`,
//!   `skipped: leg {i} superseded by another request under its key`,
//!   `skipped: stream down; waiting for a fresh snapshot`, and for a plan that grew too old
//!   between legs `skipped: plan is {age} s old (limit {limit} s); ...`.
//! - The first leg of a plan is never stale: the plan was just sized. Staleness is measured
//!   on the companion's clock from when the executor took the plan, so a request timeout in
//!   wall time (days of venue time at a high simulator speed) stops the rest of the plan.

use rust_decimal::Decimal;

use super::retry::LegFailure;
use crate::portfolio::PortfolioSnapshot;

/// Why the legs after a closed gate are skipped.
pub const STREAM_DOWN_REASON: &str = "stream down; waiting for a fresh snapshot";

/// What the next leg of a plan does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NextLeg {
    /// Record it failed with `reason` and send nothing (already counted).
    Skip {
        /// The failure text.
        reason: String,
    },
    /// Dry run: report it as if applied, send nothing.
    DryRun,
    /// Send it.
    Send,
}

/// What executing one plan produced so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlanOutcome {
    /// Legs applied.
    pub applied: usize,
    /// Legs failed, skipped or of unknown outcome.
    pub failed: usize,
    /// Legs were skipped, or a retry dropped, because the stream went down.
    pub interrupted: bool,
    /// A leg ended with an unknown outcome and stays `pending` in the store.
    pub left_pending: bool,
    /// Legs not sent because the shutdown deadline passed: `pending` in the store.
    pub pending_at_stop: usize,
    /// A leg was superseded by another companion's request under its key.
    pub superseded: bool,
    /// USDC moved by applied legs.
    pub moved_usdc: Decimal,
    /// Balances after the last applied leg that carried them.
    pub snapshot: Option<PortfolioSnapshot>,
    /// Why the rest of the plan is skipped, once it is.
    stop_reason: Option<String>,
}

impl PlanOutcome {
    /// Decides the next leg given the mode and the gate, counting a skip as a failure.
    pub fn next_leg(&mut self, dry_run: bool, gate_open: bool) -> NextLeg {
        if let Some(why) = &self.stop_reason {
            let reason = format!("skipped: {why}");
            self.failed += 1;
            return NextLeg::Skip { reason };
        }
        if dry_run {
            return NextLeg::DryRun;
        }
        if !gate_open {
            // The stream dropped or skipped events since the plan was made: the view it
            // was planned on may be stale. The detector replans after the resync.
            self.failed += 1;
            self.interrupted = true;
            self.stop_reason = Some(STREAM_DOWN_REASON.to_owned());
            return NextLeg::Skip {
                reason: format!("skipped: {STREAM_DOWN_REASON}"),
            };
        }
        NextLeg::Send
    }

    /// Stops the plan at the leg in hand because the operator paused or halted trading
    /// (`why`): this leg and the rest are skipped (counted failed) and the plan is interrupted,
    /// so its trigger fires again on resume. A plan already stopping keeps its first reason.
    pub fn hold(&mut self, why: &str) -> NextLeg {
        if self.stop_reason.is_none() {
            self.interrupted = true;
            self.stop_reason = Some(why.to_owned());
        }
        self.next_leg(false, true)
    }

    /// Counts a leg the venue applied, keeping the balances it returned, if any.
    pub fn applied(&mut self, amount_usdc: Decimal, snapshot: Option<PortfolioSnapshot>) {
        self.applied += 1;
        self.moved_usdc += amount_usdc;
        if snapshot.is_some() {
            self.snapshot = snapshot;
        }
    }

    /// Counts a leg given up; the rest of the plan is skipped.
    pub fn gave_up(&mut self, leg_index: u32, failure: &LegFailure) {
        // A leg stopped by the stream going down interrupts the plan: its trigger resumes
        // after the resync instead of waiting for the next one.
        self.interrupted |= failure.interrupted;
        self.left_pending |= failure.ambiguous;
        self.superseded |= failure.superseded;
        self.failed += 1;
        self.stop_reason = Some(if failure.superseded {
            format!("leg {leg_index} superseded by another request under its key")
        } else {
            format!("leg {leg_index} failed")
        });
    }

    /// The shutdown deadline passed with `legs` legs not yet sent: they stay `pending` in
    /// the store (recorded before any leg was sent) for the next start to reconcile.
    pub fn left_at_stop(&mut self, legs: usize) {
        self.pending_at_stop += legs;
        self.left_pending |= legs > 0;
    }

    /// Counts `legs` legs failed before any was sent (plan not recorded, or refused).
    pub fn failed_unsent(&mut self, legs: usize) {
        self.failed += legs;
    }

    /// Whether the rest of the plan is skipped already.
    pub fn stopped(&self) -> bool {
        self.stop_reason.is_some()
    }

    /// Whether the leg about to go, the plan `age` old after `legs_done` legs, must not be sent
    /// on the plan's sizes: it is not the first, and the plan is older than `max_age`.
    pub fn is_stale(
        &self,
        legs_done: usize,
        age: std::time::Duration,
        max_age: std::time::Duration,
    ) -> bool {
        legs_done > 0 && !self.stopped() && age > max_age
    }

    /// Stops a stale plan: the rest is skipped. With `fresh` balances the plan counts as
    /// interrupted, so its trigger is planned again on them at once; without (the venue did not
    /// answer), the next trigger plans on whatever is fresh by then.
    pub fn stale(
        &mut self,
        age: std::time::Duration,
        max_age: std::time::Duration,
        fresh: Option<PortfolioSnapshot>,
    ) {
        self.stop_reason = Some(format!(
            "plan is {} s old (limit {} s); planning again on fresh balances",
            age.as_secs(),
            max_age.as_secs()
        ));
        if fresh.is_some() {
            self.interrupted = true;
            self.snapshot = fresh;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use rust_decimal_macros::dec;

    use super::*;

    #[test]
    fn a_plan_that_grew_old_between_legs_stops_and_is_planned_again() {
        let hour = Duration::from_secs(3600);
        let days = Duration::from_secs(3 * 86_400);
        let mut outcome = PlanOutcome::default();
        // The first leg is never stale: the plan was just sized.
        assert!(!outcome.is_stale(0, days, hour));
        assert_eq!(outcome.next_leg(false, true), NextLeg::Send);
        outcome.applied(dec!(10), None);
        // A timeout later, three venue days have passed.
        assert!(!outcome.is_stale(1, hour, hour));
        assert!(outcome.is_stale(1, days, hour));
        let fresh = PortfolioSnapshot::new(crate::portfolio::article_balances_usdc(), Some(9))
            .expect("valid");
        outcome.stale(days, hour, Some(fresh.clone()));
        assert!(outcome.stopped() && outcome.interrupted);
        assert_eq!(outcome.snapshot, Some(fresh));
        match outcome.next_leg(false, true) {
            NextLeg::Skip { reason } => {
                assert!(
                    reason.starts_with("skipped: plan is 259200 s old"),
                    "{reason}"
                )
            }
            other => panic!("{other:?}"),
        }
        // Without fresh balances it is not replanned at once.
        let mut blind = PlanOutcome::default();
        blind.stale(days, hour, None);
        assert!(blind.stopped() && !blind.interrupted);
    }

    /// One step of a plan, as the executor would take it.
    #[derive(Debug, Clone, Copy)]
    enum Step {
        /// Ask for the next leg with this gate state.
        Next { gate_open: bool },
        /// The leg sent was applied.
        Applied,
        /// The leg sent was given up (ambiguous?, interrupted?).
        GaveUp { ambiguous: bool, interrupted: bool },
        /// The leg sent was superseded by another request under its key.
        Superseded,
    }

    #[test]
    fn a_hold_skips_the_leg_in_hand_and_the_rest_and_interrupts() {
        let mut outcome = PlanOutcome::default();
        assert_eq!(outcome.next_leg(false, true), NextLeg::Send);
        outcome.applied(dec!(5), None);
        let skip = NextLeg::Skip {
            reason: "skipped: paused by the operator".into(),
        };
        assert_eq!(outcome.hold("paused by the operator"), skip);
        // The next leg is skipped for the same reason, whatever the mode says by then.
        assert_eq!(outcome.next_leg(false, true), skip);
        assert_eq!((outcome.applied, outcome.failed), (1, 2));
        assert!(outcome.interrupted);
        // A plan already stopped by a failed leg keeps that reason.
        let mut failed = PlanOutcome::default();
        failed.gave_up(
            0,
            &LegFailure {
                reason: "refused".into(),
                ambiguous: false,
                interrupted: false,
                superseded: false,
            },
        );
        assert_eq!(
            failed.hold("halted by the operator"),
            NextLeg::Skip {
                reason: "skipped: leg 0 failed".into()
            }
        );
        assert!(!failed.interrupted);
    }

    #[test]
    fn plans_progress_leg_by_leg() {
        struct TestCase {
            dry_run: bool,
            steps: Vec<Step>,
            expected_next: Vec<NextLeg>,
            expected: (usize, usize, bool, bool),
        }
        let open = Step::Next { gate_open: true };
        let closed = Step::Next { gate_open: false };
        let skip = |reason: &str| NextLeg::Skip {
            reason: reason.into(),
        };
        let cases = [
            // TC0: every leg applied.
            TestCase {
                dry_run: false,
                steps: vec![open, Step::Applied, open, Step::Applied],
                expected_next: vec![NextLeg::Send, NextLeg::Send],
                expected: (2, 0, false, false),
            },
            // TC1: dry run sends nothing and counts nothing.
            TestCase {
                dry_run: true,
                steps: vec![closed, open],
                expected_next: vec![NextLeg::DryRun, NextLeg::DryRun],
                expected: (0, 0, false, false),
            },
            // TC2: a failed leg skips the rest, naming it.
            TestCase {
                dry_run: false,
                steps: vec![
                    open,
                    Step::GaveUp {
                        ambiguous: false,
                        interrupted: false,
                    },
                    open,
                    open,
                ],
                expected_next: vec![
                    NextLeg::Send,
                    skip("skipped: leg 0 failed"),
                    skip("skipped: leg 0 failed"),
                ],
                expected: (0, 3, false, false),
            },
            // TC3: a closed gate skips the leg in hand and the rest, and interrupts.
            TestCase {
                dry_run: false,
                steps: vec![open, Step::Applied, closed, open],
                expected_next: vec![
                    NextLeg::Send,
                    skip("skipped: stream down; waiting for a fresh snapshot"),
                    skip("skipped: stream down; waiting for a fresh snapshot"),
                ],
                expected: (1, 2, true, false),
            },
            // TC4: an unknown outcome stays pending; an interrupted retry interrupts.
            TestCase {
                dry_run: false,
                steps: vec![
                    open,
                    Step::GaveUp {
                        ambiguous: true,
                        interrupted: true,
                    },
                    open,
                ],
                expected_next: vec![NextLeg::Send, skip("skipped: leg 0 failed")],
                expected: (0, 2, true, true),
            },
            // TC5: a leg superseded by another companion's request stops the plan, named so.
            TestCase {
                dry_run: false,
                steps: vec![open, Step::Applied, open, Step::Superseded, open],
                expected_next: vec![
                    NextLeg::Send,
                    NextLeg::Send,
                    skip("skipped: leg 1 superseded by another request under its key"),
                ],
                expected: (1, 2, false, false),
            },
        ];
        for (i, case) in cases.into_iter().enumerate() {
            let mut outcome = PlanOutcome::default();
            let mut next = Vec::new();
            let mut leg_index = 0;
            for step in case.steps {
                match step {
                    Step::Next { gate_open } => {
                        next.push(outcome.next_leg(case.dry_run, gate_open));
                    }
                    Step::Applied => outcome.applied(dec!(10), None),
                    Step::GaveUp {
                        ambiguous,
                        interrupted,
                    } => {
                        let failure = LegFailure {
                            reason: "x".into(),
                            ambiguous,
                            interrupted,
                            superseded: false,
                        };
                        outcome.gave_up(leg_index, &failure);
                    }
                    Step::Superseded => {
                        let failure = LegFailure {
                            reason: "superseded: x".into(),
                            ambiguous: false,
                            interrupted: false,
                            superseded: true,
                        };
                        outcome.gave_up(leg_index, &failure);
                    }
                }
                if !matches!(step, Step::Next { .. }) {
                    leg_index += 1;
                }
            }
            assert_eq!(next, case.expected_next, "TC{i}");
            let (applied, failed, interrupted, left_pending) = case.expected;
            assert_eq!(outcome.applied, applied, "TC{i}");
            assert_eq!(outcome.failed, failed, "TC{i}");
            assert_eq!(outcome.interrupted, interrupted, "TC{i}");
            assert_eq!(outcome.left_pending, left_pending, "TC{i}");
            assert_eq!(
                outcome.moved_usdc,
                dec!(10) * Decimal::from(applied),
                "TC{i}"
            );
        }
    }

    #[test]
    fn the_last_returned_balances_are_kept() {
        let balances = crate::service::ServiceMap::from_fn(|_| dec!(1));
        let snapshot = PortfolioSnapshot::new(balances, Some(3)).expect("valid");
        let mut outcome = PlanOutcome::default();
        outcome.applied(dec!(1), Some(snapshot.clone()));
        // A later reply without balances does not erase the last known ones.
        outcome.applied(dec!(2), None);
        assert_eq!(outcome.snapshot, Some(snapshot));
        outcome.failed_unsent(3);
        assert_eq!((outcome.applied, outcome.failed), (2, 3));
        // A shutdown past its deadline leaves the rest pending, not failed.
        outcome.left_at_stop(2);
        assert_eq!((outcome.failed, outcome.pending_at_stop), (3, 2));
        assert!(outcome.left_pending);
    }
}
