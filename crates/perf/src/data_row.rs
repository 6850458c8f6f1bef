//! The `data` row: how fast the project's loader makes augmented CIFAR batches on the CPU.

use sotl_data::{Augment, Dataset, Loader, LoaderConfig, Normalization, CIFAR10_CLASSES};
use tch::{Device, Kind, Tensor};

use crate::{time_steps, PerfConfig, PerfError, Result, RowStats};

/// Times `sotl-data`'s [`Loader`] over a CIFAR-10-sized uint8 tensor (`data_images` random
/// 3x32x32 images, libtorch seeded with `cfg.seed`): one step is one shuffled batch of
/// `cfg.batch` images gathered, padded by 4, randomly cropped, flipped and normalized
/// (`Augment::cifar()`, CIFAR-10 statistics). `warmup` untimed then `data_batches` timed batches;
/// epochs wrap.
pub fn data_row(cfg: &PerfConfig) -> Result<RowStats> {
    tch::manual_seed(cfg.seed as i64);
    let n = cfg.data_images as i64;
    let images = Tensor::randint(256, [n, 3, 32, 32], (Kind::Uint8, Device::Cpu));
    let labels = Tensor::randint(10, [n], (Kind::Int64, Device::Cpu));
    let classes = CIFAR10_CLASSES.iter().map(|c| c.to_string()).collect();
    let data = Dataset::new("synthetic-cifar10-sized", images, labels, classes)?;
    let indices: Vec<i64> = (0..n).collect();
    let loader = Loader::new(
        &data,
        &indices,
        LoaderConfig::train(cfg.batch, cfg.seed, Augment::cifar(), Normalization::cifar10()),
    )?;
    let mut epoch = 0u64;
    let mut batches = loader.epoch(epoch);
    time_steps(cfg.warmup, cfg.data_batches, cfg.batch, |i| {
        let batch = match batches.next() {
            Some(b) => b,
            None => {
                epoch += 1;
                batches = loader.epoch(epoch);
                batches.next().ok_or(PerfError::Config {
                    field: "data_images",
                    reason: "gives no batch".into(),
                })?
            }
        };
        // A cheap read of the output keeps the batch from being a no-op and catches garbage.
        let v = batch.images.double_value(&[0, 0, 0, 0]);
        if !v.is_finite() {
            return Err(PerfError::NonFinite { row: "data", step: i, value: v });
        }
        Ok(())
    })
}
