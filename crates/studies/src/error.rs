//! The one error type of `sotl-studies`.

use std::path::PathBuf;

/// Errors raised by the studies: bad configuration, diverged training, unreadable checkpoints.
#[derive(Debug, thiserror::Error)]
pub enum StudiesError {
    /// A configuration value is out of range or inconsistent.
    #[error("invalid config: {0}")]
    Config(String),
    /// A loss or hypergradient became NaN or infinite.
    #[error("{what} is not finite ({value}) at step {step}: lower the learning rate or hyper learning rate")]
    NonFinite {
        /// Which quantity diverged.
        what: &'static str,
        /// The step (within the run) where it happened.
        step: usize,
        /// The offending value.
        value: f64,
    },
    /// Input tensors have the wrong shape or type for the chosen model.
    #[error("bad data: {0}")]
    Data(String),
    /// A checkpoint could not be written or read back.
    #[error("checkpoint {path}: {msg}")]
    Checkpoint {
        /// The checkpoint file.
        path: PathBuf,
        /// What went wrong.
        msg: String,
    },
    /// An error from libtorch.
    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),
}

/// `Result` with [`StudiesError`].
pub type Result<T> = std::result::Result<T, StudiesError>;
