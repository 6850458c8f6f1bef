//! The one error type of `sotl-perf`.

use std::path::PathBuf;

/// Everything that can go wrong while setting up or running a benchmark.
#[derive(Debug, thiserror::Error)]
pub enum PerfError {
    /// A configuration value is out of range; `field` names the key (or flag) to fix.
    #[error("invalid perf config: {field} {reason}")]
    Config {
        /// The offending key, e.g. `steps`.
        field: &'static str,
        /// What is wrong and what is expected.
        reason: String,
    },
    /// A bench row name that is not one of the known ones.
    #[error("unknown bench row {0:?}; expected one of darts, spos, finetune, pool, eval, standalone_train, standalone_eval, data")]
    UnknownRow(String),
    /// The reference harness' JSON could not be read or does not fit this run.
    #[error("reference JSON {path}: {reason}")]
    Reference {
        /// The file.
        path: PathBuf,
        /// What is wrong, and what to do.
        reason: String,
    },
    /// A loss became NaN or infinite during a timed step.
    #[error("bench {row}: loss is {value} at step {step}; the benchmark's numbers would be meaningless (check --C/--N/--batch)")]
    NonFinite {
        /// The row.
        row: &'static str,
        /// Step index, warm-up steps included.
        step: usize,
        /// The offending value.
        value: f64,
    },
    /// The network could not be built.
    #[error("network: {0}")]
    Nn(#[from] sotl_nn::NnError),
    /// An optimizer or parameter group failed.
    #[error("optimizer: {0}")]
    Train(#[from] sotl_train::TrainError),
    /// The DARTS search step failed.
    #[error("darts step: {0}")]
    Darts(#[from] sotl_search::DartsError),
    /// The pool row's finetuning failed.
    #[error("pool finetuning: {0}")]
    Pool(Box<sotl_search::oneshot::OneShotError>),
    /// The data loader failed.
    #[error("data loader: {0}")]
    Data(#[from] sotl_data::DataError),
    /// libtorch reported an error.
    #[error("libtorch: {0}")]
    Tch(#[from] tch::TchError),
}

/// `Result` with [`PerfError`].
pub type Result<T, E = PerfError> = std::result::Result<T, E>;
