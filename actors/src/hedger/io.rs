//! The HedgeExecutor's I/O helpers: a hedge's name (past those the store already holds), an
//! order or a close sent under its one key with the retry rule, and a hedge saved and
//! announced.
//!
//! # Invariants
//! - An order or a close is only ever re-sent under the key it was first sent with.
//! - A name the store already holds is never used again (it would overwrite that record).

use super::*;

/// The name of the next hedge for `service` on the balances of `trigger`: the namer's next
/// attempt, past any an earlier run of this store used (`None` when the store cannot say).
pub(super) async fn fresh_id(
    shared: &Shared,
    trigger: TriggerId,
    service: Service,
) -> Option<HedgeId> {
    loop {
        let id = shared
            .namer
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .name(trigger, service);
        match shared.store.hedge(id.to_string()).await {
            Ok(None) => return Some(id),
            // Decided by an earlier run on the same balances: the next attempt.
            Ok(Some(_)) => continue,
            Err(error) => {
                warn!(%error, hedge_id = %id, "hedge names not read; nothing sent");
                return None;
            }
        }
    }
}

/// Sends one order under its one key until it fills or the retry rule gives up; an
/// ambiguous failure is put to a status query first. `Err((why, ambiguous))`.
pub(super) async fn send_order(
    shared: &Shared,
    body: &OrderBody,
    key: &str,
) -> Result<OrderResponse, (String, bool)> {
    let markets = &shared.markets;
    let status = move || async move { markets.order_status(key).await.ok() };
    send_keyed(
        shared,
        key,
        "hedge order",
        || markets.order(body, key),
        status,
    )
    .await
    .map_err(|(given_up, _)| (given_up.reason, given_up.ambiguous))
}

/// Sends one close under its one key until the venue answers or the retry rule gives up
/// (a repeated close is answered with the first, so a retry is always safe).
pub(super) async fn send_close(
    shared: &Shared,
    position_id: &str,
    key: &str,
) -> Result<ClosePositionResponse, (String, bool)> {
    let markets = &shared.markets;
    // A close has no status query: the rule decides on the failure alone.
    let status = || std::future::ready(None);
    let post = || markets.close_position(position_id, key);
    send_keyed(shared, key, "hedge close", post, status)
        .await
        .map_err(|(given_up, error)| {
            let code = match &error {
                ClientError::Status { code, .. } => code.clone(),
                _ => String::new(),
            };
            (format!("{} [{code}]", given_up.reason), given_up.ambiguous)
        })
}

/// The hedger's one retry loop: `post` under `key` until it succeeds or the retry rule gives
/// up, an ambiguous failure put to `status` first; `what` names the request in the logs. A
/// give-up comes with the last send's error.
async fn send_keyed<R, P, Q>(
    shared: &Shared,
    key: &str,
    what: &str,
    mut post: impl FnMut() -> P,
    mut status: impl FnMut() -> Q,
) -> Result<R, (ballast::execution::LegFailure, ClientError)>
where
    P: Future<Output = Result<R, ClientError>>,
    Q: Future<Output = Option<ballast::execution::KeyStatus<R>>>,
{
    let mut retries_made = 0;
    loop {
        let error = match post().await {
            Ok(reply) => return Ok(reply),
            Err(error) => error,
        };
        let failure = SendFailure::from(&error);
        let status = if failure.needs_status_query() {
            status().await
        } else {
            None
        };
        match next_step(shared, &failure, status, retries_made) {
            RetryDecision::Applied(reply) => return Ok(reply),
            RetryDecision::GiveUp(given_up) => return Err((given_up, error)),
            RetryDecision::Retry { delay } => {
                retries_made += 1;
                warn!(%error, attempt = retries_made, key, "retrying {what} with the same key");
                tokio::time::sleep(delay).await;
            }
        }
    }
}

/// The retry rule, with this hedger's budget, schedule and gate.
pub(super) fn next_step<A>(
    shared: &Shared,
    failure: &SendFailure,
    status: Option<ballast::execution::KeyStatus<A>>,
    retries_made: u32,
) -> RetryDecision<A> {
    let input = RetryInput {
        failure,
        status,
        retries_made,
        retry_limit: shared.config.retry_limit,
        gate_open: shared.gate.is_open(),
    };
    decide_retry(input, |retry| {
        shared.config.retry_backoff.jittered_delay(retry)
    })
}

pub(super) async fn save(shared: &Shared, hedge: &HedgeRecord) {
    if let Err(error) = shared.store.save_hedge(hedge.clone()).await {
        warn!(%error, hedge_id = %hedge.hedge_id, "hedge not saved");
    }
}

pub(super) fn publish_opened(shared: &Shared, hedge: &HedgeRecord, stuck_usdc: Decimal) {
    let _ = shared.bus.try_send(
        HedgeOpened {
            hedge_id: hedge.hedge_id.clone(),
            service: hedge.service,
            market: hedge.market.clone(),
            notional_usdc: hedge.notional_usdc,
            leverage: hedge.leverage,
            ratio: hedge.ratio,
            stuck_usdc,
            fee_usdc: hedge.costs.fees_usdc,
            position_id: hedge.position_id.clone(),
            reason: hedge.reason.clone(),
            dry_run: hedge.status == HedgeStatus::DryRun,
            at: shared.time.now(),
        }
        .into(),
    );
}

pub(super) fn publish_closed(shared: &Shared, hedge: &HedgeRecord, reason: CloseReason) {
    let _ = shared.bus.try_send(
        HedgeClosed {
            hedge_id: hedge.hedge_id.clone(),
            service: hedge.service,
            market: hedge.market.clone(),
            reason,
            costs: hedge.costs,
            dry_run: hedge.status == HedgeStatus::DryRun,
            at: shared.time.now(),
        }
        .into(),
    );
}
