//! ValAcc and ValAccMini: the latest validation accuracy, on the whole set or one minibatch.

use crate::estimator::finite;
use crate::{Estimator, EstimatorError, RecordView, Result, ValRecord, ValScope};

/// The latest validation event of `scope`, or a missing-data error naming `estimator`.
fn latest<'a>(estimator: &str, view: &RecordView<'a>, scope: ValScope) -> Result<&'a ValRecord> {
    view.vals.iter().rev().find(|v| v.scope == scope).ok_or_else(|| EstimatorError::MissingData {
        estimator: estimator.to_string(),
        what: format!("{} validation event", scope_name(scope)),
        hint: match scope {
            ValScope::Full => {
                "evaluate on the whole validation set during training (e.g. every 100 steps)".into()
            }
            ValScope::Minibatch => "evaluate on a validation minibatch during training".into(),
        },
    })
}

pub(crate) fn scope_name(scope: ValScope) -> &'static str {
    match scope {
        ValScope::Full => "full-set",
        ValScope::Minibatch => "minibatch",
    }
}

/// Validation accuracy on the whole validation set at the latest full evaluation (thesis
/// Sec. 3.2.2, "ValAcc"; the standard early-stopping estimate).
///
/// `score = acc_val(theta_t*)`, with `t*` the latest step that has a [`ValScope::Full`] event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ValAcc;

impl Estimator for ValAcc {
    fn name(&self) -> String {
        "ValAcc".into()
    }

    fn score_view(&self, view: RecordView<'_>) -> Result<f64> {
        let name = self.name();
        let v = latest(&name, &view, ValScope::Full)?;
        finite(&name, "validation accuracy", v.step, v.acc)
    }
}

/// Validation accuracy on one minibatch at the latest minibatch evaluation (thesis
/// Sec. 3.2.2, "ValAccMini"; what one-shot NAS usually ranks by).
///
/// `score = acc_val_minibatch(theta_t*)`, with `t*` the latest [`ValScope::Minibatch`] event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ValAccMini;

impl Estimator for ValAccMini {
    fn name(&self) -> String {
        "ValAccMini".into()
    }

    fn score_view(&self, view: RecordView<'_>) -> Result<f64> {
        let name = self.name();
        let v = latest(&name, &view, ValScope::Minibatch)?;
        finite(&name, "validation accuracy", v.step, v.acc)
    }
}
