//! What the venue saw: the request, refusal, replay, fault and websocket counters, and the
//! `/sim/stats` body built from them and the books.
//!
//! # Invariants
//! - Counters only grow.
//! - `duplicate_transfer_keys` is 0 unless the idempotency guarantee is broken.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use time::OffsetDateTime;

use super::{Engine, transfers::duplicate_keys};
use crate::venue::protocol::sim::{LockStats, SimStats};

/// Counts of what the venue saw, beyond the books.
#[derive(Debug, Clone, Default)]
pub(super) struct Counters {
    requests_by_endpoint: BTreeMap<String, u64>,
    pub(super) idempotent_replays: u64,
    pub(super) repeated_closes: u64,
    rejected_requests: u64,
    faults_injected: BTreeMap<String, u64>,
    websocket_connections: u64,
}

impl Engine {
    /// Counts a request to an endpoint.
    pub fn count_request(&mut self, endpoint: &str) {
        bump(&mut self.counters.requests_by_endpoint, endpoint);
    }

    /// Counts a request the venue itself refused.
    pub fn count_rejected(&mut self) {
        self.counters.rejected_requests += 1;
    }

    /// Counts an injected fault.
    pub fn count_fault(&mut self, name: &str) {
        bump(&mut self.counters.faults_injected, name);
    }

    /// Counts an accepted websocket.
    pub fn count_websocket(&mut self) {
        self.counters.websocket_connections += 1;
    }

    /// What the venue saw.
    pub fn stats(&self, sim_time: OffsetDateTime) -> SimStats {
        SimStats {
            agent_id: self.agent_id.clone(),
            sim_time,
            // The engine does not own the clock; `Shared::stats` fills this in.
            speed: Decimal::ZERO,
            last_seq: self.log.last_seq(),
            requests_by_endpoint: self.counters.requests_by_endpoint.clone(),
            applied_transfers: self.transfers.len() as u64,
            duplicate_transfer_keys: duplicate_keys(&self.transfers),
            idempotent_replays: self.counters.idempotent_replays,
            rejected_requests: self.counters.rejected_requests,
            faults_injected: self.counters.faults_injected.clone(),
            websocket_connections: self.counters.websocket_connections,
            portfolio: self.portfolio(),
            accounting: self.ledger.accounting(),
            markets: self.ledger.market_stats(),
            repeated_closes: self.counters.repeated_closes,
            casino_btc_beta: crate::money::decimal_from_f64(self.casino_btc_beta, "beta")
                .map(|beta| beta.round_dp(6))
                .unwrap_or_default(),
            locks: LockStats {
                placed: self.locks.placed,
                released: self.locks.released,
                refused_decreases: self.locks.refused_decreases,
            },
        }
    }
}

/// Counts one more under `key`.
fn bump(counts: &mut BTreeMap<String, u64>, key: &str) {
    *counts.entry(key.to_owned()).or_default() += 1;
}
