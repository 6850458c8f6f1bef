//! Line plots written as SVG.
//!
//! Plotters' SVG backend writes text as `<text>` elements and, with its default features off,
//! estimates label sizes without reading any font file: rendering needs no system fonts and no
//! fontconfig, so plots come out the same on a bare machine. The viewer picks a sans-serif font.

use std::path::Path;

use plotters::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::write_file;
use crate::{ReportError, Result};

/// Canvas size in pixels.
const SIZE: (u32, u32) = (800, 500);
/// Font family written into the SVG; every viewer has one.
const FONT: &str = "sans-serif";
/// Tableau-10 colours: distinguishable, and the usual look of the papers' matplotlib plots.
const COLOURS: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// One named line.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Series {
    /// Legend entry.
    pub name: String,
    /// `(x, y)` points, drawn in the given order.
    pub points: Vec<(f64, f64)>,
}

/// A line plot: title, axis labels and one or more series.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LinePlot {
    /// Caption above the plot.
    pub title: String,
    /// Label of the horizontal axis.
    pub x_label: String,
    /// Label of the vertical axis.
    pub y_label: String,
    /// The lines, coloured in order and listed in the legend.
    pub series: Vec<Series>,
}

/// Renders `plot` as an SVG document: axes with ticks and labels, one coloured line with point
/// markers per series, and a legend.
///
/// Errors when there are no points at all or a coordinate is NaN or infinite.
pub fn render_svg(plot: &LinePlot) -> Result<String> {
    let ((x0, x1), (y0, y1)) = bounds(plot)?;
    let mut svg = String::new();
    draw(plot, &mut svg, (x0, x1), (y0, y1))
        .map_err(|reason| ReportError::Plot { plot: plot.title.clone(), reason })?;
    Ok(svg)
}

/// Renders `plot` (see [`render_svg`]) and writes it to `path` atomically.
pub fn plot_lines(path: &Path, plot: &LinePlot) -> Result<()> {
    let svg = render_svg(plot)?;
    write_file(path, svg.as_bytes())
}

/// Small multiples: a grid of panels sharing axes, lines named alike in every panel (a name
/// keeps one colour throughout), and one legend for all of them below the grid. For many lines
/// that one panel could not show apart, e.g. the op weights of every edge of a cell.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PanelPlot {
    /// Caption above the grid.
    pub title: String,
    /// Label of every panel's horizontal axis.
    pub x_label: String,
    /// Label of every panel's vertical axis.
    pub y_label: String,
    /// The panels, row by row: a caption and its lines.
    pub panels: Vec<(String, Vec<Series>)>,
    /// Panels per row (0: about the square root of the count).
    pub columns: usize,
}

/// Renders `plot` as an SVG document (see [`PanelPlot`]); every panel has the same axis ranges.
///
/// Errors when there are no points at all or a coordinate is NaN or infinite.
pub fn render_panels_svg(plot: &PanelPlot) -> Result<String> {
    let all = LinePlot {
        title: plot.title.clone(),
        series: plot.panels.iter().flat_map(|(_, s)| s.iter().cloned()).collect(),
        ..LinePlot::default()
    };
    let ((x0, x1), (y0, y1)) = bounds(&all)?;
    let mut svg = String::new();
    draw_panels(plot, &mut svg, (x0, x1), (y0, y1))
        .map_err(|reason| ReportError::Plot { plot: plot.title.clone(), reason })?;
    Ok(svg)
}

/// Renders `plot` (see [`render_panels_svg`]) and writes it to `path` atomically.
pub fn plot_panels(path: &Path, plot: &PanelPlot) -> Result<()> {
    let svg = render_panels_svg(plot)?;
    write_file(path, svg.as_bytes())
}

/// Series names in order of first appearance: legend entries and colour indices.
fn legend_names(plot: &PanelPlot) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for s in plot.panels.iter().flat_map(|(_, s)| s) {
        if !names.contains(&s.name) {
            names.push(s.name.clone());
        }
    }
    names
}

fn draw_panels(
    plot: &PanelPlot,
    svg: &mut String,
    x: (f64, f64),
    y: (f64, f64),
) -> std::result::Result<(), String> {
    let e = |err: &dyn std::fmt::Display| err.to_string();
    let n = plot.panels.len().max(1);
    let cols =
        if plot.columns > 0 { plot.columns.min(n) } else { (n as f64).sqrt().ceil() as usize };
    let rows = n.div_ceil(cols);
    let names = legend_names(plot);
    // Legend rows of up to 6 entries, 22 px each.
    let per_row = 6;
    let legend_h = 22 * names.len().div_ceil(per_row) as u32 + 16;
    let (w, panel_h) = ((260 * cols as u32).max(600), 190);
    let h = 50 + panel_h * rows as u32 + legend_h;
    let x_fmt = |v: &f64| tick_label(*v, x.1 - x.0);
    let y_fmt = |v: &f64| tick_label(*v, y.1 - y.0);
    let root = SVGBackend::with_string(svg, (w, h)).into_drawing_area();
    root.fill(&WHITE).map_err(|err| e(&err))?;
    let body = root.titled(&plot.title, (FONT, 20)).map_err(|err| e(&err))?;
    let (grid, legend) = body.split_vertically(panel_h * rows as u32);
    for (area, (caption, series)) in grid.split_evenly((rows, cols)).iter().zip(&plot.panels) {
        let mut chart = ChartBuilder::on(area)
            .caption(caption, (FONT, 14))
            .margin(6)
            .x_label_area_size(32)
            .y_label_area_size(44)
            .build_cartesian_2d(x.0..x.1, y.0..y.1)
            .map_err(|err| e(&err))?;
        chart
            .configure_mesh()
            .x_desc(&plot.x_label)
            .y_desc(&plot.y_label)
            .axis_desc_style((FONT, 11))
            .label_style((FONT, 10))
            .x_labels(4)
            .y_labels(4)
            .x_label_formatter(&x_fmt)
            .y_label_formatter(&y_fmt)
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .map_err(|err| e(&err))?;
        for s in series {
            let i = names.iter().position(|n| *n == s.name).unwrap_or(0);
            let colour = COLOURS[i % COLOURS.len()];
            chart
                .draw_series(LineSeries::new(s.points.iter().copied(), colour.stroke_width(2)))
                .map_err(|err| e(&err))?;
        }
    }
    let col_w = (w as i32 - 40) / per_row as i32;
    for (i, name) in names.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let (lx, ly) = (20 + col_w * (i % per_row) as i32, 12 + 22 * (i / per_row) as i32);
        legend
            .draw(&PathElement::new(vec![(lx, ly), (lx + 24, ly)], colour.stroke_width(3)))
            .map_err(|err| e(&err))?;
        legend
            .draw(&Text::new(name.clone(), (lx + 30, ly - 7), (FONT, 13)))
            .map_err(|err| e(&err))?;
    }
    root.present().map_err(|err| e(&err))?;
    Ok(())
}

/// Checks every point and returns the padded axis ranges.
fn bounds(plot: &LinePlot) -> Result<((f64, f64), (f64, f64))> {
    let mut xs = (f64::INFINITY, f64::NEG_INFINITY);
    let mut ys = (f64::INFINITY, f64::NEG_INFINITY);
    for s in &plot.series {
        for (index, &(x, y)) in s.points.iter().enumerate() {
            if !(x.is_finite() && y.is_finite()) {
                return Err(ReportError::NonFinitePoint {
                    plot: plot.title.clone(),
                    series: s.name.clone(),
                    index,
                    x,
                    y,
                });
            }
            xs = (xs.0.min(x), xs.1.max(x));
            ys = (ys.0.min(y), ys.1.max(y));
        }
    }
    if xs.0 > xs.1 {
        return Err(ReportError::EmptyPlot(plot.title.clone()));
    }
    Ok((pad(xs, 0.0), pad(ys, 0.05)))
}

/// Widens `[lo, hi]` by `frac` of its span on each side; a single value gets a unit-wide range
/// (scaled to its magnitude) so the axis still has ticks.
fn pad((lo, hi): (f64, f64), frac: f64) -> (f64, f64) {
    let span = hi - lo;
    if span > 0.0 {
        (lo - frac * span, hi + frac * span)
    } else {
        let half = 0.5 * lo.abs().max(1.0);
        (lo - half, hi + half)
    }
}

/// A tick label with as many decimals as a tenth of the axis span needs, trailing zeros
/// dropped (`50` rather than `50.0`, `0.25` rather than `0.250`).
fn tick_label(v: f64, span: f64) -> String {
    let decimals = (-(span / 10.0).log10().floor()).clamp(0.0, 12.0) as usize;
    let s = format!("{v:.decimals$}");
    let s = if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.') } else { &s };
    // Avoid "-0" from rounding a tiny negative.
    if s == "-0" {
        "0".to_string()
    } else {
        s.to_string()
    }
}

/// The plot corner with the fewest points under it, so the legend hides as little as possible
/// (ties go to upper right, then upper left, lower right, lower left).
fn legend_corner(plot: &LinePlot, x: (f64, f64), y: (f64, f64)) -> SeriesLabelPosition {
    // The legend box covers roughly the outer 35% x 30% of the plotting area.
    let (fx, fy) = (0.35, 0.3);
    let corners = [
        (SeriesLabelPosition::UpperRight, true, true),
        (SeriesLabelPosition::UpperLeft, false, true),
        (SeriesLabelPosition::LowerRight, true, false),
        (SeriesLabelPosition::LowerLeft, false, false),
    ];
    let under = |right: bool, upper: bool| {
        let points = plot.series.iter().flat_map(|s| &s.points);
        points
            .filter(|(px, py)| {
                let u = (px - x.0) / (x.1 - x.0);
                let w = (py - y.0) / (y.1 - y.0);
                let in_x = if right { u >= 1.0 - fx } else { u <= fx };
                let in_y = if upper { w >= 1.0 - fy } else { w <= fy };
                in_x && in_y
            })
            .count()
    };
    let best = corners.iter().min_by_key(|(_, r, u)| under(*r, *u)).map(|c| c.0.clone());
    best.unwrap_or(SeriesLabelPosition::UpperRight)
}

/// Draws into `svg`; plotters' errors are flattened to strings (they borrow the backend).
fn draw(
    plot: &LinePlot,
    svg: &mut String,
    x: (f64, f64),
    y: (f64, f64),
) -> std::result::Result<(), String> {
    let e = |err: &dyn std::fmt::Display| err.to_string();
    let x_fmt = |v: &f64| tick_label(*v, x.1 - x.0);
    let y_fmt = |v: &f64| tick_label(*v, y.1 - y.0);
    let root = SVGBackend::with_string(svg, SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(|err| e(&err))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(&plot.title, (FONT, 22))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(65)
        .build_cartesian_2d(x.0..x.1, y.0..y.1)
        .map_err(|err| e(&err))?;
    chart
        .configure_mesh()
        .x_desc(&plot.x_label)
        .y_desc(&plot.y_label)
        .axis_desc_style((FONT, 16))
        .label_style((FONT, 13))
        .x_label_formatter(&x_fmt)
        .y_label_formatter(&y_fmt)
        .light_line_style(RGBColor(235, 235, 235))
        .draw()
        .map_err(|err| e(&err))?;
    for (i, s) in plot.series.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        chart
            .draw_series(
                LineSeries::new(s.points.iter().copied(), colour.stroke_width(2)).point_size(2),
            )
            .map_err(|err| e(&err))?
            .label(&s.name)
            .legend(move |(lx, ly)| {
                PathElement::new(vec![(lx, ly), (lx + 20, ly)], colour.stroke_width(2))
            });
    }
    chart
        .configure_series_labels()
        .position(legend_corner(plot, x, y))
        .label_font((FONT, 14))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(|err| e(&err))?;
    root.present().map_err(|err| e(&err))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tick_labels_drop_needless_decimals() {
        assert_eq!(tick_label(50.0, 300.0), "50");
        assert_eq!(tick_label(0.30000000000000004, 0.8), "0.3");
        assert_eq!(tick_label(0.25, 0.1), "0.25");
        assert_eq!(tick_label(-1e-17, 1.0), "0");
        assert_eq!(tick_label(93.126, 0.2), "93.13");
        assert_eq!(tick_label(93.126, 2.0), "93.1");
    }

    #[test]
    fn panels_share_one_legend_and_a_colour_per_name() {
        let line = |name: &str, k: f64| Series {
            name: name.into(),
            points: (0..5).map(|i| (i as f64, k * i as f64)).collect(),
        };
        let plot = PanelPlot {
            title: "op weights".into(),
            x_label: "epoch".into(),
            y_label: "weight".into(),
            panels: (0..6)
                .map(|e| (format!("edge {e}"), vec![line("none", 0.1), line("skip_connect", 0.2)]))
                .collect(),
            columns: 3,
        };
        let svg = render_panels_svg(&plot).unwrap();
        // Text elements hold their text on a line of its own.
        let texts = |t: &str| svg.lines().filter(|l| l.trim() == t).count();
        // Every caption once, each op name once (in the shared legend).
        for e in 0..6 {
            assert_eq!(texts(&format!("edge {e}")), 1, "edge {e}");
        }
        assert_eq!((texts("skip_connect"), texts("none")), (1, 1));
        // Each name keeps its colour: 6 panel lines + 1 legend swatch per name.
        let stroke = |c: &str| svg.matches(&format!("stroke=\"{c}\" stroke-width=\"")).count();
        assert!(stroke("#1F77B4") >= 7 && stroke("#FF7F0E") >= 7, "{}", stroke("#1F77B4"));
        let mut bad = plot.clone();
        bad.panels[2].1[0].points[1].1 = f64::NAN;
        assert!(render_panels_svg(&bad).is_err());
        assert!(render_panels_svg(&PanelPlot::default()).is_err());
    }

    #[test]
    fn legend_avoids_the_data() {
        // A rising line fills the lower left and upper right corners.
        let plot = LinePlot {
            series: vec![Series {
                name: "up".into(),
                points: (0..=10).map(|i| (i as f64, i as f64)).collect(),
            }],
            ..Default::default()
        };
        let pos = legend_corner(&plot, (0.0, 10.0), (0.0, 10.0));
        assert!(matches!(pos, SeriesLabelPosition::UpperLeft), "{pos:?}");
    }
}
