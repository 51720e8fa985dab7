//! `ballast frontier`: the efficient frontier of a daily-returns CSV under weight bounds, as a
//! table, JSON, or a PNG/SVG plot with the minimum-variance and maximum-Sharpe portfolios and
//! the individual assets.
//!
//! Plots are drawn with plotters in pure Rust; text uses an embedded DejaVu Sans (Bitstream
//! Vera licence, `fonts/DejaVuSans.LICENSE`) so no system font library is needed.
//!
//! # Invariants
//! - Exactly `--points` points spanning the achievable return range, every one feasible.
//! - `--json` prints exactly one JSON document.
//! - The estimator and risk-free rate a flag leaves open come from `[optimizer]` (the
//!   configuration's `covariance` and `risk_free_rate`), never from a value written here.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use anyhow::bail;
use ballast::{
    math::{
        WeightBounds,
        frontier::{MAX_FRONTIER_POINTS, efficient_frontier},
        markowitz::{max_sharpe, min_variance},
    },
    optimizer::OptimizerConfig,
};
use plotters::{coord::Shift, prelude::*};
use serde::Serialize;

use super::{
    math_common::{ModelArgs, by_name},
    plot::{Axes, draw_legend, err, labelled_line, percent_chart, render},
};
use crate::format::pct_f64;

/// `ballast frontier` flags. Those without a value take the configuration's.
#[derive(clap::Args, Debug)]
// The frontier has no venue source: the shared model flags' `--returns` is required here.
#[command(mut_arg("returns", |arg| arg.required(true)))]
pub struct Args {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Number of frontier points (1 to 10,000).
    #[arg(long, default_value_t = 50)]
    pub points: usize,
    /// Annual risk-free rate for the maximum-Sharpe point (default: `optimizer.risk_free_rate`).
    #[arg(long)]
    pub rf: Option<f64>,
    /// Write a plot to this file (`.png` or `.svg`).
    #[arg(long)]
    pub plot: Option<PathBuf>,
}

/// One portfolio in the output.
#[derive(Debug, Clone, Serialize)]
pub struct PointOut {
    /// Annualized expected return.
    pub expected_return: f64,
    /// Annualized volatility.
    pub volatility: f64,
    /// Weights by asset.
    pub weights: BTreeMap<String, f64>,
}

/// One asset on its own.
#[derive(Debug, Clone, Serialize)]
pub struct AssetOut {
    /// Asset name.
    pub name: String,
    /// Annualized expected return.
    pub expected_return: f64,
    /// Annualized volatility.
    pub volatility: f64,
}

/// What `frontier` prints.
#[derive(Debug, Clone, Serialize)]
pub struct Output {
    /// Frontier points in increasing expected return.
    pub points: Vec<PointOut>,
    /// The minimum-variance portfolio (the first point).
    pub min_variance: PointOut,
    /// The maximum-Sharpe portfolio, when some portfolio beats `rf`.
    pub max_sharpe: Option<PointOut>,
    /// The individual assets.
    pub assets: Vec<AssetOut>,
    /// The plot written, if any.
    pub plot: Option<String>,
}

/// Computes the frontier (and writes the plot if asked); the estimator and the risk-free rate
/// default to `configured`'s.
///
/// # Errors
/// Bad input naming its flag; optimizer and plotting errors.
pub fn execute(args: &Args, configured: &OptimizerConfig) -> anyhow::Result<Output> {
    // Checked before the returns are read: each point holds a weight per asset.
    if !(1..=MAX_FRONTIER_POINTS).contains(&args.points) {
        bail!(
            "--points {}: the frontier takes 1 to {MAX_FRONTIER_POINTS} points",
            args.points
        );
    }
    let rf = args.rf.unwrap_or(configured.risk_free_rate);
    let (_, loaded) = args.model.load(configured.covariance)?;
    let model = &loaded.model;
    let names = model.names().to_vec();
    let n = names.len();
    let bounds = args
        .model
        .bounds(n)?
        .unwrap_or_else(|| WeightBounds::long_only(n));
    let f = efficient_frontier(model, &bounds, args.points)?;
    let points: Vec<PointOut> = f
        .points
        .iter()
        .map(|p| PointOut {
            expected_return: p.expected_return,
            volatility: p.volatility,
            weights: by_name(&names, &p.weights),
        })
        .collect();
    let point_of = |w: &[f64]| {
        let s = model.stats(w, rf);
        PointOut {
            expected_return: s.expected_return,
            volatility: s.volatility,
            weights: by_name(&names, w),
        }
    };
    let mv = min_variance(model, &bounds)?;
    let ms = max_sharpe(model, &bounds, rf).ok();
    let assets: Vec<AssetOut> = (0..n)
        .map(|i| AssetOut {
            name: names[i].clone(),
            expected_return: model.mean()[i],
            volatility: model.cov()[(i, i)].max(0.0).sqrt(),
        })
        .collect();
    let mut out = Output {
        points,
        min_variance: point_of(&mv.weights),
        max_sharpe: ms.map(|a| point_of(&a.weights)),
        assets,
        plot: None,
    };
    if let Some(path) = &args.plot {
        plot(path, &out)?;
        out.plot = Some(path.display().to_string());
    }
    Ok(out)
}

fn plot(path: &Path, out: &Output) -> anyhow::Result<()> {
    render(
        path,
        (960, 640),
        |root| draw(root, out),
        |root| draw(root, out),
    )
}

fn draw<DB: DrawingBackend>(root: DrawingArea<DB, Shift>, out: &Output) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(err)?;
    let xs = out
        .points
        .iter()
        .map(|p| p.volatility)
        .chain(out.assets.iter().map(|a| a.volatility));
    let ys = out
        .points
        .iter()
        .map(|p| p.expected_return)
        .chain(out.assets.iter().map(|a| a.expected_return));
    let (x_max, y_min, y_max) = xs.zip(ys).fold(
        (0.0f64, f64::INFINITY, f64::NEG_INFINITY),
        |(xm, ylo, yhi), (x, y)| (xm.max(x), ylo.min(y), yhi.max(y)),
    );
    let pad = 0.05 * (y_max - y_min).abs().max(1e-6);
    let mut chart = percent_chart(
        &root,
        Axes {
            caption: ("Efficient frontier", 28),
            x: (0.0..x_max * 1.08 + 1e-9, "volatility (annual)", 0),
            y: ((y_min - pad)..(y_max + pad), "expected return (annual)", 0),
        },
    )?;
    let frontier = out.points.iter().map(|p| (p.volatility, p.expected_return));
    labelled_line(&mut chart, frontier, BLUE.to_rgba(), 2, "frontier")?;
    chart
        .draw_series(out.assets.iter().map(|a| {
            EmptyElement::at((a.volatility, a.expected_return))
                + Circle::new((0, 0), 4, BLACK.filled())
                + Text::new(a.name.clone(), (6, -6), ("sans-serif", 14))
        }))
        .map_err(err)?;
    // The marked portfolios: a large dot each, with a legend entry.
    let marked = [
        (Some(&out.min_variance), "min variance", GREEN),
        (out.max_sharpe.as_ref(), "max Sharpe", RED),
    ];
    for (point, label, color) in marked {
        let Some(p) = point else { continue };
        chart
            .draw_series(std::iter::once(Circle::new(
                (p.volatility, p.expected_return),
                7,
                color.filled(),
            )))
            .map_err(err)?
            .label(label)
            .legend(move |(x, y)| Circle::new((x + 8, y), 5, color.filled()));
    }
    draw_legend(&mut chart, SeriesLabelPosition::MiddleRight)?;
    root.present().map_err(err)?;
    Ok(())
}

/// Prints the frontier (a table, or one JSON document with `--json`).
///
/// # Errors
/// As [`execute`].
pub fn run(args: &Args, configured: &OptimizerConfig, json: bool) -> anyhow::Result<()> {
    let out = execute(args, configured)?;
    if json {
        crate::outln!("{}", serde_json::to_string_pretty(&out)?)?;
        return Ok(());
    }
    // With a plot the picture is the table: a summary line instead of every point.
    match (&out.plot, out.points.first(), out.points.last()) {
        (Some(_), Some(first), Some(last)) => crate::outln!(
            "{} frontier points, return {} to {}, volatility {} to {} (the table: without --plot)",
            out.points.len(),
            pct_f64(first.expected_return).trim(),
            pct_f64(last.expected_return).trim(),
            pct_f64(first.volatility).trim(),
            pct_f64(last.volatility).trim()
        )?,
        _ => {
            crate::outln!("{:>10} {:>10}", "return", "volatility")?;
            for p in &out.points {
                crate::outln!("{} {}", pct_f64(p.expected_return), pct_f64(p.volatility))?;
            }
        }
    }
    crate::outln!(
        "min variance: return {} volatility {}",
        pct_f64(out.min_variance.expected_return).trim(),
        pct_f64(out.min_variance.volatility).trim()
    )?;
    if let Some(ms) = &out.max_sharpe {
        crate::outln!(
            "max Sharpe:   return {} volatility {}",
            pct_f64(ms.expected_return).trim(),
            pct_f64(ms.volatility).trim()
        )?;
    }
    if let Some(p) = &out.plot {
        crate::outln!("plot written to {p}")?;
    }
    Ok(())
}
