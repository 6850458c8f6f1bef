//! The one unrolled-SGD engine: T differentiable SGD steps whose training losses (and final
//! weights) stay on the autograd graph, so a hyperparameter that enters the losses (an
//! architecture parameter) or the update (the learning rate) gets its exact hypergradient by
//! reverse mode (thesis Eq. 3.13-3.20; Baydin et al. 2018 for the learning rate). Memory grows
//! as O(T) copies of the weights and their graphs.

use tch::Tensor;

use crate::{Result, TrainError};

/// What becomes of the update after the last loss, which no loss of the unroll depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LastStep {
    /// Taken and kept on the graph (an objective evaluated at `w_T`, e.g. a validation loss).
    Attached,
    /// Taken but detached (SoTL objectives that continue training from `w_T`).
    Detached,
    /// Not taken: `params` are `w_{T-1}`, saving one backward pass.
    Skipped,
}

/// T differentiable SGD steps, still attached to the autograd graph.
#[derive(Debug)]
pub struct Unrolled {
    /// `Σ_{t<T} L_t(w_t)`, attached to the graph (a 0-d tensor): SoTL.
    pub sotl: Tensor,
    /// The weights after the unroll (see [`LastStep`]).
    pub params: Vec<Tensor>,
    /// The T training losses as numbers, in order.
    pub losses: Vec<f64>,
}

/// Runs `steps` SGD steps from fresh leaf copies of `start`: `loss_at(t, w_t)` is step `t`'s
/// scalar training loss, and `update(w, g)` the new value of one weight from its gradient
/// (e.g. `w - lr * g`, with `lr` a tensor when it is the hyperparameter). Every gradient but the
/// last is built with `create_graph`, so the losses of later steps, and `sotl`, are
/// differentiable through the earlier updates. A weight the loss does not reach gets a zero
/// gradient. A NaN or infinite loss is [`TrainError::NonFiniteLoss`] naming the step.
pub fn unroll_sgd<F, U>(
    start: &[Tensor],
    steps: usize,
    last: LastStep,
    mut loss_at: F,
    update: U,
) -> Result<Unrolled>
where
    F: FnMut(usize, &[Tensor]) -> Tensor,
    U: Fn(&Tensor, &Tensor) -> Tensor,
{
    if steps == 0 {
        return Err(TrainError::Config("an unroll needs at least one step".into()));
    }
    let mut w: Vec<Tensor> =
        start.iter().map(|p| p.detach().copy().set_requires_grad(true)).collect();
    let mut losses = Vec::with_capacity(steps);
    let mut sotl: Option<Tensor> = None;
    for t in 0..steps {
        let loss = loss_at(t, &w);
        let value = loss.double_value(&[]);
        if !value.is_finite() {
            return Err(TrainError::NonFiniteLoss { step: t, epoch: 0, value });
        }
        losses.push(value);
        let is_last = t + 1 == steps;
        if !(is_last && last == LastStep::Skipped) {
            let attached = !is_last || last == LastStep::Attached;
            let refs: Vec<&Tensor> = w.iter().collect();
            let grads = Tensor::f_run_backward(&[&loss], &refs, true, attached)?;
            w = w
                .iter()
                .zip(grads)
                .map(|(p, g)| {
                    let g = if g.defined() { g } else { p.zeros_like() };
                    let next = update(p, &g);
                    if attached {
                        next
                    } else {
                        next.detach()
                    }
                })
                .collect();
        }
        sotl = Some(match sotl {
            None => loss,
            Some(s) => s + loss,
        });
    }
    let sotl = sotl.expect("steps >= 1");
    Ok(Unrolled { sotl, params: w, losses })
}

/// `d objective / d hyper` for a scalar objective built from an [`Unrolled`], detached; zero
/// when the objective does not depend on `hyper`.
pub fn hypergradient(objective: &Tensor, hyper: &Tensor) -> Result<Tensor> {
    if !objective.requires_grad() {
        return Ok(hyper.zeros_like());
    }
    let g = Tensor::f_run_backward(&[objective], &[hyper], false, false)?;
    // The autograd engine returns an undefined tensor for an input the graph never used.
    Ok(match g.into_iter().next() {
        Some(g) if g.defined() => g.detach(),
        _ => hyper.zeros_like(),
    })
}
