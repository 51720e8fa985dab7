//! Drawdown alerts: each service's performance index against its local peak, announced as
//! a `drawdown` event when it falls [`DRAWDOWN_ALERT`] below it.
//!
//! # Invariants
//! - One fall is announced once: after an alert the peak restarts from where it fired.
//! - An injected drawdown is announced by its own event, never again by the watch.

use rust_decimal::Decimal;
use time::OffsetDateTime;

use super::Engine;
use crate::{
    money::decimal_from_f64,
    service::{Service, ServiceMap},
    sim::ledger::Op,
    venue::protocol::{EventFrame, EventKind, PortfolioResponse},
};

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

impl Engine {
    /// Watches the services whose performance `op` moved (values `before` and `after` it)
    /// and announces a `drawdown` (with the `reported` portfolio) for each that fell past
    /// the alert level.
    pub(super) fn announce_drawdowns(
        &mut self,
        ts: OffsetDateTime,
        op: &Op,
        before: &ServiceMap<Decimal>,
        after: &ServiceMap<Decimal>,
        reported: &PortfolioResponse,
        frames: &mut Vec<EventFrame>,
    ) {
        for service in performance_of(op).iter().copied() {
            let alert = self
                .drawdowns
                .observe(service, before[service], after[service]);
            if matches!(op, Op::Drawdown { .. }) {
                // The injected drawdown was announced as such already.
                self.drawdowns.reset(service);
            } else if let Some(drawdown) = alert {
                let drawdown = decimal_from_f64(drawdown, "drawdown")
                    .map(|d| d.round_dp(4))
                    .unwrap_or(Decimal::ONE);
                frames.push(
                    self.log
                        .push(ts, EventKind::Drawdown { service, drawdown }, reported),
                );
            }
        }
    }
}

/// The services whose value the watch follows through `op`: none for transfers, referral
/// income (paid into the reserve) and out-of-band balances.
fn performance_of(op: &Op) -> &[Service] {
    match op {
        Op::CasinoWin { .. } | Op::CasinoLoss { .. } => &[Service::Casino],
        Op::DomainsIncome { .. } => &[Service::Domains],
        Op::EscrowFee { .. } => &[Service::Escrow],
        Op::MarkToMarket { service, .. } | Op::Drawdown { service, .. } => {
            std::slice::from_ref(service)
        }
        Op::OpenPosition(_) | Op::ClosePosition { .. } | Op::Funding { .. } => &[Service::Trading],
        Op::WalletBuy { .. } | Op::WalletSell { .. } => &[Service::Wallet],
        Op::MarkMove { .. } => &[Service::Trading, Service::Wallet],
        Op::Transfer { .. } | Op::ReferralIncome { .. } | Op::SetBalances { .. } => &[],
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
        let mut trading_moves = |change_usdc| {
            engine
                .inject(
                    START,
                    &Injection::MarkToMarket {
                        service: Service::Trading,
                        change_usdc,
                    },
                )
                .expect("applies")
        };
        let frames = trading_moves(dec!(-75));
        assert_eq!(frames.len(), 2, "{frames:?}");
        assert_eq!(
            frames[1].kind,
            EventKind::Drawdown {
                service: Service::Trading,
                drawdown: dec!(0.25)
            }
        );
        // A further small fall is not a new 20% drawdown from the reset peak.
        let frames = trading_moves(dec!(-10));
        assert_eq!(frames.len(), 1);
    }
}
