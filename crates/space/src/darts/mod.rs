//! The DARTS search space (Liu et al., ICLR 2019) and Zela et al.'s restricted variants: ops,
//! genotypes in the DARTS code's format, published genotypes, sampling, mutation and DARTS'
//! discretisation.

mod genotype;
mod op;
mod presets;
mod space;

pub use genotype::{darts_edge_index, DartsCell, DartsGenotype, DARTS_CELL_EDGES, DARTS_STEPS};
pub use op::{DartsOp, DartsOpSet};
pub use presets::{preset, PRESETS};
pub use space::DartsSpace;

impl crate::Genotype for DartsGenotype {}
