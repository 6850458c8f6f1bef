//! [`Nb201Space`]: the NAS-Bench-201 space behind the [`SearchSpace`] trait.

use rand::Rng;
use serde::{Deserialize, Serialize};

use super::{Nb201Arch, Nb201Op, NB201_EDGES, NB201_SIZE};
use crate::search_space::check_relaxation;
use crate::{Genotype, Result, SearchSpace, SpaceError};

/// The NAS-Bench-201 search space (Dong & Yang, ICLR 2020): 6 edges, 5 ops, 15 625 cells.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Nb201Space;

/// Op names in relaxation column order (the order of [`Nb201Op::ALL`]).
const OP_NAMES: [&str; 5] = [
    Nb201Op::ALL[0].name(),
    Nb201Op::ALL[1].name(),
    Nb201Op::ALL[2].name(),
    Nb201Op::ALL[3].name(),
    Nb201Op::ALL[4].name(),
];

impl Genotype for Nb201Arch {}

impl crate::CellShape for Nb201Arch {
    fn edges(&self) -> usize {
        NB201_EDGES
    }

    fn skip_connections(&self) -> usize {
        self.count(Nb201Op::SkipConnect)
    }

    fn nones(&self) -> usize {
        self.count(Nb201Op::None)
    }

    fn depth(&self) -> usize {
        Nb201Arch::depth(self)
    }
}

impl SearchSpace for Nb201Space {
    type Genotype = Nb201Arch;

    fn name(&self) -> &'static str {
        "nb201"
    }

    fn op_names(&self) -> &'static [&'static str] {
        &OP_NAMES
    }

    fn relaxation_shape(&self) -> (usize, usize) {
        (NB201_EDGES, Nb201Op::ALL.len())
    }

    fn size(&self) -> u128 {
        NB201_SIZE as u128
    }

    fn enumerate(&self) -> Option<Box<dyn Iterator<Item = Nb201Arch> + '_>> {
        Some(Box::new(Nb201Arch::all()))
    }

    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Nb201Arch {
        Nb201Arch::sample(rng)
    }

    fn mutate<R: Rng + ?Sized>(&self, g: &Nb201Arch, rng: &mut R) -> Nb201Arch {
        g.mutate(rng)
    }

    fn neighbours(&self, g: &Nb201Arch) -> Vec<Nb201Arch> {
        g.neighbours()
    }

    /// Per-edge argmax over all five ops, `none` included, as NAS-Bench-201's DARTS/GDAS/SETN
    /// baselines derive their cell; on a tie the op earlier in [`Nb201Op::ALL`] wins.
    fn discretize(&self, weights: &[f64]) -> Result<Nb201Arch> {
        check_relaxation(self, weights, "one row per edge")?;
        let n_ops = Nb201Op::ALL.len();
        let mut ops = [Nb201Op::None; NB201_EDGES];
        for (op, row) in ops.iter_mut().zip(weights.chunks_exact(n_ops)) {
            let best = (1..n_ops).fold(0, |b, j| if row[j] > row[b] { j } else { b });
            *op = Nb201Op::ALL[best];
        }
        Ok(Nb201Arch::new(ops))
    }
}

impl Nb201Space {
    /// The `k` cells of highest probability when each edge draws its op independently with
    /// probability proportional to its row of `weights` (row-major `[6, 5]`, e.g. softmax(alpha)),
    /// each with its log-probability (unnormalized rows give the same order), best first; ties in
    /// ordinal order. The finalists of a differentiable search: the argmax first, then the cells
    /// that change its least certain edges.
    ///
    /// Errors on a wrong length or a NaN or negative weight.
    pub fn most_probable(&self, weights: &[f64], k: usize) -> Result<Vec<(Nb201Arch, f64)>> {
        self.discretize(weights)?;
        if let Some(i) = weights.iter().position(|w| *w < 0.0) {
            return Err(SpaceError::Weights(format!(
                "weight {i} (edge {}, op {}) is negative ({}); give probabilities, e.g. softmax(alpha)",
                i / OP_NAMES.len(),
                OP_NAMES[i % OP_NAMES.len()],
                weights[i]
            )));
        }
        let n_ops = OP_NAMES.len();
        let mut scored: Vec<(Nb201Arch, f64)> = Nb201Arch::all()
            .map(|a| {
                let lp =
                    a.ops.iter().enumerate().map(|(e, op)| weights[e * n_ops + op.index()].ln());
                (a, lp.sum())
            })
            .collect();
        // A stable sort keeps ordinal order among equal log-probabilities.
        scored.sort_by(|a, b| b.1.total_cmp(&a.1));
        scored.truncate(k);
        Ok(scored)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discretize_takes_rowwise_argmax_and_checks_input() {
        let s = Nb201Space;
        let mut w = vec![0.0; 30];
        // Edge k prefers op (k % 5); edge 5 is all ties and falls back to `none`.
        for k in 0..5 {
            w[k * 5 + k] = 1.0;
        }
        let a = s.discretize(&w).unwrap();
        assert_eq!(
            a.to_string(),
            "|none~0|+|skip_connect~0|nor_conv_1x1~1|+|nor_conv_3x3~0|avg_pool_3x3~1|none~2|"
        );
        assert!(
            matches!(s.discretize(&w[..29]), Err(SpaceError::Weights(m)) if m.contains("got 29"))
        );
        w[7] = f64::NAN;
        assert!(
            matches!(s.discretize(&w), Err(SpaceError::Weights(m)) if m.contains("edge 1, op nor_conv_1x1"))
        );
    }

    #[test]
    fn most_probable_orders_cells_by_product_of_edge_weights() {
        // Edges 0-4 put 0.9 on op (e % 5) and 0.025 on each other op; edge 5 is unsure:
        // [0.5, 0.3, 0.2, 0, 0] over none, skip_connect, nor_conv_1x1, ...
        let mut w = vec![0.025; 30];
        for e in 0..5 {
            w[e * 5 + e] = 0.9;
        }
        w[25..30].copy_from_slice(&[0.5, 0.3, 0.2, 0.0, 0.0]);
        let top = Nb201Space.most_probable(&w, 4).unwrap();
        let base = 0.9f64.powi(5);
        let lp = |p: f64| p.ln();
        // The three choices on edge 5, in order of their weight.
        let expect5 = ["none", "skip_connect", "nor_conv_1x1"];
        for (i, (a, l)) in top.iter().take(3).enumerate() {
            assert_eq!(a.ops[5].name(), expect5[i]);
            for e in 0..5 {
                assert_eq!(a.ops[e], Nb201Op::ALL[e]);
            }
            assert!((l - lp(base * [0.5, 0.3, 0.2][i])).abs() < 1e-12);
        }
        // Fourth: edge 5 back to `none` and one certain edge changed (0.9 -> 0.025); among the
        // equally likely ones, the lowest ordinal: edge 1 (skip_connect) turned to `none`.
        let (a, l) = top[3];
        assert!((l - lp(0.9f64.powi(4) * 0.025 * 0.5)).abs() < 1e-12);
        assert_eq!(a.ops[5], Nb201Op::None);
        assert_eq!((0..5).filter(|&e| a.ops[e] != Nb201Op::ALL[e]).count(), 1);
        assert_eq!(a.ops[1], Nb201Op::None);
        assert_eq!(top.len(), 4);
        // Bad input names the problem.
        w[3] = -0.1;
        assert!(
            matches!(Nb201Space.most_probable(&w, 2), Err(SpaceError::Weights(m)) if m.contains("negative"))
        );
        assert!(Nb201Space.most_probable(&w[..10], 2).is_err());
    }
}
