//! `ballast status`: what the store knows, readable beside a running `ballast run`.
//!
//! # Invariants
//! - Opens the store read-only; never migrates or writes it.

use std::path::Path;

use anyhow::Context;
use ballast::{money::format_usdc, service::Service, store::read_status};

use crate::format::{pct, rfc3339};

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
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    println!(
        "store      {} (schema v{})",
        path.display(),
        report.schema_version
    );
    if let Some(run) = &report.last_run {
        let state = match run.stopped_at {
            Some(at) => format!("stopped {}", rfc3339(at)),
            None => "running, or ended without a clean stop".to_owned(),
        };
        println!(
            "last run   {} on {}{} — {state}",
            run.run_id,
            run.venue,
            if run.dry_run { " (dry run)" } else { "" }
        );
    }
    println!("runs       {}", report.runs);
    println!("cursor     event {}", report.cursor_seq);
    println!(
        "plans      {} (legs: {} applied, {} failed, {} unknown outcome, {} dry run)",
        report.plans,
        report.legs_applied,
        report.legs_failed,
        report.legs_pending,
        report.legs_dry_run
    );
    println!("turnover   {}", format_usdc(report.turnover_usdc));
    if let Some(snapshot) = &report.last_snapshot {
        let total: rust_decimal::Decimal = snapshot.balances_usdc.values().copied().sum();
        // The last known balances: an event's, a plan's result, a tick's or a resync's.
        println!(
            "balances   {} at {} (last known, from {})",
            format_usdc(total),
            rfc3339(snapshot.at),
            snapshot.source
        );
        for service in Service::ALL {
            let balance = snapshot.balances_usdc[service];
            let weight = if total.is_zero() {
                rust_decimal::Decimal::ZERO
            } else {
                balance / total
            };
            println!(
                "  {:<8} {:>12} {:>7}",
                service.name(),
                format_usdc(balance),
                pct(weight)
            );
        }
    }
    for plan in &report.recent_plans {
        println!(
            "plan       {} [{}] {} — {}",
            plan.plan_id,
            plan.trigger,
            rfc3339(plan.created_at),
            plan.reason
        );
        for leg in &plan.legs {
            println!(
                "             {} {:<8} {:>12} {:?}",
                leg.direction.name(),
                leg.service.name(),
                format_usdc(leg.amount_usdc),
                leg.status
            );
            if let Some(reason) = report.failure_reasons.get(&leg.idempotency_key) {
                println!("               why: {reason}");
            }
        }
    }
    for alert in &report.recent_alerts {
        println!(
            "alert      {} [{}] {} — {}",
            rfc3339(alert.at),
            alert.kind,
            alert.severity,
            alert.message
        );
    }
    Ok(())
}
