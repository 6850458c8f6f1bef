//! The exact SoTL hypergradient: reverse mode through T unrolled SGD steps.

use sotl_train::Batch;
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
    /// The weights after the T steps (detached).
    pub final_weights: Vec<Tensor>,
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
/// computed by reverse-mode differentiation through the whole unrolling (every inner gradient
/// built with `create_graph`), so memory grows as O(T) copies of the weights and their graphs:
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
    let mut w = leaves(weights);
    let mut total: Option<Tensor> = None;
    let mut losses = Vec::with_capacity(batches.len());
    for (t, b) in batches.iter().enumerate() {
        let l = loss(&w, &a, b);
        let value = l.double_value(&[]);
        if !value.is_finite() {
            return Err(DartsError::NonFinite {
                what: "unrolled training loss",
                epoch: 0,
                step: t,
                value,
            });
        }
        losses.push(value);
        // The last step's update never feeds a loss, so its gradient graph is not needed.
        if t + 1 < batches.len() {
            let refs: Vec<&Tensor> = w.iter().collect();
            let g = grads(&l, &refs, true)?;
            w = w
                .iter()
                .zip(&g)
                .map(|(wi, gi)| {
                    if weight_decay != 0.0 {
                        wi - (gi + wi * weight_decay) * lr
                    } else {
                        wi - gi * lr
                    }
                })
                .collect();
        }
        total = Some(match total {
            None => l,
            Some(s) => s + l,
        });
    }
    let total = total.expect("at least one batch");
    let alpha_grad = grads(&total, &[&a], false)?.remove(0).detach();
    let final_weights = w.iter().map(|x| x.detach()).collect();
    Ok(SotlGrad { alpha_grad, losses, final_weights })
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
    let final_weights = w.iter().map(|x| x.detach()).collect();
    Ok(SotlGrad { alpha_grad: acc.detach(), losses, final_weights })
}
