//! The one minibatch pipeline for images: split -> device tensor (standardized once) ->
//! seeded, resumable batches -> augmentation on the device.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use sotl_data::{Augment, Dataset, Normalization};
use tch::{Device, Kind, Tensor};

use crate::batch::{OrderSeeding, TensorBatches};
use crate::seed::{derive_seed, Stream};
use crate::{Result, TrainError};

/// A dataset held as standardized float images on the training device.
///
/// The whole split is converted once (`uint8 -> float`, per-channel standardization, optional
/// average-pool down-sizing), so a minibatch is one `index_select` with no host round trip.
/// Every command trains from these: supernet training, finetuning, the differentiable
/// searches and standalone training.
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

/// How [`DeviceImages`] are cut into minibatches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchPlan {
    /// Images per batch.
    pub batch_size: usize,
    /// Reshuffle every epoch (otherwise storage order).
    pub shuffle: bool,
    /// Seed of the epoch orders and of the augmentation.
    pub seed: u64,
    /// How the epoch orders are seeded.
    pub seeding: OrderSeeding,
    /// Drop the last incomplete batch of an epoch.
    pub drop_last: bool,
    /// The augmentation of every batch ([`Augment::none`] for evaluation).
    pub augment: Augment,
}

impl BatchPlan {
    /// Evaluation batches: storage order, the last partial batch kept, no augmentation.
    pub fn eval(batch_size: usize) -> Self {
        BatchPlan {
            batch_size,
            shuffle: false,
            seed: 0,
            seeding: OrderSeeding::Derived,
            drop_last: false,
            augment: Augment::none(),
        }
    }
}

impl DeviceImages {
    /// Converts `ds` for training on `device`: pixels to `[0, 1]`, standardized with `norm`,
    /// and, when `size` is given and smaller than the images, average-pooled down to
    /// `size x size` (the 16x16 proxy of the scaled configurations).
    pub fn new(
        ds: &Dataset,
        norm: &Normalization,
        size: Option<i64>,
        device: Device,
    ) -> Result<Self> {
        let err = |reason: String| TrainError::Config(format!("{}: {reason}", ds.name));
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
        norm.validate(dims[1]).map_err(|e| err(e.to_string()))?;
        let mut x = norm.standardize(&ds.images, Kind::Float);
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
            black: norm.black().to_device(device),
        })
    }

    /// Crop padding of the standard training augmentation for these images: 4 pixels at 32x32
    /// (the CIFAR recipe of NAS-Bench-201 and DARTS), 2 at 16x16 (NAS-Bench-201's ImageNet16-120
    /// recipe), i.e. an eighth of the side, at least 1.
    pub fn crop_padding(&self) -> i64 {
        (self.images.size()[3] / 8).max(1)
    }

    /// The standard training augmentation of these images: pad by
    /// [`DeviceImages::crop_padding`], random crop, horizontal flip.
    pub fn standard_augment(&self) -> Augment {
        Augment { crop_padding: self.crop_padding(), flip: true, cutout: None }
    }

    /// The one-shot minibatches of these images (supernet training, finetuning, the
    /// differentiable searches): epoch `e` visits them in a permutation seeded by `(seed, e)`
    /// ([`OrderSeeding::GoldenRatio`]), in full batches (a last partial batch is dropped, as the
    /// reference loaders do for search), with the standard augmentation when `augment` is set.
    pub fn batches(&self, batch_size: usize, seed: u64, augment: bool) -> Result<TensorBatches> {
        self.batches_with(&BatchPlan {
            batch_size,
            shuffle: true,
            seed,
            seeding: OrderSeeding::GoldenRatio,
            drop_last: true,
            augment: if augment { self.standard_augment() } else { Augment::none() },
        })
    }

    /// Minibatches cut as `plan` says. The batch at position `p` (`epoch * batches_per_epoch +
    /// index`) is augmented with the generator seeded by `derive_seed(plan.seed, Augment, p)`
    /// alone, so every candidate of a pool sees the same augmented images in the same order,
    /// and a resumed run sees what an unbroken one would. Errors when not one batch fits or the
    /// augmentation does not fit the images.
    pub fn batches_with(&self, plan: &BatchPlan) -> Result<TensorBatches> {
        if plan.batch_size == 0 {
            return Err(TrainError::Config("batch_size must be at least 1".into()));
        }
        if plan.drop_last && self.len() < plan.batch_size {
            return Err(TrainError::Config(format!(
                "batch_size is {}, larger than the {} {} images; lower it or use more data",
                plan.batch_size,
                self.len(),
                self.name
            )));
        }
        let [_, _, h, w] = self.images.size()[..] else {
            return Err(TrainError::Config(format!("{}: images are not [N, C, H, W]", self.name)));
        };
        plan.augment
            .validate(h, w)
            .map_err(|e| TrainError::Config(format!("augmentation of {}: {e}", self.name)))?;
        let mut b = TensorBatches::new(
            self.images.shallow_clone(),
            self.labels.shallow_clone(),
            plan.batch_size,
        )?;
        if plan.shuffle {
            b = b.shuffled(plan.seed).seeding(plan.seeding);
        }
        b = b.drop_last(plan.drop_last)?;
        if plan.augment.is_none() {
            return Ok(b);
        }
        let (black, augment, seed) = (self.black.shallow_clone(), plan.augment, plan.seed);
        Ok(b.with_transform(Box::new(move |x, position| {
            let mut rng = ChaCha8Rng::seed_from_u64(derive_seed(seed, Stream::Augment, position));
            augment.apply(x, &black, &mut rng)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::BatchSource;

    /// `n` 1x2x2 images whose labels are their indices, so a batch's labels show the order.
    fn indexed(n: i64) -> DeviceImages {
        DeviceImages {
            name: "indexed".into(),
            images: Tensor::arange(n * 4, (Kind::Float, Device::Cpu)).view([n, 1, 2, 2]),
            labels: Tensor::arange(n, (Kind::Int64, Device::Cpu)),
            classes: n as usize,
            black: Tensor::zeros([1, 1, 1, 1], (Kind::Float, Device::Cpu)),
        }
    }

    fn labels(b: &crate::Batch) -> Vec<i64> {
        Vec::<i64>::try_from(&b.targets).unwrap()
    }

    #[test]
    fn one_shot_batches_are_a_permutation_per_epoch_with_random_access() {
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

    #[test]
    fn evaluation_batches_keep_storage_order_and_the_last_partial_batch() {
        let data = indexed(10);
        let mut e = data.batches_with(&BatchPlan::eval(4)).unwrap();
        assert_eq!(e.batches_per_epoch(), 3);
        let seen: Vec<i64> = (0..3).flat_map(|i| labels(&e.batch(0, i).unwrap())).collect();
        assert_eq!(seen, (0..10).collect::<Vec<_>>());
        // Unaugmented: the pixels are the stored ones.
        assert!(e.batch(1, 0).unwrap().inputs.equal(&data.images.narrow(0, 0, 4)));
    }

    #[test]
    fn standardization_matches_hand_computation_and_padding_is_black() {
        // One 3-channel 2x2 image: red 255, green 0, blue 128 everywhere.
        let px: Vec<u8> = [255u8, 0, 128].iter().flat_map(|&v| [v; 4]).collect();
        let images = Tensor::from_slice(&px).view([1, 3, 2, 2]);
        let ds =
            Dataset::new("one", images, Tensor::from_slice(&[0i64]), vec!["c".into()]).unwrap();
        let norm = Normalization::cifar10();
        let d = DeviceImages::new(&ds, &norm, None, Device::Cpu).unwrap();
        // (255 - 125.3) / 63.0, (0 - 123.0) / 62.1, (128 - 113.9) / 66.7
        let want = [129.7 / 63.0, -123.0 / 62.1, 14.1 / 66.7];
        for (c, w) in want.iter().enumerate() {
            let got = d.images.double_value(&[0, c as i64, 1, 1]);
            assert!((got - w).abs() < 1e-5, "channel {c}: {got} vs {w}");
        }
        let black = [-125.3 / 63.0, -123.0 / 62.1, -113.9 / 66.7];
        for (c, w) in black.iter().enumerate() {
            assert!((d.black.double_value(&[0, c as i64, 0, 0]) - w).abs() < 1e-5);
        }
        // Padding 2 around a 2x2 image and cropping back: over many draws some output pixel is
        // padding, and every pixel is either a stored value or black, channel by channel.
        let aug = Augment { crop_padding: 2, flip: true, cutout: None };
        let mut saw_black = false;
        for seed in 0..16 {
            let y = aug.apply(&d.images, &d.black, &mut ChaCha8Rng::seed_from_u64(seed));
            for c in 0..3i64 {
                for (i, j) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
                    let v = y.double_value(&[0, c, i, j]);
                    let is_black = (v - black[c as usize]).abs() < 1e-5;
                    assert!(is_black || (v - want[c as usize]).abs() < 1e-5, "{v}");
                    saw_black |= is_black;
                }
            }
        }
        assert!(saw_black);
        let bad = Normalization::mnist();
        let e = DeviceImages::new(&ds, &bad, None, Device::Cpu).unwrap_err().to_string();
        assert!(e.contains("1 means and 1 stds for 3-channel images"), "{e}");
        let flat = Normalization { mean: vec![0.5; 3], std: vec![0.0; 3] };
        let e = DeviceImages::new(&ds, &flat, None, Device::Cpu).unwrap_err().to_string();
        assert!(e.contains("std must be positive"), "{e}");
    }

    #[test]
    fn augmentation_is_keyed_by_position_and_checked_against_the_images() {
        let data = indexed(12);
        let plan = BatchPlan {
            batch_size: 4,
            shuffle: true,
            seed: 3,
            seeding: OrderSeeding::Derived,
            drop_last: false,
            augment: Augment { crop_padding: 1, flip: true, cutout: Some(2) },
        };
        let mut a = data.batches_with(&plan).unwrap();
        let mut b = data.batches_with(&plan).unwrap();
        // Random access in another order gives the same pixels.
        let late = b.batch(2, 1).unwrap();
        assert!(a.batch(2, 1).unwrap().inputs.equal(&late.inputs));
        let other = BatchPlan { seed: 4, ..plan };
        let mut c = data.batches_with(&other).unwrap();
        assert!(!c.batch(2, 1).unwrap().inputs.equal(&late.inputs));
        let too_big = BatchPlan { augment: Augment { crop_padding: 3, ..plan.augment }, ..plan };
        let err = data.batches_with(&too_big).unwrap_err().to_string();
        assert!(err.contains("crop padding") && err.contains("indexed"), "{err}");
    }
}
