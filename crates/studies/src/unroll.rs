//! Exact hypergradients through T unrolled SGD steps (reverse mode, memory O(T)).
//!
//! The weights are non-leaf tensors: `w_{t+1} = w_t - lr * g_t` with `g_t` computed with
//! `create_graph = true`, so the sum of the T training losses (SoTL, thesis Eq. 3.13a) or a
//! validation loss at `w_T` can be differentiated with respect to any hyperparameter that enters
//! either the losses (an architecture parameter, e.g. the Fourier `MaxDeg`) or the step size
//! (the learning rate itself, Baydin et al. 2018). The full expansion is thesis Eq. (3.18); here
//! autograd evaluates it, storing every `w_t`.

use tch::Tensor;

use crate::{Result, StudiesError};

/// T differentiable SGD steps, still attached to the autograd graph.
#[derive(Debug)]
pub struct Unrolled {
    /// `sum_{t=0}^{T-1} L_t(w_t)`, attached to the graph (a 0-d tensor).
    pub sotl: Tensor,
    /// `w_T`, attached to the graph when `differentiable_final` was set.
    pub params: Vec<Tensor>,
    /// The T training losses as numbers, in order.
    pub losses: Vec<f64>,
}

/// Runs `steps` SGD steps `w_{t+1} = w_t - lr * grad L_t(w_t)` from (detached copies of) `start`.
///
/// `loss_at(t, w_t)` returns the scalar training loss of step `t`. Every step but the last keeps
/// its gradient in the graph (`create_graph`), so `sotl` depends on `lr` and on anything
/// `loss_at` closes over. With `differentiable_final` the last step does too (needed when the
/// objective is a loss at `w_T`); without it `w_T` is still correct but detached from the graph,
/// which saves one double-backward for SoTL objectives (`L_{T-1}` does not depend on `w_T`).
///
/// Errors with [`StudiesError::NonFinite`] when a loss is NaN or infinite, naming the step.
pub fn unroll_sgd<F>(
    start: &[Tensor],
    lr: &Tensor,
    steps: usize,
    differentiable_final: bool,
    mut loss_at: F,
) -> Result<Unrolled>
where
    F: FnMut(usize, &[Tensor]) -> Tensor,
{
    if steps == 0 {
        return Err(StudiesError::Config("an unroll needs at least one step".into()));
    }
    let mut w: Vec<Tensor> = start.iter().map(|p| p.detach().set_requires_grad(true)).collect();
    let mut losses = Vec::with_capacity(steps);
    let mut sotl: Option<Tensor> = None;
    for t in 0..steps {
        let loss = loss_at(t, &w);
        let v = loss.double_value(&[]);
        if !v.is_finite() {
            return Err(StudiesError::NonFinite { what: "training loss", step: t, value: v });
        }
        losses.push(v);
        let keep = t + 1 < steps || differentiable_final;
        let grads = Tensor::run_backward(&[&loss], &w, true, keep);
        w = w
            .iter()
            .zip(grads)
            .map(|(p, g)| {
                let next = p - lr * g;
                if keep {
                    next
                } else {
                    next.detach()
                }
            })
            .collect();
        sotl = Some(match sotl {
            None => loss,
            Some(s) => s + loss,
        });
    }
    let sotl = sotl.expect("steps >= 1");
    Ok(Unrolled { sotl, params: w, losses })
}

/// `d objective / d hyper` for a scalar objective built from an [`Unrolled`]; zero when the
/// objective does not depend on `hyper`.
pub fn hypergradient(objective: &Tensor, hyper: &Tensor) -> Tensor {
    if !objective.requires_grad() {
        return hyper.zeros_like();
    }
    let g = Tensor::run_backward(&[objective], &[hyper], false, false);
    let g = g.into_iter().next().expect("one input");
    // The autograd engine returns an undefined tensor for an input the graph never used.
    if g.defined() {
        g.detach()
    } else {
        hyper.zeros_like()
    }
}

/// Scales `g` so its Euclidean norm is at most `max_norm` (the thesis clips hypergradients to 10).
pub fn clip_norm(g: &Tensor, max_norm: f64) -> Tensor {
    let n = g.norm().double_value(&[]);
    if n > max_norm {
        g * (max_norm / n)
    } else {
        g.shallow_clone()
    }
}
