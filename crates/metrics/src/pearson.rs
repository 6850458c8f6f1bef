//! Pearson's linear correlation coefficient.

use crate::{check, MetricsError, Result};

/// Pearson correlation `r = sum (x_i - mx)(y_i - my) / sqrt(sum (x_i - mx)^2 * sum (y_i - my)^2)`.
///
/// Errors on unequal lengths, fewer than 2 items, NaN or infinite values, or a constant input.
pub fn pearson(x: &[f64], y: &[f64]) -> Result<f64> {
    check::paired(("x", x), ("y", y), 2, true)?;
    pearson_unchecked(x, y, "values")
}

/// Pearson on validated inputs; `what` names the values in a zero-variance error.
pub(crate) fn pearson_unchecked(x: &[f64], y: &[f64], what: &'static str) -> Result<f64> {
    let n = x.len() as f64;
    let mx = x.iter().sum::<f64>() / n;
    let my = y.iter().sum::<f64>() / n;
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        let (dx, dy) = (a - mx, b - my);
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    if sxx == 0.0 {
        return Err(MetricsError::ZeroVariance { input: "x", what });
    }
    if syy == 0.0 {
        return Err(MetricsError::ZeroVariance { input: "y", what });
    }
    // Rounding can push |r| a hair above 1 for perfectly linear data.
    Ok((sxy / (sxx.sqrt() * syy.sqrt())).clamp(-1.0, 1.0))
}
