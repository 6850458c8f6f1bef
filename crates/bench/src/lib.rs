//! Tabular NAS ground truth (NAS-Bench-201; NAS-Bench-101 from its official TFRecord file) and
//! query-based baselines. Pure: no tensors.
//!
//! Sits on `sotl-space`: tables are keyed by [`sotl_space::Nb201Arch`] and NAS-Bench-201 index.
//! [`Nb201Bench`] loads the two CSV tables of `shared/benchmarks/nb201/` (schemas in
//! `shared/README.md`); reporting code (`sotl-report`, `sotl-studies`) uses it to correlate
//! estimator rankings with ground truth. Random search and regularized evolution run on the
//! tables alone, selecting on minibench validation accuracy through an [`ArchObjective`] that
//! never exposes the 200-epoch test accuracy they are judged by.

mod axes;
pub mod curve_study;
mod error;
mod evolution;
pub mod nb101;
mod nb201;
pub mod nb201_archive;
mod objective;
mod random_search;
mod runs;
mod table;
mod tabular;
pub mod tfrecord;

pub use axes::{Nb201Dataset, Nb201Metric, Nb201Table};
pub use error::{BenchError, Result};
pub use evolution::{regularized_evolution, RegularizedEvolutionConfig};
pub use nb201::{Nb201Bench, Nb201Entry, Nb201Query, Nb201Row, NB201_DIR};
pub use objective::{best_index, ArchObjective, Evaluation};
pub use random_search::RandomSearchConfig;
pub use runs::{
    run_many, run_one, run_seed, summarize, IncumbentPoint, QueryBaseline, RunResult, RunsConfig,
    Summary, DEFAULT_QUERY_BUDGET,
};
pub use table::Nb201TableData;
pub use tabular::TabularBenchmark;
