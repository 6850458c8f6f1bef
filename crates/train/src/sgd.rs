//! Stochastic gradient descent with momentum, Nesterov and coupled weight decay.

use serde::{Deserialize, Serialize};
use tch::Tensor;

use crate::optimizer::{ensure_consumed, take_slot};
use crate::{Optimizer, OptimizerState, ParamGroup, Result, TrainError};

/// Hyperparameters of [`Sgd`] (the fields of PyTorch's `torch.optim.SGD`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SgdConfig {
    /// Learning rate (overwritten by a schedule each step).
    pub lr: f64,
    /// Momentum factor `mu` (0 disables the buffer).
    pub momentum: f64,
    /// Dampening `tau` of the momentum update.
    pub dampening: f64,
    /// L2 penalty `lambda`, added to the gradient (coupled, not decoupled as in AdamW/SGDW).
    pub weight_decay: f64,
    /// Nesterov momentum.
    pub nesterov: bool,
}

impl SgdConfig {
    /// NAS-Bench-201's training optimizer: lr 0.1, Nesterov momentum 0.9, weight decay 5e-4
    /// (AutoDL-Projects `configs/nas-benchmark/hyper-opts/200E.config`).
    pub fn nb201() -> Self {
        SgdConfig { lr: 0.1, momentum: 0.9, dampening: 0.0, weight_decay: 5e-4, nesterov: true }
    }

    /// Checks ranges, with PyTorch's rule that Nesterov needs momentum and no dampening.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(TrainError::Config(m));
        if !(self.lr.is_finite() && self.lr >= 0.0) {
            return bad(format!("SGD lr must be finite and >= 0, got {}", self.lr));
        }
        if !(0.0..1.0).contains(&self.momentum) {
            return bad(format!("SGD momentum must be in [0, 1), got {}", self.momentum));
        }
        if !(0.0..=1.0).contains(&self.dampening) {
            return bad(format!("SGD dampening must be in [0, 1], got {}", self.dampening));
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return bad(format!(
                "SGD weight decay must be finite and >= 0, got {}",
                self.weight_decay
            ));
        }
        if self.nesterov && (self.momentum <= 0.0 || self.dampening != 0.0) {
            return bad("Nesterov SGD needs momentum > 0 and dampening 0".into());
        }
        Ok(())
    }
}

/// SGD with PyTorch's `torch.optim.SGD` semantics: the one SGD of the workspace.
///
/// For each parameter `p` with a defined gradient `g` (undefined ones are skipped entirely):
///
/// ```text
/// d = g + lambda * p                                  (coupled weight decay)
/// b = d                        on the first update of p (no dampening then)
/// b = mu * b + (1 - tau) * d   afterwards
/// d = d + mu * b  (Nesterov)   or   d = b  (classical momentum)
/// p = p - lr * d
/// ```
///
/// Nesterov form from Sutskever et al. (2013) as implemented by PyTorch; the update is one
/// in-place sequence per tensor under `no_grad`, and `p.grad()` itself is left unchanged.
///
/// Two ways to step: [`Optimizer::step`] reads each parameter's `.grad()`; [`Sgd::step_with`]
/// takes the gradients as a list, where `None` means "not on this step's path": that parameter
/// gets no update at all (no weight decay, no momentum, its buffer keeps its value), exactly what
/// `torch.optim.SGD` does for a parameter whose `.grad` is `None`, which is how single-path
/// supernets train. [`Sgd::reset`] forgets all momentum in place, so finetuning many candidates
/// allocates no optimizer memory per candidate.
pub struct Sgd {
    cfg: SgdConfig,
    group: ParamGroup,
    /// Momentum buffers, allocated on a parameter's first update and kept across resets.
    momentum: Vec<Option<Tensor>>,
    /// Whether each buffer holds momentum (false before the first update and after a reset).
    started: Vec<bool>,
}

impl std::fmt::Debug for Sgd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sgd").field("cfg", &self.cfg).field("group", &self.group).finish()
    }
}

impl Sgd {
    /// SGD over `group`, after validating `cfg`.
    pub fn new(group: ParamGroup, cfg: SgdConfig) -> Result<Self> {
        cfg.validate()?;
        let momentum = (0..group.len()).map(|_| None).collect();
        let started = vec![false; group.len()];
        Ok(Sgd { cfg, group, momentum, started })
    }

    /// The hyperparameters in force (lr as last set).
    pub fn config(&self) -> &SgdConfig {
        &self.cfg
    }

    /// The momentum buffer of parameter `i` (group order), if it holds momentum.
    pub fn momentum_buffer(&self, i: usize) -> Option<&Tensor> {
        self.momentum.get(i).and_then(Option::as_ref).filter(|_| self.started[i])
    }

    /// Forgets all momentum, in place (the buffers stay allocated).
    pub fn reset(&mut self) {
        self.started.iter_mut().for_each(|s| *s = false);
    }

    /// The momentum as one tensor per parameter (zeros where none is held; nothing when momentum
    /// is off) and whether each holds momentum: a checkpoint layout independent of parameter
    /// names.
    pub fn momentum_dense(&self) -> (Vec<Tensor>, Vec<bool>) {
        if self.cfg.momentum == 0.0 {
            return (Vec::new(), self.started.clone());
        }
        let bufs = self
            .group
            .params()
            .iter()
            .zip(&self.momentum)
            .zip(&self.started)
            .map(|((p, b), &on)| match b {
                Some(b) if on => b.copy(),
                _ => p.zeros_like().detach(),
            })
            .collect();
        (bufs, self.started.clone())
    }

    /// Restores what [`Sgd::momentum_dense`] returned.
    pub fn load_momentum_dense(&mut self, buffers: &[Tensor], started: &[bool]) -> Result<()> {
        let n = self.group.len();
        let want = if self.cfg.momentum == 0.0 { 0 } else { n };
        if started.len() != n || buffers.len() != want {
            return Err(TrainError::Config(format!(
                "optimizer state has {} buffers for {} parameters; expected {want} for {n}",
                buffers.len(),
                started.len()
            )));
        }
        for (i, b) in buffers.iter().enumerate() {
            let p = &self.group.params()[i];
            if b.size() != p.size() {
                return Err(TrainError::Config(format!(
                    "momentum buffer shape {:?} != {:?}",
                    b.size(),
                    p.size()
                )));
            }
            self.momentum[i] = Some(b.to_device(p.device()).to_kind(p.kind()).detach().copy());
        }
        self.started = started.to_vec();
        Ok(())
    }

    /// One step with explicit gradients, `grads[i]` for parameter `i` in group order; `None` (or
    /// an undefined tensor) leaves parameter `i` and its momentum untouched.
    pub fn step_with(&mut self, grads: &[Option<Tensor>]) -> Result<()> {
        if grads.len() != self.group.len() {
            return Err(TrainError::Config(format!(
                "{} gradients for {} parameters",
                grads.len(),
                self.group.len()
            )));
        }
        tch::no_grad(|| -> Result<()> {
            for (i, g) in grads.iter().enumerate() {
                if let Some(g) = g.as_ref().filter(|g| g.defined()) {
                    self.update(i, g)?;
                }
            }
            Ok(())
        })
    }

    /// The update of parameter `i` with gradient `g` (callers hold `no_grad`).
    fn update(&mut self, i: usize, g: &Tensor) -> Result<()> {
        let SgdConfig { lr, momentum: mu, dampening: tau, weight_decay: wd, nesterov } = self.cfg;
        let p = &self.group.params()[i];
        let mut d = if wd != 0.0 { (p * wd).f_add_(g)? } else { g.f_detach_copy()? };
        if mu != 0.0 {
            let buf = match (self.momentum[i].take(), self.started[i]) {
                (Some(mut b), true) => {
                    let _ = b.f_mul_scalar_(mu)?;
                    if tau == 0.0 {
                        let _ = b.f_add_(&d)?;
                    } else {
                        let _ = b.f_add_(&(&d * (1.0 - tau)))?;
                    }
                    b
                }
                // First update since creation or reset: the buffer becomes d.
                (Some(mut b), false) => {
                    b.f_copy_(&d)?;
                    b
                }
                (None, _) => d.f_detach_copy()?,
            };
            self.started[i] = true;
            if nesterov {
                let _ = d.f_add_(&(&buf * mu))?;
            } else {
                d = buf.shallow_clone();
            }
            self.momentum[i] = Some(buf);
        }
        let _ = p.shallow_clone().f_sub_(&(&d * lr))?;
        Ok(())
    }
}

impl Optimizer for Sgd {
    fn step_with(&mut self, grads: &[Option<Tensor>]) -> Result<()> {
        Sgd::step_with(self, grads)
    }

    fn group(&self) -> &ParamGroup {
        &self.group
    }

    fn lr(&self) -> f64 {
        self.cfg.lr
    }

    fn set_lr(&mut self, lr: f64) {
        self.cfg.lr = lr;
    }

    fn state(&self) -> OptimizerState {
        let tensors = self
            .group
            .names()
            .iter()
            .zip(&self.momentum)
            .zip(&self.started)
            .filter_map(|((n, b), &on)| {
                b.as_ref().filter(|_| on).map(|b| (format!("momentum/{n}"), b.copy()))
            })
            .collect();
        OptimizerState { tensors, counters: Default::default() }
    }

    fn load_state(&mut self, mut state: OptimizerState) -> Result<()> {
        let momentum = take_slot(&mut state, "momentum", &self.group)?;
        ensure_consumed(&state, "SGD")?;
        self.started = momentum.iter().map(Option::is_some).collect();
        self.momentum = momentum;
        Ok(())
    }
}
