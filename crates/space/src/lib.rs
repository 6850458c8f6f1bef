//! Search spaces and genotypes. Pure: no tensors.
//!
//! Sits at the bottom of the workspace: `sotl-bench` keys its tables by these arch strings,
//! `sotl-nn` builds networks from them, and `sotl-search` samples and mutates them. Each space
//! lives in its own module (`nb201/`, `darts/`, `nb101`, `nb1shot1`) and plugs into the
//! [`SearchSpace`] and [`Genotype`] traits.

pub mod darts;
mod error;
mod genotype;
pub mod nb101;
pub mod nb1shot1;
pub mod nb201;
mod search_space;

pub use darts::{DartsGenotype, DartsOp, DartsOpSet, DartsSpace};
pub use error::{Result, SpaceError};
pub use genotype::{CellShape, Genotype};
pub use nb1shot1::{OneShot1Cell, OneShot1Space};
pub use nb201::{Nb201Arch, Nb201Op, Nb201Space};
pub use search_space::SearchSpace;
