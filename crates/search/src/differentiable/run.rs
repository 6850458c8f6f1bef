//! A whole search run: configuration file shape, data batches, and run-or-resume with a
//! checkpoint after every epoch.

use std::path::Path;

use serde::{Deserialize, Serialize};
use sotl_nn::{GenotypeOf, Nb201NetConfig, Supernet};
use sotl_space::CellShape;
use sotl_train::{DeviceImages, TensorBatches};
use tch::{Device, Kind};

use super::{
    DartsConfig, DartsMethod, DartsSearch, EpochReport, SearchOutcome, SearchSplits, StepProgress,
};
use crate::{DartsError, DartsResult, DataConfig};

/// Everything a `darts` run reads from its TOML file: `[search]`, `[net]`, `[data]`, and which
/// methods and how many seeds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DartsRunConfig {
    /// Methods to run, in table order.
    pub methods: Vec<DartsMethod>,
    /// Seeds per method (`seed_base`, `seed_base + 1`, ...).
    pub seeds: usize,
    /// First seed.
    pub seed_base: u64,
    /// The search hyperparameters.
    pub search: DartsConfig,
    /// The supernet (classes, input channels and size are taken from the data).
    pub net: Nb201NetConfig,
    /// The data: source, subset sizes, image size, split seed.
    pub data: DataConfig,
}

impl Default for DartsRunConfig {
    fn default() -> Self {
        Self {
            methods: vec![DartsMethod::Darts1],
            seeds: 3,
            seed_base: 0,
            search: DartsConfig::default(),
            net: Nb201NetConfig::default(),
            data: DataConfig::default(),
        }
    }
}

impl DartsRunConfig {
    /// Checks every value before anything is loaded.
    pub fn validate(&self) -> DartsResult<()> {
        if self.methods.is_empty() {
            return Err(DartsError::Config {
                field: "methods",
                reason: "name at least one method".into(),
            });
        }
        if self.seeds == 0 {
            return Err(DartsError::Config { field: "seeds", reason: "must be at least 1".into() });
        }
        self.search.validate()?;
        self.net.validate()?;
        let dirichlet = self.methods.iter().any(|m| m.relaxation() == super::Relaxation::Dirichlet);
        let k = self.search.drnas_partial_channels_at(0);
        if dirichlet && self.net.channels % k as i64 != 0 {
            return Err(DartsError::Config {
                field: "drnas_partial_channels",
                reason: format!(
                    "starts with k = {k}, which does not divide net.channels = {}; pick a k that does, or [1]",
                    self.net.channels
                ),
            });
        }
        Ok(())
    }
}

/// Shuffled minibatches (reshuffled per epoch from `seed`, last partial batch dropped) over
/// prepared images.
pub fn search_batches(
    images: &DeviceImages,
    batch_size: usize,
    seed: u64,
) -> DartsResult<TensorBatches> {
    Ok(TensorBatches::new(
        images.images.shallow_clone(),
        images.labels.shallow_clone(),
        batch_size,
    )?
    .shuffled(seed)
    .drop_last(true)?)
}

/// Runs `method` over the supernet `S` (e.g. `run_or_resume::<Nb201Supernet>`) to the end,
/// resuming from `checkpoint` when it exists and saving it after every epoch; `on_epoch` sees
/// each finished epoch (for logs and warnings), `progress` each step.
#[allow(clippy::too_many_arguments)]
pub fn run_or_resume<S: Supernet>(
    method: DartsMethod,
    cfg: &DartsConfig,
    net: &S::Config,
    seed: u64,
    device: Device,
    data: &mut SearchSplits<'_>,
    checkpoint: Option<&Path>,
    on_epoch: &mut dyn FnMut(&EpochReport<GenotypeOf<S>>),
    progress: &mut dyn FnMut(StepProgress),
) -> DartsResult<SearchOutcome<GenotypeOf<S>>>
where
    GenotypeOf<S>: CellShape,
{
    let mut s = match checkpoint {
        Some(p) if p.exists() => {
            DartsSearch::<S>::resume(p, method, cfg, net, seed, device, Kind::Float)?
        }
        _ => DartsSearch::<S>::new(method, cfg, net, seed, device, Kind::Float)?,
    };
    while !s.is_done() {
        let report = s.run_epoch(data, progress)?;
        if let Some(p) = checkpoint {
            s.save(p)?;
        }
        on_epoch(&report);
    }
    s.outcome()
}
