//! The differentiable study: methods x seeds of DARTS-family searches on NAS-Bench-201 with
//! per-seed trajectories and plots, and the Table 4.6-layout summary.

use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use sotl_bench::{Nb201Bench, Nb201Dataset};
use sotl_diagnostics::{trajectory_csv, TrajectoryPoint};
use sotl_report::{plot_lines, summarize, LinePlot, Series, Table};
use sotl_search::{
    run_or_resume, search_batches, DartsMethod, DartsRunConfig, SearchOutcome, SearchSplits,
};

use crate::data::load_splits;
use crate::truth::{load_bench, nb201_test};
use crate::{read_json, Env, RunDir};

/// One finished seed, for the summary.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SeedSummary {
    /// The method.
    pub method: DartsMethod,
    /// The seed.
    pub seed: u64,
    /// The final genotype (NAS-Bench-201 arch string).
    pub genotype: String,
    /// Its NAS-Bench-201 CIFAR-10 test accuracy, when the tables are there.
    pub cifar10_test: Option<f64>,
    /// Skip connections in the genotype.
    pub skip_connections: usize,
    /// Cell depth of the genotype.
    pub depth: usize,
    /// `(epoch, dominant alpha-Hessian eigenvalue)` where measured.
    pub eigenvalues: Vec<(usize, f64)>,
}

/// What a darts study produced.
#[derive(Debug)]
pub struct DartsStudy {
    /// One row per method and seed, in run order.
    pub seeds: Vec<SeedSummary>,
    /// The Table 4.6-layout summary (also in table.md / table.csv).
    pub table: Table,
    /// Each search's outcome, in the order of `seeds`, its trajectory's ground truth filled in.
    pub outcomes: Vec<SearchOutcome>,
    /// `cifar10` or `synthetic`.
    pub data_source: &'static str,
    /// Training images searched on.
    pub train_images: usize,
    /// Their side in pixels.
    pub image_size: i64,
    /// The supernet searched, with classes, input channels and size taken from the data.
    pub net: sotl_nn::Nb201NetConfig,
}

impl DartsStudy {
    /// The summary table, then one line per seed: genotype, ground truth, skips and depth.
    pub fn to_text(&self) -> String {
        let mut out = format!("{}\n", self.table.to_markdown());
        for s in &self.seeds {
            out.push_str(&format!(
                "{} seed {}: {}  cifar10 {}  skips {}  depth {}\n",
                s.method,
                s.seed,
                s.genotype,
                s.cifar10_test.map(|a| format!("{a:.2}")).unwrap_or_else(|| "-".into()),
                s.skip_connections,
                s.depth
            ));
        }
        out
    }
}

/// Runs (or resumes) every method x seed of `cfg` in `out`: config.json; per seed
/// `<method>/seed<S>/` with search.ckpt, final.json, trajectory.{json,csv} and plots; then
/// table.md, table.csv and summary.json. Methods and seeds may be added to a finished folder;
/// every other setting must match.
pub fn run_darts(env: &Env, cfg: &DartsRunConfig, out: &Path) -> Result<DartsStudy> {
    cfg.validate()?;
    let data = load_splits(env, &cfg.data)?;
    run_darts_on(env, cfg, &data, out)
}

/// The checkpoint of one search of a darts run in `out` (after the run: its final state).
pub fn search_checkpoint(out: &Path, method: DartsMethod, seed: u64) -> std::path::PathBuf {
    out.join(seed_folder(method, seed)).join("search.ckpt")
}

/// The folder of one search inside a darts run.
fn seed_folder(method: DartsMethod, seed: u64) -> String {
    format!("{}/seed{seed}", method.name())
}

/// [`run_darts`] on splits already loaded from `cfg.data`.
pub fn run_darts_on(
    env: &Env,
    cfg: &DartsRunConfig,
    data: &crate::data::Splits,
    out: &Path,
) -> Result<DartsStudy> {
    cfg.validate()?;
    // Methods and seeds may grow between invocations; the rest must match to resume.
    let dir = RunDir::claim_compatible(out, cfg, |old: &DartsRunConfig, new| {
        old.search == new.search
            && old.net == new.net
            && old.data == new.data
            && old.seed_base == new.seed_base
    })?;
    let mut net = cfg.net;
    net.num_classes = data.train.classes as i64;
    let dims = data.train.images.size();
    net.in_channels = dims[1];
    net.image_size = dims[2];
    // Absent tables leave ground truth empty (with a note); corrupt ones are an error.
    let bench = load_bench(env)?;
    let mut summaries = Vec::new();
    let mut outcomes = Vec::new();
    for &method in &cfg.methods {
        for k in 0..cfg.seeds {
            let seed = cfg.seed_base + k as u64;
            let seed_dir = dir.child(&seed_folder(method, seed))?;
            let final_path = seed_dir.path("final.json");
            let outcome: SearchOutcome = if final_path.exists() {
                read_json(&final_path)?
            } else {
                search_one(env, cfg, &net, data, method, seed, &seed_dir)?
            };
            let mut traj = outcome.trajectory.clone();
            if let Some(b) = &bench {
                for p in &mut traj {
                    p.test_accuracy = nb201_test(b, &p.genotype, Nb201Dataset::Cifar10);
                }
            }
            write_seed_outputs(&seed_dir, &outcome, &traj)?;
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
            outcomes.push(SearchOutcome { trajectory: traj, ..outcome });
        }
    }
    let table = results_table(cfg, &summaries, bench.as_ref())?;
    table.write_markdown(&dir.path("table.md"))?;
    table.write_csv(&dir.path("table.csv"))?;
    dir.write_json("summary.json", &summaries)?;
    Ok(DartsStudy {
        seeds: summaries,
        table,
        outcomes,
        data_source: data.source,
        train_images: data.train.len(),
        image_size: dims[2],
        net,
    })
}

/// One search, resumed from its checkpoint when there is one.
fn search_one(
    env: &Env,
    cfg: &DartsRunConfig,
    net: &sotl_nn::Nb201NetConfig,
    data: &crate::data::Splits,
    method: DartsMethod,
    seed: u64,
    dir: &RunDir,
) -> Result<SearchOutcome> {
    let mut train = search_batches(&data.train, cfg.search.batch_size, seed)?;
    let mut val = search_batches(&data.val, cfg.search.batch_size, seed ^ 0x5eed)?;
    let val_opt: Option<&mut dyn sotl_train::BatchSource> =
        if method.uses_validation() { Some(&mut val) } else { None };
    let mut splits = SearchSplits { train: &mut train, val: val_opt };
    let bar = env.progress(0, &format!("{method} seed {seed}"));
    let epochs = cfg.search.epochs;
    let threshold = cfg.search.skip_collapse_threshold;
    let outcome = run_or_resume::<sotl_nn::Nb201Supernet>(
        method,
        &cfg.search,
        net,
        seed,
        env.device,
        &mut splits,
        Some(&dir.path("search.ckpt")),
        &mut |rep| {
            let p = &rep.point;
            tracing::info!(
                "{method} seed {seed} epoch {}/{epochs}: {} skips={} depth={} train_loss={:.4}{}",
                p.epoch,
                p.genotype,
                p.skip_connections,
                p.depth,
                p.train_loss,
                p.eigenvalue.map(|e| format!(" eig={e:.4}")).unwrap_or_default()
            );
            if let Some(w) = &rep.collapse {
                tracing::warn!(
                    "{method} seed {seed} epoch {}: {w} (threshold {threshold})",
                    p.epoch
                );
            }
        },
        &mut |s| {
            bar.set_length(s.total as u64);
            bar.set_position(s.done as u64);
            bar.set_message(format!("epoch {}", s.epoch + 1));
        },
    )?;
    bar.finish();
    Ok(outcome)
}

fn write_seed_outputs(
    dir: &RunDir,
    outcome: &SearchOutcome,
    traj: &[TrajectoryPoint],
) -> Result<()> {
    let mut full = outcome.clone();
    full.trajectory = traj.to_vec();
    dir.write_json("final.json", outcome)?;
    dir.write_json("trajectory.json", &full)?;
    dir.write_bytes("trajectory.csv", trajectory_csv(&sotl_space::Nb201Space, traj).as_bytes())?;
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
        plot_lines(&dir.path(file), &plot)?;
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
    plot_lines(&dir.path("op_weights.svg"), &alpha)?;
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
                    .filter_map(|s| s.genotype.parse().ok().and_then(|a| nb201_test(b, &a, d)))
                    .collect(),
                None => Vec::new(),
            };
            cells.push(summarize(&accs, 2));
        }
        let skips: Vec<f64> = rows.iter().map(|s| s.skip_connections as f64).collect();
        let depth: Vec<f64> = rows.iter().map(|s| s.depth as f64).collect();
        cells.push(summarize(&skips, 2));
        cells.push(summarize(&depth, 2));
        t.push_row(cells)?;
    }
    Ok(t)
}
