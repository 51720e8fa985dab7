//! The state the server, the websocket sessions, the activity task and the handle share:
//! the engine behind its lock, the broadcast channels, the clock, the fault dice and the
//! shutdown signal; and the clock jump they all may ask for.
//!
//! # Invariants
//! - Frames are broadcast while the engine lock is held, so subscribers see them in `seq`
//!   order.
//! - A poisoned lock is recovered, never propagated: every mutation is applied whole.
//! - Clock jumps are serialized, so two advances never interleave their hours.

use std::sync::{Mutex, MutexGuard, atomic::AtomicUsize};

use tokio::sync::{Notify, broadcast, watch};

use super::{
    clock::Clock,
    config::SimError,
    engine::{AppliedTransfer, Engine, MAX_ADVANCE_HOURS},
    faults::{Fault, FaultDice},
    ledger::invalid,
};
use crate::{
    secret::ApiKey,
    venue::protocol::{
        EventFrame,
        sim::{AdvanceResponse, SimStats},
    },
};

/// State shared by the server, the activity task and the handle.
#[derive(Debug)]
pub(super) struct Shared {
    pub(super) engine: Mutex<Engine>,
    pub(super) frames_tx: broadcast::Sender<EventFrame>,
    pub(super) transfers_tx: broadcast::Sender<AppliedTransfer>,
    pub(super) clock: Clock,
    pub(super) agent_id: String,
    pub(super) api_key: Option<ApiKey>,
    pub(super) dice: Mutex<FaultDice>,
    pub(super) shutdown_tx: watch::Sender<bool>,
    pub(super) active_websockets: AtomicUsize,
    pub(super) websocket_closed: Notify,
    /// Wakes the activity task when the clock jumps, so it does not sleep through the jump.
    pub(super) clock_moved: Notify,
    /// Serializes clock jumps, so two advances never interleave their hours.
    pub(super) advancing: tokio::sync::Mutex<()>,
}

impl Shared {
    /// The engine; a panic elsewhere while holding the lock leaves consistent state (every
    /// mutation is applied whole), so a poisoned lock is recovered, not propagated.
    pub(super) fn engine(&self) -> MutexGuard<'_, Engine> {
        self.engine
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Broadcasts frames and a transfer. Called with the engine lock held, so subscribers
    /// see frames in `seq` order.
    pub(super) fn publish(&self, frames: &[EventFrame], transfer: Option<&AppliedTransfer>) {
        for frame in frames {
            // No subscriber is fine: the frame is in the replay buffer.
            let _ = self.frames_tx.send(frame.clone());
        }
        if let Some(transfer) = transfer {
            let _ = self.transfers_tx.send(transfer.clone());
        }
    }

    /// Rolls the dice for a fault, counting it when it happens.
    pub(super) fn roll(&self, fault: Fault) -> bool {
        let happens = self.dice().roll(fault);
        if happens {
            self.engine().count_fault(fault.name());
            tracing::debug!(fault = fault.name(), "sim injected fault");
        }
        happens
    }

    /// What the venue saw, with the clock's speed.
    pub(super) fn stats(&self) -> SimStats {
        let now = self.clock.now();
        let mut stats = self.engine().stats(now);
        stats.speed = crate::money::decimal_from_f64(self.clock.speed, "speed").unwrap_or_default();
        stats
    }

    /// The fault dice; a poisoned lock is recovered like the engine's.
    pub(super) fn dice(&self) -> MutexGuard<'_, FaultDice> {
        self.dice
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A receiver of the shutdown signal.
    pub(super) fn shutting_down(&self) -> watch::Receiver<bool> {
        self.shutdown_tx.subscribe()
    }

    /// Moves the clock forward by `hours` and runs the hours it jumps over.
    pub(super) async fn advance(&self, hours: u32) -> Result<AdvanceResponse, SimError> {
        if !(1..=MAX_ADVANCE_HOURS).contains(&hours) {
            return Err(SimError::Rejected(invalid(
                "hours",
                &format!("must be an integer in [1, {MAX_ADVANCE_HOURS}]"),
            )));
        }
        let _one_at_a_time = self.advancing.lock().await;
        self.clock.skip_hours(hours);
        let now = self.clock.now();
        let (hours_run, last_seq) = {
            let mut engine = self.engine();
            let (frames, hours_run) = engine.run_due_hours(now);
            self.publish(&frames, None);
            (hours_run, engine.last_seq())
        };
        self.clock_moved.notify_waiters();
        tracing::info!(hours, hours_run, sim_time = %now, "sim clock advanced");
        Ok(AdvanceResponse {
            sim_time: now,
            hours_run,
            last_seq,
        })
    }
}

/// Resolves once shutdown has been requested (at once if it already was).
pub(super) async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    // The guard `wait_for` returns is not `Send`; drop it here, before any other await.
    let _ = shutdown.wait_for(|stop| *stop).await;
}
