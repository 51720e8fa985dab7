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
//! An ambiguous outcome is first resolved by a status query
//! (`GET /agents/{id}/rebalance/{key}`): applied legs are counted once, refused ones fail,
//! and only a leg the venue never saw is retried, under the same key. Legs still unresolved
//! stay `pending` in the store and are queried again before the next plan (only then: a
//! plan with nothing pending makes no extra store round trip); at start-up, legs left
//! pending by an earlier run are reconciled before any plan is handled.
//!
//! Before anything is sent the plan meets the [`RiskLimits`]; a plan that breaks one is
//! refused whole (each leg recorded as failed, the limit named), with the day's turnover read
//! from the store so a restart does not reset the daily cap.
//!
//! # Invariants
//! - No leg is sent before the plan is on disk; if recording fails nothing is sent.
//! - No leg of a plan that breaks a risk limit is sent.
//! - No leg is sent, or retried, while the [`TradingGate`] is closed (stream down or
//!   resyncing); the rest of the plan is skipped and the next plan starts from fresh state.
//! - A leg is never resubmitted under a different key.
//! - Dry run records legs as `dry_run` and sends nothing to the venue.
//! - One plan at a time: the handler holds the actor until the plan is finished.

use std::time::Duration;

use actix::{
    Actor, ActorFutureExt, AsyncContext, AtomicResponse, Context, Handler, Recipient, WrapFuture,
};
use ballast::{
    portfolio::PortfolioSnapshot,
    risk::RiskLimits,
    store::{LegRecord, LegStatus, PlanRecord, Store},
    venue::{
        backoff::Backoff,
        client::{LegResolution, VenueClient},
        protocol::{RebalanceBody, RebalanceResponse},
    },
};
use rust_decimal::Decimal;
use tracing::{info, warn};

use crate::{
    clock::TimeSource,
    gate::TradingGate,
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
    /// Limits checked before anything of a plan is sent.
    pub risk: RiskLimits,
}

/// The executor.
#[derive(Debug)]
pub struct SpotExecutor {
    client: VenueClient,
    store: Store,
    config: ExecutorConfig,
    time: TimeSource,
    run_id: String,
    gate: TradingGate,
    detector: Recipient<PlanFinished>,
    bus: Recipient<Event>,
    /// Whether the store may hold legs of unknown outcome (left by the start-up
    /// reconciliation or by a leg of this run): only then does a plan query them first.
    unresolved_legs: bool,
}

/// Where the executor sends what it did.
#[derive(Debug, Clone)]
pub struct ExecutorPeers {
    /// Plan completions, for the detector.
    pub detector: Recipient<PlanFinished>,
    /// Everything, for observers.
    pub bus: Recipient<Event>,
}

impl SpotExecutor {
    /// An executor for `run_id`, sending only while `gate` is open.
    pub fn new(
        client: VenueClient,
        store: Store,
        config: ExecutorConfig,
        time: TimeSource,
        run_id: String,
        gate: TradingGate,
        peers: ExecutorPeers,
    ) -> Self {
        Self {
            client,
            store,
            config,
            time,
            run_id,
            gate,
            detector: peers.detector,
            bus: peers.bus,
            unresolved_legs: false,
        }
    }
}

impl Actor for SpotExecutor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(EXECUTOR_MAILBOX_CAPACITY);
        if self.config.dry_run {
            return;
        }
        // Before the first plan: resolve legs an earlier run left with unknown outcomes.
        let client = self.client.clone();
        let store = self.store.clone();
        let bus = self.bus.clone();
        let run_id = self.run_id.clone();
        let work = async move { reconcile_pending(&client, &store, &bus, &run_id).await };
        ctx.wait(work.into_actor(self).map(|report, executor, _| {
            executor.unresolved_legs = report.unresolved > 0;
            if report.total() > 0 {
                info!(
                    applied = report.applied,
                    refused = report.refused,
                    never_arrived = report.never_arrived,
                    unresolved = report.unresolved,
                    "pending legs reconciled at start-up"
                );
            }
        }));
    }
}

/// What reconciling pending legs found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reconciled {
    /// Applied by the venue; now recorded (and reported) once.
    pub applied: usize,
    /// Refused by the venue; recorded as failed.
    pub refused: usize,
    /// Never received by the venue (earlier runs only); recorded as failed, not resent.
    pub never_arrived: usize,
    /// Still unknown; left pending for the next attempt.
    pub unresolved: usize,
}

impl Reconciled {
    /// Legs looked at.
    pub fn total(&self) -> usize {
        self.applied + self.refused + self.never_arrived + self.unresolved
    }
}

/// Resolves every `pending` leg in the store by a status query, never by resending.
///
/// A leg of an earlier run that the venue never saw is abandoned (failed): its plan was
/// made against balances long gone. A leg of this run that the venue has not seen yet stays
/// pending, because its request may still be on the way.
pub async fn reconcile_pending(
    client: &VenueClient,
    store: &Store,
    bus: &Recipient<Event>,
    run_id: &str,
) -> Reconciled {
    let mut report = Reconciled::default();
    let pending = match store.pending_legs().await {
        Ok(pending) => pending,
        Err(error) => {
            warn!(%error, "pending legs not read; reconciliation deferred");
            return report;
        }
    };
    for leg in pending {
        let plan_id = leg
            .idempotency_key
            .rsplit_once(':')
            .map_or(leg.idempotency_key.as_str(), |(plan, _)| plan)
            .to_owned();
        let this_run = plan_id.starts_with(&format!("{run_id}:"));
        let (status, transfer_id, error) = match client.rebalance_status(&leg.idempotency_key).await
        {
            Ok(LegResolution::Applied(response)) => {
                report.applied += 1;
                info!(key = %leg.idempotency_key, transfer_id = %response.transfer_id,
                      "pending leg was applied by the venue");
                // Resolved by asking, not by sending: no attempt of this run.
                publish_executed(
                    bus,
                    &plan_id,
                    &leg,
                    response.amount_usdc,
                    response.transfer_id.clone(),
                    false,
                    0,
                );
                (LegStatus::Applied, Some(response.transfer_id), None)
            }
            Ok(LegResolution::Refused { code, message }) => {
                report.refused += 1;
                (
                    LegStatus::Failed,
                    None,
                    Some(format!("venue refused it: {code}: {message}")),
                )
            }
            Ok(LegResolution::NeverArrived) if !this_run => {
                report.never_arrived += 1;
                (
                    LegStatus::Failed,
                    None,
                    Some("never reached the venue; abandoned, not resent".to_owned()),
                )
            }
            Ok(LegResolution::NeverArrived) => {
                report.unresolved += 1;
                continue;
            }
            Err(error) => {
                warn!(%error, key = %leg.idempotency_key, "pending leg still unresolved");
                report.unresolved += 1;
                continue;
            }
        };
        if let Err(error) = store
            .update_leg(leg.idempotency_key.clone(), status, transfer_id, error)
            .await
        {
            warn!(%error, key = %leg.idempotency_key, "reconciled leg not recorded");
        }
    }
    report
}

/// What executing one plan produced.
struct Outcome {
    applied: usize,
    failed: usize,
    interrupted: bool,
    /// A leg ended with an unknown outcome and stays `pending` in the store.
    left_pending: bool,
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
        let gate = self.gate.clone();
        let created_at = self.time.now();
        let finished = planned.clone();
        let reconcile_first = !config.dry_run && self.unresolved_legs;
        let work = async move {
            // Off the hot path unless a leg of unknown outcome may exist.
            let still_unresolved = reconcile_first
                && reconcile_pending(&client, &store, &bus, &run_id)
                    .await
                    .unresolved
                    > 0;
            // The day's turnover comes from the store, so the cap survives restarts; read
            // only when the cap is on.
            let used_today_usdc = match config.risk.max_daily_turnover_usdc {
                None => Decimal::ZERO,
                Some(_) => match store.applied_usdc_on(created_at.date()).await {
                    Ok(used) => used,
                    Err(error) => {
                        warn!(%error, "today's turnover unknown; counting the cap as used");
                        Decimal::MAX
                    }
                },
            };
            let context = PlanContext {
                client: &client,
                store: &store,
                config: &config,
                gate: &gate,
                bus: &bus,
                run_id: &run_id,
                used_today_usdc,
            };
            let outcome = execute_plan(&context, created_at, &planned).await;
            (outcome, still_unresolved)
        };
        AtomicResponse::new(Box::pin(work.into_actor(self).map(
            move |(outcome, still_unresolved), executor, _ctx| {
                executor.unresolved_legs = still_unresolved || outcome.left_pending;
                let message = PlanFinished {
                    plan_id: finished.plan_id.clone(),
                    trigger: finished.decision.trigger.clone(),
                    applied: outcome.applied,
                    failed: outcome.failed,
                    interrupted: outcome.interrupted,
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

/// What one plan's execution reads.
struct PlanContext<'a> {
    client: &'a VenueClient,
    store: &'a Store,
    config: &'a ExecutorConfig,
    gate: &'a TradingGate,
    bus: &'a Recipient<Event>,
    run_id: &'a str,
    used_today_usdc: Decimal,
}

async fn execute_plan(
    context: &PlanContext<'_>,
    created_at: time::OffsetDateTime,
    planned: &RebalancePlanned,
) -> Outcome {
    let PlanContext {
        client,
        store,
        config,
        gate,
        bus,
        run_id,
        used_today_usdc,
    } = *context;
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
        interrupted: false,
        left_pending: false,
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
    if let Err(refusals) = config.risk.check(&decision.plan, used_today_usdc) {
        let why = refusals
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ");
        warn!(plan_id = %planned.plan_id, %why, "plan refused by risk limits; nothing sent");
        for leg in &legs {
            fail_leg(store, bus, planned, leg, format!("refused: {why}"), 0).await;
            outcome.failed += 1;
        }
        return outcome;
    }
    let reason = decision.trigger.describe();
    let mut stop_reason: Option<String> = None;
    for leg in &legs {
        if let Some(why) = &stop_reason {
            fail_leg(store, bus, planned, leg, format!("skipped: {why}"), 0).await;
            outcome.failed += 1;
            continue;
        }
        if config.dry_run {
            publish_executed(
                bus,
                &planned.plan_id,
                leg,
                leg.amount_usdc,
                DRY_RUN_TRANSFER_ID.to_owned(),
                true,
                0,
            );
            continue;
        }
        if !gate.is_open() {
            // The stream dropped or skipped events since the plan was made: the view it
            // was planned on may be stale. Skip the rest; the detector replans after resync.
            let why = "stream down; waiting for a fresh snapshot".to_owned();
            fail_leg(store, bus, planned, leg, format!("skipped: {why}"), 0).await;
            outcome.failed += 1;
            outcome.interrupted = true;
            stop_reason = Some(why);
            continue;
        }
        let body = RebalanceBody {
            service: leg.service,
            direction: leg.direction,
            amount_usdc: leg.amount_usdc,
            reason: reason.clone(),
        };
        match send_leg(client, config, gate, &body, &leg.idempotency_key).await {
            Ok((response, attempts)) => {
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
                if let Some(snapshot) = response.snapshot() {
                    outcome.snapshot = Some(snapshot);
                }
                publish_executed(
                    bus,
                    &planned.plan_id,
                    leg,
                    response.amount_usdc,
                    response.transfer_id,
                    false,
                    attempts,
                );
            }
            Err(LegError {
                reason,
                ambiguous,
                attempts,
                stream_down,
            }) => {
                // A leg stopped by the stream going down interrupts the plan: its trigger
                // resumes after the resync instead of waiting for the next one.
                outcome.interrupted |= stream_down;
                if ambiguous {
                    // Unknown outcome: the leg stays `pending` so reconciliation resolves it
                    // with the same key; nothing else runs on a guess.
                    warn!(key = %leg.idempotency_key, %reason, "leg outcome unknown");
                    outcome.left_pending = true;
                    publish_failed(
                        bus,
                        planned,
                        leg,
                        format!("outcome unknown: {reason}"),
                        attempts,
                    );
                } else {
                    fail_leg(store, bus, planned, leg, reason.clone(), attempts).await;
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
    attempts: u32,
    /// A retry was due but the stream is down: the plan is interrupted, not refused.
    stream_down: bool,
}

/// Sends one leg. An ambiguous failure is resolved by a status query first; only a leg the
/// venue has not seen is retried, always under the same idempotency key, within the retry
/// budget and only while the gate stays open.
async fn send_leg(
    client: &VenueClient,
    config: &ExecutorConfig,
    gate: &TradingGate,
    body: &RebalanceBody,
    key: &str,
) -> Result<(RebalanceResponse, u32), LegError> {
    let mut attempt: u32 = 0;
    loop {
        let attempts = attempt + 1;
        let error = match client.rebalance(body, key).await {
            Ok(response) => return Ok((response, attempts)),
            Err(error) => error,
        };
        if error.is_ambiguous() {
            match client.rebalance_status(key).await {
                Ok(LegResolution::Applied(response)) => {
                    info!(key, %error, "ambiguous leg resolved by status query: applied");
                    return Ok((response, attempts));
                }
                Ok(LegResolution::Refused { code, message }) => {
                    return Err(LegError {
                        ambiguous: false,
                        reason: format!("{error}; status query: refused: {code}: {message}"),
                        attempts,
                        stream_down: false,
                    });
                }
                // Not seen yet, or the venue cannot say: an idempotent retry is safe.
                Ok(LegResolution::NeverArrived) | Err(_) => {}
            }
        }
        let retry_due = error.is_retryable() && attempt < config.leg_retry_limit;
        if !retry_due || !gate.is_open() {
            let stream_down = retry_due;
            return Err(LegError {
                ambiguous: error.is_ambiguous(),
                reason: if stream_down {
                    format!("{error}; not retried: stream down")
                } else {
                    error.to_string()
                },
                attempts,
                stream_down,
            });
        }
        attempt += 1;
        let delay = error
            .retry_after()
            .unwrap_or_else(|| config.retry_backoff.jittered_delay(attempt));
        warn!(%error, attempt, delay_ms = delay.as_millis() as u64, key, "retrying leg with the same key");
        tokio::time::sleep(delay.min(Duration::from_secs(60))).await;
        if !gate.is_open() {
            return Err(LegError {
                ambiguous: error.is_ambiguous(),
                reason: format!("{error}; not retried: stream down"),
                attempts,
                stream_down: true,
            });
        }
    }
}

async fn fail_leg(
    store: &Store,
    bus: &Recipient<Event>,
    planned: &RebalancePlanned,
    leg: &LegRecord,
    reason: String,
    attempts: u32,
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
    publish_failed(bus, planned, leg, reason, attempts);
}

/// The transfer id reported for a leg recorded in dry run.
const DRY_RUN_TRANSFER_ID: &str = "dry-run";

/// Tells observers a leg was applied (or, in dry run, would have been).
fn publish_executed(
    bus: &Recipient<Event>,
    plan_id: &str,
    leg: &LegRecord,
    amount_usdc: Decimal,
    transfer_id: String,
    dry_run: bool,
    attempts: u32,
) {
    let _ = bus.try_send(
        TradeExecuted {
            plan_id: plan_id.to_owned(),
            idempotency_key: leg.idempotency_key.clone(),
            service: leg.service,
            direction: leg.direction,
            amount_usdc,
            dry_run,
            transfer_id,
            attempts,
        }
        .into(),
    );
}

/// Tells observers a leg did not apply (failed, skipped, or of unknown outcome).
fn publish_failed(
    bus: &Recipient<Event>,
    planned: &RebalancePlanned,
    leg: &LegRecord,
    reason: String,
    attempts: u32,
) {
    let _ = bus.try_send(
        TradeFailed {
            plan_id: planned.plan_id.clone(),
            idempotency_key: leg.idempotency_key.clone(),
            service: leg.service,
            direction: leg.direction,
            amount_usdc: leg.amount_usdc,
            reason,
            attempts,
        }
        .into(),
    );
}
