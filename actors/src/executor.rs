//! The SpotExecutor: executes rebalance plans as venue transfers, one leg at a time.
//!
//! For each plan it first records every leg (status `pending`) with its idempotency key
//! `{plan_id}:{leg_index}` in one durable transaction (a plan id already in the store is a
//! trigger an earlier run planned: dropped, not planned again), then sends the legs in order —
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
//! Every reply that says a leg applied is checked against the leg's request (service,
//! direction, amount, status, and a transfer id booked for no other leg) before the leg is
//! booked; a reply that does not match leaves the leg `pending`, raises a
//! [`ReplyMismatched`] alert and stops the plan. A leg is booked, and reported, with the
//! amount recorded for it, so printed and stored turnover are the same numbers. A venue that
//! holds another request under a leg's key (`idempotency_key_reused`: another companion made
//! this plan first) supersedes the leg: it fails as such and the plan stops.
//!
//! A shutdown lets the plan in flight finish (unless the operator pauses or halts it, which
//! ends it as at any other time); past its deadline ([`StopNow`]) no further leg is sent and
//! the legs not sent stay `pending` for the next start to reconcile.
//!
//! Before anything is recorded, a leg above `risk.max_leg_usdc` is split into legs under the
//! cap, each with its own key. Before anything is sent the plan meets the [`RiskLimits`]; a
//! plan that breaks one is refused whole (each leg recorded as failed with the refusal that
//! concerns it, a [`PlanRefused`] published, which the Notifier raises as an alert), with the
//! day's turnover read from the store so a restart does not reset the daily cap. Splitting
//! fits only the absolute cap: the relative caps (`max_leg_fraction`, ...) still refuse.
//!
//! Between legs, a plan older than `executor.max_plan_age_secs` on the companion's clock (a
//! slow or retried leg at a high simulator speed) sends nothing more: fresh balances are
//! fetched and the plan ends interrupted, so its trigger is planned again on them.
//!
//! # Invariants
//! - No leg is sent before the plan is on disk; if recording fails nothing is sent.
//! - No leg of a plan that breaks a risk limit is sent, and no leg above the per-leg cap is
//!   recorded (it is split first).
//! - No leg after the first is sent from a plan older than `executor.max_plan_age_secs`.
//! - No leg is sent, or retried, while the [`TradingGate`] is closed (stream down or
//!   resyncing); the rest of the plan is skipped and the next plan starts from fresh state.
//! - A leg is never resubmitted under a different key.
//! - Dry run records legs as `dry_run` and sends nothing to the venue.
//! - No leg is booked applied on a reply that does not describe it.
//! - The bus hears of a plan ([`RebalancePlanned`]) only once it is on disk, and of a plan
//!   that was not ([`PlanDropped`]).
//! - No leg is sent while the operator's [`ControlSwitch`] is paused or halted (the leg in
//!   flight finishes; the rest of the plan is skipped and resumes with its trigger), and no
//!   POST starts, or is retried, once it is halted: each is made under a send permit.
//! - One plan at a time: the handler holds the actor until the plan is finished.
//!
//! The decisions (keys, what a pending leg becomes, whether a failed send is retried, what
//! the next leg does) are `ballast::execution`'s; this actor does the I/O around them.

use std::sync::{Arc, Mutex};

use actix::{
    Actor, ActorFutureExt, AsyncContext, AtomicResponse, Context, Handler, Recipient, WrapFuture,
};
pub use ballast::execution::Reconciled;
use ballast::{
    control::Mode,
    execution::{
        BookedTransfers, LegFailure, LegKey, NextLeg, PlanOutcome, ReconcileAction, ReplyMismatch,
        Requested, check_reply, classify_pending, reconcile::check_applied,
    },
    risk::{RiskLimits, leg_refusal},
    store::{LegRecord, LegStatus, PlanRecord, Store, StoreError},
    venue::{
        backoff::Backoff,
        client::{VenueClient, replied},
        protocol::{RebalanceBody, RebalanceResponse},
    },
};
use rust_decimal::Decimal;
use tracing::{info, warn};

use crate::{
    clock::TimeSource,
    control::ControlSwitch,
    gate::{NumberingEpoch, TradingGate},
    keyed_send::KeyedSend,
    messages::{
        DropReason, Event, PlanDropped, PlanFinished, PlanRefused, RebalancePlanned,
        ReplyMismatched, TradeExecuted, TradeFailed,
    },
};

/// The shutdown deadline's flag, shared with the keyed send loop that reads it.
pub use crate::keyed_send::StopNow;

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
    /// The oldest a plan may grow (the companion's clock) and still send a leg.
    pub max_plan_age: std::time::Duration,
}

/// The executor.
#[derive(Debug)]
pub struct SpotExecutor {
    shared: Shared,
    time: TimeSource,
    detector: Recipient<PlanFinished>,
    /// Whether the store may hold legs of unknown outcome (left by the start-up
    /// reconciliation or by a leg of this run): only then does a plan query them first.
    unresolved_legs: bool,
}

/// What the work on a plan takes along: cheap clones of the executor's handles, so the
/// future owns them while the actor is held.
#[derive(Debug, Clone)]
struct Shared {
    client: VenueClient,
    store: Store,
    config: ExecutorConfig,
    gate: TradingGate,
    stop: StopNow,
    bus: Recipient<Event>,
    run_id: String,
    time: TimeSource,
    /// Transfer ids booked in this run, in the venue's current numbering.
    booked: Booked,
    control: ControlSwitch,
}

/// Which leg each transfer id of this run was booked for (the core's memory, shared with the
/// work on a plan), and the numbering it belongs to.
#[derive(Debug, Clone)]
struct Booked {
    transfers: Arc<Mutex<BookedTransfers>>,
    numbering: NumberingEpoch,
}

impl Booked {
    fn booked_for(&self, transfer_id: &str) -> Option<String> {
        let epoch = self.numbering.get();
        let mut transfers = self.transfers.lock().unwrap_or_else(|e| e.into_inner());
        transfers.booked_for(transfer_id, epoch).map(str::to_owned)
    }

    fn book(&self, transfer_id: &str, key: &str) {
        let epoch = self.numbering.get();
        let mut transfers = self.transfers.lock().unwrap_or_else(|e| e.into_inner());
        transfers.book(transfer_id, key, epoch);
    }
}

impl Shared {
    async fn reconcile(&self) -> Reconciled {
        reconcile_pending(self).await
    }

    /// Checks a reply that says `leg` applied; on a mismatch, alerts.
    fn check(&self, leg: &Leg, response: &RebalanceResponse) -> Result<(), ReplyMismatch> {
        let result = check_leg_reply(&self.booked, &leg.record, response);
        if let Err(mismatch) = &result {
            alert_mismatch(&self.bus, mismatch, self.time.now());
        }
        result
    }
}

/// Checks `response` against the leg recorded as `record`: the core's comparison, with the
/// leg this run booked the transfer id for, if any.
fn check_leg_reply(
    booked: &Booked,
    record: &LegRecord,
    response: &RebalanceResponse,
) -> Result<(), ReplyMismatch> {
    let booked_for = booked.booked_for(&response.transfer_id);
    let requested = Requested {
        key: &record.idempotency_key,
        service: record.service,
        direction: record.direction,
        amount_usdc: record.amount_usdc,
    };
    check_reply(&requested, &replied(response), booked_for.as_deref())
}

/// Raises the alert for a reply that does not describe its leg.
/// Raises the alert for a money reply that does not describe its request (a leg's, or a
/// wallet order's); the caller leaves it unresolved.
pub(crate) fn alert_mismatch(
    bus: &Recipient<Event>,
    mismatch: &ReplyMismatch,
    at: time::OffsetDateTime,
) {
    warn!(%mismatch, "venue reply does not match the request; left unresolved");
    let _ = bus.try_send(
        ReplyMismatched {
            mismatch: mismatch.clone(),
            at,
        }
        .into(),
    );
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
    /// An executor for `run_id`, sending only while `gate` is open and until `stop` is set,
    /// following the venue's numbering in `numbering`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        client: VenueClient,
        store: Store,
        config: ExecutorConfig,
        time: TimeSource,
        run_id: String,
        gate: TradingGate,
        stop: StopNow,
        numbering: NumberingEpoch,
        peers: ExecutorPeers,
    ) -> Self {
        let shared = Shared {
            client,
            store,
            config,
            gate,
            stop,
            bus: peers.bus,
            run_id,
            time,
            booked: Booked {
                transfers: Arc::default(),
                numbering,
            },
            control: ControlSwitch::default(),
        };
        Self {
            shared,
            time,
            detector: peers.detector,
            unresolved_legs: false,
        }
    }
}

impl SpotExecutor {
    /// Obeys the operator's `control` switch (the default switch always runs).
    #[must_use]
    pub fn with_control(mut self, control: ControlSwitch) -> Self {
        self.shared.control = control;
        self
    }
}

impl Actor for SpotExecutor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(EXECUTOR_MAILBOX_CAPACITY);
        if self.shared.config.dry_run {
            return;
        }
        // Before the first plan: resolve legs an earlier run left with unknown outcomes.
        let shared = self.shared.clone();
        let work = async move { shared.reconcile().await };
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

/// Resolves every `pending` leg in the store by a status query, never by resending.
///
/// A leg of an earlier run that the venue never saw is abandoned (failed): its plan was
/// made against balances long gone. A leg of this run that the venue has not seen yet stays
/// pending, because its request may still be on the way. Which run a leg is of comes from the
/// store (keys are named after triggers). An answer that says applied but describes another
/// transfer leaves the leg pending and raises an alert.
async fn reconcile_pending(shared: &Shared) -> Reconciled {
    let Shared {
        client,
        store,
        bus,
        run_id,
        time,
        booked,
        ..
    } = shared;
    let mut report = Reconciled::default();
    let pending = match store.pending_legs_with_run().await {
        Ok(pending) => pending,
        Err(error) => {
            warn!(%error, "pending legs not read; reconciliation deferred");
            return report;
        }
    };
    for pending in pending {
        let record = pending.leg;
        let key_text = record.idempotency_key.clone();
        let key = key_text.parse::<LegKey>();
        if let Err(error) = &key {
            // Not a key ballast writes (a hand-edited store); the venue is asked all the same.
            warn!(%error, "pending leg under a foreign key");
        }
        let this_run = pending.run_id == *run_id;
        let answer = client.rebalance_status(&key_text).await;
        if let Err(error) = &answer {
            warn!(%error, key = %key_text, "pending leg still unresolved");
        }
        let action = classify_pending(answer.ok(), this_run);
        let action = match action {
            ReconcileAction::RecordApplied(response) => {
                let check = check_leg_reply(booked, &record, &response);
                check_applied(ReconcileAction::RecordApplied(response), |_| check)
            }
            other => other,
        };
        report.count(&action);
        let (status, transfer_id, error) = match action {
            ReconcileAction::RecordApplied(response) => {
                info!(key = %key_text, transfer_id = %response.transfer_id,
                      "pending leg was applied by the venue");
                booked.book(&response.transfer_id, &key_text);
                match key {
                    // Resolved by asking, not by sending: no attempt of this run. Reported
                    // with the amount recorded (the reply matched it).
                    Ok(key) => {
                        let report = Report::Executed {
                            amount_usdc: record.amount_usdc,
                            transfer_id: response.transfer_id.clone(),
                            dry_run: false,
                        };
                        Leg { key, record }.publish(bus, report, 0);
                    }
                    Err(_) => warn!("applied leg under a foreign key not reported"),
                }
                (LegStatus::Applied, Some(response.transfer_id), None)
            }
            ReconcileAction::RecordRefused { reason }
            | ReconcileAction::RecordAbandoned { reason } => {
                (LegStatus::Failed, None, Some(reason))
            }
            ReconcileAction::Mismatched(mismatch) => {
                alert_mismatch(bus, &mismatch, time.now());
                continue;
            }
            ReconcileAction::LeavePending => continue,
        };
        if let Err(error) = store
            .update_leg(key_text.clone(), status, transfer_id, error)
            .await
        {
            warn!(%error, key = %key_text, "reconciled leg not recorded");
        }
    }
    report
}

impl Handler<RebalancePlanned> for SpotExecutor {
    type Result = AtomicResponse<Self, ()>;

    fn handle(&mut self, planned: RebalancePlanned, _ctx: &mut Self::Context) -> Self::Result {
        let shared = self.shared.clone();
        let time = self.time;
        let created_at = time.now();
        let finished = planned.clone();
        let reconcile_first = !shared.config.dry_run && self.unresolved_legs;
        let work = async move {
            // Off the hot path unless a leg of unknown outcome may exist.
            let still_unresolved = reconcile_first && shared.reconcile().await.unresolved > 0;
            // The day's turnover comes from the store, so the cap survives restarts; read
            // only when the cap is on.
            let used_today_usdc = match shared.config.risk.counts_daily_turnover() {
                false => Decimal::ZERO,
                true => match shared.store.applied_usdc_on(created_at.date()).await {
                    Ok(used) => used,
                    Err(error) => {
                        warn!(%error, "today's turnover unknown; counting the cap as used");
                        Decimal::MAX
                    }
                },
            };
            let outcome = execute_plan(&shared, used_today_usdc, time, created_at, &planned).await;
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
                    pending_at_stop: outcome.pending_at_stop,
                    at: executor.time.now(),
                };
                let _ = executor.shared.bus.try_send(message.clone().into());
                if let Err(error) = executor.detector.try_send(message) {
                    warn!(%error, "detector unavailable for plan completion");
                }
            },
        )))
    }
}

/// One leg of a plan: its key, and its record as stored (the key's text).
struct Leg {
    key: LegKey,
    record: LegRecord,
}

async fn execute_plan(
    shared: &Shared,
    used_today_usdc: Decimal,
    time: TimeSource,
    created_at: time::OffsetDateTime,
    planned: &RebalancePlanned,
) -> PlanOutcome {
    let Shared {
        store,
        config,
        gate,
        stop,
        bus,
        run_id,
        client,
        control,
        ..
    } = shared;
    let decision = &planned.decision;
    // Legs above the per-leg cap become several legs under it, each with its own key.
    let plan = config.risk.split_oversized(&decision.plan);
    if plan.legs.len() != decision.plan.legs.len() {
        info!(plan_id = %planned.plan_id, legs = plan.legs.len(),
              "legs split under risk.max_leg_usdc");
    }
    let initial_status = if config.dry_run {
        LegStatus::DryRun
    } else {
        LegStatus::Pending
    };
    let legs: Vec<Leg> = plan
        .legs
        .iter()
        .enumerate()
        .map(|(index, leg)| {
            let leg_index = u32::try_from(index).unwrap_or(u32::MAX);
            let key = planned.plan_id.leg(leg_index);
            let record = LegRecord {
                idempotency_key: key.to_string(),
                leg_index,
                service: leg.service,
                direction: leg.direction,
                amount_usdc: leg.amount_usdc,
                status: initial_status,
            };
            Leg { key, record }
        })
        .collect();
    let mut outcome = PlanOutcome::default();
    let record = PlanRecord {
        plan_id: planned.plan_id.to_string(),
        run_id: run_id.clone(),
        created_at,
        trigger: decision.trigger.name().to_owned(),
        reason: decision.trigger.describe(),
        total_usdc: decision.plan.total_usdc,
        legs: legs.iter().map(|leg| leg.record.clone()).collect(),
    };
    if let Err(error) = store.record_plan(record).await {
        let why = match error {
            StoreError::DuplicatePlan { .. } => {
                info!(plan_id = %planned.plan_id, "trigger already planned by an earlier run; not planned again");
                DropReason::AlreadyPlanned
            }
            error => {
                warn!(%error, plan_id = %planned.plan_id, "plan not recorded; nothing sent");
                DropReason::NotRecorded {
                    error: error.to_string(),
                }
            }
        };
        let dropped = PlanDropped {
            plan_id: planned.plan_id.clone(),
            trigger: decision.trigger.clone(),
            why,
        };
        let _ = bus.try_send(dropped.into());
        outcome.failed_unsent(legs.len());
        return outcome;
    }
    // On disk: observers hear of the plan now, as its execution starts, with the legs it
    // sends (split under the per-leg cap), so their keys are the ones recorded.
    let announced = RebalancePlanned {
        plan_id: planned.plan_id.clone(),
        decision: Arc::new(ballast::policy::Decision {
            plan: plan.clone(),
            ..(*planned.decision).clone()
        }),
    };
    let _ = bus.try_send(announced.into());
    if let Err(refusals) = config.risk.check(&plan, used_today_usdc) {
        let why = refusals
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ");
        warn!(plan_id = %planned.plan_id, %why, "plan refused by risk limits; nothing sent");
        let refused = PlanRefused {
            plan_id: planned.plan_id.clone(),
            refusals: refusals.clone(),
        };
        // Observers show it; the Notifier raises it as a `risk_refused` alert.
        let _ = bus.try_send(refused.into());
        for (index, leg) in legs.iter().enumerate() {
            leg.fail(store, bus, leg_refusal(&refusals, index), 0).await;
        }
        outcome.failed_unsent(legs.len());
        return outcome;
    }
    let reason = decision.trigger.describe();
    for (done, leg) in legs.iter().enumerate() {
        // The operator's word first: a paused or halted companion sends no further leg (a
        // halt during a graceful stop ends the plan at once too).
        let next = match control.mode() {
            Mode::Running if stop.is_set() => {
                // Past the shutdown deadline: the rest stays `pending` (recorded above) for
                // the next start to reconcile; nothing is sent and nothing is failed.
                let left = legs.len() - done;
                warn!(plan_id = %planned.plan_id, legs = left, "shutdown deadline passed; legs left pending");
                outcome.left_at_stop(left);
                break;
            }
            Mode::Running => {
                let age = (time.now() - created_at).unsigned_abs();
                if !config.dry_run && outcome.is_stale(done, age, config.max_plan_age) {
                    // Sized on balances this old: fetch fresh ones, and let the trigger plan
                    // again.
                    let fresh = match client.portfolio().await.map(|p| p.to_snapshot()) {
                        Ok(Ok(snapshot)) => Some(snapshot),
                        Ok(Err(error)) => {
                            warn!(%error, "fresh balances invalid; the next trigger plans again");
                            None
                        }
                        Err(error) => {
                            warn!(%error, "fresh balances unavailable; the next trigger plans again");
                            None
                        }
                    };
                    warn!(plan_id = %planned.plan_id, age_secs = age.as_secs(), "plan too old to send its next leg");
                    outcome.stale(age, config.max_plan_age, fresh);
                }
                outcome.next_leg(config.dry_run, gate.is_open())
            }
            held => outcome.hold(&format!("{held} by the operator")),
        };
        match next {
            NextLeg::Skip { reason } => {
                leg.fail(store, bus, reason, 0).await;
                continue;
            }
            NextLeg::DryRun => {
                let report = Report::Executed {
                    amount_usdc: leg.record.amount_usdc,
                    transfer_id: DRY_RUN_TRANSFER_ID.to_owned(),
                    dry_run: true,
                };
                leg.publish(bus, report, 0);
                continue;
            }
            NextLeg::Send => {}
        }
        let body = RebalanceBody {
            service: leg.record.service,
            direction: leg.record.direction,
            amount_usdc: leg.record.amount_usdc,
            reason: reason.clone(),
        };
        let sent = send_leg(shared, &body, &leg.record.idempotency_key).await;
        let sent = match sent {
            Ok((response, attempts)) => match shared.check(leg, &response) {
                Ok(()) => Ok((response, attempts)),
                Err(mismatch) => {
                    // Whatever the venue did, it was not what this leg asked: unresolved.
                    let failure = LegFailure {
                        reason: mismatch.to_string(),
                        ambiguous: true,
                        interrupted: false,
                        superseded: false,
                    };
                    Err((failure, attempts))
                }
            },
            Err(failed) => Err(failed),
        };
        match sent {
            Ok((response, attempts)) => {
                if let Err(error) = store
                    .update_leg_at(
                        leg.record.idempotency_key.clone(),
                        LegStatus::Applied,
                        Some(response.transfer_id.clone()),
                        None,
                        Some(time.now()),
                    )
                    .await
                {
                    warn!(%error, key = %leg.key, "applied leg not recorded");
                }
                shared
                    .booked
                    .book(&response.transfer_id, &leg.record.idempotency_key);
                // The reply matched the leg: the amount recorded is the amount moved, and
                // the one reported, so printed and stored turnover agree.
                info!(key = %leg.key, service = leg.record.service.name(),
                      direction = leg.record.direction.name(),
                      amount_usdc = %leg.record.amount_usdc, "leg applied");
                outcome.applied(leg.record.amount_usdc, response.snapshot());
                let report = Report::Executed {
                    amount_usdc: leg.record.amount_usdc,
                    transfer_id: response.transfer_id,
                    dry_run: false,
                };
                leg.publish(bus, report, attempts);
            }
            Err((failure, attempts)) => {
                if failure.ambiguous {
                    // Unknown outcome: the leg stays `pending` so reconciliation resolves it
                    // with the same key; nothing else runs on a guess.
                    warn!(key = %leg.key, reason = %failure.reason, "leg outcome unknown");
                    let reason = format!("outcome unknown: {}", failure.reason);
                    leg.publish(bus, Report::failed(reason), attempts);
                } else if failure.superseded {
                    info!(key = %leg.key, "another request holds this leg's key: another companion made this plan first");
                    leg.fail_superseded(store, bus, failure.reason.clone(), attempts)
                        .await;
                } else {
                    leg.fail(store, bus, failure.reason.clone(), attempts).await;
                }
                outcome.gave_up(leg.key.leg_index(), &failure);
            }
        }
    }
    outcome
}

/// Sends one leg, under its one key, until it applies or the retry rule gives it up; an
/// ambiguous failure is put to a status query before the rule decides. The POSTs sent ride
/// along either way.
async fn send_leg(
    shared: &Shared,
    body: &RebalanceBody,
    key: &str,
) -> Result<(RebalanceResponse, u32), (LegFailure, u32)> {
    let Shared { client, config, .. } = shared;
    let send = KeyedSend {
        key,
        what: "leg",
        control: &shared.control,
        gate: &shared.gate,
        retry_limit: config.leg_retry_limit,
        backoff: &config.retry_backoff,
        stop: Some(&shared.stop),
    };
    send.run(
        move || client.rebalance(body, key),
        move || client.rebalance_status(key),
    )
    .await
}

/// The transfer id reported for a leg recorded in dry run.
const DRY_RUN_TRANSFER_ID: &str = "dry-run";

/// What observers are told about a leg.
enum Report {
    /// Applied (or, in dry run, would have been).
    Executed {
        amount_usdc: Decimal,
        transfer_id: String,
        dry_run: bool,
    },
    /// Did not apply (failed, skipped, superseded, or of unknown outcome), and why.
    Failed { reason: String, superseded: bool },
}

impl Report {
    fn failed(reason: String) -> Self {
        Report::Failed {
            reason,
            superseded: false,
        }
    }
}

impl Leg {
    /// Records the leg failed with `reason` and tells observers.
    async fn fail(&self, store: &Store, bus: &Recipient<Event>, reason: String, attempts: u32) {
        warn!(key = %self.key, %reason, "leg failed");
        self.record_failed(store, &reason).await;
        self.publish(bus, Report::failed(reason), attempts);
    }

    /// Records the leg superseded (another companion's request holds its key) and tells
    /// observers: not applied, and no error of this companion.
    async fn fail_superseded(
        &self,
        store: &Store,
        bus: &Recipient<Event>,
        reason: String,
        attempts: u32,
    ) {
        self.record_failed(store, &reason).await;
        let report = Report::Failed {
            reason,
            superseded: true,
        };
        self.publish(bus, report, attempts);
    }

    async fn record_failed(&self, store: &Store, reason: &str) {
        if let Err(error) = store
            .update_leg(
                self.record.idempotency_key.clone(),
                LegStatus::Failed,
                None,
                Some(reason.to_owned()),
            )
            .await
        {
            warn!(%error, "failed leg not recorded");
        }
    }

    /// Tells observers what became of the leg, after `attempts` POSTs.
    fn publish(&self, bus: &Recipient<Event>, report: Report, attempts: u32) {
        let plan_id = self.key.plan_id().clone();
        let idempotency_key = self.key.clone();
        let (service, direction) = (self.record.service, self.record.direction);
        let event: Event = match report {
            Report::Executed {
                amount_usdc,
                transfer_id,
                dry_run,
            } => TradeExecuted {
                plan_id,
                idempotency_key,
                service,
                direction,
                amount_usdc,
                dry_run,
                transfer_id,
                attempts,
            }
            .into(),
            Report::Failed { reason, superseded } => TradeFailed {
                plan_id,
                idempotency_key,
                service,
                direction,
                amount_usdc: self.record.amount_usdc,
                reason,
                attempts,
                superseded,
            }
            .into(),
        };
        let _ = bus.try_send(event);
    }
}
