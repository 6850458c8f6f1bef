//! An in-memory image classification dataset.

use tch::Tensor;

/// An image classification dataset held as tensors.
///
/// Images are `uint8`, shape `[N, C, H, W]`; labels are `int64`, shape `[N]`. Keeping uint8 on
/// the training device means a whole CIFAR-10 is 150 MB and augmentation runs there in batches.
#[derive(Debug)]
pub struct Dataset {
    /// A short name, e.g. `cifar10/train`.
    pub name: String,
    /// `uint8` images, `[N, C, H, W]`.
    pub images: Tensor,
    /// `int64` labels, `[N]`.
    pub labels: Tensor,
    /// Class names, index = label.
    pub classes: Vec<String>,
}
