//! `ballast report` (`ballast report performance`): the period's returns, tracking error,
//! turnover, costs and rebalancing alpha, rebalances by trigger, legs by outcome and alerts,
//! from the store, as Markdown, JSON or CSV, with an optional plot of weights over time
//! (targets and bands) and value against buy-and-hold.
//!
//! Every figure is computed by the core ([`ballast::report::period_report`], which feeds
//! [`ballast::performance`]'s one definition of each metric); this command reads the store,
//! calls it, and prints.
//!
//! # Invariants
//! - The store is opened read-only and never migrated.
//! - `--format json` (or `--json`) prints exactly one JSON document; `csv` prints one table
//!   of `section,key,value` rows; USDC amounts have two decimals in every format.
//! - A metric that cannot be estimated reads `n/a` with the reason, never a made-up number.

use std::{
    fmt::Write as _,
    path::{Path, PathBuf},
};

use anyhow::{Context, anyhow, bail};
use ballast::{
    money::{decimal_from_f64, format_usdc, usdc_text},
    performance::{Degenerate, Metrics},
    report::{PeriodReport, ReportParams, period_report},
    store::read_period,
};
use rust_decimal::Decimal;
use serde::Serialize;
use time::{OffsetDateTime, format_description::well_known::Rfc3339};

use crate::{format::rfc3339, settings::Validated};

/// How the report is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Markdown tables (the default).
    #[default]
    Md,
    /// One JSON document (the series included).
    Json,
    /// `section,key,value` rows.
    Csv,
}

/// `ballast report` flags.
#[derive(Debug, Clone, Default, clap::Args)]
#[group(id = "performance_flags")]
pub struct Args {
    /// Start of the period: a UTC date `2026-01-31` or an RFC 3339 time (default: everything
    /// the store holds).
    #[arg(long, value_name = "DATE")]
    pub since: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Md)]
    pub format: Format,
    /// Also draw weights over time (with targets and bands) and value against buy-and-hold to
    /// this `.png` or `.svg` file.
    #[arg(long, value_name = "FILE")]
    pub plot: Option<PathBuf>,
    /// Store file (default: `store.path` from the configuration).
    #[arg(long)]
    pub store: Option<PathBuf>,
    /// Cost of each applied leg in basis points of its amount, to estimate costs paid beyond
    /// the venue (whose spot transfers are free).
    #[arg(long, default_value = "0")]
    pub cost_bps: Decimal,
}

/// What the report prints as JSON.
#[derive(Debug, Clone, Serialize)]
pub struct Output {
    /// The store read.
    pub store: String,
    /// The period's start asked for (`null`: everything).
    #[serde(with = "time::serde::rfc3339::option")]
    pub since: Option<OffsetDateTime>,
    /// The report.
    #[serde(flatten)]
    pub report: PeriodReport,
}

/// Parses `--since`: a date (its start, UTC) or an RFC 3339 time.
///
/// # Errors
/// Neither, naming `--since`.
pub fn parse_since(text: &str) -> anyhow::Result<OffsetDateTime> {
    let text = text.trim();
    if let Ok(at) = OffsetDateTime::parse(text, &Rfc3339) {
        return Ok(at);
    }
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(text, &format)
        .map(|date| date.midnight().assume_utc())
        .map_err(|_| anyhow!("--since: `{text}` is neither a date YYYY-MM-DD nor an RFC 3339 time"))
}

/// Reads the store and computes the report.
///
/// # Errors
/// A bad flag, or a store that is missing or unreadable (naming `store.path`).
pub fn execute(args: &Args, validated: &Validated) -> anyhow::Result<Output> {
    let path = args
        .store
        .clone()
        .unwrap_or_else(|| validated.settings.store.path.clone());
    if !path.is_file() {
        bail!(
            "store.path: no store at {} (has `ballast run` been started here?)",
            path.display()
        );
    }
    let since = args.since.as_deref().map(parse_since).transpose()?;
    if args.cost_bps < Decimal::ZERO {
        bail!("--cost-bps: {} must not be negative", args.cost_bps);
    }
    let data = read_period(&path, since)
        .with_context(|| format!("store.path: reading {}", path.display()))?;
    let params = ReportParams {
        bands: validated.policy.bands,
        cost_bps: args.cost_bps,
        risk_free_rate: validated.optimizer.risk_free_rate,
    };
    Ok(Output {
        store: path.display().to_string(),
        since,
        report: period_report(&data, &validated.targets, &params),
    })
}

/// Prints the report (and draws the plot).
///
/// # Errors
/// As [`execute`]; a plot that cannot be drawn, naming `--plot`.
pub fn run(args: &Args, validated: &Validated, json: bool) -> anyhow::Result<()> {
    let out = execute(args, validated)?;
    if let Some(plot) = &args.plot {
        super::plot::draw(plot, &out.report)?;
    }
    let format = if json { Format::Json } else { args.format };
    match format {
        Format::Json => crate::outln!("{}", serde_json::to_string_pretty(&out)?)?,
        Format::Md => crate::output::text(&markdown(&out, args.plot.as_deref()))?,
        Format::Csv => crate::output::text(&csv(&out))?,
    }
    Ok(())
}

/// A ratio as a percentage with two decimals, or `n/a` with why.
fn ratio(value: Option<f64>, statistic: &str, metrics: &Metrics) -> String {
    match value {
        Some(v) => format!("{:.2}%", 100.0 * v),
        None => {
            let why = metrics.degenerate.iter().find_map(|d| match d {
                Degenerate::TooFewDays {
                    statistic: s,
                    days,
                    needed,
                } if *s == statistic => Some(format!("{days} day(s), {needed} needed")),
                Degenerate::ConstantReturns { statistic: s } if *s == statistic => {
                    Some("constant returns".to_owned())
                }
                Degenerate::Ruined { statistic: s } if *s == statistic => {
                    Some("portfolio wiped out".to_owned())
                }
                _ => None,
            });
            format!("n/a ({})", why.unwrap_or_else(|| "no data".to_owned()))
        }
    }
}

/// The headline figures, in order: `(key, label, value as printed)`.
fn figures(report: &PeriodReport) -> Vec<(&'static str, &'static str, String)> {
    let m = &report.metrics;
    let usdc = |d: Option<Decimal>| d.map(format_usdc).unwrap_or_else(|| "n/a".into());
    vec![
        (
            "start_value_usdc",
            "start value",
            usdc(report.start_value_usdc),
        ),
        ("end_value_usdc", "end value", usdc(report.end_value_usdc)),
        (
            "period_return",
            "return over the period",
            ratio(report.period_return, "annual_return", m),
        ),
        (
            "buy_and_hold_period_return",
            "buy-and-hold over the period",
            ratio(report.buy_and_hold_period_return, "buy_and_hold", m),
        ),
        (
            "annual_return",
            "annual return",
            ratio(m.annual_return, "annual_return", m),
        ),
        (
            "rebalancing_alpha",
            "rebalancing alpha (a year)",
            ratio(m.rebalancing_alpha, "annual_return", m),
        ),
        (
            "tracking_error",
            "tracking error (a year)",
            ratio(m.tracking_error, "tracking_error", m),
        ),
        (
            "annual_turnover",
            "turnover (a year)",
            ratio(Some(m.annual_turnover), "", m),
        ),
        (
            "turnover_usdc",
            "USDC sent in applied legs",
            format_usdc(report.turnover_usdc),
        ),
        ("moved_usdc", "amount moved", format_usdc(report.moved_usdc)),
        ("costs_usdc", "costs", format_usdc(report.costs_usdc)),
        (
            "cost_drag",
            "cost drag (a year)",
            ratio(Some(m.cost_drag), "", m),
        ),
        (
            "max_drawdown",
            "max drawdown",
            ratio(Some(m.max_drawdown), "", m),
        ),
        (
            "volatility",
            "volatility (a year)",
            ratio(m.volatility, "volatility", m),
        ),
        (
            "sharpe",
            "Sharpe",
            m.sharpe
                .map_or_else(|| ratio(None, "sharpe", m), |s| format!("{s:.2}")),
        ),
        (
            "days_outside_band",
            "days outside the band",
            m.days_outside_band.to_string(),
        ),
    ]
}

fn markdown(out: &Output, plot: Option<&Path>) -> String {
    let r = &out.report;
    let mut md = String::new();
    let when = |at: Option<OffsetDateTime>| at.map(rfc3339).unwrap_or_else(|| "—".into());
    let _ = writeln!(md, "# ballast report\n");
    let _ = writeln!(
        md,
        "Period {} to {} ({} day(s) measured), store `{}`.\n",
        when(r.from),
        when(r.to),
        r.metrics.days,
        out.store
    );
    let _ = writeln!(md, "| figure | value |\n|---|---|");
    for (_, label, value) in figures(r) {
        let _ = writeln!(md, "| {label} | {value} |");
    }
    let _ = writeln!(
        md,
        "\n## Rebalances by trigger\n\n| trigger | plans | complete | partial | failed |\n|---|---:|---:|---:|---:|"
    );
    for (trigger, c) in &r.plans_by_trigger {
        let _ = writeln!(
            md,
            "| {trigger} | {} | {} | {} | {} |",
            c.attempted, c.complete, c.partial, c.failed
        );
    }
    let p = &r.plans;
    let _ = writeln!(
        md,
        "| **all** | {} | {} | {} | {} |",
        p.attempted, p.complete, p.partial, p.failed
    );
    let l = &r.legs;
    let _ = writeln!(
        md,
        "\n## Legs by outcome\n\n| applied | failed | unknown outcome | dry run |\n|---:|---:|---:|---:|\n| {} | {} | {} | {} |",
        l.applied, l.failed, l.pending, l.dry_run
    );
    let _ = writeln!(md, "\n## Alerts\n");
    if r.alerts_by_kind.is_empty() {
        let _ = writeln!(md, "None.");
    } else {
        let _ = writeln!(md, "| kind | count |\n|---|---:|");
        for (kind, n) in &r.alerts_by_kind {
            let _ = writeln!(md, "| {kind} | {n} |");
        }
    }
    if !r.metrics.warnings.is_empty() {
        let _ = writeln!(md, "\n## Outside the article's good ranges\n");
        for warning in &r.metrics.warnings {
            let _ = writeln!(md, "- {warning}");
        }
    }
    if let Some(plot) = plot {
        let _ = writeln!(md, "\nPlot: `{}`", plot.display());
    }
    md
}

fn csv(out: &Output) -> String {
    let r = &out.report;
    let mut rows = String::from("section,key,value\n");
    let m = &r.metrics;
    let number = |x: Option<f64>| {
        x.and_then(|v| decimal_from_f64(v, "figure").ok())
            .map(|d| d.round_dp(10).normalize().to_string())
            .unwrap_or_default()
    };
    let usdc = |d: Option<Decimal>| d.map(usdc_text).unwrap_or_default();
    let when = |at: Option<OffsetDateTime>| at.map(rfc3339).unwrap_or_default();
    for (key, value) in [
        ("from", when(r.from)),
        ("to", when(r.to)),
        ("days", m.days.to_string()),
        ("start_value_usdc", usdc(r.start_value_usdc)),
        ("end_value_usdc", usdc(r.end_value_usdc)),
        ("period_return", number(r.period_return)),
        (
            "buy_and_hold_period_return",
            number(r.buy_and_hold_period_return),
        ),
        ("annual_return", number(m.annual_return)),
        ("rebalancing_alpha", number(m.rebalancing_alpha)),
        ("tracking_error", number(m.tracking_error)),
        ("annual_turnover", number(Some(m.annual_turnover))),
        ("turnover_usdc", usdc_text(r.turnover_usdc)),
        ("moved_usdc", usdc_text(r.moved_usdc)),
        ("costs_usdc", usdc_text(r.costs_usdc)),
        ("cost_drag", number(Some(m.cost_drag))),
        ("max_drawdown", number(Some(m.max_drawdown))),
        ("volatility", number(m.volatility)),
        ("sharpe", number(m.sharpe)),
        ("days_outside_band", m.days_outside_band.to_string()),
    ] {
        let _ = writeln!(rows, "metrics,{key},{value}");
    }
    for (trigger, c) in &r.plans_by_trigger {
        for (what, n) in [
            ("attempted", c.attempted),
            ("complete", c.complete),
            ("partial", c.partial),
            ("failed", c.failed),
        ] {
            let _ = writeln!(rows, "plans,{trigger}.{what},{n}");
        }
    }
    for (what, n) in [
        ("applied", r.legs.applied),
        ("failed", r.legs.failed),
        ("pending", r.legs.pending),
        ("dry_run", r.legs.dry_run),
    ] {
        let _ = writeln!(rows, "legs,{what},{n}");
    }
    for (kind, n) in &r.alerts_by_kind {
        let _ = writeln!(rows, "alerts,{kind},{n}");
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_takes_a_date_or_a_time_and_names_itself_otherwise() {
        struct TestCase {
            text: &'static str,
            expected: Result<&'static str, ()>,
        }
        let cases = [
            // TC0: a date is its start, UTC.
            TestCase {
                text: "2026-01-31",
                expected: Ok("2026-01-31T00:00:00Z"),
            },
            // TC1: an RFC 3339 time as is.
            TestCase {
                text: "2026-01-31T08:30:00+02:00",
                expected: Ok("2026-01-31T08:30:00+02:00"),
            },
            // TC2: neither.
            TestCase {
                text: "last week",
                expected: Err(()),
            },
        ];
        for (i, case) in cases.iter().enumerate() {
            match (parse_since(case.text), case.expected) {
                (Ok(at), Ok(want)) => assert_eq!(rfc3339(at), want, "TC{i}"),
                (Err(e), Err(())) => assert!(e.to_string().contains("--since"), "TC{i}"),
                (got, want) => panic!("TC{i}: {got:?} vs {want:?}"),
            }
        }
    }
}
