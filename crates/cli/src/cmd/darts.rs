//! `sotl-nas darts`: differentiable NAS on NAS-Bench-201 (DARTS, SoTL-DARTS, SoVL-DARTS, exact
//! SoTL hypergradients, DrNAS, SoTL-DrNAS), several seeds, a Table 4.6-style summary.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use sotl_bench::{Nb201Bench, Nb201Dataset, Nb201Metric, Nb201Query, Nb201Table, TabularBenchmark};
use sotl_diagnostics::{trajectory_csv, TrajectoryPoint};
use sotl_report::{mean_std, plot_lines, write_atomic, write_json_atomic, LinePlot, Series, Table};
use sotl_search::{
    prepare_data, run_or_resume, search_batches, DartsMethod, DartsRunConfig, DataSource,
    SearchOutcome, SearchSplits,
};

use crate::common::{load_config, print_json, Global};

/// Arguments of `darts`.
#[derive(Debug, clap::Args)]
pub struct DartsArgs {
    /// Methods, comma-separated: darts1, darts2, sotl, sovl, sotl-exact, drnas, sotl-drnas.
    #[arg(long, value_delimiter = ',', value_parser = parse_method)]
    pub method: Vec<DartsMethod>,
    /// Seeds per method.
    #[arg(long)]
    pub seeds: Option<usize>,
    /// First seed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// TOML config (`methods`, `seeds`, `[search]`, `[net]`, `[data]`); flags override it.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Run folder: config.json, per-seed checkpoints, trajectories, plots, table. Rerunning with
    /// the same folder resumes.
    #[arg(long, default_value = "darts-runs")]
    pub out: PathBuf,
    /// Search epochs.
    #[arg(long)]
    pub epochs: Option<usize>,
    /// T, the SoTL / SoVL window.
    #[arg(long)]
    pub unroll_steps: Option<usize>,
    /// Minibatch size.
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Measure the alpha-Hessian eigenvalue every this many epochs (0: never).
    #[arg(long)]
    pub eigen_every: Option<usize>,
    /// Training images kept from the train half (0: all 25 000).
    #[arg(long)]
    pub n_train: Option<usize>,
    /// Validation images kept from the valid half (0: all 25 000).
    #[arg(long)]
    pub n_val: Option<usize>,
    /// Image side after down-sizing (0: native 32).
    #[arg(long)]
    pub image_size: Option<i64>,
    /// Supernet channels C.
    #[arg(long)]
    pub channels: Option<i64>,
    /// Cells per stage N.
    #[arg(long)]
    pub cells: Option<usize>,
}

fn parse_method(s: &str) -> Result<DartsMethod, String> {
    s.parse().map_err(|e: sotl_search::DartsError| e.to_string())
}

/// One finished seed, for the summary.
#[derive(Debug, Serialize)]
struct SeedSummary {
    method: DartsMethod,
    seed: u64,
    genotype: String,
    cifar10_test: Option<f64>,
    skip_connections: usize,
    depth: usize,
    eigenvalues: Vec<(usize, f64)>,
}

/// Runs `darts`.
pub fn run(args: DartsArgs, g: &Global) -> Result<()> {
    g.apply_threads();
    let mut cfg: DartsRunConfig = load_config(args.config.as_deref())?;
    if !args.method.is_empty() {
        cfg.methods = args.method.clone();
    }
    override_with(&mut cfg.seeds, args.seeds);
    override_with(&mut cfg.seed_base, args.seed);
    override_with(&mut cfg.search.epochs, args.epochs);
    override_with(&mut cfg.search.unroll_steps, args.unroll_steps);
    override_with(&mut cfg.search.batch_size, args.batch_size);
    override_with(&mut cfg.search.eigen_every, args.eigen_every);
    override_with(&mut cfg.data.n_train, args.n_train);
    override_with(&mut cfg.data.n_val, args.n_val);
    override_with(&mut cfg.data.image_size, args.image_size);
    override_with(&mut cfg.net.channels, args.channels);
    override_with(&mut cfg.net.cells_per_stage, args.cells);
    cfg.validate()?;
    let device = g.device()?;
    let out = &args.out;
    check_or_write_config(out, &cfg)?;

    let (train_imgs, val_imgs) = load_images(g, &cfg, device)?;
    let mut net = cfg.net;
    net.num_classes = train_imgs.classes as i64;
    let dims = train_imgs.images.size();
    net.in_channels = dims[1];
    net.image_size = dims[2];
    // Absent tables leave ground truth empty (with a note); corrupt ones are an error.
    let bench = super::oneshot::load_bench(g)?;

    let mut summaries = Vec::new();
    for &method in &cfg.methods {
        for k in 0..cfg.seeds {
            let seed = cfg.seed_base + k as u64;
            let dir = out.join(method.name()).join(format!("seed{seed}"));
            let final_path = dir.join("final.json");
            let outcome: SearchOutcome = if final_path.exists() {
                let text = std::fs::read_to_string(&final_path)?;
                serde_json::from_str(&text).with_context(|| {
                    format!("corrupt {}; delete it to rerun", final_path.display())
                })?
            } else {
                std::fs::create_dir_all(&dir)
                    .with_context(|| format!("cannot create {}", dir.display()))?;
                let mut train = search_batches(&train_imgs, cfg.search.batch_size, seed)?;
                let mut val = search_batches(&val_imgs, cfg.search.batch_size, seed ^ 0x5eed)?;
                let val_opt: Option<&mut dyn sotl_train::BatchSource> =
                    if method.uses_validation() { Some(&mut val) } else { None };
                let mut splits = SearchSplits { train: &mut train, val: val_opt };
                let bar = ProgressBar::new(0);
                bar.set_style(
                    ProgressStyle::with_template(
                        "{prefix} epoch {msg} [{bar:30}] {pos}/{len} {elapsed}",
                    )
                    .unwrap(),
                );
                bar.set_prefix(format!("{method} seed {seed}"));
                let epochs = cfg.search.epochs;
                let threshold = cfg.search.skip_collapse_threshold;
                let outcome = run_or_resume(
                    method,
                    &cfg.search,
                    &net,
                    seed,
                    device,
                    &mut splits,
                    Some(&dir.join("search.ckpt")),
                    &mut |rep| {
                        let p = &rep.point;
                        // A hidden bar (stderr not a terminal) drops println: log plainly then.
                        let log = |line: String| {
                            if bar.is_hidden() {
                                eprintln!("{line}")
                            } else {
                                bar.println(line)
                            }
                        };
                        log(format!(
                            "{method} seed {seed} epoch {}/{epochs}: {} skips={} depth={} train_loss={:.4}{}",
                            p.epoch,
                            p.genotype,
                            p.skip_connections,
                            p.depth,
                            p.train_loss,
                            p.eigenvalue.map(|e| format!(" eig={e:.4}")).unwrap_or_default()
                        ));
                        if let Some(w) = &rep.collapse {
                            log(format!("WARNING: {method} seed {seed} epoch {}: {w} (threshold {threshold})", p.epoch));
                        }
                    },
                    &mut |s| {
                        bar.set_length(s.total as u64);
                        bar.set_position(s.done as u64);
                        bar.set_message(format!("{}", s.epoch + 1));
                    },
                )?;
                bar.finish_and_clear();
                outcome
            };
            let mut traj = outcome.trajectory.clone();
            if let Some(b) = &bench {
                for p in &mut traj {
                    p.test_accuracy = truth(b, &p.genotype, Nb201Dataset::Cifar10);
                }
            }
            write_seed_outputs(&dir, &outcome, &traj)?;
            let last = traj.last().context("a finished search has at least one epoch")?;
            summaries.push(SeedSummary {
                method,
                seed,
                genotype: outcome.genotype.to_string(),
                cifar10_test: last.test_accuracy,
                skip_connections: last.skip_connections,
                depth: last.depth,
                eigenvalues: traj
                    .iter()
                    .filter_map(|p| p.eigenvalue.map(|e| (p.epoch, e)))
                    .collect(),
            });
        }
    }
    let table = results_table(&cfg, &summaries, bench.as_ref())?;
    table.write_markdown(&out.join("table.md"))?;
    table.write_csv(&out.join("table.csv"))?;
    write_json_atomic(&out.join("summary.json"), &summaries)?;
    if g.json {
        return print_json(&summaries);
    }
    println!("{}", table.to_markdown());
    for s in &summaries {
        println!(
            "{} seed {}: {}  cifar10 {}  skips {}  depth {}",
            s.method,
            s.seed,
            s.genotype,
            s.cifar10_test.map(|a| format!("{a:.2}")).unwrap_or_else(|| "-".into()),
            s.skip_connections,
            s.depth
        );
    }
    println!("results in {}", out.display());
    Ok(())
}

fn override_with<T>(slot: &mut T, v: Option<T>) {
    if let Some(v) = v {
        *slot = v;
    }
}

/// Writes `config.json`, or checks that the folder's run used the same config (resume).
fn check_or_write_config(out: &Path, cfg: &DartsRunConfig) -> Result<()> {
    let path = out.join("config.json");
    if path.exists() {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let old: DartsRunConfig = serde_json::from_str(&text).with_context(|| {
            format!("{} is not a darts config; use another --out", path.display())
        })?;
        // Methods and seeds may grow between invocations; the rest must match to resume.
        if old.search != cfg.search
            || old.net != cfg.net
            || old.data != cfg.data
            || old.seed_base != cfg.seed_base
        {
            bail!(
                "{} holds a run with a different configuration; use another --out, or the same config and flags to resume",
                out.display()
            );
        }
    }
    write_json_atomic(&path, cfg).with_context(|| format!("cannot write {}", path.display()))
}

fn load_images(
    g: &Global,
    cfg: &DartsRunConfig,
    device: tch::Device,
) -> Result<(sotl_search::DeviceImages, sotl_search::DeviceImages)> {
    let cifar = || crate::common::load_cifar10_train(g);
    let synth = || {
        crate::common::synthetic_train(
            cfg.data.synthetic_images,
            cfg.data.image_size,
            cfg.data.split_seed,
        )
    };
    let has_cifar = g.data_root().is_some_and(|r| {
        r.join("datasets/cifar10-jpeg").is_dir() || r.join("datasets/cifar-10-batches-bin").is_dir()
    });
    let full = match cfg.data.source {
        DataSource::Cifar10 => cifar()?,
        DataSource::Synthetic => synth()?,
        DataSource::Auto if has_cifar => cifar()?,
        DataSource::Auto => {
            eprintln!("WARNING: no CIFAR-10 under the data root: searching on the EMBEDDED SYNTHETIC dataset;");
            eprintln!(
                "         its genotypes say nothing about NAS-Bench-201. Pass --data-root DIR."
            );
            synth()?
        }
    };
    let (train, val) = prepare_data(&full, &cfg.data, device)?;
    eprintln!(
        "data: {} train / {} valid images of {:?}",
        train.len(),
        val.len(),
        &train.images.size()[1..]
    );
    Ok((train, val))
}

fn truth(bench: &Nb201Bench, arch: &sotl_space::Nb201Arch, dataset: Nb201Dataset) -> Option<f64> {
    bench
        .query(arch, Nb201Query { table: Nb201Table::Full200, dataset, metric: Nb201Metric::Test })
        .ok()
}

fn write_seed_outputs(dir: &Path, outcome: &SearchOutcome, traj: &[TrajectoryPoint]) -> Result<()> {
    let mut full = outcome.clone();
    full.trajectory = traj.to_vec();
    write_json_atomic(&dir.join("final.json"), outcome)?;
    write_json_atomic(&dir.join("trajectory.json"), &full)?;
    write_atomic(&dir.join("trajectory.csv"), trajectory_csv(traj).as_bytes())?;
    let series = |name: &str, f: &dyn Fn(&TrajectoryPoint) -> Option<f64>| Series {
        name: name.to_string(),
        points: traj.iter().filter_map(|p| f(p).map(|y| (p.epoch as f64, y))).collect(),
    };
    let plots = [
        (
            "accuracy.svg",
            "NAS-Bench-201 CIFAR-10 test accuracy of the genotype",
            "test accuracy (%)",
            series("test accuracy", &|p| p.test_accuracy),
        ),
        (
            "skips.svg",
            "Skip connections and cell depth of the genotype",
            "count",
            series("skip connections", &|p| Some(p.skip_connections as f64)),
        ),
        (
            "eigenvalue.svg",
            "Dominant eigenvalue of the alpha Hessian",
            "eigenvalue",
            series("dominant eigenvalue", &|p| p.eigenvalue),
        ),
    ];
    for (file, title, y, s) in plots {
        if s.points.is_empty() {
            continue;
        }
        let mut plot = LinePlot {
            title: format!("{title} ({} seed {})", outcome.method, outcome.seed),
            x_label: "epoch".into(),
            y_label: y.into(),
            series: vec![s],
        };
        if file == "skips.svg" {
            plot.series.push(series("depth", &|p| Some(p.depth as f64)));
            plot.series.push(series("nones", &|p| Some(p.nones as f64)));
        }
        plot_lines(&dir.join(file), &plot)?;
    }
    let mut alpha = LinePlot {
        title: format!("Op weights per edge ({} seed {})", outcome.method, outcome.seed),
        x_label: "epoch".into(),
        y_label: "mixing weight".into(),
        series: Vec::new(),
    };
    for e in 0..6 {
        for (k, op) in sotl_space::Nb201Op::ALL.iter().enumerate() {
            alpha.series.push(Series {
                name: format!("e{e} {op}"),
                points: traj.iter().map(|p| (p.epoch as f64, p.op_weights[e][k])).collect(),
            });
        }
    }
    plot_lines(&dir.join("op_weights.svg"), &alpha)?;
    Ok(())
}

/// Table 4.6 layout: one row per method, one column per NAS-Bench-201 dataset, each cell the
/// ground-truth test accuracy of the final genotypes (searched on CIFAR-10) as mean (std).
fn results_table(
    cfg: &DartsRunConfig,
    sums: &[SeedSummary],
    bench: Option<&Nb201Bench>,
) -> Result<Table> {
    let datasets = [Nb201Dataset::Cifar10, Nb201Dataset::Cifar100, Nb201Dataset::ImageNet16_120];
    let mut t = Table::new(
        format!("NAS-Bench-201 test accuracy (%) of the final genotype, mean (std) over {} seed(s), searched on CIFAR-10", cfg.seeds),
        ["Method", "CIFAR10", "CIFAR100", "ImageNet16-120", "skips", "depth"],
    );
    for &m in &cfg.methods {
        let rows: Vec<&SeedSummary> = sums.iter().filter(|s| s.method == m).collect();
        let mut cells = vec![m.label().to_string()];
        for d in datasets {
            let accs: Vec<f64> = match bench {
                Some(b) => rows
                    .iter()
                    .filter_map(|s| s.genotype.parse().ok().and_then(|a| truth(b, &a, d)))
                    .collect(),
                None => Vec::new(),
            };
            cells.push(if accs.is_empty() {
                "-".into()
            } else {
                let (mu, sd) = mean_std(&accs);
                format!("{mu:.2} ({sd:.2})")
            });
        }
        let skips: Vec<f64> = rows.iter().map(|s| s.skip_connections as f64).collect();
        let depth: Vec<f64> = rows.iter().map(|s| s.depth as f64).collect();
        let (ms, ss) = mean_std(&skips);
        let (md, sdd) = mean_std(&depth);
        cells.push(format!("{ms:.2} ({ss:.2})"));
        cells.push(format!("{md:.2} ({sdd:.2})"));
        t.push_row(cells)?;
    }
    Ok(t)
}
