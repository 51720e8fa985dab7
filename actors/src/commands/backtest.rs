//! `ballast backtest`: replays daily returns through a trigger policy and prints what it
//! did and the article's metrics. The forms:
//!
//! - `--returns FILE.csv`: one path (the reference loop's semantics);
//! - `--simulate [--paths N] [--days D] [--seed S]`: Monte Carlo on the venue-like model, or
//!   with `--returns FILE` days bootstrapped from the file; percentiles of every metric;
//! - `--compare`: the article's trigger table, every policy on the same path(s);
//! - `--sweep band=START:END:STEP`: the cost / tracking-error trade-off;
//! - `--plot out.png|svg`: allocation with bands and trades and value against buy-and-hold
//!   (one path; with `--simulate`, its first path), or the sweep's trade-off curve;
//! - `--events FILE`: a run recorded by `ballast run --record-events FILE`, replayed through
//!   the live policy (`ballast::policy::replay`): the decisions it makes, and whether they are
//!   the recorded ones byte for byte.
//!
//! Defaults for targets, band, floor and where a rebalance goes come from the configuration
//! (`[targets]`, `policy.band`, `policy.calendar_floor_days`, `policy.rebalance_to`), the
//! risk-free rate from `optimizer.risk_free_rate`; `--cost-bps` defaults to 10 and
//! `--min-trade-usdc` to 0 (the reference loop has no minimum).
//!
//! # Invariants
//! - Parses, calls the core (`ballast::backtest`), prints: no formula here.
//! - `--json` prints exactly one JSON document; the progress bar is drawn only on a terminal
//!   and never with `--json`.

use std::{collections::BTreeMap, io::IsTerminal as _, path::PathBuf};

use anyhow::{anyhow, bail};
use ballast::{
    backtest::{
        N, Row,
        engine::{BacktestConfig, NoEvents, PathInput, PathOutcome, run_path},
        montecarlo::{
            MonteCarloConfig, PathResult, PolicySummary, run_monte_carlo, run_with_metrics,
            summarize_policy,
        },
        observe::{RecordedDay, Recorder},
        paths::{PathSource, ServicesModel, parse_returns_csv},
        policies::{COMPARE_POLICIES, PolicyParams, Sweep, named_policy, parse_sweep},
    },
    money::decimal_to_f64,
    performance::Metrics,
    policy::rules::RebalanceTo,
    service::Service,
    targets::TargetAllocation,
};
use rust_decimal::Decimal;
use serde::Serialize;

use super::math_common::parse_named;
use crate::format::{metrics_lines, pct_f64};
use crate::settings::Validated;

/// `ballast backtest` flags.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Daily returns CSV: a header of service names, one row of simple returns a day.
    #[arg(long, value_name = "FILE.csv")]
    pub returns: Option<PathBuf>,
    /// Monte Carlo: the venue-like model, or days bootstrapped from --returns.
    #[arg(long)]
    pub simulate: bool,
    /// Monte Carlo paths.
    #[arg(long, default_value_t = 1000)]
    pub paths: usize,
    /// Days per simulated path.
    #[arg(long, default_value_t = 3650)]
    pub days: usize,
    /// Seed of the simulated paths.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Every policy of the article's trigger table on the same path(s).
    #[arg(long, conflicts_with = "sweep")]
    pub compare: bool,
    /// A band sweep, `band=START:END:STEP` (END included).
    #[arg(long, value_name = "band=START:END:STEP")]
    pub sweep: Option<String>,
    /// hybrid, threshold, threshold-5, threshold-10, relative-threshold, calendar-daily,
    /// calendar-weekly, calendar-N, volatility-adjusted, buy-and-hold.
    #[arg(long, default_value = "hybrid")]
    pub policy: String,
    /// Drift band (default `policy.band`); a fraction of target for relative-threshold.
    #[arg(long)]
    pub band: Option<f64>,
    /// The hybrid's calendar floor in days, 0 for none (default `policy.calendar_floor_days`).
    #[arg(long)]
    pub calendar_floor_days: Option<u32>,
    /// Where a threshold rebalance goes (default `policy.rebalance_to`).
    #[arg(long, value_enum)]
    pub rebalance_to: Option<RebalanceToArg>,
    /// Cost in basis points of the amount moved.
    #[arg(long, default_value_t = 10.0)]
    pub cost_bps: f64,
    /// Legs below this are not traded (0: every leg, as the reference loop).
    #[arg(long, default_value_t = 0.0)]
    pub min_trade_usdc: f64,
    /// Starting value, split at target.
    #[arg(long, default_value_t = 10_000.0)]
    pub initial_usdc: f64,
    /// Target weights `casino=0.2,trading=0.3,...` (default `[targets]`; unnamed get 0).
    #[arg(long)]
    pub targets: Option<String>,
    /// Annual risk-free rate for Sharpe (default `optimizer.risk_free_rate`).
    #[arg(long)]
    pub risk_free_rate: Option<f64>,
    /// Write a plot (`.png` or `.svg`).
    #[arg(long, value_name = "FILE")]
    pub plot: Option<PathBuf>,
    /// Replay a run recorded with `ballast run --record-events FILE` through the live policy
    /// and compare its decisions with the recorded ones.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["returns", "simulate", "compare", "sweep", "plot"])]
    pub events: Option<PathBuf>,
}

/// `--rebalance-to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RebalanceToArg {
    /// All the way to target.
    Target,
    /// Breached services to their band's edge.
    BandEdge,
}

/// One row of the article's trigger table (the `--compare` JSON contract).
#[derive(Debug, Clone, Serialize)]
pub struct CompareRow {
    /// Policy name.
    pub policy: String,
    /// Rebalances per year.
    pub annual_rebalances: f64,
    /// Days ending outside the band.
    pub days_outside_band: f64,
    /// Fraction moved per year.
    pub annual_turnover: f64,
    /// Tracking error (annualized).
    pub tracking_error: Option<f64>,
    /// Costs as a fraction of value per year.
    pub cost_drag: f64,
    /// Annual return minus buy-and-hold's.
    pub rebalancing_alpha: Option<f64>,
    /// Percentiles of every metric over paths (`--simulate` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub percentiles: Option<PolicySummary>,
}

/// One path's output (the `--returns` JSON contract).
#[derive(Debug, Clone, Serialize)]
pub struct SingleOut {
    /// Policy name.
    pub policy: String,
    /// Value at the end.
    pub final_value_usdc: f64,
    /// Trades.
    pub rebalances: u64,
    /// Decisions whose legs were all below the minimum trade.
    pub skipped_rebalances: u64,
    /// Sum of amounts moved.
    pub amount_moved_usdc: f64,
    /// Sum of costs.
    pub costs_usdc: f64,
    /// Days replayed.
    pub days: usize,
    /// The article's metrics.
    pub metrics: Metrics,
    /// The plot written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plot: Option<String>,
}

/// Where the paths came from.
#[derive(Debug, Clone, Serialize)]
pub struct SourceOut {
    /// `file`, `model` or `bootstrap`.
    pub kind: &'static str,
    /// Paths.
    pub paths: usize,
    /// Days per path.
    pub days: usize,
    /// Seed (simulations).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
}

/// Everything resolved from flags and configuration.
#[derive(Debug, Clone)]
struct Resolved {
    base: BacktestConfig,
    params: PolicyParams,
    risk_free_rate: f64,
    table: Option<Vec<Row>>,
}

fn resolve(args: &Args, validated: &Validated) -> anyhow::Result<Resolved> {
    let policy = &validated.settings.policy;
    let targets = match &args.targets {
        Some(text) => {
            let named: BTreeMap<String, Decimal> = parse_named("targets", text)?
                .into_iter()
                .map(|(name, w)| {
                    Decimal::try_from(w)
                        .map(|d| (name.clone(), d))
                        .map_err(|_| anyhow!("--targets: `{name}={w}` is not a weight"))
                })
                .collect::<anyhow::Result<_>>()?;
            TargetAllocation::from_named(&named).map_err(|e| anyhow!("--targets: {e}"))?
        }
        None => validated.targets.clone(),
    };
    let targets: Row = Service::ALL.map(|s| decimal_to_f64(targets.weight(s)));
    let rebalance_to = match args.rebalance_to {
        Some(RebalanceToArg::Target) => RebalanceTo::Target,
        Some(RebalanceToArg::BandEdge) => RebalanceTo::BandEdge,
        None => policy.rebalance_to,
    };
    let params = PolicyParams {
        band: args.band.unwrap_or(policy.band),
        calendar_floor_days: args
            .calendar_floor_days
            .unwrap_or(policy.calendar_floor_days),
        rebalance_to,
    };
    let rule = named_policy(&args.policy, &params).map_err(|e| anyhow!("--{e}"))?;
    let base = BacktestConfig {
        targets,
        rule,
        cost_bps: args.cost_bps,
        min_trade_usdc: args.min_trade_usdc,
        initial_usdc: args.initial_usdc,
    };
    base.validate()
        .map_err(|e| anyhow!("--{}", e.to_string().replace('_', "-")))?;
    let table = match &args.returns {
        Some(path) => Some(read_returns(path)?),
        None => None,
    };
    if table.is_none() && !args.simulate {
        bail!("give --returns FILE.csv (one path) or --simulate (Monte Carlo)");
    }
    Ok(Resolved {
        base,
        params,
        risk_free_rate: args
            .risk_free_rate
            .unwrap_or(validated.settings.optimizer.risk_free_rate),
        table,
    })
}

fn read_returns(path: &std::path::Path) -> anyhow::Result<Vec<Row>> {
    let shown = path.display();
    let text = super::math_common::read_returns_file(path)?;
    parse_returns_csv(&text).map_err(|e| anyhow!("--returns {shown}: {e}"))
}

fn monte_carlo(args: &Args, r: &Resolved) -> MonteCarloConfig {
    MonteCarloConfig {
        paths: args.paths,
        days: args.days,
        seed: args.seed,
        risk_free_rate: r.risk_free_rate,
        measure_band: r.params.band,
    }
}

fn source<'a>(model: &'a ServicesModel, r: &'a Resolved) -> PathSource<'a> {
    match &r.table {
        Some(table) => PathSource::Bootstrap(table),
        None => PathSource::Model(model),
    }
}

fn source_out(args: &Args, r: &Resolved) -> SourceOut {
    match (&r.table, args.simulate) {
        (Some(table), false) => SourceOut {
            kind: "file",
            paths: 1,
            days: table.len(),
            seed: None,
        },
        (table, true) => SourceOut {
            kind: if table.is_some() {
                "bootstrap"
            } else {
                "model"
            },
            paths: args.paths,
            days: args.days,
            seed: Some(args.seed),
        },
        (None, false) => unreachable!("resolve refuses this"),
    }
}

/// Runs `policies` on the path(s): one result per path per policy.
fn run_policies(
    args: &Args,
    r: &Resolved,
    policies: &[BacktestConfig],
    json: bool,
) -> anyhow::Result<Vec<Vec<PathResult>>> {
    if let (Some(table), false) = (&r.table, args.simulate) {
        let path = PathInput {
            returns: table,
            flows_usdc: None,
        };
        return Ok(policies
            .iter()
            .map(|p| vec![run_with_metrics(p, path, r.params.band, r.risk_free_rate)])
            .collect());
    }
    let model = ServicesModel::default();
    let bar = progress_bar(args.paths as u64, json);
    let out = run_monte_carlo(policies, source(&model, r), &monte_carlo(args, r), &|| {
        bar.inc(1)
    })
    .map_err(|e| anyhow!("--{e}"))?;
    bar.finish_and_clear();
    Ok(out)
}

fn progress_bar(len: u64, json: bool) -> indicatif::ProgressBar {
    if json || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{spinner} {pos}/{len} paths [{bar:40}] {per_sec} eta {eta}",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// The value a table shows for a policy: the path's, or the median over paths.
fn compare_row(name: &str, results: &[PathResult], simulated: bool) -> CompareRow {
    if !simulated {
        let m = &results[0].metrics;
        return CompareRow {
            policy: name.to_owned(),
            annual_rebalances: m.annual_rebalances,
            days_outside_band: m.days_outside_band as f64,
            annual_turnover: m.annual_turnover,
            tracking_error: m.tracking_error,
            cost_drag: m.cost_drag,
            rebalancing_alpha: m.rebalancing_alpha,
            percentiles: None,
        };
    }
    let s = summarize_policy(results);
    let p50 = |p: &Option<ballast::backtest::montecarlo::Percentiles>| p.map(|p| p.p50);
    CompareRow {
        policy: name.to_owned(),
        annual_rebalances: p50(&s.annual_rebalances).unwrap_or(f64::NAN),
        days_outside_band: p50(&s.days_outside_band).unwrap_or(f64::NAN),
        annual_turnover: p50(&s.annual_turnover).unwrap_or(f64::NAN),
        tracking_error: p50(&s.tracking_error),
        cost_drag: p50(&s.cost_drag).unwrap_or(f64::NAN),
        rebalancing_alpha: p50(&s.rebalancing_alpha),
        percentiles: Some(s),
    }
}

fn opt_pct(x: Option<f64>) -> String {
    x.map_or_else(|| format!("{:>8}", "–"), pct_f64)
}

fn print_table(rows: &[CompareRow], first: &str) -> Result<(), crate::output::OutputClosed> {
    crate::outln!(
        "{first:<22} {:>11} {:>12} {:>10} {:>9} {:>9} {:>9}",
        "rebal/yr",
        "days outside",
        "turnover",
        "TE",
        "cost",
        "alpha"
    )?;
    for row in rows {
        crate::outln!(
            "{:<22} {:>11.1} {:>12.0} {:>10} {:>9} {:>9} {:>9}",
            row.policy,
            row.annual_rebalances,
            row.days_outside_band,
            pct_f64(row.annual_turnover),
            opt_pct(row.tracking_error),
            format!("{:>7.3}%", 100.0 * row.cost_drag),
            opt_pct(row.rebalancing_alpha),
        )?;
    }
    Ok(())
}

fn describe(source: &SourceOut) -> String {
    match source.kind {
        "file" => format!("one path of {} days from the returns file", source.days),
        kind => format!(
            "{} {} paths × {} days (seed {}), medians",
            source.paths,
            if kind == "model" {
                "simulated"
            } else {
                "bootstrapped"
            },
            source.days,
            source.seed.unwrap_or_default()
        ),
    }
}

/// Runs the command.
///
/// # Errors
/// Bad flags or input, naming the flag; plotting errors.
pub fn run(args: &Args, validated: &Validated, json: bool) -> anyhow::Result<()> {
    if let Some(path) = &args.events {
        return super::replay::run(path, json);
    }
    let r = resolve(args, validated)?;
    if args.compare {
        if args.plot.is_some() {
            bail!("--plot: draws one path or a sweep, not --compare");
        }
        return compare(args, &r, json);
    }
    if let Some(text) = &args.sweep {
        let sweep = parse_sweep(text).map_err(|e| anyhow!("--{e}"))?;
        return sweep_command(args, &r, &sweep, json);
    }
    if args.simulate {
        return simulate(args, &r, json);
    }
    single(args, &r, json)
}

fn compare(args: &Args, r: &Resolved, json: bool) -> anyhow::Result<()> {
    let policies: Vec<BacktestConfig> = COMPARE_POLICIES
        .iter()
        .map(|name| {
            Ok(BacktestConfig {
                rule: named_policy(name, &r.params).map_err(|e| anyhow!("--{e}"))?,
                ..r.base.clone()
            })
        })
        .collect::<anyhow::Result<_>>()?;
    let results = run_policies(args, r, &policies, json)?;
    let rows: Vec<CompareRow> = COMPARE_POLICIES
        .iter()
        .zip(&results)
        .map(|(name, res)| compare_row(name, res, args.simulate))
        .collect();
    let source = source_out(args, r);
    if json {
        #[derive(Serialize)]
        struct Out<'a> {
            policies: &'a [CompareRow],
            source: SourceOut,
            band: f64,
        }
        crate::outln!(
            "{}",
            serde_json::to_string_pretty(&Out {
                policies: &rows,
                source,
                band: r.params.band
            })?
        )?;
        return Ok(());
    }
    crate::outln!(
        "{}; {} bps; days outside a {:.0}-point band",
        describe(&source),
        r.base.cost_bps,
        100.0 * r.params.band
    )?;
    print_table(&rows, "policy")?;
    Ok(())
}

fn sweep_command(args: &Args, r: &Resolved, sweep: &Sweep, json: bool) -> anyhow::Result<()> {
    let policies: Vec<BacktestConfig> = sweep
        .values
        .iter()
        .map(|band| {
            let params = PolicyParams {
                band: *band,
                ..r.params
            };
            let config = BacktestConfig {
                rule: named_policy(&args.policy, &params).map_err(|e| anyhow!("--{e}"))?,
                ..r.base.clone()
            };
            config.validate().map_err(|e| anyhow!("--sweep: {e}"))?;
            Ok(config)
        })
        .collect::<anyhow::Result<_>>()?;
    let results = run_policies(args, r, &policies, json)?;
    let rows: Vec<CompareRow> = sweep
        .values
        .iter()
        .zip(&results)
        .map(|(band, res)| compare_row(&format!("band={band}"), res, args.simulate))
        .collect();
    let plot = match &args.plot {
        Some(path) => {
            super::backtest_plot::tradeoff(path, &sweep.values, &rows)?;
            Some(path.display().to_string())
        }
        None => None,
    };
    let source = source_out(args, r);
    if json {
        #[derive(Serialize)]
        struct Point<'a> {
            band: f64,
            #[serde(flatten)]
            row: &'a CompareRow,
        }
        #[derive(Serialize)]
        struct Out<'a> {
            policy: &'a str,
            parameter: &'a str,
            points: Vec<Point<'a>>,
            source: SourceOut,
            #[serde(skip_serializing_if = "Option::is_none")]
            plot: Option<String>,
        }
        let points = sweep
            .values
            .iter()
            .zip(&rows)
            .map(|(band, row)| Point { band: *band, row })
            .collect();
        crate::outln!(
            "{}",
            serde_json::to_string_pretty(&Out {
                policy: &args.policy,
                parameter: &sweep.parameter,
                points,
                source,
                plot,
            })?
        )?;
        return Ok(());
    }
    crate::outln!(
        "{} swept over band; {}; {} bps; days outside a {:.0}-point band",
        args.policy,
        describe(&source),
        r.base.cost_bps,
        100.0 * r.params.band
    )?;
    print_table(&rows, "band")?;
    if let Some(p) = plot {
        crate::outln!("plot written to {p}")?;
    }
    Ok(())
}

/// The first simulated path (or the file), replayed with a recorder for plotting.
fn record_path(args: &Args, r: &Resolved) -> (PathOutcome, Vec<RecordedDay>) {
    let model = ServicesModel::default();
    let generated;
    let returns: &[Row] = match (&r.table, args.simulate) {
        (Some(table), false) => table,
        _ => {
            let mut buffer = vec![[0.0; N]; args.days];
            source(&model, r).fill(args.seed, 0, &mut buffer);
            generated = buffer;
            &generated
        }
    };
    let mut recorder = Recorder::new(r.base.initial_usdc, r.params.band, returns.len());
    let outcome = run_path(
        &r.base,
        PathInput {
            returns,
            flows_usdc: None,
        },
        &mut recorder,
        &mut NoEvents,
    );
    (outcome, recorder.days)
}

fn single(args: &Args, r: &Resolved, json: bool) -> anyhow::Result<()> {
    let Some(table) = &r.table else {
        bail!("give --returns FILE.csv (one path) or --simulate (Monte Carlo)");
    };
    let path = PathInput {
        returns: table,
        flows_usdc: None,
    };
    let result = run_with_metrics(&r.base, path, r.params.band, r.risk_free_rate);
    let plot = plot_path(args, r)?;
    let out = SingleOut {
        policy: args.policy.clone(),
        final_value_usdc: result.outcome.final_value_usdc,
        rebalances: result.outcome.rebalances,
        skipped_rebalances: result.outcome.skipped_rebalances,
        amount_moved_usdc: result.outcome.amount_moved_usdc,
        costs_usdc: result.outcome.costs_usdc,
        days: result.outcome.days,
        metrics: result.metrics,
        plot,
    };
    if json {
        crate::outln!("{}", serde_json::to_string_pretty(&out)?)?;
        return Ok(());
    }
    let m = &out.metrics;
    crate::outln!(
        "{} over {} days: {:.2} USDC from {:.2}",
        out.policy,
        out.days,
        out.final_value_usdc,
        r.base.initial_usdc
    )?;
    crate::outln!(
        "rebalances {} ({:.1} a year), moved {:.2} USDC, costs {:.2} USDC",
        out.rebalances,
        m.annual_rebalances,
        out.amount_moved_usdc,
        out.costs_usdc
    )?;
    if out.skipped_rebalances > 0 {
        crate::outln!(
            "{} decisions made no trade: every leg was below --min-trade-usdc {}",
            out.skipped_rebalances,
            args.min_trade_usdc
        )?;
    }
    for line in metrics_lines(m) {
        crate::outln!("{line}")?;
    }
    if let Some(p) = &out.plot {
        crate::outln!("plot written to {p}")?;
    }
    Ok(())
}

/// Draws the path plot when `--plot` names a file; the file drawn, for the output.
fn plot_path(args: &Args, r: &Resolved) -> anyhow::Result<Option<String>> {
    let Some(file) = &args.plot else {
        return Ok(None);
    };
    let (_, days) = record_path(args, r);
    super::backtest_plot::path_plot(file, &args.policy, &r.base, r.params.band, &days)?;
    Ok(Some(file.display().to_string()))
}

fn simulate(args: &Args, r: &Resolved, json: bool) -> anyhow::Result<()> {
    let results = run_policies(args, r, std::slice::from_ref(&r.base), json)?;
    let summary = summarize_policy(&results[0]);
    let plot = plot_path(args, r)?;
    let source = source_out(args, r);
    if json {
        #[derive(Serialize)]
        struct Out<'a> {
            policy: &'a str,
            source: SourceOut,
            summary: &'a PolicySummary,
            #[serde(skip_serializing_if = "Option::is_none")]
            plot: Option<String>,
        }
        crate::outln!(
            "{}",
            serde_json::to_string_pretty(&Out {
                policy: &args.policy,
                source,
                summary: &summary,
                plot,
            })?
        )?;
        return Ok(());
    }
    crate::outln!(
        "{}: {}",
        args.policy,
        describe(&source).replace(", medians", "")
    )?;
    crate::outln!(
        "{:<20} {:>10} {:>10} {:>10}",
        "metric",
        "p5",
        "median",
        "p95"
    )?;
    let rows: [(
        &str,
        Option<ballast::backtest::montecarlo::Percentiles>,
        bool,
    ); 11] = [
        ("final value (USDC)", summary.final_value_usdc, false),
        ("rebalances / year", summary.annual_rebalances, false),
        ("days outside band", summary.days_outside_band, false),
        ("annual turnover", summary.annual_turnover, true),
        ("tracking error", summary.tracking_error, true),
        ("cost drag", summary.cost_drag, true),
        ("rebalancing alpha", summary.rebalancing_alpha, true),
        ("annual return", summary.annual_return, true),
        ("volatility", summary.volatility, true),
        ("max drawdown", summary.max_drawdown, true),
        ("Sharpe", summary.sharpe, false),
    ];
    for (name, p, as_pct) in rows {
        let cell = |x: f64| {
            if as_pct {
                pct_f64(x)
            } else {
                format!("{x:>10.2}")
            }
        };
        match p {
            Some(p) => crate::outln!(
                "{name:<20} {:>10} {:>10} {:>10}",
                cell(p.p5),
                cell(p.p50),
                cell(p.p95)
            )?,
            None => crate::outln!("{name:<20} {:>10}", "–")?,
        }
    }
    if let Some(p) = plot {
        crate::outln!("plot written to {p}")?;
    }
    Ok(())
}
