//! Float image tensors on the training device and their seeded, resumable one-shot minibatches.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use sotl_data::Dataset;
use sotl_train::{derive_seed, OrderSeeding, Stream, TensorBatches};
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
        crop_flip(x, &self.black, self.crop_padding(), seed)
    }

    /// The one-shot minibatches of these images (supernet training, finetuning): epoch `e`
    /// visits them in a permutation seeded by `(seed, e)` ([`OrderSeeding::GoldenRatio`]), in
    /// full batches (a last partial batch is dropped, as the reference loaders do for search).
    /// With `augment`, the batch at position `p` (`e * batches_per_epoch + index`) is augmented
    /// ([`DeviceImages::augment`]) with the seed `derive_seed(seed, Augment, p)` alone, so every
    /// candidate of a pool sees the same augmented images in the same order, and a resumed run
    /// sees what an unbroken one would. Errors when not one batch fits.
    pub fn batches(
        &self,
        batch_size: usize,
        seed: u64,
        augment: bool,
    ) -> OneShotResult<TensorBatches> {
        if batch_size == 0 {
            return Err(OneShotError::config("batch_size", "must be at least 1"));
        }
        if self.len() < batch_size {
            return Err(OneShotError::config(
                "batch_size",
                format!(
                    "is {batch_size}, larger than the {} {} images; lower it or use more data",
                    self.len(),
                    self.name
                ),
            ));
        }
        let b = TensorBatches::new(
            self.images.shallow_clone(),
            self.labels.shallow_clone(),
            batch_size,
        )?
        .shuffled(seed)
        .seeding(OrderSeeding::GoldenRatio)
        .drop_last(true)?;
        if !augment {
            return Ok(b);
        }
        let (black, pad) = (self.black.shallow_clone(), self.crop_padding());
        Ok(b.with_transform(Box::new(move |x, position| {
            crop_flip(x, &black, pad, derive_seed(seed, Stream::Augment, position))
        })))
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

/// Random crop (zero padding of `pad` in raw pixel terms, i.e. `black` after standardization)
/// and horizontal flip of `x`, every choice drawn from `seed`.
fn crop_flip(x: &Tensor, black: &Tensor, pad: i64, seed: u64) -> Tensor {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    // Shift so that black is 0, pad with zeros, shift back.
    let shifted = x - black;
    sotl_data::random_crop_flip(&shifted, pad, true, &mut rng) + black
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ten 1x2x2 images whose labels are their indices, so a batch's labels show the order.
    fn indexed(n: i64) -> DeviceImages {
        DeviceImages {
            name: "indexed".into(),
            images: Tensor::arange(n * 4, (Kind::Float, Device::Cpu)).view([n, 1, 2, 2]),
            labels: Tensor::arange(n, (Kind::Int64, Device::Cpu)),
            classes: n as usize,
            black: Tensor::zeros([1, 1, 1, 1], (Kind::Float, Device::Cpu)),
        }
    }

    fn labels(b: &sotl_train::Batch) -> Vec<i64> {
        Vec::<i64>::try_from(&b.targets).unwrap()
    }

    #[test]
    fn one_shot_batches_are_a_permutation_per_epoch_with_random_access() {
        use sotl_train::BatchSource;
        let data = indexed(10);
        let mut a = data.batches(3, 5, false).unwrap();
        assert_eq!(a.batches_per_epoch(), 3, "the last partial batch is dropped");
        for epoch in 0..2 {
            let mut seen: Vec<i64> =
                (0..3).flat_map(|i| labels(&a.batch(epoch, i).unwrap())).collect();
            seen.sort_unstable();
            seen.dedup();
            assert_eq!(seen.len(), 9, "epoch {epoch} repeated an index");
        }
        // Any batch can be asked for first (what resuming needs), and epochs differ.
        let mut b = data.batches(3, 5, false).unwrap();
        let late = labels(&b.batch(1, 2).unwrap());
        assert_eq!(late, labels(&a.batch(1, 2).unwrap()));
        let e0: Vec<i64> = (0..3).flat_map(|i| labels(&a.batch(0, i).unwrap())).collect();
        let e1: Vec<i64> = (0..3).flat_map(|i| labels(&a.batch(1, i).unwrap())).collect();
        assert_ne!(e0, e1);
        // Images travel with their labels; augmentation changes images, never labels.
        let mut aug = data.batches(3, 5, true).unwrap();
        let (plain, augmented) = (a.batch(0, 1).unwrap(), aug.batch(0, 1).unwrap());
        assert_eq!(labels(&plain), labels(&augmented));
        let first = plain.inputs.get(0).view([-1]).double_value(&[0]) as i64;
        assert_eq!(first, labels(&plain)[0] * 4);
        let err = data.batches(11, 0, false).unwrap_err().to_string();
        assert!(err.contains("larger than the 10 indexed images"), "{err}");
    }
}
