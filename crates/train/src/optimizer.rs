//! The optimizer interface shared by [`crate::Sgd`] and [`crate::Adam`], and its saved state.

use std::collections::BTreeMap;

use tch::Tensor;

use crate::{ParamGroup, Result};

/// An optimizer's state for a checkpoint: named tensors (momentum buffers, Adam moments) and
/// named counters (Adam step counts). Names are `<slot>/<parameter name>`.
#[derive(Debug, Default)]
pub struct OptimizerState {
    /// State tensors, e.g. `momentum/cell0.conv.weight`.
    pub tensors: Vec<(String, Tensor)>,
    /// Integer state, e.g. `step/cell0.conv.weight`.
    pub counters: BTreeMap<String, u64>,
}

/// A first-order optimizer over one [`ParamGroup`], reading gradients from `param.grad()` or
/// from a list given per step.
///
/// Parameters whose gradient is undefined in a step are skipped entirely: no weight decay, no
/// momentum or moment update, no step count (PyTorch's behaviour after `zero_grad()` sets
/// gradients to None).
pub trait Optimizer {
    /// Applies one update with `grads`, one entry per parameter of the group in group order;
    /// `None` or undefined entries get no update at all.
    fn step_with(&mut self, grads: &[Option<Tensor>]) -> Result<()>;

    /// Applies one update to every parameter with a defined `.grad()`.
    fn step(&mut self) -> Result<()> {
        let grads = self.group().grads();
        self.step_with(&grads)
    }
    /// The parameters this optimizer updates.
    fn group(&self) -> &ParamGroup;
    /// Current learning rate.
    fn lr(&self) -> f64;
    /// Sets the learning rate (schedules call this before each step).
    fn set_lr(&mut self, lr: f64);
    /// A copy of the optimizer's state, for a checkpoint.
    fn state(&self) -> OptimizerState;
    /// Restores state written by [`Optimizer::state`]; errors on unknown names or shapes.
    fn load_state(&mut self, state: OptimizerState) -> Result<()>;

    /// Sets every gradient of the group to undefined (see [`ParamGroup::zero_grad`]).
    fn zero_grad(&self) {
        self.group().zero_grad();
    }
}

/// Splits `slot/param` names back into per-parameter slots, checking names and shapes.
pub(crate) fn take_slot(
    state: &mut OptimizerState,
    slot: &str,
    group: &ParamGroup,
) -> Result<Vec<Option<Tensor>>> {
    let mut out: Vec<Option<Tensor>> = (0..group.len()).map(|_| None).collect();
    let prefix = format!("{slot}/");
    let mut rest = Vec::new();
    for (name, t) in state.tensors.drain(..) {
        let Some(pname) = name.strip_prefix(&prefix) else {
            rest.push((name, t));
            continue;
        };
        let i = group.names().iter().position(|n| n == pname).ok_or_else(|| {
            crate::TrainError::Config(format!(
                "optimizer state {name:?} names no parameter of the group"
            ))
        })?;
        if t.size() != group.params()[i].size() {
            return Err(crate::TrainError::Config(format!(
                "optimizer state {name:?} has shape {:?}, parameter has {:?}",
                t.size(),
                group.params()[i].size()
            )));
        }
        let t = t.to_device(group.params()[i].device()).to_kind(group.params()[i].kind());
        out[i] = Some(t);
    }
    state.tensors = rest;
    Ok(out)
}

/// Fails when `state` still holds entries no slot claimed (a state from another optimizer).
pub(crate) fn ensure_consumed(state: &OptimizerState, what: &str) -> Result<()> {
    if let Some((name, _)) = state.tensors.first() {
        return Err(crate::TrainError::Config(format!(
            "{what} state has unexpected entry {name:?}"
        )));
    }
    Ok(())
}

/// An optimizer borrowed for a run (the one-shot finetuner keeps its optimizer across
/// candidates and lends it to one loop per candidate).
impl<O: Optimizer + ?Sized> Optimizer for &mut O {
    fn step_with(&mut self, grads: &[Option<Tensor>]) -> Result<()> {
        (**self).step_with(grads)
    }
    fn step(&mut self) -> Result<()> {
        (**self).step()
    }
    fn group(&self) -> &ParamGroup {
        (**self).group()
    }
    fn lr(&self) -> f64 {
        (**self).lr()
    }
    fn set_lr(&mut self, lr: f64) {
        (**self).set_lr(lr)
    }
    fn state(&self) -> OptimizerState {
        (**self).state()
    }
    fn load_state(&mut self, state: OptimizerState) -> Result<()> {
        (**self).load_state(state)
    }
}
