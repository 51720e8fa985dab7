//! Helpers shared by the unit tests of the core and the adapters: USDC amounts and weights
//! written as numbers, snapshots of them, a plan's legs as tuples, and the messages of a
//! check's problems.
//!
//! # Invariants
//! - Test-only (compiled under `cfg(test)`): nothing here is part of the library.

use rust_decimal::Decimal;

use crate::{
    planner::RebalancePlan,
    portfolio::PortfolioSnapshot,
    service::{Direction, Service, ServiceMap},
};

/// An array of USDC amounts written as decimal literals: `usdc![200, 300, 150, 150, 100, 100]`
/// is the six balances, casino to reserve, of the article's $1,000 agent on target.
macro_rules! usdc {
    ($($amount:literal),* $(,)?) => {
        [$(rust_decimal_macros::dec!($amount)),*]
    };
}
pub(crate) use usdc;

/// An array of weights (or other fractions) written as decimal literals:
/// `weights![0.20, 0.30, 0.15, 0.15, 0.10, 0.10]` is the article's conservative allocation.
macro_rules! weights {
    ($($weight:literal),* $(,)?) => {
        [$(rust_decimal_macros::dec!($weight)),*]
    };
}
pub(crate) use weights;

/// A valid snapshot of `balances` (casino, trading, wallet, domains, escrow, reserve) at `seq`.
pub(crate) fn snapshot(balances: [Decimal; 6], seq: Option<u64>) -> PortfolioSnapshot {
    PortfolioSnapshot::new(ServiceMap(balances), seq).expect("valid")
}

/// The messages of `problems`, in order: what the tests of a configuration check compare
/// with the expected wording.
pub(crate) fn messages<E: ToString>(problems: &[E]) -> Vec<String> {
    problems.iter().map(ToString::to_string).collect()
}

/// A plan's legs as `(service, direction, amount)`, in order: what a test compares.
pub(crate) fn leg_tuples(plan: &RebalancePlan) -> Vec<(Service, Direction, Decimal)> {
    plan.legs
        .iter()
        .map(|l| (l.service, l.direction, l.amount_usdc))
        .collect()
}
