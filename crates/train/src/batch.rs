//! Batches and where they come from: the trainer's only view of data.

use rand::seq::SliceRandom;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tch::{Device, Kind, Tensor};

use crate::seed::{derive_seed, Stream};
use crate::{Result, TrainError};

/// One minibatch: model inputs and integer class targets.
#[derive(Debug)]
pub struct Batch {
    /// Inputs, e.g. float images `[B, C, H, W]`.
    pub inputs: Tensor,
    /// Targets, `int64` `[B]`.
    pub targets: Tensor,
}

impl Batch {
    /// Number of examples in the batch.
    pub fn len(&self) -> usize {
        self.targets.size().first().copied().unwrap_or(0) as usize
    }

    /// Whether the batch is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Random access to the minibatches of a dataset, epoch by epoch.
///
/// `batch(epoch, index)` must be a pure function of its arguments and of libtorch's global
/// generator at entry (the trainer seeds that generator from the run seed and step before every
/// call). That is what lets a resumed run see exactly the batches the killed one would have.
pub trait BatchSource {
    /// Number of batches in every epoch (at least 1).
    fn batches_per_epoch(&self) -> usize;
    /// Batch `index` (0-based, `< batches_per_epoch`) of `epoch`.
    fn batch(&mut self, epoch: usize, index: usize) -> Result<Batch>;
}

/// `0..n` shuffled by `rng` (rand's Fisher-Yates). Every shuffled minibatch order (supernet
/// training, finetuning, differentiable search, the studies) is one of these, cut into batches;
/// callers differ only in how they seed `rng`.
pub fn shuffled_indices(n: usize, rng: &mut impl rand::Rng) -> Vec<i64> {
    let mut idx: Vec<i64> = (0..n as i64).collect();
    idx.shuffle(rng);
    idx
}

/// The order of the examples `0..n` in epoch `epoch` of a run seeded with `seed`:
/// [`shuffled_indices`] by ChaCha8 seeded with [`derive_seed`]`(seed, stream, epoch)`.
pub fn epoch_order(n: usize, seed: u64, stream: Stream, epoch: u64) -> Vec<i64> {
    shuffled_indices(n, &mut ChaCha8Rng::seed_from_u64(derive_seed(seed, stream, epoch)))
}

/// A transform applied to each batch's inputs (augmentation, normalization), on their device;
/// it also gets the batch's position in the run (`epoch * batches_per_epoch + index`), so that
/// a seeded augmentation can be a function of the position alone.
pub type Transform = Box<dyn FnMut(&Tensor, u64) -> Tensor + Send>;

/// How [`TensorBatches`] seeds each epoch's permutation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OrderSeeding {
    /// ChaCha8 seeded with `derive_seed(seed, TrainOrder, epoch)`.
    #[default]
    Derived,
    /// ChaCha8 seeded with `seed ^ epoch * 0x9E3779B97F4A7C15`: the one-shot minibatch orders
    /// (supernet training, finetuning) were made with this before the derived scheme existed,
    /// and keep it so that their records reproduce bit for bit.
    GoldenRatio,
    /// ChaCha8 seeded with `seed`, on stream `stride * epoch + offset`: the studies' orders
    /// (learning-rate tuning: stride 2, offset 0, the odd streams drawing validation batches;
    /// the Fourier model: stride 1, offset 1000), kept so that their records reproduce.
    Streams {
        /// Streams between consecutive epochs.
        stride: u64,
        /// Stream of epoch 0.
        offset: u64,
    },
}

/// A [`BatchSource`] over in-memory tensors, reshuffled every epoch from a seed.
///
/// Epoch `e`'s order is a permutation drawn by ChaCha8 seeded from `(seed, e)` as
/// [`OrderSeeding`] says, so it does not depend on earlier epochs having been iterated.
pub struct TensorBatches {
    inputs: Tensor,
    targets: Tensor,
    batch_size: usize,
    shuffle: bool,
    drop_last: bool,
    seed: u64,
    seeding: OrderSeeding,
    transform: Option<Transform>,
    order: Option<(usize, Tensor)>,
}

impl std::fmt::Debug for TensorBatches {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TensorBatches")
            .field("len", &self.len())
            .field("batch_size", &self.batch_size)
            .field("shuffle", &self.shuffle)
            .field("drop_last", &self.drop_last)
            .finish()
    }
}

impl TensorBatches {
    /// Batches of `batch_size` over `inputs` (first dim = examples) and `targets` (`[N]`).
    pub fn new(inputs: Tensor, targets: Tensor, batch_size: usize) -> Result<Self> {
        let n = inputs.size().first().copied().unwrap_or(0);
        if targets.size() != [n] {
            return Err(TrainError::Config(format!(
                "targets must have shape [{n}] to match {n} inputs, got {:?}",
                targets.size()
            )));
        }
        if n == 0 {
            return Err(TrainError::Config("cannot batch an empty dataset".into()));
        }
        if batch_size == 0 {
            return Err(TrainError::Config("batch size must be >= 1".into()));
        }
        Ok(TensorBatches {
            inputs,
            targets,
            batch_size,
            shuffle: false,
            drop_last: false,
            seed: 0,
            seeding: OrderSeeding::Derived,
            transform: None,
            order: None,
        })
    }

    /// Reshuffles every epoch with orders derived from `seed`.
    pub fn shuffled(mut self, seed: u64) -> Self {
        self.shuffle = true;
        self.seed = seed;
        self.order = None;
        self
    }

    /// Seeds the epoch permutations with `seeding` (see [`OrderSeeding`]).
    pub fn seeding(mut self, seeding: OrderSeeding) -> Self {
        self.seeding = seeding;
        self.order = None;
        self
    }

    /// Drops the last incomplete batch (keeps batch statistics comparable).
    pub fn drop_last(mut self, drop: bool) -> Result<Self> {
        if drop && self.len() < self.batch_size {
            return Err(TrainError::Config(format!(
                "drop_last with batch size {} leaves no batch of {} examples",
                self.batch_size,
                self.len()
            )));
        }
        self.drop_last = drop;
        Ok(self)
    }

    /// Applies `f` to each batch's inputs (and its position) after gathering them.
    pub fn with_transform(mut self, f: Transform) -> Self {
        self.transform = Some(f);
        self
    }

    /// Number of examples.
    pub fn len(&self) -> usize {
        self.targets.size()[0] as usize
    }

    /// Whether there are no examples (never true for a constructed source).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn epoch_order(&mut self, epoch: usize) -> Tensor {
        match &self.order {
            Some((e, t)) if *e == epoch => t.shallow_clone(),
            _ => {
                let idx = match self.seeding {
                    OrderSeeding::Derived => {
                        epoch_order(self.len(), self.seed, Stream::TrainOrder, epoch as u64)
                    }
                    OrderSeeding::Streams { stride, offset } => {
                        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
                        rng.set_stream(stride.wrapping_mul(epoch as u64).wrapping_add(offset));
                        shuffled_indices(self.len(), &mut rng)
                    }
                    OrderSeeding::GoldenRatio => shuffled_indices(
                        self.len(),
                        &mut ChaCha8Rng::seed_from_u64(
                            self.seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
                        ),
                    ),
                };
                let t = Tensor::from_slice(&idx).to_device(self.device());
                self.order = Some((epoch, t.shallow_clone()));
                t
            }
        }
    }

    fn device(&self) -> Device {
        self.inputs.device()
    }
}

impl BatchSource for TensorBatches {
    fn batches_per_epoch(&self) -> usize {
        if self.drop_last {
            self.len() / self.batch_size
        } else {
            self.len().div_ceil(self.batch_size)
        }
    }

    fn batch(&mut self, epoch: usize, index: usize) -> Result<Batch> {
        let nb = self.batches_per_epoch();
        if index >= nb {
            return Err(TrainError::Config(format!(
                "batch index {index} out of range: an epoch has {nb} batches"
            )));
        }
        let start = (index * self.batch_size) as i64;
        let end = ((index + 1) * self.batch_size).min(self.len()) as i64;
        let (inputs, targets) = if self.shuffle {
            let ids = self.epoch_order(epoch).narrow(0, start, end - start);
            (self.inputs.index_select(0, &ids), self.targets.index_select(0, &ids))
        } else {
            (self.inputs.narrow(0, start, end - start), self.targets.narrow(0, start, end - start))
        };
        let position = (epoch * nb + index) as u64;
        let inputs = match &mut self.transform {
            Some(f) => f(&inputs, position),
            None => inputs,
        };
        Ok(Batch { inputs, targets: targets.to_kind(Kind::Int64) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_order_is_a_seeded_permutation_and_tensor_batches_serve_it() {
        let a = epoch_order(10, 5, Stream::TrainOrder, 0);
        let mut sorted = a.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..10).collect::<Vec<i64>>());
        assert_eq!(a, epoch_order(10, 5, Stream::TrainOrder, 0), "a function of its arguments");
        assert_ne!(a, epoch_order(10, 5, Stream::TrainOrder, 1), "another epoch, another order");
        assert_ne!(a, epoch_order(10, 5, Stream::ValOrder, 0), "another stream, another order");
        // Inputs equal to their indices: the served batches spell out the order.
        let x = Tensor::arange(10, (Kind::Int64, Device::Cpu));
        let mut b = TensorBatches::new(x.shallow_clone(), x, 4).unwrap().shuffled(5);
        let served: Vec<i64> = (0..3)
            .flat_map(|i| Vec::<i64>::try_from(b.batch(0, i).unwrap().inputs).unwrap())
            .collect();
        assert_eq!(served, a);
    }
}
