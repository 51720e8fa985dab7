//! The SpotExecutor: executes rebalance plans as venue transfers, one leg at a time.
//!
//! For each plan it first records every leg (status `pending`) with its idempotency key
//! `{plan_id}:{leg_index}` in one durable transaction, then sends the legs in order —
//! decreases before increases, as planned. A leg whose outcome is unknown (timeout, 5xx,
//! lost ack) or retryable (429 with `Retry-After`) is retried with the *same* key, so the
//! venue applies it at most once. A refused leg (4xx) fails with the venue's reason, and
//! the rest of the plan is skipped: the next plan starts from fresh balances instead of
//! guessing.
//!
//! # Invariants
//! - No leg is sent before the plan is on disk; if recording fails nothing is sent.
//! - A leg is never resubmitted under a different key.
//! - Dry run records legs as `dry_run` and sends nothing to the venue.
//! - One plan at a time: the handler holds the actor until the plan is finished.

use std::time::Duration;

use actix::{Actor, ActorFutureExt, AtomicResponse, Context, Handler, Recipient, WrapFuture};
use ballast::{
    portfolio::PortfolioSnapshot,
    store::{LegRecord, LegStatus, PlanRecord, Store},
    venue::{backoff::Backoff, client::VenueClient, protocol::RebalanceBody},
};
use rust_decimal::Decimal;
use tracing::{info, warn};

use crate::{
    clock::TimeSource,
    messages::{Event, PlanFinished, RebalancePlanned, TradeExecuted, TradeFailed},
};

/// Plans waiting behind the one executing; the policy keeps only one in flight.
pub const EXECUTOR_MAILBOX_CAPACITY: usize = 16;

/// Executor settings.
#[derive(Debug, Clone)]
pub struct ExecutorConfig {
    /// Never send.
    pub dry_run: bool,
    /// Retries per leg (same key).
    pub leg_retry_limit: u32,
    /// Retry schedule.
    pub retry_backoff: Backoff,
}

/// The executor.
#[derive(Debug)]
pub struct SpotExecutor {
    client: VenueClient,
    store: Store,
    config: ExecutorConfig,
    time: TimeSource,
    run_id: String,
    detector: Recipient<PlanFinished>,
    bus: Recipient<Event>,
}

impl SpotExecutor {
    /// An executor for `run_id`.
    pub fn new(
        client: VenueClient,
        store: Store,
        config: ExecutorConfig,
        time: TimeSource,
        run_id: String,
        detector: Recipient<PlanFinished>,
        bus: Recipient<Event>,
    ) -> Self {
        Self {
            client,
            store,
            config,
            time,
            run_id,
            detector,
            bus,
        }
    }
}

impl Actor for SpotExecutor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(EXECUTOR_MAILBOX_CAPACITY);
    }
}

/// What executing one plan produced.
struct Outcome {
    applied: usize,
    failed: usize,
    moved_usdc: Decimal,
    snapshot: Option<PortfolioSnapshot>,
}

impl Handler<RebalancePlanned> for SpotExecutor {
    type Result = AtomicResponse<Self, ()>;

    fn handle(&mut self, planned: RebalancePlanned, _ctx: &mut Self::Context) -> Self::Result {
        let client = self.client.clone();
        let store = self.store.clone();
        let config = self.config.clone();
        let bus = self.bus.clone();
        let run_id = self.run_id.clone();
        let created_at = self.time.now();
        let finished = planned.clone();
        let work = async move {
            execute_plan(
                &client, &store, &config, &bus, &run_id, created_at, &planned,
            )
            .await
        };
        AtomicResponse::new(Box::pin(work.into_actor(self).map(
            move |outcome, executor, _ctx| {
                let message = PlanFinished {
                    plan_id: finished.plan_id.clone(),
                    trigger: finished.decision.trigger.clone(),
                    applied: outcome.applied,
                    failed: outcome.failed,
                    moved_usdc: outcome.moved_usdc,
                    snapshot: outcome.snapshot,
                    at: executor.time.now(),
                };
                let _ = executor.bus.try_send(message.clone().into());
                if let Err(error) = executor.detector.try_send(message) {
                    warn!(%error, "detector unavailable for plan completion");
                }
            },
        )))
    }
}

async fn execute_plan(
    client: &VenueClient,
    store: &Store,
    config: &ExecutorConfig,
    bus: &Recipient<Event>,
    run_id: &str,
    created_at: time::OffsetDateTime,
    planned: &RebalancePlanned,
) -> Outcome {
    let decision = &planned.decision;
    let initial_status = if config.dry_run {
        LegStatus::DryRun
    } else {
        LegStatus::Pending
    };
    let legs: Vec<LegRecord> = decision
        .plan
        .legs
        .iter()
        .enumerate()
        .map(|(index, leg)| LegRecord {
            idempotency_key: format!("{}:{index}", planned.plan_id),
            leg_index: u32::try_from(index).unwrap_or(u32::MAX),
            service: leg.service,
            direction: leg.direction,
            amount_usdc: leg.amount_usdc,
            status: initial_status,
        })
        .collect();
    let mut outcome = Outcome {
        applied: 0,
        failed: 0,
        moved_usdc: Decimal::ZERO,
        snapshot: None,
    };
    let record = PlanRecord {
        plan_id: planned.plan_id.clone(),
        run_id: run_id.to_owned(),
        created_at,
        trigger: decision.trigger.name().to_owned(),
        reason: decision.trigger.describe(),
        total_usdc: decision.plan.total_usdc,
        legs: legs.clone(),
    };
    if let Err(error) = store.record_plan(record).await {
        warn!(%error, plan_id = %planned.plan_id, "plan not recorded; nothing sent");
        outcome.failed = legs.len();
        return outcome;
    }
    let reason = decision.trigger.describe();
    let mut stop_reason: Option<String> = None;
    for leg in &legs {
        if let Some(why) = &stop_reason {
            fail_leg(store, bus, planned, leg, format!("skipped: {why}")).await;
            outcome.failed += 1;
            continue;
        }
        if config.dry_run {
            let _ = bus.try_send(
                TradeExecuted {
                    plan_id: planned.plan_id.clone(),
                    idempotency_key: leg.idempotency_key.clone(),
                    service: leg.service,
                    direction: leg.direction,
                    amount_usdc: leg.amount_usdc,
                    transfer_id: "dry-run".into(),
                    dry_run: true,
                }
                .into(),
            );
            continue;
        }
        let body = RebalanceBody {
            service: leg.service,
            direction: leg.direction,
            amount_usdc: leg.amount_usdc,
            reason: reason.clone(),
        };
        match send_leg(client, config, &body, &leg.idempotency_key).await {
            Ok(response) => {
                if let Err(error) = store
                    .update_leg(
                        leg.idempotency_key.clone(),
                        LegStatus::Applied,
                        Some(response.transfer_id.clone()),
                        None,
                    )
                    .await
                {
                    warn!(%error, key = %leg.idempotency_key, "applied leg not recorded");
                }
                info!(key = %leg.idempotency_key, service = leg.service.name(),
                      direction = leg.direction.name(), amount_usdc = %response.amount_usdc,
                      "leg applied");
                outcome.applied += 1;
                outcome.moved_usdc += response.amount_usdc;
                if let Some(portfolio) = &response.portfolio
                    && let Ok(snapshot) = portfolio.to_snapshot()
                {
                    outcome.snapshot = Some(snapshot);
                }
                let _ = bus.try_send(
                    TradeExecuted {
                        plan_id: planned.plan_id.clone(),
                        idempotency_key: leg.idempotency_key.clone(),
                        service: leg.service,
                        direction: leg.direction,
                        amount_usdc: response.amount_usdc,
                        transfer_id: response.transfer_id,
                        dry_run: false,
                    }
                    .into(),
                );
            }
            Err(LegError { reason, ambiguous }) => {
                if ambiguous {
                    // Unknown outcome: the leg stays `pending` so reconciliation resolves it
                    // with the same key; nothing else runs on a guess.
                    warn!(key = %leg.idempotency_key, %reason, "leg outcome unknown");
                    publish_failed(bus, planned, leg, format!("outcome unknown: {reason}"));
                } else {
                    fail_leg(store, bus, planned, leg, reason.clone()).await;
                }
                outcome.failed += 1;
                stop_reason = Some(format!("leg {} failed", leg.leg_index));
            }
        }
    }
    outcome
}

struct LegError {
    reason: String,
    ambiguous: bool,
}

/// Sends one leg, retrying retryable failures with the same idempotency key.
async fn send_leg(
    client: &VenueClient,
    config: &ExecutorConfig,
    body: &RebalanceBody,
    key: &str,
) -> Result<ballast::venue::protocol::RebalanceResponse, LegError> {
    let mut attempt: u32 = 0;
    loop {
        match client.rebalance(body, key).await {
            Ok(response) => return Ok(response),
            Err(error) if error.is_retryable() && attempt < config.leg_retry_limit => {
                attempt += 1;
                let delay = error
                    .retry_after()
                    .unwrap_or_else(|| config.retry_backoff.jittered_delay(attempt));
                warn!(%error, attempt, delay_ms = delay.as_millis() as u64, key, "retrying leg with the same key");
                tokio::time::sleep(delay.min(Duration::from_secs(60))).await;
            }
            Err(error) => {
                return Err(LegError {
                    ambiguous: error.is_ambiguous(),
                    reason: error.to_string(),
                });
            }
        }
    }
}

async fn fail_leg(
    store: &Store,
    bus: &Recipient<Event>,
    planned: &RebalancePlanned,
    leg: &LegRecord,
    reason: String,
) {
    warn!(key = %leg.idempotency_key, %reason, "leg failed");
    if let Err(error) = store
        .update_leg(
            leg.idempotency_key.clone(),
            LegStatus::Failed,
            None,
            Some(reason.clone()),
        )
        .await
    {
        warn!(%error, "failed leg not recorded");
    }
    publish_failed(bus, planned, leg, reason);
}

/// Tells observers a leg did not apply (failed, skipped, or of unknown outcome).
fn publish_failed(
    bus: &Recipient<Event>,
    planned: &RebalancePlanned,
    leg: &LegRecord,
    reason: String,
) {
    let _ = bus.try_send(
        TradeFailed {
            plan_id: planned.plan_id.clone(),
            idempotency_key: leg.idempotency_key.clone(),
            service: leg.service,
            direction: leg.direction,
            amount_usdc: leg.amount_usdc,
            reason,
        }
        .into(),
    );
}
