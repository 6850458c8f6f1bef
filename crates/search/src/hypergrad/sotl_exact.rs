//! The exact SoTL hypergradient: reverse mode through T unrolled SGD steps.

use sotl_train::{hypergradient, unroll_sgd, Batch, LastStep, TrainError};
use tch::Tensor;

use super::autograd::{grads, leaves};
use crate::{DartsError, DartsResult};

/// The result of [`exact_sotl_grad`] and [`approx_sotl_grad`].
#[derive(Debug)]
pub struct SotlGrad {
    /// `∇_α SoTL`, shaped like alpha (detached).
    pub alpha_grad: Tensor,
    /// `L_train^t` for every unrolled step, in order.
    pub losses: Vec<f64>,
}

impl SotlGrad {
    /// `SoTL = Σ_t L_train^t`.
    pub fn sotl(&self) -> f64 {
        self.losses.iter().sum()
    }
}

/// The exact gradient of the sum of training losses over `T = batches.len()` unrolled SGD steps
/// (thesis Section 3.3.2, Eq. 3.13-3.20):
///
/// ```text
/// w_{t+1} = w_t − η (∇_w L(w_t, α; b_t) + λ w_t),   SoTL(α) = Σ_{t=0}^{T-1} L(w_t, α; b_t),
/// ∇_α SoTL = Σ_t [∂L_t/∂α + ∂L_t/∂w_t · ∂w_t/∂α]
/// ```
///
/// computed by reverse-mode differentiation through the whole unrolling on the one unrolled-SGD
/// engine ([`sotl_train::unroll_sgd`]), so memory grows as O(T) copies of the weights and their graphs:
/// meant for small supernets and short windows. `w_0 = weights` does not depend on α. `loss` is
/// the differentiable objective (for a supernet, cross-entropy of `forward_with`).
pub fn exact_sotl_grad<F>(
    loss: F,
    weights: &[Tensor],
    alpha: &Tensor,
    batches: &[Batch],
    lr: f64,
    weight_decay: f64,
) -> DartsResult<SotlGrad>
where
    F: Fn(&[Tensor], &Tensor, &Batch) -> Tensor,
{
    if batches.is_empty() {
        return Err(DartsError::Hypergrad("SoTL needs at least one batch".into()));
    }
    let a = alpha.detach().copy().set_requires_grad(true);
    // The update after the last loss feeds no loss: skipped.
    let un = unroll_sgd(
        weights,
        batches.len(),
        LastStep::Skipped,
        |t, w| loss(w, &a, &batches[t]),
        |wi, gi| {
            if weight_decay != 0.0 {
                wi - (gi + wi * weight_decay) * lr
            } else {
                wi - gi * lr
            }
        },
    )
    .map_err(|e| match e {
        TrainError::NonFiniteLoss { step, value, .. } => {
            DartsError::NonFinite { what: "unrolled training loss", epoch: 0, step, value }
        }
        other => DartsError::Hypergrad(other.to_string()),
    })?;
    let alpha_grad =
        hypergradient(&un.sotl, &a).map_err(|e| DartsError::Hypergrad(e.to_string()))?;
    Ok(SotlGrad { alpha_grad, losses: un.losses })
}

/// The approximate (first-order) SoTL gradient of the same unrolling (thesis Eq. 3.21-3.22):
/// `Σ_t ∂L(w_t, α; b_t)/∂α` with each `w_t` treated as a constant, as SoTL-DARTS accumulates it.
pub fn approx_sotl_grad<F>(
    loss: F,
    weights: &[Tensor],
    alpha: &Tensor,
    batches: &[Batch],
    lr: f64,
    weight_decay: f64,
) -> DartsResult<SotlGrad>
where
    F: Fn(&[Tensor], &Tensor, &Batch) -> Tensor,
{
    if batches.is_empty() {
        return Err(DartsError::Hypergrad("SoTL needs at least one batch".into()));
    }
    let a = alpha.detach().copy().set_requires_grad(true);
    let mut w = leaves(weights);
    let mut acc = a.zeros_like();
    let mut losses = Vec::with_capacity(batches.len());
    for b in batches {
        let l = loss(&w, &a, b);
        losses.push(l.double_value(&[]));
        let mut inputs: Vec<&Tensor> = vec![&a];
        inputs.extend(w.iter());
        let mut g = grads(&l, &inputs, false)?;
        acc += g.remove(0);
        w = tch::no_grad(|| {
            w.iter()
                .zip(&g)
                .map(|(wi, gi)| {
                    (wi - (gi + wi * weight_decay) * lr).detach().set_requires_grad(true)
                })
                .collect()
        });
    }
    Ok(SotlGrad { alpha_grad: acc.detach(), losses })
}
