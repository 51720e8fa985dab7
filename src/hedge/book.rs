//! The hedge book's vocabulary: how hedges and their orders are named, the states a hedge
//! goes through, what one cost, and what a restart does with each hedge the store knows and
//! each position the venue holds.
//!
//! A hedge is `{run_id}:h{seq}`; its open order goes under the idempotency key
//! `{hedge_id}:open` and its close under `{hedge_id}:close`. A resize closes one hedge and
//! opens the next, so every key is used for one request only.
//!
//! States: `opening` (recorded, the order maybe sent) → `open` (the venue filled it) →
//! `closing` (recorded, the close maybe sent) → `closed`; or `failed` (refused, or never
//! reached the venue), or `dry_run` (recorded, never sent).
//!
//! # Invariants
//! - Parsing accepts exactly what `Display` writes.
//! - A restart never closes a position blindly: a venue position no hedge of the store holds
//!   is reported and left alone, and only a hedge already recorded `closing` has its close
//!   sent again (under its one key, which the venue answers idempotently).
//! - Costs are exact `Decimal` sums; a hedge's cost is its fees less the funding it received.

use std::{collections::BTreeSet, fmt, str::FromStr};

use rust_decimal::Decimal;
use serde::Serialize;

/// One hedge of one run: `{run_id}:h{seq}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HedgeId {
    run_id: String,
    seq: u64,
}

impl HedgeId {
    /// The `seq`-th hedge of run `run_id`.
    pub fn new(run_id: impl Into<String>, seq: u64) -> Self {
        Self {
            run_id: run_id.into(),
            seq,
        }
    }

    /// The run that opened it.
    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// Its number within the run (from 1).
    pub fn seq(&self) -> u64 {
        self.seq
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
        write!(f, "{}:h{}", self.run_id, self.seq)
    }
}

impl Serialize for HedgeId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// A hedge id that is not what ballast writes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("hedge id `{0}` is not `{{run_id}}:h{{seq}}`")]
pub struct HedgeIdError(pub String);

impl FromStr for HedgeId {
    type Err = HedgeIdError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || HedgeIdError(text.to_owned());
        let (run_id, seq) = text.rsplit_once(":h").ok_or_else(bad)?;
        let plain = !seq.is_empty()
            && seq.bytes().all(|b| b.is_ascii_digit())
            && (seq == "0" || !seq.starts_with('0'));
        if run_id.is_empty() || !plain {
            return Err(bad());
        }
        Ok(HedgeId::new(run_id, seq.parse().map_err(|_| bad())?))
    }
}

/// Where a hedge is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HedgeStatus {
    /// Recorded; the open order may have been sent.
    Opening,
    /// Filled at the venue.
    Open,
    /// Recorded for closing; the close may have been sent.
    Closing,
    /// Closed (by ballast or by the venue).
    Closed,
    /// Refused by the venue, or never reached it.
    Failed,
    /// Dry run: recorded, never sent.
    DryRun,
}

impl HedgeStatus {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            HedgeStatus::Opening => "opening",
            HedgeStatus::Open => "open",
            HedgeStatus::Closing => "closing",
            HedgeStatus::Closed => "closed",
            HedgeStatus::Failed => "failed",
            HedgeStatus::DryRun => "dry_run",
        }
    }

    /// Parses the stored spelling; `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "opening" => HedgeStatus::Opening,
            "open" => HedgeStatus::Open,
            "closing" => HedgeStatus::Closing,
            "closed" => HedgeStatus::Closed,
            "failed" => HedgeStatus::Failed,
            "dry_run" => HedgeStatus::DryRun,
            _ => return None,
        })
    }

    /// Whether the hedge may still hold a position at the venue.
    pub fn is_live(self) -> bool {
        matches!(
            self,
            HedgeStatus::Opening | HedgeStatus::Open | HedgeStatus::Closing
        )
    }
}

/// What hedges cost and earned, USDC.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct HedgeCosts {
    /// Fees paid (open and close).
    pub fees_usdc: Decimal,
    /// Net funding received (negative when paid).
    pub funding_usdc: Decimal,
    /// Realized PnL of the closes, before fees.
    pub realized_pnl_usdc: Decimal,
}

impl HedgeCosts {
    /// What hedging cost: fees less funding received.
    pub fn cost_usdc(&self) -> Decimal {
        self.fees_usdc - self.funding_usdc
    }

    /// Realized PnL after fees and funding.
    pub fn net_usdc(&self) -> Decimal {
        self.realized_pnl_usdc - self.cost_usdc()
    }
}

impl std::ops::AddAssign for HedgeCosts {
    fn add_assign(&mut self, other: Self) {
        self.fees_usdc += other.fees_usdc;
        self.funding_usdc += other.funding_usdc;
        self.realized_pnl_usdc += other.realized_pnl_usdc;
    }
}

impl std::iter::Sum for HedgeCosts {
    fn sum<I: Iterator<Item = Self>>(iter: I) -> Self {
        let mut total = HedgeCosts::default();
        for costs in iter {
            total += costs;
        }
        total
    }
}

/// What a restart does with one hedge the store holds as live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartupAction {
    /// `opening`: ask the venue what became of the open order's key (never resend blindly).
    AskOrderStatus,
    /// `open` and the venue still holds its position: keep watching it.
    Keep,
    /// `open` but the venue no longer holds the position: it was closed outside ballast
    /// (liquidated, or by hand); record it closed.
    Gone,
    /// `closing`: send the close again under its one key (the venue answers a repeated
    /// close with the first one).
    ResendClose,
}

/// The start-up action for a live hedge in `status` with `position_id`, given the ids of
/// the positions the venue holds now.
pub fn startup_action(
    status: HedgeStatus,
    position_id: Option<&str>,
    venue_positions: &BTreeSet<String>,
) -> Option<StartupAction> {
    match status {
        HedgeStatus::Opening => Some(StartupAction::AskOrderStatus),
        HedgeStatus::Open => Some(match position_id {
            Some(id) if venue_positions.contains(id) => StartupAction::Keep,
            _ => StartupAction::Gone,
        }),
        HedgeStatus::Closing => Some(StartupAction::ResendClose),
        HedgeStatus::Closed | HedgeStatus::Failed | HedgeStatus::DryRun => None,
    }
}

/// The venue positions no hedge of the store holds (by id): reported, never touched.
pub fn foreign_positions<'a>(
    venue_positions: &'a BTreeSet<String>,
    known: &BTreeSet<String>,
) -> Vec<&'a str> {
    venue_positions
        .iter()
        .filter(|id| !known.contains(*id))
        .map(String::as_str)
        .collect()
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;

    #[test]
    fn ids_round_trip_and_keys_derive_from_them() {
        struct TestCase {
            text: &'static str,
            expected: Option<(&'static str, u64)>,
        }
        let cases = [
            // TC0: a plain id.
            TestCase {
                text: "r18f:h3",
                expected: Some(("r18f", 3)),
            },
            // TC1: a run id with a colon and even an `:h` of its own.
            TestCase {
                text: "a:hb:h12",
                expected: Some(("a:hb", 12)),
            },
            // TC2: a leading zero would not print back the same.
            TestCase {
                text: "r:h03",
                expected: None,
            },
            // TC3: no run id.
            TestCase {
                text: ":h1",
                expected: None,
            },
            // TC4: a leg key is not a hedge id.
            TestCase {
                text: "r1:2:0",
                expected: None,
            },
        ];
        for (i, case) in cases.iter().enumerate() {
            let parsed = case.text.parse::<HedgeId>().ok();
            assert_eq!(
                parsed.as_ref().map(|id| (id.run_id(), id.seq())),
                case.expected,
                "TC{i}"
            );
            if let Some(id) = parsed {
                assert_eq!(id.to_string(), case.text, "TC{i}");
            }
        }
        let id = HedgeId::new("r1", 7);
        assert_eq!(id.open_key(), "r1:h7:open");
        assert_eq!(id.close_key(), "r1:h7:close");
    }

    #[test]
    fn statuses_round_trip() {
        for status in [
            HedgeStatus::Opening,
            HedgeStatus::Open,
            HedgeStatus::Closing,
            HedgeStatus::Closed,
            HedgeStatus::Failed,
            HedgeStatus::DryRun,
        ] {
            assert_eq!(HedgeStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(HedgeStatus::parse("Open"), None);
    }

    #[test]
    fn each_live_hedge_has_its_startup_action() {
        struct TestCase {
            status: HedgeStatus,
            position_id: Option<&'static str>,
            expected: Option<StartupAction>,
        }
        let venue: BTreeSet<String> = ["pos-1".to_owned(), "pos-9".to_owned()].into();
        let cases = [
            // TC0: an order of unknown outcome is asked about, never resent blindly.
            TestCase {
                status: HedgeStatus::Opening,
                position_id: None,
                expected: Some(StartupAction::AskOrderStatus),
            },
            // TC1: open and still at the venue.
            TestCase {
                status: HedgeStatus::Open,
                position_id: Some("pos-1"),
                expected: Some(StartupAction::Keep),
            },
            // TC2: open but gone: closed outside ballast.
            TestCase {
                status: HedgeStatus::Open,
                position_id: Some("pos-2"),
                expected: Some(StartupAction::Gone),
            },
            // TC3: a close of unknown outcome is sent again under its key.
            TestCase {
                status: HedgeStatus::Closing,
                position_id: Some("pos-1"),
                expected: Some(StartupAction::ResendClose),
            },
            // TC4: finished hedges need nothing.
            TestCase {
                status: HedgeStatus::Closed,
                position_id: Some("pos-1"),
                expected: None,
            },
            // TC5: nor do dry-run records.
            TestCase {
                status: HedgeStatus::DryRun,
                position_id: None,
                expected: None,
            },
        ];
        for (i, case) in cases.iter().enumerate() {
            assert_eq!(
                startup_action(case.status, case.position_id, &venue),
                case.expected,
                "TC{i}"
            );
        }
        let known: BTreeSet<String> = ["pos-1".to_owned()].into();
        assert_eq!(foreign_positions(&venue, &known), vec!["pos-9"]);
    }

    #[test]
    fn costs_add_up_exactly() {
        let costs: HedgeCosts = [
            HedgeCosts {
                fees_usdc: dec!(0.20),
                funding_usdc: dec!(0.03),
                realized_pnl_usdc: dec!(-1.10),
            },
            HedgeCosts {
                fees_usdc: dec!(0.31),
                funding_usdc: dec!(-0.01),
                realized_pnl_usdc: dec!(2.00),
            },
        ]
        .into_iter()
        .sum();
        assert_eq!(costs.fees_usdc, dec!(0.51));
        assert_eq!(costs.funding_usdc, dec!(0.02));
        assert_eq!(costs.cost_usdc(), dec!(0.49));
        assert_eq!(costs.net_usdc(), dec!(0.41));
    }
}
