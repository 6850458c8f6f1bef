//! The differentiable search driver: one supernet, alpha in its own store, a method as a value.

use std::collections::HashMap;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use sotl_diagnostics::{hessian_dominant_eigenvalue, SkipCollapse, TrajectoryPoint};
use sotl_nn::{EdgeMix, GenotypeOf, Nb201Supernet, Supernet};
use sotl_space::{CellShape, Nb201Arch, SearchSpace};
use sotl_train::{
    derive_seed, optimizer_step, read_scalars, torch_seed, Adam, Batch, BatchSource, Gradients,
    Optimizer, ParamGroup, Sgd, Stream,
};
use tch::nn::{Init, VarStore};
use tch::{Device, Kind, Tensor};

use super::{top_k_mask, DartsConfig, DartsMethod, Relaxation, UpdateRule};
use crate::hypergrad::{
    cross_entropy, darts_second_order_grad, exact_sotl_grad, grads, VirtualStep,
};
use crate::{DartsError, DartsResult, DrnasRegularizer};

/// The data a search reads: the training split, and the validation split for methods that use it.
pub struct SearchSplits<'a> {
    /// Batches of the training split (weights always train on these).
    pub train: &'a mut dyn BatchSource,
    /// Batches of the validation split; `None` is fine for SoTL variants, an error for the others.
    pub val: Option<&'a mut dyn BatchSource>,
}

/// Progress of one step, for a progress bar.
#[derive(Debug, Clone, Copy)]
pub struct StepProgress {
    /// Epoch index (0-based).
    pub epoch: usize,
    /// Weight steps done in this epoch.
    pub done: usize,
    /// Weight steps in this epoch (SoTL variants count both passes over a window).
    pub total: usize,
}

/// Which of an epoch's series a scalar belongs to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Series {
    /// A weight step's training loss.
    Train,
    /// An architecture step's loss.
    Arch,
    /// A value only checked for finiteness (the architecture gradient's largest entry).
    Check,
}

/// The scalars of an epoch (losses, gradient checks), kept where they were computed until the
/// epoch ends: a step never waits for the device, and one transfer reads them all. Values already
/// on the host (from the unrolled hypergradients) are kept in order beside them.
#[derive(Default)]
struct EpochScalars {
    items: Vec<(Series, &'static str, usize, Option<Tensor>, f64)>,
}

impl EpochScalars {
    fn push(&mut self, series: Series, what: &'static str, step: usize, t: Tensor) {
        self.items.push((series, what, step, Some(t.detach()), f64::NAN));
    }

    fn push_value(&mut self, series: Series, what: &'static str, step: usize, v: f64) {
        self.items.push((series, what, step, None, v));
    }

    /// The training and architecture losses in step order; the first non-finite scalar, in the
    /// order they were made, is an error naming it.
    fn read(self, epoch: usize) -> DartsResult<(Vec<f64>, Vec<f64>)> {
        let mut read = read_scalars(self.items.iter().filter_map(|i| i.3.as_ref()))?.into_iter();
        let (mut train, mut arch) = (Vec::new(), Vec::new());
        for (series, what, step, t, v) in self.items {
            let value = if t.is_some() { read.next().expect("one value per tensor") } else { v };
            if !value.is_finite() {
                return Err(DartsError::NonFinite { what, epoch, step, value });
            }
            match series {
                Series::Train => train.push(value),
                Series::Arch => arch.push(value),
                Series::Check => {}
            }
        }
        Ok((train, arch))
    }
}

/// What one epoch produced.
#[derive(Debug, Clone)]
pub struct EpochReport<G = Nb201Arch> {
    /// The trajectory point of this epoch.
    pub point: TrajectoryPoint<G>,
    /// Set when the genotype has collapsed toward skip connections.
    pub collapse: Option<SkipCollapse<G>>,
}

/// The final result of a search.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(bound(serialize = "G: Serialize", deserialize = "G: serde::de::DeserializeOwned"))]
pub struct SearchOutcome<G = Nb201Arch> {
    /// The method that ran.
    pub method: DartsMethod,
    /// Its seed.
    pub seed: u64,
    /// The final discretized cell.
    pub genotype: G,
    /// One point per epoch.
    pub trajectory: Vec<TrajectoryPoint<G>>,
}

/// Whether a forward pass lets gradients reach alpha.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AlphaGrad {
    /// Gradients flow into alpha (SoTL accumulation).
    Live,
    /// Alpha is a constant (plain weight steps).
    Detached,
}

/// A differentiable architecture search over the supernet `S` of a search space (NAS-Bench-201's
/// by default); every method of [`DartsMethod`] is written once, over [`Supernet`].
///
/// Weights live in one `VarStore` with an SGD optimizer, alpha (the space's relaxation shape,
/// NAS-Bench-201: `[6, 5]`, rows in arch-string edge order, columns in `Nb201Op::ALL` order) in
/// another with Adam. [`DartsSearch::run_epoch`]
/// applies the method's [`UpdateRule`] over one pass of the training split; the state after any
/// epoch can be checkpointed and resumed exactly ([`DartsSearch::save`], [`DartsSearch::resume`]).
/// Every random choice (initialization, Dirichlet samples) is drawn from libtorch's generator
/// reseeded from `(seed, step)`, so a run is a function of its seed and data order.
pub struct DartsSearch<S: Supernet = Nb201Supernet> {
    pub(super) method: DartsMethod,
    pub(super) cfg: DartsConfig,
    pub(super) net_cfg: S::Config,
    pub(super) seed: u64,
    pub(super) device: Device,
    pub(super) kind: Kind,
    pub(super) w_vs: VarStore,
    pub(super) supernet: S,
    pub(super) _a_vs: VarStore,
    pub(super) alpha: Tensor,
    pub(super) w_opt: Sgd,
    pub(super) a_opt: Adam,
    /// Group index of each supernet parameter (`supernet.params()` order -> `w_opt` order).
    pub(super) group_index: Vec<usize>,
    pub(super) epoch: usize,
    /// Partial channels `k` of the supernet's cells in force (1 = all channels).
    pub(super) partial: usize,
    /// DrNAS' progressive pruning: alpha's shape, 1 = op kept, 0 = pruned; `None` before pruning.
    pub(super) op_mask: Option<Tensor>,
    /// The space's own mask of padded relaxation entries (alpha's shape), if it pads rows.
    pub(super) space_mask: Option<Tensor>,
    pub(super) rng_step: u64,
    pub(super) trajectory: Vec<TrajectoryPoint<GenotypeOf<S>>>,
}

/// A differentiable search on the NAS-Bench-201 supernet.
pub type Nb201DartsSearch = DartsSearch<Nb201Supernet>;

impl<S: Supernet> std::fmt::Debug for DartsSearch<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DartsSearch")
            .field("method", &self.method)
            .field("seed", &self.seed)
            .field("epoch", &self.epoch)
            .finish()
    }
}

impl<S: Supernet> DartsSearch<S>
where
    GenotypeOf<S>: CellShape,
{
    /// A fresh search: supernet weights and alpha initialized from `seed`, after validating the
    /// configs. `kind` is the float kind of weights and alpha (`Kind::Float` normally;
    /// `Kind::Double` for gradient checks). The progressive methods (PDARTS) run their stages
    /// through [`crate::run_pdarts`]; a search built here runs one stage of them, whose update
    /// is first-order DARTS or SoTL-DARTS.
    pub fn new(
        method: DartsMethod,
        cfg: &DartsConfig,
        net_cfg: &S::Config,
        seed: u64,
        device: Device,
        kind: Kind,
    ) -> DartsResult<Self> {
        cfg.validate()?;
        if cfg.accumulate > 1 && !method.can_accumulate() {
            return Err(DartsError::Config {
                field: "accumulate",
                reason: format!(
                    "{method} cannot split a step into micro-batches (it differentiates through a whole step, or draws an architecture per forward pass); use accumulate = 1"
                ),
            });
        }
        if !matches!(kind, Kind::Float | Kind::Double) {
            return Err(DartsError::Config {
                field: "kind",
                reason: format!("must be Float or Double, got {kind:?}"),
            });
        }
        // Initialization draws from its own derived seed, apart from every training step.
        tch::manual_seed((derive_seed(seed, Stream::TrainStep, u64::MAX) >> 1) as i64);
        let mut w_vs = VarStore::new(device);
        let partial = if method.relaxation() == Relaxation::Dirichlet {
            cfg.drnas_partial_channels_at(0)
        } else {
            1
        };
        let supernet = S::build_partial(&(w_vs.root() / "supernet"), net_cfg, partial)?;
        if kind == Kind::Double {
            w_vs.double();
        }
        // One row of op weights per relaxed edge of the supernet's space (NAS-Bench-201: [6, 5]).
        let (edges, ops) = supernet.space().relaxation_shape();
        let alpha_shape = [edges as i64, ops as i64];
        let space_mask = supernet.space().relaxation_mask().map(|m| {
            let m: Vec<f64> = m.into_iter().map(|b| f64::from(u8::from(b))).collect();
            Tensor::from_slice(&m).view(alpha_shape).to_kind(kind).to_device(device)
        });
        let mut a_vs = VarStore::new(device);
        let alpha = a_vs.root().var(
            "alpha",
            &alpha_shape,
            Init::Randn { mean: 0.0, stdev: cfg.alpha_init_std },
        );
        if kind == Kind::Double {
            a_vs.double();
        }
        let w_group = ParamGroup::from_var_store(&w_vs)?;
        let by_name: HashMap<&str, usize> =
            w_group.names().iter().enumerate().map(|(i, n)| (n.as_str(), i)).collect();
        let group_index = supernet
            .weight_names()
            .iter()
            .map(|n| {
                by_name.get(n.as_str()).copied().ok_or_else(|| DartsError::Config {
                    field: "net",
                    reason: format!("supernet weight {n:?} is not in its VarStore"),
                })
            })
            .collect::<DartsResult<Vec<_>>>()?;
        let w_opt = Sgd::new(w_group, cfg.weight_optimizer())?;
        let kl =
            method.relaxation() == Relaxation::Dirichlet && cfg.drnas_reg == DrnasRegularizer::Kl;
        let a_opt = Adam::new(
            ParamGroup::new(vec![("alpha".into(), alpha.shallow_clone())])?,
            cfg.arch_optimizer(kl),
        )?;
        Ok(Self {
            method,
            cfg: cfg.clone(),
            net_cfg: *net_cfg,
            seed,
            device,
            kind,
            w_vs,
            supernet,
            _a_vs: a_vs,
            alpha,
            w_opt,
            a_opt,
            group_index,
            partial,
            epoch: 0,
            op_mask: None,
            space_mask,
            rng_step: 0,
            trajectory: Vec::new(),
        })
    }

    /// The method.
    pub fn method(&self) -> DartsMethod {
        self.method
    }

    /// The search configuration.
    pub fn config(&self) -> &DartsConfig {
        &self.cfg
    }

    /// The seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The architecture parameters, of the space's relaxation shape (`[6, 5]` for NAS-Bench-201).
    pub fn alpha(&self) -> &Tensor {
        &self.alpha
    }

    /// Overwrites alpha (e.g. to evaluate a given architecture encoding); same shape as
    /// [`DartsSearch::alpha`].
    pub fn set_alpha(&mut self, alpha: &Tensor) -> DartsResult<()> {
        if alpha.size() != self.alpha.size() {
            return Err(DartsError::Hypergrad(format!(
                "alpha must have shape {:?}, got {:?}",
                self.alpha.size(),
                alpha.size()
            )));
        }
        tch::no_grad(|| self.alpha.shallow_clone().copy_(alpha));
        Ok(())
    }

    /// The supernet.
    pub fn supernet(&self) -> &S {
        &self.supernet
    }

    /// The supernet with its trained weights as a path network, for finetuning single cells
    /// from them (re-ranking finalists), with the variable store that owns the weights.
    pub fn into_path_net(self) -> (VarStore, crate::SupernetPathNet<S>) {
        let net = crate::SupernetPathNet::from_supernet(&self.w_vs, self.supernet);
        (self.w_vs, net)
    }

    /// The weight optimizer.
    pub fn weight_optimizer(&self) -> &Sgd {
        &self.w_opt
    }

    /// Epochs completed.
    pub fn epoch(&self) -> usize {
        self.epoch
    }

    /// Whether all configured epochs have run.
    pub fn is_done(&self) -> bool {
        self.epoch >= self.cfg.epochs
    }

    /// The trajectory so far, one point per completed epoch.
    pub fn trajectory(&self) -> &[TrajectoryPoint<GenotypeOf<S>>] {
        &self.trajectory
    }

    /// The current discretized cell (argmax of alpha on every edge).
    pub fn genotype(&self) -> DartsResult<GenotypeOf<S>> {
        let rows = self.method.relaxation().weight_rows(&self.alpha, self.mix_mask().as_ref());
        Ok(sotl_diagnostics::discretize(&self.supernet.space(), &rows)?)
    }

    /// The result so far.
    pub fn outcome(&self) -> DartsResult<SearchOutcome<GenotypeOf<S>>> {
        Ok(SearchOutcome {
            method: self.method,
            seed: self.seed,
            genotype: self.genotype()?,
            trajectory: self.trajectory.clone(),
        })
    }

    /// Copies of every variable of the weight store (trainable weights and BN running statistics).
    pub fn snapshot_weights(&self) -> Vec<(String, Tensor)> {
        let mut v: Vec<(String, Tensor)> =
            self.w_vs.variables().into_iter().map(|(n, t)| (n, t.detach().copy())).collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    /// Writes a snapshot back into the weight store.
    pub fn restore_weights(&mut self, snapshot: &[(String, Tensor)]) -> DartsResult<()> {
        let vars = self.w_vs.variables();
        for (name, src) in snapshot {
            let dst = vars
                .get(name)
                .ok_or_else(|| DartsError::Hypergrad(format!("unknown weight {name:?}")))?;
            if dst.size() != src.size() {
                return Err(DartsError::Hypergrad(format!(
                    "weight {name:?} has shape {:?}, snapshot has {:?}",
                    dst.size(),
                    src.size()
                )));
            }
            tch::no_grad(|| dst.shallow_clone().copy_(src));
        }
        Ok(())
    }

    /// The learning rate of the weights in the current epoch.
    pub fn weight_lr(&self) -> f64 {
        self.cfg.weight_lr_at(self.epoch, self.method.relaxation() == Relaxation::Dirichlet)
    }

    /// Reseeds libtorch's generator for the next random draw of this run.
    fn reseed(&mut self) {
        tch::manual_seed(torch_seed(self.seed, Stream::TrainStep, self.rng_step));
        self.rng_step += 1;
    }

    fn mix(&self, alpha_grad: AlphaGrad) -> EdgeMix<GenotypeOf<S>> {
        let relax = self.method.relaxation();
        match alpha_grad {
            AlphaGrad::Live => relax.mix(&self.alpha, self.mix_mask().as_ref()),
            AlphaGrad::Detached => relax.mix(&self.alpha.detach(), self.mix_mask().as_ref()),
        }
    }

    fn loss_on(&self, batch: &Batch, alpha_grad: AlphaGrad) -> Tensor {
        let x = batch.inputs.to_device(self.device).to_kind(self.kind);
        let y = batch.targets.to_device(self.device);
        cross_entropy(&self.supernet.forward_mix(&x, &self.mix(alpha_grad), true), &y)
    }

    /// One SGD step of the weights on `batch`; with [`AlphaGrad::Live`] the same backward pass
    /// also adds this loss's alpha gradient to `alpha.grad()` (SoTL accumulation, no zeroing).
    fn weight_step(
        &mut self,
        batch: &Batch,
        alpha_grad: AlphaGrad,
        step: usize,
        out: &mut EpochScalars,
    ) -> DartsResult<()> {
        self.reseed();
        self.w_opt.zero_grad();
        let clip = (self.cfg.grad_clip > 0.0).then_some(self.cfg.grad_clip);
        // Micro-batches (one without accumulation), each loss weighted by its share of the
        // minibatch, so the summed gradients (and the reported loss) are the minibatch mean's.
        let mut value = Tensor::zeros([], (self.kind, self.device));
        for (part, share) in micro_batches(batch, self.cfg.accumulate) {
            let loss = self.loss_on(&part, alpha_grad) * share;
            value += loss.detach();
            loss.f_backward()?;
        }
        // A loss that reached alpha is the architecture step's objective (SoTL's first pass).
        let series = match alpha_grad {
            AlphaGrad::Live => Series::Arch,
            AlphaGrad::Detached => Series::Train,
        };
        out.push(series, "training loss", step, value);
        let grads = self.w_opt.group().grads();
        optimizer_step(&mut self.w_opt, Gradients::Given(grads), clip, |_| Ok(()))?;
        Ok(())
    }

    /// Plain SGD steps of the weights on `batches` at the current epoch's learning rate, with
    /// alpha held fixed; returns the losses. (What step 3 of SoTL-DARTS does after restoring.)
    pub fn train_weights(&mut self, batches: &[Batch]) -> DartsResult<Vec<f64>> {
        self.w_opt.set_lr(self.weight_lr());
        let batches: Vec<Batch> = batches.iter().map(|b| self.to_device(b)).collect();
        let mut out = EpochScalars::default();
        for (i, b) in batches.iter().enumerate() {
            self.weight_step(b, AlphaGrad::Detached, i, &mut out)?;
        }
        Ok(out.read(self.epoch)?.0)
    }

    /// The training loss as a function of explicit (possibly non-leaf) weights and alpha: what
    /// the unrolled hypergradients differentiate.
    fn functional_loss(&self) -> impl Fn(&[Tensor], &Tensor, &Batch) -> Tensor + '_ {
        let relax = self.method.relaxation();
        move |w, a, b| {
            let mix = relax.mix(a, self.mix_mask().as_ref());
            cross_entropy(&self.supernet.forward_mix_with(w, &b.inputs, &mix), &b.targets)
        }
    }

    /// Adds `g` to `alpha.grad()`.
    fn accumulate_alpha_grad(&self, g: &Tensor) {
        (&self.alpha * g.detach()).sum(self.kind).backward();
    }

    /// Gradient of the architecture loss (plus DrNAS' KL when configured) on `batch`, added to
    /// `alpha.grad()` without touching the weights' gradients.
    fn accumulate_arch_grad(
        &mut self,
        batch: &Batch,
        step: usize,
        out: &mut EpochScalars,
    ) -> DartsResult<()> {
        self.reseed();
        let mut value = Tensor::zeros([], (self.kind, self.device));
        for (part, share) in micro_batches(batch, self.cfg.accumulate) {
            let loss = self.loss_on(&part, AlphaGrad::Live) * share;
            value += loss.detach();
            let g = grads(&loss, &[&self.alpha], false)?.remove(0);
            self.accumulate_alpha_grad(&g);
        }
        out.push(Series::Arch, "validation loss", step, value);
        self.accumulate_regularizer_grad()
    }

    /// Adds the gradient of the relaxation's regularizer (DrNAS' KL, when configured) to
    /// `alpha.grad()`.
    fn accumulate_regularizer_grad(&self) -> DartsResult<()> {
        if let Some(r) = self.method.relaxation().regularizer(
            &self.alpha,
            self.cfg.drnas_reg,
            self.cfg.drnas_kl_scale,
        ) {
            let g = grads(&r, &[&self.alpha], false)?.remove(0);
            self.accumulate_alpha_grad(&g);
        }
        Ok(())
    }

    fn alpha_step(&mut self, step: usize, out: &mut EpochScalars) -> DartsResult<()> {
        let g = self.alpha.grad();
        if g.defined() {
            out.push(Series::Check, "architecture gradient", step, g.abs().max());
            if self.cfg.arch_grad_clip > 0.0 {
                let _ = sotl_train::clip_grad_norm(self.a_opt.group(), self.cfg.arch_grad_clip);
            }
        }
        self.a_opt.step()?;
        self.a_opt.zero_grad();
        Ok(())
    }

    /// Runs one epoch of the method and records its trajectory point.
    pub fn run_epoch(
        &mut self,
        data: &mut SearchSplits<'_>,
        progress: &mut dyn FnMut(StepProgress),
    ) -> DartsResult<EpochReport<GenotypeOf<S>>> {
        if self.is_done() {
            return Err(DartsError::Config {
                field: "epochs",
                reason: format!("all {} epochs have already run", self.cfg.epochs),
            });
        }
        let needs_val = self.method.uses_validation();
        if needs_val && data.val.is_none() {
            return Err(DartsError::Config {
                field: "data",
                reason: format!("method {} needs the validation split", self.method),
            });
        }
        let started = Instant::now();
        let lr = self.weight_lr();
        self.w_opt.set_lr(lr);
        let n = data.train.batches_per_epoch();
        let drnas_warm_up = self.enter_drnas_stage()?;
        let warming_up = drnas_warm_up || self.epoch < self.cfg.arch_warmup_epochs;
        let mut out = EpochScalars::default();
        let o = &mut out;
        match self.method.update_rule() {
            _ if warming_up => self.epoch_weights_only(data, n, o, progress)?,
            UpdateRule::FirstOrder => self.epoch_first_order(data, n, o, progress)?,
            UpdateRule::SecondOrder => self.epoch_second_order(data, n, lr, o, progress)?,
            UpdateRule::SovlAccumulate => self.epoch_sovl(data, n, o, progress)?,
            UpdateRule::SotlApprox => self.epoch_sotl(data, n, lr, false, o, progress)?,
            UpdateRule::SotlExact => self.epoch_sotl(data, n, lr, true, o, progress)?,
        }
        let (train_losses, arch_losses) = out.read(self.epoch)?;
        let mean = |v: &[f64]| (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64);
        let rows = self.method.relaxation().weight_rows(&self.alpha, self.mix_mask().as_ref());
        let mut point = TrajectoryPoint::from_op_weights(
            &self.supernet.space(),
            self.epoch + 1,
            rows,
            mean(&train_losses).unwrap_or(f64::NAN),
        )?;
        point.arch_loss = mean(&arch_losses);
        let every = self.cfg.eigen_every;
        if every > 0
            && ((self.epoch + 1).is_multiple_of(every) || self.epoch + 1 == self.cfg.epochs)
        {
            point.eigenvalue = Some(self.alpha_hessian_eigenvalue(data)?);
        }
        point.seconds = started.elapsed().as_secs_f64();
        let collapse = point.skip_collapse(self.cfg.skip_collapse_threshold);
        self.trajectory.push(point.clone());
        self.epoch += 1;
        Ok(EpochReport { point, collapse })
    }

    /// DrNAS' progressive schedule at the start of an epoch: prunes each edge to its top
    /// `drnas_progressive_keep` ops when the second stage begins, and says whether this epoch is
    /// a warm-up epoch of its stage (weights only). Always `false` for softmax methods.
    fn enter_drnas_stage(&mut self) -> DartsResult<bool> {
        if self.method.relaxation() != Relaxation::Dirichlet {
            return Ok(false);
        }
        let stages = self.cfg.drnas_stages();
        let Some(stage) = stages.iter().position(|(s, e)| (*s..*e).contains(&self.epoch)) else {
            return Ok(false);
        };
        let (start, end) = stages[stage];
        if start > 0 && self.op_mask.is_none() {
            self.op_mask = Some(top_k_mask(&self.alpha, self.cfg.drnas_progressive_keep));
            let k = self.cfg.drnas_partial_channels_at(stage);
            if k != self.partial {
                // The widened channels are copies drawn from this run's stream.
                self.reseed();
                self.widen_partial_channels(k)?;
            }
        }
        Ok(self.epoch < start + self.cfg.drnas_warmup_epochs(end - start))
    }

    /// Widens the supernet's partial channels to `k` (nothing when already there), carrying
    /// the weights' momentum along the same channel copies.
    pub(super) fn widen_partial_channels(&mut self, k: usize) -> DartsResult<()> {
        if k == self.partial {
            return Ok(());
        }
        let widened = self.supernet.widen_partial_channels(k)?;
        let (mut momentum, started) = self.w_opt.momentum_dense();
        if !momentum.is_empty() {
            for w in &widened {
                // Buffers holding no momentum come back as zeros already of the new shape.
                let gi = self.group_index[w.index];
                if started[gi] {
                    momentum[gi] = w.apply(&momentum[gi]);
                }
            }
            self.w_opt.load_momentum_dense(&momentum, &started)?;
        }
        self.partial = k;
        Ok(())
    }

    /// The mask every mix applies: the space's padding and the op mask in force, together.
    fn mix_mask(&self) -> Option<Tensor> {
        match (&self.space_mask, &self.op_mask) {
            (Some(s), Some(o)) => Some(s * o),
            (Some(m), None) | (None, Some(m)) => Some(m.shallow_clone()),
            (None, None) => None,
        }
    }

    /// The op mask in force: DrNAS' progressive pruning once its second stage has begun, or
    /// a progressive search's (PDARTS) ops kept from earlier stages.
    pub fn op_mask(&self) -> Option<&Tensor> {
        self.op_mask.as_ref()
    }

    /// Restricts every edge to the ops `mask` keeps (alpha's shape, 1 = kept, 0 = pruned;
    /// `None` = all ops): pruned ops get weight 0 in every mix and the supernet skips them.
    /// What a progressive search (PDARTS) carries from one stage to the next. Refused for
    /// DrNAS, whose own progressive schedule owns the mask.
    pub fn set_op_mask(&mut self, mask: Option<&Tensor>) -> DartsResult<()> {
        if self.method.relaxation() == Relaxation::Dirichlet {
            return Err(DartsError::Config {
                field: "op_mask",
                reason: format!("{} prunes ops on its own schedule", self.method),
            });
        }
        if let Some(m) = mask {
            if m.size() != self.alpha.size() {
                return Err(DartsError::Config {
                    field: "op_mask",
                    reason: format!("shape {:?}, alpha has {:?}", m.size(), self.alpha.size()),
                });
            }
            let bad = |reason: String| DartsError::Config { field: "op_mask", reason };
            let flat =
                Vec::<f64>::try_from(m.to_kind(Kind::Double).to_device(Device::Cpu).reshape([-1]))
                    .map_err(|e| bad(format!("unreadable: {e}")))?;
            if flat.iter().any(|&v| v != 0.0 && v != 1.0) {
                return Err(bad("entries must be 0 (pruned) or 1 (kept)".into()));
            }
            let ops = self.alpha.size()[1] as usize;
            if flat.chunks(ops).any(|row| row.iter().all(|&v| v == 0.0)) {
                return Err(bad("every edge must keep at least one op".into()));
            }
        }
        self.op_mask = mask.map(|m| m.to_kind(self.kind).to_device(self.device));
        self.sync_active_ops()
    }

    /// Tells the supernet which ops the mask keeps, so soft mixes skip the pruned ones.
    pub(super) fn sync_active_ops(&self) -> DartsResult<()> {
        let active = self.op_mask.as_ref().map(|m| {
            Vec::<f64>::try_from(m.to_kind(Kind::Double).to_device(Device::Cpu).reshape([-1]))
                .unwrap_or_default()
                .into_iter()
                .map(|v| v > 0.0)
                .collect::<Vec<bool>>()
        });
        self.supernet.set_active_ops(active.as_deref())?;
        Ok(())
    }

    /// Weight step `i` of `n` on the training split with alpha fixed, its loss recorded and
    /// reported.
    fn plain_step(
        &mut self,
        train: &mut dyn BatchSource,
        i: usize,
        n: usize,
        out: &mut EpochScalars,
        progress: &mut dyn FnMut(StepProgress),
    ) -> DartsResult<()> {
        let tb = train.batch(self.epoch, i)?;
        self.weight_step(&tb, AlphaGrad::Detached, i, out)?;
        progress(StepProgress { epoch: self.epoch, done: i + 1, total: n });
        Ok(())
    }

    /// An epoch of weight steps only, alpha fixed (DrNAS' warm-up).
    fn epoch_weights_only(
        &mut self,
        data: &mut SearchSplits<'_>,
        n: usize,
        out: &mut EpochScalars,
        progress: &mut dyn FnMut(StepProgress),
    ) -> DartsResult<()> {
        for i in 0..n {
            self.plain_step(&mut *data.train, i, n, out, progress)?;
        }
        Ok(())
    }

    fn epoch_first_order(
        &mut self,
        data: &mut SearchSplits<'_>,
        n: usize,
        out: &mut EpochScalars,
        progress: &mut dyn FnMut(StepProgress),
    ) -> DartsResult<()> {
        let val = data.val.as_deref_mut().expect("checked by run_epoch");
        let nv = val.batches_per_epoch();
        for i in 0..n {
            let vb = val.batch(self.epoch, i % nv)?;
            self.a_opt.zero_grad();
            self.accumulate_arch_grad(&vb, i, out)?;
            self.alpha_step(i, out)?;
            self.plain_step(&mut *data.train, i, n, out, progress)?;
        }
        Ok(())
    }

    fn epoch_sovl(
        &mut self,
        data: &mut SearchSplits<'_>,
        n: usize,
        out: &mut EpochScalars,
        progress: &mut dyn FnMut(StepProgress),
    ) -> DartsResult<()> {
        let val = data.val.as_deref_mut().expect("checked by run_epoch");
        let nv = val.batches_per_epoch();
        let t = self.cfg.unroll_steps;
        self.a_opt.zero_grad();
        for i in 0..n {
            let vb = val.batch(self.epoch, i % nv)?;
            self.accumulate_arch_grad(&vb, i, out)?;
            // A sum, not a mean, over T validation batches: the ablation of SoTL's summation.
            if (i + 1).is_multiple_of(t) || i + 1 == n {
                self.alpha_step(i, out)?;
            }
            self.plain_step(&mut *data.train, i, n, out, progress)?;
        }
        Ok(())
    }

    /// The α-independent part of DARTS' virtual step, `μ·buf + λ·w`, in supernet order.
    fn virtual_step_offset(&self) -> Vec<Tensor> {
        let mu = self.cfg.w_momentum;
        let wd = self.cfg.w_weight_decay;
        self.supernet
            .weights()
            .iter()
            .zip(&self.group_index)
            .map(|(w, &gi)| {
                let decay = w.detach() * wd;
                match self.w_opt.momentum_buffer(gi) {
                    Some(b) if mu != 0.0 => decay + b * mu,
                    _ => decay,
                }
            })
            .collect()
    }

    fn epoch_second_order(
        &mut self,
        data: &mut SearchSplits<'_>,
        n: usize,
        lr: f64,
        out: &mut EpochScalars,
        progress: &mut dyn FnMut(StepProgress),
    ) -> DartsResult<()> {
        let xi = self.cfg.xi.unwrap_or(lr);
        for i in 0..n {
            let tb = data.train.batch(self.epoch, i)?;
            let val = data.val.as_deref_mut().expect("checked by run_epoch");
            let vb = val.batch(self.epoch, i % val.batches_per_epoch())?;
            self.reseed();
            let offset = self.cfg.unrolled_momentum_wd.then(|| self.virtual_step_offset());
            let (tb_dev, vb_dev) = (self.to_device(&tb), self.to_device(&vb));
            let g = darts_second_order_grad(
                self.functional_loss(),
                &self.supernet.weights(),
                &self.alpha,
                &tb_dev,
                &vb_dev,
                VirtualStep { xi, offset: offset.as_deref() },
                self.cfg.hvp,
            )?;
            out.push_value(Series::Arch, "validation loss", i, g.val_loss);
            self.a_opt.zero_grad();
            self.accumulate_alpha_grad(&g.alpha_grad);
            self.alpha_step(i, out)?;
            self.weight_step(&tb, AlphaGrad::Detached, i, out)?;
            progress(StepProgress { epoch: self.epoch, done: i + 1, total: n });
        }
        Ok(())
    }

    fn to_device(&self, b: &Batch) -> Batch {
        Batch {
            inputs: b.inputs.to_device(self.device).to_kind(self.kind),
            targets: b.targets.to_device(self.device),
        }
    }

    /// SoTL-DARTS (thesis Algorithm 3, Appendix A) per window of T training batches:
    /// 1. save the weights; train T steps with alpha live, so every step's training loss adds its
    ///    alpha gradient (no zeroing) — or, with `exact`, compute the exact hypergradient of the
    ///    summed loss through T plain SGD steps instead;
    /// 2. one alpha step on the summed gradient;
    /// 3. restore the saved weights (the optimizer state only with `sotl_restore_optimizer`) and
    ///    retrain the same T batches with the new alpha.
    fn epoch_sotl(
        &mut self,
        data: &mut SearchSplits<'_>,
        n: usize,
        lr: f64,
        exact: bool,
        out: &mut EpochScalars,
        progress: &mut dyn FnMut(StepProgress),
    ) -> DartsResult<()> {
        let t = self.cfg.unroll_steps;
        let total = 2 * n;
        let mut done = 0;
        for start in (0..n).step_by(t) {
            let end = (start + t).min(n);
            // The same batches (same augmentation draws) feed both passes, as Appendix A's
            // `format_input_data` does.
            let batches: Vec<Batch> = (start..end)
                .map(|i| data.train.batch(self.epoch, i).map(|b| self.to_device(&b)))
                .collect::<Result<_, _>>()?;
            let saved = self.snapshot_weights();
            let saved_opt = self.cfg.sotl_restore_optimizer.then(|| self.w_opt.state());
            self.a_opt.zero_grad();
            if exact {
                self.reseed();
                let g = exact_sotl_grad(
                    self.functional_loss(),
                    &self.supernet.weights(),
                    &self.alpha,
                    &batches,
                    lr,
                    self.cfg.w_weight_decay,
                )?;
                for (k, &l) in g.losses.iter().enumerate() {
                    out.push_value(Series::Arch, "training loss", start + k, l);
                }
                self.accumulate_alpha_grad(&g.alpha_grad);
                done += batches.len();
            } else {
                for (k, b) in batches.iter().enumerate() {
                    self.weight_step(b, AlphaGrad::Live, start + k, out)?;
                    done += 1;
                    progress(StepProgress { epoch: self.epoch, done, total });
                }
            }
            // DrNAS' KL toward the Dirichlet prior enters every architecture step, as in the
            // first-order methods (with `drnas_reg = "kl"` Adam's weight decay is off).
            self.accumulate_regularizer_grad()?;
            self.alpha_step(end - 1, out)?;
            self.restore_weights(&saved)?;
            if let Some(st) = saved_opt {
                self.w_opt.load_state(st)?;
            }
            for (k, b) in batches.iter().enumerate() {
                self.weight_step(b, AlphaGrad::Detached, start + k, out)?;
                done += 1;
                progress(StepProgress { epoch: self.epoch, done, total });
            }
        }
        Ok(())
    }

    /// Dominant eigenvalue of `∇²_α L` at the current weights: the validation loss for methods
    /// that use one, the training loss for SoTL variants (thesis Section 4.3.5), averaged over
    /// the first `eigen_batches` batches of epoch 0's order (the same batches every time, so the
    /// trajectory is comparable across epochs). Dirichlet relaxations use their mean weights, so
    /// the measured function is deterministic. Does not move the run's random streams.
    pub fn alpha_hessian_eigenvalue(&mut self, data: &mut SearchSplits<'_>) -> DartsResult<f64> {
        let source: &mut dyn BatchSource =
            match (self.method.uses_validation(), data.val.as_deref_mut()) {
                (true, Some(v)) => v,
                _ => &mut *data.train,
            };
        let k = self.cfg.eigen_batches.min(source.batches_per_epoch()).max(1);
        let batches: Vec<Batch> = (0..k)
            .map(|i| source.batch(0, i).map(|b| self.to_device(&b)))
            .collect::<Result<_, _>>()?;
        let a = self.alpha.detach().copy().set_requires_grad(true);
        let relax = self.method.relaxation();
        // The diagnostic is of the loss surface, not of a random dropout mask.
        let dropout = self.supernet.skip_dropout();
        self.supernet.set_skip_dropout(0.0)?;
        let mut loss: Option<Tensor> = None;
        for b in &batches {
            let mix = EdgeMix::Soft(relax.expected_weights(&a, self.mix_mask().as_ref()));
            let l = cross_entropy(&self.supernet.forward_mix(&b.inputs, &mix, true), &b.targets)
                / k as f64;
            loss = Some(match loss {
                None => l,
                Some(s) => s + l,
            });
        }
        let loss = loss.expect("at least one batch");
        let est = hessian_dominant_eigenvalue(&loss, &a, &self.cfg.power_iteration);
        self.supernet.set_skip_dropout(dropout)?;
        Ok(est?.eigenvalue)
    }
}

/// `batch` split into at most `k` consecutive micro-batches, each with its share of the rows.
fn micro_batches(batch: &Batch, k: usize) -> Vec<(Batch, f64)> {
    if k <= 1 {
        let whole =
            Batch { inputs: batch.inputs.shallow_clone(), targets: batch.targets.shallow_clone() };
        return vec![(whole, 1.0)];
    }
    let n = batch.inputs.size()[0] as f64;
    batch
        .inputs
        .chunk(k as i64, 0)
        .into_iter()
        .zip(batch.targets.chunk(k as i64, 0))
        .map(|(inputs, targets)| {
            let share = inputs.size()[0] as f64 / n;
            (Batch { inputs, targets }, share)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_scalars_come_back_in_order_and_the_first_bad_one_is_named() {
        let mut s = EpochScalars::default();
        s.push(Series::Arch, "validation loss", 0, Tensor::from(2.5f32));
        s.push(Series::Check, "architecture gradient", 0, Tensor::from(0.1f64));
        s.push(Series::Train, "training loss", 0, Tensor::from(2.25f32));
        s.push_value(Series::Arch, "validation loss", 1, 1.5);
        s.push(Series::Train, "training loss", 1, Tensor::from(2.0f32));
        assert_eq!(s.read(4).unwrap(), (vec![2.25, 2.0], vec![2.5, 1.5]));

        let mut s = EpochScalars::default();
        s.push(Series::Train, "training loss", 0, Tensor::from(2.0f32));
        s.push(Series::Check, "architecture gradient", 1, Tensor::from(f32::NAN));
        s.push(Series::Train, "training loss", 1, Tensor::from(f32::INFINITY));
        match s.read(3) {
            Err(DartsError::NonFinite { what, epoch, step, .. }) => {
                assert_eq!((what, epoch, step), ("architecture gradient", 3, 1));
            }
            other => panic!("expected the architecture gradient at step 1, got {other:?}"),
        }
        assert_eq!(EpochScalars::default().read(0).unwrap(), (vec![], vec![]));
    }
}
