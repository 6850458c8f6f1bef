//! A whole search run: configuration file shape, data batches, and run-or-resume with a
//! checkpoint after every epoch.

use std::path::Path;

use serde::{Deserialize, Serialize};
use sotl_data::Augment;
use sotl_nn::darts::DartsNetSize;
use sotl_nn::OneShot1NetSize;
use sotl_nn::{GenotypeOf, Nb201NetConfig, Supernet};
use sotl_space::CellShape;
use sotl_train::{Batch, BatchPlan, BatchSource, DeviceImages, OrderSeeding, TensorBatches};
use tch::{Device, Kind};

use super::{
    DartsConfig, DartsMethod, DartsSearch, EpochReport, PdartsConfig, SearchOutcome, SearchSplits,
    StepProgress,
};
use crate::{DartsError, DartsResult, DataConfig, SpaceChoice};

/// Everything a `darts` run reads from its TOML file: `[search]`, `[net]` (NAS-Bench-201) or
/// `[darts_net]` (the DARTS space), `[data]`, the space, and which methods and how many seeds.
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
    /// The search space.
    pub space: SpaceChoice,
    /// The NAS-Bench-201 supernet (classes, input channels and size are taken from the data).
    pub net: Nb201NetConfig,
    /// The DARTS-space search network's size (classes and input size are taken from the data,
    /// the op set from `space`).
    pub darts_net: DartsNetSize,
    /// The NAS-Bench-1shot1 one-shot model's size (classes and input size from the data, the
    /// node count from `space`).
    pub nb1shot1_net: OneShot1NetSize,
    /// The data: source, subset sizes, image size, split seed.
    pub data: DataConfig,
    /// PDARTS' progressive stages (methods `pdarts` and `sotl-pdarts`).
    pub pdarts: PdartsConfig,
}

impl Default for DartsRunConfig {
    fn default() -> Self {
        Self {
            methods: vec![DartsMethod::Darts1],
            seeds: 3,
            seed_base: 0,
            search: DartsConfig::default(),
            space: SpaceChoice::Nb201,
            net: Nb201NetConfig::default(),
            darts_net: DartsNetSize::default(),
            nb1shot1_net: OneShot1NetSize::default(),
            data: DataConfig::default(),
            pdarts: PdartsConfig::default(),
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
        self.darts_net.validate()?;
        self.nb1shot1_net.validate()?;
        if self.search.accumulate > 1 {
            if let Some(m) = self.methods.iter().find(|m| !m.can_accumulate()) {
                return Err(DartsError::Config {
                    field: "search.accumulate",
                    reason: format!(
                        "{m} cannot split a step into micro-batches (it differentiates through a whole step, or draws an architecture per forward pass); use accumulate = 1"
                    ),
                });
            }
        }
        if self.data.train_on_all {
            if let Some(m) = self.methods.iter().find(|m| m.uses_validation()) {
                return Err(DartsError::Config {
                    field: "data.train_on_all",
                    reason: format!(
                        "{m} reads validation images, which train_on_all also trains on; use it with SoTL methods only"
                    ),
                });
            }
            if self.data.n_train > 0 {
                return Err(DartsError::Config {
                    field: "data.train_on_all",
                    reason: "trains on every image, so n_train must be 0".into(),
                });
            }
        }
        if let Some(m) = self.methods.iter().find(|m| m.is_progressive()) {
            match self.space {
                SpaceChoice::Darts(ops) => self.pdarts.validate(ops, self.darts_net.layers)?,
                SpaceChoice::Nb201 | SpaceChoice::OneShot1(_) => {
                    return Err(DartsError::Config {
                        field: "methods",
                        reason: format!(
                            "{m} runs progressive stages of the DARTS search network; use --space darts"
                        ),
                    })
                }
            }
        }
        let dirichlet_methods =
            self.methods.iter().any(|m| m.relaxation() == super::Relaxation::Dirichlet);
        if let (SpaceChoice::Darts(o), true) = (self.space, dirichlet_methods) {
            let n = o.ops().len();
            if self.search.drnas_progressive_keep >= n {
                return Err(DartsError::Config {
                    field: "search.drnas_progressive_keep",
                    reason: format!(
                        "keeps {} ops per edge but {} has {n}, so DrNAS' progressive pruning would prune nothing; pick fewer, or 0 for no pruning",
                        self.search.drnas_progressive_keep, self.space
                    ),
                });
            }
        }
        if let (SpaceChoice::OneShot1(_), true) = (self.space, dirichlet_methods) {
            if self.search.drnas_reg == super::DrnasRegularizer::Kl {
                return Err(DartsError::Config {
                    field: "search.drnas_reg",
                    reason: format!(
                        "the KL regulariser spans whole relaxation rows, and {}'s rows are padded to one width; use l2",
                        self.space
                    ),
                });
            }
            if self.search.drnas_progressive_keep > 0 {
                return Err(DartsError::Config {
                    field: "search.drnas_progressive_keep",
                    reason: format!(
                        "DrNAS' progressive pruning keeps the strongest ops of each edge, which {} does not have (it chooses an op per node and parents per node); use 0",
                        self.space
                    ),
                });
            }
        }
        let dirichlet = dirichlet_methods;
        let k = self.search.drnas_partial_channels_at(0);
        if dirichlet && self.space != SpaceChoice::Nb201 && k != 1 {
            return Err(DartsError::Config {
                field: "drnas_partial_channels",
                reason: format!(
                    "starts with k = {k}, but the {} search network has no partial channels; use [1]",
                    self.space
                ),
            });
        }
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
/// prepared images, with random crops and flips when `augment` ([`DartsConfig::augment`]).
pub fn search_batches(
    images: &DeviceImages,
    batch_size: usize,
    seed: u64,
    augment: bool,
) -> DartsResult<TensorBatches> {
    Ok(images.batches_with(&BatchPlan {
        batch_size,
        shuffle: true,
        seed,
        seeding: OrderSeeding::Derived,
        drop_last: true,
        augment: if augment { images.standard_augment() } else { Augment::none() },
    })?)
}

/// A validation source whose every step draws a fresh batch ([`ValSampling::Random`]): step `i`
/// of epoch `e` is the first batch of the permutation of position `e * steps + i` of `inner`,
/// so draws are independent across steps and a resumed search draws what an unbroken one would.
pub struct FreshBatches {
    inner: TensorBatches,
    steps: usize,
}

impl FreshBatches {
    /// Fresh batches of `inner` for a search of `steps` training steps per epoch.
    pub fn new(inner: TensorBatches, steps: usize) -> Self {
        FreshBatches { inner, steps: steps.max(1) }
    }
}

impl BatchSource for FreshBatches {
    fn batches_per_epoch(&self) -> usize {
        self.steps
    }

    fn batch(&mut self, epoch: usize, index: usize) -> sotl_train::Result<Batch> {
        self.inner.batch(epoch * self.steps + index, 0)
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind, Tensor};

    /// `n` 3x8x8 images of distinct values, labelled by index.
    fn images(n: i64) -> DeviceImages {
        DeviceImages {
            name: "t".into(),
            images: Tensor::randn([n, 3, 8, 8], (Kind::Float, Device::Cpu)),
            labels: Tensor::arange(n, (Kind::Int64, Device::Cpu)),
            classes: n as usize,
            black: Tensor::zeros([1, 3, 1, 1], (Kind::Float, Device::Cpu)),
        }
    }

    #[test]
    fn search_batches_augment_only_when_asked_and_keep_the_order() {
        let data = images(12);
        let mut plain = search_batches(&data, 4, 7, false).unwrap();
        let mut aug = search_batches(&data, 4, 7, true).unwrap();
        let mut again = search_batches(&data, 4, 7, true).unwrap();
        let mut changed = 0;
        for epoch in 0..2 {
            for i in 0..plain.batches_per_epoch() {
                let (p, a, b) = (
                    plain.batch(epoch, i).unwrap(),
                    aug.batch(epoch, i).unwrap(),
                    again.batch(epoch, i).unwrap(),
                );
                // The same examples in the same order; the pixels cropped and flipped.
                assert!(p.targets.equal(&a.targets));
                let idx = &p.targets;
                assert!(p.inputs.equal(&data.images.index_select(0, idx)));
                assert!(a.inputs.equal(&b.inputs), "augmentation is a function of the seed");
                changed += i32::from(!a.inputs.equal(&p.inputs));
            }
        }
        assert!(changed >= 5, "only {changed} of 6 batches changed");
    }

    #[test]
    fn fresh_validation_batches_differ_each_step_and_repeat_on_resume() {
        let data = images(12);
        let mut v = FreshBatches::new(search_batches(&data, 4, 3, false).unwrap(), 5);
        assert_eq!(v.batches_per_epoch(), 5);
        let draws: Vec<Vec<i64>> = (0..2)
            .flat_map(|e| (0..5).map(move |i| (e, i)))
            .map(|(e, i)| Vec::<i64>::try_from(&v.batch(e, i).unwrap().targets).unwrap())
            .collect();
        for d in &draws {
            let mut u = d.clone();
            u.sort();
            u.dedup();
            assert_eq!(u.len(), 4, "distinct images within a batch: {d:?}");
        }
        let distinct: std::collections::BTreeSet<_> = draws.iter().collect();
        assert!(distinct.len() >= 9, "10 steps drew only {} different batches", distinct.len());
        let mut w = FreshBatches::new(search_batches(&data, 4, 3, false).unwrap(), 5);
        let again = Vec::<i64>::try_from(&w.batch(1, 3).unwrap().targets).unwrap();
        assert_eq!(again, draws[8]);
    }
}
