//! SoVL: the sum of validation losses.

use crate::estimator::finite;
use crate::val_acc::scope_name;
use crate::{Estimator, EstimatorError, RecordView, Result, ValScope};

/// Sum of validation losses over the latest validation events of one scope (the SoVL baseline of
/// Ru et al. 2021, the validation-set counterpart of SoTL).
///
/// `score = -sum_{k in K} L_val(theta_{t_k})`, where `K` is the last `last` validation events of
/// `scope` (all of them when `last` is `None`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sovl {
    /// Which validation events are summed.
    pub scope: ValScope,
    /// How many of the latest events to sum; `None` sums all.
    pub last: Option<usize>,
}

impl Default for Sovl {
    fn default() -> Self {
        Self { scope: ValScope::Full, last: None }
    }
}

impl Estimator for Sovl {
    fn name(&self) -> String {
        let base = match self.scope {
            ValScope::Full => "SoVL",
            ValScope::Minibatch => "SoVL-Mini",
        };
        match self.last {
            None => base.into(),
            Some(n) => format!("{base}(last={n})"),
        }
    }

    fn score_view(&self, view: RecordView<'_>) -> Result<f64> {
        let name = self.name();
        let events: Vec<_> = view.vals.iter().filter(|v| v.scope == self.scope).collect();
        if events.is_empty() {
            return Err(EstimatorError::MissingData {
                estimator: name,
                what: format!("{} validation event", scope_name(self.scope)),
                hint: "evaluate on the validation set during training".into(),
            });
        }
        let n = self.last.unwrap_or(events.len());
        if n == 0 {
            return Err(EstimatorError::BadParameter("SoVL over the last 0 events".into()));
        }
        if events.len() < n {
            return Err(EstimatorError::WindowNotCovered {
                estimator: name,
                window: format!("last={n} validation events"),
                needed: n,
                available: events.len(),
            });
        }
        let mut sum = 0.0;
        for v in &events[events.len() - n..] {
            sum += finite(&name, "validation loss", v.step, v.loss)?;
        }
        Ok(-sum)
    }
}
