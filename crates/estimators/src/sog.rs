//! SoG and SoGN: sums of gradients and of gradient norms along the training trajectory.

use crate::estimator::finite;
use crate::{Estimator, EstimatorError, RecordView, Result, StepRecord, Window};

fn grad_value(name: &str, s: &StepRecord, field: &'static str, v: Option<f64>) -> Result<f64> {
    match v {
        Some(v) => finite(name, field, s.step, v),
        None => Err(EstimatorError::MissingData {
            estimator: name.to_string(),
            what: format!("{field} at step {}", s.step),
            hint:
                "record gradient statistics in the training loop (StepRecord::grad_sum / grad_l1)"
                    .into(),
        }),
    }
}

/// Sum of Gradients (thesis Sec. 4.2.4): gradients accumulated dimension-wise over the
/// trajectory, then all dimensions summed into a scalar.
///
/// `score = sum_d sum_{t in W} g_{t,d} = sum_{t in W} grad_sum_t`, with `g_t` the minibatch
/// gradient at step `t` and `grad_sum_t = sum_d g_{t,d}` as recorded in
/// [`StepRecord::grad_sum`] (the two sums commute, so per-step scalars suffice). Signs matter:
/// consistently directed gradients add up, zigzagging ones cancel. Not negated: the thesis finds
/// better architectures have *high* SoG (and low SoTL).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sog {
    /// The steps summed over.
    pub window: Window,
}

impl Default for Sog {
    fn default() -> Self {
        Self { window: Window::All }
    }
}

impl Estimator for Sog {
    fn name(&self) -> String {
        match self.window {
            Window::All => "SoG".into(),
            w => format!("SoG({w})"),
        }
    }

    fn score_view(&self, view: RecordView<'_>) -> Result<f64> {
        let name = self.name();
        let mut sum = 0.0;
        for s in self.window.select(&name, &view)? {
            sum += grad_value(&name, s, "gradient sum", s.grad_sum)?;
        }
        Ok(sum)
    }
}

/// Sum of Gradients as the thesis author's finetuning code computes it (`grad_accum` in the
/// `analyze_grads` helper of the thesis' AutoDL-Projects fork): the gradients are accumulated
/// dimension-wise over the trajectory and the accumulated vector is reduced by its L1 norm.
///
/// `score = ||sum_{t <= T} g_t||_1`, read from [`StepRecord::grad_acc_l1`] at the last step `T`
/// of the record (or of the prefix viewed). Unlike [`Sog`], opposite signs in different
/// dimensions do not cancel; within a dimension, zigzagging still does. Always from step 0, so it
/// takes no window. Not negated (the thesis reads high values as better).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SogL1;

impl Estimator for SogL1 {
    fn name(&self) -> String {
        "SoG-L1".into()
    }

    fn score_view(&self, view: RecordView<'_>) -> Result<f64> {
        let name = self.name();
        let Some(last) = view.steps.last() else {
            return Err(EstimatorError::MissingData {
                estimator: name,
                what: "any training step".into(),
                hint: "score after at least one step".into(),
            });
        };
        let v = grad_value(&name, last, "accumulated-gradient L1 norm", last.grad_acc_l1)?;
        if v < 0.0 {
            return Err(EstimatorError::BadRecord(format!(
                "accumulated-gradient L1 norm at step {} is negative ({v})",
                last.step
            )));
        }
        Ok(v)
    }
}

/// Sum of Gradient Norms (thesis Sec. 4.2.4): the running scalar sum of per-step gradient L1
/// norms.
///
/// `score = sum_{t in W} ||g_t||_1`, with `||g_t||_1` recorded in [`StepRecord::grad_l1`].
/// Unlike SoG it ignores direction, so zigzagging in sharp regions also raises it. Not negated,
/// matching the thesis, which reports its (positive) rank correlation with test accuracy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sogn {
    /// The steps summed over.
    pub window: Window,
}

impl Default for Sogn {
    fn default() -> Self {
        Self { window: Window::All }
    }
}

impl Estimator for Sogn {
    fn name(&self) -> String {
        match self.window {
            Window::All => "SoGN".into(),
            w => format!("SoGN({w})"),
        }
    }

    fn score_view(&self, view: RecordView<'_>) -> Result<f64> {
        let name = self.name();
        let mut sum = 0.0;
        for s in self.window.select(&name, &view)? {
            let v = grad_value(&name, s, "gradient L1 norm", s.grad_l1)?;
            if v < 0.0 {
                return Err(EstimatorError::BadRecord(format!(
                    "gradient L1 norm at step {} is negative ({v})",
                    s.step
                )));
            }
            sum += v;
        }
        Ok(sum)
    }
}
