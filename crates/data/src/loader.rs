//! Seeded, resumable mini-batch iteration over a split of a dataset held on the device.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use tch::{Device, Tensor};

use crate::augment::{Augment, Normalization};
use crate::dataset::Dataset;
use crate::error::{DataError, Result};
use crate::split::shuffle;

/// How a [`Loader`] batches, shuffles and augments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoaderConfig {
    /// Examples per batch.
    pub batch_size: usize,
    /// Drop the last, smaller batch of an epoch.
    pub drop_last: bool,
    /// Shuffle each epoch (seeded by `(seed, epoch)`); otherwise keep index order.
    pub shuffle: bool,
    /// Seed of the epoch orders and the augmentation draws.
    pub seed: u64,
    /// Augmentation (use [`Augment::none`] for evaluation).
    pub augment: Augment,
    /// Normalization applied after augmentation.
    pub normalization: Normalization,
}

impl LoaderConfig {
    /// An evaluation loader: in order, no augmentation, keep the last batch.
    pub fn eval(batch_size: usize, normalization: Normalization) -> Self {
        LoaderConfig {
            batch_size,
            drop_last: false,
            shuffle: false,
            seed: 0,
            augment: Augment::none(),
            normalization,
        }
    }

    /// A training loader: shuffled, augmented, last partial batch dropped.
    pub fn train(
        batch_size: usize,
        seed: u64,
        augment: Augment,
        normalization: Normalization,
    ) -> Self {
        LoaderConfig { batch_size, drop_last: true, shuffle: true, seed, augment, normalization }
    }
}

/// Where iteration stands: the next batch to produce. Saved in checkpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Position {
    /// Epoch (0-based).
    pub epoch: u64,
    /// Batch within the epoch (0-based).
    pub batch: usize,
}

/// One mini-batch of a [`Loader`]: normalized images, labels, and where they came from.
#[derive(Debug)]
pub struct ImageBatch {
    /// Float32 normalized images `[B, C, H, W]` on the dataset's device.
    pub images: Tensor,
    /// Int64 labels `[B]` on the same device.
    pub labels: Tensor,
    /// Dataset indices of the examples (host copy, for records and debugging).
    pub indices: Vec<i64>,
    /// This batch's position.
    pub position: Position,
}

/// Batches over `indices` of a dataset; every batch is a pure function of (seed, epoch, batch).
#[derive(Debug)]
pub struct Loader {
    data: Dataset,
    indices: Vec<i64>,
    config: LoaderConfig,
}

/// Purposes mixed into derived seeds so order and augmentation streams never coincide.
const ORDER: u64 = 1;
const AUGMENT: u64 = 2;

/// A ChaCha generator keyed by (seed, purpose, epoch, batch): independent streams for each.
fn derived_rng(seed: u64, purpose: u64, epoch: u64, batch: u64) -> ChaCha8Rng {
    let mut key = [0u8; 32];
    for (k, v) in [seed, purpose, epoch, batch].into_iter().enumerate() {
        key[8 * k..8 * k + 8].copy_from_slice(&v.to_le_bytes());
    }
    ChaCha8Rng::from_seed(key)
}

impl Loader {
    /// A loader over the examples `indices` of `data` (the tensors are shared, not copied).
    pub fn new(data: &Dataset, indices: &[i64], config: LoaderConfig) -> Result<Self> {
        if config.batch_size == 0 {
            return Err(DataError::invalid("batch size", "0; expected at least 1".to_string()));
        }
        let [c, h, w] = data.image_shape();
        config.normalization.validate(c)?;
        config.augment.validate(h, w)?;
        let n = data.len() as i64;
        if let Some(&bad) = indices.iter().find(|&&i| i < 0 || i >= n) {
            return Err(DataError::invalid(
                "loader indices",
                format!("index {bad} outside 0..{n} of {}", data.name),
            ));
        }
        if indices.is_empty() || (config.drop_last && indices.len() < config.batch_size) {
            return Err(DataError::invalid(
                "loader",
                format!(
                    "{} examples give no batch of {} (drop_last = {})",
                    indices.len(),
                    config.batch_size,
                    config.drop_last
                ),
            ));
        }
        Ok(Loader { data: data.shallow_clone(), indices: indices.to_vec(), config })
    }

    /// The configuration.
    pub fn config(&self) -> &LoaderConfig {
        &self.config
    }

    /// Number of examples iterated per epoch (before dropping).
    pub fn len(&self) -> usize {
        self.indices.len()
    }

    /// Whether there are no examples (never true for a constructed loader).
    pub fn is_empty(&self) -> bool {
        self.indices.is_empty()
    }

    /// The device batches come out on.
    pub fn device(&self) -> Device {
        self.data.device()
    }

    /// Batches in one epoch.
    pub fn batches_per_epoch(&self) -> usize {
        let (n, b) = (self.indices.len(), self.config.batch_size);
        if self.config.drop_last {
            n / b
        } else {
            n.div_ceil(b)
        }
    }

    /// The example order of `epoch`: the indices shuffled by a generator keyed by (seed, epoch).
    pub fn epoch_order(&self, epoch: u64) -> Vec<i64> {
        let mut order = self.indices.clone();
        if self.config.shuffle {
            shuffle(&mut order, &mut derived_rng(self.config.seed, ORDER, epoch, 0));
        }
        order
    }

    /// Produces batch `pos.batch` of epoch `pos.epoch` given that epoch's order.
    fn make(&self, order: &[i64], pos: Position) -> ImageBatch {
        let b = self.config.batch_size;
        let start = pos.batch * b;
        let idx = order[start..(start + b).min(order.len())].to_vec();
        let t = Tensor::from_slice(&idx).to_device(self.device());
        let raw = self.data.images.index_select(0, &t);
        let mut rng = derived_rng(self.config.seed, AUGMENT, pos.epoch, pos.batch as u64);
        let images = self.config.augment.apply(&raw, &self.config.normalization, &mut rng);
        ImageBatch {
            images,
            labels: self.data.labels.index_select(0, &t),
            indices: idx,
            position: pos,
        }
    }

    /// The single batch at `pos` (a checkpoint check, or random access).
    pub fn batch_at(&self, pos: Position) -> Option<ImageBatch> {
        (pos.batch < self.batches_per_epoch()).then(|| self.make(&self.epoch_order(pos.epoch), pos))
    }

    /// Iterates the batches of `epoch` from its start.
    pub fn epoch(&self, epoch: u64) -> Batches<'_> {
        self.resume(Position { epoch, batch: 0 })
    }

    /// Iterates the rest of `pos.epoch` from batch `pos.batch`: what a resumed run calls with the
    /// position it saved, to see exactly the batches the interrupted run would have seen.
    pub fn resume(&self, pos: Position) -> Batches<'_> {
        Batches { loader: self, order: self.epoch_order(pos.epoch), next: pos }
    }
}

/// The batches of one epoch; see [`Loader::epoch`].
#[derive(Debug)]
pub struct Batches<'a> {
    loader: &'a Loader,
    order: Vec<i64>,
    next: Position,
}

impl Batches<'_> {
    /// The position of the next batch (save this to resume).
    pub fn position(&self) -> Position {
        self.next
    }
}

impl Iterator for Batches<'_> {
    type Item = ImageBatch;

    fn next(&mut self) -> Option<ImageBatch> {
        if self.next.batch >= self.loader.batches_per_epoch() {
            return None;
        }
        let b = self.loader.make(&self.order, self.next);
        self.next.batch += 1;
        Some(b)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.loader.batches_per_epoch().saturating_sub(self.next.batch);
        (left, Some(left))
    }
}

impl ExactSizeIterator for Batches<'_> {}
