//! When to solve: at most one solve in flight, and at least `min_interval` between the starts of
//! two solves. A trigger that arrives inside the interval (or while a solve runs) is not queued
//! and not dropped: it is coalesced into one pending solve, which starts when the interval ends
//! (or the running solve finishes), carrying the latest trigger's reason.
//!
//! The caller asks with [`RecomputeGate::request`], schedules a wake-up for
//! [`GateDecision::DeferUntil`], and reports back with [`RecomputeGate::deferred_due`] and
//! [`RecomputeGate::finished`]; each may answer [`GateDecision::Start`].
//!
//! # Invariants
//! - Two `Start`s are at least `min_interval` apart (by the `now` the caller passes), and never
//!   overlap: no `Start` between a `Start` and its `finished`.
//! - Every request is answered by a `Start` carrying it or a later reason, eventually, provided
//!   the caller honours `DeferUntil` and reports `finished`.
//! - At most one wake-up is outstanding: `DeferUntil` is answered only when none is.

use time::OffsetDateTime;

/// What the caller should do now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GateDecision {
    /// Solve now, for this reason.
    Start {
        /// Why (the latest coalesced trigger).
        reason: String,
    },
    /// Call [`RecomputeGate::deferred_due`] at this time; the trigger waits until then.
    DeferUntil(OffsetDateTime),
    /// The trigger joined a solve already pending; nothing to schedule.
    Coalesced,
    /// Nothing to do.
    Idle,
}

/// The gate (see the module docs).
#[derive(Debug, Clone)]
pub struct RecomputeGate {
    min_interval: time::Duration,
    last_start: Option<OffsetDateTime>,
    in_flight: bool,
    deferred_until: Option<OffsetDateTime>,
    pending: Option<String>,
    coalesced: u64,
}

impl RecomputeGate {
    /// A gate allowing one start per `min_interval` (zero: only the one-in-flight rule).
    pub fn new(min_interval: std::time::Duration) -> Self {
        RecomputeGate {
            min_interval: time::Duration::try_from(min_interval).unwrap_or(time::Duration::MAX),
            last_start: None,
            in_flight: false,
            deferred_until: None,
            pending: None,
            coalesced: 0,
        }
    }

    /// A trigger at `now`.
    pub fn request(&mut self, now: OffsetDateTime, reason: String) -> GateDecision {
        if self.in_flight || self.deferred_until.is_some() {
            self.pending = Some(reason);
            self.coalesced += 1;
            return GateDecision::Coalesced;
        }
        self.try_start(now, reason)
    }

    /// The wake-up asked for by [`GateDecision::DeferUntil`] has come.
    pub fn deferred_due(&mut self, now: OffsetDateTime) -> GateDecision {
        self.deferred_until = None;
        self.resume(now)
    }

    /// The solve started by the last [`GateDecision::Start`] has ended (published or refused).
    pub fn finished(&mut self, now: OffsetDateTime) -> GateDecision {
        self.in_flight = false;
        if self.deferred_until.is_some() {
            // A wake-up is outstanding; it will resume the pending trigger.
            return GateDecision::Idle;
        }
        self.resume(now)
    }

    /// Whether a solve is running.
    pub fn in_flight(&self) -> bool {
        self.in_flight
    }

    /// Triggers folded into a pending solve so far.
    pub fn coalesced(&self) -> u64 {
        self.coalesced
    }

    fn resume(&mut self, now: OffsetDateTime) -> GateDecision {
        if self.in_flight {
            return GateDecision::Idle;
        }
        match self.pending.take() {
            Some(reason) => self.try_start(now, reason),
            None => GateDecision::Idle,
        }
    }

    fn try_start(&mut self, now: OffsetDateTime, reason: String) -> GateDecision {
        if let Some(last) = self.last_start {
            let due = last.saturating_add(self.min_interval);
            if now < due {
                self.deferred_until = Some(due);
                self.pending = Some(reason);
                return GateDecision::DeferUntil(due);
            }
        }
        self.in_flight = true;
        self.last_start = Some(now);
        GateDecision::Start { reason }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use time::macros::datetime;

    use super::*;

    const T0: OffsetDateTime = datetime!(2026-01-01 00:00 UTC);

    fn at(secs: i64) -> OffsetDateTime {
        T0 + time::Duration::seconds(secs)
    }

    fn start(reason: &str) -> GateDecision {
        GateDecision::Start {
            reason: reason.to_owned(),
        }
    }

    /// One step of a gate story: an input at a time, and the decision expected.
    enum Step {
        Request(i64, &'static str),
        Due(i64),
        Finished(i64),
    }

    #[test]
    fn gate_stories() {
        struct TestCase {
            min_interval_secs: u64,
            steps: Vec<(Step, GateDecision)>,
        }
        let cases = [
            // TC0: a burst during a solve collapses into one follow-up, deferred to the
            // interval's end, carrying the latest reason.
            TestCase {
                min_interval_secs: 60,
                steps: vec![
                    (Step::Request(0, "start-up"), start("start-up")),
                    (Step::Request(1, "drawdown"), GateDecision::Coalesced),
                    (Step::Request(2, "spike"), GateDecision::Coalesced),
                    (Step::Finished(3), GateDecision::DeferUntil(at(60))),
                    (Step::Request(4, "tick"), GateDecision::Coalesced),
                    (Step::Due(60), start("tick")),
                    (Step::Finished(61), GateDecision::Idle),
                ],
            },
            // TC1: triggers far apart start at once.
            TestCase {
                min_interval_secs: 60,
                steps: vec![
                    (Step::Request(0, "a"), start("a")),
                    (Step::Finished(1), GateDecision::Idle),
                    (Step::Request(100, "b"), start("b")),
                ],
            },
            // TC2: a trigger inside the interval is deferred, not refused; an early wake-up
            // defers again.
            TestCase {
                min_interval_secs: 60,
                steps: vec![
                    (Step::Request(0, "a"), start("a")),
                    (Step::Finished(1), GateDecision::Idle),
                    (Step::Request(10, "b"), GateDecision::DeferUntil(at(60))),
                    (Step::Due(59), GateDecision::DeferUntil(at(60))),
                    (Step::Due(60), start("b")),
                ],
            },
            // TC3: no interval: only one solve at a time.
            TestCase {
                min_interval_secs: 0,
                steps: vec![
                    (Step::Request(0, "a"), start("a")),
                    (Step::Request(0, "b"), GateDecision::Coalesced),
                    (Step::Finished(0), start("b")),
                    (Step::Finished(0), GateDecision::Idle),
                ],
            },
        ];
        for (i, case) in cases.into_iter().enumerate() {
            let mut gate = RecomputeGate::new(Duration::from_secs(case.min_interval_secs));
            for (k, (step, expected)) in case.steps.into_iter().enumerate() {
                let got = match step {
                    Step::Request(t, reason) => gate.request(at(t), reason.to_owned()),
                    Step::Due(t) => gate.deferred_due(at(t)),
                    Step::Finished(t) => gate.finished(at(t)),
                };
                assert_eq!(got, expected, "TC{i} step {k}");
            }
        }
    }

    #[test]
    fn coalesced_triggers_are_counted() {
        let mut gate = RecomputeGate::new(Duration::from_secs(60));
        let _ = gate.request(at(0), "a".into());
        for k in 0..100 {
            assert_eq!(gate.request(at(k), "burst".into()), GateDecision::Coalesced);
        }
        assert_eq!(gate.coalesced(), 100);
        assert!(gate.in_flight());
    }
}
