//! Rebalance transfers: `POST /agents/{id}/rebalance`, the status of a leg by its key, and
//! the log of every transfer applied.
//!
//! # Invariants
//! - A rebalance is applied at most once per `Idempotency-Key`; its status is answered from
//!   the first reply while the key is remembered, and from the transfer log after.
//! - A decrease never takes locked funds (`locks`).

use time::OffsetDateTime;

use super::{
    Engine,
    outcome::{AppliedTransfer, Processed, applied, first_applied, require_reason},
};
use crate::{
    sim::{
        http::Reply,
        ledger::{Op, StateError},
    },
    venue::protocol::{EventKind, RebalanceBody, RebalanceResponse},
};

impl Engine {
    /// Every applied transfer, in order.
    pub fn transfers(&self) -> &[AppliedTransfer] {
        &self.transfers
    }

    /// Handles `POST /agents/{id}/rebalance` (already parsed).
    pub fn rebalance(
        &mut self,
        body: &RebalanceBody,
        idempotency_key: Option<&str>,
        received_at: tokio::time::Instant,
        ts: OffsetDateTime,
    ) -> Result<Processed, StateError> {
        require_reason(&body.reason)?;
        self.check_unlocked(body)?;
        let op = Op::Transfer {
            service: body.service,
            direction: body.direction,
            amount_usdc: body.amount_usdc,
        };
        let frames = self.apply(ts, &op)?;
        let frame = first_applied(&frames, "amount_usdc")?;
        let transfer_id = match &frame.kind {
            EventKind::Transfer { transfer_id, .. } => transfer_id.clone(),
            _ => String::new(),
        };
        let transfer = AppliedTransfer {
            seq: frame.seq,
            transfer_id: transfer_id.clone(),
            service: body.service,
            direction: body.direction,
            amount_usdc: body.amount_usdc,
            idempotency_key: idempotency_key.map(str::to_owned),
            received_at,
            sim_time: frame.ts,
        };
        self.transfers.push(transfer.clone());
        tracing::info!(
            transfer_id,
            service = %body.service,
            direction = body.direction.name(),
            amount_usdc = %body.amount_usdc,
            reason = body.reason,
            seq = frame.seq,
            "sim applied transfer"
        );
        let response = RebalanceResponse {
            transfer_id,
            service: body.service,
            direction: body.direction,
            amount_usdc: body.amount_usdc,
            status: "applied".to_owned(),
            portfolio: frame.portfolio.clone(),
        };
        Ok(Processed {
            transfer: Some(transfer),
            ..applied(&response, frames)
        })
    }

    /// Handles `GET /agents/{id}/rebalance/{key}` (*addition*): the first reply to the
    /// rebalance POSTed under `key`, as a replay would return it, without applying anything;
    /// 404 `unknown_idempotency_key` when no rebalance arrived under that key. This is how a
    /// client resolves a leg whose response it never saw, without resubmitting it.
    pub fn rebalance_status(&self, rebalance_fingerprint_prefix: &str, key: &str) -> Reply {
        // Evicted from the bounded replay map: the transfer log still knows applied ones.
        self.key_status(rebalance_fingerprint_prefix, key, "rebalance", || {
            let transfer = self
                .transfers
                .iter()
                .rev()
                .find(|t| t.idempotency_key.as_deref() == Some(key))?;
            Some(RebalanceResponse {
                transfer_id: transfer.transfer_id.clone(),
                service: transfer.service,
                direction: transfer.direction,
                amount_usdc: transfer.amount_usdc,
                status: "applied".to_owned(),
                portfolio: None,
            })
        })
    }
}

/// How many transfers repeat a key applied before them.
pub(super) fn duplicate_keys(transfers: &[AppliedTransfer]) -> u64 {
    let mut seen = std::collections::HashSet::new();
    transfers
        .iter()
        .filter_map(|t| t.idempotency_key.as_deref())
        .filter(|key| !seen.insert(*key))
        .count() as u64
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use rust_decimal::Decimal;

    use super::*;
    use crate::{
        service::{Direction, Service},
        sim::engine::testing::{START, engine},
    };

    fn body(direction: Direction, amount_usdc: Decimal) -> RebalanceBody {
        RebalanceBody {
            service: Service::Casino,
            direction,
            amount_usdc,
            reason: "test".into(),
        }
    }

    #[test]
    fn rebalance_replies_and_idempotent_replays() {
        struct TestCase {
            body: RebalanceBody,
            key: Option<&'static str>,
            fingerprint: &'static str,
            expected_status: u16,
            expected_applied: bool,
        }
        let more_than_the_casino_holds = || TestCase {
            body: body(Direction::Decrease, dec!(1000)),
            key: Some("k2"),
            fingerprint: "f3",
            expected_status: 409,
            expected_applied: false,
        };
        let cases = [
            // TC0: a decrease applies.
            TestCase {
                body: body(Direction::Decrease, dec!(20)),
                key: Some("k1"),
                fingerprint: "f1",
                expected_status: 200,
                expected_applied: true,
            },
            // TC1: the same key and request replays without applying.
            TestCase {
                body: body(Direction::Decrease, dec!(20)),
                key: Some("k1"),
                fingerprint: "f1",
                expected_status: 200,
                expected_applied: false,
            },
            // TC2: the same key with another request is refused.
            TestCase {
                body: body(Direction::Decrease, dec!(21)),
                key: Some("k1"),
                fingerprint: "f2",
                expected_status: 422,
                expected_applied: false,
            },
            // TC3: more than the casino holds.
            more_than_the_casino_holds(),
            // TC4: a refusal is remembered too: the retry gets the same 409.
            more_than_the_casino_holds(),
            // TC5: an empty reason.
            TestCase {
                body: RebalanceBody {
                    reason: " ".into(),
                    ..body(Direction::Increase, dec!(1))
                },
                key: None,
                fingerprint: "f4",
                expected_status: 400,
                expected_applied: false,
            },
        ];
        let mut engine = engine();
        let now = tokio::time::Instant::now();
        for (index, case) in cases.iter().enumerate() {
            let processed = engine.idempotent(case.key, case.fingerprint, |engine| {
                engine.rebalance(&case.body, case.key, now, START)
            });
            assert_eq!(
                processed.reply.status, case.expected_status,
                "TC{index}: {processed:?}"
            );
            assert_eq!(processed.applied, case.expected_applied, "TC{index}");
        }
        assert_eq!(engine.transfers().len(), 1);
        assert_eq!(engine.balances()[Service::Casino], dec!(180));
        let stats = engine.stats(START);
        assert_eq!(stats.idempotent_replays, 2);
        assert!(stats.accounting.ok);
    }
}
