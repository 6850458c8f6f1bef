//! The differentiable study: methods x seeds of DARTS-family searches on NAS-Bench-201 (with
//! ground truth, the Table 4.6-layout summary), the DARTS space or a NAS-Bench-1shot1 space,
//! with per-seed trajectories and plots.

use std::path::Path;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use sotl_bench::{Nb201Bench, Nb201Dataset};
use sotl_diagnostics::{trajectory_csv, TrajectoryPoint};
use sotl_nn::{DartsSupernet, GenotypeOf, Nb201Supernet, OneShot1Supernet, Supernet};
use sotl_report::{plot_lines, plot_panels, summarize, LinePlot, PanelPlot, Series, Table};
use sotl_search::{
    run_or_resume, run_pdarts, search_batches, DartsMethod, DartsRunConfig, EpochReport,
    FreshBatches, SearchOutcome, SearchSplits, SpaceChoice, StepProgress, ValSampling,
};
use sotl_space::{
    CellShape, DartsGenotype, DartsOpSet, DartsSpace, Genotype, Nb201Space, OneShot1Cell,
    OneShot1Space, SearchSpace,
};

use crate::data::load_splits;
use crate::shard::{array_spec, claim_grid, GridMode};
use crate::truth::{load_bench, load_nb101, nb101_test, nb201_test};
use crate::{read_json, Env, RunDir};

/// One finished seed, for the summary.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SeedSummary {
    /// The method.
    pub method: DartsMethod,
    /// The seed.
    pub seed: u64,
    /// The final genotype (NAS-Bench-201 arch string or DARTS genotype).
    pub genotype: String,
    /// Its NAS-Bench-201 CIFAR-10 test accuracy, when the tables are there.
    pub cifar10_test: Option<f64>,
    /// Skip connections in the genotype (the DARTS space: in its normal cell).
    pub skip_connections: usize,
    /// Cell depth of the genotype.
    pub depth: usize,
    /// `(epoch, dominant alpha-Hessian eigenvalue)` where measured.
    pub eigenvalues: Vec<(usize, f64)>,
    /// Skip connections of the argmax genotype after each epoch.
    #[serde(default)]
    pub skips_per_epoch: Vec<usize>,
    /// Mean wall-clock seconds per search epoch.
    #[serde(default)]
    pub seconds_per_epoch: f64,
}

/// What a darts study produced.
#[derive(Debug)]
pub struct DartsStudy {
    /// One row per method and seed, in run order.
    pub seeds: Vec<SeedSummary>,
    /// The Table 4.6-layout summary (also in table.md / table.csv).
    pub table: Table,
    /// The space searched.
    pub space: SpaceChoice,
    /// Each NAS-Bench-201 search's outcome, in the order of `seeds`, its trajectory's ground
    /// truth filled in (empty for the DARTS space, whose outcomes are in the run folder).
    pub outcomes: Vec<SearchOutcome>,
    /// `cifar10` or `synthetic`.
    pub data_source: &'static str,
    /// Training images searched on.
    pub train_images: usize,
    /// Their side in pixels.
    pub image_size: i64,
    /// The NAS-Bench-201 supernet, with classes, input channels and size taken from the data.
    pub net: sotl_nn::Nb201NetConfig,
}

impl DartsStudy {
    /// The summary table, then one line per seed: genotype, ground truth, skips and depth.
    pub fn to_text(&self) -> String {
        let mut out = format!("{}\n", self.table.to_markdown());
        for s in &self.seeds {
            out.push_str(&format!(
                "{} seed {}: {}  cifar10 {}  skips {} (per epoch {:?})  depth {}  {:.1} s/epoch\n",
                s.method,
                s.seed,
                s.genotype,
                s.cifar10_test.map(|a| format!("{a:.2}")).unwrap_or_else(|| "-".into()),
                s.skip_connections,
                s.skips_per_epoch,
                s.depth,
                s.seconds_per_epoch
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

/// [`run_darts`] as one task of a job array (`GridMode::Shard`: only the method x seed cells
/// whose grid index, method-major, is the shard's; no tables, `None`) or as the merge of such
/// tasks (`GridMode::Merge`: searches nothing, refuses naming the cells without a result, then
/// the tables).
pub fn run_darts_grid(
    env: &Env,
    cfg: &DartsRunConfig,
    out: &Path,
    mode: GridMode,
) -> Result<Option<DartsStudy>> {
    cfg.validate()?;
    let data = load_splits(env, &cfg.data)?;
    run_darts_mode(env, cfg, &data, out, mode)
}

/// The grid cells of a darts study without a result, by grid index (method-major).
pub fn darts_missing_cells(cfg: &DartsRunConfig, out: &Path) -> Vec<usize> {
    grid_cells(cfg)
        .enumerate()
        .filter(|(_, (m, s))| !out.join(seed_folder(*m, *s)).join("final.json").exists())
        .map(|(g, _)| g)
        .collect()
}

/// The method x seed grid of a darts study (`grid.json` in its folder), for sharding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DartsGrid {
    /// Methods, in grid order.
    pub methods: Vec<DartsMethod>,
    /// Seeds per method.
    pub seeds: usize,
    /// The first seed.
    pub seed_base: u64,
}

/// The method x seed cells, method-major.
fn grid_cells(cfg: &DartsRunConfig) -> impl Iterator<Item = (DartsMethod, u64)> + '_ {
    cfg.methods
        .iter()
        .flat_map(move |&m| (0..cfg.seeds as u64).map(move |k| (m, cfg.seed_base + k)))
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
    Ok(run_darts_mode(env, cfg, data, out, GridMode::All)?.expect("a whole run makes its tables"))
}

fn run_darts_mode(
    env: &Env,
    cfg: &DartsRunConfig,
    data: &crate::data::Splits,
    out: &Path,
    mode: GridMode,
) -> Result<Option<DartsStudy>> {
    cfg.validate()?;
    // Methods and seeds may grow between invocations; the rest must match to resume.
    let dir = RunDir::claim_compatible(out, cfg, |old: &DartsRunConfig, new| {
        old.search == new.search
            && old.space == new.space
            && old.darts_net == new.darts_net
            && old.nb1shot1_net == new.nb1shot1_net
            && old.net == new.net
            && old.data == new.data
            && old.pdarts == new.pdarts
            && old.seed_base == new.seed_base
    })?;
    match cfg.space {
        SpaceChoice::Darts(ops) => return run_darts_space(env, cfg, data, &dir, ops, mode),
        SpaceChoice::OneShot1(space) => {
            return run_oneshot1_space(env, cfg, data, &dir, space, mode)
        }
        SpaceChoice::Nb201 => {}
    }
    let mut net = cfg.net;
    net.num_classes = data.train.classes as i64;
    let dims = data.train.images.size();
    net.in_channels = dims[1];
    net.image_size = dims[2];
    // Absent tables leave ground truth empty (with a note); corrupt ones are an error.
    let bench = load_bench(env)?;
    let truth = |p: &mut TrajectoryPoint| {
        if let Some(b) = &bench {
            p.test_accuracy = nb201_test(b, &p.genotype, Nb201Dataset::Cifar10);
        }
    };
    let Some((summaries, outcomes)) = run_seeds::<Nb201Supernet>(
        env,
        cfg,
        data,
        &dir,
        &net,
        &Nb201Space,
        &truth,
        &nb201_op_plot,
        mode,
    )?
    else {
        return Ok(None);
    };
    let table = results_table(cfg, &summaries, bench.as_ref())?;
    write_tables(&dir, &table, &summaries)?;
    Ok(Some(DartsStudy {
        seeds: summaries,
        table,
        space: cfg.space,
        outcomes,
        data_source: data.source,
        train_images: data.train.len(),
        image_size: dims[2],
        net,
    }))
}

/// Every method x seed of `cfg` over the supernet `S`, each in its folder under `dir`: a
/// finished seed is read back, the others searched (resuming from their checkpoints); `truth`
/// fills ground truth into each trajectory point (reports only), `op_plot` draws the op weights.
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
fn run_seeds<S: SeedSearch>(
    env: &Env,
    cfg: &DartsRunConfig,
    data: &crate::data::Splits,
    dir: &RunDir,
    net: &S::Config,
    space: &S::Space,
    truth: &dyn Fn(&mut TrajectoryPoint<GenotypeOf<S>>),
    op_plot: &dyn Fn(&SearchOutcome<GenotypeOf<S>>, &[TrajectoryPoint<GenotypeOf<S>>]) -> PanelPlot,
    mode: GridMode,
) -> Result<Option<(Vec<SeedSummary>, Vec<SearchOutcome<GenotypeOf<S>>>)>>
where
    GenotypeOf<S>: CellShape + crate::diagram::Diagrams,
{
    let grid =
        DartsGrid { methods: cfg.methods.clone(), seeds: cfg.seeds, seed_base: cfg.seed_base };
    claim_grid(&dir.path("grid.json"), &grid, mode, "methods and seeds")?;
    if mode == GridMode::Merge {
        let missing = darts_missing_cells(cfg, dir.root());
        if !missing.is_empty() {
            bail!(
                "grid cell(s) {} (method-major over {} x {} seeds) have no result; run them (`sotl-nas shards missing --study {}` lists the shards)",
                array_spec(&missing),
                cfg.methods.iter().map(|m| m.name()).collect::<Vec<_>>().join(","),
                cfg.seeds,
                dir.root().display()
            );
        }
    }
    let mut summaries = Vec::new();
    let mut outcomes = Vec::new();
    for (g, (method, seed)) in grid_cells(cfg).enumerate() {
        if let GridMode::Shard(s) = mode {
            // A task touches only its own cells.
            if !s.holds(g) {
                continue;
            }
        }
        {
            let seed_dir = dir.child(&seed_folder(method, seed))?;
            let final_path = seed_dir.path("final.json");
            let outcome: SearchOutcome<GenotypeOf<S>> = if final_path.exists() {
                read_json(&final_path)?
            } else {
                S::search_seed(env, cfg, net, data, method, seed, &seed_dir)?
            };
            let mut traj = outcome.trajectory.clone();
            traj.iter_mut().for_each(truth);
            let csv = trajectory_csv(space, &traj);
            write_seed_outputs(&seed_dir, &outcome, &traj, &csv, op_plot(&outcome, &traj))?;
            summaries.push(seed_summary(&outcome, &traj)?);
            outcomes.push(SearchOutcome { trajectory: traj, ..outcome });
        }
    }
    if matches!(mode, GridMode::Shard(_)) {
        // A shard's task leaves the tables to the merge.
        return Ok(None);
    }
    Ok(Some((summaries, outcomes)))
}

/// table.md, table.csv and summary.json of a study.
fn write_tables(dir: &RunDir, table: &Table, summaries: &[SeedSummary]) -> Result<()> {
    table.write_markdown(&dir.path("table.md"))?;
    table.write_csv(&dir.path("table.csv"))?;
    dir.write_json("summary.json", summaries)
}

/// How one seed of a method searches over the supernet `Self`.
trait SeedSearch: Supernet + Sized
where
    GenotypeOf<Self>: CellShape,
{
    /// Runs (or resumes) the search of `method` with `seed` in `dir`: one search, resumed from
    /// `dir/search.ckpt`, unless the space runs a method its own way.
    fn search_seed(
        env: &Env,
        cfg: &DartsRunConfig,
        net: &Self::Config,
        data: &crate::data::Splits,
        method: DartsMethod,
        seed: u64,
        dir: &RunDir,
    ) -> Result<SearchOutcome<GenotypeOf<Self>>> {
        search_one(env, cfg, data, method, seed, |splits, on_epoch, progress| {
            one_search::<Self>(env, cfg, net, method, seed, dir, splits, on_epoch, progress)
        })
    }
}

impl SeedSearch for Nb201Supernet {}

impl SeedSearch for OneShot1Supernet {}

impl SeedSearch for DartsSupernet {
    /// PDARTS' methods run their progressive stages (`stage<i>.ckpt`), the others one search.
    fn search_seed(
        env: &Env,
        cfg: &DartsRunConfig,
        net: &sotl_nn::DartsNetConfig,
        data: &crate::data::Splits,
        method: DartsMethod,
        seed: u64,
        dir: &RunDir,
    ) -> Result<SearchOutcome<DartsGenotype>> {
        search_one(env, cfg, data, method, seed, |splits, on_epoch, progress| {
            if method.is_progressive() {
                let mut on_epoch = |stage, rep: &_| on_epoch(Some(stage), rep);
                return run_pdarts(
                    method,
                    &cfg.search,
                    &cfg.pdarts,
                    net,
                    seed,
                    env.device,
                    splits,
                    Some(dir.root()),
                    &mut on_epoch,
                    progress,
                );
            }
            one_search::<Self>(env, cfg, net, method, seed, dir, splits, on_epoch, progress)
        })
    }
}

/// One (non-progressive) search of `method` with `seed`, resumed from `dir/search.ckpt`.
#[allow(clippy::too_many_arguments)]
fn one_search<S: Supernet>(
    env: &Env,
    cfg: &DartsRunConfig,
    net: &S::Config,
    method: DartsMethod,
    seed: u64,
    dir: &RunDir,
    splits: &mut SearchSplits<'_>,
    on_epoch: &mut OnEpoch<'_, GenotypeOf<S>>,
    progress: &mut dyn FnMut(StepProgress),
) -> sotl_search::DartsResult<SearchOutcome<GenotypeOf<S>>>
where
    GenotypeOf<S>: CellShape,
{
    let mut on_epoch = |rep: &_| on_epoch(None, rep);
    run_or_resume::<S>(
        method,
        &cfg.search,
        net,
        seed,
        env.device,
        splits,
        Some(&dir.path("search.ckpt")),
        &mut on_epoch,
        progress,
    )
}

/// The per-epoch callback of a search: `(stage of a progressive search, report)`.
type OnEpoch<'a, G> = dyn FnMut(Option<usize>, &EpochReport<G>) + 'a;

/// One search with its batches, logging and progress bar; `run` searches (resuming from its
/// checkpoints) given the splits and the callbacks.
fn search_one<G: Genotype + CellShape>(
    env: &Env,
    cfg: &DartsRunConfig,
    data: &crate::data::Splits,
    method: DartsMethod,
    seed: u64,
    run: impl FnOnce(
        &mut SearchSplits<'_>,
        &mut OnEpoch<'_, G>,
        &mut dyn FnMut(StepProgress),
    ) -> sotl_search::DartsResult<SearchOutcome<G>>,
) -> Result<SearchOutcome<G>> {
    let augment = cfg.search.augment;
    let mut train = search_batches(&data.train, cfg.search.batch_size, seed, augment)?;
    let val = search_batches(&data.val, cfg.search.batch_size, seed ^ 0x5eed, augment)?;
    let mut val: Box<dyn sotl_train::BatchSource> = match cfg.search.val_sampling {
        ValSampling::Sequential => Box::new(val),
        ValSampling::Random => {
            Box::new(FreshBatches::new(val, sotl_train::BatchSource::batches_per_epoch(&train)))
        }
    };
    let val_opt: Option<&mut dyn sotl_train::BatchSource> =
        if method.uses_validation() { Some(val.as_mut()) } else { None };
    let mut splits = SearchSplits { train: &mut train, val: val_opt };
    let bar = env.progress(0, &format!("{method} seed {seed}"));
    let epochs = cfg.search.epochs;
    let threshold = cfg.search.skip_collapse_threshold;
    let mut on_epoch = |stage: Option<usize>, rep: &EpochReport<G>| {
        let p = &rep.point;
        let stage = stage.map(|s| format!(" stage {}", s + 1)).unwrap_or_default();
        tracing::info!(
            "{method} seed {seed}{stage} epoch {}/{epochs}: {} skips={} depth={} train_loss={:.4}{}",
            p.epoch,
            p.genotype,
            p.skip_connections,
            p.depth,
            p.train_loss,
            p.eigenvalue.map(|e| format!(" eig={e:.4}")).unwrap_or_default()
        );
        if let Some(w) = &rep.collapse {
            tracing::warn!(
                "{method} seed {seed}{stage} epoch {}: {w} (threshold {threshold})",
                p.epoch
            );
        }
    };
    let mut progress = |s: StepProgress| {
        bar.set_length(s.total as u64);
        bar.set_position(s.done as u64);
        bar.set_message(format!("epoch {}", s.epoch + 1));
    };
    let outcome = run(&mut splits, &mut on_epoch, &mut progress)?;
    bar.finish();
    Ok(outcome)
}

/// One seed's row of the summary.
fn seed_summary<G: Genotype>(
    outcome: &SearchOutcome<G>,
    traj: &[TrajectoryPoint<G>],
) -> Result<SeedSummary> {
    let last = traj.last().context("a finished search has at least one epoch")?;
    Ok(SeedSummary {
        method: outcome.method,
        seed: outcome.seed,
        genotype: outcome.genotype.to_string(),
        cifar10_test: last.test_accuracy,
        skip_connections: last.skip_connections,
        depth: last.depth,
        eigenvalues: traj.iter().filter_map(|p| p.eigenvalue.map(|e| (p.epoch, e))).collect(),
        skips_per_epoch: traj.iter().map(|p| p.skip_connections).collect(),
        seconds_per_epoch: traj.iter().map(|p| p.seconds).sum::<f64>() / traj.len() as f64,
    })
}

/// The DARTS-space branch of [`run_darts_on`]: the same searches over [`DartsSupernet`], with
/// no benchmark to look up (the table reports skips, depth and time per epoch).
fn run_darts_space(
    env: &Env,
    cfg: &DartsRunConfig,
    data: &crate::data::Splits,
    dir: &RunDir,
    ops: DartsOpSet,
    mode: GridMode,
) -> Result<Option<DartsStudy>> {
    let dims = data.train.images.size();
    let net = cfg.darts_net.config(ops, data.train.classes as i64, dims[1], dims[2]);
    net.validate()?;
    let space = DartsSpace::new(ops);
    let op_plot = |o: &SearchOutcome<DartsGenotype>, _: &[TrajectoryPoint<DartsGenotype>]| {
        darts_op_plot(&space, o)
    };
    let Some((summaries, _)) =
        run_seeds::<DartsSupernet>(env, cfg, data, dir, &net, &space, &|_| {}, &op_plot, mode)?
    else {
        return Ok(None);
    };
    let title = format!(
        "{} space ({}), final genotype over {} seed(s), mean (std); skips and depth of the normal cell",
        cfg.space,
        space.op_names().join(", "),
        cfg.seeds
    );
    space_study(cfg, data, dir, summaries, title, false).map(Some)
}

/// The NAS-Bench-1shot1 branch of [`run_darts_on`]: the searches over [`OneShot1Supernet`],
/// each trajectory point's cell looked up in the NAS-Bench-101 table when it is under the data
/// root (reports only); the table gives the final cells' test accuracy, depth and time.
fn run_oneshot1_space(
    env: &Env,
    cfg: &DartsRunConfig,
    data: &crate::data::Splits,
    dir: &RunDir,
    space: OneShot1Space,
    mode: GridMode,
) -> Result<Option<DartsStudy>> {
    let dims = data.train.images.size();
    let net = cfg.nb1shot1_net.config(space, data.train.classes as i64, dims[1], dims[2]);
    net.validate()?;
    let table = load_nb101(env)?;
    let truth = |p: &mut TrajectoryPoint<OneShot1Cell>| {
        if let Some(t) = &table {
            p.test_accuracy = nb101_test(t, &p.genotype);
        }
    };
    let op_plot = |o: &SearchOutcome<OneShot1Cell>, t: &[TrajectoryPoint<OneShot1Cell>]| {
        let n = space.intermediate_nodes();
        let caption = |r: usize| {
            if r < n {
                format!("op of node {}", r + 1)
            } else if r + 1 == 2 * n {
                "parents of the output".to_string()
            } else {
                format!("parents of node {}", r - n + 2)
            }
        };
        op_panels(space.op_names(), o, t, caption, 4)
    };
    let Some((summaries, _)) =
        run_seeds::<OneShot1Supernet>(env, cfg, data, dir, &net, &space, &truth, &op_plot, mode)?
    else {
        return Ok(None);
    };
    let title = format!(
        "{space}, final cell over {} seed(s), mean (std): NAS-Bench-101 CIFAR-10 test accuracy (108 epochs){}, cell depth, time per epoch",
        cfg.seeds,
        if table.is_some() { "" } else { " (no table under the data root)" }
    );
    space_study(cfg, data, dir, summaries, title, true).map(Some)
}

/// The summary of a study on a space other than NAS-Bench-201: one row per method with the
/// final cells' ground truth (`with_truth`) or skips, their depth and the time per epoch.
fn space_study(
    cfg: &DartsRunConfig,
    data: &crate::data::Splits,
    dir: &RunDir,
    summaries: Vec<SeedSummary>,
    title: String,
    with_truth: bool,
) -> Result<DartsStudy> {
    let first = if with_truth { "test acc" } else { "skips" };
    let mut table = Table::new(title, ["Method", first, "depth", "s/epoch"]);
    for &m in &cfg.methods {
        let rows: Vec<&SeedSummary> = summaries.iter().filter(|s| s.method == m).collect();
        let col = |f: &dyn Fn(&SeedSummary) -> f64, digits| {
            summarize(&rows.iter().map(|s| f(s)).collect::<Vec<_>>(), digits)
        };
        let first = if with_truth {
            let acc: Vec<f64> = rows.iter().filter_map(|s| s.cifar10_test).collect();
            if acc.len() == rows.len() {
                summarize(&acc, 2)
            } else {
                "-".to_string()
            }
        } else {
            col(&|s| s.skip_connections as f64, 2)
        };
        table.push_row(vec![
            m.label().to_string(),
            first,
            col(&|s| s.depth as f64, 2),
            col(&|s| s.seconds_per_epoch, 1),
        ])?;
    }
    write_tables(dir, &table, &summaries)?;
    let dims = data.train.images.size();
    Ok(DartsStudy {
        seeds: summaries,
        table,
        space: cfg.space,
        outcomes: Vec::new(),
        data_source: data.source,
        train_images: data.train.len(),
        image_size: dims[2],
        net: cfg.net,
    })
}

/// Op weights over the epochs: one small panel per relaxed edge with a line per op (one legend
/// for all), edges captioned by `caption`.
fn op_panels<G: Genotype>(
    op_names: &[&str],
    outcome: &SearchOutcome<G>,
    traj: &[TrajectoryPoint<G>],
    caption: impl Fn(usize) -> String,
    columns: usize,
) -> PanelPlot {
    let edges = traj.first().map_or(0, |p| p.op_weights.len());
    PanelPlot {
        title: format!("Op weights per edge ({} seed {})", outcome.method, outcome.seed),
        x_label: "epoch".into(),
        y_label: "weight".into(),
        panels: (0..edges)
            .map(|e| {
                let series = op_names
                    .iter()
                    .enumerate()
                    .map(|(k, op)| Series {
                        name: op.to_string(),
                        points: traj.iter().map(|p| (p.epoch as f64, p.op_weights[e][k])).collect(),
                    })
                    .collect();
                (caption(e), series)
            })
            .collect(),
        columns,
    }
}

/// NAS-Bench-201's six edges, `to <- from` in arch-string order.
fn nb201_op_plot(outcome: &SearchOutcome, traj: &[TrajectoryPoint]) -> PanelPlot {
    let names = Nb201Space.op_names();
    let caption = |e: usize| {
        let (to, from) = sotl_space::nb201::NB201_EDGE_ENDPOINTS[e];
        format!("edge {to} <- {from}")
    };
    op_panels(names, outcome, traj, caption, 3)
}

/// The DARTS space's 28 edges: the normal cell's 14, then the reduction cell's, captioned by
/// the states they join (0, 1: the cell's inputs; 2-5: its nodes).
fn darts_op_plot(space: &DartsSpace, outcome: &SearchOutcome<DartsGenotype>) -> PanelPlot {
    let caption = |e: usize| {
        let (cell, k) = if e < 14 { ("normal", e) } else { ("reduce", e - 14) };
        let node =
            (0..4).rev().find(|&n| sotl_space::darts::darts_edge_index(n, 0) <= k).unwrap_or(0);
        let input = k - sotl_space::darts::darts_edge_index(node, 0);
        format!("{cell}: {} <- {input}", node + 2)
    };
    op_panels(space.op_names(), outcome, &outcome.trajectory, caption, 7)
}

fn write_seed_outputs<G: Genotype + crate::diagram::Diagrams>(
    dir: &RunDir,
    outcome: &SearchOutcome<G>,
    traj: &[TrajectoryPoint<G>],
    csv: &str,
    op_plot: PanelPlot,
) -> Result<()> {
    let mut full = outcome.clone();
    full.trajectory = traj.to_vec();
    dir.write_json("final.json", outcome)?;
    dir.write_json("trajectory.json", &full)?;
    dir.write_bytes("trajectory.csv", csv.as_bytes())?;
    let series = |name: &str, f: &dyn Fn(&TrajectoryPoint<G>) -> Option<f64>| Series {
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
    plot_panels(&dir.path("op_weights.svg"), &op_plot)?;
    // The final genotype's cells, as DARTS' visualize.py draws them.
    for (file, d) in outcome.genotype.diagrams() {
        sotl_report::plot_cell(&dir.path(file), &d)?;
    }
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
