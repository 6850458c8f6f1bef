//! The `darts` row: the project's first-order DARTS step.

use sotl_search::{DartsConfig, DartsMethod, Nb201DartsSearch, SearchSplits};
use sotl_train::{Batch, BatchSource};
use tch::{Kind, Tensor};

use crate::{time_steps, BenchInputs, PerfConfig, Result, RowStats};

/// A split of one fixed batch: every epoch is that batch, so one `run_epoch` is one step.
pub(crate) struct OneBatch {
    pub(crate) inputs: Tensor,
    pub(crate) targets: Tensor,
}

impl BatchSource for OneBatch {
    fn batches_per_epoch(&self) -> usize {
        1
    }

    fn batch(&mut self, _epoch: usize, _index: usize) -> sotl_train::Result<Batch> {
        Ok(Batch { inputs: self.inputs.shallow_clone(), targets: self.targets.shallow_clone() })
    }
}

/// The search settings of the reference's DARTS-V1 step (AutoDL-Projects `DARTS.config`): SGD lr
/// 0.025, Nesterov momentum 0.9, weight decay 5e-4, clip at `grad_clip`; Adam on alpha with lr
/// 3e-4, betas (0.5, 0.999), weight decay 1e-3. The lr floor equals the peak, so the cosine
/// schedule over the benchmark's "epochs" (one step each) stays flat, and no eigenvalue is measured.
pub fn darts_config(cfg: &PerfConfig) -> DartsConfig {
    DartsConfig {
        epochs: cfg.warmup + cfg.steps,
        batch_size: cfg.batch,
        w_lr: 0.025,
        w_lr_min: 0.025,
        w_momentum: 0.9,
        w_nesterov: true,
        w_weight_decay: 5e-4,
        grad_clip: cfg.grad_clip,
        arch_lr: 3e-4,
        arch_beta1: 0.5,
        arch_beta2: 0.999,
        arch_weight_decay: 1e-3,
        eigen_every: 0,
        ..DartsConfig::default()
    }
}

/// Times first-order DARTS through [`sotl_search::DartsSearch::run_epoch`] on one-batch splits, so a step is
/// exactly what a real search runs per batch: an alpha step on `x_a` (soft-mixed forward with
/// alpha live, cross-entropy, gradient with respect to alpha only, Adam) and then a weight step
/// on `x_w` (forward with alpha detached, backward, clipping, SGD). 2 x batch images per step.
pub fn darts_row(cfg: &PerfConfig, inputs: &BenchInputs) -> Result<RowStats> {
    let dcfg = darts_config(cfg);
    let mut search = Nb201DartsSearch::new(
        DartsMethod::Darts1,
        &dcfg,
        &cfg.net_config(),
        cfg.seed,
        cfg.device,
        Kind::Float,
    )?;
    let mut train =
        OneBatch { inputs: inputs.x_w.shallow_clone(), targets: inputs.y_w.shallow_clone() };
    let mut val =
        OneBatch { inputs: inputs.x_a.shallow_clone(), targets: inputs.y_a.shallow_clone() };
    time_steps(cfg.warmup, cfg.steps, 2 * cfg.batch, |_| {
        let mut splits = SearchSplits { train: &mut train, val: Some(&mut val) };
        search.run_epoch(&mut splits, &mut |_| {})?;
        Ok(())
    })
}
