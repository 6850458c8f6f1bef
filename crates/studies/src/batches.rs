//! The studies' seeded streams and minibatch orders (their own seeding, kept so that study
//! records reproduce those of earlier builds bit for bit).

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use sotl_train::{BatchSource, OrderSeeding, TensorBatches};
use tch::{Device, Kind, Tensor};

use crate::{Result, StudiesError};

/// A ChaCha8 generator for `(seed, stream)`: one independent stream per epoch and purpose, so a
/// resumed run draws exactly what an uninterrupted one would.
pub fn rng_for(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng
}

/// The studies' minibatches of example indices: `0..n` in the workspace's one batch type, in
/// full batches of `batch` (the ragged tail is dropped, so every step sees the same batch
/// size), epoch `e` shuffled on stream `stride * e + offset` of `seed` ([`rng_for`]).
pub fn index_batches(
    n: usize,
    batch: usize,
    seed: u64,
    stride: u64,
    offset: u64,
) -> Result<TensorBatches> {
    let bad = |e: sotl_train::TrainError| StudiesError::Config(e.to_string());
    let idx = Tensor::arange(n as i64, (Kind::Int64, Device::Cpu));
    TensorBatches::new(idx.shallow_clone(), idx, batch)
        .map_err(bad)?
        .shuffled(seed)
        .seeding(OrderSeeding::Streams { stride, offset })
        .drop_last(true)
        .map_err(bad)
}

/// Every batch of `epoch` of `batches`, as `int64` index tensors on the CPU.
pub fn epoch_indices(batches: &mut TensorBatches, epoch: usize) -> Result<Vec<Tensor>> {
    (0..batches.batches_per_epoch())
        .map(|i| {
            batches
                .batch(epoch, i)
                .map(|b| b.inputs)
                .map_err(|e| StudiesError::Config(e.to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_batches_are_the_stream_shuffles_cut_into_full_batches() {
        // The order is rand's Fisher-Yates shuffle of 0..n on stream stride * e + offset.
        let (n, batch, seed) = (23, 5, 7);
        let mut b = index_batches(n, batch, seed, 2, 1).unwrap();
        for epoch in 0..3usize {
            let want = sotl_train::shuffled_indices(n, &mut rng_for(seed, 2 * epoch as u64 + 1));
            let got: Vec<i64> = epoch_indices(&mut b, epoch)
                .unwrap()
                .into_iter()
                .flat_map(|t| Vec::<i64>::try_from(t).unwrap())
                .collect();
            assert_eq!(got, want[..20], "epoch {epoch}: 4 full batches of 5, the tail dropped");
        }
        assert!(index_batches(3, 5, 0, 1, 0).unwrap_err().to_string().contains("batch"));
    }
}
