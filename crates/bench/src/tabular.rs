//! The `TabularBenchmark` trait: ground-truth lookups with every axis an enum.

use crate::Result;

/// A tabular NAS benchmark: a precomputed accuracy for each architecture and query.
///
/// `Query` bundles the axes (dataset, metric, fidelity), each an enum. A combination the table
/// does not have, or an architecture it does not hold, is an error, never a silent remap to a
/// neighbouring column.
pub trait TabularBenchmark {
    /// The architecture type the table is keyed by.
    type Arch;
    /// The query axes.
    type Query: Copy;

    /// Accuracy (%) of `arch` under `query`.
    fn query(&self, arch: &Self::Arch, query: Self::Query) -> Result<f64>;

    /// Whether `query` names a column the benchmark has.
    fn supports(&self, query: Self::Query) -> bool;

    /// Number of architectures held.
    fn len(&self) -> usize;

    /// Whether the benchmark holds no architecture.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
