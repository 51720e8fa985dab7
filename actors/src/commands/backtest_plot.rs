//! Plots for `ballast backtest --plot`: one path (allocation over time with target bands and
//! trade markers above, value against buy-and-hold below) and a band sweep's trade-off curve
//! (tracking error against cost drag, one point per band).
//!
//! Drawn with plotters like `frontier`'s plots, with the same embedded font.
//!
//! # Invariants
//! - A file name that is not `.png` or `.svg` is refused before anything is drawn.
//! - Drawing only: every number comes from the core's results.

use std::path::Path;

use ballast::{
    backtest::{N, engine::BacktestConfig, observe::RecordedDay},
    policy::rules::VOL_INDEX_DEFAULT,
    service::Service,
};
use plotters::{coord::Shift, prelude::*};

use super::{
    backtest::CompareRow,
    plot::{
        Axes, PANELS_SIZE as SIZE, ValuePanel, draw_legend, err, labelled_line, percent_chart,
        render, trade_markers, value_panel, weights_chart,
    },
};

/// Allocation with bands and trades, and value against buy-and-hold, of one path.
///
/// # Errors
/// A bad file name or a drawing error, naming `--plot`.
pub fn path_plot(
    path: &Path,
    policy: &str,
    config: &BacktestConfig,
    measure_band: f64,
    days: &[RecordedDay],
) -> anyhow::Result<()> {
    render(
        path,
        SIZE,
        |root| draw_path(root, policy, config, measure_band, days),
        |root| draw_path(root, policy, config, measure_band, days),
    )
}

fn draw_path<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    policy: &str,
    config: &BacktestConfig,
    measure_band: f64,
    days: &[RecordedDay],
) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(err)?;
    let (upper, lower) = root.split_vertically(SIZE.1 * 3 / 5);
    let x_max = days.len().max(1) as f64;
    let w_max = days
        .iter()
        .flat_map(|d| d.weights.iter().chain(d.targets.iter()))
        .fold(0.0f64, |m, w| m.max(*w))
        + measure_band.max(0.02)
        + 0.02;
    let trades = days.iter().filter(|d| d.trade.is_some()).count();
    let caption = format!("{policy}: allocation, target bands and {trades} trades");
    let mut chart = weights_chart(&upper, &caption, x_max, w_max.min(1.0))?;
    for (i, service) in Service::ALL.iter().enumerate().take(N) {
        let color = Palette99::pick(i).to_rgba();
        let band = |t: f64| {
            config
                .rule
                .band_for(t, VOL_INDEX_DEFAULT)
                .unwrap_or(measure_band)
        };
        for sign in [-1.0, 1.0] {
            chart
                .draw_series(LineSeries::new(
                    days.iter().enumerate().map(|(d, day)| {
                        let t = day.targets[i];
                        (d as f64, (t + sign * band(t)).max(0.0))
                    }),
                    color.mix(0.25).stroke_width(1),
                ))
                .map_err(err)?;
        }
        let weights = days
            .iter()
            .enumerate()
            .map(|(d, day)| (d as f64, day.weights[i]));
        labelled_line(&mut chart, weights, color, 1, service.name())?;
    }
    let traded = days.iter().enumerate().filter(|(_, d)| d.trade.is_some());
    trade_markers(&mut chart, traded.map(|(d, _)| d as f64), "trade")?;
    draw_legend(&mut chart, SeriesLabelPosition::UpperRight)?;
    let values: Vec<_> = days
        .iter()
        .enumerate()
        .map(|(d, day)| (d as f64, day.value_usdc, day.buy_and_hold_value_usdc))
        .collect();
    let panel = ValuePanel {
        x_max,
        x_desc: "day",
        y_label_area: 56,
        label: policy,
    };
    value_panel(&lower, panel, &values)?;
    root.present().map_err(err)?;
    Ok(())
}

/// Tracking error against cost drag, one labelled point per band.
///
/// # Errors
/// A bad file name or a drawing error, naming `--plot`.
pub fn tradeoff(path: &Path, bands: &[f64], rows: &[CompareRow]) -> anyhow::Result<()> {
    render(
        path,
        SIZE,
        |root| draw_tradeoff(root, bands, rows),
        |root| draw_tradeoff(root, bands, rows),
    )
}

fn draw_tradeoff<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    bands: &[f64],
    rows: &[CompareRow],
) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(err)?;
    let points: Vec<(f64, f64, f64)> = bands
        .iter()
        .zip(rows)
        .filter_map(|(b, r)| r.tracking_error.map(|te| (r.cost_drag, te, *b)))
        .filter(|(x, y, _)| x.is_finite() && y.is_finite())
        .collect();
    let x_max = points.iter().map(|p| p.0).fold(0.0f64, f64::max) * 1.15 + 1e-6;
    let y_max = points.iter().map(|p| p.1).fold(0.0f64, f64::max) * 1.15 + 1e-6;
    let mut chart = percent_chart(
        &root,
        Axes {
            caption: ("band sweep: tracking error against cost drag", 24),
            x: (0.0..x_max, "cost drag (a year)", 2),
            y: (0.0..y_max, "tracking error (a year)", 1),
        },
    )?;
    chart
        .draw_series(LineSeries::new(
            points.iter().map(|p| (p.0, p.1)),
            BLUE.stroke_width(2),
        ))
        .map_err(err)?;
    chart
        .draw_series(points.iter().map(|(x, y, b)| {
            EmptyElement::at((*x, *y))
                + Circle::new((0, 0), 4, BLUE.filled())
                + Text::new(format!("{:.0}%", 100.0 * b), (6, -14), ("sans-serif", 14))
        }))
        .map_err(err)?;
    root.present().map_err(err)?;
    Ok(())
}
