//! The `Estimator` trait: a training record in, one score out.

use crate::{EstimatorError, RecordView, Result, TrainingRecord};

/// A generalization estimator: turns what was recorded while training one network into a score.
///
/// **Sign convention: a higher score means the network is predicted to generalize better.**
/// Estimators built from losses therefore negate them (SoTL returns `-sum of losses`), while
/// accuracies, gradient sums and parameter counts are returned as they are. Ranking by
/// descending score is always right; correlations with test accuracy should come out positive.
pub trait Estimator {
    /// A short human-readable name, e.g. `SoTL-E` or `SoTL(first=100)`.
    fn name(&self) -> String;

    /// Scores a (possibly truncated) view of a record; assumes the view is ordered.
    fn score_view(&self, view: RecordView<'_>) -> Result<f64>;

    /// Scores a whole record, after checking its ordering.
    fn score(&self, rec: &TrainingRecord) -> Result<f64> {
        rec.validate()?;
        self.score_view(rec.view())
    }

    /// The score as it stood after `t` optimizer steps (see [`TrainingRecord::view_until`]).
    fn score_at(&self, rec: &TrainingRecord, t: usize) -> Result<f64> {
        rec.validate()?;
        self.score_view(rec.view_until(t))
    }

    /// [`Estimator::score_at`] at each of `ts`, checking the record once.
    fn score_curve(&self, rec: &TrainingRecord, ts: &[usize]) -> Result<Vec<f64>> {
        rec.validate()?;
        ts.iter().map(|&t| self.score_view(rec.view_until(t))).collect()
    }
}

/// Scores every record: element `i` is the score of `records[i]`.
pub fn score_all(est: &dyn Estimator, records: &[TrainingRecord]) -> Result<Vec<f64>> {
    records.iter().map(|r| est.score(r)).collect()
}

/// Scores every record after each of `ts` steps: element `[k][i]` is the score of `records[i]`
/// after `ts[k]` steps, ready for one rank correlation per `k` (a correlation curve).
pub fn score_all_over_steps(
    est: &dyn Estimator,
    records: &[TrainingRecord],
    ts: &[usize],
) -> Result<Vec<Vec<f64>>> {
    let per_record: Vec<Vec<f64>> =
        records.iter().map(|r| est.score_curve(r, ts)).collect::<Result<_>>()?;
    Ok((0..ts.len()).map(|k| per_record.iter().map(|c| c[k]).collect()).collect())
}

/// Returns `value` if finite, else the error naming the estimator, field and step.
pub(crate) fn finite(estimator: &str, field: &'static str, step: usize, value: f64) -> Result<f64> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(EstimatorError::NonFinite { estimator: estimator.to_string(), field, step, value })
    }
}
