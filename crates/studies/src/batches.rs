//! The studies' seeded streams and minibatch orders (their own derivation, kept so that study
//! records reproduce those of earlier builds bit for bit).

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

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
    let idx = sotl_train::shuffled_indices(n, &mut rng_for(seed, stream));
    idx.chunks_exact(batch).map(<[i64]>::to_vec).collect()
}
