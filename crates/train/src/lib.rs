//! Optimizers, learning-rate schedules, the training loop and checkpoints.
//!
//! Sits between the data and model crates and the search crates: `sotl-search` and the CLI hand
//! it a [`BatchSource`] (from `sotl-data`) and an [`Objective`] (a network from `sotl-nn`), and it
//! returns the [`sotl_estimators::TrainingRecord`] that estimators read. It knows nothing of
//! architectures.
//!
//! Optimizers are our own rather than tch's `nn::Optimizer`. That one wraps libtorch's C++
//! optimizers, which do skip undefined gradients and whose `zero_grad()` does set them to None,
//! but it exposes neither momentum buffers nor Adam moments, so a run could not be checkpointed
//! and resumed exactly. Ours update each tensor in place under `no_grad`, skip parameters whose
//! gradient is undefined exactly as PyTorch does, and hand their state to [`Trainer`]
//! checkpoints.

mod adam;
mod batch;
mod checkpoint;
mod clip;
mod error;
mod images;
mod objective;
mod optimizer;
mod params;
mod run_config;
mod schedule;
pub mod seed;
mod sgd;
mod trainer;
mod unroll;

pub use adam::{Adam, AdamConfig};
pub use batch::{
    epoch_order, shuffled_indices, Batch, BatchSource, OrderSeeding, TensorBatches, Transform,
};
pub use checkpoint::{load_checkpoint, save_checkpoint, META};
pub use clip::{clip_grad_norm, clip_grads, global_norm};
pub use error::{Result, TrainError};
pub use images::{BatchPlan, DeviceImages};
pub use objective::{accuracy, cross_entropy, read_scalars, BatchOutput, Objective};
pub use optimizer::{Optimizer, OptimizerState};
pub use params::ParamGroup;
pub use run_config::TrainRunConfig;
pub use schedule::{Granularity, LrSchedule};
pub use seed::{derive_seed, torch_rng_lock, torch_seed, Stream};
pub use sgd::{Sgd, SgdConfig};
pub use trainer::{
    epochs_csv, optimizer_step, read_trained_model, EpochSummary, EvalSchedule, Event, Gradients,
    Measurement, RunStatus, Trainer, TrainerConfig, Validation, READ_EVERY_STEPS,
};
pub use unroll::{hypergradient, sgd_steps, unroll_sgd, LastStep, Unrolled};
