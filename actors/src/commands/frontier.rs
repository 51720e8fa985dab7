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
    sync::Once,
};

use anyhow::{anyhow, bail};
use ballast::{
    math::{
        WeightBounds,
        frontier::efficient_frontier,
        markowitz::{max_sharpe, min_variance},
        returns::CovarianceMethod,
    },
    optimizer::OptimizerConfig,
};
use plotters::{coord::Shift, prelude::*};
use serde::Serialize;

use super::{
    flags::config_names,
    math_common::{by_name, load_model, parse_bounds},
};
use crate::format::pct_f64;

/// `ballast frontier` flags. Those without a value take the configuration's.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Daily returns CSV: a header of asset names (an optional first date column), one row a day.
    #[arg(long)]
    pub returns: PathBuf,
    /// Number of frontier points.
    #[arg(long, default_value_t = 50)]
    pub points: usize,
    /// Weight bounds `LO,HI` for every asset (default long-only, uncapped).
    #[arg(long)]
    pub bounds: Option<String>,
    /// Covariance estimator (default: `optimizer.covariance`).
    #[arg(long, value_parser = config_names(|_: &CovarianceMethod| true))]
    pub covariance: Option<CovarianceMethod>,
    /// Annual risk-free rate for the maximum-Sharpe point (default: `optimizer.risk_free_rate`).
    #[arg(long)]
    pub rf: Option<f64>,
    /// Write a plot to this file (`.png` or `.svg`).
    #[arg(long)]
    pub plot: Option<PathBuf>,
    /// Print one JSON document; set from the global `--json` flag.
    #[arg(skip)]
    pub json: bool,
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
    if args.points == 0 {
        bail!("--points: the frontier needs at least one point");
    }
    let covariance = args.covariance.unwrap_or(configured.covariance);
    let rf = args.rf.unwrap_or(configured.risk_free_rate);
    let loaded = load_model(&args.returns, covariance)?;
    let model = &loaded.model;
    let names = model.names().to_vec();
    let n = names.len();
    let bounds = match &args.bounds {
        Some(text) => parse_bounds(text, n)?,
        None => WeightBounds::long_only(n),
    };
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

static FONT: Once = Once::new();

fn register_font() {
    FONT.call_once(|| {
        // A failure here only loses text in bitmap plots; SVG text needs no font file.
        let _ = plotters::style::register_font(
            "sans-serif",
            FontStyle::Normal,
            include_bytes!("fonts/DejaVuSans.ttf"),
        );
    });
}

fn plot(path: &Path, out: &Output) -> anyhow::Result<()> {
    register_font();
    let size = (960, 640);
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("svg") => draw(SVGBackend::new(path, size).into_drawing_area(), out),
        Some("png") => draw(BitMapBackend::new(path, size).into_drawing_area(), out),
        _ => bail!("--plot {}: use a .png or .svg file name", path.display()),
    }
    .map_err(|e| anyhow!("--plot {}: {e}", path.display()))
}

fn draw<DB: DrawingBackend>(root: DrawingArea<DB, Shift>, out: &Output) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("{e}");
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
    let mut chart = ChartBuilder::on(&root)
        .caption("Efficient frontier", ("sans-serif", 28))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(64)
        .build_cartesian_2d(0.0..x_max * 1.08 + 1e-9, (y_min - pad)..(y_max + pad))
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("volatility (annual)")
        .y_desc("expected return (annual)")
        .x_label_formatter(&|x| format!("{:.0}%", 100.0 * x))
        .y_label_formatter(&|y| format!("{:.0}%", 100.0 * y))
        .draw()
        .map_err(err)?;
    chart
        .draw_series(LineSeries::new(
            out.points.iter().map(|p| (p.volatility, p.expected_return)),
            BLUE.stroke_width(2),
        ))
        .map_err(err)?
        .label("frontier")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], BLUE.stroke_width(2)));
    chart
        .draw_series(out.assets.iter().map(|a| {
            EmptyElement::at((a.volatility, a.expected_return))
                + Circle::new((0, 0), 4, BLACK.filled())
                + Text::new(a.name.clone(), (6, -6), ("sans-serif", 14))
        }))
        .map_err(err)?;
    let mv = &out.min_variance;
    chart
        .draw_series(std::iter::once(Circle::new(
            (mv.volatility, mv.expected_return),
            7,
            GREEN.filled(),
        )))
        .map_err(err)?
        .label("min variance")
        .legend(|(x, y)| Circle::new((x + 8, y), 5, GREEN.filled()));
    if let Some(ms) = &out.max_sharpe {
        chart
            .draw_series(std::iter::once(Circle::new(
                (ms.volatility, ms.expected_return),
                7,
                RED.filled(),
            )))
            .map_err(err)?
            .label("max Sharpe")
            .legend(|(x, y)| Circle::new((x + 8, y), 5, RED.filled()));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(err)?;
    root.present().map_err(err)?;
    Ok(())
}

/// Prints the frontier (a table, or one JSON document with `--json`).
///
/// # Errors
/// As [`execute`].
pub fn run(args: &Args, configured: &OptimizerConfig) -> anyhow::Result<()> {
    let out = execute(args, configured)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    // With a plot the picture is the table: a summary line instead of every point.
    match (&out.plot, out.points.first(), out.points.last()) {
        (Some(_), Some(first), Some(last)) => println!(
            "{} frontier points, return {} to {}, volatility {} to {} (the table: without --plot)",
            out.points.len(),
            pct_f64(first.expected_return).trim(),
            pct_f64(last.expected_return).trim(),
            pct_f64(first.volatility).trim(),
            pct_f64(last.volatility).trim()
        ),
        _ => {
            println!("{:>10} {:>10}", "return", "volatility");
            for p in &out.points {
                println!("{} {}", pct_f64(p.expected_return), pct_f64(p.volatility));
            }
        }
    }
    println!(
        "min variance: return {} volatility {}",
        pct_f64(out.min_variance.expected_return).trim(),
        pct_f64(out.min_variance.volatility).trim()
    );
    if let Some(ms) = &out.max_sharpe {
        println!(
            "max Sharpe:   return {} volatility {}",
            pct_f64(ms.expected_return).trim(),
            pct_f64(ms.volatility).trim()
        );
    }
    if let Some(p) = &out.plot {
        println!("plot written to {p}");
    }
    Ok(())
}
