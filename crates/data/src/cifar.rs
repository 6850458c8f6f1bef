//! Readers for the CIFAR-10 and CIFAR-100 binary releases (Krizhevsky 2009).
//!
//! Layout (www.cs.toronto.edu/~kriz/cifar.html, "binary version"): each record is the label
//! byte(s) followed by 3072 pixel bytes, 1024 red then 1024 green then 1024 blue, each plane in
//! row-major order. CIFAR-10 has one label byte (`data_batch_1.bin` .. `data_batch_5.bin`,
//! `test_batch.bin`, 10 000 records each, class names in `batches.meta.txt`); CIFAR-100 has a
//! coarse then a fine label byte (`train.bin` 50 000 records, `test.bin` 10 000, names in
//! `fine_label_names.txt` / `coarse_label_names.txt`).

use std::path::Path;

use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

use crate::dataset::Dataset;
use crate::error::{DataError, Result};
use crate::io::read_file;

/// CIFAR-10 class names in label order (the official `batches.meta.txt`).
pub const CIFAR10_CLASSES: [&str; 10] =
    ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"];

/// CIFAR-100 fine class names in label order (the official `fine_label_names.txt`).
pub const CIFAR100_FINE_CLASSES: [&str; 100] = [
    "apple",
    "aquarium_fish",
    "baby",
    "bear",
    "beaver",
    "bed",
    "bee",
    "beetle",
    "bicycle",
    "bottle",
    "bowl",
    "boy",
    "bridge",
    "bus",
    "butterfly",
    "camel",
    "can",
    "castle",
    "caterpillar",
    "cattle",
    "chair",
    "chimpanzee",
    "clock",
    "cloud",
    "cockroach",
    "couch",
    "crab",
    "crocodile",
    "cup",
    "dinosaur",
    "dolphin",
    "elephant",
    "flatfish",
    "forest",
    "fox",
    "girl",
    "hamster",
    "house",
    "kangaroo",
    "keyboard",
    "lamp",
    "lawn_mower",
    "leopard",
    "lion",
    "lizard",
    "lobster",
    "man",
    "maple_tree",
    "motorcycle",
    "mountain",
    "mouse",
    "mushroom",
    "oak_tree",
    "orange",
    "orchid",
    "otter",
    "palm_tree",
    "pear",
    "pickup_truck",
    "pine_tree",
    "plain",
    "plate",
    "poppy",
    "porcupine",
    "possum",
    "rabbit",
    "raccoon",
    "ray",
    "road",
    "rocket",
    "rose",
    "sea",
    "seal",
    "shark",
    "shrew",
    "skunk",
    "skyscraper",
    "snail",
    "snake",
    "spider",
    "squirrel",
    "streetcar",
    "sunflower",
    "sweet_pepper",
    "table",
    "tank",
    "telephone",
    "television",
    "tiger",
    "tractor",
    "train",
    "trout",
    "tulip",
    "turtle",
    "wardrobe",
    "whale",
    "willow_tree",
    "wolf",
    "woman",
    "worm",
];

/// CIFAR-100 coarse (superclass) names in label order (the official `coarse_label_names.txt`).
pub const CIFAR100_COARSE_CLASSES: [&str; 20] = [
    "aquatic_mammals",
    "fish",
    "flowers",
    "food_containers",
    "fruit_and_vegetables",
    "household_electrical_devices",
    "household_furniture",
    "insects",
    "large_carnivores",
    "large_man-made_outdoor_things",
    "large_natural_outdoor_scenes",
    "large_omnivores_and_herbivores",
    "medium_mammals",
    "non-insect_invertebrates",
    "people",
    "reptiles",
    "small_mammals",
    "trees",
    "vehicles_1",
    "vehicles_2",
];

/// Pixel bytes of one 32x32 RGB CIFAR image.
const PIXELS: usize = 3 * 32 * 32;

/// Whether readers insist on the official number of records per file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum SizeCheck {
    /// Require the official counts (e.g. 10 000 records per CIFAR-10 batch): catches a file cut
    /// exactly at a record boundary, which the per-record check cannot.
    #[default]
    Official,
    /// Accept any whole number of records (small or custom files in the same format).
    Any,
}

/// Which CIFAR-100 label becomes [`Dataset::labels`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Cifar100Labels {
    /// The 100 fine classes (what NAS-Bench-201 and the literature use).
    #[default]
    Fine,
    /// The 20 superclasses.
    Coarse,
}

/// Hint for a missing CIFAR file.
const HINT: &str = "download the binary version from https://www.cs.toronto.edu/~kriz/cifar.html and unpack it \
                    (cifar-10-binary.tar.gz gives cifar-10-batches-bin/, cifar-100-binary.tar.gz gives cifar-100-binary/)";

/// Reads one CIFAR binary file whose records start with one label byte per entry of
/// `num_classes`, each checked against its bound.
///
/// Returns the pixel bytes (records' images back to back, already CHW) and, per label byte, the
/// labels.
fn read_records(
    path: &Path,
    num_classes: &[usize],
    expect: Option<usize>,
) -> Result<(Vec<u8>, Vec<Vec<i64>>)> {
    let what =
        format!("CIFAR binary file {}", path.file_name().unwrap_or_default().to_string_lossy());
    let bytes = read_file(path, &what, HINT)?;
    let label_bytes = num_classes.len();
    let rec = label_bytes + PIXELS;
    if bytes.is_empty() || bytes.len() % rec != 0 {
        return Err(DataError::corrupt(
            path,
            format!(
                "{} bytes is not a whole number of {rec}-byte records ({label_bytes} label byte(s) + 3072 pixels); \
                 the file is truncated or not a CIFAR binary batch",
                bytes.len()
            ),
        ));
    }
    let n = bytes.len() / rec;
    if let Some(e) = expect {
        if n != e {
            return Err(DataError::corrupt(
                path,
                format!("{n} records, expected {e} in the official release"),
            ));
        }
    }
    let mut pixels = Vec::with_capacity(n * PIXELS);
    let mut labels = vec![Vec::with_capacity(n); label_bytes];
    for (i, r) in bytes.chunks_exact(rec).enumerate() {
        for (k, &num) in num_classes.iter().enumerate() {
            let l = r[k] as usize;
            if l >= num {
                return Err(DataError::corrupt(
                    path,
                    format!(
                        "record {i} has label byte {k} = {l}, expected 0..{num}; the file is corrupt or of another format"
                    ),
                ));
            }
            labels[k].push(l as i64);
        }
        pixels.extend_from_slice(&r[label_bytes..]);
    }
    Ok((pixels, labels))
}

/// Reads class names, one per non-empty line, from `path` if it exists, checking the count.
fn read_names(path: &Path, fallback: &[&str]) -> Result<Vec<String>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(fallback.iter().map(|s| s.to_string()).collect())
        }
        Err(e) => return Err(DataError::io(path, e)),
    };
    let names: Vec<String> =
        text.lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from).collect();
    if names.len() != fallback.len() {
        return Err(DataError::corrupt(
            path,
            format!("{} class names, expected {} (one per line)", names.len(), fallback.len()),
        ));
    }
    Ok(names)
}

/// Builds a dataset from concatenated CHW pixel bytes.
fn to_dataset(
    name: String,
    pixels: Vec<u8>,
    labels: Vec<i64>,
    classes: Vec<String>,
) -> Result<Dataset> {
    let n = labels.len() as i64;
    let images = Tensor::f_from_data_size(&pixels, &[n, 3, 32, 32], Kind::Uint8)?;
    Dataset::new(name, images, Tensor::from_slice(&labels), classes)
}

/// Reads the CIFAR-10 binary release from `dir` (the `cifar-10-batches-bin` folder):
/// returns (train: 5 batches, 50 000 images; test: 10 000 images) under [`SizeCheck::Official`].
pub fn read_cifar10_bin(dir: &Path, check: SizeCheck) -> Result<(Dataset, Dataset)> {
    let expect = (check == SizeCheck::Official).then_some(10_000);
    let classes = read_names(&dir.join("batches.meta.txt"), &CIFAR10_CLASSES)?;
    let (mut px, mut lb) = (Vec::new(), Vec::new());
    for i in 1..=5 {
        let (p, l) = read_records(&dir.join(format!("data_batch_{i}.bin")), &[10], expect)?;
        px.extend_from_slice(&p);
        lb.extend_from_slice(&l[0]);
    }
    let train = to_dataset("cifar10/train".into(), px, lb, classes.clone())?;
    let (p, mut l) = read_records(&dir.join("test_batch.bin"), &[10], expect)?;
    let test = to_dataset("cifar10/test".into(), p, l.remove(0), classes)?;
    Ok((train, test))
}

/// Reads the CIFAR-100 binary release from `dir` (the `cifar-100-binary` folder): returns
/// (train: 50 000 images; test: 10 000) labelled by fine or coarse class.
pub fn read_cifar100_bin(
    dir: &Path,
    labels: Cifar100Labels,
    check: SizeCheck,
) -> Result<(Dataset, Dataset)> {
    let official = check == SizeCheck::Official;
    // Record layout: coarse byte, then fine byte; both are range-checked whichever is kept.
    let (keep, classes) = match labels {
        Cifar100Labels::Coarse => {
            (0, read_names(&dir.join("coarse_label_names.txt"), &CIFAR100_COARSE_CLASSES)?)
        }
        Cifar100Labels::Fine => {
            (1, read_names(&dir.join("fine_label_names.txt"), &CIFAR100_FINE_CLASSES)?)
        }
    };
    let (p, mut l) = read_records(&dir.join("train.bin"), &[20, 100], official.then_some(50_000))?;
    let train = to_dataset("cifar100/train".into(), p, l.swap_remove(keep), classes.clone())?;
    let (p, mut l) = read_records(&dir.join("test.bin"), &[20, 100], official.then_some(10_000))?;
    let test = to_dataset("cifar100/test".into(), p, l.swap_remove(keep), classes)?;
    Ok((train, test))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn official_name_lists_have_official_lengths() {
        assert_eq!(CIFAR100_FINE_CLASSES.len(), 100);
        let mut sorted = CIFAR100_FINE_CLASSES.to_vec();
        sorted.sort();
        // The official fine names are in alphabetical order.
        assert_eq!(sorted, CIFAR100_FINE_CLASSES.to_vec());
        assert_eq!(CIFAR100_COARSE_CLASSES.len(), 20);
    }
}
