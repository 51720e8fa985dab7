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
