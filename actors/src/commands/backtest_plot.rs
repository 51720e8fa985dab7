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
    plot::{Axes, PANELS_SIZE as SIZE, err, percent_chart, render},
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
    let mut chart = ChartBuilder::on(&upper)
        .caption(
            format!("{policy}: allocation, target bands and {trades} trades"),
            ("sans-serif", 22),
        )
        .margin(12)
        .x_label_area_size(28)
        .y_label_area_size(56)
        .build_cartesian_2d(0.0..x_max, 0.0..w_max.min(1.0))
        .map_err(err)?;
    chart
        .configure_mesh()
        .y_desc("weight")
        .y_label_formatter(&|y| format!("{:.0}%", 100.0 * y))
        .draw()
        .map_err(err)?;
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
        chart
            .draw_series(LineSeries::new(
                days.iter()
                    .enumerate()
                    .map(|(d, day)| (d as f64, day.weights[i])),
                color.stroke_width(1),
            ))
            .map_err(err)?
            .label(service.name())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2))
            });
    }
    chart
        .draw_series(
            days.iter()
                .enumerate()
                .filter(|(_, d)| d.trade.is_some())
                .map(|(d, _)| TriangleMarker::new((d as f64, 0.004), 4, BLACK.filled())),
        )
        .map_err(err)?
        .label("trade")
        .legend(|(x, y)| TriangleMarker::new((x + 8, y), 4, BLACK.filled()));
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(err)?;
    let (v_min, v_max) = days
        .iter()
        .flat_map(|d| [d.value_usdc, d.buy_and_hold_value_usdc])
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    let (v_min, v_max) = if v_min.is_finite() {
        (v_min, v_max)
    } else {
        (0.0, 1.0)
    };
    let pad = 0.05 * (v_max - v_min).abs().max(1e-6);
    let mut value = ChartBuilder::on(&lower)
        .caption("value against buy-and-hold (USDC)", ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(56)
        .build_cartesian_2d(0.0..x_max, (v_min - pad)..(v_max + pad))
        .map_err(err)?;
    value.configure_mesh().x_desc("day").draw().map_err(err)?;
    value
        .draw_series(LineSeries::new(
            days.iter()
                .enumerate()
                .map(|(d, day)| (d as f64, day.value_usdc)),
            BLUE.stroke_width(2),
        ))
        .map_err(err)?
        .label(policy.to_owned())
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], BLUE.stroke_width(2)));
    value
        .draw_series(LineSeries::new(
            days.iter()
                .enumerate()
                .map(|(d, day)| (d as f64, day.buy_and_hold_value_usdc)),
            RED.stroke_width(1),
        ))
        .map_err(err)?
        .label("buy-and-hold")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], RED.stroke_width(2)));
    value
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(err)?;
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
