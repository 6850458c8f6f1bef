//! The parameter-count baseline.

use crate::{Estimator, EstimatorError, RecordView, Result};

/// Number of trainable parameters (the "Params" baseline of thesis Sec. 4.2.4).
///
/// `score = |theta|`: bigger networks are predicted better, a baseline that reaches a rank
/// correlation of about 0.8 on NAS-Bench-201 in the thesis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ParamCount;

impl Estimator for ParamCount {
    fn name(&self) -> String {
        "Params".into()
    }

    fn score_view(&self, view: RecordView<'_>) -> Result<f64> {
        view.param_count.map(|p| p as f64).ok_or_else(|| EstimatorError::MissingData {
            estimator: self.name(),
            what: "parameter count".into(),
            hint: "set TrainingRecord::param_count when building the network".into(),
        })
    }
}
