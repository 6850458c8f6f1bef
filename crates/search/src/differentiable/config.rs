//! The typed configuration of a differentiable search.

use serde::{Deserialize, Serialize};
use sotl_diagnostics::{PowerIterationConfig, DEFAULT_SKIP_COLLAPSE_THRESHOLD};
use sotl_train::{AdamConfig, Granularity, LrSchedule, SgdConfig};

use super::{DrnasRegularizer, HvpMethod};
use crate::{DartsError, DartsResult};

/// How a differentiable search draws its validation batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValSampling {
    /// Passes over a shuffled validation split, one batch per step, as over the training split.
    #[default]
    Sequential,
    /// Each step a batch drawn afresh (distinct images, independent across steps), as DrNAS'
    /// `next(iter(valid_queue))` and AutoDL-Projects' paired search loader draw them.
    Random,
}

/// Hyperparameters of a differentiable search on NAS-Bench-201.
///
/// Defaults are the NAS-Bench-201 DARTS setup (Dong & Yang 2020; thesis Appendix B): batch 64;
/// weights by SGD, lr 0.025 cosine to 0.001 per epoch, momentum 0.9, weight decay 3e-4, gradient
/// clipping at norm 5; alpha by Adam, lr 3e-4, betas (0.5, 0.999), weight decay 1e-3; 50 epochs;
/// T = 100 steps per SoTL/SoVL window. (AutoDL-Projects' `DARTS.config` and thesis Table B.1 use
/// weight decay 5e-4 with Nesterov momentum for NAS-Bench-201; DARTS' and DrNAS' own code 3e-4
/// without Nesterov. Both are a config key away.)
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DartsConfig {
    /// Search epochs (one epoch = one pass over the training split).
    pub epochs: usize,
    /// Minibatch size of both splits.
    pub batch_size: usize,
    /// Gradient accumulation: each minibatch runs as this many micro-batches whose gradients
    /// (of the weights and of alpha) are summed, weighted by their share, before one step. It
    /// divides activation memory by about this much at the same minibatch; batch norms then
    /// see micro-batch statistics. 1 = off. Not with second-order DARTS or the exact SoTL
    /// hypergradient, which differentiate through a whole step.
    pub accumulate: usize,
    /// Peak learning rate of the weights.
    pub w_lr: f64,
    /// Floor of the weights' cosine schedule.
    pub w_lr_min: f64,
    /// SGD momentum of the weights.
    pub w_momentum: f64,
    /// Nesterov momentum for the weights.
    pub w_nesterov: bool,
    /// Coupled L2 weight decay of the weights.
    pub w_weight_decay: f64,
    /// Global gradient-norm clip of the weights (0 disables).
    pub grad_clip: f64,
    /// Global gradient-norm clip of alpha's gradient before each alpha step (0 disables, as
    /// DARTS; PDARTS clips at 5 as it does the weights).
    pub arch_grad_clip: f64,
    /// Adam learning rate of alpha.
    pub arch_lr: f64,
    /// Adam beta1 of alpha.
    pub arch_beta1: f64,
    /// Adam beta2 of alpha.
    pub arch_beta2: f64,
    /// Adam weight decay of alpha (DrNAS' L2 regularizer scale when the regularizer is `l2`).
    pub arch_weight_decay: f64,
    /// Standard deviation of alpha's initialization, `α ~ N(0, σ²)` (1e-3 in DARTS).
    pub alpha_init_std: f64,
    /// T: steps per SoTL / SoVL window (100 in the thesis).
    pub unroll_steps: usize,
    /// Second-order DARTS: how the Hessian-vector product is computed.
    pub hvp: HvpMethod,
    /// Second-order DARTS: the virtual step size ξ; absent = the current weight learning rate,
    /// as the original code.
    pub xi: Option<f64>,
    /// Second-order DARTS: include the momentum and weight-decay terms in the virtual step, as the
    /// original `_compute_unrolled_model`.
    pub unrolled_momentum_wd: bool,
    /// SoTL-DARTS: also restore the weight optimizer's state (momentum) with the weights before
    /// step 3. Appendix A reloads only the model's `state_dict`, so the default is `false`: the
    /// retraining continues from the momentum the unrolling built up.
    pub sotl_restore_optimizer: bool,
    /// DrNAS: the regularizer on the concentration.
    pub drnas_reg: DrnasRegularizer,
    /// DrNAS: scale of the KL regularizer (with `drnas_reg = "kl"`).
    pub drnas_kl_scale: f64,
    /// DrNAS' progressive search (its `train_search_progressive.py`): the epochs run in two equal
    /// stages and, at the start of the second, each edge keeps only its this-many ops of largest
    /// alpha (the reference keeps 3 of 5). 0 = one stage, no pruning. Dirichlet methods only.
    pub drnas_progressive_keep: usize,
    /// DrNAS' partial channels per stage (the reference's `ks = [4, 2]`): in stage `i` every
    /// cell op sees `1/k_i` of its input's channels and the rest pass by unchanged
    /// (`NAS201SearchCell_PartialChannel`); between stages the ops are widened by copying
    /// randomly chosen channels (net2wider), momentum included. A later stage without an entry
    /// keeps the last `k`; `[1]` uses all channels throughout. Dirichlet methods only.
    pub drnas_partial_channels: Vec<usize>,
    /// DrNAS: the weights' learning rate climbs back to `w_lr` when the second stage begins and
    /// falls to `w_lr_min` by the last epoch along the rest of the cosine, rescaled:
    /// `lr(t) = min + (max - min) (1 + cos(pi t / T)) / (1 + cos(pi t0 / T))` for epoch
    /// `t >= t0`, the stage's first epoch. This is what the reference's progressive script does
    /// under PyTorch >= 1.4: it builds a new SGD at `learning_rate` for the widened network and
    /// loads the old cosine scheduler's state into a new one, whose recursive update then
    /// starts from that rate (older PyTorch computed the closed form, one cosine). `false`
    /// (the default): one cosine over all epochs, as the scheduler's `T_max` over both stages
    /// intends. Dirichlet methods with progressive stages only.
    pub drnas_stage_lr_restart: bool,
    /// DrNAS: the fraction of each stage's epochs, at its start, in which only the weights train
    /// (the reference updates alpha only `if epoch >= 10` of each 50-epoch stage: 0.2).
    /// Dirichlet methods only.
    pub drnas_warmup_fraction: f64,
    /// Random crops (4 pixels of padding, scaled to the image side) and horizontal flips on the
    /// search's training and validation batches, as the search scripts of AutoDL-Projects and
    /// DrNAS load both splits with the training transform. Off by default, so that earlier
    /// results reproduce; `configs/darts-scaled.toml` turns it on.
    pub augment: bool,
    /// How the validation batches of the methods that use them are drawn.
    pub val_sampling: ValSampling,
    /// Warm-up: the first this many epochs train the weights only, alpha fixed, for every
    /// method (PC-DARTS and DrNAS warm up 15 and 10 of 50 epochs: an untrained supernet
    /// rewards parameter-free ops). 0 = alpha from the first step, as DARTS.
    pub arch_warmup_epochs: usize,
    /// Measure the dominant eigenvalue of `∇²_α L` every this many epochs (0 = never); the last
    /// epoch is always measured when this is non-zero.
    pub eigen_every: usize,
    /// Batches averaged in the loss whose alpha-Hessian is measured.
    pub eigen_batches: usize,
    /// Power-iteration settings of the eigenvalue.
    pub power_iteration: PowerIterationConfig,
    /// Warn when the genotype has at least this many skip connections.
    pub skip_collapse_threshold: usize,
}

impl Default for DartsConfig {
    fn default() -> Self {
        Self {
            epochs: 50,
            batch_size: 64,
            accumulate: 1,
            w_lr: 0.025,
            w_lr_min: 0.001,
            w_momentum: 0.9,
            w_nesterov: false,
            w_weight_decay: 3e-4,
            grad_clip: 5.0,
            arch_grad_clip: 0.0,
            arch_lr: 3e-4,
            arch_beta1: 0.5,
            arch_beta2: 0.999,
            arch_weight_decay: 1e-3,
            alpha_init_std: 1e-3,
            unroll_steps: 100,
            hvp: HvpMethod::FiniteDifference,
            xi: None,
            unrolled_momentum_wd: true,
            sotl_restore_optimizer: false,
            drnas_reg: DrnasRegularizer::L2,
            drnas_kl_scale: 1e-3,
            drnas_progressive_keep: 3,
            drnas_partial_channels: vec![4, 2],
            drnas_warmup_fraction: 0.2,
            drnas_stage_lr_restart: false,
            augment: false,
            val_sampling: ValSampling::Sequential,
            arch_warmup_epochs: 0,
            eigen_every: 5,
            eigen_batches: 2,
            power_iteration: PowerIterationConfig { max_iters: 20, tol: 1e-3, seed: 0 },
            skip_collapse_threshold: DEFAULT_SKIP_COLLAPSE_THRESHOLD,
        }
    }
}

impl DartsConfig {
    /// Checks every value once, before any tensor is allocated, naming the first bad key.
    pub fn validate(&self) -> DartsResult<()> {
        let bad = |field: &'static str, reason: String| Err(DartsError::Config { field, reason });
        let rate = |x: f64| x.is_finite() && x >= 0.0;
        if self.epochs == 0 {
            return bad("epochs", "must be at least 1".into());
        }
        if self.batch_size == 0 {
            return bad("batch_size", "must be at least 1".into());
        }
        if self.accumulate == 0 || self.accumulate > self.batch_size {
            return bad(
                "accumulate",
                format!(
                    "{} micro-batches per minibatch of {}; use 1 (off) to batch_size",
                    self.accumulate, self.batch_size
                ),
            );
        }
        if !rate(self.w_lr) || !rate(self.w_lr_min) || self.w_lr_min > self.w_lr {
            return bad(
                "w_lr",
                format!(
                    "w_lr {} and w_lr_min {} must satisfy 0 <= w_lr_min <= w_lr",
                    self.w_lr, self.w_lr_min
                ),
            );
        }
        if !rate(self.grad_clip) {
            return bad("grad_clip", format!("must be >= 0 (0 disables), got {}", self.grad_clip));
        }
        if !rate(self.arch_grad_clip) {
            return bad(
                "arch_grad_clip",
                format!("must be >= 0 (0 disables), got {}", self.arch_grad_clip),
            );
        }
        if !(self.alpha_init_std.is_finite() && self.alpha_init_std >= 0.0) {
            return bad("alpha_init_std", format!("must be >= 0, got {}", self.alpha_init_std));
        }
        if self.unroll_steps == 0 {
            return bad("unroll_steps", "T must be at least 1".into());
        }
        if let Some(xi) = self.xi {
            if !rate(xi) {
                return bad("xi", format!("must be >= 0, got {xi}"));
            }
        }
        if !rate(self.drnas_kl_scale) {
            return bad("drnas_kl_scale", format!("must be >= 0, got {}", self.drnas_kl_scale));
        }
        if self.drnas_progressive_keep > 5 {
            return bad(
                "drnas_progressive_keep",
                format!(
                    "ops kept per edge must be 1..=5 (0 = no pruning), got {}",
                    self.drnas_progressive_keep
                ),
            );
        }
        if !(self.drnas_warmup_fraction.is_finite()
            && (0.0..1.0).contains(&self.drnas_warmup_fraction))
        {
            return bad(
                "drnas_warmup_fraction",
                format!("must be in [0, 1), got {}", self.drnas_warmup_fraction),
            );
        }
        if self.arch_warmup_epochs >= self.epochs {
            return bad(
                "arch_warmup_epochs",
                format!(
                    "is {} of {} epochs, which leaves alpha no epoch to learn in; lower it or raise epochs",
                    self.arch_warmup_epochs, self.epochs
                ),
            );
        }
        let ks = &self.drnas_partial_channels;
        if ks.is_empty()
            || ks.contains(&0)
            || ks.windows(2).any(|w| w[1] > w[0] || w[0] % w[1] != 0)
        {
            return bad(
                "drnas_partial_channels",
                format!(
                    "is {ks:?}: give at least one k >= 1, each later k dividing the one before (e.g. [4, 2], or [1] for all channels)"
                ),
            );
        }
        if self.eigen_every > 0 && self.eigen_batches == 0 {
            return bad("eigen_batches", "must be at least 1 when eigen_every > 0".into());
        }
        if !(1..=6).contains(&self.skip_collapse_threshold) {
            return bad(
                "skip_collapse_threshold",
                format!("must be in 1..=6, got {}", self.skip_collapse_threshold),
            );
        }
        self.power_iteration
            .validate()
            .map_err(|e| DartsError::Config { field: "power_iteration", reason: e.to_string() })?;
        self.weight_optimizer()
            .validate()
            .map_err(|e| DartsError::Config { field: "w_*", reason: e.to_string() })?;
        self.arch_optimizer(false)
            .validate()
            .map_err(|e| DartsError::Config { field: "arch_*", reason: e.to_string() })?;
        Ok(())
    }

    /// The epochs `[start, end)` of each stage of a Dirichlet search: two equal halves (the first
    /// the shorter when `epochs` is odd) with progressive pruning, else one (also when a single
    /// epoch cannot be split).
    pub fn drnas_stages(&self) -> Vec<(usize, usize)> {
        if self.drnas_progressive_keep == 0 || self.epochs < 2 {
            return vec![(0, self.epochs)];
        }
        let mid = self.epochs / 2;
        vec![(0, mid), (mid, self.epochs)]
    }

    /// The partial-channel `k` of stage `stage` of a Dirichlet search (the last entry for later
    /// stages).
    pub fn drnas_partial_channels_at(&self, stage: usize) -> usize {
        let ks = &self.drnas_partial_channels;
        ks.get(stage).or(ks.last()).copied().unwrap_or(1)
    }

    /// Warm-up epochs (weights only) at the start of a Dirichlet stage of `len` epochs.
    pub fn drnas_warmup_epochs(&self, len: usize) -> usize {
        ((len as f64 * self.drnas_warmup_fraction).round() as usize).min(len.saturating_sub(1))
    }

    /// The weights' learning rate in epoch `epoch` of a search by a Dirichlet (`dirichlet`
    /// true) or softmax method: the cosine of [`DartsConfig::schedule`], restarted at DrNAS'
    /// second stage when [`DartsConfig::drnas_stage_lr_restart`] says so.
    pub fn weight_lr_at(&self, epoch: usize, dirichlet: bool) -> f64 {
        let stages = self.drnas_stages();
        let restart = dirichlet && self.drnas_stage_lr_restart && stages.len() > 1;
        match stages.last() {
            Some(&(t0, _)) if restart && epoch >= t0 && t0 > 0 => {
                let t = std::f64::consts::PI / self.epochs as f64;
                let (lo, hi) = (self.w_lr_min, self.w_lr);
                lo + (hi - lo) * (1.0 + (t * epoch as f64).cos()) / (1.0 + (t * t0 as f64).cos())
            }
            _ => self.schedule().lr(epoch, 0.0),
        }
    }

    /// The weights' SGD settings (lr set by the schedule).
    pub fn weight_optimizer(&self) -> SgdConfig {
        SgdConfig {
            lr: self.w_lr,
            momentum: self.w_momentum,
            dampening: 0.0,
            weight_decay: self.w_weight_decay,
            nesterov: self.w_nesterov,
        }
    }

    /// Alpha's Adam settings; with `kl_regularized` the weight decay is off (DrNAS' `kl` option).
    pub fn arch_optimizer(&self, kl_regularized: bool) -> AdamConfig {
        AdamConfig {
            lr: self.arch_lr,
            beta1: self.arch_beta1,
            beta2: self.arch_beta2,
            eps: 1e-8,
            weight_decay: if kl_regularized { 0.0 } else { self.arch_weight_decay },
        }
    }

    /// The weights' schedule: cosine from `w_lr` to `w_lr_min` over `epochs`, stepped per epoch
    /// (PyTorch's `CosineAnnealingLR` stepped once an epoch, as DARTS and DrNAS do).
    pub fn schedule(&self) -> LrSchedule {
        LrSchedule::Cosine {
            base_lr: self.w_lr,
            eta_min: self.w_lr_min,
            warmup_epochs: 0,
            epochs: self.epochs,
            granularity: Granularity::Epoch,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_bad_values_name_their_key() {
        DartsConfig::default().validate().unwrap();
        let c = DartsConfig { unroll_steps: 0, ..Default::default() };
        assert!(c.validate().unwrap_err().to_string().contains("unroll_steps"));
        let c = DartsConfig { w_lr: f64::NAN, ..Default::default() };
        assert!(c.validate().unwrap_err().to_string().contains("w_lr"));
        let c = DartsConfig { w_momentum: 1.5, ..Default::default() };
        assert!(c.validate().is_err());
        for ks in [vec![], vec![0], vec![3, 2], vec![2, 4]] {
            let c = DartsConfig { drnas_partial_channels: ks.clone(), ..Default::default() };
            let e = c.validate().unwrap_err().to_string();
            assert!(e.contains("drnas_partial_channels"), "{ks:?}: {e}");
        }
        // Stage k: the reference's [4, 2], a later stage keeping the last.
        let c = DartsConfig::default();
        assert_eq!((0..3).map(|s| c.drnas_partial_channels_at(s)).collect::<Vec<_>>(), [4, 2, 2]);
    }

    #[test]
    fn drnas_second_stage_restarts_the_learning_rate_as_the_reference_scheduler_does() {
        // 10 epochs in stages 0..5 and 5..10; lr 0.025 to 0.001. Hand-computed: epoch 3 on the
        // one cosine, 0.001 + 0.024 (1 + cos 0.3 pi) / 2; epoch 5 back at 0.025; epoch 7
        // 0.001 + 0.024 (1 + cos 0.7 pi) / (1 + cos 0.5 pi); without the restart epoch 7 is
        // 0.001 + 0.024 (1 + cos 0.7 pi) / 2.
        let c = DartsConfig { epochs: 10, drnas_stage_lr_restart: true, ..Default::default() };
        assert!((c.weight_lr_at(3, true) - 0.020_053_4).abs() < 1e-6);
        assert!((c.weight_lr_at(5, true) - 0.025).abs() < 1e-12);
        assert!((c.weight_lr_at(7, true) - 0.010_893_2).abs() < 1e-6);
        assert!((c.weight_lr_at(9, true) - 0.001_0 - 0.024 * 0.048_943).abs() < 1e-6);
        assert!((c.weight_lr_at(7, false) - 0.005_946_6).abs() < 1e-6);
        let off = DartsConfig { drnas_stage_lr_restart: false, ..c.clone() };
        assert!((off.weight_lr_at(7, true) - 0.005_946_6).abs() < 1e-6);
        let one_stage = DartsConfig { drnas_progressive_keep: 0, ..c };
        assert!((one_stage.weight_lr_at(7, true) - 0.005_946_6).abs() < 1e-6);
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let e = serde_json::from_str::<DartsConfig>(r#"{"epochs": 3, "epoch": 4}"#).unwrap_err();
        assert!(e.to_string().contains("epoch"));
        let c: DartsConfig = serde_json::from_str(r#"{"epochs": 3, "hvp": "exact"}"#).unwrap();
        assert_eq!((c.epochs, c.hvp, c.batch_size), (3, HvpMethod::Exact, 64));
    }
}
