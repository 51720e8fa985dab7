//! `ballast run`: the companion, until Ctrl-C or SIGTERM (or `--for SECONDS`), then a summary.
//!
//! # Invariants
//! - Ctrl-C or SIGTERM stops new plans, lets the plan in progress finish (bounded by
//!   [`SHUTDOWN_DEADLINE`]), records the clean stop, prints the summary and exits 0.
//! - The API key reaches only the venue client and the embedded venue.

use std::time::Duration;

use ballast::{money::format_usdc, secret::ApiKey, service::Service, store::Store};

use crate::{
    clock::TimeSource,
    commands::venue,
    format::pct,
    metrics::{Console, Summary},
    settings::{OutputFormat, Validated},
    system::SystemBuilder,
};

/// How long a shutdown waits for the plan in progress.
pub const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(10);

/// `ballast run` arguments.
#[derive(Debug, clap::Args, Default)]
pub struct Args {
    /// Talk to this venue (`ballast sim` or the real one) instead of the embedded simulator.
    #[arg(long)]
    pub venue: Option<String>,
    /// The agent whose portfolio to keep on target (overrides `venue.agent_id`).
    #[arg(long)]
    pub agent_id: Option<String>,
    /// Plan and record, never send a transfer (overrides `executor.dry_run`).
    #[arg(long)]
    pub dry_run: bool,
    /// Stop after this many seconds instead of waiting for Ctrl-C.
    #[arg(long = "for", value_name = "SECONDS")]
    pub run_for_secs: Option<f64>,
    /// Print only the final summary.
    #[arg(long)]
    pub quiet: bool,
}

/// Runs the companion on a fresh actix system until Ctrl-C or `--for`.
///
/// # Errors
/// When the venue, the store or the actors cannot start.
pub fn run(args: &Args, validated: Validated, json: bool) -> anyhow::Result<()> {
    if let Some(secs) = args.run_for_secs
        && !(secs.is_finite() && secs > 0.0)
    {
        anyhow::bail!("--for: {secs} must be a positive number of seconds");
    }
    actix_rt::System::new().block_on(run_async(args, validated, json))
}

async fn run_async(args: &Args, validated: Validated, json: bool) -> anyhow::Result<()> {
    let api_key = ApiKey::from_env();
    let venue = venue::open(&validated, args.venue.as_deref(), api_key.as_ref()).await?;
    let store = Store::open(&validated.settings.store.path)?;
    let format = if json {
        OutputFormat::Json
    } else {
        validated.settings.output.format
    };
    let console = if args.quiet {
        Console::Off
    } else {
        Console::On(format)
    };
    if format == OutputFormat::Text && !args.quiet {
        println!(
            "ballast: keeping agent `{}` on target at {}{}{}",
            validated.settings.venue.agent_id,
            venue.url,
            match (&venue.sim, venue.time) {
                (Some(_), _) => format!(
                    " (embedded simulated venue, {}x speed)",
                    validated.settings.sim.speed
                ),
                (None, TimeSource::Scaled { speed, .. }) => {
                    format!(" (a simulated venue; following its clock at {speed}x)")
                }
                (None, TimeSource::Wall) => String::new(),
            },
            if validated.settings.executor.dry_run {
                " — DRY RUN"
            } else {
                ""
            }
        );
        println!("press Ctrl-C (or send SIGTERM) to stop\n");
    }
    let targets = validated.targets.clone();
    let running = SystemBuilder::new(validated, &venue.url, api_key, venue.time, store, console)
        .start()
        .await?;
    match args.run_for_secs {
        Some(secs) => {
            tokio::select! {
                result = super::wait_for_stop() => result?,
                () = tokio::time::sleep(Duration::from_secs_f64(secs)) => {}
            }
        }
        None => super::wait_for_stop().await?,
    }
    let summary = running.shutdown(SHUTDOWN_DEADLINE).await?;
    if let Some(sim) = venue.sim {
        sim.shutdown().await;
    }
    if json {
        println!(
            "{}",
            serde_json::json!({"kind": "summary", "at": crate::format::rfc3339(venue.time.now()), "summary": summary})
        );
    } else {
        print_summary(&summary, &targets);
    }
    actix_rt::System::current().stop();
    Ok(())
}

fn print_summary(summary: &Summary, targets: &ballast::targets::TargetAllocation) {
    println!("\n— ballast summary —");
    println!(
        "events seen   {} ({})",
        summary.events_seen,
        summary
            .events_by_type
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!("daily ticks   {}", summary.ticks);
    println!(
        "rebalances    {}{}",
        summary.rebalances,
        if summary.rebalances_by_trigger.is_empty() {
            String::new()
        } else {
            format!(
                " ({})",
                summary
                    .rebalances_by_trigger
                    .iter()
                    .map(|(k, v)| format!("{k} {v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
    );
    if summary.plans_partial + summary.plans_failed > 0 {
        println!(
            "plans         {} attempted: {} partly applied, {} with no leg applied",
            summary.plans_attempted, summary.plans_partial, summary.plans_failed
        );
    }
    if !summary.alerts_by_kind.is_empty() {
        println!(
            "alerts        {}",
            summary
                .alerts_by_kind
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    println!(
        "legs          {} applied, {} failed{}{}",
        summary.legs_applied,
        summary.legs_failed,
        if summary.leg_retries > 0 {
            format!(", {} retries under the same keys", summary.leg_retries)
        } else {
            String::new()
        },
        if summary.legs_dry_run > 0 {
            format!(", {} dry run", summary.legs_dry_run)
        } else {
            String::new()
        }
    );
    println!("turnover      {}", format_usdc(summary.turnover_usdc));
    if summary.targets_refused > 0 {
        println!(
            "optimizer     {} result(s) refused; the previous targets stayed",
            summary.targets_refused
        );
    }
    if summary.malformed_frames > 0 || summary.connections > 1 {
        println!(
            "stream        {} connections, {} malformed frames ignored",
            summary.connections, summary.malformed_frames
        );
    }
    if let (Some(balances), Some(weights)) = (&summary.final_balances_usdc, &summary.final_weights)
    {
        let targets = summary.targets.unwrap_or(*targets.weights());
        println!("final allocation:");
        println!(
            "  {:<8} {:>12} {:>7} {:>7} {:>7}",
            "service", "balance", "weight", "target", "drift"
        );
        for service in Service::ALL {
            println!(
                "  {:<8} {:>12} {:>7} {:>7} {:>7}",
                service.name(),
                format_usdc(balances[service]),
                pct(weights[service]),
                pct(targets[service]),
                pct(weights[service] - targets[service])
            );
        }
        let total: rust_decimal::Decimal = balances.values().copied().sum();
        println!("  {:<8} {:>12}", "total", format_usdc(total));
    }
}
