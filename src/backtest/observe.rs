//! Observers of a backtest's days: the metrics ([`MetricsObserver`]), and the day-by-day
//! record a plot needs ([`Recorder`]).
//!
//! # Invariants
//! - A day is "outside the band" when, at its end (after any trade), some service's weight is
//!   strictly beyond `target ± measure band`: a portfolio left on a band edge is inside.
//!   This is a measure of where the portfolio sits, separate from the trigger's `≥`.

use serde::Serialize;

use super::{
    N, Row,
    engine::{DayObserver, DayRecord, Trade},
};
use crate::performance::{DailyObservation, Metrics, MetricsAccumulator};

fn outside(record: &DayRecord<'_>, band: f64) -> bool {
    // `|h − t × value| > band × value`: the weight test without six divisions a day.
    let value = record.value_usdc;
    let limit = band * value;
    let mut out = false;
    for i in 0..N {
        out |= (record.holdings_usdc[i] - record.targets[i] * value).abs() > limit;
    }
    out
}

fn observation(record: &DayRecord<'_>, band: f64) -> DailyObservation {
    DailyObservation {
        value_usdc: record.value_usdc,
        flow_usdc: record.flow_usdc,
        target_return: record.target_return,
        buy_and_hold_value_usdc: record.buy_and_hold_value_usdc,
        moved_usdc: record.trade.map_or(0.0, |t| t.moved_usdc),
        cost_usdc: record.trade.map_or(0.0, |t| t.cost_usdc),
        rebalanced: record.trade.is_some(),
        outside_band: outside(record, band),
    }
}

/// Feeds the metrics accumulator.
#[derive(Debug, Clone)]
pub struct MetricsObserver {
    acc: MetricsAccumulator,
    measure_band: f64,
}

impl MetricsObserver {
    /// Starts at `initial_usdc`; days outside `measure_band` are counted.
    pub fn new(initial_usdc: f64, measure_band: f64) -> Self {
        MetricsObserver {
            acc: MetricsAccumulator::new(initial_usdc),
            measure_band,
        }
    }

    /// The metrics so far.
    pub fn metrics(&self, risk_free_rate: f64) -> Metrics {
        self.acc.metrics(risk_free_rate)
    }
}

impl DayObserver for MetricsObserver {
    #[inline]
    fn on_day(&mut self, record: &DayRecord<'_>) {
        self.acc.push(&observation(record, self.measure_band));
    }
}

/// One recorded day.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RecordedDay {
    /// Weights at the end of the day.
    pub weights: Row,
    /// Targets in force.
    pub targets: Row,
    /// Portfolio value.
    pub value_usdc: f64,
    /// Buy-and-hold's value.
    pub buy_and_hold_value_usdc: f64,
    /// The day's trade.
    pub trade: Option<Trade>,
}

/// Records every day (for plots) and feeds the metrics.
#[derive(Debug, Clone)]
pub struct Recorder {
    /// The days, in order.
    pub days: Vec<RecordedDay>,
    metrics: MetricsObserver,
}

impl Recorder {
    /// As [`MetricsObserver::new`], with room for `days` days.
    pub fn new(initial_usdc: f64, measure_band: f64, days: usize) -> Self {
        Recorder {
            days: Vec::with_capacity(days),
            metrics: MetricsObserver::new(initial_usdc, measure_band),
        }
    }

    /// The metrics of the recorded days.
    pub fn metrics(&self, risk_free_rate: f64) -> Metrics {
        self.metrics.metrics(risk_free_rate)
    }
}

impl DayObserver for Recorder {
    fn on_day(&mut self, record: &DayRecord<'_>) {
        self.metrics.on_day(record);
        self.days.push(RecordedDay {
            weights: record.holdings_usdc.map(|h| h / record.value_usdc),
            targets: *record.targets,
            value_usdc: record.value_usdc,
            buy_and_hold_value_usdc: record.buy_and_hold_value_usdc,
            trade: record.trade,
        });
    }
}
