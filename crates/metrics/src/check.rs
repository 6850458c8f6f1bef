//! Input validation shared by every metric.

use crate::{MetricsError, Result};

/// Checks two paired inputs: equal lengths, at least `min_len` items, no NaN (and no infinity
/// when `finite` is set).
pub(crate) fn paired(
    (xn, x): (&'static str, &[f64]),
    (yn, y): (&'static str, &[f64]),
    min_len: usize,
    finite: bool,
) -> Result<()> {
    if x.len() != y.len() {
        return Err(MetricsError::LengthMismatch { x: x.len(), y: y.len() });
    }
    if x.len() < min_len {
        return Err(MetricsError::TooFew { needed: min_len, got: x.len() });
    }
    values(xn, x, finite)?;
    values(yn, y, finite)
}

/// Rejects NaN, and infinities when `finite` is set.
pub(crate) fn values(name: &'static str, v: &[f64], finite: bool) -> Result<()> {
    let bad = |a: &f64| a.is_nan() || (finite && a.is_infinite());
    match v.iter().position(bad) {
        Some(index) => Err(MetricsError::NotFinite { input: name, index, value: v[index] }),
        None => Ok(()),
    }
}
