//! Dataset readers, NAS splits, device-side augmentation and normalization.
//!
//! The first tensor crate: it reads the formats users have (CIFAR-10/100 binary releases, image
//! folders, MNIST IDX, NAS-Bench-201's ImageNet16) into [`Dataset`]s of uint8 tensors, finds them
//! under a data root ([`DataRoot`]), makes the splits NAS uses ([`Split`]), and provides the
//! batched, seeded augmentation ([`Augment`]) and the standardization ([`Normalization`]) that
//! `sotl-train`'s one minibatch pipeline (`DeviceImages`) applies on the training device. With
//! no dataset on disk, [`synthetic`] generates one on which architecture
//! choice matters.

mod augment;
mod cifar;
mod dataset;
mod error;
mod image_folder;
mod imagenet16;
mod io;
mod mnist;
mod name;
/// The Python pickle reader (re-exported: ImageNet16's files are pickles).
pub use sotl_pickle as pickle;
mod root;
mod split;
mod synthetic;

pub use augment::{cutout, random_crop_flip, resize, Augment, Normalization, ResizeMode};
pub use cifar::{
    read_cifar100_bin, read_cifar10_bin, Cifar100Labels, SizeCheck, CIFAR100_COARSE_CLASSES,
    CIFAR100_FINE_CLASSES, CIFAR10_CLASSES,
};
pub use dataset::Dataset;
pub use error::{DataError, Result};
pub use image_folder::{
    cache_path, list_image_folder, read_image_folder, FolderListing, ImageFolderOptions,
};
pub use imagenet16::read_imagenet16;
pub use mnist::{parse_idx_u8, read_mnist, MNIST_CLASSES};
pub use name::DatasetName;
pub use root::{
    detect_format, load, read_dataset_dir, DataRoot, DatasetFormat, Located, ReadOptions,
};
pub use split::{stratified_sample, Split, SplitKind};
pub use synthetic::{synthetic, synthetic_class_texture, SyntheticConfig, SYNTHETIC_CLASSES};
