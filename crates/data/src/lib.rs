//! Dataset readers, NAS splits, device-side augmentation and loaders.
//!
//! The first tensor crate: it reads the formats users have (CIFAR binary, image folders, MNIST
//! IDX, ImageNet16) into [`Dataset`]s that `sotl-train` and `sotl-search` iterate over.

mod dataset;

pub use dataset::Dataset;
