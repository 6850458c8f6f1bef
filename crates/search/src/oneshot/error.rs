//! Errors of the one-shot half of `sotl-search`.

use std::path::PathBuf;

/// Everything that can go wrong while training a supernet or finetuning a pool.
#[derive(Debug, thiserror::Error)]
pub enum OneShotError {
    /// A configuration value is out of range; `field` names the key to fix.
    #[error("invalid one-shot config: {field} {reason}")]
    Config {
        /// The offending config key, e.g. `train.batch_size`.
        field: &'static str,
        /// What is wrong with it and what is expected.
        reason: String,
    },
    /// A file could not be read or written.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done (`cannot read`, `cannot write`).
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A JSON file (pool, results, checkpoint metadata) is malformed.
    #[error(
        "malformed {what} {path}: {source}; delete it to start over, or point at the right file"
    )]
    Json {
        /// What the file should have been (`pool file`, `checkpoint metadata`).
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The parser's complaint.
        source: serde_json::Error,
    },
    /// Finetuning one candidate of a pool failed; the results before it are kept.
    #[error("candidate {index} ({arch}) of the pool: {source}")]
    Candidate {
        /// Position in the pool.
        index: usize,
        /// The candidate's cell.
        arch: String,
        /// What went wrong.
        source: Box<OneShotError>,
    },
    /// A checkpoint does not belong to this run or is incomplete.
    #[error("checkpoint {path} cannot be resumed: {reason}")]
    Checkpoint {
        /// The checkpoint folder or file.
        path: PathBuf,
        /// Why it does not fit.
        reason: String,
    },
    /// A loss or gradient became NaN or infinite.
    #[error("non-finite {what} at step {step} (value {value}); lower the learning rate or enable gradient clipping")]
    NonFinite {
        /// `training loss`, `finetuning loss`, ...
        what: &'static str,
        /// The step at which it happened.
        step: usize,
        /// The offending value.
        value: f64,
    },
    /// The dataset cannot serve the requested batches.
    #[error("dataset {name}: {reason}")]
    Data {
        /// The dataset's name.
        name: String,
        /// What is missing.
        reason: String,
    },
    /// A rank-correlation computation failed (too few candidates, NaN scores).
    #[error("ranking report: {0}")]
    Report(String),
    /// The network could not be built.
    #[error("network: {0}")]
    Nn(#[from] sotl_nn::NnError),
    /// The training loop stopped (a non-finite loss or gradient, a bad loop setting).
    #[error("{0}")]
    Train(#[from] sotl_train::TrainError),
    /// An error raised by libtorch.
    #[error("libtorch: {0}")]
    Tch(#[from] tch::TchError),
}

/// Result alias for the one-shot module.
pub type OneShotResult<T, E = OneShotError> = std::result::Result<T, E>;

impl OneShotError {
    /// A [`OneShotError::Config`] for `field`.
    pub(crate) fn config(field: &'static str, reason: impl Into<String>) -> Self {
        OneShotError::Config { field, reason: reason.into() }
    }
}
