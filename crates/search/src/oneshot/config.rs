//! The typed configuration of a one-shot run (what `configs/oneshot-*.toml` hold) and the data
//! preparation it describes.

use serde::{Deserialize, Serialize};
use sotl_data::{Dataset, Normalization, Split};
use sotl_nn::darts::DartsNetSize;
use sotl_nn::{Nb201NetConfig, OneShot1NetSize};
use sotl_train::DeviceImages;
use tch::Device;

use crate::SpaceChoice;

use super::{EvolutionConfig, FinetuneConfig, OneShotError, OneShotResult, SupernetTrainConfig};

/// Which images to search on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DataSource {
    /// CIFAR-10 from the data root, split as NAS-Bench-201's cifar10-valid (25k train / 25k valid).
    Cifar10,
    /// The embedded synthetic dataset (no files), split the same way.
    Synthetic,
    /// CIFAR-10 when the data root has it, else the synthetic dataset (announced loudly).
    Auto,
}

/// The data section of a one-shot config.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DataConfig {
    /// Which dataset.
    pub source: DataSource,
    /// Training images kept from the train half (0: all), a stratified seeded subset.
    pub n_train: usize,
    /// Validation images kept from the valid half (0: all).
    pub n_val: usize,
    /// Side of the images after average-pool down-sizing (0: native size).
    pub image_size: i64,
    /// Seed of the half/half split and the subsets.
    pub split_seed: u64,
    /// Images of the synthetic dataset (train part; its halves become train and valid).
    pub synthetic_images: usize,
    /// Train on the whole training set (both halves), as SoTL-DARTS-20 does; the valid half
    /// is then part of the training images, so only methods that never read validation data
    /// may use it. Needs `n_train = 0`.
    pub train_on_all: bool,
}

impl Default for DataConfig {
    fn default() -> Self {
        DataConfig {
            source: DataSource::Auto,
            n_train: 0,
            n_val: 0,
            image_size: 0,
            split_seed: 0,
            synthetic_images: 10_000,
            train_on_all: false,
        }
    }
}

/// The pool section.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PoolConfig {
    /// Candidates (thesis: 200).
    pub size: usize,
    /// The pool's own seed, shared by every trainer and supernet seed.
    pub seed: u64,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig { size: 200, seed: 0 }
    }
}

/// Re-ranking of a search's finalists by a longer finetuning (`search` only).
///
/// A short finetuning's SoTL favours cells that train fastest in their first steps from the
/// shared weights, which need not be the cells that end best (the short-horizon bias the thesis
/// discusses in Sections 4.1.1 and 4.3.4). The `top` lowest-SoTL cells of the search are
/// finetuned again for `steps` minibatches (the thesis finetunes 300) and the final choice is the
/// lowest SoTL over all of them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RerankConfig {
    /// Finalists re-ranked (0 = off: the search's lowest SoTL is the choice).
    pub top: usize,
    /// Finetuning minibatches per finalist; SoTL sums all of them.
    pub steps: usize,
}

impl Default for RerankConfig {
    fn default() -> Self {
        RerankConfig { top: 0, steps: 300 }
    }
}

/// The report section.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReportConfig {
    /// Top-k size (thesis: 10).
    pub top_k: usize,
    /// A correlation-curve point every this many finetuning steps.
    pub curve_every: usize,
}

impl Default for ReportConfig {
    fn default() -> Self {
        ReportConfig { top_k: 10, curve_every: 10 }
    }
}

/// A whole one-shot run: data, network, supernet training, pool, finetuning, report.
/// Unknown keys are rejected; every field has the thesis' default.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct OneShotConfig {
    /// Data.
    pub data: DataConfig,
    /// The search space (`nb201`, the DARTS space `darts` / `darts-s2` / `-s3` / `-s4`, or a
    /// NAS-Bench-1shot1 space `nb1shot1-s1` / `-s2` / `-s3`).
    pub space: SpaceChoice,
    /// The NAS-Bench-201 supernet's shape (C, N); classes and image size are set from the data.
    pub net: Nb201NetConfig,
    /// The DARTS-space supernet's size (C, layers), when `space` is a DARTS space; classes and
    /// image size are set from the data, the op set from `space`.
    pub darts_net: DartsNetSize,
    /// The NAS-Bench-1shot1 one-shot model's size (C, layers), when `space` is one of its
    /// spaces; classes and image size are set from the data.
    pub nb1shot1_net: OneShot1NetSize,
    /// Supernet training.
    pub train: SupernetTrainConfig,
    /// The candidate pool.
    pub pool: PoolConfig,
    /// Finetune-and-rank.
    pub finetune: FinetuneConfig,
    /// Evolutionary search over the supernet (`search --method evolution`).
    pub evolution: EvolutionConfig,
    /// Re-ranking of the search's finalists (`search`).
    pub rerank: RerankConfig,
    /// Ranking report.
    pub report: ReportConfig,
}

impl OneShotConfig {
    /// Checks every section (before any tensor is allocated).
    pub fn validate(&self) -> OneShotResult<()> {
        self.train.validate()?;
        self.finetune.validate()?;
        self.evolution.validate()?;
        if self.rerank.top > 0 && self.rerank.steps == 0 {
            return Err(OneShotError::config(
                "rerank.steps",
                "is 0; give the finetuning length of the re-ranking (the thesis uses 300)",
            ));
        }
        self.net.validate()?;
        self.darts_net.validate()?;
        self.nb1shot1_net.validate()?;
        if self.pool.size < 2 {
            return Err(OneShotError::config(
                "pool.size",
                format!("is {}; ranking needs at least 2 candidates", self.pool.size),
            ));
        }
        if self.report.top_k == 0 || self.report.curve_every == 0 {
            return Err(OneShotError::config("report", "top_k and curve_every must be at least 1"));
        }
        if self.data.train_on_all {
            return Err(OneShotError::config(
                "data.train_on_all",
                "one-shot ranking evaluates on the valid half, which must not be trained on",
            ));
        }
        if self.data.image_size < 0 || (self.data.image_size > 0 && self.data.image_size % 4 != 0) {
            return Err(OneShotError::config(
                "data.image_size",
                format!("is {}; expected 0 (native) or a multiple of 4", self.data.image_size),
            ));
        }
        Ok(())
    }
}

/// Train and validation images for a one-shot run, on `device`.
///
/// `full_train` is the dataset's training set; it is split class-stratified in halves
/// (NAS-Bench-201's cifar10-valid recipe), cut to the configured subsets, standardized with the
/// train half's channel statistics, and down-sized. Returns `(train, val)`.
pub fn prepare_data(
    full_train: &Dataset,
    cfg: &DataConfig,
    device: Device,
) -> OneShotResult<(DeviceImages, DeviceImages)> {
    let derr = |e: sotl_data::DataError| OneShotError::Data {
        name: full_train.name.clone(),
        reason: e.to_string(),
    };
    let labels = full_train.labels_vec();
    let mut split = Split::halves(&labels, cfg.split_seed);
    if cfg.n_train > 0 || cfg.n_val > 0 {
        let nt = if cfg.n_train > 0 { cfg.n_train } else { split.train.len() };
        let nv = if cfg.n_val > 0 { cfg.n_val } else { split.valid.len() };
        split = split.subset(&labels, nt, nv, cfg.split_seed).map_err(derr)?;
    }
    let train = if cfg.train_on_all {
        if cfg.n_train > 0 {
            return Err(OneShotError::config(
                "data.train_on_all",
                "trains on every image, so n_train must be 0",
            ));
        }
        let all: Vec<i64> = (0..labels.len() as i64).collect();
        full_train.subset(&all, "/all").map_err(derr)?
    } else {
        full_train.subset(&split.train, "/train-half").map_err(derr)?
    };
    let val = full_train.subset(&split.valid, "/valid-half").map_err(derr)?;
    let stats = Normalization::from_data(&train);
    let size = (cfg.image_size > 0).then_some(cfg.image_size);
    Ok((
        DeviceImages::new(&train, &stats, size, device)?,
        DeviceImages::new(&val, &stats, size, device)?,
    ))
}
