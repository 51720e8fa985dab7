//! The operator's period report: what a live run did over a period and whether rebalancing
//! paid, from what the store recorded (balance snapshots, applied legs, target changes, plans
//! and alerts).
//!
//! The recorded snapshots become a series of intervals: the first snapshot of the period is
//! the start, and the last snapshot of each later UTC date ends one interval. Over an interval
//! a service's return is its balance change net of the transfers ballast made
//! (`(end − start − net transfers in) / start`), so moving money is not mistaken for earning it.
//! Each interval becomes one [`DailyObservation`] of [`crate::performance`], and the metrics
//! (tracking error, turnover, cost drag, rebalancing alpha, ...) are that module's: the one
//! definition of each. Buy-and-hold starts from the first snapshot's balances and compounds
//! each service at its own return.
//!
//! # Invariants
//! - Pure: no I/O, no clock; the store's rows arrive as [`PeriodData`].
//! - A service with no balance at an interval's start earns 0 over it (no division by zero).
//! - Amount moved follows the backtest's definition (half the sum of absolute changes across
//!   all six services, the reserve included): `½(Σ legs + |Σ decreases − Σ increases|)`.
//! - Money totals stay `Decimal`; the series and statistics are `f64`, like the backtester's.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::Serialize;
use time::{Date, OffsetDateTime};

use crate::{
    drift::{DriftBands, DriftReport},
    money::decimal_to_f64,
    performance::{DailyObservation, Metrics, MetricsAccumulator},
    portfolio::PortfolioSnapshot,
    service::{Direction, Service, ServiceMap},
    targets::TargetAllocation,
};

/// Balances recorded at one time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BalancePoint {
    /// When (the companion's clock: venue time when it follows a simulated venue).
    pub at: OffsetDateTime,
    /// Balances per service.
    pub balances_usdc: ServiceMap<Decimal>,
}

/// A leg the venue applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedLeg {
    /// When its plan was made.
    pub at: OffsetDateTime,
    /// The service moved.
    pub service: Service,
    /// Increase (reserve → service) or decrease.
    pub direction: Direction,
    /// Amount moved.
    pub amount_usdc: Decimal,
}

/// How each leg of a plan ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct LegCounts {
    /// Applied by the venue.
    pub applied: u64,
    /// Failed, skipped or refused.
    pub failed: u64,
    /// Outcome still unknown.
    pub pending: u64,
    /// Recorded in dry run, never sent.
    pub dry_run: u64,
}

impl LegCounts {
    /// Adds `other`'s counts.
    pub fn add(&mut self, other: &LegCounts) {
        self.applied += other.applied;
        self.failed += other.failed;
        self.pending += other.pending;
        self.dry_run += other.dry_run;
    }
}

/// One recorded plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanPoint {
    /// When planned.
    pub at: OffsetDateTime,
    /// Its trigger's name (`large_win`, `tick`, ...).
    pub trigger: String,
    /// How its legs ended.
    pub legs: LegCounts,
}

/// What a plan came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanResult {
    /// Every leg applied (or recorded in dry run).
    Complete,
    /// Some legs applied, some did not.
    Partial,
    /// No leg applied.
    Failed,
}

impl LegCounts {
    /// What a plan with these legs came to: one with 4 of 5 legs failed is partial, not a
    /// rebalance. The live summary and the report both count plans by this.
    pub fn result(&self) -> PlanResult {
        let done = self.applied + self.dry_run;
        let not_done = self.failed + self.pending;
        match (done, not_done) {
            (_, 0) => PlanResult::Complete,
            (0, _) => PlanResult::Failed,
            _ => PlanResult::Partial,
        }
    }
}

impl PlanPoint {
    /// What the plan came to ([`LegCounts::result`]).
    pub fn result(&self) -> PlanResult {
        self.legs.result()
    }
}

/// Plans of one trigger (or all), by what they came to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PlanCounts {
    /// Plans made.
    pub attempted: u64,
    /// Every leg applied: the rebalances.
    pub complete: u64,
    /// Some legs applied.
    pub partial: u64,
    /// None applied.
    pub failed: u64,
}

impl PlanCounts {
    /// Counts one plan.
    pub fn count(&mut self, result: PlanResult) {
        self.attempted += 1;
        match result {
            PlanResult::Complete => self.complete += 1,
            PlanResult::Partial => self.partial += 1,
            PlanResult::Failed => self.failed += 1,
        }
    }
}

/// Targets in force from a time on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetPoint {
    /// From when.
    pub at: OffsetDateTime,
    /// The targets.
    pub targets: TargetAllocation,
}

/// Everything the store holds about a period, oldest first in every list.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PeriodData {
    /// Balance snapshots in the period.
    pub snapshots: Vec<BalancePoint>,
    /// Applied legs in the period.
    pub legs: Vec<AppliedLeg>,
    /// Plans made in the period.
    pub plans: Vec<PlanPoint>,
    /// Target changes: the last one before the period (if any), then those in it.
    pub targets: Vec<TargetPoint>,
    /// Alert kinds raised in the period, with their times.
    pub alerts: Vec<(OffsetDateTime, String)>,
}

/// How the report is measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReportParams {
    /// Bands for "days outside the band" and the plot.
    pub bands: DriftBands,
    /// Cost per applied leg in basis points of its amount (the venue charges no fee for spot
    /// transfers; a positive value estimates costs paid elsewhere).
    pub cost_bps: Decimal,
    /// Annual risk-free rate for Sharpe.
    pub risk_free_rate: f64,
}

/// One point of the series.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeriesPoint {
    /// When (the snapshot that ends the interval).
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// Portfolio value.
    pub value_usdc: f64,
    /// The buy-and-hold portfolio's value.
    pub buy_and_hold_usdc: f64,
    /// Weights per service.
    pub weights: ServiceMap<f64>,
    /// Targets in force.
    pub targets: ServiceMap<f64>,
    /// Band per service around its target.
    pub bands: ServiceMap<f64>,
    /// Whether a leg was applied in the interval.
    pub rebalanced: bool,
}

/// The report of one period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PeriodReport {
    /// First snapshot of the period.
    #[serde(with = "time::serde::rfc3339::option")]
    pub from: Option<OffsetDateTime>,
    /// Last snapshot of the period.
    #[serde(with = "time::serde::rfc3339::option")]
    pub to: Option<OffsetDateTime>,
    /// Value at the start.
    #[serde(serialize_with = "crate::money::serialize_usdc_option")]
    pub start_value_usdc: Option<Decimal>,
    /// Value at the end.
    #[serde(serialize_with = "crate::money::serialize_usdc_option")]
    pub end_value_usdc: Option<Decimal>,
    /// Time-weighted return over the period (not annualized).
    pub period_return: Option<f64>,
    /// Buy-and-hold's return over the period.
    pub buy_and_hold_period_return: Option<f64>,
    /// The article's metrics over the period (annualized where they say so).
    pub metrics: Metrics,
    /// USDC sent in applied legs.
    #[serde(serialize_with = "crate::money::serialize_usdc")]
    pub turnover_usdc: Decimal,
    /// Amount moved (the backtest's definition).
    #[serde(serialize_with = "crate::money::serialize_usdc")]
    pub moved_usdc: Decimal,
    /// Costs at `cost_bps` of the applied legs.
    #[serde(serialize_with = "crate::money::serialize_usdc")]
    pub costs_usdc: Decimal,
    /// Plans by what they came to.
    pub plans: PlanCounts,
    /// Plans per trigger.
    pub plans_by_trigger: BTreeMap<String, PlanCounts>,
    /// Legs by outcome.
    pub legs: LegCounts,
    /// Alerts per kind.
    pub alerts_by_kind: BTreeMap<String, u64>,
    /// One point per interval (the start included).
    pub series: Vec<SeriesPoint>,
}

/// The last snapshot of each UTC date, after the first snapshot (the period's start).
fn interval_ends(snapshots: &[BalancePoint]) -> Vec<&BalancePoint> {
    let mut ends: Vec<&BalancePoint> = Vec::new();
    let date = |p: &BalancePoint| -> Date { p.at.to_offset(time::UtcOffset::UTC).date() };
    for point in snapshots.iter().skip(1) {
        match ends.last_mut() {
            Some(last) if date(last) == date(point) => *last = point,
            _ => ends.push(point),
        }
    }
    ends
}

/// Targets in force at `at`: the last change at or before it, else the first known.
fn targets_at<'a>(
    changes: &'a [TargetPoint],
    fallback: &'a TargetAllocation,
    at: OffsetDateTime,
) -> &'a TargetAllocation {
    changes
        .iter()
        .rev()
        .find(|c| c.at <= at)
        .or_else(|| changes.first())
        .map_or(fallback, |c| &c.targets)
}

/// Net USDC into each service (the reserve included) by `legs`, and the amount moved.
fn flows(legs: &[&AppliedLeg]) -> (ServiceMap<Decimal>, Decimal, Decimal) {
    let mut net = ServiceMap::<Decimal>::default();
    let (mut sent, mut decreases, mut increases) = (Decimal::ZERO, Decimal::ZERO, Decimal::ZERO);
    for leg in legs {
        let (from, to) = leg.direction.flow(leg.service);
        net[from] -= leg.amount_usdc;
        net[to] += leg.amount_usdc;
        sent += leg.amount_usdc;
        match leg.direction {
            Direction::Decrease => decreases += leg.amount_usdc,
            Direction::Increase => increases += leg.amount_usdc,
        }
    }
    let moved = (sent + (decreases - increases).abs()) / Decimal::TWO;
    (net, sent, moved)
}

fn weights_f64(balances: &ServiceMap<Decimal>) -> ServiceMap<f64> {
    let total: Decimal = balances.values().copied().sum();
    if total <= Decimal::ZERO {
        return ServiceMap::default();
    }
    balances.map(|_, b| decimal_to_f64(*b / total))
}

/// Builds the report of `data`; `configured` stands in for targets when the store recorded
/// no change.
pub fn period_report(
    data: &PeriodData,
    configured: &TargetAllocation,
    params: &ReportParams,
) -> PeriodReport {
    let mut plans = PlanCounts::default();
    let mut plans_by_trigger: BTreeMap<String, PlanCounts> = BTreeMap::new();
    let mut legs = LegCounts::default();
    for plan in &data.plans {
        plans.count(plan.result());
        plans_by_trigger
            .entry(plan.trigger.clone())
            .or_default()
            .count(plan.result());
        legs.add(&plan.legs);
    }
    let mut alerts_by_kind: BTreeMap<String, u64> = BTreeMap::new();
    for (_, kind) in &data.alerts {
        *alerts_by_kind.entry(kind.clone()).or_default() += 1;
    }
    let bps = params.cost_bps / Decimal::from(10_000);
    let all_legs: Vec<&AppliedLeg> = data.legs.iter().collect();
    let (_, turnover_usdc, moved_usdc) = flows(&all_legs);
    let costs_usdc = turnover_usdc * bps;

    let point = |at: OffsetDateTime, balances: &ServiceMap<Decimal>, bh: f64, rebalanced: bool| {
        let targets = targets_at(&data.targets, configured, at);
        SeriesPoint {
            at,
            value_usdc: decimal_to_f64(balances.values().copied().sum()),
            buy_and_hold_usdc: bh,
            weights: weights_f64(balances),
            targets: targets.weights().map(|_, t| decimal_to_f64(*t)),
            bands: targets
                .weights()
                .map(|_, t| decimal_to_f64(params.bands.band(*t))),
            rebalanced,
        }
    };
    // The report of a period without snapshots; one with them adds what they tell.
    let without_snapshots = PeriodReport {
        from: None,
        to: None,
        start_value_usdc: None,
        end_value_usdc: None,
        period_return: None,
        buy_and_hold_period_return: None,
        metrics: MetricsAccumulator::new(0.0).metrics(params.risk_free_rate),
        turnover_usdc,
        moved_usdc,
        costs_usdc,
        plans,
        plans_by_trigger,
        legs,
        alerts_by_kind,
        series: Vec::new(),
    };
    let Some(first) = data.snapshots.first() else {
        return without_snapshots;
    };
    let start_value: Decimal = first.balances_usdc.values().copied().sum();
    let mut accumulator = MetricsAccumulator::new(decimal_to_f64(start_value));
    let mut buy_and_hold = first.balances_usdc.map(|_, b| decimal_to_f64(*b));
    let mut series = vec![point(
        first.at,
        &first.balances_usdc,
        decimal_to_f64(start_value),
        false,
    )];
    let mut previous = first;
    for end in interval_ends(&data.snapshots) {
        let inside: Vec<&AppliedLeg> = data
            .legs
            .iter()
            .filter(|l| l.at > previous.at && l.at <= end.at)
            .collect();
        let (net, sent, moved) = flows(&inside);
        let targets = targets_at(&data.targets, configured, previous.at);
        let returns = ServiceMap::from_fn(|s| {
            let start = previous.balances_usdc[s];
            if start <= Decimal::ZERO {
                return 0.0;
            }
            decimal_to_f64((end.balances_usdc[s] - start - net[s]) / start)
        });
        for service in Service::ALL {
            buy_and_hold[service] *= 1.0 + returns[service];
        }
        let bh_value: f64 = buy_and_hold.values().sum();
        let snapshot = PortfolioSnapshot::new(end.balances_usdc, None);
        let outside_band = snapshot.is_ok_and(|s| {
            !DriftReport::measure(
                &s,
                targets_at(&data.targets, configured, end.at),
                &params.bands,
            )
            .breaches()
            .is_empty()
        });
        accumulator.push(&DailyObservation {
            value_usdc: decimal_to_f64(end.balances_usdc.values().copied().sum()),
            flow_usdc: 0.0,
            target_return: Service::ALL
                .iter()
                .map(|s| decimal_to_f64(targets.weight(*s)) * returns[*s])
                .sum(),
            buy_and_hold_value_usdc: bh_value,
            moved_usdc: decimal_to_f64(moved),
            cost_usdc: decimal_to_f64(sent * bps),
            rebalanced: !inside.is_empty(),
            outside_band,
        });
        series.push(point(
            end.at,
            &end.balances_usdc,
            bh_value,
            !inside.is_empty(),
        ));
        previous = end;
    }
    let metrics = accumulator.metrics(params.risk_free_rate);
    let end_value: Decimal = previous.balances_usdc.values().copied().sum();
    // The period's growth from the annualized figure, so the return has one definition.
    let over_period = |annual: Option<f64>| {
        annual
            .map(|a| (1.0 + a).powf(metrics.days as f64 / crate::performance::DAYS_PER_YEAR) - 1.0)
    };
    PeriodReport {
        from: Some(first.at),
        to: Some(previous.at),
        start_value_usdc: Some(start_value),
        end_value_usdc: Some(end_value),
        period_return: over_period(metrics.annual_return),
        buy_and_hold_period_return: over_period(metrics.buy_and_hold_annual_return),
        metrics,
        series,
        ..without_snapshots
    }
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;
    use time::macros::datetime;

    use super::*;
    use crate::testing::usdc;

    fn balances(values: [Decimal; 6]) -> ServiceMap<Decimal> {
        ServiceMap(values)
    }

    fn params() -> ReportParams {
        ReportParams {
            bands: DriftBands::default(),
            cost_bps: Decimal::ZERO,
            risk_free_rate: 0.0,
        }
    }

    #[test]
    fn plans_are_counted_by_what_they_came_to() {
        struct TestCase {
            legs: LegCounts,
            expected: PlanResult,
        }
        let counts = |applied, failed, pending, dry_run| LegCounts {
            applied,
            failed,
            pending,
            dry_run,
        };
        let cases = [
            // TC0: every leg applied.
            TestCase {
                legs: counts(5, 0, 0, 0),
                expected: PlanResult::Complete,
            },
            // TC1: 4 of 5 failed is partial, not a rebalance.
            TestCase {
                legs: counts(1, 4, 0, 0),
                expected: PlanResult::Partial,
            },
            // TC2: nothing applied.
            TestCase {
                legs: counts(0, 5, 0, 0),
                expected: PlanResult::Failed,
            },
            // TC3: a leg of unknown outcome keeps the plan from being complete.
            TestCase {
                legs: counts(4, 0, 1, 0),
                expected: PlanResult::Partial,
            },
            // TC4: a dry run is complete.
            TestCase {
                legs: counts(0, 0, 0, 3),
                expected: PlanResult::Complete,
            },
        ];
        for (i, case) in cases.iter().enumerate() {
            let plan = PlanPoint {
                at: datetime!(2026-01-01 00:00 UTC),
                trigger: "tick".into(),
                legs: case.legs,
            };
            assert_eq!(plan.result(), case.expected, "TC{i}");
        }
    }

    #[test]
    fn transfers_are_not_returns_and_buy_and_hold_compounds_each_service() {
        // Day 0: on target, $1,000. Day 1: casino wins $200 (+100%), then ballast moves
        // $100 from casino to trading. Day 2: nothing happens.
        let day0 = balances(usdc![200, 300, 150, 150, 100, 100]);
        let day1 = balances(usdc![300, 400, 150, 150, 100, 100]);
        let data = PeriodData {
            snapshots: vec![
                BalancePoint {
                    at: datetime!(2026-01-01 00:05 UTC),
                    balances_usdc: day0,
                },
                BalancePoint {
                    at: datetime!(2026-01-02 00:05 UTC),
                    balances_usdc: day1,
                },
                BalancePoint {
                    at: datetime!(2026-01-03 00:05 UTC),
                    balances_usdc: day1,
                },
            ],
            legs: vec![
                AppliedLeg {
                    at: datetime!(2026-01-01 12:00 UTC),
                    service: Service::Casino,
                    direction: Direction::Decrease,
                    amount_usdc: dec!(100),
                },
                AppliedLeg {
                    at: datetime!(2026-01-01 12:00 UTC),
                    service: Service::Trading,
                    direction: Direction::Increase,
                    amount_usdc: dec!(100),
                },
            ],
            plans: vec![PlanPoint {
                at: datetime!(2026-01-01 12:00 UTC),
                trigger: "large_win".into(),
                legs: LegCounts {
                    applied: 2,
                    ..LegCounts::default()
                },
            }],
            targets: Vec::new(),
            alerts: vec![(datetime!(2026-01-02 00:00 UTC), "balance_mismatch".into())],
        };
        let report = period_report(&data, &TargetAllocation::conservative(), &params());
        assert_eq!(report.metrics.days, 2);
        assert_eq!(report.series.len(), 3);
        // Casino earned +100% (200 → 300 net of the 100 out); trading nothing.
        // Buy-and-hold: casino 200 → 400, the rest unchanged: $1,200, as the portfolio.
        let bh = report.series[1].buy_and_hold_usdc;
        assert!((bh - 1200.0).abs() < 1e-9, "{bh}");
        assert!((report.period_return.expect("return") - 0.2).abs() < 1e-9);
        assert!(report.rebalancing_alpha_is_zero());
        assert_eq!(report.turnover_usdc, dec!(200));
        // Moved: ½(200 + |100 − 100|) = 100.
        assert_eq!(report.moved_usdc, dec!(100));
        assert_eq!(report.plans.complete, 1);
        assert_eq!(report.plans_by_trigger["large_win"].attempted, 1);
        assert_eq!(report.legs.applied, 2);
        assert_eq!(report.alerts_by_kind["balance_mismatch"], 1);
        assert!(report.series[1].rebalanced && !report.series[2].rebalanced);
    }

    #[test]
    fn an_empty_period_reports_nothing_and_does_not_panic() {
        let report = period_report(
            &PeriodData::default(),
            &TargetAllocation::conservative(),
            &params(),
        );
        assert_eq!(report.metrics.days, 0);
        assert!(report.series.is_empty() && report.from.is_none());
    }

    impl PeriodReport {
        fn rebalancing_alpha_is_zero(&self) -> bool {
            self.metrics
                .rebalancing_alpha
                .is_some_and(|a| a.abs() < 1e-9)
        }
    }
}
