//! Plan ids and leg keys: how a plan and each of its legs are named, written and parsed in
//! one place.
//!
//! A plan is named after what triggered it, so that two companions reacting to the same
//! trigger give their plans the same name, their legs the same idempotency keys, and the
//! venue, which applies a key once, applies each leg once:
//! - a venue event: `e{epoch}.{seq}`, the event's `seq` within the venue's numbering (the
//!   epoch counts the numbering resets ballast has seen, 0 until one happens);
//! - a daily check (tick or calendar floor): `d{YYYYMMDD}`, the venue date;
//! - a request: `q{epoch}.{after_seq}.{digest}`, the last event seen before it and the
//!   FNV-1a digest of its reason (16 hex digits).
//!
//! Triggers are numbered by a venue, so a plan id also names the venue: `v{tag}`, eight hex
//! digits of the digest of the event stream's name (`{api_base_url}#{agent_id}`, the same
//! name the stored cursor has). Two venues (the embedded simulator of each run, on its own
//! port) number their events alike; their plans must not share names.
//!
//! A plan id is `v{tag}.{trigger}@{attempt}`: the attempt counts the plans made for one
//! trigger (an interrupted plan resumed after a resync is attempt 2). A leg key is
//! `{plan_id}:{leg_index}`, the venue idempotency key the leg is sent (and only ever re-sent)
//! under, e.g. `v1f2e3d4c.e0.36@1:0`.
//!
//! Earlier versions named plans `{run_id}:{plan_seq}` ([`PlanId::legacy`]); those still
//! parse, so legs they left pending reconcile. The two cannot be confused: a trigger plan
//! id never holds a `:`, a legacy one always does. Legacy parsing reads from the right
//! (`rsplit` on `:`), so a run id may itself hold a `:`.
//!
//! # Invariants
//! - `Display` is the one place a key is written; legacy keys print byte-identical to the
//!   keys stored and sent by earlier versions.
//! - Parsing accepts exactly what `Display` writes: `parse(x.to_string()) == x`, and a text
//!   that parses prints back unchanged (numbers are plain decimal digits without a sign or a
//!   leading zero, digests are lowercase hex of a fixed width, the run id is not empty).

use std::{fmt, str::FromStr};

use serde::{Serialize, Serializer};
use time::{Date, Month};

/// A key or id text that is not what ballast writes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// A legacy plan id: no `:` separates the run id from the plan sequence number.
    #[error("plan id `{0}` has no `:` before its sequence number")]
    MissingPlanSeq(String),
    /// A legacy plan id: the part before the last `:` is empty.
    #[error("plan id `{0}` has an empty run id")]
    EmptyRunId(String),
    /// A legacy plan id: the plan sequence number is not plain decimal digits.
    #[error("plan id `{text}`: `{seq}` is not a plan sequence number")]
    BadPlanSeq {
        /// The whole plan id.
        text: String,
        /// The part after the last `:`.
        seq: String,
    },
    /// A trigger plan id: no `@` separates the trigger from the attempt.
    #[error("plan id `{0}` has no `@` before its attempt")]
    MissingAttempt(String),
    /// A trigger plan id: the attempt is not plain decimal digits fitting a `u32`.
    #[error("plan id `{text}`: `{attempt}` is not an attempt number")]
    BadAttempt {
        /// The whole plan id.
        text: String,
        /// The part after the last `@`.
        attempt: String,
    },
    /// A trigger plan id: it does not start with a venue tag (`v` and eight hex digits).
    #[error("plan id `{text}`: `{venue}` is not a venue tag")]
    BadVenue {
        /// The whole plan id.
        text: String,
        /// The part before the first `.`.
        venue: String,
    },
    /// A trigger plan id: the trigger is not one ballast writes.
    #[error("plan id `{text}`: `{trigger}` is not a trigger id")]
    BadTrigger {
        /// The whole plan id.
        text: String,
        /// The part before the last `@`.
        trigger: String,
    },
    /// No `:` separates the plan id from the leg index.
    #[error("leg key `{0}` has no `:` before its leg index")]
    MissingLegIndex(String),
    /// The leg index is not plain decimal digits fitting a `u32`.
    #[error("leg key `{text}`: `{index}` is not a leg index")]
    BadLegIndex {
        /// The whole key.
        text: String,
        /// The part after the last `:`.
        index: String,
    },
    /// The part before the leg index is not a plan id.
    #[error("leg key `{text}`: {reason}")]
    BadPlanId {
        /// The whole key.
        text: String,
        /// What is wrong with its plan id.
        reason: Box<IdError>,
    },
}

/// Which venue numbered a plan's trigger: the first 32 bits of the FNV-1a digest of the
/// event stream's name (`{api_base_url}#{agent_id}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VenueTag(pub u32);

impl VenueTag {
    /// The tag of the stream named `stream`.
    pub fn of(stream: &str) -> Self {
        Self((fnv1a(stream.as_bytes()) >> 32) as u32)
    }
}

impl fmt::Display for VenueTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{:08x}", self.0)
    }
}

impl FromStr for VenueTag {
    type Err = ();

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let hex = text.strip_prefix('v').ok_or(())?;
        let canonical = hex.len() == 8
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !canonical {
            return Err(());
        }
        u32::from_str_radix(hex, 16).map(Self).map_err(|_| ())
    }
}

/// What a plan answers: the same trigger has the same id in every companion that sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TriggerId {
    /// A venue event (large win, referral income, a band breach on its balances).
    Event {
        /// Numbering resets seen before it (0 until the venue renumbers its events).
        epoch: u32,
        /// The event's `seq`.
        seq: u64,
    },
    /// The daily check of one venue date (the tick's band check or the calendar floor).
    Day {
        /// The venue date (UTC), years 0 to 9999.
        date: Date,
    },
    /// A rebalance request.
    Request {
        /// Numbering resets seen before it.
        epoch: u32,
        /// The last venue event seen before the request.
        after_seq: u64,
        /// FNV-1a digest of the request's reason.
        digest: u64,
    },
}

impl TriggerId {
    /// The trigger of a decision taken on what venue event `seq` (numbering `epoch`) showed,
    /// or, when no event number is known, on the venue date of `at` (hedges and harvests).
    pub fn event_or_day(seq: Option<u64>, epoch: u32, at: time::OffsetDateTime) -> Self {
        match seq {
            Some(seq) => TriggerId::Event { epoch, seq },
            None => TriggerId::Day {
                date: at.to_offset(time::UtcOffset::UTC).date(),
            },
        }
    }

    /// The id of request `reason` made after event `after_seq` of numbering `epoch`.
    pub fn request(epoch: u32, after_seq: u64, reason: &str) -> Self {
        TriggerId::Request {
            epoch,
            after_seq,
            digest: fnv1a(reason.as_bytes()),
        }
    }
}

impl fmt::Display for TriggerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            TriggerId::Event { epoch, seq } => write!(f, "e{epoch}.{seq}"),
            TriggerId::Day { date } => write!(
                f,
                "d{:04}{:02}{:02}",
                date.year(),
                u8::from(date.month()),
                date.day()
            ),
            TriggerId::Request {
                epoch,
                after_seq,
                digest,
            } => write!(f, "q{epoch}.{after_seq}.{digest:016x}"),
        }
    }
}

impl FromStr for TriggerId {
    type Err = ();

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if let Some(rest) = text.strip_prefix('e') {
            let (epoch, seq) = rest.split_once('.').ok_or(())?;
            return Ok(TriggerId::Event {
                epoch: parse_canonical(epoch).ok_or(())?,
                seq: parse_canonical(seq).ok_or(())?,
            });
        }
        if let Some(rest) = text.strip_prefix('d') {
            if rest.len() != 8 || !rest.bytes().all(|b| b.is_ascii_digit()) {
                return Err(());
            }
            let year: i32 = rest[..4].parse().map_err(|_| ())?;
            let month: u8 = rest[4..6].parse().map_err(|_| ())?;
            let day: u8 = rest[6..].parse().map_err(|_| ())?;
            let month = Month::try_from(month).map_err(|_| ())?;
            let date = Date::from_calendar_date(year, month, day).map_err(|_| ())?;
            return Ok(TriggerId::Day { date });
        }
        if let Some(rest) = text.strip_prefix('q') {
            let mut parts = rest.split('.');
            let (Some(epoch), Some(after_seq), Some(digest), None) =
                (parts.next(), parts.next(), parts.next(), parts.next())
            else {
                return Err(());
            };
            let canonical_hex = digest.len() == 16
                && digest
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
            if !canonical_hex {
                return Err(());
            }
            return Ok(TriggerId::Request {
                epoch: parse_canonical(epoch).ok_or(())?,
                after_seq: parse_canonical(after_seq).ok_or(())?,
                digest: u64::from_str_radix(digest, 16).map_err(|_| ())?,
            });
        }
        Err(())
    }
}

/// One plan: `v{tag}.{trigger}@{attempt}`, or, for plans of earlier versions,
/// `{run_id}:{plan_seq}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PlanId(PlanName);

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum PlanName {
    Trigger {
        venue: VenueTag,
        trigger: TriggerId,
        attempt: u32,
    },
    Legacy {
        run_id: String,
        plan_seq: u64,
    },
}

impl PlanId {
    /// Plan number `attempt` (from 1) for `trigger`, numbered by `venue`.
    pub fn for_trigger(venue: VenueTag, trigger: TriggerId, attempt: u32) -> Self {
        Self(PlanName::Trigger {
            venue,
            trigger,
            attempt,
        })
    }

    /// A plan of an earlier version: the `plan_seq`-th plan of run `run_id` (a non-empty id,
    /// as every run has).
    pub fn legacy(run_id: impl Into<String>, plan_seq: u64) -> Self {
        Self(PlanName::Legacy {
            run_id: run_id.into(),
            plan_seq,
        })
    }

    /// The venue that numbered the plan's trigger (`None` for a legacy plan).
    pub fn venue(&self) -> Option<VenueTag> {
        match &self.0 {
            PlanName::Trigger { venue, .. } => Some(*venue),
            PlanName::Legacy { .. } => None,
        }
    }

    /// The trigger the plan answers (`None` for a legacy plan).
    pub fn trigger(&self) -> Option<TriggerId> {
        match &self.0 {
            PlanName::Trigger { trigger, .. } => Some(*trigger),
            PlanName::Legacy { .. } => None,
        }
    }

    /// The run that made a legacy plan (`None` for a trigger plan: the store knows its run).
    pub fn legacy_run_id(&self) -> Option<&str> {
        match &self.0 {
            PlanName::Legacy { run_id, .. } => Some(run_id),
            PlanName::Trigger { .. } => None,
        }
    }

    /// The key of leg `leg_index` of this plan.
    pub fn leg(&self, leg_index: u32) -> LegKey {
        LegKey {
            plan_id: self.clone(),
            leg_index,
        }
    }
}

impl fmt::Display for PlanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            PlanName::Trigger {
                venue,
                trigger,
                attempt,
            } => write!(f, "{venue}.{trigger}@{attempt}"),
            PlanName::Legacy { run_id, plan_seq } => write!(f, "{run_id}:{plan_seq}"),
        }
    }
}

impl FromStr for PlanId {
    type Err = IdError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.contains(':') {
            return parse_legacy(text);
        }
        let (named, attempt) = text
            .rsplit_once('@')
            .ok_or_else(|| IdError::MissingAttempt(text.to_owned()))?;
        let attempt = parse_canonical(attempt).ok_or_else(|| IdError::BadAttempt {
            text: text.to_owned(),
            attempt: attempt.to_owned(),
        })?;
        let (venue, trigger) = named.split_once('.').unwrap_or((named, ""));
        let venue = venue.parse().map_err(|()| IdError::BadVenue {
            text: text.to_owned(),
            venue: venue.to_owned(),
        })?;
        let trigger = trigger.parse().map_err(|()| IdError::BadTrigger {
            text: text.to_owned(),
            trigger: trigger.to_owned(),
        })?;
        Ok(Self::for_trigger(venue, trigger, attempt))
    }
}

/// `{run_id}:{plan_seq}`, read from the right.
fn parse_legacy(text: &str) -> Result<PlanId, IdError> {
    let (run_id, seq) = text
        .rsplit_once(':')
        .ok_or_else(|| IdError::MissingPlanSeq(text.to_owned()))?;
    if run_id.is_empty() {
        return Err(IdError::EmptyRunId(text.to_owned()));
    }
    let plan_seq = parse_canonical(seq).ok_or_else(|| IdError::BadPlanSeq {
        text: text.to_owned(),
        seq: seq.to_owned(),
    })?;
    Ok(PlanId::legacy(run_id, plan_seq))
}

/// One leg of one plan, `{plan_id}:{leg_index}`: the leg's venue idempotency key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LegKey {
    plan_id: PlanId,
    leg_index: u32,
}

impl LegKey {
    /// The plan the leg belongs to.
    pub fn plan_id(&self) -> &PlanId {
        &self.plan_id
    }

    /// The leg's position in its plan (from 0).
    pub fn leg_index(&self) -> u32 {
        self.leg_index
    }
}

impl fmt::Display for LegKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.plan_id, self.leg_index)
    }
}

impl FromStr for LegKey {
    type Err = IdError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (plan_id, index) = text
            .rsplit_once(':')
            .ok_or_else(|| IdError::MissingLegIndex(text.to_owned()))?;
        let leg_index = parse_canonical(index).ok_or_else(|| IdError::BadLegIndex {
            text: text.to_owned(),
            index: index.to_owned(),
        })?;
        let plan_id = plan_id.parse().map_err(|reason| IdError::BadPlanId {
            text: text.to_owned(),
            reason: Box::new(reason),
        })?;
        Ok(Self { plan_id, leg_index })
    }
}

/// Ids travel as their text (event lines, JSON), exactly as `Display` writes them.
impl Serialize for PlanId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl Serialize for LegKey {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// A number as `Display` writes it: digits only, no sign, no leading zero (except `0`), so
/// that what parses prints back byte for byte; `None` too when it does not fit `T`. Plan,
/// leg and hedge ids all read their numbers with it.
pub(crate) fn parse_canonical<T: TryFrom<u64>>(text: &str) -> Option<T> {
    let canonical = !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    canonical
        .then(|| text.parse::<u64>().ok())
        .flatten()
        .and_then(|number| T::try_from(number).ok())
}

/// 64-bit FNV-1a: a digest every build and platform computes alike (std's hashers are
/// seeded per process, so two companions would disagree).
fn fnv1a(bytes: &[u8]) -> u64 {
    const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    bytes.iter().fold(OFFSET_BASIS, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(PRIME)
    })
}

#[cfg(test)]
mod tests;
