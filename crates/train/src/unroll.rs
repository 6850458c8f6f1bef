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
    loss_at: F,
    update: U,
) -> Result<Unrolled>
where
    F: FnMut(usize, &[Tensor]) -> Tensor,
    U: Fn(&Tensor, &Tensor) -> Tensor,
{
    run(start, steps, last, true, loss_at, update)
}

/// The same `steps` SGD steps as [`unroll_sgd`] (same update, same checks), keeping no graph:
/// the real weight steps taken after a hypergradient step (step 3 of DARTS' Algorithm 1 and of
/// SoTL-DARTS), in the memory of one step. `sotl` and `params` are detached.
pub fn sgd_steps<F, U>(start: &[Tensor], steps: usize, loss_at: F, update: U) -> Result<Unrolled>
where
    F: FnMut(usize, &[Tensor]) -> Tensor,
    U: Fn(&Tensor, &Tensor) -> Tensor,
{
    run(start, steps, LastStep::Detached, false, loss_at, update)
}

fn run<F, U>(
    start: &[Tensor],
    steps: usize,
    last: LastStep,
    graph: bool,
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
            let attached = graph && (!is_last || last == LastStep::Attached);
            let refs: Vec<&Tensor> = w.iter().collect();
            let grads = Tensor::f_run_backward(&[&loss], &refs, graph, attached)?;
            w = w
                .iter()
                .zip(grads)
                .map(|(p, g)| {
                    let g = if g.defined() { g } else { p.zeros_like() };
                    if !graph {
                        // No graph: the next step differentiates from a fresh leaf.
                        return tch::no_grad(|| update(p, &g)).set_requires_grad(!is_last);
                    }
                    let next = update(p, &g);
                    if attached {
                        next
                    } else {
                        next.detach()
                    }
                })
                .collect();
        }
        let loss = if graph { loss } else { loss.detach() };
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_steps_take_the_unrolls_steps_without_a_graph() {
        // L_t(w) = (w - c_t)^2 / 2 for w = 1 and c = 0.5, 2, -1 at lr 0.1: gradients w - c_t, so
        // w1 = 1 - 0.1 * 0.5 = 0.95, w2 = 0.95 - 0.1 * (0.95 - 2) = 1.055, and the last update
        // w3 = 1.055 - 0.1 * (1.055 + 1) = 0.8495; losses 0.125, 0.55125, 2.1115125.
        let c = [0.5, 2.0, -1.0];
        let start = [Tensor::from(1.0f64)];
        let loss_at = |t: usize, w: &[Tensor]| (&w[0] - c[t]).square() / 2.0;
        let plain = sgd_steps(&start, 3, loss_at, |p, g| p - g * 0.1).unwrap();
        let lr = Tensor::from(0.1f64).set_requires_grad(true);
        let graph = unroll_sgd(&start, 3, LastStep::Detached, loss_at, |p, g| p - &lr * g).unwrap();
        for (got, want) in plain.losses.iter().zip([0.125, 0.55125, 2.1115125]) {
            assert!((got - want).abs() < 1e-12, "{got} vs {want}");
        }
        assert_eq!(plain.losses, graph.losses);
        assert!((plain.params[0].double_value(&[]) - 0.8495).abs() < 1e-12);
        assert_eq!(plain.params[0].double_value(&[]), graph.params[0].double_value(&[]));
        assert!(!plain.params[0].requires_grad() && !plain.sotl.requires_grad());
        assert!(graph.sotl.requires_grad(), "the unroll keeps its graph");
    }
}
