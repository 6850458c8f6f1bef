//! Gradient-norm clipping: one rule for parameter groups and for gradient lists.

use tch::Tensor;

use crate::ParamGroup;

/// Global L2 norm of `grads` as `torch.nn.utils.clip_grad_norm_` computes it: the norm of the
/// per-tensor norms, in f32, read back once (0 when there is none).
pub fn global_norm<'a>(grads: impl IntoIterator<Item = &'a Tensor>) -> f64 {
    tch::no_grad(|| {
        let norms: Vec<Tensor> =
            grads.into_iter().map(|g| g.to_kind(tch::Kind::Float).norm()).collect();
        if norms.is_empty() {
            return 0.0;
        }
        Tensor::stack(&norms, 0).norm().double_value(&[])
    })
}

/// Scales the defined gradients in `grads` in place so that their global L2 norm is at most
/// `max_norm`; `None` and undefined entries are skipped.
///
/// Same rule and arithmetic as PyTorch's `clip_grad_norm_`: with total norm `n` (f32, on the
/// gradients' device), every gradient is multiplied by `min(1, max_norm / (n + 1e-6))` (the 1e-6
/// keeps the factor finite for a zero gradient; a factor of exactly 1 leaves them unchanged).
/// Nothing is read back to the host, so a training step on a GPU does not wait here. Returns `n`,
/// the norm before clipping, as a 0-d tensor (0 on the CPU when there is no gradient).
pub fn clip_grads(grads: &mut [Option<Tensor>], max_norm: f64) -> Tensor {
    tch::no_grad(|| {
        let mut defined: Vec<&mut Tensor> =
            grads.iter_mut().flatten().filter(|g| g.defined()).collect();
        if defined.is_empty() {
            return Tensor::from(0.0f32);
        }
        let norms: Vec<Tensor> =
            defined.iter().map(|g| g.to_kind(tch::Kind::Float).norm()).collect();
        let total = Tensor::stack(&norms, 0).norm();
        let coef = ((&total + 1e-6).reciprocal() * max_norm).clamp_max(1.0);
        for g in defined.iter_mut() {
            let _ = g.g_mul_(&coef);
        }
        total
    })
}

/// [`clip_grads`] over the `.grad()` of a parameter group's parameters.
pub fn clip_grad_norm(group: &ParamGroup, max_norm: f64) -> Tensor {
    let mut grads: Vec<Option<Tensor>> =
        group.defined_grads().into_iter().map(|(_, g)| Some(g)).collect();
    clip_grads(&mut grads, max_norm)
}
