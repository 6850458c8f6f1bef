//! Errors of the estimators crate.

/// Why an estimator could not score a training record.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EstimatorError {
    /// The estimator's window selects no data at all.
    #[error("{estimator}: empty window ({window}) over a record with {available} step(s); train longer or pick a smaller window")]
    EmptyWindow {
        /// Estimator name.
        estimator: String,
        /// The window asked for.
        window: String,
        /// Steps (or validation events) the record holds.
        available: usize,
    },
    /// The record is shorter than the window, so the sum would silently cover fewer steps.
    #[error("{estimator}: window {window} needs {needed} step(s) but the record has only {available} there; train longer or pick a smaller window")]
    WindowNotCovered {
        /// Estimator name.
        estimator: String,
        /// The window asked for.
        window: String,
        /// Steps (or events) the window needs.
        needed: usize,
        /// Steps (or events) actually present.
        available: usize,
    },
    /// The record lacks data the estimator needs.
    #[error("{estimator}: the record has no {what}; {hint}")]
    MissingData {
        /// Estimator name.
        estimator: String,
        /// What is missing.
        what: String,
        /// How to get it.
        hint: String,
    },
    /// A loss, accuracy or gradient value in the window is NaN or infinite.
    #[error("{estimator}: {field} at step {step} is {value} (not finite); the run diverged there: lower the learning rate or drop this architecture")]
    NonFinite {
        /// Estimator name.
        estimator: String,
        /// Which field.
        field: &'static str,
        /// Step index of the offending record.
        step: usize,
        /// The offending value.
        value: f64,
    },
    /// The record is malformed (out of order, duplicate steps, bad epoch length).
    #[error("malformed training record: {0}")]
    BadRecord(String),
    /// An estimator parameter is out of range.
    #[error("bad estimator parameter: {0}")]
    BadParameter(String),
    /// An estimator name could not be parsed.
    #[error("unknown estimator {input:?}: {reason}; expected one of {syntax}")]
    Parse {
        /// The whole input.
        input: String,
        /// What was wrong.
        reason: String,
        /// The accepted syntax.
        syntax: &'static str,
    },
}

/// Result alias for this crate.
pub type Result<T, E = EstimatorError> = std::result::Result<T, E>;
