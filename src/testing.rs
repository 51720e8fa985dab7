//! Helpers shared by the unit tests of the core and the adapters: USDC amounts written as
//! numbers and snapshots of them.
//!
//! # Invariants
//! - Test-only (compiled under `cfg(test)`): nothing here is part of the library.

use rust_decimal::Decimal;

use crate::{portfolio::PortfolioSnapshot, service::ServiceMap};

/// An array of USDC amounts written as decimal literals: `usdc![200, 300, 150, 150, 100, 100]`
/// is the six balances, casino to reserve, of the article's $1,000 agent on target.
macro_rules! usdc {
    ($($amount:literal),* $(,)?) => {
        [$(rust_decimal_macros::dec!($amount)),*]
    };
}
pub(crate) use usdc;

/// A valid snapshot of `balances` (casino, trading, wallet, domains, escrow, reserve) at `seq`.
pub(crate) fn snapshot(balances: [Decimal; 6], seq: Option<u64>) -> PortfolioSnapshot {
    PortfolioSnapshot::new(ServiceMap(balances), seq).expect("valid")
}
