//! Returns as the live path observes them: from the balances of consecutive observations
//! (venue events, REST snapshots) to per-step growth factors and, at each daily tick, the
//! day's returns and its [`DailyObservation`] for the metrics.
//!
//! A step is one adopted observation, read by its [`StepKind`]:
//! - a **performance** step changes each service by its return: growth `after / before`
//!   (money arriving in an empty service has no rate of return and is a flow). These are
//!   the venue events that are neither transfers nor out-of-band balances (wins, losses,
//!   marks, income, fees, funding, drawdowns), and the REST snapshots of start-up, resyncs
//!   and ticks: what they show beyond the events is the market (marks not itemized, events
//!   missed in a gap). An unannounced deposit would count as a return too; the daily sync
//!   check alerts on it (`venue.balance_alert_fraction`);
//! - a **transfer** moves money between a service and the reserve: no return, and the
//!   portfolio's value does not change. These are the venue's `transfer` events and the
//!   balances a finished plan reports;
//! - an **unexplained** change (an out-of-band `balance` event, an unknown event type) is a
//!   flow in or out of the portfolio, not a return. A jump the plausibility guard held
//!   keeps the kind of the observation that showed it when a fresh snapshot confirms it.
//!
//! Each service's return of a day is the product of its step growths, minus 1; the
//! portfolio's is the time-weighted product of its step growths `(Σafter − flows) / Σbefore`.
//! These feed the volatility index of the volatility-adjusted threshold, the spike response
//! and the metrics (tracking error against the target-weight portfolio, alpha against
//! buy-and-hold grown by the same service returns).
//!
//! # Invariants
//! - Pure arithmetic in `f64` (statistics, not money); a step from or to a zero portfolio
//!   is growth 1, never a division by zero.
//! - A day closes only at a tick; the first day runs from the first balances seen.

use rust_decimal::Decimal;
use serde::Serialize;

use super::responses::{HUB, N};
use crate::{
    money::decimal_to_f64, observation::Happening, performance::DailyObservation,
    service::ServiceMap,
};

/// How a step's balance changes are read (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    /// Every change is the service's return.
    Performance,
    /// Money moved between a service and the reserve.
    Transfer,
    /// A change nothing explains: a flow.
    Unexplained,
}

impl StepKind {
    /// How the balances an event carries are read.
    pub fn of(what: &Happening) -> Self {
        match what {
            Happening::Transfer { .. } => StepKind::Transfer,
            Happening::Balance | Happening::Other { .. } => StepKind::Unexplained,
            _ => StepKind::Performance,
        }
    }
}

/// A day closed at a tick.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct DayClose {
    /// 0-based day of the run.
    pub day: u32,
    /// Each service's return over the day.
    pub returns: [f64; N],
    /// The portfolio's time-weighted return over the day.
    pub portfolio_return: f64,
    /// The portfolio's value when the day began (the first day: when ballast first saw it).
    pub previous_value_usdc: f64,
    /// The day for the metrics (no trade fields: the metrics recorder adds those).
    pub observation: DailyObservation,
}

/// The running day (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct DayBook {
    started: bool,
    growth: [f64; N],
    portfolio_growth: f64,
    previous_value_usdc: f64,
    buy_and_hold_usdc: [f64; N],
    day: u32,
}

impl Default for DayBook {
    fn default() -> Self {
        DayBook {
            started: false,
            growth: [1.0; N],
            portfolio_growth: 1.0,
            previous_value_usdc: 0.0,
            buy_and_hold_usdc: [0.0; N],
            day: 0,
        }
    }
}

fn row(balances: &ServiceMap<Decimal>) -> [f64; N] {
    balances.0.map(decimal_to_f64)
}

impl DayBook {
    /// Days closed so far.
    pub fn days(&self) -> u32 {
        self.day
    }

    /// One adopted observation: `before` is what was held (`None` for the first), `after`
    /// the new balances. Returns each service's growth over the step (1 where it did not
    /// perform).
    pub fn step(
        &mut self,
        before: Option<&ServiceMap<Decimal>>,
        after: &ServiceMap<Decimal>,
        kind: StepKind,
    ) -> [f64; N] {
        let a = row(after);
        let mut growth = [1.0; N];
        let Some(before) = before.filter(|_| self.started) else {
            // The first balances start the book: the buy-and-hold portfolio holds them.
            self.started = true;
            self.previous_value_usdc = a.iter().sum();
            self.buy_and_hold_usdc = a;
            return growth;
        };
        let b = row(before);
        let total_before: f64 = b.iter().sum();
        let total_after: f64 = a.iter().sum();
        let mut flow = match kind {
            StepKind::Performance => 0.0,
            StepKind::Transfer | StepKind::Unexplained => total_after - total_before,
        };
        if kind == StepKind::Performance {
            for i in 0..N {
                if b[i] > 0.0 {
                    growth[i] = a[i] / b[i];
                } else {
                    flow += a[i] - b[i];
                }
            }
        }
        if total_before > 0.0 {
            let step = (total_after - flow) / total_before;
            if step.is_finite() {
                self.portfolio_growth *= step;
            }
        }
        for (i, g) in growth.iter().enumerate() {
            self.growth[i] *= g;
            self.buy_and_hold_usdc[i] *= g;
        }
        // External money reaches buy-and-hold too (as cash, in the reserve); transfers are
        // the portfolio's own and net to zero.
        if kind != StepKind::Transfer {
            self.buy_and_hold_usdc[HUB] += flow;
        }
        growth
    }

    /// Closes the day at a tick, with the balances then, the targets in force and whether
    /// some service ended outside its band. `None` before any balances were seen.
    pub fn close(
        &mut self,
        balances: &ServiceMap<Decimal>,
        targets: &[f64; N],
        outside_band: bool,
    ) -> Option<DayClose> {
        if !self.started {
            return None;
        }
        let value_usdc: f64 = row(balances).iter().sum();
        let returns = self.growth.map(|g| g - 1.0);
        let portfolio_return = self.portfolio_growth - 1.0;
        let target_return: f64 = (0..N).map(|i| targets[i] * returns[i]).sum();
        let previous_value_usdc = self.previous_value_usdc;
        let close = DayClose {
            day: self.day,
            returns,
            portfolio_return,
            previous_value_usdc,
            observation: DailyObservation {
                value_usdc,
                // What makes (value − flow) / previous − 1 the time-weighted return.
                flow_usdc: value_usdc - previous_value_usdc * self.portfolio_growth,
                target_return,
                buy_and_hold_value_usdc: self.buy_and_hold_usdc.iter().sum(),
                moved_usdc: 0.0,
                cost_usdc: 0.0,
                rebalanced: false,
                outside_band,
            },
        };
        self.day += 1;
        self.growth = [1.0; N];
        self.portfolio_growth = 1.0;
        self.previous_value_usdc = value_usdc;
        Some(close)
    }
}

#[cfg(test)]
mod tests {

    use super::*;
    use crate::performance::MetricsAccumulator;
    use crate::testing::usdc;

    fn balances(b: [Decimal; N]) -> ServiceMap<Decimal> {
        ServiceMap(b)
    }

    #[test]
    fn a_day_of_steps() {
        struct Step {
            after: [Decimal; N],
            kind: StepKind,
            expected_growth: [f64; N],
        }
        let start = usdc![200, 300, 150, 150, 100, 100];
        let steps = [
            // S0: casino wins 50 (+25%).
            Step {
                after: usdc![250, 300, 150, 150, 100, 100],
                kind: StepKind::Performance,
                expected_growth: [1.25, 1.0, 1.0, 1.0, 1.0, 1.0],
            },
            // S1: a rebalance leg moves 50 from casino to the reserve: no return.
            Step {
                after: usdc![200, 300, 150, 150, 100, 150],
                kind: StepKind::Transfer,
                expected_growth: [1.0; N],
            },
            // S2: trading loses 30 (−10%).
            Step {
                after: usdc![200, 270, 150, 150, 100, 150],
                kind: StepKind::Performance,
                expected_growth: [1.0, 0.9, 1.0, 1.0, 1.0, 1.0],
            },
            // S3: an out-of-band `balance` event puts 20 more in the reserve: a flow.
            Step {
                after: usdc![200, 270, 150, 150, 100, 170],
                kind: StepKind::Unexplained,
                expected_growth: [1.0; N],
            },
        ];
        let mut book = DayBook::default();
        assert_eq!(
            book.step(None, &balances(start), StepKind::Unexplained),
            [1.0; N]
        );
        let mut held = start;
        for (index, step) in steps.iter().enumerate() {
            let growth = book.step(Some(&balances(held)), &balances(step.after), step.kind);
            assert_eq!(growth, step.expected_growth, "S{index}");
            held = step.after;
        }
        let targets = [0.2, 0.3, 0.15, 0.15, 0.1, 0.1];
        let close = book
            .close(&balances(held), &targets, true)
            .expect("started");
        // Portfolio: 1000 → 1050 (+5%), transfer (×1), 1050 → 1020 (×1020/1050), flow (×1):
        // 1.05 × 1020 / 1050 = 1.02.
        assert!((close.portfolio_return - 0.02).abs() < 1e-12);
        assert!((close.returns[0] - 0.25).abs() < 1e-12 && (close.returns[1] + 0.1).abs() < 1e-12);
        // Target return: 0.2 × 25% + 0.3 × −10% = 2%.
        assert!((close.observation.target_return - 0.02).abs() < 1e-12);
        // Value 1040 with 20 paid in: (1040 − 20) / 1000 − 1 = 2%.
        assert!((close.observation.value_usdc - 1040.0).abs() < 1e-9);
        assert!((close.observation.flow_usdc - 20.0).abs() < 1e-9);
        // Buy-and-hold: casino 250, trading 270, the rest held, plus the 20: 1040.
        assert!((close.observation.buy_and_hold_value_usdc - 1040.0).abs() < 1e-9);
        let mut acc = MetricsAccumulator::new(close.previous_value_usdc);
        acc.push(&close.observation);
        assert!(
            (acc.metrics(0.0).annual_return.expect("one day") - (1.02f64.powf(365.0) - 1.0)).abs()
                < 1e-6
        );
        // The next day starts from 1040 with fresh growth.
        assert_eq!(book.days(), 1);
        let next = book
            .close(&balances(held), &targets, false)
            .expect("started");
        assert_eq!((next.day, next.portfolio_return), (1, 0.0));
    }
}
