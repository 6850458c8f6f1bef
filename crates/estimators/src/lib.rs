//! Training records and the SoTL family of generalization estimators. Pure: no tensors.
//!
//! `sotl-train` emits [`TrainingRecord`]s; the estimators here turn a record into one score with
//! a single sign convention (higher = predicted better), which `sotl-search` ranks by and
//! `sotl-metrics` correlates with ground truth.

mod record;

pub use record::{StepRecord, TrainingRecord, ValRecord, ValScope};
