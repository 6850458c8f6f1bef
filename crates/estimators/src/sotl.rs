//! SoTL: the sum of training losses, over a window or exponentially weighted by epoch.

use crate::estimator::finite;
use crate::{Estimator, EstimatorError, RecordView, Result, Window};

/// Sum of training losses over a window of steps (Ru, Lyle, Schut, Fil, van der Wilk & Gal 2021,
/// "Speedy performance estimation for neural architecture search"; thesis Sec. 3.1, Eq. 3.1).
///
/// `score = -sum_{t in W} L(f_{theta_t}(x_{i(t)}), y_{i(t)})`, where `L` is the minibatch
/// training loss recorded *before* the update at step `t`. A lower loss sum means faster
/// training, which the thesis links to a higher marginal likelihood lower bound, hence the minus.
///
/// Common windows: [`Window::LastEpochs`]`(1)` is SoTL-E (the thesis' default "SoTL"),
/// [`Window::FirstSteps`]`(100)` is the finetune-and-rank score after 100 finetuning minibatches.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sotl {
    /// The steps summed over.
    pub window: Window,
}

impl Sotl {
    /// SoTL over `window`.
    pub const fn new(window: Window) -> Self {
        Self { window }
    }

    /// SoTL-E with `E = 1`: the last epoch's worth of steps.
    pub const fn last_epoch() -> Self {
        Self { window: Window::LastEpochs(1) }
    }
}

impl Estimator for Sotl {
    fn name(&self) -> String {
        match self.window {
            Window::LastEpochs(1) => "SoTL-E".into(),
            Window::LastEpochs(e) => format!("SoTL-E{e}"),
            w => format!("SoTL({w})"),
        }
    }

    fn score_view(&self, view: RecordView<'_>) -> Result<f64> {
        let name = self.name();
        let mut sum = 0.0;
        for s in self.window.select(&name, &view)? {
            sum += finite(&name, "training loss", s.step, s.train_loss)?;
        }
        Ok(-sum)
    }
}

/// SoTL with exponentially decaying weights on older epochs (TSE-EMA of Ru et al. 2021).
///
/// `score = -sum_{e=0}^{E} gamma^{E-e} * mean_{t in epoch e} L_t`, where `E` is the latest epoch in
/// the record and `mean` averages the recorded minibatch losses of that epoch (a partly recorded
/// last epoch is averaged over the steps it has). Ru et al. use `gamma = 0.9`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SotlEma {
    /// Decay per epoch, in `(0, 1]`.
    pub decay: f64,
}

impl SotlEma {
    /// The decay Ru et al. (2021) use.
    pub const DEFAULT_DECAY: f64 = 0.9;

    /// SoTL-EMA with the given per-epoch decay; errors unless `0 < decay <= 1`.
    pub fn new(decay: f64) -> Result<Self> {
        if !(decay > 0.0 && decay <= 1.0) {
            return Err(EstimatorError::BadParameter(format!(
                "SoTL-EMA decay must be in (0, 1], got {decay}"
            )));
        }
        Ok(Self { decay })
    }
}

impl Estimator for SotlEma {
    fn name(&self) -> String {
        format!("SoTL-EMA({})", self.decay)
    }

    fn score_view(&self, view: RecordView<'_>) -> Result<f64> {
        let name = self.name();
        let steps = Window::All.select(&name, &view)?;
        let last_epoch = steps[steps.len() - 1].epoch;
        let (mut total, mut sum, mut n, mut epoch) = (0.0, 0.0, 0usize, steps[0].epoch);
        // Steps are in epoch order, so each epoch is one contiguous run.
        let mut flush = |epoch: usize, sum: f64, n: usize| {
            if n > 0 {
                total += self.decay.powi((last_epoch - epoch) as i32) * sum / n as f64;
            }
        };
        for s in steps {
            if s.epoch != epoch {
                flush(epoch, sum, n);
                (sum, n, epoch) = (0.0, 0, s.epoch);
            }
            sum += finite(&name, "training loss", s.step, s.train_loss)?;
            n += 1;
        }
        flush(epoch, sum, n);
        Ok(-total)
    }
}
