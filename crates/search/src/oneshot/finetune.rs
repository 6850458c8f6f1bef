//! Finetune-and-rank: score each pool candidate by a short finetuning from the supernet weights.

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use sotl_estimators::{BnStats, StepRecord, TrainingRecord};
use sotl_space::{Genotype, Nb201Arch};
use sotl_train::{
    accuracy, derive_seed, Batch, BatchOutput, BatchSource, DeviceImages, Measurement, Objective,
    Stream, Validation,
};
use tch::Tensor;

use super::sgd::path_sgd;
use super::trainer::{cross_entropy, path_gradients};
use super::{ArchOf, FinetunePool, OneShotError, OneShotResult, PathNet, TrainerKind};

/// Which BatchNorm statistics evaluations of a candidate use.
///
/// The supernet's stem, reduction and final BNs keep running statistics, but those were
/// accumulated over thousands of random paths and match no single candidate. Per-candidate batch
/// statistics avoid that mismatch, as AutoDL-Projects' search networks do for every cell BN
/// (`track_running_stats=False`) and as SPOS recalibrates BN statistics per candidate before
/// evaluating it (Guo et al. 2020), so `batch` is the default; `both` measures the two side by
/// side for studies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EvalBn {
    /// Batch statistics of each evaluation batch (train-mode BN under `no_grad`, with the running
    /// statistics put back afterwards).
    #[default]
    Batch,
    /// The running statistics held by the supernet (inherited) or updated by finetuning.
    Running,
    /// Both, recorded side by side (twice the evaluation time).
    Both,
}

impl EvalBn {
    /// The BN modes evaluated, the primary one first.
    pub fn modes(self) -> &'static [BnStats] {
        match self {
            EvalBn::Batch => &[BnStats::Batch],
            EvalBn::Running => &[BnStats::Running],
            EvalBn::Both => &[BnStats::Batch, BnStats::Running],
        }
    }
}

/// How each candidate is finetuned and measured. Defaults follow thesis 4.2 and its author's
/// finetuning code: batch 64, 300 finetuning minibatches, SoTL over the first 100,
/// whole-validation-set accuracy every 100 minibatches, a constant learning rate of 0.01 for SPOS
/// and 0.001 for the SPOS variants, SGD with Nesterov momentum 0.9 and weight decay 5e-4 started
/// afresh for each candidate, no gradient clipping, and the training augmentation (random crop,
/// flip) on every finetuning batch.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FinetuneConfig {
    /// Finetuning minibatches `K` per candidate.
    pub steps: usize,
    /// Minibatch size.
    pub batch_size: usize,
    /// Constant learning rate; unset: 0.01 after SPOS, 0.001 after the SPOS variants (thesis
    /// 4.2: "the supernet is significantly better trained, and using too high learning rates
    /// causes catastrophic forgetting").
    pub lr: Option<f64>,
    /// SGD momentum.
    pub momentum: f64,
    /// Nesterov momentum.
    pub nesterov: bool,
    /// L2 weight decay.
    pub weight_decay: f64,
    /// Gradient-norm clip (0: off, as the reference finetuning loop).
    pub grad_clip: f64,
    /// Random crop and flip on every finetuning minibatch (evaluation batches never).
    pub augment: bool,
    /// BatchNorm statistics of the validation evaluations.
    pub eval_bn: EvalBn,
    /// SoTL window: the first this many finetuning minibatches (thesis: 100).
    pub sotl_window: usize,
    /// Whole-validation-set evaluation every this many minibatches (and before finetuning).
    pub val_every: usize,
    /// One-minibatch validation every this many minibatches (and before finetuning).
    pub mini_val_every: usize,
    /// Batch size of whole-set evaluation (memory only; does not change results).
    pub eval_batch_size: usize,
    /// Minibatches of the no-finetuning SoTL (losses at the inherited weights, no update); 0
    /// skips it.
    pub inherited_window: usize,
    /// Seed of the finetuning data order, the same for every candidate.
    pub seed: u64,
}

impl Default for FinetuneConfig {
    fn default() -> Self {
        FinetuneConfig {
            steps: 300,
            batch_size: 64,
            lr: None,
            momentum: 0.9,
            nesterov: true,
            weight_decay: 5e-4,
            grad_clip: 0.0,
            augment: true,
            eval_bn: EvalBn::Batch,
            sotl_window: 100,
            val_every: 100,
            mini_val_every: 10,
            eval_batch_size: 500,
            inherited_window: 100,
            seed: 0,
        }
    }
}

impl FinetuneConfig {
    /// The learning rate in force after a supernet trained by `trainer`: `lr` when set, else
    /// 0.01 for SPOS and 0.001 for every SPOS variant (thesis 4.2).
    pub fn lr_for(&self, trainer: TrainerKind) -> f64 {
        self.lr.unwrap_or(match trainer {
            TrainerKind::Spos => 0.01,
            _ => 0.001,
        })
    }

    /// Checks every value.
    pub fn validate(&self) -> OneShotResult<()> {
        let c = |field: &'static str, reason: String| OneShotError::Config { field, reason };
        for (field, v) in [
            ("finetune.steps", self.steps),
            ("finetune.batch_size", self.batch_size),
            ("finetune.sotl_window", self.sotl_window),
            ("finetune.val_every", self.val_every),
            ("finetune.mini_val_every", self.mini_val_every),
            ("finetune.eval_batch_size", self.eval_batch_size),
        ] {
            if v == 0 {
                return Err(c(field, "must be at least 1".into()));
            }
        }
        if self.sotl_window > self.steps {
            return Err(c(
                "finetune.sotl_window",
                format!("is {}, more than the {} finetuning steps", self.sotl_window, self.steps),
            ));
        }
        if let Some(lr) = self.lr {
            if !(lr.is_finite() && lr >= 0.0) {
                return Err(c("finetune.lr", format!("is {lr}; expected >= 0")));
            }
        }
        if !(0.0..1.0).contains(&self.momentum) {
            return Err(c(
                "finetune.momentum",
                format!("is {}; expected 0 <= momentum < 1", self.momentum),
            ));
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return Err(c(
                "finetune.weight_decay",
                format!("is {}; expected >= 0", self.weight_decay),
            ));
        }
        if !(self.grad_clip.is_finite() && self.grad_clip >= 0.0) {
            return Err(c("finetune.grad_clip", format!("is {}; expected >= 0", self.grad_clip)));
        }
        Ok(())
    }
}

/// Wall-clock seconds one candidate spent in each phase.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct CandidateTiming {
    /// Restoring the supernet weights and optimizer (copies into existing tensors).
    pub reset_s: f64,
    /// The no-finetuning loss pass.
    pub inherited_s: f64,
    /// The `K` finetuning steps, with their per-step statistics.
    pub train_s: f64,
    /// Validation (whole set and minibatches).
    pub val_s: f64,
}

const FINETUNE_LOSS: &str = "finetuning loss";

/// Everything measured for one candidate (a cell of NAS-Bench-201 unless `G` says otherwise).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound(serialize = "G: Serialize", deserialize = "G: serde::de::DeserializeOwned"))]
pub struct CandidateResult<G = Nb201Arch> {
    /// Position in the pool.
    pub index: usize,
    /// The candidate.
    pub arch: G,
    /// Trainable parameters of its stand-alone network.
    pub param_count: u64,
    /// The finetuning trajectory: every step's loss, accuracy and gradient statistics, and the
    /// validation events (step 0 = inherited weights).
    pub finetune: TrainingRecord,
    /// Losses at the inherited weights without any update (for no-finetuning SoTL / TLMini),
    /// and the step-0 validation events.
    pub inherited: TrainingRecord,
    /// Where the time went.
    pub timing: CandidateTiming,
}

/// Finetunes candidates in place on the supernet and restores it after each one.
///
/// The supernet weights stay on the device; a saved copy is made once, and each candidate is
/// reset by copying the saved values back into the same tensors (only those the previous
/// candidate touched), so no memory is allocated per candidate for weights or optimizer state.
/// Weights off the candidate's path are never updated (see [`path_sgd`]).
pub struct Finetuner<'n, N: PathNet + ?Sized> {
    net: &'n N,
    config: FinetuneConfig,
    weights: Vec<Tensor>,
    buffers: Vec<Tensor>,
    saved_weights: Vec<Tensor>,
    saved_buffers: Vec<Tensor>,
    dirty: Vec<usize>,
    opt: sotl_train::Sgd,
    lr: f64,
    /// The whole-set evaluation order, made once per validation-set size.
    eval_perm: std::cell::RefCell<Option<(usize, Tensor)>>,
}

impl<'n, N: PathNet + ?Sized> Finetuner<'n, N> {
    /// The search space of the supernet's cells.
    pub fn space(&self) -> N::Space {
        self.net.space()
    }

    /// Snapshots `net`'s current weights as the inheritance source; `trainer` trained them (it
    /// sets the learning rate unless the config does, see [`FinetuneConfig::lr_for`]).
    pub fn new(net: &'n N, config: FinetuneConfig, trainer: TrainerKind) -> OneShotResult<Self> {
        config.validate()?;
        let weights = net.weights();
        let buffers = net.buffers();
        let snap = |ts: &[Tensor]| ts.iter().map(|t| t.detach().copy()).collect::<Vec<_>>();
        let opt = path_sgd(&weights, config.momentum, config.nesterov, config.weight_decay)?;
        Ok(Finetuner {
            net,
            config,
            saved_weights: snap(&weights),
            saved_buffers: snap(&buffers),
            weights,
            buffers,
            dirty: Vec::new(),
            opt,
            lr: config.lr_for(trainer),
            eval_perm: std::cell::RefCell::new(None),
        })
    }

    /// The config in force.
    pub fn config(&self) -> &FinetuneConfig {
        &self.config
    }

    /// The finetuning learning rate in force.
    pub fn lr(&self) -> f64 {
        self.lr
    }

    /// Puts the supernet back to the snapshot: weights the last candidate touched, all buffers,
    /// and the optimizer's momentum, all in place.
    pub fn reset(&mut self) {
        tch::no_grad(|| {
            for &i in &self.dirty {
                self.weights[i].shallow_clone().copy_(&self.saved_weights[i]);
            }
            for (b, s) in self.buffers.iter().zip(&self.saved_buffers) {
                b.shallow_clone().copy_(s);
            }
        });
        self.dirty.clear();
        self.opt.reset();
    }

    /// Finetunes `arch` (pool position `index`) on `train`, measuring on `val`, and leaves the
    /// supernet to be restored by the next [`Finetuner::reset`] (called first thing here too).
    ///
    /// The steps run on the workspace's one training loop ([`sotl_train::Trainer`]): constant
    /// learning rate, the path's gradients ([`PathNet::path_indices`]) handed to the loop, the
    /// gradient statistics and their running sum (SoG, SoGN, SoG-L1), validation before the
    /// first step and every `val_every` / `mini_val_every` steps with the configured BN statistics.
    pub fn finetune(
        &mut self,
        index: usize,
        arch: &ArchOf<N>,
        train: &DeviceImages,
        val: &DeviceImages,
    ) -> OneShotResult<CandidateResult<ArchOf<N>>> {
        let cfg = self.config;
        let mut timing = CandidateTiming::default();
        let t0 = Instant::now();
        self.reset();
        timing.reset_s = t0.elapsed().as_secs_f64();

        let mut train_batches = train.batches(
            cfg.batch_size,
            derive_seed(cfg.seed, Stream::TrainOrder, 0),
            cfg.augment,
        )?;
        let per_epoch = train_batches.batches_per_epoch();
        let param_count = self.net.param_count(arch);

        // No-finetuning losses over the same minibatches the finetuning will see.
        let t = Instant::now();
        // Losses and accuracies stay on the device and are read back together at the end.
        let mut inherited_t = Vec::with_capacity(2 * cfg.inherited_window);
        tch::no_grad(|| -> OneShotResult<()> {
            for s in 0..cfg.inherited_window {
                let b = train_batches.batch(s / per_epoch, s % per_epoch)?;
                let logits = self.net.forward_path(&b.inputs, arch);
                inherited_t.push(cross_entropy(&logits, &b.targets));
                inherited_t.push(accuracy(&logits, &b.targets));
            }
            Ok(())
        })?;
        let values = sotl_train::read_scalars(&inherited_t)?;
        let mut inherited_steps = Vec::with_capacity(cfg.inherited_window);
        for (s, v) in values.chunks(2).enumerate() {
            inherited_steps.push(StepRecord {
                step: s,
                epoch: s / per_epoch,
                train_loss: finite(v[0], "inherited-weights loss", s)?,
                train_acc: Some(v[1]),
                grad_sum: None,
                grad_l1: None,
                grad_acc_l1: None,
            });
        }
        // The pass ran in train mode, so BN running statistics moved: put them back.
        self.reset();
        timing.inherited_s = t.elapsed().as_secs_f64();

        let idx = self.net.path_indices(arch);
        self.dirty = idx.clone();
        let mut validation = CandidateValidation {
            eval: Evaluator {
                net: self.net,
                buffers: &self.buffers,
                config: &self.config,
                eval_perm: &self.eval_perm,
            },
            arch,
            val,
            order: val.batches(
                cfg.batch_size,
                derive_seed(cfg.seed, Stream::ValOrder, 0),
                false,
            )?,
            seconds: 0.0,
        };
        let loop_cfg = sotl_train::TrainerConfig {
            epochs: cfg.steps.div_ceil(per_epoch),
            seed: cfg.seed,
            schedule: sotl_train::LrSchedule::Constant { lr: self.lr },
            grad_clip: (cfg.grad_clip > 0.0).then_some(cfg.grad_clip),
            grad_stats: true,
            grad_accumulation: true,
            steps: Some(cfg.steps),
            eval: sotl_train::EvalSchedule {
                minibatch_every_steps: Some(cfg.mini_val_every),
                full_every_epochs: None,
                full_every_steps: Some(cfg.val_every),
                at_start: true,
            },
            checkpoint_every_steps: None,
        };
        let (net, weights) = (self.net, &self.weights);
        let mut objective = |b: &Batch, _train: bool| -> sotl_train::Result<BatchOutput> {
            let pass = path_gradients(net, weights, arch, &idx, &b.inputs, &b.targets, 1.0)
                .map_err(|e| sotl_train::TrainError::Model(Box::new(e)))?;
            let acc = accuracy(&pass.logits.detach(), &b.targets);
            Ok(BatchOutput::with_grads(pass.loss, Some(acc), pass.grads))
        };
        let mut run = sotl_train::Trainer::new(loop_cfg, &mut self.opt, Vec::new())?;
        run.set_param_count(param_count);
        let t = Instant::now();
        run.run(&mut train_batches, Some(&mut validation), &mut objective, &mut |_| {}, None)
            .map_err(|e| match e {
                sotl_train::TrainError::NonFiniteLoss { step, value, .. } => {
                    OneShotError::NonFinite { what: FINETUNE_LOSS, step, value }
                }
                e => e.into(),
            })?;
        let loop_s = t.elapsed().as_secs_f64();
        timing.val_s = validation.seconds;
        timing.train_s = loop_s - validation.seconds;
        let (finetune, _) = run.into_record();
        let inherited = TrainingRecord {
            steps: inherited_steps,
            vals: finetune.vals.iter().filter(|v| v.step == 0).copied().collect(),
            steps_per_epoch: per_epoch,
            param_count: Some(param_count),
        };
        Ok(CandidateResult { index, arch: arch.clone(), param_count, finetune, inherited, timing })
    }
}

/// What evaluating a candidate needs from the [`Finetuner`]: borrowed field by field, so the
/// finetuner's optimizer can be lent to the training loop at the same time.
struct Evaluator<'a, 'n, N: PathNet + ?Sized> {
    net: &'n N,
    buffers: &'a [Tensor],
    config: &'a FinetuneConfig,
    eval_perm: &'a std::cell::RefCell<Option<(usize, Tensor)>>,
}

impl<N: PathNet + ?Sized> Evaluator<'_, '_, N> {
    /// Runs `f` and puts the network's running statistics back as they were: a batch-statistics
    /// evaluation runs the BNs in train mode, which updates them in place.
    fn keeping_running_stats<T>(&self, f: impl FnOnce() -> T) -> T {
        let kept: Vec<Tensor> = self.buffers.iter().map(|b| b.detach().copy()).collect();
        let r = f();
        tch::no_grad(|| {
            for (b, k) in self.buffers.iter().zip(&kept) {
                b.shallow_clone().copy_(k);
            }
        });
        r
    }

    /// Mean loss and accuracy of `arch` on one batch with `bn` statistics, as a `[2]` f64 tensor
    /// on the device (call it inside [`Evaluator::keeping_running_stats`]).
    fn evaluate(&self, arch: &ArchOf<N>, x: &Tensor, y: &Tensor, bn: BnStats) -> Tensor {
        tch::no_grad(|| {
            let logits = self.net.forward_path_t(x, arch, bn == BnStats::Batch);
            let loss = cross_entropy(&logits, y).to_kind(tch::Kind::Double);
            Tensor::stack(&[loss, accuracy(&logits, y)], 0)
        })
    }

    /// The fixed seeded permutation of `n` validation images (made once, then reused).
    fn eval_order(&self, n: usize, device: tch::Device) -> Tensor {
        let mut cached = self.eval_perm.borrow_mut();
        if let Some((_, t)) = cached.as_ref().filter(|(m, _)| *m == n) {
            return t.shallow_clone();
        }
        let idx = sotl_train::epoch_order(n, self.config.seed, Stream::Eval, 0);
        let t = Tensor::from_slice(&idx).to_device(device);
        *cached = Some((n, t.shallow_clone()));
        t
    }

    /// Loss and accuracy of `arch` on the whole of `val`, in batches of `eval_batch_size`, with
    /// `bn` statistics.
    ///
    /// The batches follow one fixed seeded permutation of `val`, the same for every candidate:
    /// stored splits are ordered by class, and batch statistics of a storage-order slice would
    /// come from one or two classes.
    fn validate_full(&self, arch: &ArchOf<N>, val: &DeviceImages, bn: BnStats) -> Measurement {
        let n = val.len();
        let perm = self.eval_order(n, val.images.device());
        // Sums stay on the device; one read at the end.
        let mut sums = Tensor::zeros([2], (tch::Kind::Double, val.images.device()));
        let mut lo = 0;
        while lo < n {
            let hi = (lo + self.config.eval_batch_size).min(n);
            let idx = perm.narrow(0, lo as i64, (hi - lo) as i64);
            let (x, y) = (val.images.index_select(0, &idx), val.labels.index_select(0, &idx));
            sums += self.evaluate(arch, &x, &y, bn) * (hi - lo) as f64;
            lo = hi;
        }
        let v = sums / n.max(1) as f64;
        Measurement { loss: v.double_value(&[0]), acc: v.double_value(&[1]), bn }
    }
}

/// The finetuning loop's validation of one candidate: every configured BN mode (the same
/// minibatch for each), the running statistics put back after each, and the time it took.
struct CandidateValidation<'a, 'n, N: PathNet + ?Sized> {
    eval: Evaluator<'a, 'n, N>,
    arch: &'a ArchOf<N>,
    val: &'a DeviceImages,
    /// The minibatches of the one-minibatch validations, the `k`-th at position `k`.
    order: sotl_train::TensorBatches,
    seconds: f64,
}

impl<N: PathNet + ?Sized> Validation for CandidateValidation<'_, '_, N> {
    fn is_empty(&self) -> bool {
        self.val.is_empty()
    }

    fn minibatch(
        &mut self,
        _objective: &mut dyn Objective,
        k: usize,
    ) -> sotl_train::Result<Vec<Measurement>> {
        let t = Instant::now();
        let per_epoch = self.order.batches_per_epoch();
        let b = self.order.batch(k / per_epoch, k % per_epoch)?;
        let (x, y) = (b.inputs, b.targets);
        let out = (self.eval.config.eval_bn.modes().iter())
            .map(|&bn| {
                let v =
                    self.eval.keeping_running_stats(|| self.eval.evaluate(self.arch, &x, &y, bn));
                Measurement { loss: v.double_value(&[0]), acc: v.double_value(&[1]), bn }
            })
            .collect();
        self.seconds += t.elapsed().as_secs_f64();
        Ok(out)
    }

    fn full(&mut self, _objective: &mut dyn Objective) -> sotl_train::Result<Vec<Measurement>> {
        let t = Instant::now();
        let out = (self.eval.config.eval_bn.modes().iter())
            .map(|&bn| {
                self.eval.keeping_running_stats(|| self.eval.validate_full(self.arch, self.val, bn))
            })
            .collect();
        self.seconds += t.elapsed().as_secs_f64();
        Ok(out)
    }
}

fn finite(v: f64, what: &'static str, step: usize) -> OneShotResult<f64> {
    if v.is_finite() {
        Ok(v)
    } else {
        Err(OneShotError::NonFinite { what, step, value: v })
    }
}

/// Reads the per-candidate results already written to a JSON-lines file (one
/// [`CandidateResult`] per line). A torn last line (a run killed mid-write) is dropped; any
/// other malformed line, or a result that does not match `pool` at its position, is an error.
pub fn read_results<G: Genotype>(
    path: &Path,
    pool: &FinetunePool<G>,
) -> OneShotResult<Vec<CandidateResult<G>>> {
    let out = read_results_any(path)?;
    for (k, r) in out.iter().enumerate() {
        if r.index != k || pool.archs.get(k) != Some(&r.arch) {
            return Err(OneShotError::Checkpoint {
                path: path.to_path_buf(),
                reason: format!("result {k} is for {} (index {}), but the pool has {:?} there: it belongs to another pool", r.arch, r.index, pool.archs.get(k).map(|a| a.to_string())),
            });
        }
    }
    Ok(out)
}

/// [`read_results`] without a pool to check against (indices must still count up from 0).
fn read_results_any<G: Genotype>(path: &Path) -> OneShotResult<Vec<CandidateResult<G>>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(OneShotError::Io {
                action: "cannot read results file",
                path: path.to_path_buf(),
                source,
            })
        }
    };
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let complete = text.ends_with('\n');
    let mut out = Vec::with_capacity(lines.len());
    for (k, line) in lines.iter().enumerate() {
        match serde_json::from_str::<CandidateResult<G>>(line) {
            Ok(r) => out.push(r),
            Err(_) if k + 1 == lines.len() && !complete => break,
            Err(source) => {
                return Err(OneShotError::Json {
                    what: "results file",
                    path: path.to_path_buf(),
                    source,
                })
            }
        }
    }
    if let Some((k, r)) = out.iter().enumerate().find(|(k, r)| r.index != *k) {
        return Err(OneShotError::Checkpoint {
            path: path.to_path_buf(),
            reason: format!("line {} holds result index {}, expected {k}: the file was edited or mixed with another run's; use another --out", k + 1, r.index),
        });
    }
    Ok(out)
}

/// The append-only JSON-lines file of candidate results that makes finetuning resumable: each
/// result is one line, flushed and synced, so a killed run loses at most the candidate in
/// progress and resumes at the next one.
pub struct ResultsLog {
    path: std::path::PathBuf,
    file: std::fs::File,
}

impl ResultsLog {
    /// Opens (creating) the log at `path` and returns it with the results already in it; a
    /// torn trailing line is removed first. `pool`, when given, must match them position by
    /// position.
    pub fn open<G: Genotype>(
        path: &Path,
        pool: Option<&FinetunePool<G>>,
    ) -> OneShotResult<(Self, Vec<CandidateResult<G>>)> {
        let results = match pool {
            Some(p) => read_results(path, p)?,
            None => read_results_any(path)?,
        };
        let io = |source| OneShotError::Io {
            action: "cannot write results file",
            path: path.to_path_buf(),
            source,
        };
        // Rewrite what was read so a torn trailing line disappears before appending.
        let mut text = String::new();
        for r in &results {
            text.push_str(&serde_json::to_string(r).expect("results serialize"));
            text.push('\n');
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        sotl_report::write_atomic(path, text.as_bytes()).map_err(io)?;
        let file = std::fs::OpenOptions::new().append(true).open(path).map_err(io)?;
        Ok((ResultsLog { path: path.to_path_buf(), file }, results))
    }

    /// Appends one result durably.
    pub fn append<G: Serialize>(&mut self, r: &CandidateResult<G>) -> OneShotResult<()> {
        let io = |source| OneShotError::Io {
            action: "cannot write results file",
            path: self.path.clone(),
            source,
        };
        let mut line = serde_json::to_string(r).expect("results serialize");
        line.push('\n');
        self.file.write_all(line.as_bytes()).map_err(io)?;
        self.file.sync_data().map_err(io)
    }
}

/// Finetunes every candidate of `pool` not yet in `results_path`, appending each result as one
/// JSON line (flushed and synced), so a killed run resumes at the next candidate. `progress` is
/// called after each candidate with `(done, total, result)`. Returns all results in pool order.
pub fn finetune_pool<N: PathNet + ?Sized>(
    finetuner: &mut Finetuner<'_, N>,
    pool: &FinetunePool<ArchOf<N>>,
    train: &DeviceImages,
    val: &DeviceImages,
    results_path: &Path,
    mut progress: impl FnMut(usize, usize, &CandidateResult<ArchOf<N>>),
) -> OneShotResult<Vec<CandidateResult<ArchOf<N>>>> {
    let (mut log, mut results) = ResultsLog::open(results_path, Some(pool))?;
    for (k, arch) in pool.archs.iter().enumerate().skip(results.len()) {
        let r = finetuner.finetune(k, arch, train, val).map_err(|e| OneShotError::Candidate {
            index: k,
            arch: arch.to_string(),
            source: Box::new(e),
        })?;
        log.append(&r)?;
        progress(k + 1, pool.len(), &r);
        results.push(r);
    }
    finetuner.reset();
    Ok(results)
}
