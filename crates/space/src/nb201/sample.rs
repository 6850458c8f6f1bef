//! Enumeration, seeded sampling, mutation and neighbourhoods of NAS-Bench-201 cells.

use rand::Rng;

use super::{Nb201Arch, Nb201Op, NB201_EDGES};
use crate::{Result, SpaceError};

/// Number of cells in the space, 5^6.
pub const NB201_SIZE: usize = 15_625;

impl Nb201Arch {
    /// The cell with the given enumeration position (base-5 digits, edge 0 most significant).
    ///
    /// This is our own enumeration order, not the NAS-Bench-201 table index (which is
    /// table-defined; look that up in `sotl-bench`). Panics if `i >= NB201_SIZE`.
    pub fn from_ordinal(mut i: usize) -> Self {
        assert!(i < NB201_SIZE, "ordinal {i} out of range");
        let mut ops = [Nb201Op::None; NB201_EDGES];
        for k in (0..NB201_EDGES).rev() {
            ops[k] = Nb201Op::ALL[i % 5];
            i /= 5;
        }
        Nb201Arch { ops }
    }

    /// [`Nb201Arch::from_ordinal`] for an index that comes from input: out of range is an error.
    pub fn try_from_ordinal(i: usize) -> Result<Self> {
        if i >= NB201_SIZE {
            return Err(SpaceError::IndexOutOfRange { index: i, size: NB201_SIZE });
        }
        Ok(Self::from_ordinal(i))
    }

    /// Inverse of [`Nb201Arch::from_ordinal`].
    pub fn ordinal(&self) -> usize {
        self.ops.iter().fold(0, |acc, op| acc * 5 + op.index())
    }

    /// Every cell of the space, in ordinal order.
    pub fn all() -> impl Iterator<Item = Nb201Arch> {
        (0..NB201_SIZE).map(Nb201Arch::from_ordinal)
    }

    /// A cell drawn uniformly at random.
    pub fn sample<R: Rng + ?Sized>(rng: &mut R) -> Self {
        let mut ops = [Nb201Op::None; NB201_EDGES];
        for op in &mut ops {
            *op = Nb201Op::ALL[rng.gen_range(0..Nb201Op::ALL.len())];
        }
        Nb201Arch { ops }
    }

    /// Single-edge mutation: one uniformly chosen edge gets a uniformly chosen *different* op
    /// (as in the NAS-Bench-201 paper's regularized evolution).
    pub fn mutate<R: Rng + ?Sized>(&self, rng: &mut R) -> Self {
        let edge = rng.gen_range(0..NB201_EDGES);
        let current = self.ops[edge].index();
        // Draw from the 4 other ops without rejection.
        let mut pick = rng.gen_range(0..Nb201Op::ALL.len() - 1);
        if pick >= current {
            pick += 1;
        }
        let mut child = *self;
        child.ops[edge] = Nb201Op::ALL[pick];
        child
    }

    /// All 24 cells that differ from this one on exactly one edge.
    pub fn neighbours(&self) -> Vec<Nb201Arch> {
        let mut out = Vec::with_capacity(NB201_EDGES * (Nb201Op::ALL.len() - 1));
        for edge in 0..NB201_EDGES {
            for op in Nb201Op::ALL {
                if op != self.ops[edge] {
                    let mut n = *self;
                    n.ops[edge] = op;
                    out.push(n);
                }
            }
        }
        out
    }
}
