//! Measuring how fast a [`Loader`] produces augmented batches.

use std::time::Instant;

use serde::Serialize;

use crate::error::{DataError, Result};
use crate::loader::{Loader, Position};

/// Result of [`measure_throughput`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Throughput {
    /// Batches produced.
    pub batches: usize,
    /// Images produced.
    pub images: usize,
    /// Wall-clock seconds.
    pub seconds: f64,
    /// Images per second.
    pub images_per_sec: f64,
}

/// Times `batches` batches from `loader` (gather, augmentation, normalization; epochs wrap),
/// after one untimed warm-up batch. Synchronous on CPU; on CUDA the last batch is synchronised by
/// reading one value back.
pub fn measure_throughput(loader: &Loader, batches: usize) -> Result<Throughput> {
    if batches == 0 {
        return Err(DataError::invalid("throughput batches", "0; expected at least 1".to_string()));
    }
    let per = loader.batches_per_epoch();
    let _ = loader.batch_at(Position { epoch: 0, batch: 0 });
    let t0 = Instant::now();
    let (mut done, mut images, mut epoch) = (0, 0, 0);
    let mut last = None;
    while done < batches {
        for b in loader.epoch(epoch).take((batches - done).min(per)) {
            images += b.indices.len();
            done += 1;
            last = Some(b);
        }
        epoch += 1;
    }
    if let Some(b) = last {
        // Forces any queued device work to finish before the clock stops.
        let _ = b.images.flatten(0, -1).double_value(&[0]);
    }
    let seconds = t0.elapsed().as_secs_f64();
    Ok(Throughput {
        batches: done,
        images,
        seconds,
        images_per_sec: images as f64 / seconds.max(1e-9),
    })
}
