//! The simulated clock: `start + real elapsed × speed + skipped`, on tokio's (possibly
//! virtual) clock.
//!
//! Measured with `tokio::time::Instant`, so under `tokio::time::pause()` it follows virtual
//! time and a test can fast-forward days of activity; [`Clock::skip_hours`] is how
//! `/sim/advance` jumps it.
//!
//! # Invariants
//! - The clock never goes backwards: the skipped time only grows.
//! - Reading it never panics: a clock run for centuries saturates.

use std::{
    sync::{
        Arc,
        atomic::{AtomicI64, Ordering},
    },
    time::Duration,
};

use time::OffsetDateTime;
use tokio::time::Instant;

/// The simulated clock: `start + real elapsed × speed + skipped`.
#[derive(Debug, Clone)]
pub(super) struct Clock {
    /// Simulated time at start.
    pub(super) start: OffsetDateTime,
    started_at: Instant,
    /// Simulated seconds per real second.
    pub(super) speed: f64,
    /// Simulated seconds skipped by [`Clock::skip_hours`]; only ever grows, so the clock
    /// never goes backwards.
    skipped_secs: Arc<AtomicI64>,
}

impl Clock {
    /// A clock reading `start` now and running at `speed`.
    pub(super) fn new(start: OffsetDateTime, speed: f64) -> Self {
        Clock {
            start,
            started_at: Instant::now(),
            speed,
            skipped_secs: Arc::new(AtomicI64::new(0)),
        }
    }

    fn skipped(&self) -> time::Duration {
        time::Duration::seconds(self.skipped_secs.load(Ordering::Acquire))
    }

    /// Simulated time now.
    pub(super) fn now(&self) -> OffsetDateTime {
        let sim_nanos = self.started_at.elapsed().as_secs_f64() * self.speed * 1e9;
        // Clamped so that a clock run for centuries saturates instead of panicking.
        let sim_nanos = sim_nanos.clamp(0.0, i64::MAX as f64) as i64;
        self.start
            .checked_add(time::Duration::nanoseconds(sim_nanos))
            .and_then(|t| t.checked_add(self.skipped()))
            .unwrap_or(self.start)
    }

    /// The real instant at which the simulated clock reads `at`.
    pub(super) fn instant_for(&self, at: OffsetDateTime) -> Instant {
        let real_secs = (at - self.start - self.skipped()).as_seconds_f64() / self.speed;
        let real = Duration::try_from_secs_f64(real_secs.max(0.0)).unwrap_or(Duration::MAX);
        self.started_at
            .checked_add(real)
            .unwrap_or_else(|| self.started_at + Duration::from_secs(86_400 * 365 * 100))
    }

    /// Moves the clock forward by `hours`.
    pub(super) fn skip_hours(&self, hours: u32) {
        self.skipped_secs
            .fetch_add(i64::from(hours) * 3_600, Ordering::AcqRel);
    }
}
