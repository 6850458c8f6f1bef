//! Spearman's rank correlation, with average ranks for ties.

use crate::pearson::pearson_unchecked;
use crate::{check, Result};

/// Ranks `1..=n` of `v` in increasing order; tied values share the mean of the ranks they span
/// (so `[10, 20, 20, 30]` ranks as `[1, 2.5, 2.5, 4]`).
///
/// Errors on a NaN.
pub fn average_ranks(v: &[f64]) -> Result<Vec<f64>> {
    check::values("values", v, false)?;
    Ok(average_ranks_unchecked(v))
}

/// [`average_ranks`] on NaN-free input.
pub(crate) fn average_ranks_unchecked(v: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..v.len()).collect();
    order.sort_by(|&a, &b| v[a].total_cmp(&v[b]));
    let mut ranks = vec![0.0; v.len()];
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        // `==` rather than total_cmp so that -0.0 and 0.0 tie, as they compare equal.
        while end < order.len() && v[order[end]] == v[order[start]] {
            end += 1;
        }
        // Positions start..end hold ranks start+1..=end; their mean is (start + 1 + end) / 2.
        let rank = (start + 1 + end) as f64 / 2.0;
        for &i in &order[start..end] {
            ranks[i] = rank;
        }
        start = end;
    }
    ranks
}

/// Spearman's rho: the Pearson correlation of the average ranks of `x` and `y`.
///
/// With ties this is the tie-corrected rho (scipy's `spearmanr`), not the `1 - 6 sum d^2 /
/// (n(n^2-1))` shortcut, which is only exact without ties. Errors on unequal lengths, fewer than
/// 2 items, NaN, or an input whose values are all equal.
pub fn spearman(x: &[f64], y: &[f64]) -> Result<f64> {
    check::paired(("x", x), ("y", y), 2, false)?;
    spearman_unchecked(x, y)
}

/// [`spearman`] on validated inputs.
pub(crate) fn spearman_unchecked(x: &[f64], y: &[f64]) -> Result<f64> {
    pearson_unchecked(&average_ranks_unchecked(x), &average_ranks_unchecked(y), "values")
}
