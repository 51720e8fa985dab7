//! Plan ids and leg keys: how a plan and each of its legs are named, in one place.
//!
//! A plan is `{run_id}:{plan_seq}`; a leg is `{plan_id}:{leg_index}`, which is also the
//! venue idempotency key the leg is sent (and only ever re-sent) under. Run ids are unique
//! across runs, so keys are too. Parsing reads from the right (`rsplit` on `:`), so a run id
//! may itself hold a `:` and still round-trip.
//!
//! # Invariants
//! - `Display` is the one place a key is written; its text is byte-identical to the keys
//!   stored and sent before these types existed.
//! - Parsing accepts exactly what `Display` writes: `parse(x.to_string()) == x`, and a text
//!   that parses prints back unchanged (numbers are plain decimal digits without a sign or a
//!   leading zero, and the run id is not empty).

use std::{fmt, str::FromStr};

use serde::{Serialize, Serializer};

/// A key or id text that is not what ballast writes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// No `:` separates the run id from the plan sequence number.
    #[error("plan id `{0}` has no `:` before its sequence number")]
    MissingPlanSeq(String),
    /// The part before the last `:` is empty.
    #[error("plan id `{0}` has an empty run id")]
    EmptyRunId(String),
    /// The plan sequence number is not plain decimal digits.
    #[error("plan id `{text}`: `{seq}` is not a plan sequence number")]
    BadPlanSeq {
        /// The whole plan id.
        text: String,
        /// The part after the last `:`.
        seq: String,
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

/// One plan of one run: `{run_id}:{plan_seq}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PlanId {
    run_id: String,
    plan_seq: u64,
}

impl PlanId {
    /// The `plan_seq`-th plan of run `run_id` (a non-empty id, as every run has).
    pub fn new(run_id: impl Into<String>, plan_seq: u64) -> Self {
        Self {
            run_id: run_id.into(),
            plan_seq,
        }
    }

    /// The run that made the plan.
    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// The plan's number within its run (from 1).
    pub fn plan_seq(&self) -> u64 {
        self.plan_seq
    }

    /// Whether run `run_id` made this plan.
    pub fn belongs_to(&self, run_id: &str) -> bool {
        self.run_id == run_id
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
        write!(f, "{}:{}", self.run_id, self.plan_seq)
    }
}

impl FromStr for PlanId {
    type Err = IdError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
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
        Ok(Self::new(run_id, plan_seq))
    }
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
        let leg_index = parse_canonical(index)
            .and_then(|index| u32::try_from(index).ok())
            .ok_or_else(|| IdError::BadLegIndex {
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
/// that what parses prints back byte for byte.
fn parse_canonical(text: &str) -> Option<u64> {
    let canonical = !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    canonical.then(|| text.parse().ok()).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_ids_format_and_parse_back() {
        struct TestCase {
            run_id: &'static str,
            plan_seq: u64,
            expected: &'static str,
        }
        let cases = [
            // TC0: a generated run id.
            TestCase {
                run_id: "r19a2b3c4d5e6f",
                plan_seq: 1,
                expected: "r19a2b3c4d5e6f:1",
            },
            // TC1: a hand-picked run id.
            TestCase {
                run_id: "old-run",
                plan_seq: 42,
                expected: "old-run:42",
            },
            // TC2: a run id holding a `:` still round-trips (parsing reads from the right).
            TestCase {
                run_id: "a:b",
                plan_seq: 0,
                expected: "a:b:0",
            },
            // TC3: the largest sequence number.
            TestCase {
                run_id: "r",
                plan_seq: u64::MAX,
                expected: "r:18446744073709551615",
            },
        ];
        for (i, case) in cases.iter().enumerate() {
            let plan_id = PlanId::new(case.run_id, case.plan_seq);
            assert_eq!(plan_id.to_string(), case.expected, "TC{i}");
            assert_eq!(case.expected.parse::<PlanId>(), Ok(plan_id), "TC{i}");
        }
    }

    #[test]
    fn leg_keys_format_and_parse_back() {
        struct TestCase {
            run_id: &'static str,
            plan_seq: u64,
            leg_index: u32,
            expected: &'static str,
        }
        let cases = [
            // TC0: the first leg of a plan.
            TestCase {
                run_id: "r1",
                plan_seq: 1,
                leg_index: 0,
                expected: "r1:1:0",
            },
            // TC1: a later leg of a later plan.
            TestCase {
                run_id: "old-run",
                plan_seq: 12,
                leg_index: 3,
                expected: "old-run:12:3",
            },
            // TC2: a run id holding a `:`.
            TestCase {
                run_id: "a:b",
                plan_seq: 7,
                leg_index: 10,
                expected: "a:b:7:10",
            },
            // TC3: the largest leg index.
            TestCase {
                run_id: "r",
                plan_seq: 1,
                leg_index: u32::MAX,
                expected: "r:1:4294967295",
            },
        ];
        for (i, case) in cases.iter().enumerate() {
            let plan_id = PlanId::new(case.run_id, case.plan_seq);
            let key = plan_id.leg(case.leg_index);
            assert_eq!(key.to_string(), case.expected, "TC{i}");
            let parsed = case.expected.parse::<LegKey>().expect("parses");
            assert_eq!(parsed, key, "TC{i}");
            assert_eq!(parsed.plan_id(), &plan_id, "TC{i}");
            assert_eq!(parsed.leg_index(), case.leg_index, "TC{i}");
            assert_eq!(parsed.plan_id().run_id(), case.run_id, "TC{i}");
            assert_eq!(parsed.plan_id().plan_seq(), case.plan_seq, "TC{i}");
        }
    }

    #[test]
    fn malformed_plan_ids_are_refused_by_name() {
        struct TestCase {
            input: &'static str,
            expected: IdError,
        }
        let cases = [
            // TC0: no separator at all.
            TestCase {
                input: "r1",
                expected: IdError::MissingPlanSeq("r1".into()),
            },
            // TC1: the empty text.
            TestCase {
                input: "",
                expected: IdError::MissingPlanSeq(String::new()),
            },
            // TC2: nothing before the separator.
            TestCase {
                input: ":1",
                expected: IdError::EmptyRunId(":1".into()),
            },
            // TC3: nothing after it.
            TestCase {
                input: "r1:",
                expected: IdError::BadPlanSeq {
                    text: "r1:".into(),
                    seq: String::new(),
                },
            },
            // TC4: not a number.
            TestCase {
                input: "r1:x",
                expected: IdError::BadPlanSeq {
                    text: "r1:x".into(),
                    seq: "x".into(),
                },
            },
            // TC5: a sign would not print back.
            TestCase {
                input: "r1:+1",
                expected: IdError::BadPlanSeq {
                    text: "r1:+1".into(),
                    seq: "+1".into(),
                },
            },
            // TC6: a leading zero would not print back.
            TestCase {
                input: "r1:01",
                expected: IdError::BadPlanSeq {
                    text: "r1:01".into(),
                    seq: "01".into(),
                },
            },
            // TC7: beyond u64.
            TestCase {
                input: "r1:18446744073709551616",
                expected: IdError::BadPlanSeq {
                    text: "r1:18446744073709551616".into(),
                    seq: "18446744073709551616".into(),
                },
            },
        ];
        for (i, case) in cases.iter().enumerate() {
            assert_eq!(
                case.input.parse::<PlanId>(),
                Err(case.expected.clone()),
                "TC{i}"
            );
        }
    }

    #[test]
    fn malformed_leg_keys_are_refused_by_name() {
        struct TestCase {
            input: &'static str,
            expected: IdError,
        }
        let cases = [
            // TC0: no separator at all.
            TestCase {
                input: "abc",
                expected: IdError::MissingLegIndex("abc".into()),
            },
            // TC1: a plan id alone is not a leg key.
            TestCase {
                input: "r1:1",
                expected: IdError::BadPlanId {
                    text: "r1:1".into(),
                    reason: Box::new(IdError::MissingPlanSeq("r1".into())),
                },
            },
            // TC2: the leg index is not a number.
            TestCase {
                input: "r1:1:x",
                expected: IdError::BadLegIndex {
                    text: "r1:1:x".into(),
                    index: "x".into(),
                },
            },
            // TC3: a negative leg index.
            TestCase {
                input: "r1:1:-1",
                expected: IdError::BadLegIndex {
                    text: "r1:1:-1".into(),
                    index: "-1".into(),
                },
            },
            // TC4: beyond u32.
            TestCase {
                input: "r1:1:4294967296",
                expected: IdError::BadLegIndex {
                    text: "r1:1:4294967296".into(),
                    index: "4294967296".into(),
                },
            },
            // TC5: an empty leg index.
            TestCase {
                input: "r1:1:",
                expected: IdError::BadLegIndex {
                    text: "r1:1:".into(),
                    index: String::new(),
                },
            },
            // TC6: the plan sequence number is not a number.
            TestCase {
                input: "r1:x:0",
                expected: IdError::BadPlanId {
                    text: "r1:x:0".into(),
                    reason: Box::new(IdError::BadPlanSeq {
                        text: "r1:x".into(),
                        seq: "x".into(),
                    }),
                },
            },
            // TC7: a leading zero in the leg index would not print back.
            TestCase {
                input: "r1:1:00",
                expected: IdError::BadLegIndex {
                    text: "r1:1:00".into(),
                    index: "00".into(),
                },
            },
        ];
        for (i, case) in cases.iter().enumerate() {
            assert_eq!(
                case.input.parse::<LegKey>(),
                Err(case.expected.clone()),
                "TC{i}"
            );
        }
    }

    #[test]
    fn a_plan_belongs_only_to_the_run_that_made_it() {
        struct TestCase {
            plan_id: &'static str,
            run_id: &'static str,
            expected: bool,
        }
        let cases = [
            // TC0: the same run.
            TestCase {
                plan_id: "r1:3",
                run_id: "r1",
                expected: true,
            },
            // TC1: another run.
            TestCase {
                plan_id: "old-run:1",
                run_id: "r1",
                expected: false,
            },
            // TC2: a run whose id merely starts the same.
            TestCase {
                plan_id: "r10:1",
                run_id: "r1",
                expected: false,
            },
        ];
        for (i, case) in cases.iter().enumerate() {
            let plan_id: PlanId = case.plan_id.parse().expect("parses");
            assert_eq!(plan_id.belongs_to(case.run_id), case.expected, "TC{i}");
        }
    }

    #[test]
    fn errors_name_the_text_and_ids_serialize_as_text() {
        let error = "r1:1:x".parse::<LegKey>().expect_err("malformed");
        assert_eq!(
            error.to_string(),
            "leg key `r1:1:x`: `x` is not a leg index"
        );
        let error = "r1:x:0".parse::<LegKey>().expect_err("malformed");
        assert_eq!(
            error.to_string(),
            "leg key `r1:x:0`: plan id `r1:x`: `x` is not a plan sequence number"
        );
        let key = PlanId::new("r1", 2).leg(1);
        assert_eq!(
            serde_json::to_value(&key).expect("serializes"),
            serde_json::json!("r1:2:1")
        );
        assert_eq!(
            serde_json::to_value(key.plan_id()).expect("serializes"),
            serde_json::json!("r1:2")
        );
    }

    mod property_tests {
        use proptest::prelude::*;

        use super::*;

        proptest! {
            #[test]
            fn prop_keys_round_trip(run_id in "[a-z0-9:-]{1,12}", plan_seq in any::<u64>(),
                                    leg_index in any::<u32>()) {
                let key = PlanId::new(run_id, plan_seq).leg(leg_index);
                prop_assert_eq!(key.to_string().parse::<LegKey>(), Ok(key));
            }

            #[test]
            fn prop_what_parses_prints_back(text in "[a-z0-9:+-]{0,16}") {
                if let Ok(key) = text.parse::<LegKey>() {
                    prop_assert_eq!(key.to_string(), text);
                }
            }
        }
    }
}
