//! `ballast report`: reports read from the store. Each report is a subcommand of its own
//! (`ballast report tax`), so others can sit beside it.

pub mod tax;

use crate::settings::Validated;

/// `ballast report` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Which report.
    #[command(subcommand)]
    pub command: ReportCommand,
}

/// The reports.
#[derive(Debug, clap::Subcommand)]
pub enum ReportCommand {
    /// Realized gains and losses of a tax year in the columns of IRS Form 8949, with
    /// wash-sale adjustments (code W) and totals by term.
    Tax(tax::Args),
}

/// Runs the chosen report.
///
/// # Errors
/// When the store cannot be read (the message names `store.path` or `--store`).
pub fn run(args: &Args, validated: &Validated, json: bool) -> anyhow::Result<()> {
    match &args.command {
        ReportCommand::Tax(tax) => tax::run(tax, validated, json),
    }
}
