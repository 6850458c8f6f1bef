//! Seeded minibatch orders and the uint8 -> float conversion shared by the studies.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tch::{Kind, Tensor};

/// A ChaCha8 generator for `(seed, stream)`: one independent stream per epoch and purpose, so a
/// resumed run draws exactly what an uninterrupted one would.
pub fn rng_for(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng
}

/// A shuffled order of `0..n` cut into full batches of `batch` indices (the ragged tail is
/// dropped, so every step sees the same batch size).
pub fn epoch_batches(n: usize, batch: usize, seed: u64, stream: u64) -> Vec<Vec<i64>> {
    let mut idx: Vec<i64> = (0..n as i64).collect();
    idx.shuffle(&mut rng_for(seed, stream));
    idx.chunks_exact(batch).map(<[i64]>::to_vec).collect()
}

/// Per-channel normalization constants of an image dataset (mean, std of pixel/255).
#[derive(Debug, Clone, PartialEq)]
pub struct Normalization {
    /// Per-channel means.
    pub mean: Vec<f64>,
    /// Per-channel standard deviations.
    pub std: Vec<f64>,
}

impl Normalization {
    /// Converts `uint8 [B, C, H, W]` to normalized floats of `kind`.
    ///
    /// # Shapes
    /// `[B, C, H, W]` uint8 -> `[B, C, H, W]` float; `C` must equal `mean.len()`.
    pub fn apply(&self, images: &Tensor, kind: Kind) -> Tensor {
        let dev = images.device();
        let c = self.mean.len() as i64;
        let mean = Tensor::from_slice(&self.mean).to_kind(kind).to_device(dev).view([1, c, 1, 1]);
        let std = Tensor::from_slice(&self.std).to_kind(kind).to_device(dev).view([1, c, 1, 1]);
        (images.to_kind(kind) / 255.0 - mean) / std
    }
}
