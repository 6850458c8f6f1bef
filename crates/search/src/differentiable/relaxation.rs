//! Relaxations: architecture parameters alpha `[edges, ops]` (NAS-Bench-201: `[6, 5]`) -> the
//! supernet's `EdgeMix`.

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
    /// The mix used in a training forward pass: softmax, or one Dirichlet sample, restricted to
    /// the ops `mask` keeps.
    pub fn mix<G>(&self, alpha: &Tensor, mask: Option<&Tensor>) -> EdgeMix<G> {
        EdgeMix::Soft(self.weights(alpha, mask))
    }

    /// The op weights of a training forward pass, alpha's shape, differentiable in alpha. With a
    /// `mask` (alpha's shape, 1 = kept, 0 = pruned) pruned ops get weight 0 and each row is
    /// renormalized over the kept ones: for the softmax that is the softmax of the kept alphas,
    /// for a Dirichlet sample a draw of `Dir(β_kept)` (a Dirichlet's renormalized sub-vector is
    /// Dirichlet), which is how DrNAS' progressive stage samples after pruning.
    pub fn weights(&self, alpha: &Tensor, mask: Option<&Tensor>) -> Tensor {
        let w = match self {
            Relaxation::Softmax => alpha.softmax(-1, alpha.kind()),
            Relaxation::Dirichlet => dirichlet_rsample(&concentration(alpha)),
        };
        masked(w, mask)
    }

    /// Deterministic op weights: the softmax, or the Dirichlet mean `β / Σβ` (masked as in
    /// [`Self::weights`]). Used for the Hessian diagnostic and for reporting, so neither draws
    /// random numbers.
    pub fn expected_weights(&self, alpha: &Tensor, mask: Option<&Tensor>) -> Tensor {
        let w = match self {
            Relaxation::Softmax => alpha.softmax(-1, alpha.kind()),
            Relaxation::Dirichlet => dirichlet_mean(&concentration(alpha)),
        };
        masked(w, mask)
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
    pub fn weight_rows(&self, alpha: &Tensor, mask: Option<&Tensor>) -> Vec<Vec<f64>> {
        let w = tch::no_grad(|| {
            self.expected_weights(alpha, mask).to_kind(Kind::Double).to_device(tch::Device::Cpu)
        });
        let ops = alpha.size().last().copied().unwrap_or(1).max(1) as usize;
        let flat = Vec::<f64>::try_from(w.reshape([-1])).unwrap_or_default();
        flat.chunks(ops).map(<[f64]>::to_vec).collect()
    }
}

/// Zeroes the pruned ops of each row and renormalizes the rest.
fn masked(w: Tensor, mask: Option<&Tensor>) -> Tensor {
    match mask {
        None => w,
        Some(m) => {
            let kind = w.kind();
            let w = w * m.to_kind(kind);
            &w / w.sum_dim_intlist(-1, true, kind)
        }
    }
}

/// DrNAS' pruning between progressive stages: on every edge (row of `alpha`, `[E, K]`), keep
/// the `keep` ops with the largest alpha (ties to the lower index), as the reference code's
/// `prune` does with `topk`. Returns a `[E, K]` mask of 1 (kept) and 0 (pruned) in alpha's kind.
pub fn top_k_mask(alpha: &Tensor, keep: usize) -> Tensor {
    let a = tch::no_grad(|| alpha.detach().to_kind(Kind::Double).to_device(tch::Device::Cpu));
    let k = a.size()[1] as usize;
    let flat = Vec::<f64>::try_from(a.reshape([-1])).unwrap_or_default();
    let mut mask = vec![0.0f64; flat.len()];
    for (e, row) in flat.chunks(k).enumerate() {
        let mut order: Vec<usize> = (0..row.len()).collect();
        order.sort_by(|&i, &j| row[j].total_cmp(&row[i]).then(i.cmp(&j)));
        for &i in order.iter().take(keep) {
            mask[e * k + i] = 1.0;
        }
    }
    Tensor::from_slice(&mask).view([-1, k as i64]).to_kind(alpha.kind()).to_device(alpha.device())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_rows_and_dirichlet_mean_rows_sum_to_one() {
        let alpha = Tensor::from_slice(&[0.3f64, -1.0, 2.0, 0.0, -0.5]).view([1, 5]).repeat([6, 1]);
        for r in [Relaxation::Softmax, Relaxation::Dirichlet] {
            let rows = r.weight_rows(&alpha, None);
            assert_eq!(rows.len(), 6);
            for row in rows {
                assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-12);
            }
        }
        // ELU(0) + 1 = 1 and ELU(2) + 1 = 3: the Dirichlet mean of (1, 3) is (1/4, 3/4).
        let a = Tensor::from_slice(&[0.0f64, 2.0]).view([1, 2]);
        let m =
            Vec::<f64>::try_from(Relaxation::Dirichlet.expected_weights(&a, None).reshape([-1]))
                .unwrap();
        assert!((m[0] - 0.25).abs() < 1e-12 && (m[1] - 0.75).abs() < 1e-12);
    }

    #[test]
    fn pruning_keeps_the_top_alphas_and_renormalizes_over_them() {
        let alpha = Tensor::from_slice(&[0.3f64, -1.0, 2.0, 0.0, -0.5, 1.0, 1.0, 1.0, 0.0, 0.0])
            .view([2, 5]);
        let mask = top_k_mask(&alpha, 3);
        // Row 0: 2.0 (op 2), 0.3 (op 0), 0.0 (op 3); row 1: the three 1.0s.
        assert_eq!(
            Vec::<f64>::try_from(mask.reshape([-1])).unwrap(),
            [1., 0., 1., 1., 0., 1., 1., 1., 0., 0.]
        );
        // Softmax over the kept ops of row 0: e^0.3, e^2, e^0 normalized; pruned ops get 0.
        let w = Relaxation::Softmax.expected_weights(&alpha, Some(&mask));
        let w = Vec::<f64>::try_from(w.reshape([-1])).unwrap();
        let z = 0.3f64.exp() + 2f64.exp() + 1.0;
        let want = [0.3f64.exp() / z, 0.0, 2f64.exp() / z, 1.0 / z, 0.0];
        for (g, h) in w[..5].iter().zip(want) {
            assert!((g - h).abs() < 1e-12, "{w:?}");
        }
        // Dirichlet mean over the kept concentrations ELU(α)+1 of row 1: (2, 2, 2) / 6.
        let m = Relaxation::Dirichlet.expected_weights(&alpha, Some(&mask));
        let m = Vec::<f64>::try_from(m.reshape([-1])).unwrap();
        for (g, h) in m[5..].iter().zip([1. / 3., 1. / 3., 1. / 3., 0., 0.]) {
            assert!((g - h).abs() < 1e-12, "{m:?}");
        }
        // A Dirichlet sample puts no weight on pruned ops and stays on the simplex.
        tch::manual_seed(0);
        let x = Relaxation::Dirichlet.weights(&alpha, Some(&mask));
        let x = Vec::<f64>::try_from(x.reshape([-1])).unwrap();
        assert!(x[1] == 0.0 && x[4] == 0.0 && x[8] == 0.0 && x[9] == 0.0, "{x:?}");
        assert!((x[..5].iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }
}
