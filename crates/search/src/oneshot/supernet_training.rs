//! A supernet training run: trainer, cosine schedule, data order, RNG and exact resume.

use std::path::Path;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use sotl_train::{
    derive_seed, BatchSource, DeviceImages, Granularity, LrSchedule, Stream, TensorBatches,
};
use tch::{Device, Tensor};

use super::path_net::ArchOf;
use super::{
    OneShotError, OneShotResult, PathNet, SgdSettings, StepStats, SupernetTrainerConfig,
    SupernetTrainerState,
};

/// Hyperparameters of supernet training. Defaults: NAS-Bench-201's one-shot setup (thesis
/// Appendix B; AutoDL-Projects' `weight-sharing.config`): batch 64, SGD Nesterov momentum 0.9,
/// lr 0.025 cosine-annealed to 0.001, weight decay 5e-4, gradient norm clipped to 5, 100 epochs,
/// random crop and flip on every training batch.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SupernetTrainConfig {
    /// The trainer and its knobs.
    pub trainer: SupernetTrainerConfig,
    /// Minibatch size.
    pub batch_size: usize,
    /// Epochs over the training split (an epoch is `floor(N / batch_size)` minibatches).
    pub epochs: usize,
    /// Cap on outer steps (0: none), for quick runs; the schedule still spans all epochs unless
    /// the cap is hit, so a capped run is a prefix of the full one.
    pub max_steps: usize,
    /// Peak learning rate.
    pub lr: f64,
    /// Floor of the cosine schedule.
    pub lr_min: f64,
    /// SGD momentum.
    pub momentum: f64,
    /// Nesterov momentum.
    pub nesterov: bool,
    /// L2 weight decay.
    pub weight_decay: f64,
    /// Gradient-norm clip (0: off).
    pub grad_clip: f64,
    /// Random crop and flip on every training minibatch.
    pub augment: bool,
    /// Seed of path sampling and data order (weight init is seeded by the caller).
    pub seed: u64,
}

impl Default for SupernetTrainConfig {
    fn default() -> Self {
        SupernetTrainConfig {
            trainer: SupernetTrainerConfig::default(),
            batch_size: 64,
            epochs: 100,
            max_steps: 0,
            lr: 0.025,
            lr_min: 0.001,
            momentum: 0.9,
            nesterov: true,
            weight_decay: 5e-4,
            grad_clip: 5.0,
            augment: true,
            seed: 0,
        }
    }
}

impl SupernetTrainConfig {
    /// Checks every value; called before any tensor is allocated.
    pub fn validate(&self) -> OneShotResult<()> {
        self.trainer.build()?;
        let c = |field: &'static str, reason: String| OneShotError::Config { field, reason };
        if self.batch_size == 0 {
            return Err(c("train.batch_size", "must be at least 1".into()));
        }
        if self.epochs == 0 {
            return Err(c("train.epochs", "must be at least 1".into()));
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(c("train.lr", format!("is {}; expected a positive number", self.lr)));
        }
        if !(self.lr_min.is_finite() && self.lr_min >= 0.0 && self.lr_min <= self.lr) {
            return Err(c(
                "train.lr_min",
                format!("is {}; expected 0 <= lr_min <= lr", self.lr_min),
            ));
        }
        if !(0.0..1.0).contains(&self.momentum) {
            return Err(c(
                "train.momentum",
                format!("is {}; expected 0 <= momentum < 1", self.momentum),
            ));
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return Err(c(
                "train.weight_decay",
                format!("is {}; expected >= 0", self.weight_decay),
            ));
        }
        if !(self.grad_clip.is_finite() && self.grad_clip >= 0.0) {
            return Err(c(
                "train.grad_clip",
                format!("is {}; expected >= 0 (0 turns clipping off)", self.grad_clip),
            ));
        }
        Ok(())
    }

    /// The optimizer settings of this config.
    pub fn sgd(&self) -> SgdSettings {
        SgdSettings {
            momentum: self.momentum,
            nesterov: self.nesterov,
            weight_decay: self.weight_decay,
            grad_clip: (self.grad_clip > 0.0).then_some(self.grad_clip),
        }
    }
}

/// Where a run stands, saved in checkpoints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct RunMeta {
    config: SupernetTrainConfig,
    step: usize,
    rng_word_pos: String,
    started: Vec<bool>,
    n_weights: usize,
    n_buffers: usize,
}

/// A supernet being trained by one trainer: everything needed to continue it bit for bit.
pub struct SupernetTraining<'n, N: PathNet + ?Sized> {
    net: &'n N,
    config: SupernetTrainConfig,
    state: SupernetTrainerState,
    /// Minibatches per epoch of the training split.
    per_epoch: usize,
    /// Minibatches served so far (the data position).
    position: usize,
    /// The minibatches of the training split, made at the first step (it caches the epoch's
    /// permutation).
    source: Option<TensorBatches>,
    rng: ChaCha8Rng,
    step: usize,
    total_steps: usize,
    /// Losses of steps taken but not read back yet (step index, 0-d tensor on the device).
    pending: Vec<(usize, Tensor)>,
    /// Losses read back (by [`SupernetTraining::save`]) but not handed out yet.
    unclaimed: Vec<f64>,
}

const TRAIN_LOSS: &str = "supernet training loss";

impl<'n, N: PathNet + ?Sized> SupernetTraining<'n, N> {
    /// A fresh run over a training split of `n_train` images.
    pub fn new(net: &'n N, config: SupernetTrainConfig, n_train: usize) -> OneShotResult<Self> {
        config.validate()?;
        let trainer = config.trainer.build()?;
        if n_train < config.batch_size {
            return Err(OneShotError::config(
                "batch_size",
                format!(
                    "is {}, larger than the {n_train} training images; lower it or use more data",
                    config.batch_size
                ),
            ));
        }
        let per_epoch = n_train / config.batch_size;
        let total_minibatches = config.epochs * per_epoch;
        let mut total_steps = total_minibatches / trainer.minibatches_per_step();
        if config.max_steps > 0 {
            total_steps = total_steps.min(config.max_steps);
        }
        if total_steps == 0 {
            return Err(OneShotError::config(
                "train.epochs",
                format!(
                    "gives no outer step: {} minibatches in all, {} per step",
                    total_minibatches,
                    trainer.minibatches_per_step()
                ),
            ));
        }
        Ok(SupernetTraining {
            net,
            config,
            state: SupernetTrainerState::new(trainer, net, config.sgd())?,
            per_epoch,
            position: 0,
            source: None,
            rng: ChaCha8Rng::seed_from_u64(derive_seed(config.seed, Stream::TrainStep, 0)),
            step: 0,
            total_steps,
            pending: Vec::new(),
            unclaimed: Vec::new(),
        })
    }

    /// Outer steps taken so far.
    pub fn step_count(&self) -> usize {
        self.step
    }

    /// Outer steps of the whole run.
    pub fn total_steps(&self) -> usize {
        self.total_steps
    }

    /// Whether the run is complete.
    pub fn is_done(&self) -> bool {
        self.step >= self.total_steps
    }

    /// The config in force.
    pub fn config(&self) -> &SupernetTrainConfig {
        &self.config
    }

    /// Current epoch (of the next minibatch).
    pub fn epoch(&self) -> usize {
        self.position / self.per_epoch
    }

    /// Learning rate of the next step.
    pub fn lr(&self) -> f64 {
        // Cosine annealing per minibatch (Loshchilov & Hutter 2017, updated every minibatch as
        // AutoDL-Projects' scheduler does for supernet training).
        LrSchedule::Cosine {
            base_lr: self.config.lr,
            eta_min: self.config.lr_min,
            warmup_epochs: 0,
            epochs: self.config.epochs,
            granularity: Granularity::Step,
        }
        .lr_at_step(
            self.position / self.per_epoch,
            self.position % self.per_epoch,
            self.per_epoch,
        )
    }

    /// Takes one outer step on minibatches of `data` (the split of `n_train` images this run
    /// was made for).
    pub fn step(&mut self, data: &DeviceImages) -> OneShotResult<StepStats<ArchOf<N>>> {
        let lr = self.lr();
        let k = self.state.trainer().minibatches_per_step();
        let source = match &mut self.source {
            Some(s) => s,
            None => self.source.insert(data.batches(
                self.config.batch_size,
                derive_seed(self.config.seed, Stream::TrainOrder, 0),
                self.config.augment,
            )?),
        };
        let mut batches: Vec<(Tensor, Tensor)> = Vec::with_capacity(k);
        for _ in 0..k {
            let b = source.batch(self.position / self.per_epoch, self.position % self.per_epoch)?;
            self.position += 1;
            batches.push((b.inputs, b.targets));
        }
        let stats = self.state.step(self.net, &batches, lr, &mut self.rng)?;
        self.pending.push((self.step, stats.loss.shallow_clone()));
        self.step += 1;
        Ok(stats)
    }

    /// The losses of the steps taken since the last call, read back from the device in one
    /// transfer (a step never waits for the device; read every few dozen steps for progress).
    /// A non-finite loss is an error naming its step.
    pub fn read_losses(&mut self) -> OneShotResult<Vec<f64>> {
        self.read_pending()?;
        Ok(std::mem::take(&mut self.unclaimed))
    }

    fn read_pending(&mut self) -> OneShotResult<()> {
        let values = sotl_train::read_scalars(self.pending.iter().map(|(_, t)| t))?;
        for ((step, _), value) in std::mem::take(&mut self.pending).into_iter().zip(values) {
            if !value.is_finite() {
                return Err(OneShotError::NonFinite { what: TRAIN_LOSS, step, value });
            }
            self.unclaimed.push(value);
        }
        Ok(())
    }

    /// Writes a checkpoint (weights, buffers, optimizer momentum, RNG, data position, step)
    /// atomically to `path`.
    ///
    /// The losses of the steps since the last read are read and checked first, so a run that
    /// went non-finite is never checkpointed.
    pub fn save(&mut self, path: &Path) -> OneShotResult<()> {
        self.read_pending()?;
        let weights = self.net.weights();
        let buffers = self.net.buffers();
        let (mom, started) = self.state.optimizer().momentum_dense();
        let mut named: Vec<(String, Tensor)> = Vec::new();
        named
            .extend(weights.iter().enumerate().map(|(i, t)| (format!("w.{i}"), t.shallow_clone())));
        named
            .extend(buffers.iter().enumerate().map(|(i, t)| (format!("b.{i}"), t.shallow_clone())));
        named.extend(mom.iter().enumerate().map(|(i, t)| (format!("m.{i}"), t.shallow_clone())));
        let meta = RunMeta {
            config: self.config,
            step: self.step,
            rng_word_pos: self.rng.get_word_pos().to_string(),
            started: started.to_vec(),
            n_weights: weights.len(),
            n_buffers: buffers.len(),
        };
        let meta = serde_json::to_value(&meta).expect("run metadata serializes");
        sotl_train::save_checkpoint(path, &named, &meta).map_err(|e| OneShotError::Checkpoint {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })
    }

    /// Continues from a checkpoint written by [`SupernetTraining::save`] with the same config.
    pub fn resume(&mut self, path: &Path) -> OneShotResult<()> {
        let meta = load_supernet(self.net, path)?;
        let fail = |reason: String| OneShotError::Checkpoint { path: path.to_path_buf(), reason };
        let meta: RunMeta = serde_json::from_value(meta)
            .map_err(|e| fail(format!("not a supernet training checkpoint ({e})")))?;
        if meta.config != self.config {
            return Err(fail(format!(
                "it was written with a different training config ({:?}); use a new --out folder or the same config",
                meta.config
            )));
        }
        let (tensors, _) = sotl_train::load_checkpoint(path, device_of(self.net))
            .map_err(|e| fail(e.to_string()))?;
        let mut mom: Vec<(usize, Tensor)> = tensors
            .into_iter()
            .filter_map(|(n, t)| n.strip_prefix("m.").and_then(|i| i.parse().ok()).map(|i| (i, t)))
            .collect();
        mom.sort_by_key(|(i, _)| *i);
        let mom: Vec<Tensor> = mom.into_iter().map(|(_, t)| t).collect();
        self.state
            .optimizer_mut()
            .load_momentum_dense(&mom, &meta.started)
            .map_err(|e| fail(e.to_string()))?;
        let pos: u128 = meta.rng_word_pos.parse().map_err(|_| fail("bad RNG position".into()))?;
        self.rng.set_word_pos(pos);
        self.step = meta.step;
        self.pending.clear();
        self.unclaimed.clear();
        self.position = meta.step * self.state.trainer().minibatches_per_step();
        Ok(())
    }
}

fn device_of<N: PathNet + ?Sized>(net: &N) -> Device {
    net.weights().first().map(|w| w.device()).unwrap_or(Device::Cpu)
}

/// Loads the weights and buffers of a supernet checkpoint into `net` (copying into its
/// tensors); returns the checkpoint's metadata. Used by `rank --supernet`.
pub fn load_supernet<N: PathNet + ?Sized>(
    net: &N,
    path: &Path,
) -> OneShotResult<serde_json::Value> {
    let fail = |reason: String| OneShotError::Checkpoint { path: path.to_path_buf(), reason };
    let (tensors, meta) =
        sotl_train::load_checkpoint(path, device_of(net)).map_err(|e| fail(e.to_string()))?;
    let weights = net.weights();
    let buffers = net.buffers();
    let mut seen_w = vec![false; weights.len()];
    let mut seen_b = vec![false; buffers.len()];
    for (name, t) in &tensors {
        let (dst, seen) = if let Some(i) = name.strip_prefix("w.") {
            let i: usize = i.parse().map_err(|_| fail(format!("bad tensor name {name}")))?;
            (weights.get(i), seen_w.get_mut(i))
        } else if let Some(i) = name.strip_prefix("b.") {
            let i: usize = i.parse().map_err(|_| fail(format!("bad tensor name {name}")))?;
            (buffers.get(i), seen_b.get_mut(i))
        } else {
            continue;
        };
        let (Some(dst), Some(seen)) = (dst, seen) else {
            return Err(fail(format!("it has tensor {name}, which this supernet lacks: was it built with another network config?")));
        };
        if dst.size() != t.size() {
            return Err(fail(format!(
                "tensor {name} has shape {:?}, the supernet {:?}: was it built with another network config?",
                t.size(),
                dst.size()
            )));
        }
        tch::no_grad(|| dst.shallow_clone().copy_(t));
        *seen = true;
    }
    if seen_w.iter().chain(&seen_b).any(|s| !s) {
        return Err(fail(
            "it lacks some of this supernet's tensors: was it built with another network config?"
                .into(),
        ));
    }
    Ok(meta)
}
