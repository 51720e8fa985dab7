//! The `ballast` command line: parses arguments, loads configuration, dispatches.
//!
//! `ballast` with no subcommand is `ballast run`: the companion against the embedded
//! simulated venue. Every subcommand takes `--config FILE` (repeatable) and `--json`.
//!
//! # Invariants
//! - Bad arguments or configuration exit non-zero with a message naming the argument or
//!   key; nothing panics, and nothing is sent to a venue.
//! - The API key is read from `PURPLE_FLEA_API_KEY` only and never printed.
//! - A reader that closes stdout early (`ballast status --json | head -1`) ends the command
//!   quietly with exit 0: every command prints through `ballast_actors::output` (`outln!`),
//!   and [`output::exit_quietly_on_broken_stdout`] is the safety net for a `println!` that
//!   slips in. `ballast run` instead ends its output and goes on trading until it is stopped.

use std::{path::PathBuf, process::ExitCode};

use anyhow::Context;
use ballast_actors::{
    commands::{backtest, config, ctl, frontier, kelly, optimize, plan, report, run, sim, status},
    output,
    settings::{Settings, Validated},
};
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "ballast",
    version,
    about = "Keeps an autonomous agent's capital on its target allocation",
    long_about = "Keeps an autonomous agent's capital on its target allocation.\n\n\
        With no subcommand, runs the companion against the embedded simulated venue.\n\
        Configuration: config/default.toml, then each --config FILE, then BALLAST__SECTION__KEY\n\
        environment variables. The venue API key comes from PURPLE_FLEA_API_KEY."
)]
struct Cli {
    /// Extra configuration file(s), applied in order over the defaults.
    #[arg(long = "config", global = true, value_name = "FILE")]
    config: Vec<PathBuf>,
    /// Machine-readable output: JSON (one document, or JSON lines for `run`).
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the companion (the default): watch the venue and keep the portfolio on target.
    Run(run::Args),
    /// Serve the simulated venue on loopback.
    Sim(sim::Args),
    /// Show what the store knows: runs, plans, legs, turnover, last balances.
    Status(StatusArgs),
    /// Steer a running companion through its HTTP API: pause, resume, halt, rebalance,
    /// recompute, or show its status.
    Ctl(ctl::Args),
    /// Print the rebalance ballast would make now, executing nothing.
    Plan(plan::Args),
    /// Target weights from daily returns by an optimizer.
    Optimize(optimize::Args),
    /// The efficient frontier of daily returns under weight bounds (table, JSON or PNG/SVG plot).
    Frontier(frontier::Args),
    /// Fractional-Kelly bet size for a binary bet.
    Kelly(kelly::Args),
    /// Replay daily returns through a trigger policy: one path, Monte Carlo, the article's
    /// trigger table (--compare) or a band sweep, with the article's metrics.
    Backtest(backtest::Args),
    /// What the store says about a period: returns, tracking error, turnover, costs,
    /// rebalancing alpha, rebalances by trigger, legs by outcome, alerts (and a plot); `report
    /// tax --year YYYY`: a tax year's disposals in the columns of IRS Form 8949.
    Report(report::Args),
    /// The configuration: its reference, or the merged configuration in force.
    #[command(subcommand)]
    Config(config::Args),
}

#[derive(Debug, clap::Args)]
struct StatusArgs {
    /// Store file (default: `store.path` from the configuration).
    #[arg(long)]
    store: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            // clap prints help/version to stdout (exit 0) and errors to stderr (exit 2).
            let _ = error.print();
            return ExitCode::from(u8::try_from(error.exit_code()).unwrap_or(2));
        }
    };
    if !matches!(cli.command, None | Some(Command::Run(_))) {
        output::exit_quietly_on_broken_stdout();
    }
    match dispatch(cli) {
        Ok(()) => ExitCode::SUCCESS,
        // The reader asked for no more output: that is no failure.
        Err(error) if output::is_reader_gone(&error) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}

fn dispatch(cli: Cli) -> anyhow::Result<()> {
    match cli.command.unwrap_or(Command::Run(run::Args::default())) {
        Command::Run(args) => {
            let mut settings = Settings::load(&cli.config)?;
            if let Some(agent_id) = &args.agent_id {
                settings.venue.agent_id.clone_from(agent_id);
            }
            if args.dry_run {
                settings.executor.dry_run = true;
            }
            if let Some(listen) = &args.http {
                settings.http.listen.clone_from(listen);
            }
            if args.allow_remote {
                settings.http.allow_remote = true;
            }
            let validated = settings.validate()?;
            init_tracing(&validated);
            run::run(&args, validated, cli.json)
        }
        Command::Sim(args) => {
            let validated = settings(&cli.config)?;
            init_tracing(&validated);
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .context("starting the async runtime")?;
            runtime.block_on(sim::run(&args, cli.json))
        }
        Command::Status(args) => {
            let validated = settings(&cli.config)?;
            let path = args.store.unwrap_or(validated.settings.store.path);
            status::run(&path, cli.json, validated.settings.optimizer.risk_free_rate)
        }
        Command::Ctl(args) => ctl::run(&args, &Settings::load(&cli.config)?, cli.json),
        Command::Optimize(args) => optimize::run(&args, &settings(&cli.config)?, cli.json),
        Command::Frontier(args) => {
            frontier::run(&args, &settings(&cli.config)?.optimizer, cli.json)
        }
        Command::Backtest(args) => backtest::run(&args, &settings(&cli.config)?, cli.json),
        Command::Kelly(args) => kelly::run(&args, cli.json),
        Command::Plan(args) => plan::run(&args, &settings(&cli.config)?, cli.json),
        Command::Report(args) => report::run(&args, &settings(&cli.config)?, cli.json),
        Command::Config(args) => config::run(&args, Settings::load(&cli.config)?, cli.json),
    }
}

/// The configuration: the defaults, then `files`, then the environment, checked.
fn settings(files: &[PathBuf]) -> anyhow::Result<Validated> {
    Ok(Settings::load(files)?.validate()?)
}

fn init_tracing(validated: &Validated) {
    use tracing_subscriber::{Layer, layer::SubscriberExt, util::SubscriberInitExt};
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(&validated.settings.output.log))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    // Colour codes only for a terminal: redirected to a file or journald they are noise.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .with_filter(filter)
        // Whatever the filter asks for: these events print whole HTTP requests, headers and
        // the `Authorization: Bearer` key included.
        .with_filter(tracing_subscriber::filter::filter_fn(|meta| {
            !(meta.level() == &tracing::Level::TRACE
                && HEADER_DUMPING_TARGETS
                    .iter()
                    .any(|target| meta.target().starts_with(target)))
        }));
    let _ = tracing_subscriber::registry().with(layer).try_init();
}

/// Log targets whose TRACE events dump raw requests with their headers (found by
/// `tests/cli_secrets.rs`: tungstenite logs the websocket handshake verbatim).
const HEADER_DUMPING_TARGETS: [&str; 1] = ["tungstenite::handshake"];
