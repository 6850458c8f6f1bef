//! The training loop: batches in, per-step records out, resumable from a checkpoint.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};
use sotl_estimators::{BnStats, StepRecord, TrainingRecord, ValRecord, ValScope};
use tch::{Device, Kind, Tensor};

use crate::checkpoint::{load_checkpoint, save_checkpoint};
use crate::seed::{torch_rng_lock, torch_seed, Stream};
use crate::{
    clip_grads, BatchSource, LrSchedule, Objective, Optimizer, OptimizerState, Result, TrainError,
};

/// When to measure validation loss and accuracy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvalSchedule {
    /// Every this many steps, on one validation minibatch (cycling through the set).
    pub minibatch_every_steps: Option<usize>,
    /// At the end of every this many epochs (and of the last one), on the whole validation set.
    pub full_every_epochs: Option<usize>,
    /// Every this many steps, on the whole validation set (runs counted in steps, such as
    /// finetuning).
    #[serde(default)]
    pub full_every_steps: Option<usize>,
    /// Also before the first step, recorded at step 0 (the starting weights): a whole-set
    /// evaluation when one is scheduled, and a minibatch one when those are.
    #[serde(default)]
    pub at_start: bool,
}

impl EvalSchedule {
    fn wants_full(&self) -> bool {
        self.full_every_epochs.is_some() || self.full_every_steps.is_some()
    }

    fn wants_any(&self) -> bool {
        self.wants_full() || self.minibatch_every_steps.is_some()
    }
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
    /// With `grad_stats`, also keep every parameter's gradient summed over the steps so far and
    /// record the L1 norm of that sum (SoG-L1, as the thesis author's code computes SoG); the
    /// sums are part of a checkpoint.
    #[serde(default)]
    pub grad_accumulation: bool,
    /// Stop after this many steps instead of at the end of the last epoch (runs measured in
    /// minibatches, such as finetuning); at most `epochs` x batches per epoch.
    #[serde(default)]
    pub steps: Option<usize>,
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
        if self.eval.minibatch_every_steps == Some(0)
            || self.eval.full_every_epochs == Some(0)
            || self.eval.full_every_steps == Some(0)
        {
            return bad("evaluation intervals must be >= 1");
        }
        if self.steps == Some(0) {
            return bad("steps must be >= 1 when set");
        }
        if self.grad_accumulation && !self.grad_stats {
            return bad("gradient accumulation is a gradient statistic: set grad_stats too");
        }
        if self.checkpoint_every_steps == Some(0) {
            return bad("checkpoint interval must be >= 1 step");
        }
        Ok(())
    }
}

/// Where a step's gradients come from.
#[derive(Debug)]
pub enum Gradients<'a> {
    /// Backpropagate this loss into the parameters' `.grad()` (cleared by the caller first).
    Backward(&'a Tensor),
    /// Gradients already taken, one entry per parameter of the optimizer's group in group
    /// order (`None`: no gradient, so no update at all).
    Given(Vec<Option<Tensor>>),
}

/// The one optimizer step that every training step of the workspace ends with ([`Trainer`]'s
/// steps, the one-shot trainers' outer and inner steps, the differentiable searches' weight
/// steps): take the gradients, let `inspect` read them before clipping (gradient statistics),
/// scale them to global L2 norm `clip` when set ([`clip_grads`]), and step `opt` with them.
pub fn optimizer_step<O: Optimizer + ?Sized>(
    opt: &mut O,
    grads: Gradients<'_>,
    clip: Option<f64>,
    inspect: impl FnOnce(&[Option<Tensor>]) -> Result<()>,
) -> Result<()> {
    let mut grads = match grads {
        Gradients::Given(g) if g.len() != opt.group().len() => {
            return Err(TrainError::Config(format!(
                "{} gradients for {} parameters",
                g.len(),
                opt.group().len()
            )))
        }
        Gradients::Given(g) => g,
        Gradients::Backward(loss) => {
            loss.f_backward()?;
            opt.group().grads()
        }
    };
    inspect(&grads)?;
    if let Some(c) = clip {
        let _ = clip_grads(&mut grads, c);
    }
    opt.step_with(&grads)
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

/// The model tensors (by the names the trainer was given) and the step count of a checkpoint
/// written by [`Trainer::save`]: what a finished run's reader (export, evaluation) needs, with
/// no trainer to rebuild.
pub fn read_trained_model(path: &Path, device: Device) -> Result<(Vec<(String, Tensor)>, usize)> {
    let ck_err = |reason: String| TrainError::Checkpoint { path: path.to_path_buf(), reason };
    let (tensors, meta) = load_checkpoint(path, device)?;
    let meta: Meta = serde_json::from_value(meta)
        .map_err(|e| ck_err(format!("not a training checkpoint ({e})")))?;
    if meta.format != FORMAT {
        return Err(ck_err(format!("format {} is not the supported {FORMAT}", meta.format)));
    }
    let model = tensors
        .into_iter()
        .filter_map(|(n, t)| n.strip_prefix(MODEL).map(|m| (m.to_string(), t)))
        .collect();
    Ok((model, meta.step))
}
const NEED_ACC: &str = "validation needs an accuracy: the objective returned none";
const MODEL: &str = "model/";
const OPTIM: &str = "optim/";
const GRAD_ACC: &str = "gradacc/";

/// One validation measurement: mean loss and accuracy, and the BN statistics it used.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measurement {
    /// Mean loss.
    pub loss: f64,
    /// Accuracy in `[0, 1]`.
    pub acc: f64,
    /// BatchNorm statistics used.
    pub bn: BnStats,
}

/// How the loop measures validation loss and accuracy.
///
/// A [`BatchSource`] of validation batches measures the objective in eval mode (running BN
/// statistics); a caller with its own protocol (several BN modes, a fixed evaluation order, a
/// model the objective does not expose) implements this trait. The loop seeds libtorch's
/// generator from `(seed, Eval, step)` before each call.
pub trait Validation {
    /// Whether there is nothing to evaluate on.
    fn is_empty(&self) -> bool;
    /// The `k`-th one-minibatch evaluation of the run (`k` = 0, 1, ...): one measurement per
    /// BN mode measured.
    fn minibatch(&mut self, objective: &mut dyn Objective, k: usize) -> Result<Vec<Measurement>>;
    /// An evaluation on the whole validation set: one measurement per BN mode measured.
    fn full(&mut self, objective: &mut dyn Objective) -> Result<Vec<Measurement>>;
}

impl<B: BatchSource + ?Sized> Validation for B {
    fn is_empty(&self) -> bool {
        self.batches_per_epoch() == 0
    }

    /// Minibatch `k` of the validation batches, cycling through the set epoch by epoch.
    fn minibatch(&mut self, objective: &mut dyn Objective, k: usize) -> Result<Vec<Measurement>> {
        let vb = self.batches_per_epoch();
        let batch = self.batch(k / vb, k % vb)?;
        let out = tch::no_grad(|| objective.batch_output(&batch, false))?;
        let loss = out.loss.double_value(&[]);
        let acc = out.accuracy_value().ok_or(TrainError::Config(NEED_ACC.into()))?;
        Ok(vec![Measurement { loss, acc, bn: BnStats::Running }])
    }

    fn full(&mut self, objective: &mut dyn Objective) -> Result<Vec<Measurement>> {
        let (mut loss_sum, mut acc_sum, mut n) = (0.0, 0.0, 0usize);
        for i in 0..self.batches_per_epoch() {
            let batch = self.batch(0, i)?;
            let out = tch::no_grad(|| objective.batch_output(&batch, false))?;
            let b = batch.len();
            loss_sum += out.loss.double_value(&[]) * b as f64;
            acc_sum += out.accuracy_value().ok_or(TrainError::Config(NEED_ACC.into()))? * b as f64;
            n += b;
        }
        let n = n.max(1) as f64;
        Ok(vec![Measurement { loss: loss_sum / n, acc: acc_sum / n, bn: BnStats::Running }])
    }
}

/// The training loop over one optimizer, generic in the model through [`Objective`].
///
/// Each step `s` of epoch `e` (batch `i`): set the rate from the schedule, seed libtorch's
/// generator from `(seed, s)`, fetch batch `(e, i)`, clear gradients to undefined, compute the
/// loss, backpropagate (unless the objective took its gradients itself, see
/// [`crate::BatchOutput::grads`]), optionally compute gradient statistics and clip, step the
/// optimizer, then evaluate and checkpoint as scheduled. Nothing in a step reads the device: the
/// steps' losses, accuracies and statistics are read together every [`READ_EVERY_STEPS`] steps
/// and before every evaluation, epoch end, checkpoint and return, then recorded as
/// [`StepRecord`]s; a non-finite loss or statistic fails the run there, naming its step, before
/// anything is checkpointed.
///
/// Every training run of the workspace goes through this loop: standalone training, and the
/// one-shot finetuning of each candidate (an `&mut` borrowed optimizer, path gradients, a
/// [`Validation`] with per-candidate BN statistics).
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
    /// Per-parameter gradient sums over the steps so far (`grad_accumulation`).
    grad_acc: Vec<Option<Tensor>>,
    /// Steps taken whose loss, accuracy and gradient statistics are still on the device.
    pending: Vec<PendingStep>,
}

/// A step taken but not yet read back: its scalars stay on the device until
/// [`Trainer::read_pending`] reads all pending steps' at once.
struct PendingStep {
    step: usize,
    epoch: usize,
    lr: f64,
    loss: Tensor,
    acc: Option<Tensor>,
    /// Gradient sum, L1 norm and (with accumulation) the accumulated sum's L1 norm.
    grad_stats: Option<Tensor>,
}

/// Steps between reads of the step records: a read waits for the device (a GPU's queue drains),
/// so the loop reads every this many steps, and before every evaluation, epoch end, checkpoint
/// and return, never inside a step.
pub const READ_EVERY_STEPS: usize = 32;

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
        let grad_acc = if cfg.grad_accumulation {
            (0..optimizer.group().len()).map(|_| None).collect()
        } else {
            Vec::new()
        };
        Ok(Trainer {
            grad_acc,
            cfg,
            optimizer,
            state,
            checkpoint: None,
            record,
            epochs: Vec::new(),
            step: 0,
            partial_seconds: 0.0,
            pending: Vec::new(),
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
        mut val: Option<&mut dyn Validation>,
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
        if self.cfg.eval.wants_any() && val.as_ref().is_none_or(|v| v.is_empty()) {
            return Err(TrainError::Config(
                "evaluation is scheduled but no validation batches were given".into(),
            ));
        }
        let epoch_steps = self.cfg.epochs * spe;
        let total = self.cfg.steps.unwrap_or(epoch_steps);
        if total > epoch_steps {
            return Err(TrainError::Config(format!(
                "{total} steps do not fit in {} epochs of {spe} batches; raise epochs or lower steps",
                self.cfg.epochs
            )));
        }
        self.record.steps_per_epoch = spe;
        let stop_at = max_steps.map_or(total, |m| (self.step + m).min(total));
        if self.step == 0 && self.cfg.eval.at_start && self.record.vals.is_empty() {
            if let Some(v) = val.as_deref_mut() {
                let full = self.cfg.eval.wants_full();
                let mini = self.cfg.eval.minibatch_every_steps.is_some();
                self.evaluate(v, objective, 0, full, mini, on_event)?;
            }
        }
        let mut t0 = Instant::now();
        while self.step < stop_at {
            let (epoch, index) = (self.step / spe, self.step % spe);
            self.train_step(train, objective, epoch, index, spe)?;

            let epoch_done = index + 1 == spe;
            let eval = self.cfg.eval;
            let done = self.step;
            let full_now = eval.full_every_steps.is_some_and(|k| done.is_multiple_of(k));
            let mini_now = eval.minibatch_every_steps.is_some_and(|k| done.is_multiple_of(k));
            let full_at_epoch_end = epoch_done
                && !full_now
                && eval
                    .full_every_epochs
                    .is_some_and(|k| (epoch + 1) % k == 0 || epoch + 1 == self.cfg.epochs);
            let periodic =
                self.cfg.checkpoint_every_steps.is_some_and(|k| self.step.is_multiple_of(k));
            let pausing = self.step == stop_at && stop_at < total;
            let checkpointing = self.checkpoint.is_some() && (epoch_done || periodic || pausing);
            let evaluating = val.is_some() && (full_now || mini_now || full_at_epoch_end);
            if epoch_done
                || evaluating
                || checkpointing
                || self.step == stop_at
                || self.pending.len() >= READ_EVERY_STEPS
            {
                self.read_pending(total, on_event)?;
            }
            let mut vfull = None;
            if let Some(v) = val.as_deref_mut() {
                // Step-scheduled evaluations first (whole set, then minibatch), then the
                // epoch's whole-set evaluation.
                vfull = self.evaluate(v, objective, epoch, full_now, mini_now, on_event)?;
                if full_at_epoch_end {
                    vfull = self.evaluate(v, objective, epoch, true, false, on_event)?;
                }
            }
            if epoch_done {
                let seconds = self.partial_seconds + t0.elapsed().as_secs_f64();
                self.partial_seconds = 0.0;
                t0 = Instant::now();
                let s = self.summarize(epoch, spe, vfull.as_ref(), seconds);
                self.epochs.push(s);
                on_event(Event::Epoch(self.epochs.last().expect("just pushed")));
            }
            if checkpointing {
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

    /// The evaluations due after `self.step` steps (in `epoch`): the whole set when `full`, then
    /// the next minibatch when `mini`. Returns the whole-set evaluation's primary record.
    fn evaluate(
        &mut self,
        val: &mut dyn Validation,
        objective: &mut dyn Objective,
        epoch: usize,
        full: bool,
        mini: bool,
        on_event: &mut dyn FnMut(Event<'_>),
    ) -> Result<Option<ValRecord>> {
        let mut primary = None;
        if full {
            let ms = {
                let _rng = torch_rng_lock();
                tch::manual_seed(torch_seed(self.cfg.seed, Stream::Eval, self.step as u64));
                val.full(objective)?
            };
            for m in ms {
                let r = self.push_val(m, epoch, ValScope::Full)?;
                primary.get_or_insert(r);
                on_event(Event::Val(&r));
            }
        }
        if mini {
            let every = self.cfg.eval.minibatch_every_steps.expect("checked by caller");
            let k = self.step / every - usize::from(!self.cfg.eval.at_start);
            let ms = {
                let _rng = torch_rng_lock();
                tch::manual_seed(torch_seed(self.cfg.seed, Stream::Eval, self.step as u64));
                val.minibatch(objective, k)?
            };
            for m in ms {
                let r = self.push_val(m, epoch, ValScope::Minibatch)?;
                on_event(Event::Val(&r));
            }
        }
        Ok(primary)
    }

    fn train_step(
        &mut self,
        train: &mut dyn BatchSource,
        objective: &mut dyn Objective,
        epoch: usize,
        index: usize,
        spe: usize,
    ) -> Result<()> {
        let lr = self.cfg.schedule.lr_at_step(epoch, index, spe);
        self.optimizer.set_lr(lr);
        let _rng = torch_rng_lock();
        tch::manual_seed(torch_seed(self.cfg.seed, Stream::TrainStep, self.step as u64));
        let batch = train.batch(epoch, index)?;
        self.optimizer.zero_grad();
        let out = objective.batch_output(&batch, true)?;
        let loss = out.loss.detach();
        let grads = match out.grads {
            Some(g) => Gradients::Given(g),
            None => Gradients::Backward(&out.loss),
        };
        let mut grad_stats = None;
        let (cfg, acc) = (&self.cfg, &mut self.grad_acc);
        optimizer_step(&mut self.optimizer, grads, cfg.grad_clip, |g| {
            grad_stats = gradient_statistics(cfg, acc, g);
            Ok(())
        })?;
        self.pending.push(PendingStep {
            step: self.step,
            epoch,
            lr,
            loss,
            acc: out.accuracy.map(|a| a.detach()),
            grad_stats,
        });
        self.step += 1;
        Ok(())
    }

    /// Reads the pending steps' scalars back in one transfer, checks them in step order (a
    /// non-finite loss or gradient statistic is an error naming its step), records them and
    /// reports each as an [`Event::Step`].
    fn read_pending(&mut self, total: usize, on_event: &mut dyn FnMut(Event<'_>)) -> Result<()> {
        let parts = (self.pending.iter())
            .flat_map(|p| [Some(&p.loss), p.acc.as_ref(), p.grad_stats.as_ref()])
            .flatten();
        let mut it = crate::read_scalars(parts)?.into_iter();
        let mut next = || it.next().expect("one value per pending scalar");
        for p in std::mem::take(&mut self.pending) {
            let loss = next();
            if !loss.is_finite() {
                return Err(TrainError::NonFiniteLoss {
                    step: p.step,
                    epoch: p.epoch,
                    value: loss,
                });
            }
            let train_acc = p.acc.as_ref().map(|_| next());
            let stats: Vec<f64> = p
                .grad_stats
                .as_ref()
                .map_or(Vec::new(), |t| (0..t.numel()).map(|_| next()).collect());
            if stats.iter().any(|x| !x.is_finite()) {
                return Err(TrainError::NonFiniteGrad { step: p.step, epoch: p.epoch });
            }
            self.record.steps.push(StepRecord {
                step: p.step,
                epoch: p.epoch,
                train_loss: loss,
                train_acc,
                grad_sum: stats.first().copied(),
                grad_l1: stats.get(1).copied(),
                grad_acc_l1: stats.get(2).copied(),
            });
            on_event(Event::Step {
                record: self.record.steps.last().expect("just pushed"),
                lr: p.lr,
                total_steps: total,
            });
        }
        Ok(())
    }

    fn push_val(&mut self, m: Measurement, epoch: usize, scope: ValScope) -> Result<ValRecord> {
        let Measurement { loss, acc, bn } = m;
        if !loss.is_finite() {
            return Err(TrainError::NonFiniteValLoss { step: self.step, value: loss });
        }
        let r = ValRecord { step: self.step, epoch, loss, acc, scope, bn };
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
        let names = self.optimizer.group().names();
        tensors.extend(self.grad_acc.iter().zip(names).filter_map(|(a, n)| {
            a.as_ref().map(|a| (format!("{GRAD_ACC}{n}"), a.shallow_clone()))
        }));
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
        self.pending.clear();
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
        let mut grad_acc: Vec<Option<Tensor>> = self.grad_acc.iter().map(|_| None).collect();
        for (n, t) in tensors {
            if let Some(m) = n.strip_prefix(MODEL) {
                model.insert(m.to_string(), t);
            } else if let Some(o) = n.strip_prefix(OPTIM) {
                opt.tensors.push((o.to_string(), t));
            } else if let Some(a) = n.strip_prefix(GRAD_ACC) {
                let i = self.optimizer.group().names().iter().position(|p| p == a);
                match (i, grad_acc.get_mut(i.unwrap_or(usize::MAX))) {
                    (Some(_), Some(slot)) => *slot = Some(t),
                    _ => return Err(ck_err(format!("unexpected gradient sum {n:?}"))),
                }
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
        self.grad_acc = grad_acc;
        self.step = meta.step;
        self.record = meta.record;
        self.epochs = meta.epochs;
        self.partial_seconds = meta.partial_seconds;
        Ok(())
    }
}

/// The step's gradient sum, L1 norm and, with accumulation, L1 norm of the running sum (all
/// `None` without `grad_stats`), summed in f64 parameter by parameter in group order and read
/// back in one transfer.
fn gradient_statistics(
    cfg: &TrainerConfig,
    grad_acc: &mut [Option<Tensor>],
    grads: &[Option<Tensor>],
) -> Option<Tensor> {
    if !cfg.grad_stats {
        return None;
    }
    let device = grads.iter().flatten().next().map_or(Device::Cpu, |g| g.device());
    let zero = || Tensor::zeros([], (Kind::Double, device));
    let (mut sum, mut l1, mut acc_l1) = (zero(), zero(), zero());
    let accumulate = cfg.grad_accumulation;
    tch::no_grad(|| {
        for (i, g) in grads.iter().enumerate() {
            if let Some(g) = g.as_ref().filter(|g| g.defined()) {
                sum += g.sum(Kind::Double);
                l1 += g.abs().sum(Kind::Double);
                if accumulate {
                    let next = match grad_acc[i].take() {
                        Some(prev) => prev + g,
                        None => g.detach().copy(),
                    };
                    grad_acc[i] = Some(next);
                }
            }
            if let Some(a) = grad_acc.get(i).and_then(Option::as_ref) {
                acc_l1 += a.abs().sum(Kind::Double);
            }
        }
    });
    let parts = if accumulate { vec![sum, l1, acc_l1] } else { vec![sum, l1] };
    // Left on the device: the loop reads every pending step's statistics at once.
    Some(Tensor::stack(&parts, 0))
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
