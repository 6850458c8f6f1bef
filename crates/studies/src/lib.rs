//! SoTL hypergradient studies: online learning-rate tuning, weight-sharing Fourier model.
//!
//! The thesis' small-scale checks of the hypergradient machinery (Section 4.1): a learning rate
//! tuned online by T-step SoTL hypergradients (after Baydin et al. 2018) and a weight-sharing
//! linear model whose Fourier degree is found by descending SoTL (after Lyle et al. 2020). Sits
//! beside `sotl-search` (which applies the same unrolled differentiation to NAS) and below the
//! CLI's `hypergrad` and `fourier` subcommands. Everything runs on CPU in minutes.

mod batches;
mod error;
mod fourier;
mod lr_config;
mod lr_tuning;
mod mlp;
mod model;
mod unroll;
mod vgg;

pub use batches::{epoch_indices, index_batches, rng_for};
pub use error::{Result, StudiesError};
pub use fourier::{
    degree_hypergradient, degree_search, fixed_degree_sotl, fourier_data, fourier_features,
    gated_forward, selected_terms, soft_step, DegreeObjective, DegreeRun, FixedDegreeResult,
    FourierConfig, FourierData,
};
pub use lr_config::{
    DatasetKind, EvalSplit, HyperObjective, HyperOptimizer, HypergradConfig, ModelKind, MAX_UNROLL,
};
pub use lr_tuning::{
    adam_eta_step, eta_update, eta_update_with, evaluate, EpochRecord, EtaAdamState, EtaPoint,
    LrData, LrRun,
};
pub use mlp::Mlp;
pub use model::{cross_entropy, with_torch_seed, FunctionalNet};
pub use unroll::{hypergradient, sgd_steps, unroll_sgd, Unrolled};
pub use vgg::Vgg;
