//! The supernet trainers: SPOS, FairNAS, MultiPath, Reptile, Metaprox and MultiPath+Metaprox,
//! as values driving one shared [`PathNet`].

use rand::Rng;
use serde::{Deserialize, Serialize};
use sotl_space::Nb201Arch;
use sotl_train::{optimizer_step, Gradients, Optimizer, Sgd};
use tch::{Kind, Tensor};

use super::path_net::ArchOf;
use super::sampling::{fairnas_paths, uniform_path, uniform_paths};
use super::sgd::{path_sgd, sgd_error};
use super::{OneShotError, OneShotResult, PathNet};

/// Which supernet trainer to run (the CLI's `--trainer`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TrainerKind {
    /// Single-path one-shot: one uniform path per step.
    Spos,
    /// FairNAS strict fairness: 5 paths covering every op once per edge, one update.
    Fairnas,
    /// MultiPath: average the gradients of `paths` uniform paths.
    Multipath,
    /// Reptile on single paths.
    Reptile,
    /// MetaMinibatchProx on single paths.
    Metaprox,
    /// MetaMinibatchProx with a meta-batch of `paths` paths.
    MultipathMetaprox,
}

impl TrainerKind {
    /// Every kind, in the order tables list them.
    pub const ALL: [TrainerKind; 6] = [
        TrainerKind::Spos,
        TrainerKind::Fairnas,
        TrainerKind::Multipath,
        TrainerKind::Reptile,
        TrainerKind::Metaprox,
        TrainerKind::MultipathMetaprox,
    ];

    /// The CLI / file name, e.g. `multipath-metaprox`.
    pub fn name(self) -> &'static str {
        match self {
            TrainerKind::Spos => "spos",
            TrainerKind::Fairnas => "fairnas",
            TrainerKind::Multipath => "multipath",
            TrainerKind::Reptile => "reptile",
            TrainerKind::Metaprox => "metaprox",
            TrainerKind::MultipathMetaprox => "multipath-metaprox",
        }
    }

    /// The display name used in tables, e.g. `FairNAS`.
    pub fn label(self) -> &'static str {
        match self {
            TrainerKind::Spos => "SPOS",
            TrainerKind::Fairnas => "FairNAS",
            TrainerKind::Multipath => "MultiPath",
            TrainerKind::Reptile => "Reptile",
            TrainerKind::Metaprox => "Metaprox",
            TrainerKind::MultipathMetaprox => "MultiPath+Metaprox",
        }
    }
}

impl std::fmt::Display for TrainerKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for TrainerKind {
    type Err = OneShotError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TrainerKind::ALL.into_iter().find(|k| k.name() == s).ok_or_else(|| {
            OneShotError::config(
                "trainer.kind",
                format!("{s:?} is unknown; expected one of spos, fairnas, multipath, reptile, metaprox, multipath-metaprox"),
            )
        })
    }
}

/// The trainer section of a config: the kind plus the knobs of the kinds that use them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SupernetTrainerConfig {
    /// Which trainer.
    pub kind: TrainerKind,
    /// Paths per step for MultiPath and MultiPath+Metaprox (Yu et al. 2019 and the thesis: 4).
    pub paths: usize,
    /// Inner adaptation steps `T` of Reptile / Metaprox (thesis 3.4.2: 4).
    pub inner_steps: usize,
    /// Outer step size `eps` of Reptile / Metaprox: `theta <- theta + eps (theta_hat - theta)`.
    /// 1.0 is the start of Nichol et al.'s (2018) schedule and what TSE's joint loop does.
    pub outer_lr: f64,
    /// Proximal coefficient `lambda` of Metaprox (thesis 3.4.2: 10).
    pub prox_lambda: f64,
}

impl Default for SupernetTrainerConfig {
    fn default() -> Self {
        SupernetTrainerConfig {
            kind: TrainerKind::Spos,
            paths: 4,
            inner_steps: 4,
            outer_lr: 1.0,
            prox_lambda: 10.0,
        }
    }
}

impl SupernetTrainerConfig {
    /// Defaults for `kind`.
    pub fn of(kind: TrainerKind) -> Self {
        SupernetTrainerConfig { kind, ..Default::default() }
    }

    /// Checks ranges and builds the trainer.
    pub fn build(&self) -> OneShotResult<SupernetTrainer> {
        let pos = |field, v: usize| {
            if v == 0 {
                Err(OneShotError::config(field, "must be at least 1"))
            } else {
                Ok(v)
            }
        };
        let eps = |v: f64| {
            if v.is_finite() && v > 0.0 && v <= 1.0 {
                Ok(v)
            } else {
                Err(OneShotError::config(
                    "trainer.outer_lr",
                    format!("is {v}; expected 0 < eps <= 1"),
                ))
            }
        };
        let lam = |v: f64| {
            if v.is_finite() && v >= 0.0 {
                Ok(v)
            } else {
                Err(OneShotError::config(
                    "trainer.prox_lambda",
                    format!("is {v}; expected a finite value >= 0"),
                ))
            }
        };
        Ok(match self.kind {
            TrainerKind::Spos => SupernetTrainer::Spos,
            TrainerKind::Fairnas => SupernetTrainer::FairNas,
            TrainerKind::Multipath => {
                SupernetTrainer::MultiPath { paths: pos("trainer.paths", self.paths)? }
            }
            TrainerKind::Reptile => SupernetTrainer::Reptile {
                inner_steps: pos("trainer.inner_steps", self.inner_steps)?,
                outer_lr: eps(self.outer_lr)?,
            },
            TrainerKind::Metaprox => SupernetTrainer::Metaprox {
                inner_steps: pos("trainer.inner_steps", self.inner_steps)?,
                outer_lr: eps(self.outer_lr)?,
                lambda: lam(self.prox_lambda)?,
            },
            TrainerKind::MultipathMetaprox => SupernetTrainer::MultiPathMetaprox {
                paths: pos("trainer.paths", self.paths)?,
                inner_steps: pos("trainer.inner_steps", self.inner_steps)?,
                outer_lr: eps(self.outer_lr)?,
                lambda: lam(self.prox_lambda)?,
            },
        })
    }
}

/// A supernet trainer: how one outer step samples paths and turns their losses into an update.
///
/// In every trainer, weights off the sampled path(s) get no update at all in a step: no
/// gradient, no weight decay, no momentum (their momentum buffer is left as it was). This is
/// what the PyTorch references do, where such weights have `.grad = None` and
/// `torch.optim.SGD` skips them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SupernetTrainer {
    /// SPOS / RandomNAS (Guo et al. 2020; Li & Talwalkar 2020): sample one path uniformly,
    /// `theta <- SGD(theta, grad L(path, batch))`.
    Spos,
    /// FairNAS strict fairness (Chu et al. 2019): per step, 5 paths that use every op exactly
    /// once on every edge (an independent random permutation per edge), all on the same
    /// minibatch; gradients averaged over the 5 paths (as TSE scales each loss by 1/5), one update.
    FairNas,
    /// MultiPath (Yu et al. 2019): `paths` independent uniform paths on the same minibatch,
    /// `theta <- SGD(theta, (1/k) sum_i grad L(path_i, batch))`.
    MultiPath {
        /// Paths per update, `k`.
        paths: usize,
    },
    /// Reptile (Nichol et al. 2018) with architectures as tasks (thesis 3.4.1): sample a path,
    /// adapt a copy of its inherited weights with `T` SGD steps on `T` minibatches (fresh
    /// momentum per task) to `theta_hat`, then `theta <- theta + eps (theta_hat - theta)`.
    Reptile {
        /// Inner steps `T`.
        inner_steps: usize,
        /// Outer step size `eps`.
        outer_lr: f64,
    },
    /// MetaMinibatchProx (Zhou et al. 2019): Reptile whose inner loss adds the proximal term
    /// `(lambda / 2) ||theta_hat - theta||^2`, which pulls the adapted weights toward the
    /// meta-weights `theta`.
    Metaprox {
        /// Inner steps `T`.
        inner_steps: usize,
        /// Outer step size `eps`.
        outer_lr: f64,
        /// Proximal coefficient `lambda`.
        lambda: f64,
    },
    /// Metaprox with a meta-batch of `paths` uniform paths, each adapted from the same
    /// `theta` on the same `T` minibatches: `theta <- theta + eps (1/k) sum_i (theta_hat_i - theta)`
    /// (a weight off path `i` contributes zero to that path's term).
    MultiPathMetaprox {
        /// Meta-batch size `k`.
        paths: usize,
        /// Inner steps `T`.
        inner_steps: usize,
        /// Outer step size `eps`.
        outer_lr: f64,
        /// Proximal coefficient `lambda`.
        lambda: f64,
    },
}

/// What one outer step did; `G` is the genotype of the network's search space.
#[derive(Debug)]
pub struct StepStats<G = Nb201Arch> {
    /// Mean training loss of the sampled paths on the step's first minibatch, before updating:
    /// a 0-d tensor on the device ([`crate::oneshot::SupernetTraining`] reads them in batches).
    pub loss: Tensor,
    /// The paths the step trained.
    pub paths: Vec<G>,
}

/// Optimizer hyperparameters shared by every trainer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SgdSettings {
    /// Momentum factor.
    pub momentum: f64,
    /// Nesterov momentum.
    pub nesterov: bool,
    /// L2 weight decay.
    pub weight_decay: f64,
    /// Clip each update's gradient to this L2 norm (NAS-Bench-201's search code uses 5).
    pub grad_clip: Option<f64>,
}

/// A trainer together with the state it keeps between steps (optimizer buffers, scratch
/// copies of the weights). Allocated once per run.
#[derive(Debug)]
pub struct SupernetTrainerState {
    trainer: SupernetTrainer,
    settings: SgdSettings,
    weights: Vec<Tensor>,
    /// The outer (supernet) optimizer, used by SPOS, FairNAS and MultiPath.
    opt: Sgd,
    /// The inner optimizer of the meta-learning trainers, reset for every task.
    inner: Option<Sgd>,
    /// `theta` before a meta step, for the weights of the step's paths.
    anchor: Vec<Tensor>,
    /// Accumulated `theta_hat_i - theta` of a meta-batch.
    delta: Vec<Tensor>,
}

impl SupernetTrainer {
    /// Minibatches one outer step consumes: `T` for the meta-learning trainers, else 1.
    pub fn minibatches_per_step(&self) -> usize {
        match *self {
            SupernetTrainer::Spos
            | SupernetTrainer::FairNas
            | SupernetTrainer::MultiPath { .. } => 1,
            SupernetTrainer::Reptile { inner_steps, .. }
            | SupernetTrainer::Metaprox { inner_steps, .. }
            | SupernetTrainer::MultiPathMetaprox { inner_steps, .. } => inner_steps,
        }
    }

    fn is_meta(&self) -> bool {
        matches!(
            self,
            SupernetTrainer::Reptile { .. }
                | SupernetTrainer::Metaprox { .. }
                | SupernetTrainer::MultiPathMetaprox { .. }
        )
    }
}

pub(crate) use sotl_train::cross_entropy;

/// One forward and backward pass of path `arch` on `(x, y)`: what supernet training and
/// finetuning both take a step from.
pub(crate) struct PathPass {
    /// The loss (before `scale`), detached, on the device: nothing is read back here.
    pub loss: Tensor,
    /// The path's logits.
    pub logits: Tensor,
    /// Gradients of `loss * scale`, one entry per supernet weight: `Some` for the path's
    /// weights the graph reached, `None` elsewhere.
    pub grads: Vec<Option<Tensor>>,
}

/// [`PathPass`] of `arch` (whose weights are `idx`, its [`PathNet::path_indices`]) on
/// `(x, y)`. The loss stays on the device; whoever records it checks that it is finite.
pub(crate) fn path_gradients<N: PathNet + ?Sized>(
    net: &N,
    weights: &[Tensor],
    arch: &ArchOf<N>,
    idx: &[usize],
    x: &Tensor,
    y: &Tensor,
    scale: f64,
) -> OneShotResult<PathPass> {
    let logits = net.forward_path(x, arch);
    let loss = cross_entropy(&logits, y);
    let inputs: Vec<&Tensor> = idx.iter().map(|&i| &weights[i]).collect();
    let value = loss.detach();
    let target = if scale == 1.0 { loss } else { loss * scale };
    let g = Tensor::f_run_backward(&[&target], &inputs, false, false)?;
    let mut grads: Vec<Option<Tensor>> = (0..weights.len()).map(|_| None).collect();
    for (&i, g) in idx.iter().zip(g) {
        if g.defined() {
            grads[i] = Some(g);
        }
    }
    Ok(PathPass { loss: value, logits, grads })
}

fn add_into(acc: &mut [Option<Tensor>], grads: Vec<Option<Tensor>>) {
    for (a, g) in acc.iter_mut().zip(grads) {
        if let Some(g) = g {
            *a = Some(match a.take() {
                Some(prev) => prev + g,
                None => g,
            });
        }
    }
}

impl SupernetTrainerState {
    /// State for `trainer` over `net`'s weights.
    pub fn new<N: PathNet + ?Sized>(
        trainer: SupernetTrainer,
        net: &N,
        settings: SgdSettings,
    ) -> OneShotResult<Self> {
        let weights = net.weights();
        let sgd =
            || path_sgd(&weights, settings.momentum, settings.nesterov, settings.weight_decay);
        let opt = sgd()?;
        let (inner, anchor, delta) = if trainer.is_meta() {
            let inner = sgd()?;
            let copy = |ws: &[Tensor]| ws.iter().map(|w| w.detach().copy()).collect::<Vec<_>>();
            (Some(inner), copy(&weights), copy(&weights))
        } else {
            (None, Vec::new(), Vec::new())
        };
        Ok(SupernetTrainerState { trainer, settings, weights, opt, inner, anchor, delta })
    }

    /// The trainer this state drives.
    pub fn trainer(&self) -> SupernetTrainer {
        self.trainer
    }

    /// The outer optimizer (its momentum is part of a checkpoint).
    pub fn optimizer(&self) -> &Sgd {
        &self.opt
    }

    /// Mutable outer optimizer, for restoring a checkpoint.
    pub fn optimizer_mut(&mut self) -> &mut Sgd {
        &mut self.opt
    }

    /// One outer step on `batches` (exactly [`SupernetTrainer::minibatches_per_step`] of them) with
    /// learning rate `lr`.
    pub fn step<N: PathNet + ?Sized, R: Rng + ?Sized>(
        &mut self,
        net: &N,
        batches: &[(Tensor, Tensor)],
        lr: f64,
        rng: &mut R,
    ) -> OneShotResult<StepStats<ArchOf<N>>> {
        assert_eq!(
            batches.len(),
            self.trainer.minibatches_per_step(),
            "wrong number of minibatches"
        );
        let space = net.space();
        match self.trainer {
            SupernetTrainer::Spos => {
                self.averaged(net, vec![uniform_path(&space, rng)], &batches[0], lr)
            }
            SupernetTrainer::FairNas => {
                self.averaged(net, fairnas_paths(&space, rng), &batches[0], lr)
            }
            SupernetTrainer::MultiPath { paths } => {
                self.averaged(net, uniform_paths(&space, rng, paths), &batches[0], lr)
            }
            SupernetTrainer::Reptile { outer_lr, .. } => {
                self.meta(net, vec![uniform_path(&space, rng)], batches, lr, outer_lr, 0.0)
            }
            SupernetTrainer::Metaprox { outer_lr, lambda, .. } => {
                self.meta(net, vec![uniform_path(&space, rng)], batches, lr, outer_lr, lambda)
            }
            SupernetTrainer::MultiPathMetaprox { paths, outer_lr, lambda, .. } => {
                self.meta(net, uniform_paths(&space, rng, paths), batches, lr, outer_lr, lambda)
            }
        }
    }

    /// SPOS, FairNAS, MultiPath: average the paths' gradients on one minibatch, one SGD step.
    fn averaged<N: PathNet + ?Sized>(
        &mut self,
        net: &N,
        paths: Vec<ArchOf<N>>,
        (x, y): &(Tensor, Tensor),
        lr: f64,
    ) -> OneShotResult<StepStats<ArchOf<N>>> {
        let scale = 1.0 / paths.len() as f64;
        let mut acc: Vec<Option<Tensor>> = (0..self.weights.len()).map(|_| None).collect();
        let mut loss = Tensor::zeros([], (Kind::Float, x.device()));
        for arch in &paths {
            let idx = net.path_indices(arch);
            let pass = path_gradients(net, &self.weights, arch, &idx, x, y, scale)?;
            loss += pass.loss * scale;
            add_into(&mut acc, pass.grads);
        }
        self.opt.set_lr(lr);
        optimizer_step(&mut self.opt, Gradients::Given(acc), self.settings.grad_clip, |_| Ok(()))
            .map_err(sgd_error)?;
        Ok(StepStats { loss, paths })
    }

    /// Reptile / Metaprox over a meta-batch of paths.
    #[allow(clippy::too_many_arguments)]
    fn meta<N: PathNet + ?Sized>(
        &mut self,
        net: &N,
        paths: Vec<ArchOf<N>>,
        batches: &[(Tensor, Tensor)],
        lr: f64,
        eps: f64,
        lambda: f64,
    ) -> OneShotResult<StepStats<ArchOf<N>>> {
        let k = paths.len() as f64;
        let path_idx: Vec<Vec<usize>> = paths.iter().map(|a| net.path_indices(a)).collect();
        let mut union: Vec<usize> = path_idx.iter().flatten().copied().collect();
        union.sort_unstable();
        union.dedup();
        tch::no_grad(|| {
            for &i in &union {
                self.anchor[i].copy_(&self.weights[i]);
                let _ = self.delta[i].zero_();
            }
        });
        let inner = self.inner.as_mut().expect("meta trainers have an inner optimizer");
        let mut loss = Tensor::zeros([], (Kind::Float, batches[0].0.device()));
        for (arch, idx) in paths.iter().zip(&path_idx) {
            inner.reset();
            for (t, (x, y)) in batches.iter().enumerate() {
                let pass = path_gradients(net, &self.weights, arch, idx, x, y, 1.0)?;
                let mut g = pass.grads;
                if t == 0 {
                    loss += pass.loss / k;
                }
                if lambda != 0.0 {
                    // Gradient of (lambda / 2) ||w - anchor||^2 is lambda (w - anchor).
                    tch::no_grad(|| {
                        for &i in idx {
                            if let Some(gi) = g[i].as_mut() {
                                *gi = &*gi + (&self.weights[i] - &self.anchor[i]) * lambda;
                            }
                        }
                    });
                }
                inner.set_lr(lr);
                optimizer_step(inner, Gradients::Given(g), self.settings.grad_clip, |_| Ok(()))
                    .map_err(sgd_error)?;
            }
            // Collect theta_hat - theta for this path, then put theta back for the next path.
            tch::no_grad(|| {
                for &i in idx {
                    let diff = &self.weights[i] - &self.anchor[i];
                    let _ = self.delta[i].g_add_(&(diff / k));
                    self.weights[i].shallow_clone().copy_(&self.anchor[i]);
                }
            });
        }
        tch::no_grad(|| {
            for &i in &union {
                let new = &self.anchor[i] + &self.delta[i] * eps;
                self.weights[i].shallow_clone().copy_(&new);
            }
        });
        Ok(StepStats { loss, paths })
    }
}
