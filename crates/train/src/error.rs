//! The one error type of `sotl-train`.

use std::path::PathBuf;

/// Everything that can go wrong while building optimizers, training or checkpointing.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// A hyperparameter or configuration value is out of range.
    #[error("invalid training configuration: {0}")]
    Config(String),
    /// The loss of a training step was NaN or infinite.
    #[error(
        "training loss is {value} at step {step} (epoch {epoch}): the run diverged; lower the \
         learning rate, enable gradient clipping, or check the input data"
    )]
    NonFiniteLoss {
        /// Global step index (0-based) whose loss was not finite.
        step: usize,
        /// Epoch of that step.
        epoch: usize,
        /// The offending loss value.
        value: f64,
    },
    /// The gradient had a NaN or infinite entry although the loss was finite.
    #[error("gradient is not finite at step {step} (epoch {epoch}): lower the learning rate or enable clipping")]
    NonFiniteGrad {
        /// Global step index (0-based).
        step: usize,
        /// Epoch of that step.
        epoch: usize,
    },
    /// The validation loss was NaN or infinite.
    #[error("validation loss is {value} after {step} steps: the run diverged")]
    NonFiniteValLoss {
        /// Steps applied before the evaluation.
        step: usize,
        /// The offending loss value.
        value: f64,
    },
    /// A checkpoint could not be read or does not fit the run being resumed.
    #[error("checkpoint {path}: {reason}")]
    Checkpoint {
        /// The checkpoint file.
        path: PathBuf,
        /// What was wrong, and what to do.
        reason: String,
    },
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A batch source (data loader) failed.
    #[error("data: {0}")]
    Data(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The model's loss function failed.
    #[error("model: {0}")]
    Model(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// libtorch reported an error.
    #[error("libtorch: {0}")]
    Tch(#[from] tch::TchError),
}

/// `Result` with [`TrainError`].
pub type Result<T, E = TrainError> = std::result::Result<T, E>;
