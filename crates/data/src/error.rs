//! The error type of `sotl-data`.

use std::path::PathBuf;

/// Everything that can go wrong while finding, reading or preparing a dataset.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// A file or folder could not be read or written.
    #[error("cannot access {path}: {source}")]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A dataset (or one of its files) is not where it was looked for.
    #[error("{what} not found (looked in {looked_in}); {hint}")]
    Missing {
        /// What was looked for, e.g. `CIFAR-10 training batch data_batch_3.bin`.
        what: String,
        /// Where it was looked for.
        looked_in: String,
        /// How to provide it.
        hint: String,
    },
    /// A file exists but its contents are not what the format requires (truncated, corrupt).
    #[error("{path}: {problem}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What was expected and what was found.
        problem: String,
    },
    /// An image file could not be decoded.
    #[error("cannot decode image {path}: {source}")]
    Image {
        /// The file.
        path: PathBuf,
        /// The decoder's error.
        source: image::ImageError,
    },
    /// A parameter (split size, batch size, crop padding, ...) is out of range.
    #[error("invalid {what}: {problem}")]
    Invalid {
        /// The parameter.
        what: &'static str,
        /// What is wrong and what is allowed.
        problem: String,
    },
    /// libtorch reported an error.
    #[error("libtorch: {0}")]
    Tch(#[from] tch::TchError),
}

/// `Result` with [`DataError`].
pub type Result<T, E = DataError> = std::result::Result<T, E>;

impl DataError {
    /// An [`DataError::Io`] for `path`.
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        DataError::Io { path: path.into(), source }
    }

    /// A [`DataError::Corrupt`] for `path`.
    pub(crate) fn corrupt(path: impl Into<PathBuf>, problem: impl Into<String>) -> Self {
        DataError::Corrupt { path: path.into(), problem: problem.into() }
    }

    /// A [`DataError::Invalid`].
    pub(crate) fn invalid(what: &'static str, problem: impl Into<String>) -> Self {
        DataError::Invalid { what, problem: problem.into() }
    }
}
