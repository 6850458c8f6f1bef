//! `sotl-nas bench nb201 ...`: NAS-Bench-201 ground-truth queries and query-based baselines, the
//! official archive converted and its per-epoch curves studied;
//! `sotl-nas bench nb101 ...`: NAS-Bench-101's official file converted once, then queried.

use std::path::PathBuf;

use anyhow::Result;
use serde::de::DeserializeOwned;
use serde::Serialize;
use sotl_bench::curve_study::CurveStudySettings;
use sotl_bench::{
    Nb201Dataset, QueryBaseline, RandomSearchConfig, RegularizedEvolutionConfig, RunsConfig,
};
use sotl_experiments::baselines::{require_bench, run_baseline};
use sotl_experiments::inspect::query_cell;

use crate::common::{load_config, print_json, Global};

/// Arguments of `bench`.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    bench: BenchCommand,
}

#[derive(Debug, clap::Subcommand)]
enum BenchCommand {
    /// NAS-Bench-201 tables under <data root>/benchmarks/nb201/.
    Nb201 {
        #[command(subcommand)]
        cmd: Nb201Command,
    },
    /// NAS-Bench-101 from its official TFRecord file.
    Nb101 {
        #[command(subcommand)]
        cmd: Nb101Command,
    },
}

#[derive(Debug, clap::Subcommand)]
enum Nb101Command {
    /// Convert nasbench_only108.tfrecord (or nasbench_full.tfrecord) into the CSV table the
    /// queries read, checking every record's hash against its cell.
    Convert {
        /// The official file.
        #[arg(long, value_name = "FILE")]
        tfrecord: PathBuf,
        /// The table to write.
        #[arg(long, value_name = "FILE", default_value = "nb101.csv")]
        out: PathBuf,
        /// Skip the hash check (faster; a misread file then goes unnoticed).
        #[arg(long)]
        no_verify: bool,
    },
    /// Every run of one cell at an epoch budget (any isomorphic form of the cell finds it).
    Query {
        /// The table `convert` wrote.
        #[arg(long, value_name = "FILE", default_value = "nb101.csv")]
        table: PathBuf,
        /// Adjacency digits row by row, e.g. 0110001000010... (7x7 = 49 digits, or fewer).
        #[arg(long)]
        adjacency: String,
        /// Interior ops, comma-separated: conv3x3-bn-relu, conv1x1-bn-relu, maxpool3x3.
        #[arg(long, default_value = "")]
        ops: String,
        /// Epoch budget: 4, 12, 36 or 108.
        #[arg(long, default_value_t = 108)]
        epochs: u32,
    },
}

#[derive(Debug, clap::Subcommand)]
enum Nb201Command {
    /// Print every accuracy both tables hold for one cell, by arch string or --index.
    Query(QueryArgs),
    /// Random search on the tables (selects on minibench validation accuracy).
    Rs(RsArgs),
    /// Regularized evolution on the tables (selects on minibench validation accuracy).
    Rea(ReaArgs),
    /// Convert the official archive (NAS-Bench-201-v1_*.pth, or NATS-Bench's
    /// NATS-tss-v1_0-3ffb9-simple folder / NATS-tss-v1_0-3ffb9.pickle.pbz2) into per-epoch curves
    /// files and the two tables; write them to <data root>/benchmarks/nb201 to use them.
    Convert {
        /// The archive file or folder.
        #[arg(long, value_name = "PATH")]
        archive: PathBuf,
        /// The folder to write nb201-curves-12.bin, nb201-curves-200.bin, nb201-200ep.csv and
        /// nb201-minibench.csv into.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// Spearman with final test accuracy, per epoch, of SoTL, SoTL over the last E epochs, the
    /// training loss and validation accuracy, from a converted archive (thesis Figure 4.4).
    Curves(CurvesArgs),
}

#[derive(Debug, clap::Args)]
struct CurvesArgs {
    /// The schedule whose curves are read: 12 or 200 epochs.
    #[arg(long, default_value_t = 200)]
    schedule: u32,
    /// The dataset (CIFAR-10's curves are cifar10-valid's: trained on the train half).
    #[arg(long, value_enum, default_value = "cifar10")]
    dataset: Nb201Dataset,
    /// Cells per sample.
    #[arg(long, default_value_t = 200)]
    sample_size: usize,
    /// Samples (sampling seeds 0..N).
    #[arg(long, default_value_t = 10)]
    sampling_seeds: u64,
    /// E of SoTL-E: the last epochs summed (1 makes it the epoch's training loss).
    #[arg(long, default_value_t = 5)]
    last: usize,
    /// Output folder.
    #[arg(long, value_name = "DIR", default_value = "runs/bench-nb201-curves")]
    out: PathBuf,
}

#[derive(Debug, clap::Args)]
struct QueryArgs {
    /// NAS-Bench-201 arch string, e.g. '|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|'.
    #[arg(required_unless_present = "index", conflicts_with = "index")]
    arch: Option<String>,
    /// NAS-Bench-201 index instead of an arch string.
    #[arg(long)]
    index: Option<usize>,
    /// Show only this dataset's accuracies (default: all three).
    #[arg(long, value_enum)]
    dataset: Option<Nb201Dataset>,
}

/// Flags shared by `rs` and `rea`; each overrides the config key of the same name.
#[derive(Debug, clap::Args)]
struct RunFlags {
    /// TOML config: `runs`, `seed`, and the search keys under `[search]`.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Number of independent runs (config `runs`, default 100).
    #[arg(long)]
    runs: Option<usize>,
    /// Base seed; run r uses a seed derived from it (config `seed`, default 0).
    #[arg(long)]
    seed: Option<u64>,
    /// Dataset whose minibench validation accuracy is selected on (config `search.dataset`).
    #[arg(long, value_enum)]
    dataset: Option<Nb201Dataset>,
    /// Queries per run (config `search.budget`, default 100).
    #[arg(long)]
    budget: Option<usize>,
    /// Output folder (default runs/bench-nb201-<algo>); rerunning with the same folder and
    /// config reuses finished runs.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
struct RsArgs {
    #[command(flatten)]
    run: RunFlags,
}

#[derive(Debug, clap::Args)]
struct ReaArgs {
    #[command(flatten)]
    run: RunFlags,
    /// Population size (config `search.population`, default 10).
    #[arg(long)]
    population: Option<usize>,
    /// Tournament sample size (config `search.sample_size`, default 3).
    #[arg(long)]
    sample_size: Option<usize>,
}

/// Runs `bench`.
pub fn run(args: BenchArgs, g: &Global) -> Result<()> {
    let cmd = match args.bench {
        BenchCommand::Nb201 { cmd } => cmd,
        BenchCommand::Nb101 { cmd } => return nb101(cmd, g),
    };
    match cmd {
        Nb201Command::Query(a) => query(a, g),
        Nb201Command::Convert { archive, out } => {
            let c = sotl_experiments::curves::convert_archive(&archive, &out)?;
            if g.json {
                return print_json(&c);
            }
            println!("{}: {} cells", c.kind, c.cells);
            for w in &c.written {
                println!("written: {w}");
            }
            for n in &c.notes {
                println!("note: {n}");
            }
            Ok(())
        }
        Nb201Command::Curves(a) => {
            let settings = CurveStudySettings {
                cells: a.sample_size,
                sampling_seeds: a.sampling_seeds,
                last: a.last,
            };
            let r = sotl_experiments::curves::run_curves_study(
                &g.env()?,
                a.schedule,
                a.dataset,
                settings,
                &a.out,
            )?;
            if g.json {
                return print_json(&r);
            }
            print!("{}", r.table()?.to_markdown());
            println!("written: {}", a.out.display());
            Ok(())
        }
        Nb201Command::Rs(a) => {
            let mut cfg: RunsConfig<RandomSearchConfig> = load_config(a.run.config.as_deref())?;
            apply_common(
                &a.run,
                &mut cfg.runs,
                &mut cfg.seed,
                &mut cfg.search.dataset,
                &mut cfg.search.budget,
            );
            baseline(cfg, &a.run, g)
        }
        Nb201Command::Rea(a) => {
            let mut cfg: RunsConfig<RegularizedEvolutionConfig> =
                load_config(a.run.config.as_deref())?;
            apply_common(
                &a.run,
                &mut cfg.runs,
                &mut cfg.seed,
                &mut cfg.search.dataset,
                &mut cfg.search.budget,
            );
            if let Some(p) = a.population {
                cfg.search.population = p;
            }
            if let Some(s) = a.sample_size {
                cfg.search.sample_size = s;
            }
            baseline(cfg, &a.run, g)
        }
    }
}

fn query(a: QueryArgs, g: &Global) -> Result<()> {
    let bench = require_bench(&g.env()?)?;
    let out = query_cell(&bench, a.arch.as_deref(), a.index, a.dataset)?;
    if g.json {
        return print_json(&out);
    }
    print!("{}", out.to_text());
    Ok(())
}

fn apply_common(
    f: &RunFlags,
    runs: &mut usize,
    seed: &mut u64,
    dataset: &mut Nb201Dataset,
    budget: &mut usize,
) {
    if let Some(r) = f.runs {
        *runs = r;
    }
    if let Some(s) = f.seed {
        *seed = s;
    }
    if let Some(d) = f.dataset {
        *dataset = d;
    }
    if let Some(b) = f.budget {
        *budget = b;
    }
}

fn baseline<C>(cfg: RunsConfig<C>, flags: &RunFlags, g: &Global) -> Result<()>
where
    C: QueryBaseline + Serialize + DeserializeOwned + PartialEq + Copy + Default,
{
    let out = flags
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("runs/bench-nb201-{}", cfg.search.name())));
    let o = run_baseline(&g.env()?, cfg, &out)?;
    if g.json {
        return print_json(&o);
    }
    print!("{}", o.to_text());
    Ok(())
}

fn nb101(cmd: Nb101Command, g: &Global) -> Result<()> {
    match cmd {
        Nb101Command::Convert { tfrecord, out, no_verify } => {
            let c = sotl_bench::nb101::convert_tfrecord(&tfrecord, &out, !no_verify)?;
            if g.json {
                return print_json(&c);
            }
            println!(
                "{} cells, {} runs at {:?} epochs -> {}",
                c.cells,
                c.runs,
                c.epochs,
                out.display()
            );
            Ok(())
        }
        Nb101Command::Query { table, adjacency, ops, epochs } => {
            let a = sotl_bench::nb101::query_csv(&table, &adjacency, &ops, epochs)?;
            if g.json {
                return print_json(&a);
            }
            println!("hash {}  params {}  {} epochs", a.hash, a.trainable_parameters, a.epochs);
            for (k, r) in a.runs.iter().enumerate() {
                println!(
                    "run {k}: train {:.4}  valid {:.4}  test {:.4}  ({:.1} s)",
                    r.train_accuracy, r.validation_accuracy, r.test_accuracy, r.training_time
                );
            }
            println!("mean test accuracy {:.4}", a.mean_test_accuracy);
            Ok(())
        }
    }
}
