//! The experiment layer: what a study needs around the algorithms. A run folder ([`RunDir`]:
//! claim, config check, resume, atomic outputs), the data and ground truth a study reads
//! ([`data`], [`truth`]), and one driver per study or job ([`oneshot`], [`search`], [`darts`], [`hypergrad`], [`fourier`], [`baselines`], [`standalone`]).
//!
//! Drivers take an [`Env`] (device, data root, progress sink) and an output path and return
//! values; the CLI decides where a run goes and how progress is shown, then prints what comes
//! back. Errors are `anyhow` chains whose outer context names the file or setting to fix.

pub mod baselines;
pub mod curves;
pub mod darts;
pub mod data;
pub mod data_check;
pub mod diagram;
mod env;
pub mod fourier;
pub mod hypergrad;
pub mod inspect;
pub mod oneshot;
mod run_dir;
pub mod search;
pub mod shard;
pub mod standalone;
pub mod truth;

pub use env::{Env, Progress, ProgressSink, Silent};
pub use run_dir::{read_json, RunDir};
