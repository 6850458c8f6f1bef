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
