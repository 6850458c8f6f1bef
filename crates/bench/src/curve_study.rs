//! The query-based study of training-speed estimators on NAS-Bench-201's per-epoch curves
//! (thesis Figure 4.4, after Ru et al. 2020): for cells sampled from the space, the Spearman
//! correlation with final test accuracy of SoTL (the sum of the training losses so far, and over
//! the last `E` epochs), the last epoch's training loss, and validation accuracy, after every
//! epoch of either schedule.

use rand::seq::index::sample as sample_indices;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::nb201_archive::{CurveSeries, Nb201Curves};
use crate::{BenchError, Result};

/// What the study samples and measures.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CurveStudySettings {
    /// Cells per sample (200 in the thesis).
    pub cells: usize,
    /// Samples, each from its own seed `0..sampling_seeds` (10).
    pub sampling_seeds: u64,
    /// `E` of SoTL-E: the window of the last epochs.
    pub last: usize,
}

impl Default for CurveStudySettings {
    fn default() -> Self {
        CurveStudySettings { cells: 200, sampling_seeds: 10, last: 5 }
    }
}

/// The estimators, in table order.
pub const CURVE_METRICS: [&str; 4] = ["SoTL", "SoTL-E", "TrainLoss", "ValAcc"];

/// One epoch's correlations: per metric of [`CURVE_METRICS`], the mean and standard deviation
/// over the samples (`None` where the metric has no value at this epoch, e.g. validation
/// accuracy the archive records only at the end).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CurveEpoch {
    /// 1-based epoch.
    pub epoch: usize,
    /// `(mean, std)` of the Spearman correlation per metric.
    pub spearman: Vec<Option<(f64, f64)>>,
}

/// Runs the study on `curves` of `dataset` (training curves and validation accuracy) against
/// `truth` (final test accuracy by NAS-Bench-201 index; NaN = unknown). Cells without a full
/// training curve or truth are left out of the sampling; validation accuracy counts at an epoch
/// only when every sampled cell has it.
pub fn curve_study(
    curves: &Nb201Curves,
    dataset: usize,
    truth: &[f64],
    s: &CurveStudySettings,
) -> Result<Vec<CurveEpoch>> {
    if s.last == 0 || s.sampling_seeds == 0 || s.cells < 3 {
        return Err(BenchError::Config(
            "the curves study needs --last >= 1, --sampling-seeds >= 1 and --sample-size >= 3"
                .into(),
        ));
    }
    let eligible: Vec<usize> = (0..curves.archs.len())
        .filter(|&i| {
            truth.get(i).is_some_and(|t| t.is_finite())
                && curves.series(i, dataset, CurveSeries::TrainLoss).iter().all(|v| v.is_finite())
        })
        .collect();
    if eligible.len() < s.cells {
        return Err(BenchError::Config(format!(
            "{} cells have a full training curve and a final test accuracy, fewer than --sample-size {}",
            eligible.len(),
            s.cells
        )));
    }
    let epochs = curves.epochs;
    // Per metric, per epoch, the correlations of every sample.
    let mut rho = vec![vec![Vec::new(); epochs]; CURVE_METRICS.len()];
    for seed in 0..s.sampling_seeds {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let picked: Vec<usize> = sample_indices(&mut rng, eligible.len(), s.cells)
            .into_iter()
            .map(|k| eligible[k])
            .collect();
        let y: Vec<f64> = picked.iter().map(|&i| truth[i]).collect();
        let loss: Vec<&[f32]> =
            picked.iter().map(|&i| curves.series(i, dataset, CurveSeries::TrainLoss)).collect();
        let valid: Vec<&[f32]> =
            picked.iter().map(|&i| curves.series(i, dataset, CurveSeries::ValidAccuracy)).collect();
        for e in 0..epochs {
            let from = (e + 1).saturating_sub(s.last);
            let sum = |l: &[f32], a: usize| -> f64 { l[a..=e].iter().map(|&v| f64::from(v)).sum() };
            let scores: [Vec<f64>; 3] = [
                loss.iter().map(|l| -sum(l, 0)).collect(),
                loss.iter().map(|l| -sum(l, from)).collect(),
                loss.iter().map(|l| -f64::from(l[e])).collect(),
            ];
            // An undefined correlation (a constant score) leaves the epoch without a value.
            for (m, x) in scores.iter().enumerate() {
                if let Ok(r) = sotl_metrics::spearman(x, &y) {
                    rho[m][e].push(r);
                }
            }
            let v: Vec<f64> = valid.iter().map(|l| f64::from(l[e])).collect();
            if v.iter().all(|x| x.is_finite()) {
                if let Ok(r) = sotl_metrics::spearman(&v, &y) {
                    rho[3][e].push(r);
                }
            }
        }
    }
    Ok((0..epochs)
        .map(|e| CurveEpoch {
            epoch: e + 1,
            spearman: rho
                .iter()
                .map(|per_epoch| {
                    let r = &per_epoch[e];
                    (r.len() as u64 == s.sampling_seeds).then(|| sotl_report::mean_std(r)).flatten()
                })
                .collect(),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sotl_space::Nb201Arch;

    /// Four cells over two epochs, worked by hand: truth 1..4; losses (4, 3, 2, 1) then
    /// (1, 3, 2, 5). After epoch 1 every loss ranks the cells exactly (rho 1). After epoch 2,
    /// SoTL = (5, 6, 4, 6): ranks of -SoTL (3, 1.5, 4, 1.5) against (1, 2, 3, 4) give
    /// cov -1 over sqrt(4.5 * 5), rho = -1/sqrt(22.5); the last loss ranks (4, 2, 3, 1), rho =
    /// 1 - 6 * 18 / 60 = -0.8, and so does SoTL over the last epoch.
    #[test]
    fn spearman_per_epoch_matches_the_hand_computed_values() {
        let archs: Vec<Nb201Arch> = (0..4).map(Nb201Arch::from_ordinal).collect();
        let mut c = Nb201Curves::new(2, archs);
        for (i, l) in [[4.0f32, 1.0], [3.0, 3.0], [2.0, 2.0], [1.0, 5.0]].iter().enumerate() {
            c.series_mut(i, 0, CurveSeries::TrainLoss).copy_from_slice(l);
        }
        let truth = [1.0, 2.0, 3.0, 4.0];
        let s = CurveStudySettings { cells: 4, sampling_seeds: 2, last: 1 };
        let r = curve_study(&c, 0, &truth, &s).unwrap();
        let m = |e: usize, k: usize| r[e].spearman[k].unwrap();
        for k in 0..3 {
            assert!((m(0, k).0 - 1.0).abs() < 1e-12 && m(0, k).1 < 1e-12, "{:?}", m(0, k));
        }
        assert!((m(1, 0).0 + 1.0 / 22.5f64.sqrt()).abs() < 1e-12);
        assert!((m(1, 2).0 + 0.8).abs() < 1e-12 && (m(1, 1).0 + 0.8).abs() < 1e-12);
        // No validation accuracy in these curves.
        assert!(r[0].spearman[3].is_none());
        // Asking for more cells than have curves and truth is refused.
        let e = curve_study(&c, 0, &truth, &CurveStudySettings { cells: 5, ..s }).unwrap_err();
        assert!(e.to_string().contains("fewer than --sample-size 5"), "{e}");
    }
}
