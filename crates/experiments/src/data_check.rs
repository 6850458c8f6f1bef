//! `data check`: find a dataset, read and validate every file, count images per class.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::Serialize;
use sotl_data::{
    detect_format, read_dataset_dir, DataRoot, Dataset, DatasetFormat, DatasetName, ReadOptions,
    SizeCheck,
};

use crate::Env;

/// Images of one class in one split.
#[derive(Debug, Serialize)]
pub struct ClassCount {
    /// Class name.
    pub class: String,
    /// Images.
    pub count: usize,
}

/// One split of a checked dataset.
#[derive(Debug, Serialize)]
pub struct SplitReport {
    /// `train` or `test`.
    pub split: String,
    /// Images.
    pub images: usize,
    /// `[C, H, W]`.
    pub shape: [i64; 3],
    /// Per-class counts.
    pub classes: Vec<ClassCount>,
}

/// What `data check` found.
#[derive(Debug, Serialize)]
pub struct DataReport {
    /// The folder or name asked for.
    pub target: String,
    /// Where the files are.
    pub dir: Option<String>,
    /// The format found.
    pub format: Option<DatasetFormat>,
    /// The format in words.
    pub format_description: String,
    /// Train and test.
    pub splits: Vec<SplitReport>,
}

fn split_report(split: &str, d: &Dataset) -> SplitReport {
    SplitReport {
        split: split.to_string(),
        images: d.len(),
        shape: d.image_shape(),
        classes: d
            .classes
            .iter()
            .cloned()
            .zip(d.class_counts())
            .map(|(class, count)| ClassCount { class, count })
            .collect(),
    }
}

/// Finds the dataset `target` (a folder, or a dataset name under the data root), reads and
/// validates every file, and counts images per class and split. `cache_dir` caches decoded image
/// folders (`None`: no cache); `any_size` accepts files of any record count.
pub fn check_dataset(
    env: &Env,
    target: &str,
    cache_dir: Option<PathBuf>,
    any_size: bool,
) -> Result<DataReport> {
    let options = ReadOptions {
        cache_dir,
        size_check: if any_size { SizeCheck::Any } else { SizeCheck::Official },
        threads: 0,
    };
    let path = Path::new(target);
    let (dir, format, (train, test)) = if path.is_dir() {
        let format = detect_format(path).with_context(|| {
            format!(
                "no dataset format recognised in {}: expected CIFAR-10 binary (data_batch_1.bin ...), CIFAR-100 binary \
                 (train.bin, test.bin), MNIST IDX (train-images-idx3-ubyte[.gz] ...), ImageNet16 (train_data_batch_1 ..., \
                 val_data) or image folders (train/<class>/*.jpg|png and test/)",
                path.display()
            )
        })?;
        tracing::info!("reading {} as {}", path.display(), format.describe());
        let data = read_dataset_dir(path, format, &options)
            .with_context(|| format!("{} is not a valid {}", path.display(), format.describe()))?;
        (Some(path.to_path_buf()), Some(format), data)
    } else {
        let name: DatasetName = target.parse().with_context(|| {
            format!("{target:?} is neither an existing folder nor a dataset name")
        })?;
        if name == DatasetName::Synthetic {
            tracing::info!("synthetic: generated from seed 0 (no files involved)");
            (None, None, DataRoot::new(".").load(name)?)
        } else {
            let dr = DataRoot { root: env.require_data_root()?.to_path_buf(), options };
            let loc = dr.locate(name)?;
            tracing::info!("{name}: reading {} as {}", loc.dir.display(), loc.format.describe());
            let data = dr
                .load(name)
                .with_context(|| format!("{} is not a valid {name}", loc.dir.display()))?;
            (Some(loc.dir), Some(loc.format), data)
        }
    };
    if train.classes != test.classes {
        bail!("train and test splits have different classes");
    }
    Ok(DataReport {
        target: target.to_string(),
        dir: dir.as_ref().map(|d| d.display().to_string()),
        format,
        format_description: format
            .map_or("generated synthetic dataset", |f| f.describe())
            .to_string(),
        splits: vec![split_report("train", &train), split_report("test", &test)],
    })
}

impl DataReport {
    /// The human summary: format, shape, per-class counts of both splits.
    pub fn to_text(&self) -> String {
        let mut out = format!(
            "{}: {} ({})\n",
            self.target,
            self.format_description,
            self.dir.as_deref().unwrap_or("no files")
        );
        let (train, test) = (&self.splits[0], &self.splits[1]);
        let [c, h, w] = train.shape;
        out.push_str(&format!(
            "images {c}x{h}x{w}, {} classes; train {} / test {}\n",
            train.classes.len(),
            train.images,
            test.images
        ));
        let width = train.classes.iter().map(|c| c.class.len()).max().unwrap_or(5).max(5);
        out.push_str(&format!("  {:<width$} {:>8} {:>8}\n", "class", "train", "test"));
        for (tr, te) in train.classes.iter().zip(&test.classes) {
            out.push_str(&format!("  {:<width$} {:>8} {:>8}\n", tr.class, tr.count, te.count));
        }
        out.push_str("ok: every file read and validated\n");
        out
    }
}
