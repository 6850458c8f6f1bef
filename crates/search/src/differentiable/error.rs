//! Errors of the differentiable half of `sotl-search` (DARTS family and hypergradients).

use std::path::PathBuf;

/// Everything that can go wrong in a differentiable search or a hypergradient computation.
#[derive(Debug, thiserror::Error)]
pub enum DartsError {
    /// A configuration value is out of range; `field` names the key to fix.
    #[error("invalid darts config: {field} {reason}")]
    Config {
        /// The offending key, e.g. `search.unroll_steps`.
        field: &'static str,
        /// What is wrong and what is expected.
        reason: String,
    },
    /// A method name that is not one of the known ones.
    #[error("unknown method {0:?}; expected one of darts1, darts2, sotl, sovl, sotl-exact, drnas, sotl-drnas")]
    UnknownMethod(String),
    /// A loss became NaN or infinite.
    #[error("non-finite {what} at epoch {epoch}, step {step} (value {value}); lower the learning rates or check the data")]
    NonFinite {
        /// Which loss (`training loss`, `validation loss`, `architecture gradient`).
        what: &'static str,
        /// Epoch index (0-based).
        epoch: usize,
        /// Step within the epoch.
        step: usize,
        /// The offending value.
        value: f64,
    },
    /// A checkpoint does not belong to this run or is damaged.
    #[error("checkpoint {path} cannot be resumed: {reason}")]
    Checkpoint {
        /// The checkpoint file.
        path: PathBuf,
        /// Why it does not fit.
        reason: String,
    },
    /// Hypergradient inputs that do not fit together (lengths, shapes, empty windows).
    #[error("hypergradient: {0}")]
    Hypergrad(String),
    /// A training-crate call (optimizer, data, checkpoint file) failed.
    #[error(transparent)]
    Train(#[from] sotl_train::TrainError),
    /// A network-crate call failed.
    #[error(transparent)]
    Nn(#[from] sotl_nn::NnError),
    /// The search space refused the architecture weights (e.g. a wrong relaxation shape).
    #[error(transparent)]
    Space(#[from] sotl_space::SpaceError),
    /// A Hessian diagnostic failed.
    #[error(transparent)]
    Diagnostics(#[from] sotl_diagnostics::DiagnosticsError),
    /// A libtorch call failed.
    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),
}

/// Result alias for the differentiable half of this crate.
pub type DartsResult<T, E = DartsError> = std::result::Result<T, E>;
