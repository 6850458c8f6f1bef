//! Exact hypergradients through T unrolled SGD steps (reverse mode, memory O(T)).
//!
//! The weights are non-leaf tensors: `w_{t+1} = w_t - lr * g_t` with `g_t` computed with
//! `create_graph = true`, so the sum of the T training losses (SoTL, thesis Eq. 3.13a) or a
//! validation loss at `w_T` can be differentiated with respect to any hyperparameter that enters
//! either the losses (an architecture parameter, e.g. the Fourier `MaxDeg`) or the step size
//! (the learning rate itself, Baydin et al. 2018). The full expansion is thesis Eq. (3.18); here
//! autograd evaluates it, storing every `w_t`.

use sotl_train::{LastStep, TrainError};
use tch::Tensor;

use crate::{Result, StudiesError};

pub use sotl_train::Unrolled;

/// Runs `steps` plain SGD steps `w_{t+1} = w_t - lr * grad L_t(w_t)` from copies of `start` on
/// the workspace's one unrolled-SGD engine ([`sotl_train::unroll_sgd`]); `lr` is a tensor so the
/// learning rate itself can be the hyperparameter.
///
/// `loss_at(t, w_t)` returns the scalar training loss of step `t`. With `differentiable_final`
/// the last step stays on the graph too (needed when the objective is a loss at `w_T`); without
/// it `w_T` is still correct but detached, which saves one double-backward for SoTL objectives
/// (`L_{T-1}` does not depend on `w_T`).
///
/// Errors with [`StudiesError::NonFinite`] when a loss is NaN or infinite, naming the step.
pub fn unroll_sgd<F>(
    start: &[Tensor],
    lr: &Tensor,
    steps: usize,
    differentiable_final: bool,
    loss_at: F,
) -> Result<Unrolled>
where
    F: FnMut(usize, &[Tensor]) -> Tensor,
{
    let last = if differentiable_final { LastStep::Attached } else { LastStep::Detached };
    sotl_train::unroll_sgd(start, steps, last, loss_at, |p, g| p - lr * g).map_err(non_finite)
}

/// `steps` plain SGD steps `w_{t+1} = w_t - lr * grad L_t(w_t)` from copies of `start` with no
/// graph kept (see [`sotl_train::sgd_steps`]): the real steps after a hypergradient step.
pub fn sgd_steps<F>(start: &[Tensor], lr: f64, steps: usize, loss_at: F) -> Result<Unrolled>
where
    F: FnMut(usize, &[Tensor]) -> Tensor,
{
    sotl_train::sgd_steps(start, steps, loss_at, |p, g| p - g * lr).map_err(non_finite)
}

fn non_finite(e: TrainError) -> StudiesError {
    match e {
        TrainError::NonFiniteLoss { step, value, .. } => {
            StudiesError::NonFinite { what: "training loss", step, value }
        }
        other => StudiesError::Config(other.to_string()),
    }
}

/// `d objective / d hyper` for a scalar objective built from an [`Unrolled`]; zero when the
/// objective does not depend on `hyper`.
pub fn hypergradient(objective: &Tensor, hyper: &Tensor) -> Result<Tensor> {
    sotl_train::hypergradient(objective, hyper).map_err(|e| StudiesError::Config(e.to_string()))
}
