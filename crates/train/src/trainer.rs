//! The training loop: batches in, per-step records out, resumable from a checkpoint.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};
use sotl_estimators::{BnStats, StepRecord, TrainingRecord, ValRecord, ValScope};
use tch::{Device, Tensor};

use crate::checkpoint::{load_checkpoint, save_checkpoint};
use crate::seed::{torch_rng_lock, torch_seed, Stream};
use crate::{
    clip_grad_norm, BatchSource, LrSchedule, Objective, Optimizer, OptimizerState, Result,
    TrainError,
};

/// When to measure validation loss and accuracy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvalSchedule {
    /// Every this many steps, on one validation minibatch (cycling through the set).
    pub minibatch_every_steps: Option<usize>,
    /// At the end of every this many epochs (and of the last one), on the whole validation set.
    pub full_every_epochs: Option<usize>,
}

/// Settings of a [`Trainer`]; saved in every checkpoint and compared on resume.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainerConfig {
    /// Number of epochs to train.
    pub epochs: usize,
    /// Run seed: every random stream of the loop derives from it (see [`crate::derive_seed`]).
    pub seed: u64,
    /// Learning-rate schedule, set on the optimizer before every step.
    pub schedule: LrSchedule,
    /// Clip the global gradient L2 norm to this value, when set.
    pub grad_clip: Option<f64>,
    /// Record the gradient sum and L1 norm of every step (SoG/SoGN inputs; costs a reduction).
    pub grad_stats: bool,
    /// Validation schedule.
    pub eval: EvalSchedule,
    /// Also checkpoint every this many steps (a checkpoint is always written at epoch ends).
    pub checkpoint_every_steps: Option<usize>,
}

impl TrainerConfig {
    /// Checks that the settings describe a run that can happen.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: &str| Err(TrainError::Config(m.to_string()));
        if self.epochs == 0 {
            return bad("epochs must be >= 1");
        }
        self.schedule.validate()?;
        if let Some(c) = self.grad_clip {
            if !(c.is_finite() && c > 0.0) {
                return Err(TrainError::Config(format!(
                    "gradient clip must be finite and > 0, got {c}"
                )));
            }
        }
        if self.eval.minibatch_every_steps == Some(0) || self.eval.full_every_epochs == Some(0) {
            return bad("evaluation intervals must be >= 1");
        }
        if self.checkpoint_every_steps == Some(0) {
            return bad("checkpoint interval must be >= 1 step");
        }
        Ok(())
    }
}

/// Per-epoch summary of a run (what a person reads; estimators read the [`TrainingRecord`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochSummary {
    /// Epoch index, from 0.
    pub epoch: usize,
    /// Learning rate of the epoch's first step.
    pub lr: f64,
    /// Mean training loss over the epoch's steps.
    pub train_loss: f64,
    /// Mean training accuracy over the epoch's steps, when measured.
    pub train_acc: Option<f64>,
    /// Loss on the whole validation set at the epoch's end, when evaluated.
    pub val_loss: Option<f64>,
    /// Accuracy on the whole validation set at the epoch's end, when evaluated.
    pub val_acc: Option<f64>,
    /// Wall-clock seconds spent in the epoch (summed over resumed pieces).
    pub seconds: f64,
}

/// Progress reported to the caller while training.
#[derive(Debug)]
pub enum Event<'a> {
    /// A step finished.
    Step {
        /// Its record.
        record: &'a StepRecord,
        /// Learning rate used.
        lr: f64,
        /// Steps in the whole run.
        total_steps: usize,
    },
    /// A validation measurement was taken.
    Val(&'a ValRecord),
    /// An epoch finished.
    Epoch(&'a EpochSummary),
    /// A checkpoint was written after `step` steps.
    Checkpoint {
        /// Steps applied.
        step: usize,
    },
}

/// Whether a call to [`Trainer::run`] trained to the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStatus {
    /// All epochs are done.
    Finished,
    /// Stopped early at the requested step budget; the state is checkpointed when a path is set.
    Paused {
        /// Steps applied so far.
        step: usize,
    },
}

/// What a checkpoint's JSON document holds besides tensors.
#[derive(Serialize, Deserialize)]
struct Meta {
    format: u32,
    config: TrainerConfig,
    step: usize,
    record: TrainingRecord,
    epochs: Vec<EpochSummary>,
    partial_seconds: f64,
    optimizer_counters: BTreeMap<String, u64>,
}

const FORMAT: u32 = 1;
const NEED_ACC: &str = "validation needs an accuracy: the objective returned none";
const MODEL: &str = "model/";
const OPTIM: &str = "optim/";

/// The training loop over one optimizer, generic in the model through [`Objective`].
///
/// Each step `s` of epoch `e` (batch `i`): set the rate from the schedule, seed libtorch's
/// generator from `(seed, s)`, fetch batch `(e, i)`, compute the loss, fail on a non-finite loss,
/// clear gradients to undefined, backpropagate, optionally record gradient statistics and clip,
/// step the optimizer, record a [`StepRecord`], then evaluate and checkpoint as scheduled.
///
/// Resuming is exact because every random choice is derived from `(seed, step)` (see
/// [`crate::seed`]) and the checkpoint holds all model tensors (parameters and buffers such as
/// batch-norm statistics), the optimizer state, the step counter and the records so far.
///
/// libtorch's generator is process-wide, so each step holds [`crate::torch_rng_lock`]: loops
/// in several threads stay deterministic, but take turns.
pub struct Trainer<O: Optimizer> {
    cfg: TrainerConfig,
    optimizer: O,
    state: Vec<(String, Tensor)>,
    checkpoint: Option<PathBuf>,
    record: TrainingRecord,
    epochs: Vec<EpochSummary>,
    step: usize,
    partial_seconds: f64,
}

impl<O: Optimizer> std::fmt::Debug for Trainer<O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trainer").field("cfg", &self.cfg).field("step", &self.step).finish()
    }
}

impl<O: Optimizer> Trainer<O> {
    /// A trainer at step 0. `state` names every tensor a checkpoint must hold: usually
    /// `vs.variables()` of the model's `VarStore` (parameters and buffers); the optimizer's
    /// parameters must be among them.
    pub fn new(cfg: TrainerConfig, optimizer: O, state: Vec<(String, Tensor)>) -> Result<Self> {
        cfg.validate()?;
        let mut state = state;
        state.sort_by(|a, b| a.0.cmp(&b.0));
        for w in state.windows(2) {
            if w[0].0 == w[1].0 {
                return Err(TrainError::Config(format!(
                    "state tensor name {:?} appears twice",
                    w[0].0
                )));
            }
        }
        let record =
            TrainingRecord { param_count: Some(optimizer.group().numel()), ..Default::default() };
        Ok(Trainer {
            cfg,
            optimizer,
            state,
            checkpoint: None,
            record,
            epochs: Vec::new(),
            step: 0,
            partial_seconds: 0.0,
        })
    }

    /// Checkpoints to `path` at every epoch end, every `checkpoint_every_steps`, and on pause.
    pub fn with_checkpoint(mut self, path: impl Into<PathBuf>) -> Self {
        self.checkpoint = Some(path.into());
        self
    }

    /// Loads the checkpoint file if it exists; returns whether it did.
    pub fn resume_if_present(&mut self) -> Result<bool> {
        match self.checkpoint.clone() {
            Some(p) if p.exists() => {
                self.load(&p)?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// The settings.
    pub fn config(&self) -> &TrainerConfig {
        &self.cfg
    }

    /// Steps applied so far.
    pub fn step(&self) -> usize {
        self.step
    }

    /// Records so far.
    pub fn record(&self) -> &TrainingRecord {
        &self.record
    }

    /// Per-epoch summaries so far.
    pub fn epochs(&self) -> &[EpochSummary] {
        &self.epochs
    }

    /// The optimizer.
    pub fn optimizer(&self) -> &O {
        &self.optimizer
    }

    /// Overrides the parameter count written into the record (defaults to the optimizer group's).
    pub fn set_param_count(&mut self, n: u64) {
        self.record.param_count = Some(n);
    }

    /// Consumes the trainer, returning its record and per-epoch summaries.
    pub fn into_record(self) -> (TrainingRecord, Vec<EpochSummary>) {
        (self.record, self.epochs)
    }

    /// Trains to the last epoch, or pauses after `max_steps` more steps when given.
    ///
    /// `val` is required when the config schedules evaluations. `on_event` sees every step,
    /// evaluation, epoch end and checkpoint.
    pub fn run(
        &mut self,
        train: &mut dyn BatchSource,
        mut val: Option<&mut dyn BatchSource>,
        objective: &mut dyn Objective,
        on_event: &mut dyn FnMut(Event<'_>),
        max_steps: Option<usize>,
    ) -> Result<RunStatus> {
        let spe = train.batches_per_epoch();
        if spe == 0 {
            return Err(TrainError::Config("the training set yields no batch".into()));
        }
        if self.record.steps_per_epoch != 0 && self.record.steps_per_epoch != spe {
            return Err(TrainError::Config(format!(
                "this run has {spe} batches per epoch, but its records were made with {}; use the \
                 same dataset and batch size to resume",
                self.record.steps_per_epoch
            )));
        }
        let wants_val = self.cfg.eval.minibatch_every_steps.is_some()
            || self.cfg.eval.full_every_epochs.is_some();
        if wants_val && val.as_ref().is_none_or(|v| v.batches_per_epoch() == 0) {
            return Err(TrainError::Config(
                "evaluation is scheduled but no validation batches were given".into(),
            ));
        }
        self.record.steps_per_epoch = spe;
        let total = self.cfg.epochs * spe;
        let stop_at = max_steps.map_or(total, |m| (self.step + m).min(total));
        let mut t0 = Instant::now();
        while self.step < stop_at {
            let (epoch, index) = (self.step / spe, self.step % spe);
            let lr = self.train_step(train, objective, epoch, index, spe)?;
            on_event(Event::Step {
                record: self.record.steps.last().expect("just pushed"),
                lr,
                total_steps: total,
            });

            if let (Some(k), Some(v)) = (self.cfg.eval.minibatch_every_steps, val.as_deref_mut()) {
                if self.step.is_multiple_of(k) {
                    let r = self.eval_minibatch(v, objective, epoch, k)?;
                    on_event(Event::Val(&r));
                }
            }
            let epoch_done = index + 1 == spe;
            if epoch_done {
                let full = self
                    .cfg
                    .eval
                    .full_every_epochs
                    .is_some_and(|k| (epoch + 1) % k == 0 || epoch + 1 == self.cfg.epochs);
                let mut vfull = None;
                if let (true, Some(v)) = (full, val.as_deref_mut()) {
                    let r = self.eval_full(v, objective, epoch)?;
                    on_event(Event::Val(&r));
                    vfull = Some(r);
                }
                let seconds = self.partial_seconds + t0.elapsed().as_secs_f64();
                self.partial_seconds = 0.0;
                t0 = Instant::now();
                let s = self.summarize(epoch, spe, vfull.as_ref(), seconds);
                self.epochs.push(s);
                on_event(Event::Epoch(self.epochs.last().expect("just pushed")));
            }
            let periodic =
                self.cfg.checkpoint_every_steps.is_some_and(|k| self.step.is_multiple_of(k));
            let pausing = self.step == stop_at && stop_at < total;
            if self.checkpoint.is_some() && (epoch_done || periodic || pausing) {
                if !epoch_done {
                    self.partial_seconds += t0.elapsed().as_secs_f64();
                    t0 = Instant::now();
                }
                self.save_to_path()?;
                on_event(Event::Checkpoint { step: self.step });
            }
        }
        Ok(if self.step >= total {
            RunStatus::Finished
        } else {
            RunStatus::Paused { step: self.step }
        })
    }

    fn train_step(
        &mut self,
        train: &mut dyn BatchSource,
        objective: &mut dyn Objective,
        epoch: usize,
        index: usize,
        spe: usize,
    ) -> Result<f64> {
        let lr = self.cfg.schedule.lr_at_step(epoch, index, spe);
        self.optimizer.set_lr(lr);
        let _rng = torch_rng_lock();
        tch::manual_seed(torch_seed(self.cfg.seed, Stream::TrainStep, self.step as u64));
        let batch = train.batch(epoch, index)?;
        self.optimizer.zero_grad();
        let out = objective.batch_output(&batch, true)?;
        let loss = out.loss.double_value(&[]);
        if !loss.is_finite() {
            return Err(TrainError::NonFiniteLoss { step: self.step, epoch, value: loss });
        }
        out.loss.f_backward()?;
        let (grad_sum, grad_l1) = if self.cfg.grad_stats {
            let (s, l1) = self.optimizer.group().grad_sum_and_l1();
            if !(s.is_finite() && l1.is_finite()) {
                return Err(TrainError::NonFiniteGrad { step: self.step, epoch });
            }
            (Some(s), Some(l1))
        } else {
            (None, None)
        };
        if let Some(c) = self.cfg.grad_clip {
            clip_grad_norm(self.optimizer.group(), c);
        }
        self.optimizer.step()?;
        self.record.steps.push(StepRecord {
            step: self.step,
            epoch,
            train_loss: loss,
            train_acc: out.accuracy,
            grad_sum,
            grad_l1,
            grad_acc_l1: None,
        });
        self.step += 1;
        Ok(lr)
    }

    fn eval_minibatch(
        &mut self,
        val: &mut dyn BatchSource,
        objective: &mut dyn Objective,
        epoch: usize,
        every: usize,
    ) -> Result<ValRecord> {
        let k = self.step / every - 1;
        let vb = val.batches_per_epoch();
        let _rng = torch_rng_lock();
        tch::manual_seed(torch_seed(self.cfg.seed, Stream::Eval, self.step as u64));
        let batch = val.batch(k / vb, k % vb)?;
        let out = tch::no_grad(|| objective.batch_output(&batch, false))?;
        let loss = out.loss.double_value(&[]);
        let acc = out.accuracy.ok_or(TrainError::Config(NEED_ACC.into()))?;
        self.push_val(loss, acc, epoch, ValScope::Minibatch)
    }

    fn eval_full(
        &mut self,
        val: &mut dyn BatchSource,
        objective: &mut dyn Objective,
        epoch: usize,
    ) -> Result<ValRecord> {
        let _rng = torch_rng_lock();
        tch::manual_seed(torch_seed(self.cfg.seed, Stream::Eval, self.step as u64));
        let (mut loss_sum, mut acc_sum, mut n) = (0.0, 0.0, 0usize);
        for i in 0..val.batches_per_epoch() {
            let batch = val.batch(0, i)?;
            let out = tch::no_grad(|| objective.batch_output(&batch, false))?;
            let b = batch.len();
            loss_sum += out.loss.double_value(&[]) * b as f64;
            acc_sum += out.accuracy.ok_or(TrainError::Config(NEED_ACC.into()))? * b as f64;
            n += b;
        }
        let n = n.max(1) as f64;
        self.push_val(loss_sum / n, acc_sum / n, epoch, ValScope::Full)
    }

    fn push_val(
        &mut self,
        loss: f64,
        acc: f64,
        epoch: usize,
        scope: ValScope,
    ) -> Result<ValRecord> {
        if !loss.is_finite() {
            return Err(TrainError::NonFiniteValLoss { step: self.step, value: loss });
        }
        let r = ValRecord { step: self.step, epoch, loss, acc, scope, bn: BnStats::Running };
        self.record.vals.push(r);
        Ok(r)
    }

    fn summarize(
        &self,
        epoch: usize,
        spe: usize,
        val: Option<&ValRecord>,
        seconds: f64,
    ) -> EpochSummary {
        let steps: Vec<&StepRecord> =
            self.record.steps.iter().filter(|s| s.epoch == epoch).collect();
        let n = steps.len().max(1) as f64;
        let train_loss = steps.iter().map(|s| s.train_loss).sum::<f64>() / n;
        let train_acc = steps.iter().map(|s| s.train_acc).sum::<Option<f64>>().map(|a| a / n);
        EpochSummary {
            epoch,
            lr: self.cfg.schedule.lr_at_step(epoch, 0, spe),
            train_loss,
            train_acc,
            val_loss: val.map(|v| v.loss),
            val_acc: val.map(|v| v.acc),
            seconds,
        }
    }

    fn save_to_path(&self) -> Result<()> {
        let path = self.checkpoint.as_ref().expect("checked by caller");
        self.save(path)
    }

    /// Writes a checkpoint of everything needed to resume to `path` (atomically).
    pub fn save(&self, path: &Path) -> Result<()> {
        let opt = self.optimizer.state();
        let mut tensors: Vec<(String, Tensor)> =
            self.state.iter().map(|(n, t)| (format!("{MODEL}{n}"), t.shallow_clone())).collect();
        tensors.extend(opt.tensors.into_iter().map(|(n, t)| (format!("{OPTIM}{n}"), t)));
        let meta = Meta {
            format: FORMAT,
            config: self.cfg.clone(),
            step: self.step,
            record: self.record.clone(),
            epochs: self.epochs.clone(),
            partial_seconds: self.partial_seconds,
            optimizer_counters: opt.counters,
        };
        let meta = serde_json::to_value(&meta).map_err(|e| TrainError::Checkpoint {
            path: path.to_path_buf(),
            reason: format!("cannot serialize state: {e}"),
        })?;
        save_checkpoint(path, &tensors, &meta)
    }

    /// Restores the state written by [`Trainer::save`]; the config must be the same.
    pub fn load(&mut self, path: &Path) -> Result<()> {
        let ck_err = |reason: String| TrainError::Checkpoint { path: path.to_path_buf(), reason };
        let device = self.state.first().map_or(Device::Cpu, |(_, t)| t.device());
        let (tensors, meta) = load_checkpoint(path, device)?;
        let meta: Meta =
            serde_json::from_value(meta).map_err(|e| ck_err(format!("unreadable state: {e}")))?;
        if meta.format != FORMAT {
            return Err(ck_err(format!("format {} is not the supported {FORMAT}", meta.format)));
        }
        if meta.config != self.cfg {
            return Err(ck_err(
                "it was written by a run with different settings; rerun with the same settings \
                 or use another output folder"
                    .into(),
            ));
        }
        let mut model = BTreeMap::new();
        let mut opt = OptimizerState { tensors: Vec::new(), counters: meta.optimizer_counters };
        for (n, t) in tensors {
            if let Some(m) = n.strip_prefix(MODEL) {
                model.insert(m.to_string(), t);
            } else if let Some(o) = n.strip_prefix(OPTIM) {
                opt.tensors.push((o.to_string(), t));
            } else {
                return Err(ck_err(format!("unexpected entry {n:?}")));
            }
        }
        let names: Vec<&String> = self.state.iter().map(|(n, _)| n).collect();
        let saved: Vec<&String> = model.keys().collect();
        if names != saved {
            let missing: Vec<_> =
                names.iter().filter(|n| !model.contains_key(**n)).take(3).collect();
            return Err(ck_err(format!(
                "it holds a different model ({} tensors vs {}; e.g. missing {missing:?})",
                saved.len(),
                names.len()
            )));
        }
        for (n, t) in &self.state {
            let src = &model[n];
            if src.size() != t.size() {
                return Err(ck_err(format!(
                    "tensor {n:?} has shape {:?}, model has {:?}",
                    src.size(),
                    t.size()
                )));
            }
        }
        self.optimizer.load_state(opt).map_err(|e| ck_err(format!("optimizer state: {e}")))?;
        tch::no_grad(|| -> Result<()> {
            for (n, t) in &self.state {
                t.shallow_clone().f_copy_(&model[n])?;
            }
            Ok(())
        })?;
        self.step = meta.step;
        self.record = meta.record;
        self.epochs = meta.epochs;
        self.partial_seconds = meta.partial_seconds;
        Ok(())
    }
}

/// The per-epoch summaries as CSV (header + one row per epoch; empty cells for absent values).
pub fn epochs_csv(epochs: &[EpochSummary]) -> String {
    let opt = |x: Option<f64>| x.map_or(String::new(), |v| v.to_string());
    let mut out = sotl_report::CsvText::new([
        "epoch",
        "lr",
        "train_loss",
        "train_acc",
        "val_loss",
        "val_acc",
        "seconds",
    ]);
    for e in epochs {
        out.row([
            e.epoch.to_string(),
            e.lr.to_string(),
            e.train_loss.to_string(),
            opt(e.train_acc),
            opt(e.val_loss),
            opt(e.val_acc),
            format!("{:.3}", e.seconds),
        ]);
    }
    out.finish()
}
