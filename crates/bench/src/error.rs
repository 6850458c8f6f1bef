//! Errors of the benchmark crate.

use std::path::PathBuf;

/// What to do when a table file is wrong or missing.
pub(crate) const TABLE_HINT: &str =
    "point the data root (--data-root DIR or SOTL_NAS_DATA) at a folder whose \
benchmarks/nb201/ holds nb201-200ep.csv and nb201-minibench.csv as described in shared/README.md, \
or restore the file from a fresh copy of shared/";

/// Errors from loading or querying tabular benchmarks and from the query-based baselines.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// A table file could not be opened or read.
    #[error("cannot read benchmark table {}: {err}; {}", path.display(), TABLE_HINT)]
    Io {
        /// The file looked for.
        path: PathBuf,
        /// The underlying error.
        err: std::io::Error,
    },
    /// The header row lacks a required column.
    #[error(
        "{file}: header {found:?} lacks column {missing:?} (expected columns {expected:?}); {}",
        TABLE_HINT
    )]
    Header {
        /// File name.
        file: String,
        /// The header found.
        found: Vec<String>,
        /// The first required column not found.
        missing: String,
        /// All required columns.
        expected: Vec<String>,
    },
    /// A data row is malformed.
    #[error("{file}, line {line}: {reason}; the table is corrupt or truncated: {}", TABLE_HINT)]
    Row {
        /// File name.
        file: String,
        /// 1-based line number.
        line: u64,
        /// What is wrong.
        reason: String,
    },
    /// A table that must cover the whole space has fewer rows.
    #[error(
        "{file}: {rows} architectures, expected all {expected}; the file is truncated: {}",
        TABLE_HINT
    )]
    Incomplete {
        /// File name.
        file: String,
        /// Rows read.
        rows: usize,
        /// Rows expected.
        expected: usize,
    },
    /// The two tables disagree on which architecture an index denotes.
    #[error(
        "{file}: {reason}; both NAS-Bench-201 tables must use the same index/arch pairs: {}",
        TABLE_HINT
    )]
    Mismatch {
        /// File name of the second table.
        file: String,
        /// What disagrees.
        reason: String,
    },
    /// An architecture that is not in a table.
    #[error("architecture {arch} is not in the {table} table")]
    UnknownArch {
        /// The architecture string.
        arch: String,
        /// Table name.
        table: String,
    },
    /// A NAS-Bench-201 index that is not in the tables.
    #[error("NAS-Bench-201 index {index} is not in the tables (they hold {len} architectures, indices 0..{len})")]
    UnknownIndex {
        /// The index asked for.
        index: usize,
        /// Architectures in the tables.
        len: usize,
    },
    /// A combination of table, dataset and metric that the data does not have.
    #[error("the {table} table has no {metric} accuracy for {dataset}; {hint}")]
    Unsupported {
        /// Table name.
        table: String,
        /// Dataset name.
        dataset: String,
        /// Metric name.
        metric: String,
        /// What to use instead.
        hint: String,
    },
    /// An unknown dataset, metric or table name.
    #[error("unknown {what} {input:?}; expected one of {expected}")]
    Parse {
        /// What was being parsed.
        what: &'static str,
        /// The input.
        input: String,
        /// The accepted names.
        expected: &'static str,
    },
    /// An arch string that does not parse.
    #[error(transparent)]
    Space(#[from] sotl_space::SpaceError),
    /// A search configuration value out of range.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A NAS-Bench-101 file (the official TFRecord or the converted table) that cannot be
    /// opened, read or written.
    #[error("{}: {err}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        err: std::io::Error,
    },
    /// A line of the converted NAS-Bench-101 table that is malformed.
    #[error("{file}, line {line}: {reason}; convert the official file again with `sotl-nas bench nb101 convert`")]
    Nb101Table {
        /// File name.
        file: String,
        /// 1-based line number.
        line: u64,
        /// What is wrong.
        reason: String,
    },
    /// A NAS-Bench-201 / NATS-Bench archive, or a curves file converted from one, that cannot
    /// be read.
    #[error("{}: {reason}", path.display())]
    Archive {
        /// The file or folder.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A record of a TFRecord file that is truncated or corrupt.
    #[error("{}: record {record} (byte {offset}): {reason}; the file is truncated or corrupt, download it again", path.display())]
    Record {
        /// The file.
        path: PathBuf,
        /// 0-based index of the record.
        record: u64,
        /// Byte offset where the record starts.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
}

/// Result alias for this crate.
pub type Result<T, E = BenchError> = std::result::Result<T, E>;
