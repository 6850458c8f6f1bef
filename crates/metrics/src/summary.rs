//! [`RankSummary`]: the ranking metrics a study reports, computed together.

use serde::{Deserialize, Serialize};

use crate::{kendall_tau_b, precision_at_k, spearman, top_k_mean, Result};

/// How well `scores` rank architectures against `truth`: the numbers the SoTL thesis reports
/// for each estimator (Spearman as the headline, Kendall, top-k mean ground truth).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RankSummary {
    /// Number of architectures.
    pub n: usize,
    /// Spearman's rho.
    pub spearman: f64,
    /// Kendall's tau-b.
    pub kendall_tau: f64,
    /// The k of the top-k metrics.
    pub k: usize,
    /// Mean ground truth of the top-k by score.
    pub top_k_mean: f64,
    /// Precision@k.
    pub precision_at_k: f64,
}

impl RankSummary {
    /// Computes every metric, with `k` clamped to the number of items.
    ///
    /// Errors as the individual metrics do.
    pub fn compute(scores: &[f64], truth: &[f64], k: usize) -> Result<Self> {
        let k = k.min(scores.len());
        Ok(Self {
            n: scores.len(),
            spearman: spearman(scores, truth)?,
            kendall_tau: kendall_tau_b(scores, truth)?,
            k,
            top_k_mean: top_k_mean(scores, truth, k)?,
            precision_at_k: precision_at_k(scores, truth, k)?,
        })
    }
}
