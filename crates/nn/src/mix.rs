//! How a supernet mixes the candidate operations on each edge.

use sotl_space::nb201::{Nb201Arch, Nb201Op, NB201_EDGES};
use tch::Tensor;

use crate::{NnError, Result};

/// Per-edge operation weights handed to [`crate::Nb201Supernet::forward`].
///
/// The supernet only sees this; which search algorithm produced it (DARTS softmax, DrNAS Dirichlet
/// samples, SPOS uniform paths, GDAS straight-through Gumbel samples) stays with the caller.
/// Tensors must be on the supernet's device and of its float kind.
#[derive(Debug)]
pub enum EdgeMix {
    /// `[6, 5]` weights, differentiable; row `e` is edge `e` in arch-string order, columns in
    /// [`Nb201Op::ALL`] order. Edge output: `sum_k w[e, k] * op_k(x)` (the `none` column adds
    /// nothing and is not computed).
    Soft(Tensor),
    /// One operation per edge (single-path sampling); only the chosen ops run, `none` edges and
    /// edges that cannot reach the cell output are skipped.
    Path(Nb201Arch),
    /// One operation per edge scaled by a `[6]` differentiable weight: edge output `w[e] * op_e(x)`
    /// (e.g. a straight-through Gumbel sample's value at the chosen op).
    WeightedPath(Nb201Arch, Tensor),
}

impl EdgeMix {
    /// Checks tensor shapes against the cell (6 edges, 5 ops).
    pub fn validate(&self) -> Result<()> {
        match self {
            EdgeMix::Soft(w) if w.size() != [NB201_EDGES as i64, Nb201Op::ALL.len() as i64] => Err(
                NnError::BadMix(format!("Soft weights must have shape [6, 5], got {:?}", w.size())),
            ),
            EdgeMix::WeightedPath(_, w) if w.size() != [NB201_EDGES as i64] => {
                Err(NnError::BadMix(format!(
                    "WeightedPath weights must have shape [6], got {:?}",
                    w.size()
                )))
            }
            _ => Ok(()),
        }
    }

    /// The single path, for `Path` and `WeightedPath`.
    pub fn arch(&self) -> Option<&Nb201Arch> {
        match self {
            EdgeMix::Soft(_) => None,
            EdgeMix::Path(a) | EdgeMix::WeightedPath(a, _) => Some(a),
        }
    }
}
