//! `sotl-nas data check <dir|name>`: finds a dataset, validates it, prints counts per class.

use std::path::PathBuf;

use anyhow::Result;
use sotl_experiments::data::dataset_cache_dir;
use sotl_experiments::data_check::check_dataset;

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
    /// Cache folder for decoded image folders [default: $XDG_CACHE_HOME/sotl-nas/datasets, else
    /// ~/.cache/sotl-nas/datasets, the one every command uses].
    #[arg(long, value_name = "DIR")]
    cache_dir: Option<PathBuf>,
    /// Do not cache decoded image folders.
    #[arg(long)]
    no_cache: bool,
    /// Accept any number of records per file (not only the official release's counts).
    #[arg(long)]
    any_size: bool,
}

/// Runs `data`.
pub fn run(args: DataArgs, g: &Global) -> Result<()> {
    g.apply_threads();
    let DataCommand::Check(a) = args.command;
    let cache = if a.no_cache { None } else { a.cache_dir.clone().or_else(dataset_cache_dir) };
    let report = check_dataset(&g.env()?, &a.target, cache, a.any_size)?;
    if g.json {
        return crate::common::print_json(&report);
    }
    print!("{}", report.to_text());
    Ok(())
}
