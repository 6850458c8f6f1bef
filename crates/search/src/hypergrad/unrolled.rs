//! The second-order DARTS architecture gradient: one unrolled SGD step, with the mixed
//! Hessian-vector product by central finite differences (as the original code) or exactly.

use serde::{Deserialize, Serialize};
use sotl_train::Batch;
use tch::Tensor;

use super::autograd::{global_norm, grads, leaves};
use crate::{DartsError, DartsResult};

/// DARTS' finite-difference radius: `ε = DARTS_FD_RADIUS / ‖v‖` (`r=1e-2` in `architect.py`).
pub const DARTS_FD_RADIUS: f64 = 0.01;

/// How the mixed second derivative `∇²_{α,w} L_train · v` is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HvpMethod {
    /// Central finite differences with `ε = 0.01 / ‖v‖` (Liu et al. 2019, `architect.py`).
    #[default]
    FiniteDifference,
    /// Exactly, by double backward: `∇_α (∇_w L_train(w, α) · v)`.
    Exact,
}

/// The virtual step of second-order DARTS: `w' = w − ξ (∇_w L_train + d)`.
#[derive(Debug, Clone, Copy)]
pub struct VirtualStep<'a> {
    /// Step size ξ (DARTS uses the current weight learning rate).
    pub xi: f64,
    /// `d`: an α-independent part of the step (momentum and weight-decay terms), one tensor per
    /// weight, or none.
    pub offset: Option<&'a [Tensor]>,
}

/// The result of [`darts_second_order_grad`].
#[derive(Debug)]
pub struct UnrolledGrad {
    /// The architecture gradient, shaped like alpha (detached).
    pub alpha_grad: Tensor,
    /// `L_val(w', α)` at the unrolled weights.
    pub val_loss: f64,
    /// `L_train(w, α)` at the current weights.
    pub train_loss: f64,
}

/// The second-order DARTS architecture gradient (Liu et al., ICLR 2019, Eq. 7-8; thesis Eq. 3.11-3.12).
///
/// With the virtual step `w' = w − ξ (∇_w L_train(w, α) + d)` ([`VirtualStep`]):
///
/// ```text
/// ∇_α L_val(w', α) − ξ ∇²_{α,w} L_train(w, α) ∇_{w'} L_val(w', α)
/// ```
///
/// `d` (`step.offset`) is an α-independent part of the virtual step, e.g. the momentum and weight-decay
/// terms the original code adds; it changes `w'` but not the Hessian term. `loss(weights, alpha,
/// batch)` must be the differentiable objective (for a supernet: cross-entropy of
/// `forward_with(weights, x, relaxation(alpha))`). `weights` and `alpha` are only read: the
/// gradient is returned, not accumulated into `alpha.grad()`.
pub fn darts_second_order_grad<F>(
    loss: F,
    weights: &[Tensor],
    alpha: &Tensor,
    train: &Batch,
    val: &Batch,
    step: VirtualStep<'_>,
    method: HvpMethod,
) -> DartsResult<UnrolledGrad>
where
    F: Fn(&[Tensor], &Tensor, &Batch) -> Tensor,
{
    let VirtualStep { xi, offset } = step;
    if let Some(d) = offset {
        if d.len() != weights.len() {
            return Err(DartsError::Hypergrad(format!(
                "offset has {} tensors for {} weights",
                d.len(),
                weights.len()
            )));
        }
    }
    let a = alpha.detach().copy().set_requires_grad(true);
    let w = leaves(weights);
    let w_refs: Vec<&Tensor> = w.iter().collect();

    // Step 1: the virtual step w' = w - xi (g + d).
    let l_train = loss(&w, &a, train);
    let train_loss = l_train.double_value(&[]);
    let g = grads(&l_train, &w_refs, false)?;
    let w_prime: Vec<Tensor> = tch::no_grad(|| {
        g.iter()
            .enumerate()
            .map(|(i, gi)| {
                let step = match offset {
                    Some(d) => gi + &d[i],
                    None => gi.shallow_clone(),
                };
                (&w[i] - step * xi).detach().set_requires_grad(true)
            })
            .collect()
    });

    // Step 2: gradients of the validation loss at w'.
    let l_val = loss(&w_prime, &a, val);
    let val_loss = l_val.double_value(&[]);
    let mut inputs: Vec<&Tensor> = vec![&a];
    inputs.extend(w_prime.iter());
    let mut gv = grads(&l_val, &inputs, false)?;
    let dalpha = gv.remove(0);
    let v = gv;

    // Step 3: the mixed Hessian-vector product.
    let hvp = match method {
        HvpMethod::FiniteDifference => mixed_hvp_fd(&loss, &w, &a, train, &v, DARTS_FD_RADIUS)?,
        HvpMethod::Exact => mixed_hvp_exact(&loss, &w, &a, train, &v)?,
    };
    Ok(UnrolledGrad { alpha_grad: (dalpha - hvp * xi).detach(), val_loss, train_loss })
}

/// `∇²_{α,w} L(w, α) v` by central differences: `(∇_α L(w + ε v) − ∇_α L(w − ε v)) / 2ε` with
/// `ε = radius / ‖v‖` (DARTS' `_hessian_vector_product` uses [`DARTS_FD_RADIUS`]).
///
/// On a ReLU network the gradient jumps where a unit switches, so this estimates a smoothed
/// mixed Hessian: it agrees with [`mixed_hvp_exact`] as the radius shrinks only where no unit
/// switches inside the stencil.
pub fn mixed_hvp_fd<F>(
    loss: &F,
    w: &[Tensor],
    a: &Tensor,
    batch: &Batch,
    v: &[Tensor],
    radius: f64,
) -> DartsResult<Tensor>
where
    F: Fn(&[Tensor], &Tensor, &Batch) -> Tensor,
{
    let norm = global_norm(v);
    if norm == 0.0 {
        return Ok(a.zeros_like().detach());
    }
    let eps = radius / norm;
    let shifted = |sign: f64| -> Vec<Tensor> {
        tch::no_grad(|| w.iter().zip(v).map(|(wi, vi)| (wi + vi * (sign * eps)).detach()).collect())
    };
    let a_leaf = a.detach().copy().set_requires_grad(true);
    let gp = grads(&loss(&shifted(1.0), &a_leaf, batch), &[&a_leaf], false)?.remove(0);
    let gn = grads(&loss(&shifted(-1.0), &a_leaf, batch), &[&a_leaf], false)?.remove(0);
    Ok(((gp - gn) / (2.0 * eps)).detach())
}

/// `∇²_{α,w} L(w, α) v` exactly: `∇_α (∇_w L(w, α) · v)` by double backward.
pub fn mixed_hvp_exact<F>(
    loss: &F,
    w: &[Tensor],
    a: &Tensor,
    batch: &Batch,
    v: &[Tensor],
) -> DartsResult<Tensor>
where
    F: Fn(&[Tensor], &Tensor, &Batch) -> Tensor,
{
    let a_leaf = a.detach().copy().set_requires_grad(true);
    let w_leaf = leaves(w);
    let w_refs: Vec<&Tensor> = w_leaf.iter().collect();
    let l = loss(&w_leaf, &a_leaf, batch);
    let g = grads(&l, &w_refs, true)?;
    let dot = g
        .iter()
        .zip(v)
        .map(|(gi, vi)| (gi * vi.detach()).sum(gi.kind()))
        .reduce(|x, y| x + y)
        .ok_or_else(|| DartsError::Hypergrad("no weights".into()))?;
    if !dot.requires_grad() {
        return Ok(a.zeros_like().detach());
    }
    Ok(grads(&dot, &[&a_leaf], false)?.remove(0).detach())
}

/// `∇_α L_val(w − ξ ∇_w L_train(w, α), α)` by plain reverse mode through the virtual step
/// (create_graph on the inner gradient): the reference both Hessian-vector methods approximate.
pub fn unrolled_objective_grad<F>(
    loss: F,
    weights: &[Tensor],
    alpha: &Tensor,
    train: &Batch,
    val: &Batch,
    xi: f64,
) -> DartsResult<Tensor>
where
    F: Fn(&[Tensor], &Tensor, &Batch) -> Tensor,
{
    let a = alpha.detach().copy().set_requires_grad(true);
    let w = leaves(weights);
    let w_refs: Vec<&Tensor> = w.iter().collect();
    let g = grads(&loss(&w, &a, train), &w_refs, true)?;
    let w_prime: Vec<Tensor> = w.iter().zip(&g).map(|(wi, gi)| wi - gi * xi).collect();
    Ok(grads(&loss(&w_prime, &a, val), &[&a], false)?.remove(0).detach())
}
