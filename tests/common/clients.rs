//! The venue's own clients, pointed at a simulated venue: shared by the end-to-end helpers
//! (`tests/common`) and the simulated-venue helpers (`tests/sim_support`), which both include
//! this file, so a test of either kind asks the venue the way the companion does.
//!
//! # Invariants
//! - Every client has a bounded timeout, so a venue that stops answering fails the test.

use std::time::Duration;

use ballast::{
    sim::SimHandle,
    venue::{client::VenueClient, markets::MarketsClient, protocol::Position},
};

/// How long a test's client waits for the venue.
const TIMEOUT: Duration = Duration::from_secs(10);

/// A REST client for `sim`'s agent.
pub fn venue_client(sim: &SimHandle) -> VenueClient {
    VenueClient::new(&sim.base_url(), sim.agent_id(), None, TIMEOUT).expect("client builds")
}

/// A markets client (perps, wallet trades, holdings) for `sim`'s agent.
pub fn markets_client(sim: &SimHandle) -> MarketsClient {
    MarketsClient::new(&venue_client(sim), TIMEOUT).expect("client builds")
}

/// The agent's open positions, as `markets` lists them.
pub async fn open_positions(markets: &MarketsClient) -> Vec<Position> {
    markets.positions().await.expect("positions").positions
}
