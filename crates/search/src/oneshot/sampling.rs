//! Path sampling for single-path one-shot training: uniform paths, FairNAS' strictly fair path
//! sets, and independent multi-path draws.

use rand::seq::SliceRandom;
use rand::Rng;
use sotl_space::nb201::NB201_EDGES;
use sotl_space::{Nb201Arch, Nb201Op};

/// One path drawn uniformly from the NAS-Bench-201 space (SPOS; Guo et al. 2020, Li & Talwalkar
/// 2020): every edge gets an op uniformly at random, independently.
pub fn uniform_path<R: Rng + ?Sized>(rng: &mut R) -> Nb201Arch {
    Nb201Arch::sample(rng)
}

/// `k` independent uniform paths (MultiPath; Yu et al. 2019).
pub fn uniform_paths<R: Rng + ?Sized>(rng: &mut R, k: usize) -> Vec<Nb201Arch> {
    (0..k).map(|_| uniform_path(rng)).collect()
}

/// FairNAS' strict-fairness path set (Chu et al. 2019): |O| = 5 paths that together use every
/// operation exactly once on every edge.
///
/// Each edge draws its own uniform permutation of the five ops; path `i` takes the `i`-th op of
/// each edge's permutation. Every path is therefore marginally uniform, as in SPOS, while every
/// op is trained exactly once per step.
pub fn fairnas_paths<R: Rng + ?Sized>(rng: &mut R) -> Vec<Nb201Arch> {
    let n_ops = Nb201Op::ALL.len();
    let mut paths = vec![Nb201Arch::new([Nb201Op::None; NB201_EDGES]); n_ops];
    for edge in 0..NB201_EDGES {
        let mut perm = Nb201Op::ALL;
        perm.shuffle(rng);
        for (path, op) in paths.iter_mut().zip(perm) {
            path.ops[edge] = op;
        }
    }
    paths
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn fairnas_covers_every_op_once_per_edge() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for _ in 0..50 {
            let paths = fairnas_paths(&mut rng);
            assert_eq!(paths.len(), 5);
            for edge in 0..NB201_EDGES {
                let mut seen: Vec<usize> = paths.iter().map(|p| p.ops[edge].index()).collect();
                seen.sort_unstable();
                assert_eq!(seen, vec![0, 1, 2, 3, 4], "edge {edge} not covered exactly once");
            }
        }
    }

    #[test]
    fn fairnas_permutations_vary_between_edges_and_steps() {
        // A sampler that reused one permutation for every edge would give paths with a single op.
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let paths = fairnas_paths(&mut rng);
        let mixed = paths.iter().any(|p| p.ops.iter().any(|&op| op != p.ops[0]));
        assert!(mixed, "all edges share one permutation: {paths:?}");
        let again = fairnas_paths(&mut rng);
        assert_ne!(paths, again);
    }

    #[test]
    fn uniform_paths_are_seeded() {
        let a = uniform_paths(&mut ChaCha8Rng::seed_from_u64(9), 4);
        let b = uniform_paths(&mut ChaCha8Rng::seed_from_u64(9), 4);
        assert_eq!(a, b);
        assert_eq!(a.len(), 4);
    }
}
