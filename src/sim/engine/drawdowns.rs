//! Drawdown alerts: each service's performance index against its local peak, announced as
//! a `drawdown` event when it falls [`DRAWDOWN_ALERT`] below it.
//!
//! # Invariants
//! - One fall is announced once: after an alert the peak restarts from where it fired.
//! - An injected drawdown is announced by its own event, never again by the watch.

use rust_decimal::Decimal;

use crate::service::{Service, ServiceMap};

/// A service this far below its local peak is announced as a drawdown.
const DRAWDOWN_ALERT: f64 = 0.2;

/// Tracks each service's performance index against its local peak.
#[derive(Debug, Clone)]
pub(super) struct DrawdownWatch {
    index: ServiceMap<f64>,
    peak: ServiceMap<f64>,
}

impl DrawdownWatch {
    /// Every index at 1, at its peak.
    pub(super) fn new() -> Self {
        DrawdownWatch {
            index: ServiceMap([1.0; 6]),
            peak: ServiceMap([1.0; 6]),
        }
    }

    /// Records a performance change; returns the drawdown when it crosses the alert level
    /// (and then measures the next one from here, so one fall is announced once).
    pub(super) fn observe(
        &mut self,
        service: Service,
        before_usdc: Decimal,
        after_usdc: Decimal,
    ) -> Option<f64> {
        let before = crate::money::decimal_to_f64(before_usdc);
        if before <= 0.0 {
            return None;
        }
        let growth = crate::money::decimal_to_f64(after_usdc) / before;
        self.index[service] = (self.index[service] * growth).max(0.0);
        self.peak[service] = self.peak[service].max(self.index[service]);
        let drawdown = 1.0 - self.index[service] / self.peak[service];
        if drawdown.is_finite() && drawdown >= DRAWDOWN_ALERT {
            self.peak[service] = self.index[service];
            Some(drawdown)
        } else {
            None
        }
    }

    /// Measures the next fall of `service` from where it is now.
    pub(super) fn reset(&mut self, service: Service) {
        self.peak[service] = self.index[service];
    }
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use crate::{
        service::Service,
        sim::{
            engine::testing::{START, engine},
            inject::Injection,
        },
        venue::protocol::EventKind,
    };

    #[test]
    fn drawdowns_are_announced_once_per_fall() {
        let mut engine = engine();
        let frames = engine
            .inject(
                START,
                &Injection::MarkToMarket {
                    service: Service::Trading,
                    change_usdc: dec!(-75),
                },
            )
            .expect("applies");
        assert_eq!(frames.len(), 2, "{frames:?}");
        assert_eq!(
            frames[1].kind,
            EventKind::Drawdown {
                service: Service::Trading,
                drawdown: dec!(0.25)
            }
        );
        // A further small fall is not a new 20% drawdown from the reset peak.
        let frames = engine
            .inject(
                START,
                &Injection::MarkToMarket {
                    service: Service::Trading,
                    change_usdc: dec!(-10),
                },
            )
            .expect("applies");
        assert_eq!(frames.len(), 1);
    }
}
