//! `sotl-nas data check <dir|name>`: finds a dataset, validates it, prints counts per class.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::Serialize;
use sotl_data::{
    detect_format, read_dataset_dir, DataRoot, Dataset, DatasetFormat, DatasetName, ReadOptions,
    SizeCheck,
};

use crate::common::Global;

/// Arguments of `data`.
#[derive(Debug, clap::Args)]
pub struct DataArgs {
    #[command(subcommand)]
    command: DataCommand,
}

#[derive(Debug, clap::Subcommand)]
enum DataCommand {
    /// Find the dataset in a folder (or a named dataset under the data root), read and validate
    /// every file, and print the number of images per class and split.
    Check(CheckArgs),
}

/// Arguments of `data check`.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// A folder holding a dataset (CIFAR binary, MNIST IDX, ImageNet16 pickles, or
    /// train/ + test/ image folders), or a dataset name (cifar10, cifar100, imagenet16-120, mnist,
    /// synthetic) looked up under the data root.
    target: String,
    /// Cache folder for decoded image folders [default: $XDG_CACHE_HOME/sotl-nas/images, else
    /// ~/.cache/sotl-nas/images].
    #[arg(long, value_name = "DIR")]
    cache_dir: Option<PathBuf>,
    /// Do not cache decoded image folders.
    #[arg(long)]
    no_cache: bool,
    /// Accept any number of records per file (not only the official release's counts).
    #[arg(long)]
    any_size: bool,
}

#[derive(Serialize)]
struct ClassCount {
    class: String,
    count: usize,
}

#[derive(Serialize)]
struct SplitReport {
    split: String,
    images: usize,
    shape: [i64; 3],
    classes: Vec<ClassCount>,
}

#[derive(Serialize)]
struct Report {
    target: String,
    dir: Option<String>,
    format: Option<DatasetFormat>,
    format_description: String,
    splits: Vec<SplitReport>,
}

/// The default cache folder for decoded images.
fn default_cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("sotl-nas").join("images"))
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

/// Runs `data`.
pub fn run(args: DataArgs, g: &Global) -> Result<()> {
    g.apply_threads();
    match args.command {
        DataCommand::Check(a) => check(a, g),
    }
}

fn check(a: CheckArgs, g: &Global) -> Result<()> {
    let options = ReadOptions {
        cache_dir: if a.no_cache { None } else { a.cache_dir.clone().or_else(default_cache_dir) },
        size_check: if a.any_size { SizeCheck::Any } else { SizeCheck::Official },
        threads: 0,
    };
    let path = Path::new(&a.target);
    let (dir, format, (train, test)) = if path.is_dir() {
        let format = detect_format(path).with_context(|| {
            format!(
                "no dataset format recognised in {}: expected CIFAR-10 binary (data_batch_1.bin ...), CIFAR-100 binary \
                 (train.bin, test.bin), MNIST IDX (train-images-idx3-ubyte[.gz] ...), ImageNet16 (train_data_batch_1 ..., \
                 val_data) or image folders (train/<class>/*.jpg|png and test/)",
                path.display()
            )
        })?;
        eprintln!("reading {} as {}", path.display(), format.describe());
        let data = read_dataset_dir(path, format, &options)
            .with_context(|| format!("{} is not a valid {}", path.display(), format.describe()))?;
        (Some(path.to_path_buf()), Some(format), data)
    } else {
        let name: DatasetName = a.target.parse().with_context(|| {
            format!("{:?} is neither an existing folder nor a dataset name", a.target)
        })?;
        if name == DatasetName::Synthetic {
            eprintln!("synthetic: generated from seed 0 (no files involved)");
            (None, None, DataRoot::new(".").load(name)?)
        } else {
            let root = g.require_data_root()?;
            let dr = DataRoot { root, options };
            let loc = dr.locate(name)?;
            eprintln!("{name}: reading {} as {}", loc.dir.display(), loc.format.describe());
            let data = dr
                .load(name)
                .with_context(|| format!("{} is not a valid {name}", loc.dir.display()))?;
            (Some(loc.dir), Some(loc.format), data)
        }
    };
    if train.classes != test.classes {
        bail!("train and test splits have different classes");
    }
    let r = Report {
        target: a.target.clone(),
        dir: dir.as_ref().map(|d| d.display().to_string()),
        format,
        format_description: format
            .map_or("generated synthetic dataset", |f| f.describe())
            .to_string(),
        splits: vec![split_report("train", &train), split_report("test", &test)],
    };
    if g.json {
        return crate::common::print_json(&r);
    }
    println!("{}: {} ({})", r.target, r.format_description, r.dir.as_deref().unwrap_or("no files"));
    let [c, h, w] = train.image_shape();
    println!(
        "images {c}x{h}x{w}, {} classes; train {} / test {}",
        train.num_classes(),
        train.len(),
        test.len()
    );
    let width = train.classes.iter().map(String::len).max().unwrap_or(5).max(5);
    println!("  {:<width$} {:>8} {:>8}", "class", "train", "test");
    for (i, class) in train.classes.iter().enumerate() {
        println!(
            "  {:<width$} {:>8} {:>8}",
            class, r.splits[0].classes[i].count, r.splits[1].classes[i].count
        );
    }
    println!("ok: every file read and validated");
    Ok(())
}
