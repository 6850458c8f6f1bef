//! The dominant eigenvalue of a loss's Hessian with respect to one tensor.

use tch::Tensor;

use crate::{dominant_eigenvalue, EigenEstimate, HessianOperator, PowerIterationConfig, Result};

/// Dominant eigenvalue of `∇²_x L` for a scalar `loss` depending on `x`.
///
/// Power iteration ([`dominant_eigenvalue`]) on exact Hessian-vector products by double backward
/// ([`HessianOperator`]). For DARTS, `x` is alpha and `loss` the validation loss (Zela et al.,
/// ICLR 2020); for SoTL-DARTS the training loss (SoTL thesis, Section 4.3.5).
pub fn hessian_dominant_eigenvalue(
    loss: &Tensor,
    x: &Tensor,
    cfg: &PowerIterationConfig,
) -> Result<EigenEstimate> {
    let h = HessianOperator::new(loss, x)?;
    dominant_eigenvalue(&x.size(), x.device(), |v| h.apply(&v.to_kind(x.kind())), cfg)
}

#[cfg(test)]
mod tests {
    use tch::{Device, Kind};

    use super::*;

    #[test]
    fn quadratic_with_known_spectrum() {
        // f(x) = ½ xᵀ A x + bᵀ x + c with A = Q diag(7, 2, 1, -1) Qᵀ: the Hessian is A everywhere.
        let spectrum = [7.0, 2.0, 1.0, -1.0];
        let u = Tensor::from_slice(&[0.5f64, -0.5, 0.5, 0.5]).view([4, 1]);
        let q: Tensor = Tensor::eye(4, (Kind::Double, Device::Cpu)) - u.matmul(&u.tr()) * 2.0;
        let a = q.matmul(&Tensor::from_slice(&spectrum).diag(0)).matmul(&q.tr());
        let b = Tensor::from_slice(&[1.0f64, 2.0, -3.0, 0.5]);
        let x = Tensor::from_slice(&[0.3f64, -0.1, 0.7, 2.0]).set_requires_grad(true);
        let loss = 0.5 * x.dot(&a.mv(&x)) + b.dot(&x) + 4.0;
        let cfg = PowerIterationConfig { max_iters: 300, tol: 1e-12, seed: 9 };
        let est = hessian_dominant_eigenvalue(&loss, &x, &cfg).unwrap();
        assert!((est.eigenvalue - 7.0).abs() < 1e-8, "got {}", est.eigenvalue);
    }

    #[test]
    fn hvp_matches_finite_differences_of_the_gradient() {
        // A non-quadratic loss on a [2, 3] tensor: Hv ≈ (∇f(x + h v) - ∇f(x - h v)) / 2h.
        let f = |x: &Tensor| {
            (x.sin() * x.exp()).sum(Kind::Double) + x.pow_tensor_scalar(4).sum(Kind::Double)
        };
        let x0 = Tensor::from_slice(&[0.1f64, -0.4, 0.9, 0.2, -1.1, 0.5]).view([2, 3]);
        let v = Tensor::from_slice(&[1.0f64, 0.5, -0.3, 0.2, 0.8, -1.0]).view([2, 3]);
        let x = x0.copy().set_requires_grad(true);
        let h = HessianOperator::new(&f(&x), &x).unwrap();
        let exact = h.apply(&v).unwrap();
        let grad_at = |p: &Tensor| {
            let p = p.copy().set_requires_grad(true);
            Tensor::run_backward(&[f(&p)], &[&p], false, false).remove(0)
        };
        let eps = 1e-5;
        let fd = (grad_at(&(&x0 + eps * &v)) - grad_at(&(&x0 - eps * &v))) / (2.0 * eps);
        let err = (&exact - &fd).abs().max().double_value(&[]);
        assert!(err < 1e-7, "max abs difference {err}");
    }

    #[test]
    fn a_loss_independent_of_x_is_an_error() {
        let x = Tensor::ones([3], (Kind::Double, Device::Cpu)).set_requires_grad(true);
        let y = Tensor::ones([3], (Kind::Double, Device::Cpu)).set_requires_grad(true);
        let loss = y.sum(Kind::Double);
        assert!(HessianOperator::new(&loss, &x).is_err());
    }
}
