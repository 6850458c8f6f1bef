//! Run records, Markdown/CSV tables and plots. Pure: no tensors.
//!
//! The last library layer before the CLI: search crates return values, and this crate turns them
//! into files a person reads (Markdown, SVG) and files a program reads (CSV, JSON), written
//! atomically.

mod atomic;
mod cell;
mod csv_text;
mod error;
mod plot;
mod stats;
mod table;

pub use atomic::{write_atomic, write_json_atomic};
pub use cell::{plot_cell, render_cell_svg, CellDiagram, DiagramEdge, NodeKind};
pub use csv_text::CsvText;
pub use error::{ReportError, Result};
pub use plot::{
    plot_lines, plot_panels, render_panels_svg, render_svg, LinePlot, PanelPlot, Series,
};
pub use stats::{fmt_mean_std, mean_std, summarize};
pub use table::Table;
