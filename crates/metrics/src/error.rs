//! Errors of the metrics crate.

/// Inputs a metric cannot be computed on.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MetricsError {
    /// The two inputs have different lengths.
    #[error("inputs have different lengths ({x} vs {y}); pass one score and one ground-truth value per architecture")]
    LengthMismatch {
        /// Length of the first input.
        x: usize,
        /// Length of the second input.
        y: usize,
    },
    /// Too few items for the metric to mean anything.
    #[error("need at least {needed} items, got {got}; evaluate more architectures")]
    TooFew {
        /// Minimum number of items.
        needed: usize,
        /// Number given.
        got: usize,
    },
    /// A NaN (or, where noted, infinite) value.
    #[error("{input}[{index}] is {value}; drop or fix that architecture's value (a diverged run?) before computing metrics")]
    NotFinite {
        /// Which input (`"x"`, `"y"`, `"scores"`, `"truth"`).
        input: &'static str,
        /// Position of the first offending value.
        index: usize,
        /// The value itself.
        value: f64,
    },
    /// `k` outside `1..=n`.
    #[error("k = {k} is out of range for {n} items; choose k between 1 and {n}")]
    KOutOfRange {
        /// The k asked for.
        k: usize,
        /// Number of items.
        n: usize,
    },
    /// One input is constant, so a correlation is undefined (0/0).
    #[error("{input} has zero variance (all {what} equal), so the correlation is undefined; check that the values really differ, or use a finer precision")]
    ZeroVariance {
        /// Which input is constant.
        input: &'static str,
        /// `"values"` or `"ranks"`.
        what: &'static str,
    },
    /// Bootstrap settings that define no interval.
    #[error("bootstrap with {resamples} resamples at level {level}: use at least 2 resamples and a level strictly between 0 and 1 (e.g. 1000 and 0.95)")]
    BadBootstrap {
        /// Resamples asked for.
        resamples: usize,
        /// Coverage asked for.
        level: f64,
    },
    /// A sparse-Kendall precision that is not a positive finite number.
    #[error("precision {0} must be a positive finite number (e.g. 0.1 for accuracies in percent)")]
    BadPrecision(f64),
}

/// Result alias for this crate.
pub type Result<T, E = MetricsError> = std::result::Result<T, E>;
