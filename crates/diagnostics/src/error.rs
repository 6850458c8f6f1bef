//! Errors of the diagnostics crate.

/// Errors from Hessian diagnostics and trajectory output.
#[derive(Debug, thiserror::Error)]
pub enum DiagnosticsError {
    /// A configuration value is out of range; the message names the key and the allowed range.
    #[error("invalid diagnostics setting: {0}")]
    InvalidConfig(String),
    /// A Hessian-vector product or a loss was NaN or infinite.
    #[error("non-finite value in {what}: the loss or its curvature diverged (lower the learning rates or check the inputs)")]
    NonFinite {
        /// Which quantity was not finite.
        what: String,
    },
    /// The Hessian-vector product returned a tensor of the wrong shape.
    #[error("Hessian-vector product returned shape {got:?}, expected {expected:?}")]
    ShapeMismatch {
        /// The shape of the probe vector.
        expected: Vec<i64>,
        /// The shape returned.
        got: Vec<i64>,
    },
    /// The loss does not depend on the parameters it is differentiated by.
    #[error("the loss does not depend on {0}: nothing to differentiate")]
    NoGradient(String),
    /// A libtorch call failed.
    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),
    /// Writing a trajectory failed.
    #[error("writing a trajectory: {0}")]
    Io(#[from] std::io::Error),
}

/// Result alias for this crate.
pub type Result<T, E = DiagnosticsError> = std::result::Result<T, E>;
