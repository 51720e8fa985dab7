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

use crate::commands::plot::{PANELS_SIZE as SIZE, err, render};

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
    let mut chart = ChartBuilder::on(&upper)
        .caption(
            format!("weights, targets and bands ({rebalances} intervals with rebalances)"),
            ("sans-serif", 22),
        )
        .margin(12)
        .x_label_area_size(28)
        .y_label_area_size(56)
        .build_cartesian_2d(0.0..x_max, 0.0..w_max)
        .map_err(err)?;
    chart
        .configure_mesh()
        .y_desc("weight")
        .y_label_formatter(&|y| format!("{:.0}%", 100.0 * y))
        .draw()
        .map_err(err)?;
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
        chart
            .draw_series(LineSeries::new(
                series
                    .iter()
                    .zip(&x)
                    .map(|(p, d)| (*d, p.weights[*service])),
                color.stroke_width(2),
            ))
            .map_err(err)?
            .label(service.name())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2))
            });
    }
    chart
        .draw_series(
            series
                .iter()
                .zip(&x)
                .filter(|(p, _)| p.rebalanced)
                .map(|(_, d)| TriangleMarker::new((*d, 0.004), 4, BLACK.filled())),
        )
        .map_err(err)?
        .label("rebalanced")
        .legend(|(x, y)| TriangleMarker::new((x + 8, y), 4, BLACK.filled()));
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(err)?;
    let (v_min, v_max) = series
        .iter()
        .flat_map(|p| [p.value_usdc, p.buy_and_hold_usdc])
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    let pad = 0.05 * (v_max - v_min).abs().max(1e-6);
    let mut value = ChartBuilder::on(&lower)
        .caption("value against buy-and-hold (USDC)", ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(72)
        .build_cartesian_2d(0.0..x_max, (v_min - pad)..(v_max + pad))
        .map_err(err)?;
    value
        .configure_mesh()
        .x_desc("days since the period's start")
        .draw()
        .map_err(err)?;
    value
        .draw_series(LineSeries::new(
            series.iter().zip(&x).map(|(p, d)| (*d, p.value_usdc)),
            BLUE.stroke_width(2),
        ))
        .map_err(err)?
        .label("ballast")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], BLUE.stroke_width(2)));
    value
        .draw_series(LineSeries::new(
            series
                .iter()
                .zip(&x)
                .map(|(p, d)| (*d, p.buy_and_hold_usdc)),
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
