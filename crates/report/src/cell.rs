//! Cell diagrams as SVG: the picture of a searched cell that DARTS draws with graphviz
//! (`visualize.py`), without graphviz. Inputs on the left, each intermediate node in its own
//! column (alternately above and below the middle, so that straight edges do not cross the
//! boxes), the output on the right; every edge carries its op name.

use std::path::Path;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use serde::{Deserialize, Serialize};

use crate::error::write_file;
use crate::{ReportError, Result};

/// Font family written into the SVG.
const FONT: &str = "sans-serif";
/// Column width and canvas height in pixels.
const COLUMN: i32 = 190;
const HEIGHT: i32 = 380;
/// Node box size.
const BOX: (i32, i32) = (76, 30);

/// What a node is: it sets the column and the colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum NodeKind {
    /// A cell input (`c_{k-2}`, `c_{k-1}`; NAS-Bench-201's node 0).
    Input,
    /// An intermediate node.
    Intermediate,
    /// The cell output (`c_{k}`; NAS-Bench-201's node 3).
    Output,
}

/// One labelled edge `from -> to` (node indices).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiagramEdge {
    /// Source node.
    pub from: usize,
    /// Target node.
    pub to: usize,
    /// Label, usually the op name.
    pub label: String,
    /// Drawn dashed and grey (an edge whose op is `none`, or a plain concatenation).
    pub faint: bool,
}

/// A cell to draw: nodes in order (every edge goes from a lower to a higher index) and edges.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellDiagram {
    /// Caption.
    pub title: String,
    /// `(label, kind)` per node: inputs first, the output last.
    pub nodes: Vec<(String, NodeKind)>,
    /// The edges.
    pub edges: Vec<DiagramEdge>,
}

impl CellDiagram {
    /// Checks that the diagram can be drawn: nodes exist, edges point forward between them.
    fn validate(&self) -> std::result::Result<(), String> {
        if self.nodes.is_empty() {
            return Err("no nodes".into());
        }
        for e in &self.edges {
            if e.from >= e.to || e.to >= self.nodes.len() {
                return Err(format!(
                    "edge {} -> {} ({}) does not go forward between the {} nodes",
                    e.from,
                    e.to,
                    e.label,
                    self.nodes.len()
                ));
            }
        }
        Ok(())
    }

    /// Pixel centre of every node.
    fn positions(&self) -> Vec<(i32, i32)> {
        let inputs: Vec<usize> =
            (0..self.nodes.len()).filter(|&i| self.nodes[i].1 == NodeKind::Input).collect();
        let mut col = 1;
        let mut k = 0;
        let mid = HEIGHT / 2;
        (0..self.nodes.len())
            .map(|i| match self.nodes[i].1 {
                NodeKind::Input => {
                    let r = inputs.iter().position(|&j| j == i).unwrap_or(0) as i32;
                    let n = inputs.len() as i32;
                    // Spread to the top and bottom, clear of the lines between the middle nodes.
                    let span = HEIGHT * 3 / 4;
                    let y = if n == 1 { mid } else { HEIGHT / 8 + span * r / (n - 1) };
                    (COLUMN / 2, y)
                }
                NodeKind::Intermediate => {
                    let x = COLUMN / 2 + col * COLUMN;
                    col += 1;
                    let dy = if k % 2 == 0 { -HEIGHT / 8 } else { HEIGHT / 8 };
                    k += 1;
                    (x, mid + dy)
                }
                NodeKind::Output => (COLUMN / 2 + col * COLUMN, mid),
            })
            .collect()
    }
}

/// Renders `diagram` as an SVG document.
///
/// Errors when an edge does not go forward between existing nodes.
pub fn render_cell_svg(diagram: &CellDiagram) -> Result<String> {
    diagram
        .validate()
        .map_err(|reason| ReportError::Plot { plot: diagram.title.clone(), reason })?;
    let mut svg = String::new();
    draw_cell(diagram, &mut svg)
        .map_err(|reason| ReportError::Plot { plot: diagram.title.clone(), reason })?;
    Ok(svg)
}

/// Renders `diagram` (see [`render_cell_svg`]) and writes it to `path` atomically.
pub fn plot_cell(path: &Path, diagram: &CellDiagram) -> Result<()> {
    let svg = render_cell_svg(diagram)?;
    write_file(path, svg.as_bytes())
}

fn draw_cell(d: &CellDiagram, svg: &mut String) -> std::result::Result<(), String> {
    let pos = d.positions();
    let width = pos.iter().map(|p| p.0).max().unwrap_or(0) + COLUMN / 2;
    let root = SVGBackend::with_string(svg, (width as u32, HEIGHT as u32 + 40)).into_drawing_area();
    let e = |x: DrawingAreaErrorKind<_>| x.to_string();
    root.fill(&WHITE).map_err(e)?;
    let title = root.titled(&d.title, (FONT, 18).into_font()).map_err(e)?;
    let ink = RGBColor(60, 60, 60);
    let faint = RGBColor(170, 170, 170);
    for edge in &d.edges {
        let (a, b) = (pos[edge.from], pos[edge.to]);
        // From the source box's right side to the target box's left side.
        let start = (a.0 + BOX.0 / 2, a.1);
        let end = (b.0 - BOX.0 / 2, b.1);
        let colour = if edge.faint { faint } else { ink };
        let style = ShapeStyle::from(&colour).stroke_width(1);
        if edge.faint {
            // Dashes: ten segments, each covering half its tenth.
            for s in 0..10 {
                let t0 = s as f64 / 10.0;
                let dash = vec![lerp(start, end, t0), lerp(start, end, t0 + 0.05)];
                title.draw(&PathElement::new(dash, style)).map_err(e)?;
            }
        } else {
            title.draw(&PathElement::new(vec![start, end], style)).map_err(e)?;
        }
        title.draw(&Polygon::new(arrow_head(start, end), colour.filled())).map_err(e)?;
        // The label sits nearer the target, where the (at most a few) incoming edges have
        // spread apart.
        if edge.label.is_empty() {
            continue;
        }
        let (lx, ly) = lerp(start, end, 0.6);
        let w = 7 * edge.label.len() as i32 + 6;
        title
            .draw(&Rectangle::new([(lx - w / 2, ly - 8), (lx + w / 2, ly + 8)], WHITE.filled()))
            .map_err(e)?;
        let font = (FONT, 12).into_font().color(&colour);
        let style = font.pos(Pos::new(HPos::Center, VPos::Center));
        title.draw(&Text::new(edge.label.clone(), (lx, ly), style)).map_err(e)?;
    }
    for (i, (label, kind)) in d.nodes.iter().enumerate() {
        let (x, y) = pos[i];
        let fill = match kind {
            NodeKind::Input => RGBColor(200, 230, 201),
            NodeKind::Intermediate => RGBColor(187, 222, 251),
            NodeKind::Output => RGBColor(255, 224, 178),
        };
        let corners = [(x - BOX.0 / 2, y - BOX.1 / 2), (x + BOX.0 / 2, y + BOX.1 / 2)];
        title.draw(&Rectangle::new(corners, fill.filled())).map_err(e)?;
        title.draw(&Rectangle::new(corners, ShapeStyle::from(&ink).stroke_width(1))).map_err(e)?;
        let font = (FONT, 14).into_font().color(&BLACK);
        let style = font.pos(Pos::new(HPos::Center, VPos::Center));
        title.draw(&Text::new(label.clone(), (x, y), style)).map_err(e)?;
    }
    root.present().map_err(e)?;
    Ok(())
}

fn lerp(a: (i32, i32), b: (i32, i32), t: f64) -> (i32, i32) {
    let f = |p: i32, q: i32| p + ((q - p) as f64 * t).round() as i32;
    (f(a.0, b.0), f(a.1, b.1))
}

/// The triangle of an arrow ending at `end`.
fn arrow_head(start: (i32, i32), end: (i32, i32)) -> Vec<(i32, i32)> {
    let (dx, dy) = ((end.0 - start.0) as f64, (end.1 - start.1) as f64);
    let len = dx.hypot(dy).max(1.0);
    let (ux, uy) = (dx / len, dy / len);
    let (l, w) = (9.0, 4.0);
    let base = (end.0 as f64 - ux * l, end.1 as f64 - uy * l);
    vec![
        end,
        ((base.0 - uy * w).round() as i32, (base.1 + ux * w).round() as i32),
        ((base.0 + uy * w).round() as i32, (base.1 - ux * w).round() as i32),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain() -> CellDiagram {
        let edge =
            |from, to, label: &str| DiagramEdge { from, to, label: label.into(), faint: false };
        CellDiagram {
            title: "t".into(),
            nodes: vec![
                ("in".into(), NodeKind::Input),
                ("a".into(), NodeKind::Intermediate),
                ("out".into(), NodeKind::Output),
            ],
            edges: vec![edge(0, 1, "conv"), edge(1, 2, "pool"), edge(0, 2, "skip")],
        }
    }

    #[test]
    fn every_node_and_edge_label_is_drawn_once() {
        let svg = render_cell_svg(&chain()).unwrap();
        for label in ["in", "a", "out", "conv", "pool", "skip"] {
            assert_eq!(svg.matches(&format!("\n{label}\n</text>")).count(), 1, "{label} in {svg}");
        }
        // One arrow head per edge.
        assert_eq!(svg.matches("<polygon").count(), 3, "{svg}");
    }

    #[test]
    fn a_backward_edge_is_an_error_naming_it() {
        let mut d = chain();
        d.edges.push(DiagramEdge { from: 2, to: 1, label: "back".into(), faint: false });
        let e = render_cell_svg(&d).unwrap_err().to_string();
        assert!(e.contains("2 -> 1 (back)"), "{e}");
    }
}
