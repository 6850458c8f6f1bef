//! Borrowed prefixes of a training record, so "the score at step t" needs no copy.

use crate::{EstimatorError, Result, StepRecord, TrainingRecord, ValRecord};

/// A borrowed view of a [`TrainingRecord`], possibly cut off at some step.
///
/// Estimators score views; [`TrainingRecord::view_until`] gives what was known after `t` steps,
/// which is how correlation curves over training are computed from one record.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RecordView<'a> {
    /// Step records, in strictly increasing step order.
    pub steps: &'a [StepRecord],
    /// Validation events, in non-decreasing step order.
    pub vals: &'a [ValRecord],
    /// Steps per epoch of the run (0 when unknown).
    pub steps_per_epoch: usize,
    /// Number of trainable parameters, when known.
    pub param_count: Option<u64>,
}

impl TrainingRecord {
    /// Checks the ordering invariants estimators rely on: steps strictly increasing, epochs
    /// non-decreasing, validation events in non-decreasing step order.
    pub fn validate(&self) -> Result<()> {
        for w in self.steps.windows(2) {
            if w[1].step <= w[0].step {
                return Err(EstimatorError::BadRecord(format!(
                    "step records out of order or duplicated: step {} follows step {}",
                    w[1].step, w[0].step
                )));
            }
            if w[1].epoch < w[0].epoch {
                return Err(EstimatorError::BadRecord(format!(
                    "epoch goes backwards at step {}: {} after {}",
                    w[1].step, w[1].epoch, w[0].epoch
                )));
            }
        }
        for w in self.vals.windows(2) {
            if w[1].step < w[0].step {
                return Err(EstimatorError::BadRecord(format!(
                    "validation events out of order: step {} follows step {}",
                    w[1].step, w[0].step
                )));
            }
        }
        Ok(())
    }

    /// The whole record as a view.
    pub fn view(&self) -> RecordView<'_> {
        RecordView {
            steps: &self.steps,
            vals: &self.vals,
            steps_per_epoch: self.steps_per_epoch,
            param_count: self.param_count,
        }
    }

    /// What was known after `t` optimizer steps: step records with `step < t` and validation
    /// events with `step <= t` (a validation event's `step` counts the updates applied before it).
    ///
    /// Assumes the ordering checked by [`TrainingRecord::validate`].
    pub fn view_until(&self, t: usize) -> RecordView<'_> {
        let ns = self.steps.partition_point(|s| s.step < t);
        let nv = self.vals.partition_point(|v| v.step <= t);
        RecordView { steps: &self.steps[..ns], vals: &self.vals[..nv], ..self.view() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{BnStats, ValScope};

    fn step(step: usize, epoch: usize) -> StepRecord {
        StepRecord {
            step,
            epoch,
            train_loss: 1.0,
            train_acc: None,
            grad_sum: None,
            grad_l1: None,
            grad_acc_l1: None,
        }
    }

    #[test]
    fn view_until_cuts_steps_before_t_and_vals_at_or_before_t() {
        let rec = TrainingRecord {
            steps: (0..5).map(|s| step(s, 0)).collect(),
            vals: vec![
                ValRecord {
                    step: 2,
                    epoch: 0,
                    loss: 1.0,
                    acc: 0.5,
                    scope: ValScope::Full,
                    bn: BnStats::Running,
                },
                ValRecord {
                    step: 4,
                    epoch: 0,
                    loss: 1.0,
                    acc: 0.6,
                    scope: ValScope::Full,
                    bn: BnStats::Running,
                },
            ],
            steps_per_epoch: 5,
            param_count: None,
        };
        let v = rec.view_until(2);
        assert_eq!(v.steps.len(), 2);
        assert_eq!(v.vals.len(), 1);
        assert_eq!(rec.view_until(0).steps.len(), 0);
        assert_eq!(rec.view_until(100).steps.len(), 5);
        assert_eq!(rec.view_until(100).vals.len(), 2);
    }

    #[test]
    fn validate_rejects_unordered_records() {
        let mut rec = TrainingRecord {
            steps: vec![step(0, 0), step(2, 0), step(1, 0)],
            ..Default::default()
        };
        let e = rec.validate().unwrap_err();
        assert!(e.to_string().contains("step 1 follows step 2"), "{e}");
        rec.steps = vec![step(0, 1), step(1, 0)];
        assert!(rec.validate().unwrap_err().to_string().contains("epoch goes backwards"));
        rec.steps = vec![step(0, 0), step(1, 0)];
        assert!(rec.validate().is_ok());
    }
}
