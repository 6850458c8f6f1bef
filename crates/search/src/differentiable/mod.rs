//! Differentiable NAS on the NAS-Bench-201 supernet (thesis Section 3.3, Algorithms 1-3): DARTS
//! first and second order, SoTL-DARTS, SoVL-DARTS, SoTL-DARTS with the exact hypergradient,
//! DrNAS and SoTL-DrNAS.
//!
//! A method is a value ([`DartsMethod`]): an alpha [`UpdateRule`] and a [`Relaxation`] of alpha
//! into the supernet's `EdgeMix`. The supernet never learns which method drives it, and ground
//! truth never enters: trajectories carry genotypes, and reporting looks their accuracy up.

mod checkpoint;
mod config;
mod dirichlet;
mod error;
mod method;
mod pdarts;
mod relaxation;
mod run;
mod search;

pub use config::{DartsConfig, ValSampling};
pub use dirichlet::{concentration, dirichlet_kl, dirichlet_mean, dirichlet_rsample};
pub use error::{DartsError, DartsResult};
pub use method::{DartsMethod, UpdateRule};
pub use pdarts::{pdarts_genotype, pdarts_keep, run_pdarts, PdartsConfig};
pub use relaxation::{top_k_mask, DrnasRegularizer, Relaxation};
pub use run::{run_or_resume, search_batches, DartsRunConfig, FreshBatches};
pub use search::{
    DartsSearch, EpochReport, Nb201DartsSearch, SearchOutcome, SearchSplits, StepProgress,
};

pub use crate::hypergrad::HvpMethod;
