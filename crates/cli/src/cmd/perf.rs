//! `sotl-nas perf nb201`: times NAS-Bench-201 training steps row for row like the PyTorch
//! reference harness (`shared/bench/pytorch_nb201_reference.py`); `scripts/bench-vs-pytorch`
//! alternates the two and prints the ratios.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use sotl_perf::{run_nb201, BenchRow, PerfConfig, PerfEvent, ReferenceRun};
use sotl_space::Nb201Arch;

use crate::common::{load_config, print_json, Global, NetFlags};

/// Arguments of `perf`.
#[derive(Debug, clap::Args)]
pub struct PerfArgs {
    #[command(subcommand)]
    cmd: PerfCommand,
}

#[derive(Debug, clap::Subcommand)]
enum PerfCommand {
    /// NAS-Bench-201 step timings: darts, spos, finetune, pool, eval, standalone_train, standalone_eval,
    /// data (global --device picks CPU or GPU, --threads libtorch's threads, default 2).
    Nb201(Nb201PerfArgs),
    /// One search step on the DARTS-space search network: seconds and peak resident memory per
    /// layers x method x accumulation (CPU). Memory is exact for the first combination of a
    /// process (the allocator keeps what earlier ones freed): scripts/darts-memory runs each
    /// in its own.
    DartsSpace(DartsSpaceArgs),
}

/// Flags of `perf darts-space`.
#[derive(Debug, clap::Args)]
struct DartsSpaceArgs {
    /// Cells of the search network, comma-separated (8: DARTS' search; 20: its evaluation depth).
    #[arg(long, value_delimiter = ',', default_value = "8")]
    layers: Vec<usize>,
    /// Methods, comma-separated (darts1, darts2, sotl, ...).
    #[arg(long, value_delimiter = ',', default_value = "darts1", value_parser = super::darts::parse_method)]
    method: Vec<sotl_search::DartsMethod>,
    /// Micro-batches per minibatch, comma-separated (1 = off).
    #[arg(long, value_delimiter = ',', default_value = "1")]
    accumulate: Vec<usize>,
    /// Channels C.
    #[arg(long, default_value_t = 16)]
    channels: i64,
    /// Images per batch.
    #[arg(long = "batch-size", visible_alias = "batch", default_value_t = 64)]
    batch: usize,
    /// Image side.
    #[arg(long, default_value_t = 32)]
    image_size: i64,
    /// Timed steps per combination.
    #[arg(long, default_value_t = 3)]
    steps: usize,
    /// Untimed steps first.
    #[arg(long, default_value_t = 1)]
    warmup: usize,
    /// Seed of the weights and batches.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Also write the JSON report here (atomically).
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
}

/// Flags of `perf nb201`; each overrides the config key of the same meaning.
#[derive(Debug, clap::Args)]
struct Nb201PerfArgs {
    /// TOML config (keys of `PerfConfig`: rows, channels, cells_per_stage, batch, threads, warmup,
    /// steps, seed, grad_clip, fixed_arch, pool_size, layout, data_images, data_batches).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Comma-separated rows (config `rows`; default all).
    #[arg(long, value_name = "ROWS")]
    bench: Option<String>,
    /// Timed steps per row (config `steps`, default 20).
    #[arg(long)]
    steps: Option<usize>,
    /// Untimed warm-up steps per row (config `warmup`, default 3).
    #[arg(long)]
    warmup: Option<usize>,
    /// Images per batch (config `batch`, default 64).
    #[arg(long = "batch-size", visible_alias = "batch")]
    batch: Option<usize>,
    #[command(flatten)]
    net: NetFlags,
    /// Seed of weights, batches and (without --spos-archs) the SPOS cells (config `seed`, default 0).
    #[arg(long)]
    seed: Option<u64>,
    /// Gradient-norm clip of the supernet rows, 0 = off (config `grad_clip`, default 5).
    #[arg(long)]
    grad_clip: Option<f64>,
    /// Fixed cell of finetune/eval/standalone rows (config `fixed_arch`; default: the reference
    /// JSON's, else the reference's seed-0 cell).
    #[arg(long, value_name = "ARCH")]
    arch: Option<String>,
    /// The reference harness' JSON (`--json` of pytorch_nb201_reference.py): spos replays its
    /// `sampled_archs`, its fixed arch is used, and its settings must match ours.
    #[arg(long, value_name = "REF.json")]
    spos_archs: Option<PathBuf>,
    /// Candidates of the pool row, each finetuned --steps minibatches (config `pool_size`,
    /// default 5).
    #[arg(long)]
    pool_size: Option<usize>,
    /// CPU activation layout: channels-last (the networks' default) or contiguous (config
    /// `layout`).
    #[arg(long, value_name = "LAYOUT")]
    layout: Option<sotl_nn::CpuLayout>,
    /// Images in the data row's synthetic CIFAR-10-sized dataset (config `data_images`, default 50000).
    #[arg(long)]
    data_images: Option<usize>,
    /// Timed batches of the data row (config `data_batches`, default 200).
    #[arg(long)]
    data_batches: Option<usize>,
    /// Also write the full JSON report here (atomically).
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
}

/// Runs `perf`.
pub fn run(args: PerfArgs, g: &Global) -> Result<()> {
    match args.cmd {
        PerfCommand::Nb201(a) => nb201(a, g),
        PerfCommand::DartsSpace(a) => darts_space(a, g),
    }
}

fn darts_space(a: DartsSpaceArgs, g: &Global) -> Result<()> {
    if g.device != "cpu" {
        bail!("perf darts-space measures the CPU only; drop --device {}", g.device);
    }
    g.apply_threads();
    let base = sotl_perf::DartsStepBench {
        channels: a.channels,
        batch: a.batch,
        image_size: a.image_size,
        warmup: a.warmup,
        steps: a.steps,
        seed: a.seed,
        ..Default::default()
    };
    let report =
        sotl_perf::darts_space_table(&base, &a.layers, &a.method, &a.accumulate, &mut |r| {
            tracing::info!(
                "layers {} {} accumulate {}: {:.2} s/step",
                r.bench.layers,
                r.bench.method,
                r.bench.accumulate,
                r.stats.median_ms / 1e3
            )
        })?;
    finish(&report, a.output.as_deref(), g, report.to_text())
}

fn nb201(a: Nb201PerfArgs, g: &Global) -> Result<()> {
    let mut cfg: PerfConfig = load_config(a.config.as_deref())?;
    cfg.device = sotl_experiments::parse_device(&g.device)?;
    if let Some(b) = &a.bench {
        cfg.rows = BenchRow::parse_list(b)?;
    }
    if let Some(t) = g.threads {
        cfg.threads = t;
    }
    set(&mut cfg.steps, a.steps);
    set(&mut cfg.warmup, a.warmup);
    set(&mut cfg.batch, a.batch);
    set(&mut cfg.channels, a.net.channels);
    set(&mut cfg.cells_per_stage, a.net.cells);
    set(&mut cfg.seed, a.seed);
    set(&mut cfg.grad_clip, a.grad_clip);
    set(&mut cfg.pool_size, a.pool_size);
    set(&mut cfg.layout, a.layout);
    set(&mut cfg.data_images, a.data_images);
    set(&mut cfg.data_batches, a.data_batches);
    if let Some(s) = &a.arch {
        cfg.fixed_arch = Some(s.parse::<Nb201Arch>().with_context(|| format!("--arch {s:?}"))?);
    }
    cfg.validate()?;
    let reference = a.spos_archs.as_deref().map(ReferenceRun::read).transpose()?;
    if let Some(r) = &reference {
        if cfg.rows.contains(&BenchRow::Spos) && r.spos_archs.is_none() {
            bail!(
                "{} has no spos row to replay; run the reference with --bench spos (or leave out --spos-archs)",
                r.path.display()
            );
        }
    }

    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {elapsed:>4} {msg}").expect("static template"),
    );
    bar.enable_steady_tick(Duration::from_millis(250));
    let report = run_nb201(&cfg, reference.as_ref(), &mut |ev| match ev {
        PerfEvent::Started(row) => {
            bar.set_message(format!(
                "[{row}] warmup={} steps={} ...",
                cfg.warmup,
                steps_of(&cfg, row)
            ));
        }
        PerfEvent::Finished(row, s) => bar.println(format!(
            "[{row}] median {:.1} ms/step, {:.1} img/s ({:.1} s)",
            s.median_ms, s.imgs_per_s, s.wall_s
        )),
    });
    bar.finish_and_clear();
    let report = report?;
    finish(&report, a.output.as_deref(), g, report.to_text())
}

/// Writes `report` to `output` when asked, then prints it as JSON or as `text`.
fn finish<T: serde::Serialize>(
    report: &T,
    output: Option<&std::path::Path>,
    g: &Global,
    text: String,
) -> Result<()> {
    if let Some(p) = output {
        sotl_report::write_json_atomic(p, report)
            .with_context(|| format!("cannot write {}", p.display()))?;
    }
    if g.json {
        return print_json(report);
    }
    print!("{text}");
    Ok(())
}

fn set<T>(slot: &mut T, v: Option<T>) {
    if let Some(v) = v {
        *slot = v;
    }
}

fn steps_of(cfg: &PerfConfig, row: BenchRow) -> usize {
    if row == BenchRow::Data {
        cfg.data_batches
    } else {
        cfg.steps
    }
}
