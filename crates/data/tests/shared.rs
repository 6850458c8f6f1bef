//! Integration tests on the real datasets in `../shared/datasets` (skipped when absent).

use std::path::PathBuf;
use std::time::Instant;

use sotl_data::{
    list_image_folder, read_image_folder, DataRoot, DatasetFormat, DatasetName, ImageFolderOptions,
    CIFAR10_CLASSES,
};

/// The shared data root: `$SOTL_NAS_DATA`, else `../shared` beside the checkout.
fn shared() -> Option<PathBuf> {
    let p = std::env::var_os("SOTL_NAS_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared")));
    p.join("datasets").is_dir().then_some(p)
}

macro_rules! need_shared {
    ($name:literal) => {
        match shared() {
            Some(p) => p,
            None => {
                eprintln!("skipped: {} needs ../shared (absent)", $name);
                return;
            }
        }
    };
}

#[test]
fn mnist_counts_and_first_labels() {
    let root = need_shared!("mnist_counts_and_first_labels");
    let (train, test) = DataRoot::new(&root).load(DatasetName::Mnist).unwrap();
    assert_eq!(train.len(), 60_000);
    assert_eq!(test.len(), 10_000);
    assert_eq!(train.image_shape(), [1, 28, 28]);
    // Published facts about the official files (shared/README.md; LeCun's page).
    assert_eq!(&train.labels_vec()[..5], &[5, 0, 4, 1, 9]);
    assert_eq!(&test.labels_vec()[..5], &[7, 2, 1, 0, 4]);
    // The official training-set class histogram (digit 1 is the most frequent, 6742 images).
    assert_eq!(train.class_counts()[1], 6742);
    assert_eq!(test.class_counts().iter().sum::<usize>(), 10_000);
}

#[test]
fn cifar10_jpeg_listing_and_a_few_classes() {
    let root = need_shared!("cifar10_jpeg_listing_and_a_few_classes");
    let dir = root.join("datasets/cifar10-jpeg");
    assert_eq!(sotl_data::detect_format(&dir), Some(DatasetFormat::ImageFolder));
    let train = list_image_folder(&dir.join("train")).unwrap();
    let test = list_image_folder(&dir.join("test")).unwrap();
    assert_eq!(train.classes, CIFAR10_CLASSES.to_vec());
    assert_eq!((train.files.len(), test.files.len()), (50_000, 10_000));
    // Decode two classes through a folder of links: 10 000 JPEGs.
    let tmp = tempfile::tempdir().unwrap();
    for split in ["train", "test"] {
        std::fs::create_dir_all(tmp.path().join(split)).unwrap();
        for class in ["cat", "ship"] {
            std::os::unix::fs::symlink(
                dir.join(split).join(class),
                tmp.path().join(split).join(class),
            )
            .unwrap();
        }
    }
    let t0 = Instant::now();
    let d = read_image_folder(tmp.path(), "train", &ImageFolderOptions::default()).unwrap();
    eprintln!("decoded {} JPEGs in {:.2} s", d.len(), t0.elapsed().as_secs_f64());
    assert_eq!(d.len(), 10_000);
    assert_eq!(d.classes, vec!["cat", "ship"]);
    assert_eq!(d.image_shape(), [3, 32, 32]);
    assert_eq!(d.class_counts(), vec![5000, 5000]);
    // Real photos: mean brightness well inside 0..255, not a constant fill.
    let m = d.images.to_kind(tch::Kind::Float).mean(tch::Kind::Float).double_value(&[]);
    assert!((60.0..200.0).contains(&m), "mean pixel {m}");
}

#[test]
#[ignore = "decodes all 60 000 JPEGs; run with --ignored"]
fn cifar10_jpeg_full_load_and_cache() {
    let root = need_shared!("cifar10_jpeg_full_load_and_cache");
    let cache = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("sotl-data-cache");
    let dr = DataRoot::new(&root).with_cache_dir(&cache);
    let t0 = Instant::now();
    let (train, test) = dr.load(DatasetName::Cifar10).unwrap();
    let first = t0.elapsed().as_secs_f64();
    let t1 = Instant::now();
    let (train2, _) = dr.load(DatasetName::Cifar10).unwrap();
    let second = t1.elapsed().as_secs_f64();
    eprintln!("cifar10-jpeg: first load {first:.2} s, cached load {second:.2} s");
    assert_eq!((train.len(), test.len()), (50_000, 10_000));
    assert_eq!(train.classes, CIFAR10_CLASSES.to_vec());
    assert_eq!(train.class_counts(), vec![5000; 10]);
    assert_eq!(test.class_counts(), vec![1000; 10]);
    assert!(train.images.equal(&train2.images));
    assert!(train.labels.equal(&train2.labels));
}
