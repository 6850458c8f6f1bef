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
/// Same rule as PyTorch's `clip_grad_norm_`: with total norm `n` ([`global_norm`]), when
/// `n > max_norm` every gradient is multiplied by `max_norm / (n + 1e-6)` (the 1e-6 keeps the
/// factor finite for a zero gradient). Returns `n`, the norm before clipping.
pub fn clip_grads(grads: &mut [Option<Tensor>], max_norm: f64) -> f64 {
    let total = global_norm(grads.iter().flatten().filter(|g| g.defined()));
    let coef = max_norm / (total + 1e-6);
    if coef < 1.0 {
        tch::no_grad(|| {
            for g in grads.iter_mut().flatten().filter(|g| g.defined()) {
                let _ = g.g_mul_scalar_(coef);
            }
        });
    }
    total
}

/// [`clip_grads`] over the `.grad()` of a parameter group's parameters.
pub fn clip_grad_norm(group: &ParamGroup, max_norm: f64) -> f64 {
    let mut grads: Vec<Option<Tensor>> =
        group.defined_grads().into_iter().map(|(_, g)| Some(g)).collect();
    clip_grads(&mut grads, max_norm)
}
