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

/// SGD with PyTorch's `torch.optim.SGD` semantics.
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
pub struct Sgd {
    cfg: SgdConfig,
    group: ParamGroup,
    momentum: Vec<Option<Tensor>>,
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
        Ok(Sgd { cfg, group, momentum })
    }

    /// The hyperparameters in force (lr as last set).
    pub fn config(&self) -> &SgdConfig {
        &self.cfg
    }

    /// The momentum buffer of parameter `i` (group order), if it has one yet.
    pub fn momentum_buffer(&self, i: usize) -> Option<&Tensor> {
        self.momentum.get(i).and_then(Option::as_ref)
    }
}

impl Optimizer for Sgd {
    fn step(&mut self) -> Result<()> {
        let SgdConfig { lr, momentum: mu, dampening: tau, weight_decay: wd, nesterov } = self.cfg;
        tch::no_grad(|| -> Result<()> {
            for (i, p) in self.group.params().iter().enumerate() {
                let g = p.grad();
                if !g.defined() {
                    continue;
                }
                let mut d = if wd != 0.0 { (p * wd).f_add_(&g)? } else { g.f_detach_copy()? };
                if mu != 0.0 {
                    let buf = match self.momentum[i].take() {
                        None => d.f_detach_copy()?,
                        Some(mut b) => {
                            let _ = b.f_mul_scalar_(mu)?;
                            if tau == 0.0 {
                                let _ = b.f_add_(&d)?;
                            } else {
                                let _ = b.f_add_(&(&d * (1.0 - tau)))?;
                            }
                            b
                        }
                    };
                    if nesterov {
                        let _ = d.f_add_(&(&buf * mu))?;
                    } else {
                        d = buf.shallow_clone();
                    }
                    self.momentum[i] = Some(buf);
                }
                let _ = p.shallow_clone().f_sub_(&(&d * lr))?;
            }
            Ok(())
        })
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
            .filter_map(|(n, b)| b.as_ref().map(|b| (format!("momentum/{n}"), b.copy())))
            .collect();
        OptimizerState { tensors, counters: Default::default() }
    }

    fn load_state(&mut self, mut state: OptimizerState) -> Result<()> {
        let momentum = take_slot(&mut state, "momentum", &self.group)?;
        ensure_consumed(&state, "SGD")?;
        self.momentum = momentum;
        Ok(())
    }
}
