//! The [`SearchSpace`] trait: what sampling, mutation and relaxation need to know about a space.

use rand::Rng;

use crate::{Genotype, Result, SpaceError};

/// A search space: its genotypes, how to draw and perturb them, and the shape of its continuous
/// relaxation.
///
/// Implemented by unit structs (`Nb201Space`; the DARTS and NAS-Bench-1shot1 spaces later), so a
/// search algorithm is generic over `S: SearchSpace` and never names a concrete space.
pub trait SearchSpace {
    /// The discrete architecture type.
    type Genotype: Genotype;

    /// Short name of the space, e.g. `"nb201"`.
    fn name(&self) -> &'static str;

    /// Candidate operation names, in the column order of the relaxation.
    fn op_names(&self) -> &'static [&'static str];

    /// Shape `(num_edges, num_ops)` of the architecture parameters (one row of op weights per
    /// relaxed edge).
    fn relaxation_shape(&self) -> (usize, usize);

    /// Which entries of the relaxation are architecture parameters (row-major; `None` = all):
    /// spaces whose rows differ in length pad them, and a row's weights are normalised over its
    /// valid entries only.
    fn relaxation_mask(&self) -> Option<Vec<bool>> {
        None
    }

    /// Whether `g` is a genotype of this space (a parsed string may name another space's cell,
    /// e.g. another op set or another NAS-Bench-1shot1 space). The default accepts any.
    fn holds(&self, g: &Self::Genotype) -> bool {
        let _ = g;
        true
    }

    /// Number of distinct genotypes.
    fn size(&self) -> u128;

    /// Every genotype, when the space is small enough to list (`None` otherwise).
    fn enumerate(&self) -> Option<Box<dyn Iterator<Item = Self::Genotype> + '_>>;

    /// A genotype drawn uniformly at random.
    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Self::Genotype;

    /// A random neighbour of `g`: one local change, never `g` itself.
    fn mutate<R: Rng + ?Sized>(&self, g: &Self::Genotype, rng: &mut R) -> Self::Genotype;

    /// All genotypes one local change away from `g`, without duplicates and without `g`.
    fn neighbours(&self, g: &Self::Genotype) -> Vec<Self::Genotype>;

    /// The genotype a relaxation's weights select, from row-major weights of shape
    /// [`SearchSpace::relaxation_shape`] (higher weight = preferred op).
    ///
    /// Errors on a wrong length or a NaN weight.
    fn discretize(&self, weights: &[f64]) -> Result<Self::Genotype>;

    /// FairNAS' strict-fairness path set (Chu et al. 2019): as many paths as ops, together using
    /// every op exactly once on every edge they use, each path marginally uniform.
    ///
    /// The default suits spaces where every relaxed edge carries exactly one op (NAS-Bench-201):
    /// each edge draws its own permutation of the ops, and path `i` takes the `i`-th op of each,
    /// discretized from one-hot rows. Spaces that also choose a topology override it.
    fn fair_paths<R: Rng + ?Sized>(&self, rng: &mut R) -> Vec<Self::Genotype> {
        use rand::seq::SliceRandom;
        let (edges, ops) = self.relaxation_shape();
        let mut one_hot = vec![vec![0.0f64; edges * ops]; ops];
        for edge in 0..edges {
            let mut perm: Vec<usize> = (0..ops).collect();
            perm.shuffle(rng);
            for (path, op) in one_hot.iter_mut().zip(perm) {
                path[edge * ops + op] = 1.0;
            }
        }
        one_hot
            .iter()
            .map(|w| self.discretize(w).expect("a one-hot row per edge discretizes to its op"))
            .collect()
    }
}

/// Checks relaxation weights for `space`'s [`SearchSpace::discretize`]: `edges x ops` of them
/// (`layout` says how the rows are ordered) and none NaN, naming the edge and op of a NaN.
pub(crate) fn check_relaxation<S: SearchSpace + ?Sized>(
    space: &S,
    weights: &[f64],
    layout: &str,
) -> Result<()> {
    let (edges, n_ops) = space.relaxation_shape();
    if weights.len() != edges * n_ops {
        return Err(SpaceError::Weights(format!(
            "expected {edges}x{n_ops} = {} weights (row-major, {layout}), got {}",
            edges * n_ops,
            weights.len()
        )));
    }
    if let Some(i) = weights.iter().position(|w| w.is_nan()) {
        return Err(SpaceError::Weights(format!(
            "weight {i} (edge {}, op {}) is NaN; the architecture parameters diverged",
            i / n_ops,
            space.op_names()[i % n_ops]
        )));
    }
    Ok(())
}
