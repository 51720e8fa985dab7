//! The hedge book's vocabulary: the states a hedge goes through, what one cost, and what a
//! restart does with each hedge the store knows and each position the venue holds. How
//! hedges and their orders are named is [`super::ids`].
//!
//! States: `opening` (recorded, the order maybe sent) → `open` (the venue filled it) →
//! `closing` (recorded, the close maybe sent) → `closed`; or `failed` (refused, or never
//! reached the venue), or `dry_run` (recorded, never sent).
//!
//! # Invariants
//! - A restart never closes a position blindly: a venue position no hedge of the store holds
//!   is reported and left alone, and only a hedge already recorded `closing` has its close
//!   sent again (under its one key, which the venue answers idempotently).
//! - Costs are exact `Decimal` sums; a hedge's cost is its fees less the funding it received.

use std::collections::BTreeSet;

use rust_decimal::Decimal;
use serde::Serialize;

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
