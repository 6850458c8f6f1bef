//! Errors of the report crate.

use std::path::PathBuf;

/// Errors from building or writing reports.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// Writing an output file failed.
    #[error("cannot write {}: {source}; check that the folder is writable and the disk not full", path.display())]
    Io {
        /// The file being written.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A table row whose width differs from the header's.
    #[error("table {title:?}: row {row} has {got} cells but the header has {expected}")]
    RowWidth {
        /// The table's title.
        title: String,
        /// Index of the offending row.
        row: usize,
        /// Number of header cells.
        expected: usize,
        /// Number of cells in the row.
        got: usize,
    },
    /// A plot with nothing to draw.
    #[error("plot {0:?} has no points; pass at least one series with at least one point")]
    EmptyPlot(String),
    /// A NaN or infinite coordinate.
    #[error("plot {plot:?}: series {series:?} point {index} is ({x}, {y}); coordinates must be finite (drop diverged values first)")]
    NonFinitePoint {
        /// The plot's title.
        plot: String,
        /// The series' name.
        series: String,
        /// Index of the point in the series.
        index: usize,
        /// The x coordinate.
        x: f64,
        /// The y coordinate.
        y: f64,
    },
    /// The plotting backend failed.
    #[error("plot {plot:?} could not be drawn: {reason}")]
    Plot {
        /// The plot's title.
        plot: String,
        /// The backend's message.
        reason: String,
    },
}

/// Result alias for this crate.
pub type Result<T, E = ReportError> = std::result::Result<T, E>;

/// Writes `bytes` atomically, naming the path on failure.
pub(crate) fn write_file(path: &std::path::Path, bytes: &[u8]) -> Result<()> {
    crate::write_atomic(path, bytes)
        .map_err(|source| ReportError::Io { path: path.to_path_buf(), source })
}
