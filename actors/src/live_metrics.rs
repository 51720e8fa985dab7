//! The run's performance metrics, kept by the MetricsRecorder: each day the policy closes
//! (its returns and observation, [`DayClose`]) is completed with what the run traded that
//! day and fed to the core's [`MetricsAccumulator`], the same metrics the backtester reports.
//!
//! # Invariants
//! - Only legs the venue applied count as moved (dry-run legs move nothing); a plan's amount
//!   moved is half the sum of its balance changes ([`amount_moved`]), counted on the day the
//!   plan finished. The venue charges nothing for spot transfers, so the cost is zero.
//! - No formula here: the day comes from the policy, the metrics from `ballast::performance`.

use std::collections::BTreeMap;

use ballast::{
    money::decimal_to_f64,
    performance::{DailyObservation, Metrics, MetricsAccumulator, amount_moved},
    policy::observed::DayClose,
    service::{Direction, Service},
};
use rust_decimal::Decimal;

/// The run's metrics so far.
#[derive(Debug, Clone)]
pub struct LiveMetrics {
    risk_free_rate: f64,
    accumulator: Option<MetricsAccumulator>,
    /// Each open plan's balance changes, per service (the reserve included).
    plans: BTreeMap<String, [f64; 6]>,
    moved_today_usdc: f64,
    rebalanced_today: bool,
}

impl LiveMetrics {
    /// Nothing observed yet; Sharpe at `risk_free_rate` (annual).
    pub fn new(risk_free_rate: f64) -> Self {
        LiveMetrics {
            risk_free_rate,
            accumulator: None,
            plans: BTreeMap::new(),
            moved_today_usdc: 0.0,
            rebalanced_today: false,
        }
    }

    /// A leg the venue applied.
    pub fn leg_applied(
        &mut self,
        plan_id: &str,
        service: Service,
        direction: Direction,
        amount_usdc: Decimal,
    ) {
        let (from, to) = direction.flow(service);
        let amount = decimal_to_f64(amount_usdc);
        let changes = self.plans.entry(plan_id.to_owned()).or_default();
        changes[from.index()] -= amount;
        changes[to.index()] += amount;
    }

    /// A plan finished: what it moved counts today.
    pub fn plan_finished(&mut self, plan_id: &str) {
        if let Some(changes) = self.plans.remove(plan_id) {
            let moved = amount_moved(&changes);
            if moved > 0.0 {
                self.moved_today_usdc += moved;
                self.rebalanced_today = true;
            }
        }
    }

    /// A day closed: the day as the metrics see it (with today's trades), and the metrics
    /// so far.
    pub fn day_closed(&mut self, close: &DayClose) -> (DailyObservation, Metrics) {
        let day = DailyObservation {
            moved_usdc: self.moved_today_usdc,
            cost_usdc: 0.0,
            rebalanced: self.rebalanced_today,
            ..close.observation
        };
        self.moved_today_usdc = 0.0;
        self.rebalanced_today = false;
        let accumulator = self
            .accumulator
            .get_or_insert_with(|| MetricsAccumulator::new(close.previous_value_usdc));
        accumulator.push(&day);
        (day, accumulator.metrics(self.risk_free_rate))
    }
}

#[cfg(test)]
mod tests {
    use ballast::policy::observed::DayClose;
    use rust_decimal_macros::dec;

    use super::*;

    fn close(day: u32, previous: f64, value: f64) -> DayClose {
        DayClose {
            day,
            returns: [0.0; 6],
            portfolio_return: value / previous - 1.0,
            previous_value_usdc: previous,
            observation: DailyObservation {
                value_usdc: value,
                buy_and_hold_value_usdc: value,
                ..DailyObservation::default()
            },
        }
    }

    #[test]
    fn a_plan_counts_half_its_balance_changes_on_the_day_it_finished() {
        let mut metrics = LiveMetrics::new(0.0);
        // Casino gives 100 to the reserve, which gives 60 to trading and 40 to wallet:
        // balance changes −100, +60, +40, reserve 0: 100 moved.
        metrics.leg_applied("r:1", Service::Casino, Direction::Decrease, dec!(100));
        metrics.leg_applied("r:1", Service::Trading, Direction::Increase, dec!(60));
        metrics.leg_applied("r:1", Service::Wallet, Direction::Increase, dec!(40));
        metrics.plan_finished("r:1");
        let (day, m) = metrics.day_closed(&close(0, 1000.0, 1000.0));
        assert!(day.rebalanced && (day.moved_usdc - 100.0).abs() < 1e-9);
        assert_eq!(m.rebalances, 1);
        // 100 of 1,000 in one day: 10% × 365 a year.
        assert!((m.annual_turnover - 36.5).abs() < 1e-9);
        // The next day traded nothing.
        let (day, m) = metrics.day_closed(&close(1, 1000.0, 1000.0));
        assert!(!day.rebalanced && day.moved_usdc == 0.0);
        assert_eq!((m.days, m.rebalances), (2, 1));
    }
}
