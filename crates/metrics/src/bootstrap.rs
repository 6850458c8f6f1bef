//! Percentile-bootstrap confidence intervals for rank correlations over a pool of architectures.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::{check, kendall_tau_b, spearman, MetricsError, Result};

/// A two-sided confidence interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    /// Lower bound.
    pub lo: f64,
    /// Upper bound.
    pub hi: f64,
}

/// Settings of a percentile bootstrap (Efron & Tibshirani 1993, ch. 13): `resamples` draws of `n`
/// items with replacement, the statistic on each, and the `(1 - level) / 2` and
/// `(1 + level) / 2` quantiles of those values (linear interpolation, numpy's default).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Bootstrap {
    /// Number of resamples.
    pub resamples: usize,
    /// Coverage, e.g. 0.95.
    pub level: f64,
    /// Seed of the resampling; the same seed draws the same resamples for every statistic, so
    /// intervals of different metrics on one pool are comparable.
    pub seed: u64,
}

impl Default for Bootstrap {
    fn default() -> Self {
        Bootstrap { resamples: 1000, level: 0.95, seed: 0 }
    }
}

impl Bootstrap {
    /// The interval of `stat`, a statistic of a resample given as item indices into `0..n`.
    /// Resamples where `stat` is undefined (`None`, e.g. every drawn score equal) are left out;
    /// it is an error when more than half of them are.
    pub fn interval(
        &self,
        n: usize,
        mut stat: impl FnMut(&[usize]) -> Option<f64>,
    ) -> Result<Interval> {
        if n < 2 {
            return Err(MetricsError::TooFew { needed: 2, got: n });
        }
        if self.resamples < 2 || !(self.level > 0.0 && self.level < 1.0) {
            return Err(MetricsError::BadBootstrap {
                resamples: self.resamples,
                level: self.level,
            });
        }
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        let mut idx = vec![0usize; n];
        let mut values = Vec::with_capacity(self.resamples);
        for _ in 0..self.resamples {
            for i in idx.iter_mut() {
                *i = rng.gen_range(0..n);
            }
            if let Some(v) = stat(&idx).filter(|v| v.is_finite()) {
                values.push(v);
            }
        }
        if values.len() * 2 < self.resamples {
            return Err(MetricsError::TooFew { needed: self.resamples / 2, got: values.len() });
        }
        values.sort_by(f64::total_cmp);
        let tail = (1.0 - self.level) / 2.0;
        Ok(Interval { lo: quantile(&values, tail), hi: quantile(&values, 1.0 - tail) })
    }

    /// The interval of Spearman's rho between `x` and `y` (paired by position).
    pub fn spearman(&self, x: &[f64], y: &[f64]) -> Result<Interval> {
        check::paired(("x", x), ("y", y), 2, false)?;
        self.paired(x, y, spearman)
    }

    /// The interval of Kendall's tau-b between `x` and `y` (paired by position).
    pub fn kendall_tau_b(&self, x: &[f64], y: &[f64]) -> Result<Interval> {
        check::paired(("x", x), ("y", y), 2, false)?;
        self.paired(x, y, kendall_tau_b)
    }

    fn paired(
        &self,
        x: &[f64],
        y: &[f64],
        f: impl Fn(&[f64], &[f64]) -> Result<f64>,
    ) -> Result<Interval> {
        let (mut xs, mut ys) = (Vec::with_capacity(x.len()), Vec::with_capacity(y.len()));
        self.interval(x.len(), |idx| {
            xs.clear();
            ys.clear();
            xs.extend(idx.iter().map(|&i| x[i]));
            ys.extend(idx.iter().map(|&i| y[i]));
            f(&xs, &ys).ok()
        })
    }
}

/// The `q` quantile of sorted `v` by linear interpolation between order statistics.
fn quantile(v: &[f64], q: f64) -> f64 {
    let pos = q * (v.len() - 1) as f64;
    let (lo, frac) = (pos.floor() as usize, pos - pos.floor());
    if lo + 1 >= v.len() {
        v[v.len() - 1]
    } else {
        v[lo] + frac * (v[lo + 1] - v[lo])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate_like_numpy() {
        // numpy.quantile([1, 2, 3, 4], [0.25, 0.5, 0.975]) = [1.75, 2.5, 3.925]
        let v = [1.0, 2.0, 3.0, 4.0];
        assert!((quantile(&v, 0.25) - 1.75).abs() < 1e-12);
        assert!((quantile(&v, 0.5) - 2.5).abs() < 1e-12);
        assert!((quantile(&v, 0.975) - 3.925).abs() < 1e-12);
    }

    #[test]
    fn bad_settings_are_errors() {
        let b = Bootstrap { resamples: 1, ..Default::default() };
        assert!(b.spearman(&[1.0, 2.0, 3.0], &[1.0, 2.0, 3.0]).is_err());
        let b = Bootstrap { level: 1.0, ..Default::default() };
        assert!(b.spearman(&[1.0, 2.0, 3.0], &[1.0, 2.0, 3.0]).is_err());
        assert!(Bootstrap::default().spearman(&[1.0], &[1.0]).is_err());
    }
}
