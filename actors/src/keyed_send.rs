//! The one send-and-retry loop for a request sent under an idempotency key: a rebalance leg
//! (the SpotExecutor) and a wallet order (the WalletDesk) go through it alike.
//!
//! Each POST is made under a send permit of the operator's [`ControlSwitch`]; a failure is
//! put to the venue's status query for the key when it is ambiguous, then to the core's
//! retry rule (`ballast::execution::decide_retry`), which says applied, give up, or retry
//! after a delay. After the delay the sender's stop flag (if it has one) and the trading
//! gate are read again before the next POST.
//!
//! # Invariants
//! - Every POST, first or retried, goes under the one key the caller gave; nothing here
//!   mints a key.
//! - No POST starts once the operator has halted trading; a halt waits for the POST in
//!   flight.
//! - No retry is sent while the gate is closed, or once the stop flag is set.
//! - The count returned with the outcome is the number of POSTs sent.

use std::{
    future::Future,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

use ballast::{
    execution::{KeyStatus, LegFailure, RetryDecision, RetryInput, SendFailure, decide_retry},
    venue::{backoff::Backoff, client::ClientError},
};
use tracing::{info, warn};

use crate::{control::ControlSwitch, gate::TradingGate};

/// Set when a shutdown's deadline has passed: no further leg is sent (a keyed send
/// stops before its next retry), and the legs not sent stay `pending` for the next start to
/// reconcile. Shared, cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct StopNow(Arc<AtomicBool>);

impl StopNow {
    /// Not set.
    pub fn new() -> Self {
        Self::default()
    }

    /// The deadline passed.
    pub fn set(&self) {
        self.0.store(true, Ordering::Release);
    }

    /// Whether the deadline passed.
    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// What a keyed send obeys: the switch, the gate, the retry budget and schedule, and (for
/// a sender that a shutdown deadline stops mid-retry) the stop flag.
pub(crate) struct KeyedSend<'a> {
    /// The idempotency key every POST and status query goes under.
    pub key: &'a str,
    /// What is sent, as the logs name it (`leg`, `wallet order`).
    pub what: &'static str,
    /// The operator's switch: each POST is made under one of its send permits.
    pub control: &'a ControlSwitch,
    /// The trading gate: no retry while it is closed.
    pub gate: &'a TradingGate,
    /// Retries allowed (same key).
    pub retry_limit: u32,
    /// The retry schedule when the venue sent no `Retry-After`.
    pub backoff: &'a Backoff,
    /// Set once the shutdown deadline passed; `None` for a sender without one.
    pub stop: Option<&'a StopNow>,
}

impl KeyedSend<'_> {
    /// Sends with `post` until it applies or the retry rule gives it up; an ambiguous
    /// failure is put to `status` before the rule decides. The POSTs sent ride along either
    /// way.
    pub(crate) async fn run<R, P, Q>(
        &self,
        mut post: impl FnMut() -> P,
        mut status: impl FnMut() -> Q,
    ) -> Result<(R, u32), (LegFailure, u32)>
    where
        P: Future<Output = Result<R, ClientError>>,
        Q: Future<Output = Result<KeyStatus<R>, ClientError>>,
    {
        let Self {
            key,
            what,
            control,
            gate,
            ..
        } = *self;
        let mut retries_made: u32 = 0;
        let mut last_failure: Option<SendFailure> = None;
        loop {
            let attempts = retries_made + 1;
            // Under a permit: a halt either comes before it (nothing is sent) or waits for
            // this POST to return.
            let Some(permit) = control.send_permit().await else {
                return Err((LegFailure::halted(last_failure.as_ref()), retries_made));
            };
            let sent = post().await;
            drop(permit);
            let error = match sent {
                Ok(reply) => return Ok((reply, attempts)),
                Err(error) => error,
            };
            let failure = SendFailure::from(&error);
            let status = if failure.needs_status_query() {
                status().await.ok()
            } else {
                None
            };
            let input = RetryInput {
                failure: &failure,
                status,
                retries_made,
                retry_limit: self.retry_limit,
                gate_open: gate.is_open(),
            };
            match decide_retry(input, |retry| self.backoff.jittered_delay(retry)) {
                RetryDecision::Applied(reply) => {
                    info!(%key, %error, "ambiguous {what} resolved by status query: applied");
                    return Ok((reply, attempts));
                }
                RetryDecision::GiveUp(given_up) => return Err((given_up, attempts)),
                RetryDecision::Retry { delay } => {
                    retries_made += 1;
                    warn!(%error, attempt = retries_made, delay_ms = delay.as_millis() as u64, %key,
                          "retrying {what} with the same key");
                    tokio::time::sleep(delay).await;
                    if self.stop.is_some_and(StopNow::is_set) {
                        return Err((failure.stopped(), attempts));
                    }
                    if !gate.is_open() {
                        return Err((failure.interrupted(), attempts));
                    }
                    last_failure = Some(failure);
                }
            }
        }
    }
}
