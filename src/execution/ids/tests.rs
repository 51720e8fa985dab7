//! Id tests: every format round-trips, every malformed text is refused by name, and the
//! legacy format stays readable.

use super::*;

/// A venue tag for the examples.
const VENUE: VenueTag = VenueTag(42);

#[test]
fn legacy_plan_ids_format_and_parse_back() {
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
        let plan_id = PlanId::legacy(case.run_id, case.plan_seq);
        assert_eq!(plan_id.to_string(), case.expected, "TC{i}");
        assert_eq!(case.expected.parse::<PlanId>(), Ok(plan_id), "TC{i}");
    }
}

#[test]
fn legacy_leg_keys_format_and_parse_back() {
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
        let plan_id = PlanId::legacy(case.run_id, case.plan_seq);
        let key = plan_id.leg(case.leg_index);
        assert_eq!(key.to_string(), case.expected, "TC{i}");
        let parsed = case.expected.parse::<LegKey>().expect("parses");
        assert_eq!(parsed, key, "TC{i}");
        assert_eq!(parsed.plan_id(), &plan_id, "TC{i}");
        assert_eq!(parsed.leg_index(), case.leg_index, "TC{i}");
        assert_eq!(parsed.plan_id().legacy_run_id(), Some(case.run_id), "TC{i}");
        assert_eq!(parsed.plan_id().trigger(), None, "TC{i}");
    }
}

/// A text that must not parse, and the error that names why.
struct Refusal {
    input: &'static str,
    expected: IdError,
}

/// Asserts that every case's text is refused as a `T` with exactly its error.
fn assert_refused<T: FromStr<Err = IdError> + std::fmt::Debug + PartialEq>(cases: &[Refusal]) {
    for (i, case) in cases.iter().enumerate() {
        assert_eq!(case.input.parse::<T>(), Err(case.expected.clone()), "TC{i}");
    }
}

fn bad_seq(text: &str, seq: &str) -> IdError {
    IdError::BadPlanSeq {
        text: text.into(),
        seq: seq.into(),
    }
}

fn bad_index(text: &str, index: &str) -> IdError {
    IdError::BadLegIndex {
        text: text.into(),
        index: index.into(),
    }
}

fn bad_trigger(text: &str, trigger: &str) -> IdError {
    IdError::BadTrigger {
        text: text.into(),
        trigger: trigger.into(),
    }
}

fn bad_attempt(text: &str, attempt: &str) -> IdError {
    IdError::BadAttempt {
        text: text.into(),
        attempt: attempt.into(),
    }
}

fn bad_venue(text: &str, venue: &str) -> IdError {
    IdError::BadVenue {
        text: text.into(),
        venue: venue.into(),
    }
}

#[test]
fn malformed_plan_ids_are_refused_by_name() {
    let cases = [
        // TC0: no separator at all: not legacy (no `:`), and no `@` either.
        Refusal {
            input: "r1",
            expected: IdError::MissingAttempt("r1".into()),
        },
        // TC1: the empty text.
        Refusal {
            input: "",
            expected: IdError::MissingAttempt(String::new()),
        },
        // TC2: nothing before the separator.
        Refusal {
            input: ":1",
            expected: IdError::EmptyRunId(":1".into()),
        },
        // TC3: nothing after it.
        Refusal {
            input: "r1:",
            expected: bad_seq("r1:", ""),
        },
        // TC4: not a number.
        Refusal {
            input: "r1:x",
            expected: bad_seq("r1:x", "x"),
        },
        // TC5: a sign would not print back.
        Refusal {
            input: "r1:+1",
            expected: bad_seq("r1:+1", "+1"),
        },
        // TC6: a leading zero would not print back.
        Refusal {
            input: "r1:01",
            expected: bad_seq("r1:01", "01"),
        },
        // TC7: beyond u64.
        Refusal {
            input: "r1:18446744073709551616",
            expected: bad_seq("r1:18446744073709551616", "18446744073709551616"),
        },
    ];
    assert_refused::<PlanId>(&cases);
}

#[test]
fn malformed_leg_keys_are_refused_by_name() {
    let cases = [
        // TC0: no separator at all.
        Refusal {
            input: "abc",
            expected: IdError::MissingLegIndex("abc".into()),
        },
        // TC1: a legacy plan id alone is not a leg key.
        Refusal {
            input: "r1:1",
            expected: IdError::BadPlanId {
                text: "r1:1".into(),
                reason: Box::new(IdError::MissingAttempt("r1".into())),
            },
        },
        // TC2: the leg index is not a number.
        Refusal {
            input: "r1:1:x",
            expected: bad_index("r1:1:x", "x"),
        },
        // TC3: a negative leg index.
        Refusal {
            input: "r1:1:-1",
            expected: bad_index("r1:1:-1", "-1"),
        },
        // TC4: beyond u32.
        Refusal {
            input: "r1:1:4294967296",
            expected: bad_index("r1:1:4294967296", "4294967296"),
        },
        // TC5: an empty leg index.
        Refusal {
            input: "r1:1:",
            expected: bad_index("r1:1:", ""),
        },
        // TC6: the plan sequence number is not a number.
        Refusal {
            input: "r1:x:0",
            expected: IdError::BadPlanId {
                text: "r1:x:0".into(),
                reason: Box::new(bad_seq("r1:x", "x")),
            },
        },
        // TC7: a leading zero in the leg index would not print back.
        Refusal {
            input: "r1:1:00",
            expected: bad_index("r1:1:00", "00"),
        },
    ];
    assert_refused::<LegKey>(&cases);
}

#[test]
fn only_a_legacy_plan_names_its_run() {
    struct TestCase {
        plan_id: &'static str,
        expected: Option<&'static str>,
    }
    let cases = [
        // TC0: a legacy plan id.
        TestCase {
            plan_id: "r1:3",
            expected: Some("r1"),
        },
        // TC1: a legacy run id holding a `@` is still legacy (it holds a `:`).
        TestCase {
            plan_id: "a@b:1",
            expected: Some("a@b"),
        },
        // TC2: a trigger plan id: the store knows its run.
        TestCase {
            plan_id: "v0000002a.e0.36@1",
            expected: None,
        },
    ];
    for (i, case) in cases.iter().enumerate() {
        let plan_id: PlanId = case.plan_id.parse().expect("parses");
        assert_eq!(plan_id.legacy_run_id(), case.expected, "TC{i}");
    }
}

#[test]
fn trigger_plan_ids_format_and_parse_back() {
    use time::macros::date;
    struct TestCase {
        trigger: TriggerId,
        attempt: u32,
        expected: &'static str,
    }
    let cases = [
        // TC0: an event of the first numbering.
        TestCase {
            trigger: TriggerId::Event { epoch: 0, seq: 36 },
            attempt: 1,
            expected: "v0000002a.e0.36@1",
        },
        // TC1: an event after two numbering resets, second attempt.
        TestCase {
            trigger: TriggerId::Event { epoch: 2, seq: 5 },
            attempt: 2,
            expected: "v0000002a.e2.5@2",
        },
        // TC2: a daily check: the venue date, zero-padded.
        TestCase {
            trigger: TriggerId::Day {
                date: date!(2026 - 01 - 03),
            },
            attempt: 1,
            expected: "v0000002a.d20260103@1",
        },
        // TC3: a request: 16 hex digits of the reason's digest.
        TestCase {
            trigger: TriggerId::request(0, 41, ""),
            attempt: 1,
            expected: "v0000002a.q0.41.cbf29ce484222325@1",
        },
        // TC4: the largest numbers.
        TestCase {
            trigger: TriggerId::Event {
                epoch: u32::MAX,
                seq: u64::MAX,
            },
            attempt: u32::MAX,
            expected: "v0000002a.e4294967295.18446744073709551615@4294967295",
        },
    ];
    for (i, case) in cases.into_iter().enumerate() {
        let plan_id = PlanId::for_trigger(VENUE, case.trigger, case.attempt);
        assert_eq!(plan_id.to_string(), case.expected, "TC{i}");
        assert_eq!(
            case.expected.parse::<PlanId>(),
            Ok(plan_id.clone()),
            "TC{i}"
        );
        assert_eq!(plan_id.trigger(), Some(case.trigger), "TC{i}");
        assert_eq!(plan_id.venue(), Some(VENUE), "TC{i}");
        assert_eq!(plan_id.legacy_run_id(), None, "TC{i}");
        let key = plan_id.leg(3);
        assert_eq!(key.to_string(), format!("{}:3", case.expected), "TC{i}");
        assert_eq!(key.to_string().parse::<LegKey>(), Ok(key), "TC{i}");
    }
}

#[test]
fn malformed_trigger_plan_ids_are_refused_by_name() {
    let cases = [
        // TC0: no attempt.
        Refusal {
            input: "v0000002a.e0.36",
            expected: IdError::MissingAttempt("v0000002a.e0.36".into()),
        },
        // TC1: an attempt with a leading zero would not print back.
        Refusal {
            input: "v0000002a.e0.36@01",
            expected: bad_attempt("v0000002a.e0.36@01", "01"),
        },
        // TC2: an attempt beyond u32.
        Refusal {
            input: "v0000002a.e0.36@4294967296",
            expected: bad_attempt("v0000002a.e0.36@4294967296", "4294967296"),
        },
        // TC3: an unknown trigger kind.
        Refusal {
            input: "v0000002a.x1@1",
            expected: bad_trigger("v0000002a.x1@1", "x1"),
        },
        // TC4: an event without its epoch.
        Refusal {
            input: "v0000002a.e36@1",
            expected: bad_trigger("v0000002a.e36@1", "e36"),
        },
        // TC5: an epoch beyond u32.
        Refusal {
            input: "v0000002a.e4294967296.1@1",
            expected: bad_trigger("v0000002a.e4294967296.1@1", "e4294967296.1"),
        },
        // TC6: a date that does not exist.
        Refusal {
            input: "v0000002a.d20260230@1",
            expected: bad_trigger("v0000002a.d20260230@1", "d20260230"),
        },
        // TC7: a date with a separator.
        Refusal {
            input: "v0000002a.d2026-01-03@1",
            expected: bad_trigger("v0000002a.d2026-01-03@1", "d2026-01-03"),
        },
        // TC8: a digest in upper case would not print back.
        Refusal {
            input: "v0000002a.q0.1.CBF29CE484222325@1",
            expected: bad_trigger("v0000002a.q0.1.CBF29CE484222325@1", "q0.1.CBF29CE484222325"),
        },
        // TC9: a short digest.
        Refusal {
            input: "v0000002a.q0.1.abc@1",
            expected: bad_trigger("v0000002a.q0.1.abc@1", "q0.1.abc"),
        },
        // TC10: a request with a part too many.
        Refusal {
            input: "v0000002a.q0.1.2.cbf29ce484222325@1",
            expected: bad_trigger(
                "v0000002a.q0.1.2.cbf29ce484222325@1",
                "q0.1.2.cbf29ce484222325",
            ),
        },
        // TC11: no venue tag (the format before venues were named).
        Refusal {
            input: "e0.36@1",
            expected: bad_venue("e0.36@1", "e0"),
        },
        // TC12: a venue tag in upper case would not print back.
        Refusal {
            input: "v0000002A.e0.36@1",
            expected: bad_venue("v0000002A.e0.36@1", "v0000002A"),
        },
    ];
    assert_refused::<PlanId>(&cases);
}

#[test]
fn request_digests_are_fnv1a_and_differ_by_reason() {
    // The published FNV-1a 64 test vectors: every build and platform agrees.
    assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
    assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    assert_eq!(fnv1a(b"foobar"), 0x8594_4171_f739_67e8);
    // A venue's tag is the digest's top half: the same stream, the same tag, everywhere.
    assert_eq!(VenueTag::of(""), VenueTag(0xcbf2_9ce4));
    assert_eq!(VenueTag::of("a").to_string(), "vaf63dc4c");
    assert_ne!(
        VenueTag::of("http://127.0.0.1:8787/api/v1#agent-1"),
        VenueTag::of("http://127.0.0.1:8788/api/v1#agent-1")
    );
    assert_ne!(
        TriggerId::request(0, 7, "drawdown"),
        TriggerId::request(0, 7, "drawup")
    );
    assert_eq!(
        TriggerId::request(0, 7, "drawdown"),
        TriggerId::request(0, 7, "drawdown")
    );
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
    let error = "v0000002a.e0.x@1:0"
        .parse::<LegKey>()
        .expect_err("malformed");
    assert_eq!(
        error.to_string(),
        "leg key `v0000002a.e0.x@1:0`: plan id `v0000002a.e0.x@1`: `e0.x` is not a trigger id"
    );
    let key = PlanId::legacy("r1", 2).leg(1);
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
            let key = PlanId::legacy(run_id, plan_seq).leg(leg_index);
            prop_assert_eq!(key.to_string().parse::<LegKey>(), Ok(key));
        }

        #[test]
        fn prop_trigger_keys_round_trip(epoch in any::<u32>(), seq in any::<u64>(),
                                        digest in any::<u64>(), day in 0..3_652_059_i32,
                                        kind in 0..3_u8, attempt in any::<u32>(), venue in any::<u32>(),
                                        leg_index in any::<u32>()) {
            let trigger = match kind {
                0 => TriggerId::Event { epoch, seq },
                1 => TriggerId::Day {
                    // Every date of years 0 to 9999.
                    date: Date::from_julian_day(1_721_060 + day).expect("in range"),
                },
                _ => TriggerId::Request { epoch, after_seq: seq, digest },
            };
            let key = PlanId::for_trigger(VenueTag(venue), trigger, attempt).leg(leg_index);
            prop_assert_eq!(key.to_string().parse::<LegKey>(), Ok(key));
        }

        #[test]
        fn prop_what_parses_prints_back(text in "[a-z0-9:@.+-]{0,16}") {
            if let Ok(key) = text.parse::<LegKey>() {
                prop_assert_eq!(key.to_string(), text);
            }
        }
    }
}
