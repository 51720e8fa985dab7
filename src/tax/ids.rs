//! Harvest ids: a tax-loss harvest is named after what triggered it, so that two companions
//! watching the same agent give the same harvest the same order keys and the venue sells
//! once.
//!
//! A harvest id is `v{tag}.{trigger}.x{asset}@{attempt}`, e.g. `v1f2e3d4c.e0.36.xBTC@1`:
//! - `v{tag}`: the venue that numbered the trigger (as in plan ids, [`VenueTag`]);
//! - `{trigger}`: the price event that prompted the round, `e{epoch}.{seq}`, or the daily
//!   tick's venue date, `d{YYYYMMDD}` ([`TriggerId::event_or_day`]);
//! - `x{asset}`: the asset sold;
//! - `@{attempt}`: the harvests of that asset on that trigger, from 1 (a store that already
//!   holds the name, from an earlier run or an earlier harvest of the same round, takes the
//!   next).
//!
//! The sale goes under `{harvest_id}:sell` and the substitute's buy under `{harvest_id}:buy`.
//! Earlier versions named harvests `{run_id}:h{n}`; their records keep those names.
//!
//! # Invariants
//! - The same venue, trigger, asset and attempt give the same id in every companion:
//!   nothing here depends on the run, the process or the wall clock.
//! - An id holds no `:` (the key's suffix is read after the last one): an asset with one, or
//!   with anything but ASCII letters and digits, is named by its hex bytes instead.

use crate::execution::{TriggerId, VenueTag};

/// The id of attempt `attempt` to harvest `asset` on `trigger` at `venue`.
pub fn harvest_id(venue: VenueTag, trigger: TriggerId, asset: &str, attempt: u32) -> String {
    let plain = !asset.is_empty() && asset.bytes().all(|b| b.is_ascii_alphanumeric());
    if plain {
        format!("{venue}.{trigger}.x{asset}@{attempt}")
    } else {
        let hex: String = asset.bytes().map(|b| format!("{b:02x}")).collect();
        format!("{venue}.{trigger}.x0x{hex}@{attempt}")
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn harvests_are_named_after_their_trigger() {
        struct TestCase {
            trigger: TriggerId,
            asset: &'static str,
            attempt: u32,
            expected: &'static str,
        }
        let venue = VenueTag::of("http://127.0.0.1:8787/api/v1#agent-1");
        let tag = venue.to_string();
        let cases = [
            // TC0: a price event of the first numbering.
            TestCase {
                trigger: TriggerId::event_or_day(Some(36), 0, datetime!(2026-03-14 09:00 UTC)),
                asset: "BTC",
                attempt: 1,
                expected: ".e0.36.xBTC@1",
            },
            // TC1: the daily tick's round, by the venue date (not the offset's).
            TestCase {
                trigger: TriggerId::event_or_day(None, 2, datetime!(2026-03-14 23:30 -02:00)),
                asset: "ETH",
                attempt: 2,
                expected: ".d20260315.xETH@2",
            },
            // TC2: an asset that could break the key is named by its bytes.
            TestCase {
                trigger: TriggerId::Event { epoch: 1, seq: 7 },
                asset: "A:B",
                attempt: 1,
                expected: ".e1.7.x0x413a42@1",
            },
        ];
        for (i, case) in cases.iter().enumerate() {
            let id = harvest_id(venue, case.trigger, case.asset, case.attempt);
            assert_eq!(id, format!("{tag}{}", case.expected), "TC{i}");
            assert!(!id.contains(':'), "TC{i}: {id}");
        }
        // Another venue names the same harvest differently.
        let other = VenueTag::of("http://127.0.0.1:9999/api/v1#agent-1");
        assert_ne!(
            harvest_id(other, cases[0].trigger, "BTC", 1),
            harvest_id(venue, cases[0].trigger, "BTC", 1)
        );
    }
}
