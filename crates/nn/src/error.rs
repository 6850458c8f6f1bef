//! Errors of the network crate.

/// Errors from building networks, validating configs and moving weights between them.
#[derive(Debug, thiserror::Error)]
pub enum NnError {
    /// A config value is out of range; `field` names the key.
    #[error("invalid network config: {field} = {value}: {reason}")]
    InvalidConfig {
        /// The config key.
        field: &'static str,
        /// The offending value, as written.
        value: String,
        /// What is expected instead.
        reason: &'static str,
    },
    /// Weight inheritance between networks built with different configs.
    #[error("cannot inherit weights: the supernet was built with {supernet} but the network with {network}; build both from the same Nb201NetConfig")]
    ConfigMismatch {
        /// The supernet's config, as text.
        supernet: String,
        /// The standalone network's config, as text.
        network: String,
    },
    /// An `EdgeMix` whose tensor does not have the shape the supernet needs.
    #[error("bad EdgeMix: {0}")]
    BadMix(String),
    /// A libtorch call failed.
    #[error(transparent)]
    Torch(#[from] tch::TchError),
}

/// Result alias for this crate.
pub type Result<T, E = NnError> = std::result::Result<T, E>;
