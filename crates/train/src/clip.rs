//! Gradient-norm clipping over a parameter group.

use crate::ParamGroup;

/// Scales the group's gradients so that their global L2 norm is at most `max_norm`.
///
/// Same rule as PyTorch's `clip_grad_norm_`: total norm `n = ||(g_1, ..., g_k)||_2` over the
/// defined gradients (undefined ones are skipped), and when `n > max_norm` every gradient is
/// multiplied by `max_norm / (n + 1e-6)`. Returns `n`, the norm before clipping.
pub fn clip_grad_norm(group: &ParamGroup, max_norm: f64) -> f64 {
    let total = group.grad_norm();
    let coef = max_norm / (total + 1e-6);
    if coef < 1.0 {
        tch::no_grad(|| {
            for (_, mut g) in group.defined_grads() {
                let _ = g.g_mul_scalar_(coef);
            }
        });
    }
    total
}
