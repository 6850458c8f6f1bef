//! Float image tensors on the training device and a seeded, resumable minibatch order.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use sotl_data::Dataset;
use sotl_train::{derive_seed, shuffled_indices, Stream};
use tch::{Device, Kind, Tensor};

use super::{OneShotError, OneShotResult};

/// A dataset held as normalized float images on the training device.
///
/// The whole split is converted once (`uint8 -> float`, per-channel standardization, optional
/// average-pool down-sizing), so a minibatch is one `index_select` with no host round trip.
#[derive(Debug)]
pub struct DeviceImages {
    /// A short name for messages.
    pub name: String,
    /// `[N, C, H, W]` float32, standardized.
    pub images: Tensor,
    /// `[N]` int64.
    pub labels: Tensor,
    /// Number of classes.
    pub classes: usize,
    /// `[1, C, 1, 1]`: a black pixel after standardization (`-mean / std`), what the reference
    /// pipelines pad with, since they pad raw images before normalizing.
    pub black: Tensor,
}

/// Per-channel mean and standard deviation used to standardize images (in `[0, 1]` units).
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelStats {
    /// Per-channel mean.
    pub mean: Vec<f64>,
    /// Per-channel standard deviation.
    pub std: Vec<f64>,
}

impl ChannelStats {
    /// Mean and standard deviation of each channel of `ds` (pixels scaled to `[0, 1]`).
    pub fn of(ds: &Dataset) -> Self {
        let x = ds.images.to_kind(Kind::Float) / 255.0;
        let c = x.size()[1];
        let flat = x.transpose(0, 1).reshape([c, -1]);
        let mean = Vec::<f64>::try_from(flat.mean_dim(1, false, Kind::Double)).unwrap_or_default();
        let std = Vec::<f64>::try_from(flat.std_correction(1, 0, false).to_kind(Kind::Double))
            .unwrap_or_default();
        ChannelStats { mean, std }
    }
}

impl DeviceImages {
    /// Converts `ds` for training on `device`: pixels to `[0, 1]`, standardized with `stats`,
    /// and, when `size` is given and smaller than the images, average-pooled down to
    /// `size x size` (the 16x16 proxy of the scaled configurations).
    pub fn new(
        ds: &Dataset,
        stats: &ChannelStats,
        size: Option<i64>,
        device: Device,
    ) -> OneShotResult<Self> {
        let err = |reason: String| OneShotError::Data { name: ds.name.clone(), reason };
        let dims = ds.images.size();
        if dims.len() != 4 || ds.images.kind() != Kind::Uint8 {
            return Err(err(format!(
                "expected uint8 images [N, C, H, W], got {:?} {:?}",
                ds.images.kind(),
                dims
            )));
        }
        if ds.labels.size() != [dims[0]] {
            return Err(err(format!(
                "{} images but labels of shape {:?}",
                dims[0],
                ds.labels.size()
            )));
        }
        if stats.mean.len() != dims[1] as usize
            || stats.std.iter().any(|s| !s.is_finite() || *s <= 0.0)
        {
            return Err(err(format!(
                "channel statistics {stats:?} do not fit {} channels",
                dims[1]
            )));
        }
        let mean = Tensor::from_slice(&stats.mean).to_kind(Kind::Float).view([1, -1, 1, 1]);
        let std = Tensor::from_slice(&stats.std).to_kind(Kind::Float).view([1, -1, 1, 1]);
        let black = (-&mean / &std).to_device(device);
        let mut x = (ds.images.to_kind(Kind::Float) / 255.0 - mean) / std;
        if let Some(s) = size {
            if s <= 0 {
                return Err(err(format!("image size {s} must be positive")));
            }
            if s < dims[2] || s < dims[3] {
                x = x.adaptive_avg_pool2d([s, s]);
            }
        }
        Ok(DeviceImages {
            name: ds.name.clone(),
            images: x.to_device(device),
            labels: ds.labels.to_kind(Kind::Int64).to_device(device),
            classes: ds.classes.len().max(1),
            black,
        })
    }

    /// Crop padding of the training augmentation for these images: 4 pixels at 32x32 (the
    /// CIFAR recipe of NAS-Bench-201 and DARTS), 2 at 16x16 (NAS-Bench-201's ImageNet16-120
    /// recipe), i.e. an eighth of the side, at least 1.
    pub fn crop_padding(&self) -> i64 {
        (self.images.size()[3] / 8).max(1)
    }

    /// The standard training augmentation of a batch `x` of these images: zero-pad (in raw pixel
    /// terms: black) by [`DeviceImages::crop_padding`], crop back at a random offset, flip
    /// horizontally with probability 1/2. Every random choice comes from `seed`.
    ///
    /// # Shapes
    /// `x`: `[B, C, H, W]` float, standardized; result: same.
    pub fn augment(&self, x: &Tensor, seed: u64) -> Tensor {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        // Shift so that black is 0, pad with zeros, shift back.
        let shifted = x - &self.black;
        sotl_data::random_crop_flip(&shifted, self.crop_padding(), true, &mut rng) + &self.black
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.size()[0] as usize
    }

    /// Whether there are no images.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Images `lo..hi` in storage order, for whole-set evaluation.
    pub fn slice(&self, lo: usize, hi: usize) -> (Tensor, Tensor) {
        (
            self.images.narrow(0, lo as i64, (hi - lo) as i64),
            self.labels.narrow(0, lo as i64, (hi - lo) as i64),
        )
    }
}

/// A seeded minibatch order over a dataset: epoch `e` visits the images in a permutation drawn
/// from ChaCha8 seeded by `(seed, e)`, in full batches (a last partial batch is dropped, as the
/// reference loaders do for search).
///
/// The order is a pure function of `(seed, position)`, so resuming needs only the position.
#[derive(Debug)]
pub struct BatchOrder {
    seed: u64,
    batch_size: usize,
    n: usize,
    position: usize,
    epoch_perm: Option<(usize, Tensor)>,
}

impl BatchOrder {
    /// An order over `n` items in batches of `batch_size`; errors when not one batch fits.
    pub fn new(n: usize, batch_size: usize, seed: u64) -> OneShotResult<Self> {
        if batch_size == 0 {
            return Err(OneShotError::config("batch_size", "must be at least 1"));
        }
        if n < batch_size {
            return Err(OneShotError::config(
                "batch_size",
                format!("is {batch_size}, larger than the {n} training images; lower it or use more data"),
            ));
        }
        Ok(BatchOrder { seed, batch_size, n, position: 0, epoch_perm: None })
    }

    /// Full batches per epoch.
    pub fn batches_per_epoch(&self) -> usize {
        self.n / self.batch_size
    }

    /// Minibatches served so far (the resume position).
    pub fn position(&self) -> usize {
        self.position
    }

    /// Moves to `position` minibatches from the start.
    pub fn seek(&mut self, position: usize) {
        self.position = position;
    }

    /// Epoch of the next minibatch.
    pub fn epoch(&self) -> usize {
        self.position / self.batches_per_epoch()
    }

    /// Indices of the next minibatch, `[batch_size]` int64 on `device`.
    pub fn next_indices(&mut self, device: Device) -> Tensor {
        let per_epoch = self.batches_per_epoch();
        let (epoch, k) = (self.position / per_epoch, self.position % per_epoch);
        if self.epoch_perm.as_ref().is_none_or(|(e, _)| *e != epoch) {
            // This seed derivation predates `sotl_train::epoch_order`'s; it is kept so that
            // one-shot records reproduce those of earlier builds bit for bit.
            let mut rng = ChaCha8Rng::seed_from_u64(
                self.seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
            );
            let idx = shuffled_indices(self.n, &mut rng);
            self.epoch_perm = Some((epoch, Tensor::from_slice(&idx).to_device(device)));
        }
        self.position += 1;
        let perm = &self.epoch_perm.as_ref().expect("set above").1;
        perm.narrow(0, (k * self.batch_size) as i64, self.batch_size as i64)
    }

    /// The next minibatch of `data`, as stored (evaluation batches).
    pub fn next_batch(&mut self, data: &DeviceImages) -> (Tensor, Tensor) {
        let idx = self.next_indices(data.images.device());
        (data.images.index_select(0, &idx), data.labels.index_select(0, &idx))
    }

    /// The next training minibatch of `data`: augmented (random crop and flip, see
    /// [`DeviceImages::augment`]) when `augment` is set. The augmentation of the minibatch at
    /// position `p` is seeded by `(seed, p)` alone, so every candidate of a pool sees the same
    /// augmented images in the same order, and a resumed run sees what an unbroken one would.
    pub fn next_train_batch(&mut self, data: &DeviceImages, augment: bool) -> (Tensor, Tensor) {
        let position = self.position as u64;
        let (x, y) = self.next_batch(data);
        if augment {
            (data.augment(&x, derive_seed(self.seed, Stream::Augment, position)), y)
        } else {
            (x, y)
        }
    }
}

/// A [`BatchOrder`] over a [`DeviceImages`] as the training loop's [`sotl_train::BatchSource`]:
/// batch `(epoch, index)` is the order's minibatch at position `epoch * per_epoch + index`,
/// augmented when `augment` is set (see [`BatchOrder::next_train_batch`]).
#[derive(Debug)]
pub struct OrderedBatches<'d> {
    order: BatchOrder,
    data: &'d DeviceImages,
    augment: bool,
}

impl<'d> OrderedBatches<'d> {
    /// Minibatches of `data` in `order`.
    pub fn new(order: BatchOrder, data: &'d DeviceImages, augment: bool) -> Self {
        OrderedBatches { order, data, augment }
    }
}

impl sotl_train::BatchSource for OrderedBatches<'_> {
    fn batches_per_epoch(&self) -> usize {
        self.order.batches_per_epoch()
    }

    fn batch(&mut self, epoch: usize, index: usize) -> sotl_train::Result<sotl_train::Batch> {
        self.order.seek(epoch * self.order.batches_per_epoch() + index);
        let (inputs, targets) = self.order.next_train_batch(self.data, self.augment);
        Ok(sotl_train::Batch { inputs, targets })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_is_a_permutation_per_epoch_and_resumable() {
        let mut a = BatchOrder::new(10, 3, 5).unwrap();
        assert_eq!(a.batches_per_epoch(), 3);
        let mut seen: Vec<i64> = (0..3)
            .flat_map(|_| Vec::<i64>::try_from(a.next_indices(Device::Cpu)).unwrap())
            .collect();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), 9, "an epoch repeated an index");
        let next = a.next_indices(Device::Cpu);
        let mut b = BatchOrder::new(10, 3, 5).unwrap();
        b.seek(3);
        assert!(b.next_indices(Device::Cpu).equal(&next));
        assert!(BatchOrder::new(2, 3, 0).is_err());
    }
}
