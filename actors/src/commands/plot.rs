//! What every `--plot` shares: the embedded font, the choice of backend by file name, and
//! a titled chart with labelled percentage axes.
//!
//! # Invariants
//! - A file name that is not `.png` or `.svg` is refused, naming `--plot`, before anything
//!   is drawn.
//! - Text in bitmap plots uses the embedded DejaVu Sans, so no system font is needed.

use std::{ops::Range, path::Path, sync::Once};

use anyhow::{anyhow, bail};
use plotters::{
    coord::{Shift, types::RangedCoordf64},
    prelude::*,
};

/// Size in pixels of a two-panel plot over time (`backtest --plot`'s path, `report --plot`).
pub const PANELS_SIZE: (u32, u32) = (1100, 760);

/// A chart over two `f64` axes.
pub type Chart<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

fn register_font() {
    static FONT: Once = Once::new();
    FONT.call_once(|| {
        // A failure here only loses text in bitmap plots; SVG text needs no font file.
        let _ = plotters::style::register_font(
            "sans-serif",
            FontStyle::Normal,
            include_bytes!("fonts/DejaVuSans.ttf"),
        );
    });
}

/// Draws into `path` at `size` with the backend its extension names: `svg` or `png`.
///
/// # Errors
/// Another extension, or a drawing error, naming `--plot` and the file.
pub fn render(
    path: &Path,
    size: (u32, u32),
    draw_svg: impl FnOnce(DrawingArea<SVGBackend<'_>, Shift>) -> anyhow::Result<()>,
    draw_png: impl FnOnce(DrawingArea<BitMapBackend<'_>, Shift>) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    register_font();
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("svg") => draw_svg(SVGBackend::new(path, size).into_drawing_area()),
        Some("png") => draw_png(BitMapBackend::new(path, size).into_drawing_area()),
        _ => bail!("--plot {}: use a .png or .svg file name", path.display()),
    }
    .map_err(|e| anyhow!("--plot {}: {e}", path.display()))
}

/// A drawing error as `anyhow`.
pub fn err<E: std::error::Error + Send + Sync>(e: DrawingAreaErrorKind<E>) -> anyhow::Error {
    anyhow!("{e}")
}

/// The axes of a chart: their ranges, descriptions and how many decimals their percentage
/// labels show.
#[derive(Debug, Clone)]
pub struct Axes<'a> {
    /// Title above the chart, and its font size.
    pub caption: (&'a str, u32),
    /// Horizontal range, description and label decimals.
    pub x: (Range<f64>, &'a str, usize),
    /// Vertical range, description and label decimals.
    pub y: (Range<f64>, &'a str, usize),
}

/// A titled chart on `area` whose axes are labelled as percentages.
///
/// # Errors
/// A drawing error.
pub fn percent_chart<'a, DB: DrawingBackend + 'a>(
    area: &'a DrawingArea<DB, Shift>,
    axes: Axes<'_>,
) -> anyhow::Result<Chart<'a, DB>>
where
    DB::ErrorType: 'static,
{
    let (x_range, x_desc, x_dp) = axes.x;
    let (y_range, y_desc, y_dp) = axes.y;
    let mut chart = ChartBuilder::on(area)
        .caption(axes.caption.0, ("sans-serif", axes.caption.1))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(64)
        .build_cartesian_2d(x_range, y_range)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .x_label_formatter(&|x| format!("{:.*}%", x_dp, 100.0 * x))
        .y_label_formatter(&|y| format!("{:.*}%", y_dp, 100.0 * y))
        .draw()
        .map_err(err)?;
    Ok(chart)
}

/// A legend key for a line series: a short line in `color`.
fn line_key(color: RGBAColor) -> impl Fn((i32, i32)) -> PathElement<(i32, i32)> {
    move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2))
}

/// Draws the legend of `chart` at `position` on a light background with a black border.
///
/// # Errors
/// A drawing error.
pub fn draw_legend<'a, DB: DrawingBackend + 'a>(
    chart: &mut Chart<'a, DB>,
    position: SeriesLabelPosition,
) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(err)
}

/// The upper panel of a plot over time: a chart of weights from 0 to `w_max` over days
/// 0 to `x_max`, titled `caption`, its vertical axis in whole percent.
///
/// # Errors
/// A drawing error.
pub fn weights_chart<'a, DB: DrawingBackend + 'a>(
    area: &'a DrawingArea<DB, Shift>,
    caption: &str,
    x_max: f64,
    w_max: f64,
) -> anyhow::Result<Chart<'a, DB>>
where
    DB::ErrorType: 'static,
{
    let mut chart = ChartBuilder::on(area)
        .caption(caption, ("sans-serif", 22))
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
    Ok(chart)
}

/// A line over time in `color` (`width` pixels), named `name` in the legend: a service's
/// weight, or a value.
///
/// # Errors
/// A drawing error.
pub fn labelled_line<'a, DB: DrawingBackend + 'a>(
    chart: &mut Chart<'a, DB>,
    points: impl IntoIterator<Item = (f64, f64)>,
    color: RGBAColor,
    width: u32,
    name: &str,
) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    chart
        .draw_series(LineSeries::new(points, color.stroke_width(width)))
        .map_err(err)?
        .label(name)
        .legend(line_key(color));
    Ok(())
}

/// A black triangle at the foot of the weights chart on each day in `days`, named `label` in
/// the legend: the days a rebalance traded.
///
/// # Errors
/// A drawing error.
pub fn trade_markers<'a, DB: DrawingBackend + 'a>(
    chart: &mut Chart<'a, DB>,
    days: impl IntoIterator<Item = f64>,
    label: &str,
) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    chart
        .draw_series(
            days.into_iter()
                .map(|d| TriangleMarker::new((d, 0.004), 4, BLACK.filled())),
        )
        .map_err(err)?
        .label(label)
        .legend(|(x, y)| TriangleMarker::new((x + 8, y), 4, BLACK.filled()));
    Ok(())
}

/// How the lower panel of a plot over time is labelled.
#[derive(Debug, Clone, Copy)]
pub struct ValuePanel<'a> {
    /// The last day on the horizontal axis.
    pub x_max: f64,
    /// The horizontal axis' description.
    pub x_desc: &'a str,
    /// Room for the vertical axis' labels, in pixels.
    pub y_label_area: u32,
    /// The legend name of the portfolio's value.
    pub label: &'a str,
}

/// The lower panel of a plot over time: the portfolio's value (blue) against buy-and-hold
/// (red), in USDC; `points` are (day, value, buy-and-hold value).
///
/// # Errors
/// A drawing error.
pub fn value_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    panel: ValuePanel<'_>,
    points: &[(f64, f64, f64)],
) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    let (v_min, v_max) = points
        .iter()
        .flat_map(|&(_, value, held)| [value, held])
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    let (v_min, v_max) = if v_min.is_finite() {
        (v_min, v_max)
    } else {
        (0.0, 1.0)
    };
    let pad = 0.05 * (v_max - v_min).abs().max(1e-6);
    let mut value = ChartBuilder::on(area)
        .caption("value against buy-and-hold (USDC)", ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(panel.y_label_area)
        .build_cartesian_2d(0.0..panel.x_max, (v_min - pad)..(v_max + pad))
        .map_err(err)?;
    value
        .configure_mesh()
        .x_desc(panel.x_desc)
        .draw()
        .map_err(err)?;
    let value_points = points.iter().map(|&(d, v, _)| (d, v));
    labelled_line(&mut value, value_points, BLUE.to_rgba(), 2, panel.label)?;
    let held_points = points.iter().map(|&(d, _, held)| (d, held));
    labelled_line(&mut value, held_points, RED.to_rgba(), 1, "buy-and-hold")?;
    draw_legend(&mut value, SeriesLabelPosition::UpperLeft)
}
