//! `ballast status`: what the store knows, readable beside a running `ballast run`: runs,
//! the operator's last control action, plans, legs, the last known balances, recent alerts,
//! and the last run's performance so far (the article's metrics from the days it closed at
//! ticks, with the good-range warnings) and its target adjustments. Times are RFC 3339.
//!
//! # Invariants
//! - Opens the store read-only; never migrates or writes it.
//! - Prints through [`crate::output`]: a reader that stops reading ends the output, with no
//!   panic (`main` exits 0 for it).
//! - The metrics are the core's (`ballast::performance::metrics_of`) over the stored days.

use std::path::Path;

use anyhow::Context;
use ballast::{
    money::format_usdc,
    performance::{Metrics, metrics_of},
    service::Service,
    store::{RunPerformance, read_run_performance, read_status},
};
use serde::Serialize;

use crate::format::{metrics_lines, pct, rfc3339};

/// The last run's performance as `ballast status` shows it.
#[derive(Debug, Serialize)]
struct PerformanceOut<'a> {
    run_id: &'a str,
    /// `None` until the first day closed.
    metrics: Option<Metrics>,
    adjustments: &'a [ballast::store::AdjustmentRecord],
}

fn performance(run: &RunPerformance, risk_free_rate: f64) -> PerformanceOut<'_> {
    let days: Vec<_> = run.days.iter().map(|d| d.observation).collect();
    PerformanceOut {
        run_id: &run.run_id,
        metrics: run
            .days
            .first()
            .map(|first| metrics_of(first.previous_value_usdc, &days, risk_free_rate)),
        adjustments: &run.adjustments,
    }
}

/// Prints the status of the store at `path`; Sharpe at `risk_free_rate`.
///
/// # Errors
/// When the store file is missing or unreadable (the message names `store.path`).
pub fn run(path: &Path, json: bool, risk_free_rate: f64) -> anyhow::Result<()> {
    if !path.is_file() {
        anyhow::bail!(
            "store.path: no store at {} (has `ballast run` been started here?)",
            path.display()
        );
    }
    let report =
        read_status(path).with_context(|| format!("store.path: reading {}", path.display()))?;
    let run_performance = read_run_performance(path)
        .with_context(|| format!("store.path: reading {}", path.display()))?;
    let performance = run_performance
        .as_ref()
        .map(|run| performance(run, risk_free_rate));
    if json {
        let mut value = serde_json::to_value(&report)?;
        if let Some(object) = value.as_object_mut() {
            object.insert("performance".into(), serde_json::to_value(&performance)?);
        }
        crate::outln!("{}", serde_json::to_string_pretty(&value)?)?;
        return Ok(());
    }
    crate::outln!(
        "store      {} (schema v{})",
        path.display(),
        report.schema_version
    )?;
    if let Some(run) = &report.last_run {
        let state = match run.stopped_at {
            Some(at) => format!("stopped {}", rfc3339(at)),
            None => "running, or ended without a clean stop".to_owned(),
        };
        crate::outln!(
            "last run   {} on {}{} — {state}",
            run.run_id,
            run.venue,
            if run.dry_run { " (dry run)" } else { "" }
        )?;
    }
    crate::outln!("runs       {}", report.runs)?;
    if let Some(action) = &report.control {
        crate::outln!(
            "control    {} — {} by {} at {}{}",
            action.mode,
            action.command,
            action.by,
            rfc3339(action.at),
            if action.reason.is_empty() {
                String::new()
            } else {
                format!(": {}", action.reason)
            }
        )?;
    }
    crate::outln!("cursor     event {}", report.cursor_seq)?;
    crate::outln!(
        "plans      {} (legs: {} applied, {} failed, {} unknown outcome, {} dry run)",
        report.plans,
        report.legs_applied,
        report.legs_failed,
        report.legs_pending,
        report.legs_dry_run
    )?;
    crate::outln!("turnover   {}", format_usdc(report.turnover_usdc))?;
    let tax = &report.tax;
    if *tax != ballast::store::TaxStatus::default() {
        crate::outln!(
            "tax        {} open lots, {} disposals; {} harvests ({} of losses); skipped: {} did not pay, {} in wash-sale windows; {} wash-sale buys prevented; {} disallowed into replacements; {} orders of unknown outcome",
            tax.open_lots,
            tax.disposals,
            tax.harvests,
            format_usdc(tax.harvested_loss_usdc),
            tax.skipped_not_worth,
            tax.skipped_wash_window,
            tax.wash_buys_prevented,
            format_usdc(tax.disallowed_loss_usdc),
            tax.orders_pending
        )?;
    }
    if let Some(snapshot) = &report.last_snapshot {
        let total: rust_decimal::Decimal = snapshot.balances_usdc.values().copied().sum();
        // The last known balances: an event's, a plan's result, a tick's or a resync's.
        crate::outln!(
            "balances   {} at {} (last known, from {})",
            format_usdc(total),
            rfc3339(snapshot.at),
            snapshot.source
        )?;
        for service in Service::ALL {
            let balance = snapshot.balances_usdc[service];
            let weight = if total.is_zero() {
                rust_decimal::Decimal::ZERO
            } else {
                balance / total
            };
            crate::outln!(
                "  {:<8} {:>12} {:>7}",
                service.name(),
                format_usdc(balance),
                pct(weight)
            )?;
        }
    }
    let hedges = &report.hedges;
    if hedges.opened + hedges.failed + hedges.dry_run + hedges.open_now > 0 {
        crate::outln!(
            "hedges     {} opened, {} closed, {} open or unknown, {} failed, {} dry run",
            hedges.opened,
            hedges.closed,
            hedges.open_now,
            hedges.failed,
            hedges.dry_run
        )?;
        crate::outln!(
            "           fees {}, funding {:+} USDC received, realized PnL {:+} USDC",
            format_usdc(hedges.costs.fees_usdc),
            hedges.costs.funding_usdc,
            hedges.costs.realized_pnl_usdc
        )?;
        for hedge in &hedges.recent {
            crate::outln!(
                "hedge      {} {:?} {} {} {} at {}x, ratio {} — {:?}{}",
                hedge.hedge_id,
                hedge.side,
                hedge.market,
                format_usdc(hedge.notional_usdc),
                hedge.service.name(),
                hedge.leverage,
                hedge.ratio,
                hedge.status,
                hedge
                    .close_reason
                    .as_deref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default()
            )?;
            if let Some(error) = &hedge.error {
                crate::outln!("               why: {error}")?;
            }
        }
    }
    for plan in &report.recent_plans {
        crate::outln!(
            "plan       {} [{}] {} — {}",
            plan.plan_id,
            plan.trigger,
            rfc3339(plan.created_at),
            plan.reason
        )?;
        for leg in &plan.legs {
            crate::outln!(
                "             {} {:<8} {:>12} {:?}",
                leg.direction.name(),
                leg.service.name(),
                format_usdc(leg.amount_usdc),
                leg.status
            )?;
            if let Some(reason) = report.failure_reasons.get(&leg.idempotency_key) {
                crate::outln!("               why: {reason}")?;
            }
        }
    }
    for alert in &report.recent_alerts {
        crate::outln!(
            "alert      {} [{}] {} — {}",
            rfc3339(alert.at),
            alert.kind,
            alert.severity,
            alert.message
        )?;
    }
    if let Some(p) = &performance {
        match &p.metrics {
            Some(metrics) => {
                crate::outln!(
                    "performance run {} over {} day(s), {} rebalance(s):",
                    p.run_id,
                    metrics.days,
                    metrics.rebalances
                )?;
                for line in metrics_lines(metrics) {
                    crate::outln!("  {line}")?;
                }
            }
            None => crate::outln!(
                "performance run {}: no day closed yet (metrics start at the first daily tick)",
                p.run_id
            )?,
        }
        for adjustment in p.adjustments {
            crate::outln!(
                "targets    {} [{}] {}",
                rfc3339(adjustment.at),
                adjustment.kind,
                adjustment.reason
            )?;
        }
    }
    Ok(())
}
