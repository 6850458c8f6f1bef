//! How a supernet mixes the candidate operations on each edge.

use sotl_space::nb201::{Nb201Arch, Nb201Op, NB201_EDGES};
use tch::Tensor;

use crate::{NnError, Result};

/// Per-edge operation weights handed to a [`crate::Supernet`]'s forward pass; `G` is the
/// genotype of its search space (a NAS-Bench-201 cell by default).
///
/// The supernet only sees this; which search algorithm produced it (DARTS softmax, DrNAS Dirichlet
/// samples, SPOS uniform paths, GDAS straight-through Gumbel samples) stays with the caller.
/// Tensors must be on the supernet's device and of its float kind.
#[derive(Debug)]
pub enum EdgeMix<G = Nb201Arch> {
    /// `[edges, ops]` weights (the space's relaxation shape), differentiable; for NAS-Bench-201
    /// row `e` is edge `e` in arch-string order, columns in [`Nb201Op::ALL`] order. Edge output:
    /// `sum_k w[e, k] * op_k(x)` (a `none` column adds nothing and is not computed).
    Soft(Tensor),
    /// One operation per edge (single-path sampling); only the chosen ops run, `none` edges and
    /// edges that cannot reach the cell output are skipped.
    Path(G),
    /// One operation per edge scaled by an `[edges]` differentiable weight: edge output
    /// `w[e] * op_e(x)` (e.g. a straight-through Gumbel sample's value at the chosen op).
    WeightedPath(G, Tensor),
}

impl<G> EdgeMix<G> {
    /// Checks tensor shapes against a relaxation of `edges` x `ops`.
    pub fn validate_shape(&self, edges: usize, ops: usize) -> Result<()> {
        match self {
            EdgeMix::Soft(w) if w.size() != [edges as i64, ops as i64] => Err(NnError::BadMix(
                format!("Soft weights must have shape [{edges}, {ops}], got {:?}", w.size()),
            )),
            EdgeMix::WeightedPath(_, w) if w.size() != [edges as i64] => Err(NnError::BadMix(
                format!("WeightedPath weights must have shape [{edges}], got {:?}", w.size()),
            )),
            _ => Ok(()),
        }
    }

    /// The single path, for `Path` and `WeightedPath`.
    pub fn arch(&self) -> Option<&G> {
        match self {
            EdgeMix::Soft(_) => None,
            EdgeMix::Path(a) | EdgeMix::WeightedPath(a, _) => Some(a),
        }
    }
}

impl EdgeMix {
    /// Checks tensor shapes against the NAS-Bench-201 cell (6 edges, 5 ops).
    pub fn validate(&self) -> Result<()> {
        self.validate_shape(NB201_EDGES, Nb201Op::ALL.len())
    }
}
