//! Relaxations: architecture parameters alpha `[6, 5]` -> the supernet's `EdgeMix`.

use serde::{Deserialize, Serialize};
use sotl_nn::EdgeMix;
use tch::{Kind, Tensor};

use super::dirichlet::{concentration, dirichlet_kl, dirichlet_mean, dirichlet_rsample};

/// How alpha becomes per-edge op weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Relaxation {
    /// DARTS: `w[e] = softmax(α[e])` (Liu et al. 2019, Eq. 2; thesis Eq. 3.8).
    Softmax,
    /// DrNAS: `w[e] ~ Dir(ELU(α[e]) + 1)`, a fresh pathwise sample every forward (Chen et al. 2021).
    Dirichlet,
}

/// DrNAS' regularizer on the Dirichlet concentration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DrnasRegularizer {
    /// L2 on alpha with the given scale, applied as the architecture optimizer's weight decay
    /// (the official code's default `--reg_type l2 --reg_scale 1e-3`).
    #[default]
    L2,
    /// `scale · Σ_e KL(Dir(β_e) ‖ Dir(1))` added to the architecture loss (`--reg_type kl`); the
    /// architecture optimizer then has no weight decay.
    Kl,
}

impl Relaxation {
    /// The mix used in a training forward pass: softmax, or one Dirichlet sample.
    pub fn mix(&self, alpha: &Tensor) -> EdgeMix {
        EdgeMix::Soft(self.weights(alpha))
    }

    /// The op weights of a training forward pass, `[6, 5]`, differentiable in alpha.
    pub fn weights(&self, alpha: &Tensor) -> Tensor {
        match self {
            Relaxation::Softmax => alpha.softmax(-1, alpha.kind()),
            Relaxation::Dirichlet => dirichlet_rsample(&concentration(alpha)),
        }
    }

    /// Deterministic op weights: the softmax, or the Dirichlet mean `β / Σβ`. Used for the Hessian
    /// diagnostic and for reporting, so neither draws random numbers.
    pub fn expected_weights(&self, alpha: &Tensor) -> Tensor {
        match self {
            Relaxation::Softmax => alpha.softmax(-1, alpha.kind()),
            Relaxation::Dirichlet => dirichlet_mean(&concentration(alpha)),
        }
    }

    /// The regularization term added to the architecture loss, if any: DrNAS' KL with `scale`.
    pub fn regularizer(&self, alpha: &Tensor, reg: DrnasRegularizer, scale: f64) -> Option<Tensor> {
        match (self, reg) {
            (Relaxation::Dirichlet, DrnasRegularizer::Kl) => {
                let beta = concentration(alpha);
                Some(dirichlet_kl(&beta, &beta.ones_like().detach()) * scale)
            }
            _ => None,
        }
    }

    /// Per-edge op weights as plain rows (expected weights, see [`Self::expected_weights`]).
    pub fn weight_rows(&self, alpha: &Tensor) -> Vec<[f64; 5]> {
        let w = tch::no_grad(|| {
            self.expected_weights(alpha).to_kind(Kind::Double).to_device(tch::Device::Cpu)
        });
        let flat = Vec::<f64>::try_from(w.reshape([-1])).unwrap_or_default();
        flat.chunks(5)
            .map(|c| std::array::from_fn(|k| c.get(k).copied().unwrap_or(f64::NAN)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_rows_and_dirichlet_mean_rows_sum_to_one() {
        let alpha = Tensor::from_slice(&[0.3f64, -1.0, 2.0, 0.0, -0.5]).view([1, 5]).repeat([6, 1]);
        for r in [Relaxation::Softmax, Relaxation::Dirichlet] {
            let rows = r.weight_rows(&alpha);
            assert_eq!(rows.len(), 6);
            for row in rows {
                assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-12);
            }
        }
        // ELU(0) + 1 = 1 and ELU(2) + 1 = 3: the Dirichlet mean of (1, 3) is (1/4, 3/4).
        let a = Tensor::from_slice(&[0.0f64, 2.0]).view([1, 2]);
        let m =
            Vec::<f64>::try_from(Relaxation::Dirichlet.expected_weights(&a).reshape([-1])).unwrap();
        assert!((m[0] - 0.25).abs() < 1e-12 && (m[1] - 0.75).abs() < 1e-12);
    }
}
