//! Adam with coupled (L2) weight decay, as DARTS uses for architecture parameters.

use serde::{Deserialize, Serialize};
use tch::Tensor;

use crate::optimizer::{ensure_consumed, take_slot};
use crate::{Optimizer, OptimizerState, ParamGroup, Result, TrainError};

/// Hyperparameters of [`Adam`] (the fields of PyTorch's `torch.optim.Adam`, without amsgrad).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdamConfig {
    /// Learning rate.
    pub lr: f64,
    /// Decay rate of the first moment.
    pub beta1: f64,
    /// Decay rate of the second moment.
    pub beta2: f64,
    /// Term added to the denominator for stability.
    pub eps: f64,
    /// L2 penalty added to the gradient (PyTorch Adam, not AdamW).
    pub weight_decay: f64,
}

impl AdamConfig {
    /// The DARTS architecture optimizer: lr 3e-4, betas (0.5, 0.999), weight decay 1e-3
    /// (Liu et al. 2019; thesis Table B.1).
    pub fn darts_arch() -> Self {
        AdamConfig { lr: 3e-4, beta1: 0.5, beta2: 0.999, eps: 1e-8, weight_decay: 1e-3 }
    }

    /// Checks ranges.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(TrainError::Config(m));
        if !(self.lr.is_finite() && self.lr >= 0.0) {
            return bad(format!("Adam lr must be finite and >= 0, got {}", self.lr));
        }
        for (name, b) in [("beta1", self.beta1), ("beta2", self.beta2)] {
            if !(0.0..1.0).contains(&b) {
                return bad(format!("Adam {name} must be in [0, 1), got {b}"));
            }
        }
        if !(self.eps.is_finite() && self.eps > 0.0) {
            return bad(format!("Adam eps must be finite and > 0, got {}", self.eps));
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return bad(format!(
                "Adam weight decay must be finite and >= 0, got {}",
                self.weight_decay
            ));
        }
        Ok(())
    }
}

/// Adam (Kingma & Ba 2015) with PyTorch's `torch.optim.Adam` semantics.
///
/// For each parameter `p` with a defined gradient `g` (undefined ones are skipped entirely,
/// including the step count `t`, which is kept per parameter):
///
/// ```text
/// t = t + 1
/// d = g + lambda * p
/// m = beta1 * m + (1 - beta1) * d
/// v = beta2 * v + (1 - beta2) * d^2
/// p = p - (lr / (1 - beta1^t)) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
/// ```
pub struct Adam {
    cfg: AdamConfig,
    group: ParamGroup,
    exp_avg: Vec<Option<Tensor>>,
    exp_avg_sq: Vec<Option<Tensor>>,
    steps: Vec<u64>,
}

impl std::fmt::Debug for Adam {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Adam").field("cfg", &self.cfg).field("group", &self.group).finish()
    }
}

impl Adam {
    /// Adam over `group`, after validating `cfg`.
    pub fn new(group: ParamGroup, cfg: AdamConfig) -> Result<Self> {
        cfg.validate()?;
        let n = group.len();
        Ok(Adam {
            cfg,
            group,
            exp_avg: (0..n).map(|_| None).collect(),
            exp_avg_sq: (0..n).map(|_| None).collect(),
            steps: vec![0; n],
        })
    }

    /// The hyperparameters in force (lr as last set).
    pub fn config(&self) -> &AdamConfig {
        &self.cfg
    }

    /// Number of updates parameter `i` (group order) has received.
    pub fn step_count(&self, i: usize) -> u64 {
        self.steps.get(i).copied().unwrap_or(0)
    }
}

impl Optimizer for Adam {
    fn step_with(&mut self, grads: &[Option<Tensor>]) -> Result<()> {
        if grads.len() != self.group.len() {
            return Err(TrainError::Config(format!(
                "{} gradients for {} parameters",
                grads.len(),
                self.group.len()
            )));
        }
        let AdamConfig { lr, beta1, beta2, eps, weight_decay: wd } = self.cfg;
        tch::no_grad(|| -> Result<()> {
            for (i, p) in self.group.params().iter().enumerate() {
                let Some(g) = grads[i].as_ref().filter(|g| g.defined()) else {
                    continue;
                };
                self.steps[i] += 1;
                let t = self.steps[i] as i32;
                let d = if wd != 0.0 { (p * wd).f_add_(g)? } else { g.shallow_clone() };
                let m = self.exp_avg[i].get_or_insert_with(|| p.zeros_like());
                let _ = m.f_lerp_(&d, 1.0 - beta1)?;
                let v = self.exp_avg_sq[i].get_or_insert_with(|| p.zeros_like());
                let _ = v.f_mul_scalar_(beta2)?;
                let _ = v.f_add_(&(&d * &d * (1.0 - beta2)))?;
                let bc1 = 1.0 - beta1.powi(t);
                let bc2 = 1.0 - beta2.powi(t);
                let mut denom = v.f_sqrt()?;
                let _ = denom.f_div_scalar_(bc2.sqrt())?;
                let _ = denom.f_add_scalar_(eps)?;
                let upd = (&*m / denom) * (lr / bc1);
                let _ = p.shallow_clone().f_sub_(&upd)?;
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
        let mut st = OptimizerState::default();
        for (i, n) in self.group.names().iter().enumerate() {
            if let (Some(m), Some(v)) = (&self.exp_avg[i], &self.exp_avg_sq[i]) {
                st.tensors.push((format!("exp_avg/{n}"), m.copy()));
                st.tensors.push((format!("exp_avg_sq/{n}"), v.copy()));
                st.counters.insert(format!("step/{n}"), self.steps[i]);
            }
        }
        st
    }

    fn load_state(&mut self, mut state: OptimizerState) -> Result<()> {
        let m = take_slot(&mut state, "exp_avg", &self.group)?;
        let v = take_slot(&mut state, "exp_avg_sq", &self.group)?;
        ensure_consumed(&state, "Adam")?;
        let mut steps = vec![0; self.group.len()];
        for (i, n) in self.group.names().iter().enumerate() {
            let c = state.counters.get(&format!("step/{n}")).copied().unwrap_or(0);
            if (c > 0) != (m[i].is_some() && v[i].is_some()) {
                return Err(TrainError::Config(format!("Adam state of {n:?} is incomplete")));
            }
            steps[i] = c;
        }
        self.exp_avg = m;
        self.exp_avg_sq = v;
        self.steps = steps;
        Ok(())
    }
}
