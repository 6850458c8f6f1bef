//! Speed benchmark of NAS-Bench-201 training steps, row for row against the PyTorch reference
//! harness in `shared/bench/pytorch_nb201_reference.py` (AutoDL-Projects' networks).
//!
//! Sits on top of the tensor crates and times their real code paths: `sotl-nn`'s supernet and
//! standalone networks, `sotl-train`'s SGD, Adam and clipping, `sotl-search`'s first-order DARTS
//! step and `sotl-data`'s augmenting loader. Same rows, sizes, fixed random batches, warm-up and
//! step counts as the reference, and the same summary fields, so the CLI (`sotl-nas perf nb201`)
//! and `scripts/bench-vs-pytorch` can put the two side by side as ratios.

mod config;
mod darts;
mod darts_space;
mod data_row;
mod error;
mod inputs;
mod pool;
mod reference;
mod report;
mod row;
mod run;
mod single_path;
mod standalone;
mod stats;

pub use config::{PerfConfig, REFERENCE_FIXED_ARCH_SEED0};
pub use darts::{darts_config, darts_row};
pub use darts_space::{
    darts_space_row, darts_space_table, DartsSpaceReport, DartsStepBench, DartsStepRow,
};
pub use data_row::data_row;
pub use error::{PerfError, Result};
pub use inputs::{cross_entropy, BenchInputs};
pub use pool::{pool_archs, pool_finetune_config, pool_row};
pub use reference::ReferenceRun;
pub use report::{EnvInfo, ModelInfo, PerfReport, ReportedConfig, RowResults};
pub use row::BenchRow;
pub use run::{model_info, resolve_fixed_arch, run_nb201, spos_archs, PerfEvent};
pub use single_path::{single_path_eval_row, single_path_train_row, SUPERNET_SGD};
pub use standalone::{standalone_rows, StandaloneStats};
pub use stats::{median, time_steps, ProcUsage, RowStats, Rss};
