//! Finding datasets: format detection in a folder, and a data root laid out like `shared/`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::cifar::{read_cifar100_bin, read_cifar10_bin, Cifar100Labels, SizeCheck};
use crate::dataset::Dataset;
use crate::error::{DataError, Result};
use crate::image_folder::{read_image_folder, ImageFolderOptions};
use crate::imagenet16::read_imagenet16;
use crate::mnist::read_mnist;
use crate::name::DatasetName;
use crate::synthetic::{synthetic, SyntheticConfig};

/// An on-disk dataset format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DatasetFormat {
    /// `data_batch_{1..5}.bin`, `test_batch.bin` (CIFAR-10 binary release).
    Cifar10Bin,
    /// `train.bin`, `test.bin` with coarse and fine label bytes (CIFAR-100 binary release).
    Cifar100Bin,
    /// `train-images-idx3-ubyte[.gz]` and friends.
    MnistIdx,
    /// `train_data_batch_{1..10}`, `val_data` pickles (ImageNet16, 120 classes kept).
    ImageNet16,
    /// `train/<class>/*.jpg|png` and `test/` (or `val/`) likewise.
    ImageFolder,
}

impl DatasetFormat {
    /// A human name for messages.
    pub fn describe(self) -> &'static str {
        match self {
            DatasetFormat::Cifar10Bin => "CIFAR-10 binary release",
            DatasetFormat::Cifar100Bin => "CIFAR-100 binary release",
            DatasetFormat::MnistIdx => "MNIST IDX files",
            DatasetFormat::ImageNet16 => "ImageNet16 pickles",
            DatasetFormat::ImageFolder => "image folders (ImageFolder layout)",
        }
    }
}

/// The format of the dataset in `dir`, judged by file names only; `None` when nothing matches.
pub fn detect_format(dir: &Path) -> Option<DatasetFormat> {
    let has = |n: &str| dir.join(n).is_file();
    if has("data_batch_1.bin") || has("test_batch.bin") {
        Some(DatasetFormat::Cifar10Bin)
    } else if has("train.bin") || has("test.bin") {
        Some(DatasetFormat::Cifar100Bin)
    } else if [
        "train-images-idx3-ubyte",
        "train-images-idx3-ubyte.gz",
        "train-images.idx3-ubyte",
        "t10k-images-idx3-ubyte.gz",
    ]
    .iter()
    .any(|n| has(n))
    {
        Some(DatasetFormat::MnistIdx)
    } else if has("train_data_batch_1") || has("val_data") {
        Some(DatasetFormat::ImageNet16)
    } else if dir.join("train").is_dir() {
        Some(DatasetFormat::ImageFolder)
    } else {
        None
    }
}

/// The test split folder of an image-folder dataset: `test`, else `val`.
fn test_split_name(dir: &Path) -> &'static str {
    if !dir.join("test").is_dir() && dir.join("val").is_dir() {
        "val"
    } else {
        "test"
    }
}

/// How to read datasets: where decoded image folders are cached, and how strictly sizes are checked.
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// Cache folder for decoded image folders (see [`crate::read_image_folder`]); `None` disables it.
    pub cache_dir: Option<PathBuf>,
    /// Whether official record counts are required.
    pub size_check: SizeCheck,
    /// Image decoding threads (0 = one per core).
    pub threads: usize,
}

/// Reads (train, test) from `dir` in `format`.
pub fn read_dataset_dir(
    dir: &Path,
    format: DatasetFormat,
    opts: &ReadOptions,
) -> Result<(Dataset, Dataset)> {
    match format {
        DatasetFormat::Cifar10Bin => read_cifar10_bin(dir, opts.size_check),
        DatasetFormat::Cifar100Bin => read_cifar100_bin(dir, Cifar100Labels::Fine, opts.size_check),
        DatasetFormat::MnistIdx => read_mnist(dir, opts.size_check),
        DatasetFormat::ImageNet16 => read_imagenet16(dir, 120, opts.size_check),
        DatasetFormat::ImageFolder => {
            let fo =
                ImageFolderOptions { cache_dir: opts.cache_dir.clone(), threads: opts.threads };
            let train = read_image_folder(dir, "train", &fo)?;
            let test = read_image_folder(dir, test_split_name(dir), &fo)?;
            if train.classes != test.classes {
                return Err(DataError::corrupt(
                    dir,
                    format!("train/ has classes {:?} but the test split has {:?}; both need the same class folders", train.classes, test.classes),
                ));
            }
            Ok((train, test))
        }
    }
}

/// Where a named dataset was found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Located {
    /// The folder holding it.
    pub dir: PathBuf,
    /// Its format.
    pub format: DatasetFormat,
}

/// A data root laid out like `shared/`: `datasets/mnist`, `datasets/cifar10-jpeg`,
/// `datasets/cifar-10-batches-bin`, `datasets/cifar-100-binary`, `datasets/ImageNet16`.
#[derive(Debug, Clone)]
pub struct DataRoot {
    /// The root folder.
    pub root: PathBuf,
    /// How datasets are read.
    pub options: ReadOptions,
}

impl DataRoot {
    /// A root with default options (no image cache, official sizes required).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        DataRoot { root: root.into(), options: ReadOptions::default() }
    }

    /// Sets the cache folder for decoded image folders.
    pub fn with_cache_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.options.cache_dir = Some(dir.into());
        self
    }

    /// The folders looked at for `name`, in order of preference, with the format expected there.
    /// Binary releases come first: they are exact and load without decoding.
    pub fn candidates(&self, name: DatasetName) -> Vec<(PathBuf, DatasetFormat)> {
        use DatasetFormat::*;
        let sub: &[(&str, DatasetFormat)] = match name {
            DatasetName::Cifar10 => &[
                ("cifar-10-batches-bin", Cifar10Bin),
                ("cifar10-jpeg", ImageFolder),
                ("cifar10", ImageFolder),
            ],
            DatasetName::Cifar100 => &[
                ("cifar-100-binary", Cifar100Bin),
                ("cifar100-jpeg", ImageFolder),
                ("cifar100", ImageFolder),
            ],
            DatasetName::ImageNet16_120 => {
                &[("ImageNet16", ImageNet16), ("imagenet16", ImageNet16)]
            }
            DatasetName::Mnist => &[("mnist", MnistIdx), ("MNIST", MnistIdx)],
            DatasetName::Synthetic => &[],
        };
        let mut out = Vec::new();
        for base in [self.root.join("datasets"), self.root.clone()] {
            for (s, f) in sub {
                out.push((base.join(s), *f));
            }
        }
        out
    }

    /// Finds `name` under the root: the first candidate folder whose files match its format.
    pub fn locate(&self, name: DatasetName) -> Result<Located> {
        let cands = self.candidates(name);
        for (dir, format) in &cands {
            if dir.is_dir() && detect_format(dir) == Some(*format) {
                return Ok(Located { dir: dir.clone(), format: *format });
            }
        }
        let looked: Vec<String> = cands.iter().map(|(d, _)| d.display().to_string()).collect();
        Err(DataError::Missing {
            what: format!("dataset {name}"),
            looked_in: looked.join(", "),
            hint: format!(
                "put the files in one of those folders (see shared/README.md for the layouts), pass another data root, \
                 or use the synthetic dataset{}",
                if name == DatasetName::Synthetic { "" } else { " (no files needed)" }
            ),
        })
    }

    /// Loads (train, test) for `name`, whichever supported format is present; `synthetic` is
    /// generated with [`SyntheticConfig::default`].
    pub fn load(&self, name: DatasetName) -> Result<(Dataset, Dataset)> {
        if name == DatasetName::Synthetic {
            return synthetic(&SyntheticConfig::default());
        }
        let loc = self.locate(name)?;
        let (mut train, mut test) = read_dataset_dir(&loc.dir, loc.format, &self.options)?;
        if train.num_classes() != name.num_classes() {
            return Err(DataError::corrupt(
                &loc.dir,
                format!("{} classes found, {name} has {}", train.num_classes(), name.num_classes()),
            ));
        }
        train.name = format!("{name}/train");
        test.name = format!("{name}/test");
        Ok((train, test))
    }
}

/// Loads (train, test) for `name` from the data root `root` with default options; see
/// [`DataRoot::load`].
pub fn load(root: &Path, name: DatasetName) -> Result<(Dataset, Dataset)> {
    DataRoot::new(root).load(name)
}
