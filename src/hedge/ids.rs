//! Hedge ids and order keys: a hedge is named after what triggered it, so that two companions
//! watching the same agent give the same hedge the same keys and the venue fills it once.
//!
//! A hedge id is `v{tag}.{trigger}.h{service}@{attempt}`, e.g. `v1f2e3d4c.e0.36.hcasino@1`:
//! - `v{tag}`: the venue that numbered the trigger (as in plan ids, [`VenueTag`]);
//! - `{trigger}`: the balances the hedge was decided on: `e{epoch}.{seq}` for a snapshot
//!   reflecting venue event `seq` of numbering `epoch`, or `d{YYYYMMDD}` (the venue date)
//!   for one whose `seq` is unknown ([`hedge_trigger`]);
//! - `h{service}`: the service whose locked overweight it covers;
//! - `@{attempt}`: the hedges opened for that trigger and service, from 1 (a resize on the
//!   same balances opens attempt 2).
//!
//! Its open order goes under the idempotency key `{hedge_id}:open` and its close under
//! `{hedge_id}:close`. A resize closes one hedge and opens the next, so every key is used for
//! one request only.
//!
//! Earlier versions named hedges `{run_id}:h{seq}` ([`HedgeId::legacy`]); those still parse,
//! so hedges they left live reconcile. The two cannot be confused: a trigger id never holds a
//! `:`, a legacy one always does (and is read from the right, so a run id may hold one).
//!
//! # Invariants
//! - Parsing accepts exactly what `Display` writes, and a text that parses prints back
//!   unchanged.
//! - The same trigger, service and attempt give the same id in every companion: nothing
//!   here depends on the run, the process or the wall clock.
//! - Within one run a [`HedgeNamer`] never names the same trigger and service twice with the
//!   same attempt (it remembers the last [`HEDGE_NAMER_MEMORY`]).

use std::{fmt, str::FromStr};

use serde::Serialize;
use time::OffsetDateTime;

use crate::{
    execution::{Attempts, TriggerId, VenueTag, ids::parse_canonical},
    service::Service,
};

/// Triggers and services whose attempts a [`HedgeNamer`] remembers.
pub const HEDGE_NAMER_MEMORY: usize = 256;

/// One hedge.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HedgeId(HedgeName);

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum HedgeName {
    Trigger {
        venue: VenueTag,
        trigger: TriggerId,
        service: Service,
        attempt: u32,
    },
    Legacy {
        run_id: String,
        seq: u64,
    },
}

impl HedgeId {
    /// Hedge number `attempt` (from 1) for `service` on the balances of `trigger`, numbered
    /// by `venue`.
    pub fn for_trigger(
        venue: VenueTag,
        trigger: TriggerId,
        service: Service,
        attempt: u32,
    ) -> Self {
        Self(HedgeName::Trigger {
            venue,
            trigger,
            service,
            attempt,
        })
    }

    /// A hedge of an earlier version: the `seq`-th hedge of run `run_id`.
    pub fn legacy(run_id: impl Into<String>, seq: u64) -> Self {
        Self(HedgeName::Legacy {
            run_id: run_id.into(),
            seq,
        })
    }

    /// The run that opened a legacy hedge (`None` for a trigger hedge: the store knows).
    pub fn legacy_run_id(&self) -> Option<&str> {
        match &self.0 {
            HedgeName::Legacy { run_id, .. } => Some(run_id),
            HedgeName::Trigger { .. } => None,
        }
    }

    /// The trigger the hedge answers (`None` for a legacy hedge).
    pub fn trigger(&self) -> Option<TriggerId> {
        match &self.0 {
            HedgeName::Trigger { trigger, .. } => Some(*trigger),
            HedgeName::Legacy { .. } => None,
        }
    }

    /// The attempt (a trigger hedge) or the run's hedge number (a legacy one).
    pub fn number(&self) -> u64 {
        match &self.0 {
            HedgeName::Trigger { attempt, .. } => u64::from(*attempt),
            HedgeName::Legacy { seq, .. } => *seq,
        }
    }

    /// The idempotency key of its open order.
    pub fn open_key(&self) -> String {
        format!("{self}:open")
    }

    /// The idempotency key of its close.
    pub fn close_key(&self) -> String {
        format!("{self}:close")
    }
}

impl fmt::Display for HedgeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            HedgeName::Trigger {
                venue,
                trigger,
                service,
                attempt,
            } => write!(f, "{venue}.{trigger}.h{}@{attempt}", service.name()),
            HedgeName::Legacy { run_id, seq } => write!(f, "{run_id}:h{seq}"),
        }
    }
}

impl Serialize for HedgeId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// A hedge id that is not what ballast writes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "hedge id `{0}` is not `v{{tag}}.{{trigger}}.h{{service}}@{{attempt}}` nor `{{run_id}}:h{{seq}}`"
)]
pub struct HedgeIdError(pub String);

impl FromStr for HedgeId {
    type Err = HedgeIdError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || HedgeIdError(text.to_owned());
        if text.contains(':') {
            let (run_id, seq) = text.rsplit_once(":h").ok_or_else(bad)?;
            let seq = parse_canonical(seq).ok_or_else(bad)?;
            if run_id.is_empty() {
                return Err(bad());
            }
            return Ok(HedgeId::legacy(run_id, seq));
        }
        let (named, attempt) = text.rsplit_once('@').ok_or_else(bad)?;
        let attempt = parse_canonical(attempt).ok_or_else(bad)?;
        let (venue, rest) = named.split_once('.').ok_or_else(bad)?;
        // Trigger texts hold only digits, lowercase hex and their letters `e`, `d`, `q`:
        // never `.h`, so the last one starts the service.
        let (trigger, service) = rest.rsplit_once(".h").ok_or_else(bad)?;
        let venue = venue.parse().map_err(|()| bad())?;
        let trigger = trigger.parse().map_err(|()| bad())?;
        let service = service.parse::<Service>().map_err(|_| bad())?;
        let id = HedgeId::for_trigger(venue, trigger, service, attempt);
        // Only the canonical spelling (`Service`'s parse may be lenient).
        if id.to_string() != text {
            return Err(bad());
        }
        Ok(id)
    }
}

/// The trigger of a hedge decided on balances reflecting venue event `seq` (numbering
/// `epoch`), or, when the balances do not say, on the venue date of `at`.
pub fn hedge_trigger(seq: Option<u64>, epoch: u32, at: OffsetDateTime) -> TriggerId {
    TriggerId::event_or_day(seq, epoch, at)
}

/// Names one run's hedges: the attempts made for each trigger and service.
#[derive(Debug, Clone)]
pub struct HedgeNamer {
    venue: VenueTag,
    attempts: Attempts<(TriggerId, Service)>,
}

impl HedgeNamer {
    /// A namer for hedges of `venue`'s triggers.
    pub fn new(venue: VenueTag) -> Self {
        Self {
            venue,
            attempts: Attempts::new(HEDGE_NAMER_MEMORY),
        }
    }

    /// The id of the next hedge for `service` on the balances of `trigger`.
    pub fn name(&mut self, trigger: TriggerId, service: Service) -> HedgeId {
        let attempt = self.attempts.next((trigger, service));
        HedgeId::for_trigger(self.venue, trigger, service, attempt)
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn ids_round_trip_and_keys_derive_from_them() {
        struct TestCase {
            text: &'static str,
            parses: bool,
        }
        let cases = [
            // TC0: a trigger hedge on an event's balances.
            TestCase {
                text: "v1f2e3d4c.e0.36.hcasino@1",
                parses: true,
            },
            // TC1: on a day's (seq unknown), a resize's second attempt.
            TestCase {
                text: "v00000001.d20260102.htrading@2",
                parses: true,
            },
            // TC2: a legacy id, its run id holding a colon and an `:h` of its own.
            TestCase {
                text: "a:hb:h12",
                parses: true,
            },
            // TC3: a leading zero would not print back the same.
            TestCase {
                text: "v1f2e3d4c.e0.36.hcasino@01",
                parses: false,
            },
            // TC4: an unknown service.
            TestCase {
                text: "v1f2e3d4c.e0.36.hbank@1",
                parses: false,
            },
            // TC5: a plan id is no hedge id.
            TestCase {
                text: "v1f2e3d4c.e0.36@1",
                parses: false,
            },
            // TC6: a legacy id without its run id, or with a leading zero.
            TestCase {
                text: ":h1",
                parses: false,
            },
            TestCase {
                text: "r:h03",
                parses: false,
            },
            // TC8: a leg key is not a hedge id.
            TestCase {
                text: "r1:2:0",
                parses: false,
            },
        ];
        for (i, case) in cases.iter().enumerate() {
            let parsed = case.text.parse::<HedgeId>();
            assert_eq!(parsed.is_ok(), case.parses, "TC{i}: {parsed:?}");
            if let Ok(id) = parsed {
                assert_eq!(id.to_string(), case.text, "TC{i}");
            }
        }
        let legacy = HedgeId::legacy("r1", 7);
        assert_eq!(legacy.open_key(), "r1:h7:open");
        assert_eq!(legacy.close_key(), "r1:h7:close");
        assert_eq!((legacy.legacy_run_id(), legacy.number()), (Some("r1"), 7));
        let id = HedgeId::for_trigger(
            VenueTag(0x1f2e_3d4c),
            TriggerId::Event { epoch: 0, seq: 36 },
            Service::Casino,
            1,
        );
        assert_eq!(id.open_key(), "v1f2e3d4c.e0.36.hcasino@1:open");
        assert_eq!(id.close_key(), "v1f2e3d4c.e0.36.hcasino@1:close");
        assert_eq!(id.legacy_run_id(), None);
    }

    #[test]
    fn two_namers_fed_alike_name_alike_and_never_repeat_within_a_run() {
        let venue = VenueTag::of("http://127.0.0.1:8787/api/v1#agent-1");
        let at = datetime!(2026-01-02 23:59 UTC);
        let on_event = hedge_trigger(Some(36), 1, at);
        let on_day = hedge_trigger(None, 1, at);
        assert_eq!(on_event, TriggerId::Event { epoch: 1, seq: 36 });
        assert_eq!(on_day.to_string(), "d20260102");
        let steps = [
            (on_event, Service::Casino),
            (on_event, Service::Casino),
            (on_event, Service::Escrow),
            (on_day, Service::Casino),
        ];
        let (mut a, mut b) = (HedgeNamer::new(venue), HedgeNamer::new(venue));
        let named_a: Vec<String> = steps
            .iter()
            .map(|(t, s)| a.name(*t, *s).to_string())
            .collect();
        let named_b: Vec<String> = steps
            .iter()
            .map(|(t, s)| b.name(*t, *s).to_string())
            .collect();
        assert_eq!(named_a, named_b);
        let mut unique = named_a.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), named_a.len(), "{named_a:?}");
        assert!(named_a[1].ends_with(".e1.36.hcasino@2"), "{named_a:?}");
        // Another venue numbers its events alike: its hedges are named apart.
        let mut other = HedgeNamer::new(VenueTag::of("http://127.0.0.1:9999/api/v1#agent-1"));
        assert_ne!(
            other.name(on_event, Service::Casino).to_string(),
            named_a[0]
        );
    }
}
