//! `sotl-nas bench nb201 ...`: NAS-Bench-201 ground-truth queries and query-based baselines.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use serde::de::DeserializeOwned;
use serde::Serialize;
use sotl_bench::{
    run_one, run_seed, summarize, Nb201Bench, Nb201Dataset, Nb201Entry, QueryBaseline,
    RandomSearchConfig, RegularizedEvolutionConfig, RunResult, RunsConfig, Summary,
};
use sotl_space::Nb201Arch;

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
}

#[derive(Debug, clap::Subcommand)]
enum Nb201Command {
    /// Print every accuracy both tables hold for one cell, by arch string or --index.
    Query(QueryArgs),
    /// Random search on the tables (selects on minibench validation accuracy).
    Rs(RsArgs),
    /// Regularized evolution on the tables (selects on minibench validation accuracy).
    Rea(ReaArgs),
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
    let BenchCommand::Nb201 { cmd } = args.bench;
    match cmd {
        Nb201Command::Query(a) => query(a, g),
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

fn load_bench(g: &Global) -> Result<Nb201Bench> {
    let root = g.require_data_root()?;
    Ok(Nb201Bench::load(&root)?)
}

#[derive(Serialize)]
struct QueryOut {
    index: usize,
    arch: Nb201Arch,
    entries: Vec<Nb201Entry>,
}

fn query(a: QueryArgs, g: &Global) -> Result<()> {
    let bench = load_bench(g)?;
    let arch = match (&a.arch, a.index) {
        (Some(s), _) => s.parse::<Nb201Arch>()?,
        (None, Some(i)) => bench.arch_at(i)?,
        (None, None) => bail!("give an arch string or --index N"),
    };
    let row = bench.row(&arch)?;
    let entries: Vec<Nb201Entry> =
        row.entries.into_iter().filter(|e| a.dataset.is_none_or(|d| d == e.dataset)).collect();
    let out = QueryOut { index: row.index, arch: row.arch, entries };
    if g.json {
        return print_json(&out);
    }
    println!("index {}", out.index);
    println!("arch  {}", out.arch);
    println!("{:<9} {:<15} {:<6} {:>9}", "table", "dataset", "metric", "accuracy");
    for e in &out.entries {
        println!(
            "{:<9} {:<15} {:<6} {:>9.4}",
            e.table.name(),
            e.dataset.name(),
            e.metric.name(),
            e.accuracy
        );
    }
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

/// `config.json` of a baseline run folder.
#[derive(Serialize, serde::Deserialize, PartialEq)]
#[serde(bound(deserialize = "C: DeserializeOwned + Default"))]
struct SavedConfig<C> {
    algorithm: String,
    config: RunsConfig<C>,
}

#[derive(Serialize)]
struct BaselineOut<'a> {
    algorithm: &'a str,
    dataset: Nb201Dataset,
    runs: usize,
    seed: u64,
    budget: usize,
    summary: Summary,
    out: String,
    reused_runs: usize,
    wall_seconds: f64,
}

fn baseline<C>(cfg: RunsConfig<C>, flags: &RunFlags, g: &Global) -> Result<()>
where
    C: QueryBaseline + Serialize + DeserializeOwned + PartialEq + Copy + Default,
{
    let t0 = Instant::now();
    cfg.validate()?;
    let algo = cfg.search.name();
    let out =
        flags.out.clone().unwrap_or_else(|| PathBuf::from(format!("runs/bench-nb201-{algo}")));
    let bench = load_bench(g)?;

    let saved = SavedConfig { algorithm: algo.to_string(), config: cfg };
    let config_path = out.join("config.json");
    if config_path.exists() {
        let text = std::fs::read_to_string(&config_path)
            .with_context(|| format!("cannot read {}", config_path.display()))?;
        let prev: Option<SavedConfig<C>> = serde_json::from_str(&text).ok();
        if prev.as_ref() != Some(&saved) {
            bail!(
                "{} holds a run with another configuration; pass another --out DIR or delete that folder",
                out.display()
            );
        }
    }
    sotl_report::write_json_atomic(&config_path, &saved)
        .with_context(|| format!("cannot write {}", config_path.display()))?;

    let bar = indicatif::ProgressBar::new(cfg.runs as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} runs")
            .expect("static template")
            .progress_chars("=> "),
    );
    bar.set_prefix(format!("{algo} {}", cfg.search.dataset().name()));
    let mut results = Vec::with_capacity(cfg.runs);
    let mut reused = 0;
    for r in 0..cfg.runs {
        let seed = run_seed(cfg.seed, r);
        let path = out.join(format!("run-{r:03}.json"));
        let res = match previous_run(&path, algo, seed) {
            Some(prev) => {
                reused += 1;
                prev
            }
            None => {
                let res = run_one(&bench, &cfg.search, r, seed)?;
                sotl_report::write_json_atomic(&path, &res)
                    .with_context(|| format!("cannot write {}", path.display()))?;
                res
            }
        };
        results.push(res);
        bar.inc(1);
    }
    bar.finish_and_clear();

    let summary = summarize(&results)?;
    let summary_path = out.join("summary.json");
    sotl_report::write_json_atomic(&summary_path, &summary)
        .with_context(|| format!("cannot write {}", summary_path.display()))?;
    let md_path = out.join("summary.md");
    sotl_report::write_atomic(&md_path, markdown(algo, &cfg, &summary).as_bytes())
        .with_context(|| format!("cannot write {}", md_path.display()))?;

    let o = BaselineOut {
        algorithm: algo,
        dataset: cfg.search.dataset(),
        runs: cfg.runs,
        seed: cfg.seed,
        budget: cfg.search.budget(),
        summary,
        out: out.display().to_string(),
        reused_runs: reused,
        wall_seconds: t0.elapsed().as_secs_f64(),
    };
    if g.json {
        return print_json(&o);
    }
    println!(
        "{algo} on {}: {} runs x {} queries, seed {}",
        o.dataset.name(),
        o.runs,
        o.budget,
        o.seed
    );
    println!(
        "200-epoch test accuracy of the picks: {:.2} +- {:.2} % (min {:.2}, max {:.2})",
        summary.mean_test_accuracy,
        summary.std_test_accuracy,
        summary.min_test_accuracy,
        summary.max_test_accuracy
    );
    println!(
        "mean selection value (minibench {}_valid): {:.2} %",
        o.dataset.column_prefix(),
        summary.mean_selection
    );
    println!(
        "wrote {} ({} run file(s), summary.json, summary.md) in {:.2} s",
        o.out, o.runs, o.wall_seconds
    );
    Ok(())
}

/// A finished run in the output folder, if it is the same algorithm and seed.
fn previous_run(path: &Path, algo: &str, seed: u64) -> Option<RunResult> {
    let text = std::fs::read_to_string(path).ok()?;
    let r: RunResult = serde_json::from_str(&text).ok()?;
    (r.algorithm == algo && r.seed == seed).then_some(r)
}

fn markdown<C: QueryBaseline + Serialize>(algo: &str, cfg: &RunsConfig<C>, s: &Summary) -> String {
    let search = serde_json::to_string(&cfg.search).unwrap_or_default();
    format!(
        "# NAS-Bench-201 {algo} on {dataset}\n\n\
         Selection: minibench `{prefix}_valid`; reported: 200-epoch `{prefix}_test` of the pick.\n\n\
         | runs | queries/run | seed | mean test acc (%) | std | min | max | mean selection (%) |\n\
         | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n\
         | {runs} | {budget} | {seed} | {mean:.2} | {std:.2} | {min:.2} | {max:.2} | {sel:.2} |\n\n\
         Search config: `{search}`\n",
        dataset = cfg.search.dataset().name(),
        prefix = cfg.search.dataset().column_prefix(),
        runs = s.runs,
        budget = cfg.search.budget(),
        seed = cfg.seed,
        mean = s.mean_test_accuracy,
        std = s.std_test_accuracy,
        min = s.min_test_accuracy,
        max = s.max_test_accuracy,
        sel = s.mean_selection,
    )
}
