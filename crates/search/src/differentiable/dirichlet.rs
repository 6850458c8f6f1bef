//! Dirichlet machinery for DrNAS: pathwise samples and the KL to a uniform Dirichlet.

use tch::{Kind, Tensor};

/// DrNAS' concentration from unconstrained parameters: `β = ELU(α) + 1 > 0`
/// (Chen et al., ICLR 2021, "DrNAS: Dirichlet Neural Architecture Search", official code).
pub fn concentration(alpha: &Tensor) -> Tensor {
    alpha.elu() + 1.0
}

/// One reparameterized sample `x ~ Dir(β)` per row of `beta` (`[..., K]`), differentiable in `β`.
///
/// `x = γ / Σ γ` with `γ_k ~ Gamma(β_k, 1)` drawn by libtorch's `_standard_gamma`, whose
/// backward is the implicit reparameterization gradient `∂γ/∂β = −(∂F/∂β)/(∂F/∂γ)` (Figurnov et
/// al. 2018; F the Gamma CDF). This is a pathwise gradient of the same distribution PyTorch's
/// `Dirichlet.rsample` draws from. Uses libtorch's global generator (seed with `tch::manual_seed`).
///
/// # Shapes
/// `beta: [..., K]` -> `[..., K]`, each row on the simplex.
pub fn dirichlet_rsample(beta: &Tensor) -> Tensor {
    let g = beta.internal_standard_gamma();
    // A Gamma draw can underflow to 0 for tiny concentrations; keep the row normalizable.
    let g = g.clamp_min(f64::MIN_POSITIVE);
    &g / g.sum_dim_intlist(-1, true, g.kind())
}

/// The mean of `Dir(β)`, row-wise: `β / Σ β`.
pub fn dirichlet_mean(beta: &Tensor) -> Tensor {
    beta / beta.sum_dim_intlist(-1, true, beta.kind())
}

/// `Σ_rows KL(Dir(a_row) ‖ Dir(b_row))`, differentiable in both.
///
/// ```text
/// KL = ln Γ(a₀) − Σ ln Γ(a_k) − ln Γ(b₀) + Σ ln Γ(b_k) + Σ (a_k − b_k)(ψ(a_k) − ψ(a₀)),
/// a₀ = Σ a_k, b₀ = Σ b_k
/// ```
pub fn dirichlet_kl(a: &Tensor, b: &Tensor) -> Tensor {
    let k = a.kind();
    let a0 = a.sum_dim_intlist(-1, false, k);
    let b0 = b.sum_dim_intlist(-1, false, k);
    let t1 = a0.lgamma() - a.lgamma().sum_dim_intlist(-1, false, k);
    let t2 = b.lgamma().sum_dim_intlist(-1, false, k) - b0.lgamma();
    let t3 = ((a - b) * (a.digamma() - a0.digamma().unsqueeze(-1))).sum_dim_intlist(-1, false, k);
    (t1 + t2 + t3).sum(Kind::Double).to_kind(k)
}

#[cfg(test)]
mod tests {
    use tch::Device;

    use super::*;

    #[test]
    fn kl_of_beta_2_1_against_uniform_is_ln2_minus_half() {
        // Dir(2, 1) is Beta(2, 1) with density 2x on [0, 1]: KL = ∫ 2x ln(2x) dx = ln 2 − 1/2.
        let a = Tensor::from_slice(&[2.0f64, 1.0]);
        let b = Tensor::from_slice(&[1.0f64, 1.0]);
        let kl = dirichlet_kl(&a, &b).double_value(&[]);
        assert!((kl - (2f64.ln() - 0.5)).abs() < 1e-12, "got {kl}");
        assert!(dirichlet_kl(&b, &b).double_value(&[]).abs() < 1e-12);
    }

    #[test]
    fn samples_lie_on_the_simplex_and_average_to_the_mean() {
        let _lock = sotl_train::torch_rng_lock();
        tch::manual_seed(11);
        let beta =
            Tensor::from_slice(&[0.5f64, 1.0, 2.0, 4.0, 0.7]).view([1, 5]).repeat([20000, 1]);
        let x = dirichlet_rsample(&beta);
        let sums = x.sum_dim_intlist(-1, false, Kind::Double);
        assert!((sums - 1.0).abs().max().double_value(&[]) < 1e-12);
        let mean = x.mean_dim(0, false, Kind::Double);
        let expect = dirichlet_mean(&beta.get(0));
        let err = (mean - expect).abs().max().double_value(&[]);
        assert!(err < 0.01, "Monte Carlo mean off by {err}");
    }

    #[test]
    fn pathwise_gradient_matches_the_gradient_of_the_mean() {
        // ∇_β E[x_0] = ∇_β (β_0 / Σβ): estimated by averaging pathwise gradients of many samples.
        let _lock = sotl_train::torch_rng_lock();
        tch::manual_seed(5);
        let n = 40000;
        let beta0 = [1.5f64, 0.8, 3.0];
        let beta = Tensor::from_slice(&beta0).set_requires_grad(true);
        let x = dirichlet_rsample(&beta.view([1, 3]).expand([n, 3], false));
        let obj = x.select(1, 0).mean(Kind::Double);
        let g = Tensor::run_backward(&[obj], &[&beta], false, false).remove(0);
        let s: f64 = beta0.iter().sum();
        let expect = [(s - beta0[0]) / (s * s), -beta0[0] / (s * s), -beta0[0] / (s * s)];
        let got = Vec::<f64>::try_from(g).unwrap();
        for (g, e) in got.iter().zip(expect) {
            assert!((g - e).abs() < 0.01, "pathwise {got:?} vs exact {expect:?}");
        }
        let _ = Device::Cpu;
    }
}
