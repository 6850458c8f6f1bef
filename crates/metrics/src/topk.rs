//! Top-k metrics: how good the architectures a ranking puts first really are.

use crate::kendall::cmp;
use crate::{check, MetricsError, Result};

/// Each item's probability of being among the `k` largest values when ties are broken uniformly
/// at random: 1 above the cut, 0 below, `slots / group size` for the tied group straddling it.
/// The weights sum to `k`.
fn top_k_weights(v: &[f64], k: usize) -> Vec<f64> {
    let mut order: Vec<usize> = (0..v.len()).collect();
    order.sort_by(|&a, &b| cmp(v[b], v[a]));
    let mut w = vec![0.0; v.len()];
    let mut start = 0;
    while start < k {
        let mut end = start + 1;
        while end < order.len() && cmp(v[order[end]], v[order[start]]).is_eq() {
            end += 1;
        }
        let share = ((k - start).min(end - start)) as f64 / (end - start) as f64;
        for &i in &order[start..end] {
            w[i] = share;
        }
        start = end;
    }
    w
}

/// Validates `scores`, `truth` and `k` for the top-k metrics.
fn check_top_k(scores: &[f64], truth: &[f64], k: usize, truth_finite: bool) -> Result<()> {
    if scores.len() != truth.len() {
        return Err(MetricsError::LengthMismatch { x: scores.len(), y: truth.len() });
    }
    if scores.is_empty() {
        return Err(MetricsError::TooFew { needed: 1, got: 0 });
    }
    check::values("scores", scores, false)?;
    check::values("truth", truth, truth_finite)?;
    if k == 0 || k > scores.len() {
        return Err(MetricsError::KOutOfRange { k, n: scores.len() });
    }
    Ok(())
}

/// Mean ground truth of the `k` architectures with the highest scores (higher score = predicted
/// better), e.g. the "top-10 test accuracy" of the SoTL thesis (Section 4.2).
///
/// Ties in `scores` that straddle the cut are resolved in expectation: each tied item counts
/// with its probability of making the cut under a random tie-break, so the result never depends
/// on input order. Errors on unequal lengths, no items, NaN scores, NaN or infinite truth, or
/// `k` outside `1..=n`.
pub fn top_k_mean(scores: &[f64], truth: &[f64], k: usize) -> Result<f64> {
    check_top_k(scores, truth, k, true)?;
    let w = top_k_weights(scores, k);
    Ok(w.iter().zip(truth).map(|(w, t)| w * t).sum::<f64>() / k as f64)
}

/// Precision@k: the fraction of the `k` best architectures by `truth` (higher = better) that are
/// also among the `k` best by `scores`, `|top_k(scores) ∩ top_k(truth)| / k`.
///
/// Ties straddling either cut are resolved in expectation under independent random tie-breaks,
/// so the value is order-independent and may be fractional. Errors on unequal lengths, no
/// items, NaN, or `k` outside `1..=n`.
pub fn precision_at_k(scores: &[f64], truth: &[f64], k: usize) -> Result<f64> {
    check_top_k(scores, truth, k, false)?;
    let ws = top_k_weights(scores, k);
    let wt = top_k_weights(truth, k);
    Ok(ws.iter().zip(&wt).map(|(a, b)| a * b).sum::<f64>() / k as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_split_the_straddling_tie() {
        // Sorted descending: 9, then a 3-way tie at 5 for the remaining 2 slots, then 1.
        let w = top_k_weights(&[5.0, 9.0, 5.0, 1.0, 5.0], 3);
        let t = 2.0 / 3.0;
        assert_eq!(w, vec![t, 1.0, t, 0.0, t]);
        assert_eq!(top_k_weights(&[1.0, 2.0], 2), vec![1.0, 1.0]);
    }
}
