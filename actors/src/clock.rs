//! The Clock: emits one [`Tick`] a day at a configured UTC time.
//!
//! Time comes from a [`TimeSource`]: the wall clock, or a scaled clock that runs `speed`
//! simulated seconds per real second in step with the simulated venue, so a demo sees a
//! daily tick every few seconds. Scaled time is measured with `tokio::time::Instant`, so
//! tests under `tokio::time::pause()` advance it virtually.
//!
//! # Invariants
//! - Ticks are strictly increasing and each falls on the configured time of day.
//! - A slow subscriber never delays the schedule: ticks go out with `try_send`-style
//!   delivery and a missed tick is logged, not queued without bound.

use actix::{Actor, ActorFutureExt, AsyncContext, Context, Recipient, WrapFuture};
use time::{Duration as TimeDuration, OffsetDateTime, Time};
use tokio::time::Instant;
use tracing::warn;

use crate::messages::Tick;

/// Where "now" comes from.
#[derive(Debug, Clone, Copy)]
pub enum TimeSource {
    /// The system clock, UTC.
    Wall,
    /// `origin_sim + (now − origin_real) × speed`.
    Scaled {
        /// Real instant of the origin.
        origin_real: Instant,
        /// Simulated time at the origin.
        origin_sim: OffsetDateTime,
        /// Simulated seconds per real second.
        speed: f64,
    },
}

impl TimeSource {
    /// A scaled source starting now at `origin_sim`.
    pub fn scaled(origin_sim: OffsetDateTime, speed: f64) -> Self {
        TimeSource::Scaled {
            origin_real: Instant::now(),
            origin_sim,
            speed,
        }
    }

    /// The current time.
    pub fn now(&self) -> OffsetDateTime {
        match *self {
            TimeSource::Wall => OffsetDateTime::now_utc(),
            TimeSource::Scaled {
                origin_real,
                origin_sim,
                speed,
            } => {
                let real = origin_real.elapsed().as_secs_f64();
                origin_sim + TimeDuration::seconds_f64(real * speed)
            }
        }
    }

    /// Real time to wait until `at`.
    pub fn real_wait_until(&self, at: OffsetDateTime) -> std::time::Duration {
        let ahead = (at - self.now()).as_seconds_f64().max(0.0);
        let real = match *self {
            TimeSource::Wall => ahead,
            TimeSource::Scaled { speed, .. } => ahead / speed,
        };
        std::time::Duration::from_secs_f64(real)
    }
}

/// The first occurrence of `tick_utc` strictly after `now`.
pub fn next_tick(now: OffsetDateTime, tick_utc: Time) -> OffsetDateTime {
    let today = now
        .to_offset(time::UtcOffset::UTC)
        .date()
        .with_time(tick_utc)
        .assume_utc();
    if today > now {
        today
    } else {
        today + TimeDuration::days(1)
    }
}

/// The Clock actor.
#[derive(Debug)]
pub struct Clock {
    source: TimeSource,
    tick_utc: Time,
    subscribers: Vec<Recipient<Tick>>,
}

impl Clock {
    /// A clock that ticks at `tick_utc` every day of `source`.
    pub fn new(source: TimeSource, tick_utc: Time, subscribers: Vec<Recipient<Tick>>) -> Self {
        Self {
            source,
            tick_utc,
            subscribers,
        }
    }

    fn schedule(&self, ctx: &mut Context<Self>, after: OffsetDateTime) {
        let at = next_tick(after, self.tick_utc);
        let wait = self.source.real_wait_until(at);
        let sleep = tokio::time::sleep(wait).into_actor(self);
        ctx.spawn(sleep.map(move |(), clock, ctx| {
            for subscriber in &clock.subscribers {
                if let Err(error) = subscriber.try_send(Tick { at }) {
                    warn!(%error, %at, "tick not delivered: subscriber busy or gone");
                }
            }
            clock.schedule(ctx, at);
        }));
    }
}

impl Actor for Clock {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        let now = self.source.now();
        self.schedule(ctx, now);
    }
}

#[cfg(test)]
mod tests {
    use time::macros::{datetime, time};

    use super::*;

    #[test]
    fn next_tick_is_strictly_later_and_on_time() {
        struct TestCase {
            now: OffsetDateTime,
            expected: OffsetDateTime,
        }
        let cases = [
            // TC0: before today's tick.
            TestCase {
                now: datetime!(2026-01-01 00:00 UTC),
                expected: datetime!(2026-01-01 00:05 UTC),
            },
            // TC1: exactly at the tick: the next day's.
            TestCase {
                now: datetime!(2026-01-01 00:05 UTC),
                expected: datetime!(2026-01-02 00:05 UTC),
            },
            // TC2: late in the day, across a month end.
            TestCase {
                now: datetime!(2026-01-31 23:59 UTC),
                expected: datetime!(2026-02-01 00:05 UTC),
            },
        ];
        for (i, case) in cases.iter().enumerate() {
            assert_eq!(next_tick(case.now, time!(00:05)), case.expected, "TC{i}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn scaled_time_follows_virtual_time() {
        let source = TimeSource::scaled(datetime!(2026-01-01 00:00 UTC), 3_600.0);
        // One real second is one simulated hour.
        tokio::time::advance(std::time::Duration::from_secs(2)).await;
        let now = source.now();
        assert!((now - datetime!(2026-01-01 02:00 UTC)).abs() < TimeDuration::milliseconds(50));
        let wait = source.real_wait_until(datetime!(2026-01-01 05:00 UTC));
        assert!((wait.as_secs_f64() - 3.0).abs() < 0.01);
    }
}
