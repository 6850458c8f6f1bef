//! TLMini: the training loss of the latest minibatch.

use crate::estimator::finite;
use crate::{Estimator, RecordView, Result, Window};

/// The latest minibatch training loss (the TLMini baseline of the thesis, Sec. 3.2.2).
///
/// `score = -L_T`, the loss recorded at the last step `T` of the view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TlMini;

impl Estimator for TlMini {
    fn name(&self) -> String {
        "TLMini".into()
    }

    fn score_view(&self, view: RecordView<'_>) -> Result<f64> {
        let name = self.name();
        let s = Window::LastSteps(1).select(&name, &view)?[0];
        Ok(-finite(&name, "training loss", s.step, s.train_loss)?)
    }
}
