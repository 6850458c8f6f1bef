//! Mean and standard deviation over seeds, and their "93.12 (0.45)" cell format.

/// Mean and population standard deviation (divisor `n`, numpy's `np.std` default, which the
/// NAS-Bench-201 and SoTL-thesis tables use) of `values`.
///
/// One value gives a std of 0. An empty slice gives `(NaN, NaN)` and a NaN value makes both NaN,
/// so a missing result shows up as `NaN` in a table instead of a plausible number.
pub fn mean_std(values: &[f64]) -> (f64, f64) {
    if values.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
    (mean, var.sqrt())
}

/// Formats a mean and std as `"mean (std)"` with `decimals` digits, e.g. `"93.12 (0.45)"`.
pub fn fmt_mean_std(mean: f64, std: f64, decimals: usize) -> String {
    format!("{mean:.decimals$} ({std:.decimals$})")
}

/// [`mean_std`] then [`fmt_mean_std`]: one table cell from the per-seed values.
pub fn summarize(values: &[f64], decimals: usize) -> String {
    let (m, s) = mean_std(values);
    fmt_mean_std(m, s, decimals)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed_mean_and_std() {
        // [2, 4, 4, 4, 5, 5, 7, 9]: mean 40/8 = 5, squared deviations 9+1+1+1+0+0+4+16 = 32,
        // population variance 32/8 = 4, std 2.
        assert_eq!(mean_std(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]), (5.0, 2.0));
        assert_eq!(mean_std(&[93.5]), (93.5, 0.0));
        let (m, s) = mean_std(&[]);
        assert!(m.is_nan() && s.is_nan());
        assert!(mean_std(&[1.0, f64::NAN]).0.is_nan());
    }

    #[test]
    fn formats_like_the_papers() {
        assert_eq!(fmt_mean_std(93.1234, 0.4456, 2), "93.12 (0.45)");
        assert_eq!(fmt_mean_std(0.5, 0.25, 3), "0.500 (0.250)");
        // 93.0 and 94.0: mean 93.5, std 0.5.
        assert_eq!(summarize(&[93.0, 94.0], 1), "93.5 (0.5)");
        assert_eq!(summarize(&[], 2), "NaN (NaN)");
    }
}
