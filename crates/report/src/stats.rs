//! Mean and standard deviation over seeds, and their "93.12 (0.45)" cell format.

/// Mean and population standard deviation (divisor `n`, numpy's `np.std` default, which the
/// NAS-Bench-201 and SoTL-thesis tables use) of the finite values; `None` when none is finite.
///
/// The one rule for every table: a non-finite value (a seed whose metric is undefined, such as a
/// Spearman over constant scores) is left out, never averaged in, and a cell with no finite value
/// shows as missing (`-`), not as a plausible number. One value gives a std of 0.
pub fn mean_std(values: &[f64]) -> Option<(f64, f64)> {
    let v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
    Some((mean, var.sqrt()))
}

/// Formats a mean and std as `"mean (std)"` with `decimals` digits, e.g. `"93.12 (0.45)"`.
pub fn fmt_mean_std(mean: f64, std: f64, decimals: usize) -> String {
    format!("{mean:.decimals$} ({std:.decimals$})")
}

/// [`mean_std`] then [`fmt_mean_std`]: one table cell from the per-seed values (`-` when none
/// is finite).
pub fn summarize(values: &[f64], decimals: usize) -> String {
    mean_std(values).map_or_else(|| "-".to_string(), |(m, s)| fmt_mean_std(m, s, decimals))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed_mean_and_std() {
        // [2, 4, 4, 4, 5, 5, 7, 9]: mean 40/8 = 5, squared deviations 9+1+1+1+0+0+4+16 = 32,
        // population variance 32/8 = 4, std 2.
        assert_eq!(mean_std(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]), Some((5.0, 2.0)));
        assert_eq!(mean_std(&[93.5]), Some((93.5, 0.0)));
        assert_eq!(mean_std(&[]), None);
        // Non-finite values are left out: [1, 3] -> mean 2, std 1.
        assert_eq!(mean_std(&[1.0, f64::NAN, 3.0, f64::INFINITY]), Some((2.0, 1.0)));
        assert_eq!(mean_std(&[f64::NAN]), None);
    }

    #[test]
    fn formats_like_the_papers() {
        assert_eq!(fmt_mean_std(93.1234, 0.4456, 2), "93.12 (0.45)");
        assert_eq!(fmt_mean_std(0.5, 0.25, 3), "0.500 (0.250)");
        // 93.0 and 94.0: mean 93.5, std 0.5.
        assert_eq!(summarize(&[93.0, 94.0], 1), "93.5 (0.5)");
        assert_eq!(summarize(&[], 2), "-");
    }
}
