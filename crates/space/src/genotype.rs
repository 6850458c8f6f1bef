//! The [`Genotype`] trait: a discrete architecture with a canonical string form.

use std::fmt::{Debug, Display};
use std::hash::Hash;
use std::str::FromStr;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::SpaceError;

/// A discrete architecture of some search space.
///
/// Its canonical string is its identity: `Display` writes it, `FromStr` reads it back, and
/// `parse(print(g)) == g` for every genotype (benchmarks key their tables by this string). Serde
/// goes through the same string, so JSON run records stay readable.
pub trait Genotype:
    Display
    + FromStr<Err = SpaceError>
    + Debug
    + Clone
    + Eq
    + Hash
    + Serialize
    + DeserializeOwned
    + Send
    + Sync
{
    /// The canonical string (the same as `to_string()`, named for readability at call sites).
    fn canonical(&self) -> String {
        self.to_string()
    }
}

/// What search diagnostics read off a discretized cell: its skip connections, its zero edges and
/// its depth (the quantities that track DARTS' drift toward shallow, skip-heavy cells).
pub trait CellShape {
    /// Edges (op slots) of the cell.
    fn edges(&self) -> usize;
    /// Edges whose op is a skip connection (identity).
    fn skip_connections(&self) -> usize;
    /// Edges whose op is the zero op `none`.
    fn nones(&self) -> usize;
    /// Cell depth: edges on the longest input-to-output path through non-zero ops (Shu et al.
    /// 2020); 0 when the output is unreachable.
    fn depth(&self) -> usize;
}
