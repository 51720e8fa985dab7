//! Capped, jittered exponential backoff for reconnects and retries (pure).
//!
//! Attempt 0 is immediate: a dropped socket is usually a blip, and the first retry should
//! not wait. Attempt `n ≥ 1` waits a uniformly jittered delay in `[d/2, d]` where
//! `d = min(max, base · 2^(n-1))` ("equal jitter"), so many clients that lose the venue
//! at once do not return in lockstep, while the wait still grows.
//!
//! # Invariants
//! - No delay exceeds `max`, for any attempt up to `u32::MAX` (the exponent saturates).
//! - Attempt 0 yields zero.

use std::time::Duration;

/// Backoff schedule parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Delay before the second retry (the first is immediate).
    pub base: Duration,
    /// Ceiling on any delay.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            base: Duration::from_millis(100),
            max: Duration::from_secs(30),
        }
    }
}

impl Backoff {
    /// The delay before retry `attempt` (0-based), given a uniform `unit` in `[0, 1]` for
    /// jitter. Out-of-range or non-finite `unit` values are clamped.
    pub fn delay(&self, attempt: u32, unit: f64) -> Duration {
        if attempt == 0 {
            return Duration::ZERO;
        }
        let exponent = (attempt - 1).min(32);
        let ceiling = self
            .base
            .checked_mul(1_u32 << exponent.min(31))
            .unwrap_or(self.max)
            .min(self.max);
        let unit = if unit.is_finite() {
            unit.clamp(0.0, 1.0)
        } else {
            1.0
        };
        let half = ceiling / 2;
        half + (ceiling - half).mul_f64(unit)
    }

    /// [`Backoff::delay`] with a fresh uniform jitter draw.
    pub fn jittered_delay(&self, attempt: u32) -> Duration {
        self.delay(attempt, rand::random::<f64>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_is_immediate_then_grows_to_the_cap() {
        struct TestCase {
            attempt: u32,
            unit: f64,
            expected_ms: u64,
        }
        let backoff = Backoff {
            base: Duration::from_millis(100),
            max: Duration::from_millis(1_000),
        };
        let cases = [
            // TC0: the first retry is immediate.
            TestCase {
                attempt: 0,
                unit: 1.0,
                expected_ms: 0,
            },
            // TC1: attempt 1, no jitter drawn → half the base.
            TestCase {
                attempt: 1,
                unit: 0.0,
                expected_ms: 50,
            },
            // TC2: attempt 1, full draw → the base.
            TestCase {
                attempt: 1,
                unit: 1.0,
                expected_ms: 100,
            },
            // TC3: attempt 3 → 400 ms ceiling.
            TestCase {
                attempt: 3,
                unit: 1.0,
                expected_ms: 400,
            },
            // TC4: capped.
            TestCase {
                attempt: 10,
                unit: 1.0,
                expected_ms: 1_000,
            },
            // TC5: u32::MAX never overflows and stays capped.
            TestCase {
                attempt: u32::MAX,
                unit: 1.0,
                expected_ms: 1_000,
            },
            // TC6: NaN jitter is clamped, not propagated.
            TestCase {
                attempt: 2,
                unit: f64::NAN,
                expected_ms: 200,
            },
        ];
        for (i, case) in cases.iter().enumerate() {
            assert_eq!(
                backoff.delay(case.attempt, case.unit),
                Duration::from_millis(case.expected_ms),
                "TC{i}"
            );
        }
    }

    mod property_tests {
        use proptest::prelude::*;

        use super::*;

        proptest! {
            #[test]
            fn prop_delay_never_exceeds_max(attempt in any::<u32>(), unit in any::<f64>(),
                                            base_ms in 0_u64..10_000, max_ms in 0_u64..100_000) {
                let backoff = Backoff { base: Duration::from_millis(base_ms), max: Duration::from_millis(max_ms) };
                prop_assert!(backoff.delay(attempt, unit) <= backoff.max);
            }
        }
    }
}
