//! The `data` row: how fast the project's minibatch pipeline makes augmented CIFAR batches.

use sotl_data::{Dataset, Normalization, CIFAR10_CLASSES};
use sotl_train::{BatchSource, DeviceImages};
use tch::{Device, Kind, Tensor};

use crate::{time_steps, PerfConfig, PerfError, Result, RowStats};

/// Times `sotl-train`'s [`DeviceImages`] batches over a CIFAR-10-sized dataset (`data_images`
/// random 3x32x32 images, libtorch seeded with `cfg.seed`, standardized once with the CIFAR-10
/// statistics before timing, as every command does): one step is one shuffled batch of
/// `cfg.batch` images gathered, padded by 4, randomly cropped and flipped (the one-shot batches
/// with augmentation). `warmup` untimed then `data_batches` timed batches; epochs wrap.
pub fn data_row(cfg: &PerfConfig) -> Result<RowStats> {
    tch::manual_seed(cfg.seed as i64);
    let n = cfg.data_images as i64;
    let images = Tensor::randint(256, [n, 3, 32, 32], (Kind::Uint8, Device::Cpu));
    let labels = Tensor::randint(10, [n], (Kind::Int64, Device::Cpu));
    let classes = CIFAR10_CLASSES.iter().map(|c| c.to_string()).collect();
    let data = Dataset::new("synthetic-cifar10-sized", images, labels, classes)?;
    let images = DeviceImages::new(&data, &Normalization::cifar10(), None, cfg.device)?;
    let mut batches = images.batches(cfg.batch, cfg.seed, true)?;
    let per_epoch = batches.batches_per_epoch();
    time_steps(cfg.warmup, cfg.data_batches, cfg.batch, |i| {
        let batch = batches.batch(i / per_epoch, i % per_epoch)?;
        // A cheap read of the output keeps the batch from being a no-op and catches garbage.
        let v = batch.inputs.double_value(&[0, 0, 0, 0]);
        if !v.is_finite() {
            return Err(PerfError::NonFinite { row: "data", step: i, value: v });
        }
        Ok(())
    })
}
