//! Exact Hessian-vector products by double backward.

use tch::Tensor;

use crate::{DiagnosticsError, Result};

/// The Hessian of a scalar loss with respect to one tensor, applied to vectors by double backward.
///
/// The gradient `g = ∇_x L` is built once with its graph kept; each product is then
/// `H v = ∇_x (g · v)` (Pearlmutter 1994), exact to rounding and costing one extra backward pass.
/// `x` must be a leaf or intermediate tensor that requires gradients and that `loss` depends on.
pub struct HessianOperator {
    x: Tensor,
    grad: Tensor,
}

impl std::fmt::Debug for HessianOperator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HessianOperator").field("shape", &self.x.size()).finish()
    }
}

impl HessianOperator {
    /// Builds the operator for `loss` (a scalar) with respect to `x`.
    pub fn new(loss: &Tensor, x: &Tensor) -> Result<Self> {
        if !loss.is_floating_point() || loss.numel() != 1 {
            return Err(DiagnosticsError::InvalidConfig(format!(
                "the loss must be a floating-point scalar, got shape {:?}",
                loss.size()
            )));
        }
        if !x.requires_grad() {
            return Err(DiagnosticsError::NoGradient("a tensor that does not require grad".into()));
        }
        let l = loss.double_value(&[]);
        if !l.is_finite() {
            return Err(DiagnosticsError::NonFinite { what: format!("the loss ({l})") });
        }
        let grad = Tensor::f_run_backward(&[loss], &[x], true, true)?.remove(0);
        if !grad.defined() {
            return Err(DiagnosticsError::NoGradient(format!(
                "the tensor of shape {:?}",
                x.size()
            )));
        }
        Ok(Self { x: x.shallow_clone(), grad })
    }

    /// The gradient `∇_x L` (detached).
    pub fn gradient(&self) -> Tensor {
        self.grad.detach()
    }

    /// `H v`, with `v` of the same shape as `x`; the result is detached.
    pub fn apply(&self, v: &Tensor) -> Result<Tensor> {
        if v.size() != self.x.size() {
            return Err(DiagnosticsError::ShapeMismatch { expected: self.x.size(), got: v.size() });
        }
        if !self.grad.requires_grad() {
            // The gradient does not depend on x: the loss is linear in x, so H = 0.
            return Ok(Tensor::zeros_like(&self.x).detach());
        }
        let dot = (&self.grad * v.detach().to_kind(self.grad.kind())).sum(self.grad.kind());
        let hv = Tensor::f_run_backward(&[&dot], &[&self.x], true, false)?.remove(0);
        Ok(if hv.defined() { hv.detach() } else { Tensor::zeros_like(&self.x).detach() })
    }
}
