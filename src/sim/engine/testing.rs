//! What the engine's room tests share: a start time and a seeded venue.

use time::OffsetDateTime;

use super::Engine;
use crate::sim::{ledger::article_balances_usdc, markets::MarketParams, model::CasinoParams};

/// When the tests' venue opens.
pub(super) const START: OffsetDateTime = time::macros::datetime!(2025-12-31 12:00 UTC);

/// A venue on the article's balances, seed 7, with autoplay.
pub(super) fn engine() -> Engine {
    seeded_engine(true)
}

/// The same venue without autoplay: only requests, injections and hours move money.
pub(super) fn quiet_engine() -> Engine {
    seeded_engine(false)
}

fn seeded_engine(autoplay: bool) -> Engine {
    Engine::new(
        "agent-1",
        article_balances_usdc(),
        &CasinoParams::default(),
        &MarketParams::default(),
        7,
        START,
        autoplay,
    )
    .expect("valid")
}
