//! [`Nb201Space`]: the NAS-Bench-201 space behind the [`SearchSpace`] trait.

use rand::Rng;
use serde::{Deserialize, Serialize};

use super::{Nb201Arch, Nb201Op, NB201_EDGES, NB201_SIZE};
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
        let (edges, n_ops) = self.relaxation_shape();
        if weights.len() != edges * n_ops {
            return Err(SpaceError::Weights(format!(
                "expected {edges}x{n_ops} = {} weights (row-major, one row per edge), got {}",
                edges * n_ops,
                weights.len()
            )));
        }
        if let Some(i) = weights.iter().position(|w| w.is_nan()) {
            return Err(SpaceError::Weights(format!(
                "weight {i} (edge {}, op {}) is NaN; the architecture parameters diverged",
                i / n_ops,
                OP_NAMES[i % n_ops]
            )));
        }
        let mut ops = [Nb201Op::None; NB201_EDGES];
        for (op, row) in ops.iter_mut().zip(weights.chunks_exact(n_ops)) {
            let best = (1..n_ops).fold(0, |b, j| if row[j] > row[b] { j } else { b });
            *op = Nb201Op::ALL[best];
        }
        Ok(Nb201Arch::new(ops))
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
}
