//! Naming a plan after its trigger: which [`TriggerId`] a policy decision answers, and its
//! attempt number, so that every companion watching the same agent names the same plan alike.
//!
//! Two companions that see the same venue events and make the same plan for a trigger send
//! the same idempotency keys, so the venue applies each leg once; when their plans differ
//! (one planned later, against other balances), the venue refuses the second body under a
//! known key (`idempotency_key_reused`) and that companion stops its plan (see
//! [`super::retry`]). What the ids are made of, and how they are written, is in [`super::ids`].
//!
//! What names a plan is fixed when its trigger is decided and travels with the trigger while
//! it waits (behind the plan in flight, a stale stream, the operator's hold or a held jump):
//! - a large win, referral income or a band breach on an event's balances: the event;
//! - the daily check (a band breach at the tick, or the calendar): the tick's venue date;
//! - an event response ([`Trigger::Adjusted`]: a drawdown cut or restore, a volatility spike
//!   or calm): what it was decided on ([`DecidedOn`]), the event (or the `seq` a REST snapshot
//!   reflects) or the tick's date. An event's (or a day's) responses and its own trigger
//!   share its id and count attempts together, in the order the policy decides them;
//! - a request: the last event seen before it is named, and its reason.
//!
//! # Invariants
//! - The same trigger seen at the same point of the event stream gets the same id in every
//!   companion: nothing here depends on the run, the process or the wall clock, nor on when
//!   a waiting trigger is finally planned.
//! - Within one run a trigger planned again (an interrupted plan resumed) gets the next
//!   attempt, never a name already used; the namer remembers the last [`NAMER_MEMORY`]
//!   triggers (the store's unique plan ids catch anything older).

use std::collections::VecDeque;

use time::{OffsetDateTime, UtcOffset};

use super::ids::{PlanId, TriggerId, VenueTag};
use crate::policy::{DecidedOn, Trigger};

/// Triggers whose attempts the namer remembers.
pub const NAMER_MEMORY: usize = 1_024;

/// The trigger id of `trigger`, in numbering `epoch`, after event `last_seq`.
pub fn trigger_id(trigger: &Trigger, epoch: u32, last_seq: u64) -> TriggerId {
    let day = |at: &OffsetDateTime| TriggerId::Day {
        date: at.to_offset(UtcOffset::UTC).date(),
    };
    match trigger {
        Trigger::LargeWin { seq, .. }
        | Trigger::Threshold { seq }
        | Trigger::ReferralIncome { seq, .. }
        | Trigger::Adjusted {
            on: DecidedOn::Event { seq },
            ..
        } => TriggerId::Event { epoch, seq: *seq },
        Trigger::Tick { at }
        | Trigger::Calendar { at, .. }
        | Trigger::Adjusted {
            on: DecidedOn::Day { at },
            ..
        } => day(at),
        Trigger::Request { reason } => TriggerId::request(epoch, last_seq, reason),
    }
}

/// Names plans for one run: follows the venue's numbering and the last event seen.
#[derive(Debug, Clone)]
pub struct PlanNamer {
    venue: VenueTag,
    epoch: u32,
    last_seq: u64,
    /// Recent triggers and the attempts made for each.
    attempts: Attempts<TriggerId>,
}

impl PlanNamer {
    /// A namer for `venue`'s triggers, in numbering `epoch` (from the store: resets seen by
    /// earlier runs count). Until an event is seen, requests are named after event 0; a run
    /// resuming from a stored cursor says so with [`PlanNamer::saw_event`].
    pub fn new(venue: VenueTag, epoch: u32) -> Self {
        Self {
            venue,
            epoch,
            last_seq: 0,
            attempts: Attempts::new(NAMER_MEMORY),
        }
    }

    /// The numbering epoch.
    pub fn epoch(&self) -> u32 {
        self.epoch
    }

    /// Records a venue event, in stream order: requests are named after the last one.
    pub fn saw_event(&mut self, seq: u64) {
        self.last_seq = seq;
    }

    /// The venue renumbered its events: later ids are in numbering `epoch`.
    pub fn renumbered(&mut self, epoch: u32) {
        self.epoch = epoch;
        self.last_seq = 0;
    }

    /// The id of the next plan for `trigger`.
    pub fn name(&mut self, trigger: &Trigger) -> PlanId {
        let id = trigger_id(trigger, self.epoch, self.last_seq);
        let attempt = self.attempts.next(id);
        PlanId::for_trigger(self.venue, id, attempt)
    }
}

/// Attempt numbers per key (a trigger, or a trigger and a service), counted from 1, for
/// the most recent `memory` keys: what the plan and hedge namers keep so that a key named
/// again gets the next attempt. A key forgotten (more than `memory` newer ones since)
/// starts again at 1.
#[derive(Debug, Clone)]
pub struct Attempts<K> {
    memory: usize,
    /// Recent keys and the attempts made for each, oldest first.
    seen: VecDeque<(K, u32)>,
}

impl<K: PartialEq> Attempts<K> {
    /// A counter remembering the last `memory` keys.
    pub fn new(memory: usize) -> Self {
        Self {
            memory,
            seen: VecDeque::new(),
        }
    }

    /// The attempt number for one more naming of `key`: 1 the first time, then 2, 3, …
    pub fn next(&mut self, key: K) -> u32 {
        match self.seen.iter_mut().find(|(seen, _)| *seen == key) {
            Some((_, attempts)) => {
                *attempts = attempts.saturating_add(1);
                *attempts
            }
            None => {
                if self.seen.len() == self.memory {
                    self.seen.pop_front();
                }
                self.seen.push_back((key, 1));
                1
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;
    use time::macros::datetime;

    use super::*;
    use crate::{policy::Adjustment, service::Service};

    /// A venue tag for the examples.
    const VENUE: VenueTag = VenueTag(7);

    /// A drawdown cut decided on `on`.
    fn cut(on: DecidedOn) -> Trigger {
        Trigger::Adjusted {
            adjustments: vec![Adjustment::DrawdownCut {
                service: Service::Trading,
                fall: dec!(0.25),
                from: dec!(0.15),
                to: dec!(0.075),
            }],
            on,
        }
    }

    #[test]
    fn triggers_are_named_after_what_caused_them() {
        struct TestCase {
            trigger: Trigger,
            expected: &'static str,
        }
        let noon = datetime!(2026-01-03 12:00 UTC);
        let cases = [
            // TC0: a large win: its event.
            TestCase {
                trigger: Trigger::LargeWin {
                    amount_usdc: dec!(99.71),
                    fraction: dec!(0.103),
                    seq: 36,
                },
                expected: "v00000007.e1.36@1",
            },
            // TC1: a band breach on an event's balances: its event.
            TestCase {
                trigger: Trigger::Threshold { seq: 37 },
                expected: "v00000007.e1.37@1",
            },
            // TC2: referral income: its event.
            TestCase {
                trigger: Trigger::ReferralIncome {
                    amount_usdc: dec!(3),
                    seq: 38,
                },
                expected: "v00000007.e1.38@1",
            },
            // TC3: the daily tick: its venue date, in UTC.
            TestCase {
                trigger: Trigger::Tick {
                    at: datetime!(2026-01-04 00:30 +02:00),
                },
                expected: "v00000007.d20260103@1",
            },
            // TC4: the calendar floor: the same day's name (one daily check a day).
            TestCase {
                trigger: Trigger::Calendar {
                    days_since: 30,
                    at: noon,
                },
                expected: "v00000007.d20260103@1",
            },
            // TC5: a request: the last event seen and its reason.
            TestCase {
                trigger: Trigger::Request {
                    reason: String::new(),
                },
                expected: "v00000007.q1.40.cbf29ce484222325@1",
            },
            // TC6: an event response decided on an event: that event, not the last one seen.
            TestCase {
                trigger: cut(DecidedOn::Event { seq: 39 }),
                expected: "v00000007.e1.39@1",
            },
            // TC7: an event response decided at the tick: the tick's date.
            TestCase {
                trigger: cut(DecidedOn::Day { at: noon }),
                expected: "v00000007.d20260103@1",
            },
        ];
        for (i, case) in cases.iter().enumerate() {
            let mut namer = PlanNamer::new(VENUE, 1);
            namer.saw_event(40);
            let name = namer.name(&case.trigger);
            assert_eq!(name.to_string(), case.expected, "TC{i}");
        }
    }

    #[test]
    fn two_namers_fed_alike_name_alike_and_attempts_count_per_trigger() {
        let win = Trigger::LargeWin {
            amount_usdc: dec!(50),
            fraction: dec!(0.2),
            seq: 5,
        };
        let tick = Trigger::Tick {
            at: datetime!(2026-01-01 00:05 UTC),
        };
        let names = |namer: &mut PlanNamer| {
            namer.saw_event(5);
            let first = namer.name(&win);
            // The interrupted plan resumed: the next attempt, never the same name.
            let again = namer.name(&win);
            namer.saw_event(6);
            let request = namer.name(&Trigger::Request { reason: "x".into() });
            // The tick decided before midnight and planned after it (it waited for a plan
            // in flight, or for a held jump's confirmation) keeps its day.
            namer.saw_event(9);
            let late_tick = namer.name(&tick);
            [first, again, request, late_tick].map(|id| id.to_string())
        };
        let (mut a, mut b) = (PlanNamer::new(VENUE, 0), PlanNamer::new(VENUE, 0));
        let expected = [
            "v00000007.e0.5@1",
            "v00000007.e0.5@2",
            "v00000007.q0.6.af63f54c86021707@1",
            "v00000007.d20260101@1",
        ];
        assert_eq!(names(&mut a), expected);
        assert_eq!(names(&mut b), expected);
    }

    #[test]
    fn a_renumbered_venue_starts_a_new_epoch_and_the_memory_is_bounded() {
        let mut namer = PlanNamer::new(VENUE, 0);
        let threshold = |seq| Trigger::Threshold { seq };
        assert_eq!(namer.name(&threshold(3)).to_string(), "v00000007.e0.3@1");
        namer.renumbered(1);
        assert_eq!(namer.epoch(), 1);
        // Event 3 of the new numbering is another event.
        assert_eq!(namer.name(&threshold(3)).to_string(), "v00000007.e1.3@1");
        for seq in 0..NAMER_MEMORY as u64 + 10 {
            namer.name(&threshold(1_000 + seq));
        }
        assert_eq!(namer.attempts.seen.len(), NAMER_MEMORY);
    }
}
