//! The one data path of every NAS-Bench-201 study: the configured dataset (CIFAR-10 from the data
//! root, or the embedded synthetic set) -> train/valid split -> device images.

use std::path::PathBuf;

use anyhow::{Context, Result};
use sotl_data::{DataRoot, Dataset, DatasetName};
use sotl_search::{prepare_data, DataConfig, DataSource};
use sotl_train::DeviceImages;

use crate::Env;

/// Train and validation images on the device, with where they came from.
pub struct Splits {
    /// Training images.
    pub train: DeviceImages,
    /// Validation images.
    pub val: DeviceImages,
    /// `cifar10` or `synthetic`.
    pub source: &'static str,
}

/// Whether the data root holds CIFAR-10 in a format the readers know.
pub fn has_cifar10(env: &Env) -> bool {
    env.data_root.as_deref().is_some_and(|r| {
        r.join("datasets/cifar10-jpeg").is_dir() || r.join("datasets/cifar-10-batches-bin").is_dir()
    })
}

/// Where decoded image folders are cached, the one location for every command:
/// `$XDG_CACHE_HOME/sotl-nas/datasets`, else `~/.cache/sotl-nas/datasets`.
pub fn dataset_cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("sotl-nas").join("datasets"))
}

/// `(train, test)` of a dataset from the data root (whatever format is there; the generated
/// synthetic set needs no root), with decoded image folders cached in [`dataset_cache_dir`].
pub fn load_dataset(env: &Env, name: DatasetName) -> Result<(Dataset, Dataset)> {
    let root = match name {
        DatasetName::Synthetic => DataRoot::new(env.data_root.clone().unwrap_or_default()),
        _ => DataRoot::new(env.require_data_root()?),
    };
    let root = match dataset_cache_dir() {
        Some(d) => root.with_cache_dir(d),
        None => root,
    };
    root.load(name)
        .with_context(|| format!("cannot load {name} from data root {}", root.root.display()))
}

/// The CIFAR-10 training set from the data root (whatever format is there).
pub fn cifar10_train(env: &Env) -> Result<Dataset> {
    Ok(load_dataset(env, DatasetName::Cifar10)?.0)
}

/// The embedded synthetic training set used when no dataset is found (`image_size` 0 = 32).
pub fn synthetic_train(images: usize, image_size: i64, seed: u64) -> Result<Dataset> {
    let size = if image_size > 0 { image_size as usize } else { 32 };
    let (train, _) = sotl_data::synthetic(&sotl_data::SyntheticConfig {
        n_train: images,
        n_test: 8,
        size,
        noise: 0.5,
        seed,
    })?;
    Ok(train)
}

/// Loads the configured dataset and splits it onto the device. With `source = "auto"` and no
/// CIFAR-10 under the data root, falls back to the synthetic dataset with a loud warning.
pub fn load_splits(env: &Env, cfg: &DataConfig) -> Result<Splits> {
    let cifar = || cifar10_train(env);
    let synth = || synthetic_train(cfg.synthetic_images, cfg.image_size, cfg.split_seed);
    let (full, source) = match cfg.source {
        DataSource::Cifar10 => (cifar()?, "cifar10"),
        DataSource::Synthetic => (synth()?, "synthetic"),
        DataSource::Auto if has_cifar10(env) => (cifar()?, "cifar10"),
        DataSource::Auto => {
            tracing::warn!(
                "no CIFAR-10 under the data root: using the EMBEDDED SYNTHETIC dataset. Its \
                 rankings and genotypes say nothing about NAS-Bench-201 ground truth. Pass \
                 --data-root DIR (or SOTL_NAS_DATA) with datasets/cifar10-jpeg to use CIFAR-10."
            );
            (synth()?, "synthetic")
        }
    };
    let (train, val) = prepare_data(&full, cfg, env.device)?;
    tracing::info!(
        "data: {source}, {} train / {} valid images of {:?}",
        train.len(),
        val.len(),
        &train.images.size()[1..]
    );
    Ok(Splits { train, val, source })
}
