//! Rank-correlation and top-k metrics for comparing architecture rankings. Pure: no tensors.
//!
//! Free functions over two paired slices: a predicted score and a ground truth per architecture,
//! higher = better for both. `sotl-estimators` produces the scores, `sotl-bench` the ground truth,
//! and `sotl-report` prints what these functions return. Every function checks its input (equal
//! lengths, enough items, no NaN) and says what to fix instead of returning NaN.

mod bootstrap;
mod check;
mod error;
mod kendall;
mod pearson;
mod spearman;
mod summary;
mod topk;

pub use bootstrap::{Bootstrap, Interval};
pub use error::{MetricsError, Result};
pub use kendall::{kendall_tau_b, sparse_kendall_tau};
pub use pearson::pearson;
pub use spearman::{average_ranks, spearman};
pub use summary::RankSummary;
pub use topk::{precision_at_k, top_k_mean};
