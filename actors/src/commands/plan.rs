//! `ballast plan`: the rebalance ballast would make now, executing nothing.
//!
//! With `--balances` it plans offline for the given balances; with `--venue URL`, or a
//! configured remote venue (`venue.mode = "remote"`), it asks the venue for the current
//! portfolio and plans against it with the configured policy. With neither, there is no
//! portfolio to plan for (a freshly started simulated venue is always on target), so it plans
//! the article's hot-streak example (casino at 70%) and says so on stderr.
//!
//! # Invariants
//! - Nothing is ever sent to the venue except the portfolio read.
//! - Flags are checked by the core checks the configuration goes through
//!   ([`DriftBands::new`], [`PolicyConfig::validate`]); a problem names the flag.
//! - `--json` prints exactly one JSON document.
//! - A plan that is not what `--to` asked for says why, in text and in its JSON `notes`: a
//!   band-edge plan that had to go to target (the reserve would have left its band), or a
//!   rebalance whose every leg is below the minimum trade.

use std::{collections::BTreeMap, fmt::Display, str::FromStr};

use anyhow::{Context, anyhow, bail};
use ballast::{
    drift::{DriftBands, RebalanceTo},
    money::format_usdc,
    planner::{PlanParams, RebalancePlan, plan_rebalance},
    policy::PolicyConfig,
    portfolio::PortfolioSnapshot,
    service::{Service, ServiceMap},
    targets::TargetAllocation,
};
use rust_decimal::Decimal;

use super::{flags::config_names, venue};
use crate::{
    format::pct,
    settings::{Validated, VenueMode},
};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Balances in USDC (offline mode), e.g. `casino=376.47,trading=300,wallet=150,domains=150,escrow=100,reserve=100`.
    #[arg(long)]
    pub balances: Option<String>,
    /// Target weights, e.g. `casino=0.2,trading=0.3,...` (default: `[targets]` from the configuration).
    #[arg(long)]
    pub targets: Option<String>,
    /// Absolute drift band in weight units, 0.05 = 5 points (default: `policy.band`).
    #[arg(long)]
    pub band: Option<Decimal>,
    /// Relative band as a fraction of each target, 0.25 = 25%, 0 for none (default:
    /// `policy.relative_band`).
    #[arg(long)]
    pub relative_band: Option<Decimal>,
    /// Where drifted services go: all the way back to target, or only to the edge of the band
    /// (default: `policy.rebalance_to`).
    #[arg(long, value_parser = config_names(|_: &RebalanceTo| true))]
    pub to: Option<RebalanceTo>,
    /// Legs smaller than this many USDC are dropped (default: `policy.min_trade_usdc`).
    #[arg(long)]
    pub min_trade_usdc: Option<Decimal>,
    /// Plan even when every service is inside its band.
    #[arg(long)]
    pub force: bool,
    /// Venue to read the portfolio from (default: the configured venue).
    #[arg(long)]
    pub venue: Option<String>,
}

/// Parses `name=value,name=value` into a map, naming the argument on error.
fn parse_pairs(arg: &str, text: &str) -> anyhow::Result<BTreeMap<String, Decimal>> {
    let mut out = BTreeMap::new();
    for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (name, value) = pair
            .split_once('=')
            .with_context(|| format!("--{arg}: `{pair}` is not name=value"))?;
        let value = Decimal::from_str(value.trim())
            .with_context(|| format!("--{arg}: `{}` is not a decimal number", value.trim()))?;
        if out.insert(name.trim().to_owned(), value).is_some() {
            bail!("--{arg}: `{}` given twice", name.trim());
        }
    }
    Ok(out)
}

/// Parses `--balances`.
///
/// # Errors
/// A message naming the argument and the bad entry.
pub fn parse_balances(text: &str) -> anyhow::Result<PortfolioSnapshot> {
    let mut balances = ServiceMap::<Decimal>::default();
    for (name, value) in parse_pairs("balances", text)? {
        let service = Service::from_str(&name).map_err(|e| anyhow::anyhow!("--balances: {e}"))?;
        balances[service] = value;
    }
    PortfolioSnapshot::new(balances, None).map_err(|e| anyhow::anyhow!("--balances: {e}"))
}

/// Plans for `snapshot` with the configured policy, overridden by the arguments.
///
/// # Errors
/// A message naming the argument at fault.
pub fn plan_for(
    args: &Args,
    snapshot: &PortfolioSnapshot,
    configured_targets: &TargetAllocation,
    configured: &PolicyConfig,
) -> anyhow::Result<RebalancePlan> {
    let targets = match &args.targets {
        Some(text) => TargetAllocation::from_named(&parse_pairs("targets", text)?)
            .map_err(|e| anyhow::anyhow!("--targets: {e}"))?,
        None => configured_targets.clone(),
    };
    // The flags override the configured policy, which the core checks as it checks the
    // configuration; a problem names the flag that set the value.
    let bands = DriftBands::new(
        args.band.unwrap_or(configured.bands.absolute),
        args.relative_band
            .or(configured.bands.relative)
            .unwrap_or(Decimal::ZERO),
    )
    .map_err(flag_problem)?;
    let policy = PolicyConfig {
        bands,
        rebalance_to: args.to.unwrap_or(configured.rebalance_to),
        min_trade_usdc: args.min_trade_usdc.unwrap_or(configured.min_trade_usdc),
        ..configured.clone()
    };
    policy.validate().map_err(flag_problem)?;
    let params = PlanParams {
        bands: policy.bands,
        rebalance_to: policy.rebalance_to,
        min_trade_usdc: policy.min_trade_usdc,
        force: args.force,
    };
    Ok(plan_rebalance(snapshot, &targets, &params))
}

/// The first problem of a core check, its key (`min_trade_usdc: ...`) written as the flag that
/// set the value (`--min-trade-usdc: ...`).
fn flag_problem<E: Display>(problems: Vec<E>) -> anyhow::Error {
    let text = problems
        .first()
        .map(ToString::to_string)
        .unwrap_or_default();
    match text.split_once(": ") {
        Some((key, message)) => anyhow!("--{}: {message}", key.replace('_', "-")),
        None => anyhow!(text),
    }
}

/// What `ballast plan` says when it plans the example (stderr, so `--json` stays one document).
pub const EXAMPLE_NOTE: &str = "no --balances or --venue: planning the article's hot-streak \
example (an agent designed for 20% casino that drifted to 70%). Give --venue URL to plan for \
a running venue, or --balances casino=...,reserve=... for your own figures.";

/// Plans against `--balances`, the venue (`--venue`, or a configured remote one), or the
/// example, and prints the plan.
///
/// # Errors
/// Bad flags (naming them), an unreachable venue, or invalid balances.
pub fn run(args: &Args, validated: &Validated, json: bool) -> anyhow::Result<()> {
    let remote = args.venue.is_some() || validated.settings.venue.mode == VenueMode::Remote;
    let snapshot = match &args.balances {
        Some(text) => parse_balances(text)?,
        None if !remote => {
            eprintln!("{EXAMPLE_NOTE}");
            hot_streak_example()?
        }
        None => {
            if let Some(url) = &args.venue {
                ballast::venue::client::api_base_url(url)
                    .map_err(|error| anyhow::anyhow!("--venue: {error}"))?;
            }
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("starting the async runtime")?;
            runtime.block_on(async {
                let api_key = ballast::secret::ApiKey::from_env();
                let venue = venue::open(validated, args.venue.as_deref(), api_key.as_ref()).await?;
                let client = ballast::venue::client::VenueClient::new(
                    &venue.url,
                    &validated.settings.venue.agent_id,
                    api_key,
                    validated.request_timeout,
                )?;
                let portfolio = client.portfolio().await;
                if let Some(sim) = venue.sim {
                    sim.shutdown().await;
                }
                Ok::<_, anyhow::Error>(portfolio?.to_snapshot()?)
            })?
        }
    };
    let plan = plan_for(args, &snapshot, &validated.targets, &validated.policy)?;
    print(&plan, json)
}

/// Prints a plan as a table or JSON.
///
/// # Errors
/// If JSON encoding fails.
pub fn print(plan: &RebalancePlan, json: bool) -> anyhow::Result<()> {
    if json {
        crate::outln!(
            "{}",
            serde_json::to_string_pretty(plan).context("encoding the plan")?
        )?;
    } else {
        print_plan(plan)?;
    }
    Ok(())
}

/// The article's hot-streak example: an agent designed for 20% casino that drifted to 70%.
///
/// # Errors
/// Never in practice; the example balances are valid.
pub fn hot_streak_example() -> anyhow::Result<PortfolioSnapshot> {
    parse_balances("casino=700,trading=120,wallet=60,domains=60,escrow=40,reserve=20")
}

/// Prints the drift table and the legs.
///
/// # Errors
/// [`OutputClosed`](crate::output::OutputClosed) when stdout closed.
pub fn print_plan(plan: &RebalancePlan) -> Result<(), crate::output::OutputClosed> {
    crate::outln!("portfolio {}", format_usdc(plan.total_usdc))?;
    crate::outln!(
        "{:<8} {:>8} {:>8} {:>8} {:>6}",
        "service",
        "weight",
        "target",
        "drift",
        "band"
    )?;
    for service in Service::ALL {
        let report = &plan.report;
        let breach = if report.breached(service) {
            "  outside band"
        } else {
            ""
        };
        crate::outln!(
            "{:<8} {:>8} {:>8} {:>8} {:>6}{breach}",
            service.name(),
            pct(report.weights[service]),
            pct(report.targets[service]),
            pct(report.drift[service]),
            pct(report.bands[service]),
        )?;
    }
    if plan.is_empty() {
        if plan.notes.is_empty() {
            crate::outln!("\nno rebalance needed")?;
        }
        for note in &plan.notes {
            crate::outln!("\n{note}")?;
        }
        return Ok(());
    }
    for note in &plan.notes {
        crate::outln!("\nnote: {note}")?;
    }
    crate::outln!(
        "\nplan ({} legs, {} moved; decreases first, the reserve is the hub):",
        plan.legs.len(),
        format_usdc(plan.moved_usdc())
    )?;
    for (index, leg) in plan.legs.iter().enumerate() {
        crate::outln!(
            "  {}. {:<8} {:<8} {:>12}",
            index + 1,
            leg.direction.name(),
            leg.service.name(),
            format_usdc(leg.amount_usdc)
        )?;
    }
    Ok(())
}
