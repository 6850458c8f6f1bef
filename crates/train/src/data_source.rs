//! `sotl-data`'s [`Loader`] as a [`BatchSource`].

use sotl_data::{Loader, Position};

use crate::{Batch, BatchSource, Result, TrainError};

/// A `Loader` batch is a pure function of (loader seed, epoch, batch) drawn from its own ChaCha
/// streams, so it already has the random-access property the trainer needs for exact resumes.
impl BatchSource for Loader {
    fn batches_per_epoch(&self) -> usize {
        Loader::batches_per_epoch(self)
    }

    fn batch(&mut self, epoch: usize, index: usize) -> Result<Batch> {
        let pos = Position { epoch: epoch as u64, batch: index };
        let b = self.batch_at(pos).ok_or_else(|| {
            TrainError::Config(format!(
                "batch {index} out of range: the loader has {} batches per epoch",
                Loader::batches_per_epoch(self)
            ))
        })?;
        Ok(Batch { inputs: b.images, targets: b.labels })
    }
}
