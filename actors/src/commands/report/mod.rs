//! `ballast report`: what the store says about a period. `ballast report [FLAGS]` is the
//! performance report ([`performance`]); further reports are subcommands of the group
//! (`ballast report performance` names the default explicitly).
//!
//! # Invariants
//! - The group's default form and its `performance` subcommand take the same flags and give
//!   the same output.
//! - Reports open the store read-only: they run beside a live `ballast run`.

pub mod performance;
mod plot;

use crate::settings::Validated;

/// `ballast report` flags: a report subcommand, or the performance report's flags.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Args {
    /// A report other than the default.
    #[command(subcommand)]
    pub command: Option<ReportCommand>,
    /// The performance report's flags (the default form).
    #[command(flatten)]
    pub performance: performance::Args,
}

/// The reports of the group.
#[derive(Debug, clap::Subcommand)]
pub enum ReportCommand {
    /// The performance report (the default): returns, tracking error, turnover, costs,
    /// rebalancing alpha, rebalances by trigger, legs by outcome, alerts.
    Performance(performance::Args),
}

/// Runs the report asked for.
///
/// # Errors
/// As the report's own `run`.
pub fn run(args: &Args, validated: &Validated, json: bool) -> anyhow::Result<()> {
    match &args.command {
        Some(ReportCommand::Performance(performance)) => {
            performance::run(performance, validated, json)
        }
        None => performance::run(&args.performance, validated, json),
    }
}
