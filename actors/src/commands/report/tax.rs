//! `ballast report tax --year YYYY --format csv|json`: the disposals of a tax year in the
//! columns of IRS Form 8949, from the store's lot book.
//!
//! CSV: the header `description,date_acquired,date_sold,proceeds,cost_basis,
//! adjustment_code,adjustment_amount,gain_or_loss,term`, one row per disposal, then a
//! `Total short-term` and a `Total long-term` line. JSON:
//! `{"disposals":[{...the same columns...}],"totals":{"short":{...},"long":{...}}}`.
//!
//! # Invariants
//! - Opens the store read-only; never migrates or writes it, so it runs beside a live
//!   `ballast run`.

use std::path::{Path, PathBuf};

use anyhow::Context;
use ballast::{store::read_tax_disposals, tax::TaxReport};

use crate::settings::Validated;

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Comma-separated, with totals by term at the end.
    Csv,
    /// One JSON document.
    Json,
}

/// `ballast report tax` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The tax year (UTC dates of sale).
    #[arg(long, value_parser = clap::value_parser!(i32).range(1970..=9999))]
    pub year: i32,
    /// `csv` (default) or `json` (also chosen by `--json`).
    #[arg(long, value_enum, default_value = "csv")]
    pub format: Format,
    /// Store file (default: `store.path` from the configuration).
    #[arg(long)]
    pub store: Option<PathBuf>,
}

/// Prints the report.
///
/// # Errors
/// When the store is missing or unreadable.
pub fn run(args: &Args, validated: &Validated, json: bool) -> anyhow::Result<()> {
    let path = args
        .store
        .clone()
        .unwrap_or_else(|| validated.settings.store.path.clone());
    let format = if json { Format::Json } else { args.format };
    crate::output::text(&render(&path, args.year, format)?)?;
    Ok(())
}

/// The report of `year` from the store at `path`, as text in `format`.
///
/// # Errors
/// When the store is missing or unreadable (naming the path).
pub fn render(path: &Path, year: i32, format: Format) -> anyhow::Result<String> {
    if !path.is_file() {
        anyhow::bail!(
            "store.path: no store at {} (has `ballast run` been started here?)",
            path.display()
        );
    }
    let disposals = read_tax_disposals(path)
        .with_context(|| format!("store.path: reading {}", path.display()))?;
    let report = TaxReport::for_year(&disposals, year);
    Ok(match format {
        Format::Csv => report.to_csv(),
        Format::Json => format!("{}\n", serde_json::to_string_pretty(&report)?),
    })
}
