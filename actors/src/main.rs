//! The `ballast` command line.
//!
//! `ballast plan` prints the rebalance ballast would make for given balances, executing
//! nothing. With no subcommand, ballast plans the article's hot-streak example (an agent
//! designed for 20% casino that drifted to 70%) so a newcomer sees what it does at once.
//!
//! # Invariants
//! - Bad arguments exit non-zero with a message naming the argument; nothing panics.
//! - `--json` prints exactly one JSON document on stdout.

use std::{collections::BTreeMap, process::ExitCode, str::FromStr};

use anyhow::{Context, bail};
use ballast::{
    drift::{DriftBands, RebalanceTo},
    money::format_usdc,
    planner::{PlanParams, RebalancePlan, plan_rebalance},
    portfolio::PortfolioSnapshot,
    service::{Service, ServiceMap},
    targets::TargetAllocation,
};
use clap::{Parser, Subcommand, ValueEnum};
use rust_decimal::Decimal;

#[derive(Debug, Parser)]
#[command(
    name = "ballast",
    version,
    about = "Keeps an autonomous agent's capital on its target allocation"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the rebalance ballast would make now, executing nothing.
    Plan(PlanArgs),
}

#[derive(Debug, clap::Args)]
struct PlanArgs {
    /// Balances in USDC, e.g. `casino=376.47,trading=300,wallet=150,domains=150,escrow=100,reserve=100`.
    #[arg(long)]
    balances: String,
    /// Target weights, e.g. `casino=0.2,trading=0.3,...` (default: the article's conservative 20/30/15/15/10/10).
    #[arg(long)]
    targets: Option<String>,
    /// Absolute drift band in weight units (0.05 = 5 points).
    #[arg(long, default_value = "0.05")]
    band: Decimal,
    /// Optional relative band as a fraction of each target (0.25 = 25% of target).
    #[arg(long)]
    relative_band: Option<Decimal>,
    /// Where drifted services go.
    #[arg(long, value_enum, default_value_t = To::Target)]
    to: To,
    /// Legs smaller than this many USDC are dropped.
    #[arg(long, default_value = "1")]
    min_trade_usdc: Decimal,
    /// Plan even when every service is inside its band.
    #[arg(long)]
    force: bool,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum To {
    Target,
    BandEdge,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Plan(args)) => plan(&args),
        None => demo(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
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

fn parse_balances(text: &str) -> anyhow::Result<PortfolioSnapshot> {
    let mut balances = ServiceMap::<Decimal>::default();
    for (name, value) in parse_pairs("balances", text)? {
        let service = Service::from_str(&name).map_err(|e| anyhow::anyhow!("--balances: {e}"))?;
        balances[service] = value;
    }
    PortfolioSnapshot::new(balances, None).map_err(|e| anyhow::anyhow!("--balances: {e}"))
}

fn plan(args: &PlanArgs) -> anyhow::Result<()> {
    let snapshot = parse_balances(&args.balances)?;
    let targets = match &args.targets {
        Some(text) => TargetAllocation::from_named(&parse_pairs("targets", text)?)
            .map_err(|e| anyhow::anyhow!("--targets: {e}"))?,
        None => TargetAllocation::conservative(),
    };
    if args.band <= Decimal::ZERO || args.band >= Decimal::ONE {
        bail!("--band: {} must be in (0, 1)", args.band);
    }
    if let Some(relative) = args.relative_band
        && relative <= Decimal::ZERO
    {
        bail!("--relative-band: {relative} must be positive");
    }
    if args.min_trade_usdc < Decimal::ZERO {
        bail!(
            "--min-trade-usdc: {} must not be negative",
            args.min_trade_usdc
        );
    }
    let params = PlanParams {
        bands: DriftBands {
            absolute: args.band,
            relative: args.relative_band,
        },
        rebalance_to: match args.to {
            To::Target => RebalanceTo::Target,
            To::BandEdge => RebalanceTo::BandEdge,
        },
        min_trade_usdc: args.min_trade_usdc,
        force: args.force,
    };
    let plan = plan_rebalance(&snapshot, &targets, &params);
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&plan).context("encoding the plan")?
        );
    } else {
        print_plan(&plan);
    }
    Ok(())
}

fn demo() -> anyhow::Result<()> {
    println!("ballast: no subcommand given; planning the article's hot-streak example.");
    println!(
        "(`ballast --help` lists the commands; `ballast plan --balances ...` plans your own.)\n"
    );
    let snapshot =
        parse_balances("casino=700,trading=120,wallet=60,domains=60,escrow=40,reserve=20")?;
    let plan = plan_rebalance(
        &snapshot,
        &TargetAllocation::conservative(),
        &PlanParams::default(),
    );
    print_plan(&plan);
    Ok(())
}

fn pct(weight: Decimal) -> String {
    format!("{:.1}%", weight * Decimal::ONE_HUNDRED)
}

fn print_plan(plan: &RebalancePlan) {
    println!("portfolio {}", format_usdc(plan.total_usdc));
    println!(
        "{:<8} {:>8} {:>8} {:>8} {:>6}",
        "service", "weight", "target", "drift", "band"
    );
    for service in Service::ALL {
        let report = &plan.report;
        let breach = if report.drift[service].abs() > report.bands[service] {
            "  outside band"
        } else {
            ""
        };
        println!(
            "{:<8} {:>8} {:>8} {:>8} {:>6}{breach}",
            service.name(),
            pct(report.weights[service]),
            pct(report.targets[service]),
            pct(report.drift[service]),
            pct(report.bands[service]),
        );
    }
    if plan.is_empty() {
        println!("\nno rebalance needed");
        return;
    }
    println!(
        "\nplan ({} legs, {} moved; decreases first, the reserve is the hub):",
        plan.legs.len(),
        format_usdc(plan.moved_usdc())
    );
    for (index, leg) in plan.legs.iter().enumerate() {
        println!(
            "  {}. {:<8} {:<8} {:>12}",
            index + 1,
            leg.direction.name(),
            leg.service.name(),
            format_usdc(leg.amount_usdc)
        );
    }
}
