//! Path sampling for single-path one-shot training: uniform paths, FairNAS' strictly fair path
//! sets, and independent multi-path draws.

use rand::Rng;
use sotl_space::SearchSpace;

/// One path drawn uniformly from the space (SPOS; Guo et al. 2020, Li & Talwalkar 2020): in
/// NAS-Bench-201 every edge gets an op uniformly at random, independently.
pub fn uniform_path<S: SearchSpace, R: Rng + ?Sized>(space: &S, rng: &mut R) -> S::Genotype {
    space.sample(rng)
}

/// `k` independent uniform paths (MultiPath; Yu et al. 2019).
pub fn uniform_paths<S: SearchSpace, R: Rng + ?Sized>(
    space: &S,
    rng: &mut R,
    k: usize,
) -> Vec<S::Genotype> {
    (0..k).map(|_| uniform_path(space, rng)).collect()
}

/// FairNAS' strict-fairness path set (Chu et al. 2019): the space's
/// [`SearchSpace::fair_paths`], as many paths as ops, together using every op exactly once on
/// every edge they use.
pub fn fairnas_paths<S: SearchSpace, R: Rng + ?Sized>(space: &S, rng: &mut R) -> Vec<S::Genotype> {
    space.fair_paths(rng)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::seq::SliceRandom;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;
    use sotl_space::nb201::NB201_EDGES;
    use sotl_space::{Nb201Arch, Nb201Op, Nb201Space};

    /// FairNAS as first written for NAS-Bench-201 (permuting `Nb201Op::ALL` per edge): the
    /// space-generic sampler must draw the same paths from the same generator.
    fn nb201_fairnas<R: Rng + ?Sized>(rng: &mut R) -> Vec<Nb201Arch> {
        let mut paths = vec![Nb201Arch::new([Nb201Op::None; NB201_EDGES]); 5];
        for edge in 0..NB201_EDGES {
            let mut perm = Nb201Op::ALL;
            perm.shuffle(rng);
            for (path, op) in paths.iter_mut().zip(perm) {
                path.ops[edge] = op;
            }
        }
        paths
    }

    #[test]
    fn generic_fairnas_draws_what_the_nb201_one_did() {
        let (mut a, mut b) = (ChaCha8Rng::seed_from_u64(7), ChaCha8Rng::seed_from_u64(7));
        for _ in 0..20 {
            assert_eq!(fairnas_paths(&Nb201Space, &mut a), nb201_fairnas(&mut b));
        }
    }

    #[test]
    fn fairnas_covers_every_op_once_per_edge() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for _ in 0..50 {
            let paths = fairnas_paths(&Nb201Space, &mut rng);
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
        let paths = fairnas_paths(&Nb201Space, &mut rng);
        let mixed = paths.iter().any(|p| p.ops.iter().any(|&op| op != p.ops[0]));
        assert!(mixed, "all edges share one permutation: {paths:?}");
        let again = fairnas_paths(&Nb201Space, &mut rng);
        assert_ne!(paths, again);
    }

    #[test]
    fn uniform_paths_are_seeded() {
        let a = uniform_paths(&Nb201Space, &mut ChaCha8Rng::seed_from_u64(9), 4);
        let b = uniform_paths(&Nb201Space, &mut ChaCha8Rng::seed_from_u64(9), 4);
        assert_eq!(a, b);
        assert_eq!(a.len(), 4);
    }
}
