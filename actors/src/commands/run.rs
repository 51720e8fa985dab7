//! `ballast run`: the companion, until Ctrl-C or SIGTERM (or `--for SECONDS`), then a summary.
//!
//! # Invariants
//! - One companion per store: the store's lock is taken before anything else, and a second
//!   `ballast run` on the same store exits 2 naming the holder's pid.
//! - Ctrl-C, SIGTERM or `--for` expiry stops new plans, lets the plan in progress finish
//!   (bounded by `executor.shutdown_deadline_ms`), records the clean stop, prints the summary
//!   and exits 0.
//! - A panicking actor stops the run the same way (the stop recorded), then exits 2.
//! - A closed stdout ends output only: trading, recording and the stop go on.
//! - The API key reaches only the venue client and the embedded venue; a `--venue` URL
//!   carrying credentials is refused.
//! - With the HTTP API on (`[http] listen`, `--http`), its bound address is printed before the
//!   first event and written to `http.addr` in the data directory; the control token is not.

use std::time::Duration;

use anyhow::Context as _;
use ballast::{
    money::format_usdc,
    secret::ApiKey,
    service::Service,
    store::{Store, StoreLock},
    venue::client::api_base_url,
};

use crate::{
    clock::TimeSource,
    commands::venue,
    format::{allocation_header, allocation_row, counts, pct},
    http::{
        HttpOptions,
        token::{self, ControlToken, TokenSource},
    },
    metrics::{Console, Summary},
    outln,
    settings::{OutputFormat, Validated},
    system::{SystemBuilder, contain_panics},
};

/// The longest `--for`: about 31 years, far beyond any run, and far inside what a
/// `Duration` and the timer can hold.
pub const RUN_FOR_MAX_SECS: f64 = 1e9;

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
    /// Serve the HTTP API and dashboard on this IP:port (overrides `http.listen`; port 0
    /// picks a free port, "" switches it off).
    #[arg(long, value_name = "ADDR")]
    pub http: Option<String>,
    /// Allow `--http` to bind an address other than loopback (sets `http.allow_remote`).
    #[arg(long)]
    pub allow_remote: bool,
    /// Record every input of the trigger policy and every decision to FILE as JSON lines;
    /// `ballast backtest --events FILE` replays them through the same policy.
    #[arg(long, value_name = "FILE")]
    pub record_events: Option<std::path::PathBuf>,
}

/// Runs the companion on a fresh actix system until Ctrl-C or `--for`.
///
/// # Errors
/// When the venue, the store or the actors cannot start.
pub fn run(args: &Args, validated: Validated, json: bool) -> anyhow::Result<()> {
    let run_for = args.run_for_secs.map(run_for).transpose()?;
    if let Some(url) = &args.venue {
        api_base_url(url).map_err(|error| anyhow::anyhow!("--venue: {error}"))?;
    }
    actix_rt::System::new().block_on(run_async(args, run_for, validated, json))
}

/// `--for SECONDS` as a duration: positive, finite, at most [`RUN_FOR_MAX_SECS`].
///
/// # Errors
/// A message naming `--for`.
pub fn run_for(secs: f64) -> anyhow::Result<Duration> {
    if !(secs.is_finite() && secs > 0.0) {
        anyhow::bail!("--for: {secs} must be a positive number of seconds");
    }
    if secs > RUN_FOR_MAX_SECS {
        anyhow::bail!("--for: {secs} is out of range (at most {RUN_FOR_MAX_SECS} seconds)");
    }
    Duration::try_from_secs_f64(secs).map_err(|error| anyhow::anyhow!("--for: {secs}: {error}"))
}

async fn run_async(
    args: &Args,
    run_for: Option<Duration>,
    validated: Validated,
    json: bool,
) -> anyhow::Result<()> {
    let api_key = ApiKey::from_env();
    let store_path = validated.settings.store.path.clone();
    // Before anything else: a second companion on this store must not even start a venue.
    let _lock = StoreLock::acquire(&store_path)?;
    let venue = venue::open(&validated, args.venue.as_deref(), api_key.as_ref()).await?;
    let store = Store::open(&store_path)
        .with_context(|| format!("store.path: opening {}", store_path.display()))?;
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
        // Output may already be closed; the run goes on either way.
        let _ = outln!(
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
        let _ = outln!("press Ctrl-C (or send SIGTERM) to stop\n");
    }
    let targets = validated.targets.clone();
    let deadline = validated.shutdown_deadline;
    let http = http_options(&validated)?;
    let mut builder =
        SystemBuilder::new(validated, &venue.url, api_key, venue.time, store, console);
    if let Some((options, _)) = &http {
        builder = builder.http(options.clone());
    }
    if let Some(path) = &args.record_events {
        builder = builder.record_events(path);
    }
    let mut panics = contain_panics();
    let running = builder.start().await?;
    if let (Some(addr), Some((_, source))) = (running.http_addr(), &http)
        && !args.quiet
    {
        // Output may already be closed; the run goes on either way.
        let _ = if json {
            outln!(
                "{}",
                serde_json::json!({"kind": "http", "at": crate::format::rfc3339(running.handles.time.now()), "addr": addr.to_string(), "url": format!("http://{addr}/"), "token": source.to_string()})
            )
        } else {
            outln!("http: dashboard and API at http://{addr}/ (control token: {source})\n")
        };
    }
    let expiry = async {
        match run_for {
            Some(run_for) => tokio::time::sleep(run_for).await,
            None => std::future::pending().await,
        }
    };
    let failure = tokio::select! {
        result = super::wait_for_stop() => { result?; None }
        () = expiry => None,
        Some(panic) = panics.recv() => Some(panic),
    };
    if let Some(panic) = &failure {
        running.panicked(panic).await;
    }
    let summary = running.shutdown(deadline).await?;
    if let Some(sim) = venue.sim {
        sim.shutdown().await;
    }
    // Output may have closed: the summary is then lost, the stop is already recorded.
    let _ = if json {
        outln!(
            "{}",
            serde_json::json!({"kind": "summary", "at": crate::format::rfc3339(venue.time.now()), "summary": summary})
        )
    } else {
        print_summary(&summary, &targets)
    };
    actix_rt::System::current().stop();
    match failure {
        Some(panic) => Err(anyhow::anyhow!(
            "a ballast actor failed ({panic}); the run stopped cleanly and its stop is recorded"
        )),
        None => Ok(()),
    }
}

/// The HTTP API's options, when `[http] listen` is set: the token (read, or generated into the
/// data directory) and where to write the bound address.
fn http_options(validated: &Validated) -> anyhow::Result<Option<(HttpOptions, TokenSource)>> {
    let Some(listen) = validated.http_listen else {
        return Ok(None);
    };
    let data_dir = token::data_dir(&validated.settings.store.path);
    let configured = &validated.settings.control.token_file;
    let configured = (!configured.as_os_str().is_empty()).then_some(configured.as_path());
    let (token, source) = ControlToken::load_or_create(configured, &data_dir)?;
    let options = HttpOptions {
        listen,
        token,
        address_file: Some(data_dir.join(token::ADDRESS_FILE_NAME)),
    };
    Ok(Some((options, source)))
}

fn print_summary(
    summary: &Summary,
    targets: &ballast::targets::TargetAllocation,
) -> Result<(), crate::output::OutputClosed> {
    outln!("\n— ballast summary —")?;
    outln!(
        "events seen   {} ({})",
        summary.events_seen,
        counts(&summary.events_by_type)
    )?;
    outln!("daily ticks   {}", summary.ticks)?;
    outln!(
        "rebalances    {}{}",
        summary.rebalances,
        if summary.rebalances_by_trigger.is_empty() {
            String::new()
        } else {
            format!(" ({})", counts(&summary.rebalances_by_trigger))
        }
    )?;
    if summary.plans_partial + summary.plans_failed > 0 {
        outln!(
            "plans         {} attempted: {} partly applied, {} with no leg applied",
            summary.plans_attempted,
            summary.plans_partial,
            summary.plans_failed
        )?;
    }
    if !summary.alerts_by_kind.is_empty() {
        outln!("alerts        {}", counts(&summary.alerts_by_kind))?;
    }
    outln!(
        "legs          {} applied, {} failed{}{}",
        summary.legs_applied,
        summary.legs_failed,
        count_if_any(summary.leg_retries, "retries under the same keys"),
        count_if_any(summary.legs_dry_run, "dry run")
    )?;
    outln!("turnover      {}", format_usdc(summary.turnover_usdc))?;
    print_hedges(&summary.hedges)?;
    if !summary.target_adjustments.is_empty() {
        outln!(
            "targets       adjusted by event responses: {}",
            counts(&summary.target_adjustments)
        )?;
    }
    match &summary.performance {
        Some(metrics) => {
            outln!(
                "performance   over {} day(s) closed at ticks, {} rebalance(s) ({:.1} a year):",
                metrics.days,
                metrics.rebalances,
                metrics.annual_rebalances
            )?;
            for line in crate::format::metrics_lines(metrics) {
                outln!("  {line}")?;
            }
        }
        None => outln!("performance   no day closed yet (metrics start at the first daily tick)")?,
    }
    if summary.targets_refused > 0 {
        outln!(
            "optimizer     {} result(s) refused; the previous targets stayed",
            summary.targets_refused
        )?;
    }
    if summary.legs_superseded > 0 || summary.plans_dropped > 0 {
        outln!(
            "not executed  {} leg(s) superseded by another companion's plan, {} plan(s) dropped before sending",
            summary.legs_superseded,
            summary.plans_dropped
        )?;
    }
    if summary.legs_pending > 0 {
        outln!(
            "pending       {} leg(s) of unknown outcome, reconciled at the next start",
            summary.legs_pending
        )?;
    }
    if summary.tax != crate::metrics::TaxSummary::default() {
        let tax = &summary.tax;
        outln!(
            "tax           {} harvest(s), {} of losses harvested ({} substitutes bought); skipped: {} did not pay, {} deferred by wash-sale windows, {} refused; {} wash-sale buys prevented, {} outside buys washed",
            tax.harvests,
            format_usdc(tax.harvested_loss_usdc),
            tax.substitutes_bought,
            tax.skipped_not_worth,
            tax.deferred,
            tax.refused,
            tax.wash_buys_prevented,
            tax.wash_sales_recorded
        )?;
    }
    if summary.malformed_frames > 0 || summary.connections > 1 {
        outln!(
            "stream        {} connections, {} malformed frames ignored",
            summary.connections,
            summary.malformed_frames
        )?;
    }
    if let (Some(balances), Some(weights)) = (&summary.final_balances_usdc, &summary.final_weights)
    {
        let targets = summary.targets.unwrap_or(*targets.weights());
        outln!("final allocation:")?;
        outln!("{}", allocation_header())?;
        for service in Service::ALL {
            let row = allocation_row(
                service.name(),
                &format_usdc(balances[service]),
                &pct(weights[service]),
                &pct(targets[service]),
                &pct(weights[service] - targets[service]),
            );
            outln!("{row}")?;
        }
        let total: rust_decimal::Decimal = balances.values().copied().sum();
        outln!("  {:<8} {:>12}", "total", format_usdc(total))?;
    }
    Ok(())
}

/// `, {count} {what}` when `count` is not zero, else nothing: a summary line's optional tail.
fn count_if_any(count: u64, what: &str) -> String {
    if count > 0 {
        format!(", {count} {what}")
    } else {
        String::new()
    }
}

/// The hedge lines of the summary, when any hedge was decided.
fn print_hedges(hedges: &crate::metrics::HedgeSummary) -> Result<(), crate::output::OutputClosed> {
    if hedges.opened + hedges.closed + hedges.skipped + hedges.dry_run + hedges.foreign_positions
        == 0
    {
        return Ok(());
    }
    outln!(
        "hedges        {} opened, {} closed, {} skipped{}",
        hedges.opened,
        hedges.closed,
        hedges.skipped,
        count_if_any(hedges.dry_run, "dry run")
    )?;
    outln!(
        "hedge costs   fees {}, funding {:+} USDC received, cost {}, realized PnL {:+} USDC",
        format_usdc(hedges.costs.fees_usdc),
        hedges.costs.funding_usdc,
        format_usdc(hedges.costs.cost_usdc()),
        hedges.costs.realized_pnl_usdc
    )?;
    if hedges.foreign_positions > 0 {
        outln!(
            "positions     {} venue position(s) ballast does not hold, left alone",
            hedges.foreign_positions
        )?;
    }
    Ok(())
}
