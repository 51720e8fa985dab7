//! `ballast status`: what the store knows, readable beside a running `ballast run`.
//!
//! # Invariants
//! - Opens the store read-only; never migrates or writes it.
//! - Prints through [`crate::output`]: a reader that stops reading ends the output, with no
//!   panic (`main` exits 0 for it).

use std::path::Path;

use anyhow::Context;
use ballast::{money::format_usdc, service::Service, store::read_status};

use crate::metrics::pct;

/// Prints the status of the store at `path`.
///
/// # Errors
/// When the store file is missing or unreadable (the message names `store.path`).
pub fn run(path: &Path, json: bool) -> anyhow::Result<()> {
    if !path.is_file() {
        anyhow::bail!(
            "store.path: no store at {} (has `ballast run` been started here?)",
            path.display()
        );
    }
    let report =
        read_status(path).with_context(|| format!("store.path: reading {}", path.display()))?;
    if json {
        crate::outln!("{}", serde_json::to_string_pretty(&report)?)?;
        return Ok(());
    }
    crate::outln!(
        "store      {} (schema v{})",
        path.display(),
        report.schema_version
    )?;
    if let Some(run) = &report.last_run {
        let state = match run.stopped_at {
            Some(at) => format!("stopped {at}"),
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
    if let Some(snapshot) = &report.last_snapshot {
        let total: rust_decimal::Decimal = snapshot.balances_usdc.values().copied().sum();
        crate::outln!(
            "balances   {} at {} ({})",
            format_usdc(total),
            snapshot.at,
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
    for plan in &report.recent_plans {
        crate::outln!(
            "plan       {} [{}] {} — {}",
            plan.plan_id,
            plan.trigger,
            plan.created_at,
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
    Ok(())
}
