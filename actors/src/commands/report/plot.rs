//! `ballast report --plot`: weights over time with each service's target and band above, value
//! against buy-and-hold below; drawn like the backtest's path plot, through the shared
//! [`crate::commands::plot`] (embedded font, backend by file name).
//!
//! # Invariants
//! - A file name that is not `.png` or `.svg` is refused before anything is drawn.
//! - Drawing only: every number comes from the core's [`PeriodReport`].

use std::path::Path;

use anyhow::bail;
use ballast::{report::PeriodReport, service::Service};
use plotters::{coord::Shift, prelude::*};

use crate::commands::plot::{
    PANELS_SIZE as SIZE, ValuePanel, draw_legend, err, labelled_line, render, trade_markers,
    value_panel, weights_chart,
};

/// Draws `report` to `path`.
///
/// # Errors
/// An empty period, a bad file name or a drawing error, naming `--plot`.
pub fn draw(path: &Path, report: &PeriodReport) -> anyhow::Result<()> {
    if report.series.len() < 2 {
        bail!(
            "--plot {}: the period holds {} snapshot(s); a plot needs two",
            path.display(),
            report.series.len()
        );
    }
    render(
        path,
        SIZE,
        |root| draw_report(root, report),
        |root| draw_report(root, report),
    )
}

fn draw_report<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    report: &PeriodReport,
) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(err)?;
    let (upper, lower) = root.split_vertically(SIZE.1 * 3 / 5);
    let series = &report.series;
    let start = series.first().map(|p| p.at);
    // Days since the period's start: the x axis of both panels.
    let x: Vec<f64> = series
        .iter()
        .map(|p| start.map_or(0.0, |s| (p.at - s).as_seconds_f64() / 86_400.0))
        .collect();
    let x_max = x.last().copied().unwrap_or(1.0).max(1e-6);
    let w_max = series
        .iter()
        .flat_map(|p| {
            Service::ALL
                .iter()
                .map(move |s| p.weights[*s].max(p.targets[*s] + p.bands[*s]))
        })
        .fold(0.0f64, f64::max)
        .min(1.0)
        + 0.02;
    let rebalances = series.iter().filter(|p| p.rebalanced).count();
    let caption = format!("weights, targets and bands ({rebalances} intervals with rebalances)");
    let mut chart = weights_chart(&upper, &caption, x_max, w_max)?;
    for (i, service) in Service::ALL.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        for sign in [-1.0, 1.0] {
            chart
                .draw_series(LineSeries::new(
                    series.iter().zip(&x).map(|(p, d)| {
                        (
                            *d,
                            (p.targets[*service] + sign * p.bands[*service]).max(0.0),
                        )
                    }),
                    color.mix(0.4).stroke_width(1),
                ))
                .map_err(err)?;
        }
        chart
            .draw_series(DashedLineSeries::new(
                series
                    .iter()
                    .zip(&x)
                    .map(|(p, d)| (*d, p.targets[*service])),
                4,
                3,
                color.mix(0.9).stroke_width(1),
            ))
            .map_err(err)?;
        let weights = series
            .iter()
            .zip(&x)
            .map(|(p, d)| (*d, p.weights[*service]));
        labelled_line(&mut chart, weights, color, 2, service.name())?;
    }
    let rebalanced = series.iter().zip(&x).filter(|(p, _)| p.rebalanced);
    trade_markers(&mut chart, rebalanced.map(|(_, d)| *d), "rebalanced")?;
    draw_legend(&mut chart, SeriesLabelPosition::UpperRight)?;
    let values: Vec<_> = series
        .iter()
        .zip(&x)
        .map(|(p, d)| (*d, p.value_usdc, p.buy_and_hold_usdc))
        .collect();
    let panel = ValuePanel {
        x_max,
        x_desc: "days since the period's start",
        y_label_area: 72,
        label: "ballast",
    };
    value_panel(&lower, panel, &values)?;
    root.present().map_err(err)?;
    Ok(())
}
