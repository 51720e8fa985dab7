//! The control switch: the operator's trading mode, shared by the HTTP control handler (which
//! sets it), the DriftDetector (which holds plans while it is not running) and the
//! SpotExecutor (which checks it before every leg and every retry).
//!
//! A shared atomic rather than a message, for the reason the [`TradingGate`](crate::gate) is
//! one: a message would queue behind whatever the actors are busy with (an event flood, a plan
//! in flight), and a halt must not wait for that (STYLE habit 15, promise 11). The handler also
//! sends [`ControlChanged`](crate::messages::ControlChanged) so the detector acts on a resume
//! at once, and records the action in the store.
//!
//! # Invariants
//! - Once [`ControlSwitch::set`] for `halted` has returned, no leg POST is in flight and none
//!   starts: every POST is made under a [`SendPermit`], taken only while not halted, and the
//!   halt waits for the permits out to come back. The wait is bounded by the venue's request
//!   timeout (a POST in flight cannot be recalled; it is let finish).
//! - The switch never blocks the executor for longer than a mode change takes.

use std::sync::{
    Arc,
    atomic::{AtomicU8, Ordering},
};

use ballast::control::Mode;
use tokio::sync::{OwnedRwLockReadGuard, RwLock};

/// Shared, cheap to clone; every clone is the same switch.
#[derive(Debug, Clone)]
pub struct ControlSwitch {
    mode: Arc<AtomicU8>,
    /// Readers: leg POSTs in flight. The halt takes the write side once, to wait them out.
    sending: Arc<RwLock<()>>,
}

/// Held while one leg POST is in flight; a halt waits until every one is dropped.
#[derive(Debug)]
pub struct SendPermit(#[allow(dead_code)] OwnedRwLockReadGuard<()>);

impl Default for ControlSwitch {
    fn default() -> Self {
        Self::new(Mode::Running)
    }
}

impl ControlSwitch {
    /// A switch in `mode` (the store's last word at start-up).
    pub fn new(mode: Mode) -> Self {
        Self {
            mode: Arc::new(AtomicU8::new(encode(mode))),
            sending: Arc::new(RwLock::new(())),
        }
    }

    /// The mode now.
    pub fn mode(&self) -> Mode {
        decode(self.mode.load(Ordering::Acquire))
    }

    /// Whether new plans wait (paused or halted).
    pub fn holds_plans(&self) -> bool {
        self.mode().holds_plans()
    }

    /// Whether every order is stopped.
    pub fn is_halted(&self) -> bool {
        self.mode() == Mode::Halted
    }

    /// Sets the mode, in force at once: the next leg, POST or plan checked sees it.
    pub fn set_mode(&self, mode: Mode) {
        self.mode.store(encode(mode), Ordering::Release);
    }

    /// Returns once no leg POST is in flight. After [`Self::set_mode`] with `halted`, no POST
    /// starts after this: permits asked for from now on queue behind this wait (the lock is
    /// write-preferring), then see `halted` and are refused. A POST already under way is let
    /// finish (its outcome is booked as usual).
    pub async fn sends_settled(&self) {
        drop(self.sending.write().await);
    }

    /// [`Self::set_mode`], and for `halted` also [`Self::sends_settled`].
    pub async fn set(&self, mode: Mode) {
        self.set_mode(mode);
        if mode == Mode::Halted {
            self.sends_settled().await;
        }
    }

    /// A permit to send one leg POST now, or `None` when halted. Hold it until the POST has
    /// returned.
    pub async fn send_permit(&self) -> Option<SendPermit> {
        let guard = Arc::clone(&self.sending).read_owned().await;
        // Checked under the permit: a halt that set the mode before this point waits for no
        // one, and one after waits for this POST.
        (!self.is_halted()).then_some(SendPermit(guard))
    }
}

const fn encode(mode: Mode) -> u8 {
    match mode {
        Mode::Running => 0,
        Mode::Paused => 1,
        Mode::Halted => 2,
    }
}

fn decode(value: u8) -> Mode {
    match value {
        0 => Mode::Running,
        1 => Mode::Paused,
        // Only `encode` writes; anything else is treated as the strictest mode.
        _ => Mode::Halted,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn modes_round_trip_and_clones_share_state() {
        for mode in Mode::ALL {
            assert_eq!(decode(encode(mode)), mode);
        }
        let switch = ControlSwitch::default();
        let other = switch.clone();
        assert_eq!(other.mode(), Mode::Running);
        futures_executor(switch.set(Mode::Paused));
        assert!(other.holds_plans() && !other.is_halted());
    }

    /// Runs a future that does not need a reactor to completion.
    fn futures_executor<F: std::future::Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime")
            .block_on(future)
    }

    #[tokio::test(start_paused = true)]
    async fn a_halt_waits_for_the_post_in_flight_and_refuses_the_next() {
        let switch = ControlSwitch::default();
        let permit = switch.send_permit().await.expect("running: may send");
        let halting = tokio::spawn({
            let switch = switch.clone();
            async move { switch.set(Mode::Halted).await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        // The mode is halted at once, but the halt has not returned: a POST is out.
        assert!(switch.is_halted());
        assert!(!halting.is_finished());
        drop(permit);
        halting.await.expect("halt returns once the POST is back");
        assert!(switch.send_permit().await.is_none(), "no POST after a halt");
        switch.set(Mode::Running).await;
        assert!(switch.send_permit().await.is_some());
    }
}
