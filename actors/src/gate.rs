//! The trading gate: whether the venue view is fresh enough to send orders.
//!
//! The BalanceWatcher closes the gate the moment the event stream drops or skips events,
//! and opens it only after a REST snapshot taken *since then* has reached the
//! DriftDetector. The SpotExecutor checks it before every leg, so a plan already in flight
//! when the stream drops stops at the next leg instead of trading on a stale view.
//!
//! A shared flag rather than a message: the executor holds its mailbox for the whole plan,
//! so a "stream down" message would only arrive after the plan it is meant to stop.
//!
//! Beside it, [`NumberingEpoch`]: how many times the venue's event numbering has started over,
//! set by the BalanceWatcher and read by the SpotExecutor, whose memory of booked transfer
//! ids belongs to one numbering (a restarted venue numbers its transfers afresh).
//!
//! # Invariants
//! - The gate starts closed: nothing trades before the first resync.
//! - Every close starts a new epoch; [`TradingGate::open_if`] opens only for the epoch a
//!   snapshot fetch started in, so a snapshot fetched before a disconnect can never reopen
//!   the gate after it.

use std::sync::{
    Arc,
    atomic::{AtomicU32, AtomicU64, Ordering},
};

/// The venue's numbering epoch, shared; every clone is the same value.
#[derive(Debug, Clone, Default)]
pub struct NumberingEpoch(Arc<AtomicU32>);

impl NumberingEpoch {
    /// Starting at `epoch` (from the store).
    pub fn new(epoch: u32) -> Self {
        Self(Arc::new(AtomicU32::new(epoch)))
    }

    /// The current epoch.
    pub fn get(&self) -> u32 {
        self.0.load(Ordering::Acquire)
    }

    /// The venue renumbered: now `epoch`.
    pub fn set(&self, epoch: u32) {
        self.0.store(epoch, Ordering::Release);
    }
}

/// Shared, cheap to clone; every clone is the same gate.
#[derive(Debug, Clone, Default)]
pub struct TradingGate {
    /// `epoch * 2 + open`: one atomic word, so the epoch and the state change together.
    state: Arc<AtomicU64>,
}

impl TradingGate {
    /// A closed gate.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether orders may be sent now.
    pub fn is_open(&self) -> bool {
        self.state.load(Ordering::Acquire) & 1 == 1
    }

    /// The current epoch: capture it when a resync fetch starts.
    pub fn epoch(&self) -> u64 {
        self.state.load(Ordering::Acquire) >> 1
    }

    /// Closes the gate and starts a new epoch.
    pub fn close(&self) {
        let _ = self
            .state
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |state| {
                Some(((state >> 1) + 1) << 1)
            });
    }

    /// Opens the gate if no close happened since `epoch`; returns whether it is open.
    pub fn open_if(&self, epoch: u64) -> bool {
        self.state
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |state| {
                (state >> 1 == epoch).then_some(state | 1)
            })
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_closed_and_opens_for_its_epoch() {
        let gate = TradingGate::new();
        assert!(!gate.is_open());
        let epoch = gate.epoch();
        assert!(gate.open_if(epoch));
        assert!(gate.is_open());
        // Opening again is harmless.
        assert!(gate.open_if(epoch));
    }

    #[test]
    fn a_snapshot_from_before_a_close_cannot_reopen() {
        let gate = TradingGate::new();
        let before = gate.epoch();
        assert!(gate.open_if(before));
        gate.close();
        assert!(!gate.is_open());
        assert!(!gate.open_if(before), "stale resync must not reopen");
        assert!(!gate.is_open());
        let after = gate.epoch();
        assert!(after > before);
        assert!(gate.open_if(after));
        assert!(gate.is_open());
    }

    #[test]
    fn clones_share_state() {
        let gate = TradingGate::new();
        let other = gate.clone();
        other.open_if(other.epoch());
        assert!(gate.is_open());
        gate.close();
        assert!(!other.is_open());
    }
}
