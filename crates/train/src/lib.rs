//! Optimizers, learning-rate schedules, the training loop and checkpoints.
