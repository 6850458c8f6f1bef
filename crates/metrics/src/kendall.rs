//! Kendall's tau-b and the sparse Kendall tau of Yu et al. (2020).

use std::cmp::Ordering;

use crate::{check, MetricsError, Result};

/// Order of two NaN-free values; `-0.0` and `0.0` compare equal (so they tie).
pub(crate) fn cmp(a: f64, b: f64) -> Ordering {
    a.partial_cmp(&b).unwrap_or(Ordering::Equal)
}

/// Kendall's tau-b, which corrects for ties in either input:
///
/// `tau_b = (C - D) / sqrt((n0 - n1) (n0 - n2))`, with `C`/`D` the concordant/discordant pairs,
/// `n0 = n(n-1)/2`, and `n1`, `n2` the pairs tied in `x`, in `y` (Kendall 1945; scipy's default
/// `kendalltau`). Computed in O(n log n) with Knight's (1966) merge-sort method, so ranking all
/// 15 625 NAS-Bench-201 cells is instant.
///
/// Errors on unequal lengths, fewer than 2 items, NaN, or an input whose values are all equal.
pub fn kendall_tau_b(x: &[f64], y: &[f64]) -> Result<f64> {
    check::paired(("x", x), ("y", y), 2, false)?;
    kendall_unchecked(x, y, "values")
}

/// Sparse Kendall tau (Yu et al., ICLR 2020, "Evaluating the search phase of neural architecture
/// search"): Kendall's tau-b after rounding every value of both inputs to a multiple of
/// `precision`, so that architectures whose values differ by less than the precision tie instead
/// of counting as misranked. Yu et al. use accuracies in percent with `precision = 0.1`.
///
/// Both inputs are rounded, so both should be on a scale where `precision` is meaningful (e.g.
/// supernet accuracy against stand-alone accuracy). Errors as [`kendall_tau_b`], on a precision
/// that is not positive and finite, and when rounding leaves an input constant (the precision is
/// too coarse).
pub fn sparse_kendall_tau(x: &[f64], y: &[f64], precision: f64) -> Result<f64> {
    if !(precision.is_finite() && precision > 0.0) {
        return Err(MetricsError::BadPrecision(precision));
    }
    check::paired(("x", x), ("y", y), 2, false)?;
    let round = |v: &[f64]| v.iter().map(|a| (a / precision).round()).collect::<Vec<f64>>();
    kendall_unchecked(&round(x), &round(y), "rounded values")
}

/// Tau-b on validated inputs; `what` names the values in a zero-variance error.
pub(crate) fn kendall_unchecked(x: &[f64], y: &[f64], what: &'static str) -> Result<f64> {
    let n = x.len();
    let pairs = |t: u64| t * (t.saturating_sub(1)) / 2;
    let n0 = pairs(n as u64);

    // Sort by x, then y: within a run of tied x the y are ascending, so those pairs never count as
    // inversions below.
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| cmp(x[a], x[b]).then(cmp(y[a], y[b])));

    // n1: pairs tied in x; n3: pairs tied in both.
    let (mut n1, mut n3) = (0u64, 0u64);
    let (mut tx, mut txy) = (1u64, 1u64);
    for w in order.windows(2) {
        let (a, b) = (w[0], w[1]);
        if cmp(x[a], x[b]).is_eq() {
            tx += 1;
            if cmp(y[a], y[b]).is_eq() {
                txy += 1;
            } else {
                n3 += pairs(txy);
                txy = 1;
            }
        } else {
            n1 += pairs(tx);
            n3 += pairs(txy);
            tx = 1;
            txy = 1;
        }
    }
    n1 += pairs(tx);
    n3 += pairs(txy);

    // Inversions of y in this order are exactly the discordant pairs (x strictly increasing, y
    // strictly decreasing).
    let mut ys: Vec<f64> = order.iter().map(|&i| y[i]).collect();
    let mut buf = ys.clone();
    let swaps = merge_count(&mut ys, &mut buf);

    // n2: pairs tied in y, counted on the now sorted y.
    let mut n2 = 0u64;
    let mut ty = 1u64;
    for w in ys.windows(2) {
        if cmp(w[0], w[1]).is_eq() {
            ty += 1;
        } else {
            n2 += pairs(ty);
            ty = 1;
        }
    }
    n2 += pairs(ty);

    if n0 == n1 {
        return Err(MetricsError::ZeroVariance { input: "x", what });
    }
    if n0 == n2 {
        return Err(MetricsError::ZeroVariance { input: "y", what });
    }
    // C - D = (pairs untied in both) - 2 D, and pairs untied in both = n0 - n1 - n2 + n3.
    let s = (n0 + n3) as f64 - (n1 + n2) as f64 - 2.0 * swaps as f64;
    let denom = ((n0 - n1) as f64).sqrt() * ((n0 - n2) as f64).sqrt();
    Ok((s / denom).clamp(-1.0, 1.0))
}

/// Sorts `v` ascending (stable merge sort) and returns the number of strict inversions
/// (`i < j` with `v[i] > v[j]`). `buf` is scratch space of the same length.
fn merge_count(v: &mut [f64], buf: &mut [f64]) -> u64 {
    let n = v.len();
    if n < 2 {
        return 0;
    }
    let mid = n / 2;
    let mut swaps = {
        let (l, r) = v.split_at_mut(mid);
        let (bl, br) = buf.split_at_mut(mid);
        merge_count(l, bl) + merge_count(r, br)
    };
    let (mut i, mut j, mut k) = (0, mid, 0);
    while i < mid && j < n {
        // Equal values are not inversions: take from the left first.
        if cmp(v[i], v[j]).is_le() {
            buf[k] = v[i];
            i += 1;
        } else {
            buf[k] = v[j];
            j += 1;
            // v[j] jumps ahead of every element left in the left half.
            swaps += (mid - i) as u64;
        }
        k += 1;
    }
    buf[k..k + mid - i].copy_from_slice(&v[i..mid]);
    k += mid - i;
    buf[k..k + n - j].copy_from_slice(&v[j..n]);
    v.copy_from_slice(&buf[..n]);
    swaps
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_count_counts_strict_inversions() {
        // [3, 1, 2, 2]: (3,1), (3,2), (3,2) are inversions; (2,2) is not.
        let mut v = [3.0, 1.0, 2.0, 2.0];
        let mut buf = [0.0; 4];
        assert_eq!(merge_count(&mut v, &mut buf), 3);
        assert_eq!(v, [1.0, 2.0, 2.0, 3.0]);
    }
}
