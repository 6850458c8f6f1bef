//! One-shot studies: train a supernet (resumable), finetune-and-rank a pool from it, and the
//! trainers x seeds study with its Table 4.1-layout summary.

use std::collections::VecDeque;
use std::path::Path;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use serde::Serialize;
use sotl_bench::nb101::Nb101Table;
use sotl_bench::Nb201Bench;
use sotl_nn::{DartsSupernet, GenotypeOf, Nb201Supernet, OneShot1Supernet, Supernet};
use sotl_search::{
    finetune_pool, load_supernet, rank_report, ArchOf, CandidateResult, FinetunePool, Finetuner,
    OneShotConfig, PathNet, PoolPicks, RankMetric, ReportSettings, RunRanking, SpaceChoice,
    SummaryTable, SupernetPathNet, SupernetTrainerConfig, SupernetTraining, TrainerKind,
};
use sotl_space::{
    DartsSpace, Genotype, Nb201Arch, Nb201Space, OneShot1Cell, OneShot1Space, SearchSpace,
};
use tch::nn::VarStore;

use crate::data::{load_splits, Splits};
use crate::shard::GridMode;
use crate::truth::{cifar10_truth, load_bench, load_nb101, nb101_test};
use crate::{read_json, Env, RunDir};

/// A supernet the one-shot studies run on: how a config sizes it, which space it searches and
/// where its ground truth is. One implementation per search space; every driver below is
/// generic over it.
pub trait OneShotNet: Supernet + Sized {
    /// The benchmark that holds ground truth for this space.
    type Truth;

    /// What the ground truth is, for table captions.
    const TRUTH: &'static str;

    /// The supernet's config for `cfg`, with classes, input channels and size from `data`.
    fn net_config(cfg: &OneShotConfig, data: &Splits) -> Self::Config;

    /// The space `cfg` names.
    fn space_of(cfg: &OneShotConfig) -> Self::Space;

    /// The benchmark under the data root, if there (absent: `None` with a note; corrupt: an
    /// error).
    fn load_truth(env: &Env) -> Result<Option<Self::Truth>>;

    /// Ground-truth test accuracy (%) of `g`, where the benchmark has it.
    fn truth(bench: &Self::Truth, g: &GenotypeOf<Self>) -> Option<f64>;
}

impl OneShotNet for Nb201Supernet {
    type Truth = Nb201Bench;
    const TRUTH: &'static str = "NAS-Bench-201 CIFAR-10 test accuracy (200 epochs)";

    fn net_config(cfg: &OneShotConfig, data: &Splits) -> sotl_nn::Nb201NetConfig {
        let mut net = cfg.net;
        net.num_classes = data.train.classes as i64;
        let dims = data.train.images.size();
        net.in_channels = dims[1];
        net.image_size = dims[2];
        net
    }

    fn space_of(_: &OneShotConfig) -> Nb201Space {
        Nb201Space
    }

    fn load_truth(env: &Env) -> Result<Option<Nb201Bench>> {
        load_bench(env)
    }

    fn truth(bench: &Nb201Bench, g: &Nb201Arch) -> Option<f64> {
        cifar10_truth(bench, g)
    }
}

impl OneShotNet for DartsSupernet {
    type Truth = ();
    const TRUTH: &'static str = "no benchmark (the DARTS space)";

    fn net_config(cfg: &OneShotConfig, data: &Splits) -> sotl_nn::DartsNetConfig {
        let dims = data.train.images.size();
        cfg.darts_net.config(darts_ops(cfg), data.train.classes as i64, dims[1], dims[2])
    }

    fn space_of(cfg: &OneShotConfig) -> DartsSpace {
        DartsSpace::new(darts_ops(cfg))
    }

    fn load_truth(_: &Env) -> Result<Option<()>> {
        Ok(None)
    }

    fn truth(_: &(), _: &sotl_space::DartsGenotype) -> Option<f64> {
        None
    }
}

impl OneShotNet for OneShot1Supernet {
    type Truth = Nb101Table;
    const TRUTH: &'static str =
        "NAS-Bench-101 CIFAR-10 test accuracy (108 epochs, mean of the runs)";

    fn net_config(cfg: &OneShotConfig, data: &Splits) -> sotl_nn::OneShot1NetConfig {
        let dims = data.train.images.size();
        cfg.nb1shot1_net.config(oneshot1_space(cfg), data.train.classes as i64, dims[1], dims[2])
    }

    fn space_of(cfg: &OneShotConfig) -> OneShot1Space {
        oneshot1_space(cfg)
    }

    fn load_truth(env: &Env) -> Result<Option<Nb101Table>> {
        load_nb101(env)
    }

    fn truth(table: &Nb101Table, g: &OneShot1Cell) -> Option<f64> {
        nb101_test(table, g)
    }
}

/// The op set of a DARTS-space config (the full set for any other space).
fn darts_ops(cfg: &OneShotConfig) -> sotl_space::DartsOpSet {
    match cfg.space {
        SpaceChoice::Darts(ops) => ops,
        _ => sotl_space::DartsOpSet::Full,
    }
}

/// The NAS-Bench-1shot1 space of a config (space 1 for any other space).
fn oneshot1_space(cfg: &OneShotConfig) -> OneShot1Space {
    match cfg.space {
        SpaceChoice::OneShot1(s) => s,
        _ => OneShot1Space::S1,
    }
}

/// Runs `$body` with `$S` bound to the supernet type of `$cfg`'s space.
macro_rules! with_supernet {
    ($cfg:expr, $S:ident => $body:expr) => {
        match $cfg.space {
            sotl_search::SpaceChoice::Nb201 => {
                type $S = sotl_nn::Nb201Supernet;
                $body
            }
            sotl_search::SpaceChoice::Darts(_) => {
                type $S = sotl_nn::DartsSupernet;
                $body
            }
            sotl_search::SpaceChoice::OneShot1(_) => {
                type $S = sotl_nn::OneShot1Supernet;
                $body
            }
        }
    };
}

pub(crate) use with_supernet;

/// Refuses a config whose space is not NAS-Bench-201, for `what` (a command that needs the
/// benchmark's ground truth or its cells).
pub fn require_nb201(cfg: &OneShotConfig, what: &str) -> Result<()> {
    if cfg.space != SpaceChoice::Nb201 {
        bail!(
            "{what} runs on NAS-Bench-201 only, but the config's space is {}; use `sotl-nas oneshot run --space {}` to train and rank there",
            cfg.space,
            cfg.space
        );
    }
    Ok(())
}

/// Builds the supernet `S` for `cfg` and `data` (weight init seeded by `train.seed`).
pub fn build_net<S: OneShotNet>(
    env: &Env,
    cfg: &OneShotConfig,
    data: &Splits,
) -> Result<(VarStore, SupernetPathNet<S>)> {
    let net_cfg = S::net_config(cfg, data);
    tch::manual_seed(sotl_train::torch_seed(
        cfg.train.seed,
        sotl_train::Stream::TrainStep,
        u64::MAX,
    ));
    let vs = VarStore::new(env.device);
    let supernet = S::build(&vs.root(), &net_cfg)?;
    let net = SupernetPathNet::from_supernet(&vs, supernet);
    Ok((vs, net))
}

/// What a supernet training run reports.
#[derive(Debug, Serialize)]
pub struct TrainSummary {
    /// The supernet trainer.
    pub trainer: String,
    /// Supernet checkpoint.
    pub checkpoint: String,
    /// Outer steps done.
    pub steps: usize,
    /// Mean loss over the last 50 steps of this invocation (None when resumed complete).
    pub final_loss: Option<f64>,
    /// Seconds spent in this invocation.
    pub seconds: f64,
}

/// Trains (or resumes) a supernet of `cfg`'s space in `out`: config.json, supernet.ot
/// (checkpointed every 30 s and at the end). An existing config.json must match `cfg`.
pub fn train_supernet(
    env: &Env,
    cfg: &OneShotConfig,
    data: &Splits,
    out: &Path,
) -> Result<TrainSummary> {
    with_supernet!(cfg, S => train_supernet_on::<S>(env, cfg, data, out))
}

/// [`train_supernet`] on the supernet `S`.
pub fn train_supernet_on<S: OneShotNet>(
    env: &Env,
    cfg: &OneShotConfig,
    data: &Splits,
    out: &Path,
) -> Result<TrainSummary> {
    let dir = RunDir::claim(out, cfg)?;
    let (_vs, net) = build_net::<S>(env, cfg, data)?;
    let ckpt = dir.path("supernet.ot");
    let mut run = SupernetTraining::new(&net, cfg.train, data.train.len())?;
    if ckpt.exists() {
        run.resume(&ckpt)?;
        tracing::info!(
            "resuming {} at step {}/{}",
            ckpt.display(),
            run.step_count(),
            run.total_steps()
        );
    }
    let t0 = Instant::now();
    let bar = env.progress(run.total_steps() as u64, &format!("train {}", cfg.train.trainer.kind));
    bar.set_position(run.step_count() as u64);
    let mut last = VecDeque::new();
    let mut saved = Instant::now();
    // Losses are read back every READ_EVERY_STEPS steps (a read waits for the device).
    let mut keep_last = |run: &mut SupernetTraining<'_, _>| -> Result<()> {
        let losses = run.read_losses()?;
        if let Some(l) = losses.last() {
            bar.set_message(format!("loss {l:.3} lr {:.4}", run.lr()));
        }
        last.extend(losses);
        while last.len() > 50 {
            last.pop_front();
        }
        Ok(())
    };
    while !run.is_done() {
        run.step(&data.train)?;
        if run.step_count() % sotl_train::READ_EVERY_STEPS == 0 {
            keep_last(&mut run)?;
        }
        bar.set_position(run.step_count() as u64);
        if saved.elapsed().as_secs() >= 30 {
            keep_last(&mut run)?;
            run.save(&ckpt)?;
            saved = Instant::now();
        }
    }
    keep_last(&mut run)?;
    run.save(&ckpt)?;
    bar.finish();
    Ok(TrainSummary {
        trainer: cfg.train.trainer.kind.to_string(),
        checkpoint: ckpt.display().to_string(),
        steps: run.step_count(),
        final_loss: (!last.is_empty()).then(|| last.iter().sum::<f64>() / last.len() as f64),
        seconds: t0.elapsed().as_secs_f64(),
    })
}

/// The pool of `space`: `explicit` if given; else `<out>/pool.json`, sampled from `pool.seed`
/// and saved when absent.
pub fn pool_for<S: SearchSpace>(
    cfg: &OneShotConfig,
    space: &S,
    explicit: Option<&Path>,
    out: &Path,
) -> Result<FinetunePool<S::Genotype>> {
    let load = |p: &Path| -> Result<FinetunePool<S::Genotype>> {
        let pool = FinetunePool::<S::Genotype>::load(p).with_context(|| {
            format!("{} is not a pool of the {} space the config names", p.display(), space.name())
        })?;
        if let Some(k) = pool.archs.iter().position(|a| !space.holds(a)) {
            bail!(
                "{} is not a pool of the {} space the config names: candidate {k} ({}) is another space's",
                p.display(),
                space.name(),
                pool.archs[k]
            );
        }
        Ok(pool)
    };
    if let Some(p) = explicit {
        return load(p);
    }
    let path = out.join("pool.json");
    if path.exists() {
        let pool = load(&path)?;
        if pool.seed != cfg.pool.seed || pool.len() != cfg.pool.size {
            bail!(
                "{} holds a pool of {} (seed {}), the config asks for {} (seed {}): use another --out",
                path.display(),
                pool.len(),
                pool.seed,
                cfg.pool.size,
                cfg.pool.seed
            );
        }
        return Ok(pool);
    }
    let pool = FinetunePool::sample_from(space, cfg.pool.size, cfg.pool.seed)?;
    sotl_report::write_atomic(&path, pool.to_json().as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(pool)
}

/// Finetunes the pool from `net`'s current weights into `<out>/results.jsonl` (resuming) and
/// writes `results.csv`.
pub fn rank_pool<N: PathNet + ?Sized>(
    env: &Env,
    cfg: &OneShotConfig,
    net: &N,
    data: &Splits,
    pool: &FinetunePool<ArchOf<N>>,
    out: &Path,
) -> Result<Vec<CandidateResult<ArchOf<N>>>> {
    let mut ft = Finetuner::new(net, cfg.finetune, cfg.train.trainer.kind)?;
    let bar = env.progress(pool.len() as u64, "finetune");
    let results = finetune_pool(
        &mut ft,
        pool,
        &data.train,
        &data.val,
        &out.join("results.jsonl"),
        |done, _, r| {
            bar.set_position(done as u64);
            bar.set_message(format!(
                "{} steps in {:.2}s",
                r.finetune.steps.len(),
                r.timing.train_s
            ));
        },
    )?;
    bar.finish();
    write_results_csv(&results, cfg.finetune.sotl_window, &out.join("results.csv"))?;
    Ok(results)
}

/// One row per candidate: its scores at inheritance and its SoTL, with timings.
fn write_results_csv<G: Genotype>(
    results: &[CandidateResult<G>],
    window: usize,
    path: &Path,
) -> Result<()> {
    use sotl_estimators::{BnStats, ValScope};
    let mut w = sotl_report::CsvText::new([
        "index",
        "arch",
        "param_count",
        "sotl_first_window",
        "tlmini_inherited",
        "valacc_inherited_batch_bn",
        "valacc_inherited_running_bn",
        "valacc_mini_inherited_batch_bn",
        "valacc_mini_inherited_running_bn",
        "train_s",
        "val_s",
        "reset_s",
        "inherited_s",
    ]);
    for r in results {
        let sotl: f64 = r.finetune.steps.iter().take(window).map(|x| x.train_loss).sum();
        let vi = |scope, bn| {
            r.inherited
                .vals
                .iter()
                .find(|v| v.scope == scope && v.bn == bn)
                .map_or(String::new(), |v| v.acc.to_string())
        };
        w.row([
            r.index.to_string(),
            r.arch.to_string(),
            r.param_count.to_string(),
            sotl.to_string(),
            r.inherited.steps.first().map_or(String::new(), |x| x.train_loss.to_string()),
            vi(ValScope::Full, BnStats::Batch),
            vi(ValScope::Full, BnStats::Running),
            vi(ValScope::Minibatch, BnStats::Batch),
            vi(ValScope::Minibatch, BnStats::Running),
            format!("{:.4}", r.timing.train_s),
            format!("{:.4}", r.timing.val_s),
            format!("{:.6}", r.timing.reset_s),
            format!("{:.4}", r.timing.inherited_s),
        ]);
    }
    sotl_report::write_atomic(path, w.finish().as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))
}

fn settings(cfg: &OneShotConfig) -> ReportSettings {
    ReportSettings {
        sotl_window: cfg.finetune.sotl_window,
        steps: cfg.finetune.steps,
        k: cfg.report.top_k,
        curve_every: cfg.report.curve_every,
    }
}

/// Ranks one run's results against ground truth; writes ranking.json and its summary files.
fn write_run_ranking<S: OneShotNet>(
    cfg: &OneShotConfig,
    results: &[CandidateResult<GenotypeOf<S>>],
    bench: &S::Truth,
    out: &Path,
    seed: u64,
) -> Result<RunRanking> {
    let truth = |a: &GenotypeOf<S>| S::truth(bench, a);
    let r = rank_report(cfg.train.trainer.kind, seed, results, &truth, &settings(cfg))?;
    sotl_report::write_json_atomic(&out.join("ranking.json"), &r)
        .context("cannot write ranking.json")?;
    write_summary(std::slice::from_ref(&r), S::TRUTH, out)?;
    Ok(r)
}

/// Writes table.md, table.csv and curves.svg for `runs` into `out`.
fn write_summary(runs: &[RunRanking], truth: &str, out: &Path) -> Result<SummaryTable> {
    let table = SummaryTable::from_runs(runs);
    let md = format!(
        "Spearman correlation with {truth}, mean (std over seeds), and mean test accuracy of the top {} by each metric.\n\n{}",
        table.k,
        table.to_markdown()
    );
    sotl_report::write_atomic(&out.join("table.md"), md.as_bytes())?;
    sotl_report::write_atomic(&out.join("table.csv"), table.to_csv().as_bytes())?;
    let mut series = Vec::new();
    for t in &table.trainers {
        let mine: Vec<&RunRanking> = runs.iter().filter(|r| r.trainer == *t).collect();
        for (ci, c) in mine[0].curves.iter().enumerate() {
            if !matches!(
                c.metric,
                RankMetric::Sotl
                    | RankMetric::TlMini
                    | RankMetric::ValAcc(_)
                    | RankMetric::ValAccMini(_)
            ) {
                continue;
            }
            let points: Vec<(f64, f64)> = c
                .steps
                .iter()
                .enumerate()
                .filter_map(|(k, &s)| {
                    let v: Vec<f64> = mine.iter().map(|r| r.curves[ci].spearman[k]).collect();
                    sotl_report::mean_std(&v).map(|(m, _)| (s as f64, m))
                })
                .collect();
            if !points.is_empty() {
                series.push(sotl_report::Series {
                    name: format!("{} {}", t.label(), c.metric.label()),
                    points,
                });
            }
        }
    }
    if !series.is_empty() {
        let plot = sotl_report::LinePlot {
            title: "Spearman vs NB201 test accuracy over finetuning".into(),
            x_label: "finetuning minibatches".into(),
            y_label: "Spearman".into(),
            series,
        };
        sotl_report::plot_lines(&out.join("curves.svg"), &plot)?;
    }
    Ok(table)
}

/// What `oneshot rank` reports.
#[derive(Debug, Serialize)]
pub struct RankSummary {
    /// Where the results are.
    pub out: String,
    /// Candidates finetuned.
    pub candidates: usize,
    /// The ranking against ground truth, when the space has it and the tables are there.
    pub ranking: Option<RunRanking>,
    /// The picks by each metric (always; the only report where there is no ground truth).
    pub picks: PoolPicks,
}

/// Writes picks.md and picks.json for one run's results into `out`.
fn write_picks<G: Genotype>(
    cfg: &OneShotConfig,
    results: &[CandidateResult<G>],
    out: &Path,
    seed: u64,
) -> Result<PoolPicks> {
    let picks = PoolPicks::compute(cfg.train.trainer.kind, seed, results, &settings(cfg))?;
    sotl_report::write_json_atomic(&out.join("picks.json"), &picks)
        .context("cannot write picks.json")?;
    sotl_report::write_atomic(&out.join("picks.md"), picks.to_markdown().as_bytes())
        .context("cannot write picks.md")?;
    Ok(picks)
}

/// Finetune-and-rank a pool from a trained supernet checkpoint; its folder's config.json gives
/// the setup (and the space). Results go to `out` (default: the checkpoint's folder), resuming.
pub fn rank_supernet(
    env: &Env,
    supernet: &Path,
    pool: Option<&Path>,
    out: Option<&Path>,
) -> Result<RankSummary> {
    let dir = supernet.parent().map(Path::to_path_buf).unwrap_or_default();
    let cfg: OneShotConfig = read_json(&dir.join("config.json")).with_context(|| {
        format!(
            "rank needs the config.json written by `oneshot train` beside {}",
            supernet.display()
        )
    })?;
    let out = out.map_or(dir.clone(), Path::to_path_buf);
    with_supernet!(cfg, S => rank_supernet_on::<S>(env, &cfg, supernet, pool, &out))
}

fn rank_supernet_on<S: OneShotNet>(
    env: &Env,
    cfg: &OneShotConfig,
    supernet: &Path,
    pool: Option<&Path>,
    out: &Path,
) -> Result<RankSummary> {
    let data = load_splits(env, &cfg.data)?;
    let pool = pool_for(cfg, &S::space_of(cfg), pool, out)?;
    let (_vs, net) = build_net::<S>(env, cfg, &data)?;
    load_supernet(&net, supernet)?;
    let results = rank_pool(env, cfg, &net, &data, &pool, out)?;
    rank_outputs::<S>(env, cfg, &results, out)
}

/// Writes what a finished ranking reports into `out`: results.csv, the picks and, where the
/// space's benchmark is there, the ranking against it (an unsharded rank and a merge of shards
/// both end here).
pub(crate) fn rank_outputs<S: OneShotNet>(
    env: &Env,
    cfg: &OneShotConfig,
    results: &[CandidateResult<GenotypeOf<S>>],
    out: &Path,
) -> Result<RankSummary> {
    write_results_csv(results, cfg.finetune.sotl_window, &out.join("results.csv"))?;
    let picks = write_picks(cfg, results, out, cfg.train.seed)?;
    let ranking = match truth_bench::<S>(env, results)? {
        Some(b) => Some(write_run_ranking::<S>(cfg, results, &b, out, cfg.train.seed)?),
        None => None,
    };
    Ok(RankSummary { out: out.display().to_string(), candidates: results.len(), ranking, picks })
}

/// Finetunes-and-ranks `pool` from the supernet checkpoint `ckpt` into `out` (resuming) and
/// writes the picks.
#[allow(clippy::type_complexity)]
fn rank_checkpoint<S: OneShotNet>(
    env: &Env,
    cfg: &OneShotConfig,
    data: &Splits,
    ckpt: &Path,
    pool: &FinetunePool<GenotypeOf<S>>,
    out: &Path,
) -> Result<(Vec<CandidateResult<GenotypeOf<S>>>, PoolPicks)> {
    let (_vs, net) = build_net::<S>(env, cfg, data)?;
    load_supernet(&net, ckpt)?;
    let results = rank_pool(env, cfg, &net, data, pool, out)?;
    let picks = write_picks(cfg, &results, out, cfg.train.seed)?;
    Ok((results, picks))
}

/// The space's benchmark when it holds ground truth for `results` (absent tables, or a space
/// without one, give `None`; corrupt tables are an error).
fn truth_bench<S: OneShotNet>(
    env: &Env,
    results: &[CandidateResult<GenotypeOf<S>>],
) -> Result<Option<S::Truth>> {
    let Some(bench) = S::load_truth(env)? else { return Ok(None) };
    Ok(results.iter().any(|r| S::truth(&bench, &r.arch).is_some()).then_some(bench))
}

/// What the trainers x seeds study produced.
#[derive(Debug, Serialize)]
pub struct OneShotStudy {
    /// The Table 4.1-layout summary, when the space has ground truth and the tables are there.
    pub table: Option<SummaryTable>,
    /// Every run's picks, in run order.
    pub picks: Vec<PoolPicks>,
}

impl OneShotStudy {
    /// The summary table if there is one, then each run's choice.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        if let Some(t) = &self.table {
            out.push_str(&t.to_markdown());
            out.push('\n');
        }
        for p in &self.picks {
            if let Some(c) = p.choice() {
                out.push_str(&format!(
                    "{} seed {}: lowest SoTL: candidate {}: {}\n",
                    p.trainer.label(),
                    p.seed,
                    c.index,
                    c.arch
                ));
            }
        }
        out
    }
}

/// The trainers x seeds one-shot study (thesis Table 4.1) on `base`'s space: for each trainer
/// and seed, train a supernet in `<out>/<trainer>-seed<S>` and finetune-and-rank the shared
/// pool from it, writing its picks; then, where there is ground truth, table.md/csv,
/// curves.svg and rankings.json in `out`. Everything resumes.
pub fn run_study(
    env: &Env,
    base: &OneShotConfig,
    trainers: &[TrainerKind],
    seeds: u64,
    out: &Path,
) -> Result<OneShotStudy> {
    let study = run_study_grid(env, base, trainers, seeds, out, GridMode::All)?;
    Ok(study.expect("a whole study makes its summary"))
}

/// The trainers x seeds grid of a one-shot study (`grid.json` in its folder), for sharding.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StudyGrid {
    /// Trainers, in grid order.
    pub trainers: Vec<TrainerKind>,
    /// Seeds per trainer.
    pub seeds: u64,
    /// The first seed.
    pub seed_base: u64,
}

impl StudyGrid {
    /// The cells, trainer-major: `(trainer, seed)`.
    pub fn cells(&self) -> impl Iterator<Item = (TrainerKind, u64)> + '_ {
        self.trainers
            .iter()
            .flat_map(move |&k| (0..self.seeds).map(move |s| (k, self.seed_base + s)))
    }

    /// The cells of the study in `out` without their picks, by grid index.
    pub fn missing(&self, out: &Path) -> Vec<usize> {
        self.cells()
            .enumerate()
            .filter(|(_, (k, s))| !out.join(format!("{k}-seed{s}")).join("picks.json").exists())
            .map(|(g, _)| g)
            .collect()
    }
}

/// [`run_study`] as one task of a job array (`GridMode::Shard`: the trainer x seed cells of
/// the shard, trainer-major; no summary, `None`) or as the merge of such tasks
/// (`GridMode::Merge`: refuses naming the cells without picks, then the summary).
pub fn run_study_grid(
    env: &Env,
    base: &OneShotConfig,
    trainers: &[TrainerKind],
    seeds: u64,
    out: &Path,
    mode: GridMode,
) -> Result<Option<OneShotStudy>> {
    if trainers.is_empty() || seeds == 0 {
        bail!("--trainers and --seeds must name at least one trainer and one seed");
    }
    with_supernet!(base, S => run_study_on::<S>(env, base, trainers, seeds, out, mode))
}

fn run_study_on<S: OneShotNet>(
    env: &Env,
    base: &OneShotConfig,
    trainers: &[TrainerKind],
    seeds: u64,
    out: &Path,
    mode: GridMode,
) -> Result<Option<OneShotStudy>> {
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let grid = StudyGrid { trainers: trainers.to_vec(), seeds, seed_base: base.train.seed };
    crate::shard::claim_grid(&out.join("grid.json"), &grid, mode, "--trainers and --seeds")?;
    if mode == GridMode::Merge {
        let missing = grid.missing(out);
        if !missing.is_empty() {
            bail!(
                "grid cell(s) {} (trainer-major) have no picks yet; run them (`sotl-nas shards missing --study {}` lists the shards)",
                crate::shard::array_spec(&missing),
                out.display()
            );
        }
    }
    let data = load_splits(env, &base.data)?;
    let pool = pool_for(base, &S::space_of(base), None, out)?;
    let mut bench = None;
    let mut runs = Vec::new();
    let mut picks = Vec::new();
    for (g, (kind, seed)) in grid.cells().enumerate() {
        if let GridMode::Shard(sh) = mode {
            if !sh.holds(g) {
                continue;
            }
        }
        {
            let s = seed - base.train.seed;
            let mut cfg = *base;
            cfg.train.trainer = SupernetTrainerConfig { kind, ..cfg.train.trainer };
            cfg.train.seed = base.train.seed + s;
            let dir = out.join(format!("{kind}-seed{}", cfg.train.seed));
            tracing::info!("== {} seed {} -> {}", kind.label(), cfg.train.seed, dir.display());
            train_supernet_on::<S>(env, &cfg, &data, &dir)?;
            let ckpt = dir.join("supernet.ot");
            let (results, p) = rank_checkpoint::<S>(env, &cfg, &data, &ckpt, &pool, &dir)?;
            picks.push(p);
            if runs.is_empty() && bench.is_none() {
                bench = truth_bench::<S>(env, &results)?;
            }
            if let Some(b) = &bench {
                runs.push(write_run_ranking::<S>(&cfg, &results, b, &dir, cfg.train.seed)?);
            }
        }
    }
    if matches!(mode, GridMode::Shard(_)) {
        // A shard's task leaves the study's summary to the merge.
        return Ok(None);
    }
    sotl_report::write_json_atomic(&out.join("picks.json"), &picks)?;
    if bench.is_none() {
        tracing::warn!(
            "no ground truth for the {} space here: results and picks are in {}, no correlations computed",
            base.space,
            out.display()
        );
        return Ok(Some(OneShotStudy { table: None, picks }));
    }
    let table = write_summary(&runs, S::TRUTH, out)?;
    sotl_report::write_json_atomic(&out.join("rankings.json"), &runs)?;
    Ok(Some(OneShotStudy { table: Some(table), picks }))
}

/// Settings of the proxy-ceiling check ([`proxy_ceiling`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, serde::Deserialize)]
pub struct CeilingSettings {
    /// Standalone training epochs per candidate.
    pub epochs: usize,
    /// Candidates: the first this many of the pool (0: all).
    pub candidates: usize,
}

/// One candidate of the proxy-ceiling check.
#[derive(Debug, Clone, Serialize)]
pub struct CeilingCandidate {
    /// Position in the pool.
    pub index: usize,
    /// The cell.
    pub arch: String,
    /// Parameters of the proxy network.
    pub param_count: i64,
    /// Validation accuracy (fraction) after each epoch.
    pub val_acc: Vec<f64>,
    /// Sum of the training losses of the first `finetune.sotl_window` steps from scratch.
    pub sotl_from_scratch: f64,
    /// Sum of the training losses of the first epoch.
    pub sotl_first_epoch: f64,
    /// Training seconds.
    pub seconds: f64,
}

/// What [`proxy_ceiling`] reports.
#[derive(Debug, Clone, Serialize)]
pub struct CeilingReport {
    /// The settings.
    pub settings: CeilingSettings,
    /// Image side of the proxy networks.
    pub image_size: i64,
    /// Every candidate trained.
    pub candidates: Vec<CeilingCandidate>,
    /// Rankings against NAS-Bench-201 CIFAR-10 test accuracy (empty without the table).
    pub rankings: Vec<sotl_search::ScoreRanking>,
}

/// The ceiling of a one-shot study's proxy: each pool candidate's network, at the study's proxy
/// scale (channels, cells, image size, data and the supernet's optimizer and schedule), trained
/// standalone from scratch for `settings.epochs`, then ranked against NAS-Bench-201 by its
/// validation accuracy after each epoch, by its SoTL from scratch and by its size. No one-shot
/// estimator at that scale can be expected to rank better than the proxies trained for real.
/// Each candidate trains in `<out>/standalone/<index>` (resuming); ceiling.md/csv/json at the end.
pub fn proxy_ceiling(
    env: &Env,
    cfg: &OneShotConfig,
    settings: CeilingSettings,
    out: &Path,
) -> Result<CeilingReport> {
    if settings.epochs == 0 {
        bail!("the ceiling check needs at least one training epoch (--standalone-epochs)");
    }
    cfg.validate()?;
    require_nb201(cfg, "the proxy ceiling (it ranks against NAS-Bench-201)")?;
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let data = load_splits(env, &cfg.data)?;
    let pool = pool_for(cfg, &Nb201Space, None, out)?;
    let n = match settings.candidates {
        0 => pool.len(),
        c => c.min(pool.len()),
    };
    let steps_per_epoch = data.train.len().div_ceil(cfg.train.batch_size);
    let bar = env.progress(n as u64, "standalone");
    let mut candidates = Vec::with_capacity(n);
    for (index, arch) in pool.archs.iter().take(n).enumerate() {
        let run = standalone_config(cfg, &data, arch, settings.epochs);
        let dir = out.join("standalone").join(index.to_string());
        let o = crate::standalone::train_on_images(env, &run, &data.train, &data.val, Some(&dir))
            .with_context(|| format!("candidate {index} ({arch})"))?;
        let losses: Vec<f64> = o.record.steps.iter().map(|s| s.train_loss).collect();
        let window = cfg.finetune.sotl_window.min(losses.len());
        candidates.push(CeilingCandidate {
            index,
            arch: arch.to_string(),
            param_count: o.summary.param_count,
            val_acc: o.epochs.iter().filter_map(|e| e.val_acc).collect(),
            sotl_from_scratch: losses[..window].iter().sum(),
            sotl_first_epoch: losses.iter().take(steps_per_epoch).sum(),
            seconds: o.summary.seconds,
        });
        bar.set_position(index as u64 + 1);
        bar.set_message(format!("last {:.1}s", o.summary.seconds));
    }
    bar.finish();
    let rankings = match load_bench(env)? {
        Some(b) => ceiling_rankings(&candidates, &b, cfg.report.top_k)?,
        None => {
            tracing::warn!("no NAS-Bench-201 table: no correlations computed");
            Vec::new()
        }
    };
    let image_size = data.train.images.size()[2];
    let report = CeilingReport { settings, image_size, candidates, rankings };
    write_ceiling(&report, cfg, out)?;
    Ok(report)
}

/// The standalone training of one candidate at the study's proxy scale: the supernet's
/// optimizer, cosine schedule, batch size, clipping and seed (so every candidate sees the same
/// initialization stream and minibatch order), with crop-and-flip augmentation.
fn standalone_config(
    cfg: &OneShotConfig,
    data: &Splits,
    arch: &Nb201Arch,
    epochs: usize,
) -> sotl_train::TrainRunConfig {
    let t = &cfg.train;
    sotl_train::TrainRunConfig {
        arch: Some(arch.to_string()),
        dataset: if data.source == "synthetic" {
            sotl_data::DatasetName::Synthetic
        } else {
            sotl_data::DatasetName::Cifar10
        },
        channels: cfg.net.channels,
        cells_per_stage: cfg.net.cells_per_stage,
        epochs,
        batch_size: t.batch_size,
        lr: t.lr,
        eta_min: t.lr_min,
        warmup_epochs: 0,
        momentum: t.momentum,
        nesterov: t.nesterov,
        weight_decay: t.weight_decay,
        seed: t.seed,
        eval_every_epochs: 1,
        grad_clip: (t.grad_clip > 0.0).then_some(t.grad_clip),
        ..sotl_train::TrainRunConfig::default()
    }
}

/// Rankings of the ceiling check: validation accuracy after each epoch, SoTL from scratch
/// (negated: lower is better) and the parameter count.
fn ceiling_rankings(
    candidates: &[CeilingCandidate],
    bench: &Nb201Bench,
    k: usize,
) -> Result<Vec<sotl_search::ScoreRanking>> {
    let mut truth = Vec::with_capacity(candidates.len());
    for c in candidates {
        let arch: Nb201Arch = c.arch.parse()?;
        truth.push(
            cifar10_truth(bench, &arch)
                .with_context(|| format!("no NAS-Bench-201 CIFAR-10 entry for {}", c.arch))?,
        );
    }
    let params: Vec<f64> = candidates.iter().map(|c| c.param_count as f64).collect();
    let epochs = candidates.iter().map(|c| c.val_acc.len()).min().unwrap_or(0);
    let mut rows = Vec::new();
    let rank = |label: String, scores: Vec<f64>| {
        sotl_search::ScoreRanking::compute(label, &scores, &truth, &params, k)
    };
    for e in 0..epochs {
        let scores = candidates.iter().map(|c| c.val_acc[e]).collect();
        rows.push(rank(format!("Proxy ValAcc after epoch {}", e + 1), scores)?);
    }
    rows.push(rank(
        "SoTL from scratch (first window)".into(),
        candidates.iter().map(|c| -c.sotl_from_scratch).collect(),
    )?);
    rows.push(rank(
        "SoTL from scratch (first epoch)".into(),
        candidates.iter().map(|c| -c.sotl_first_epoch).collect(),
    )?);
    rows.push(rank("Params".into(), params.clone())?);
    Ok(rows)
}

/// ceiling.md (readable), ceiling.csv (one row per candidate) and ceiling.json in `out`.
fn write_ceiling(report: &CeilingReport, cfg: &OneShotConfig, out: &Path) -> Result<()> {
    let mut csv = sotl_report::CsvText::new([
        "index",
        "arch",
        "param_count",
        "final_val_acc",
        "sotl_from_scratch",
        "sotl_first_epoch",
        "seconds",
    ]);
    for c in &report.candidates {
        csv.row([
            c.index.to_string(),
            c.arch.clone(),
            c.param_count.to_string(),
            c.val_acc.last().map_or(String::new(), |a| a.to_string()),
            c.sotl_from_scratch.to_string(),
            c.sotl_first_epoch.to_string(),
            format!("{:.2}", c.seconds),
        ]);
    }
    sotl_report::write_atomic(&out.join("ceiling.csv"), csv.finish().as_bytes())?;
    sotl_report::write_json_atomic(&out.join("ceiling.json"), report)?;
    let md = format!(
        "Proxy ceiling: {} pool candidates, each trained standalone from scratch for {} epochs at \
         the study's proxy scale (C={}, N={}, {}-pixel images), ranked against NAS-Bench-201 \
         CIFAR-10 test accuracy (200 epochs). SoTL window: {} steps.\n\n{}",
        report.candidates.len(),
        report.settings.epochs,
        cfg.net.channels,
        cfg.net.cells_per_stage,
        report.image_size,
        cfg.finetune.sotl_window,
        sotl_search::ScoreRanking::markdown(&report.rankings)
    );
    sotl_report::write_atomic(&out.join("ceiling.md"), md.as_bytes())?;
    Ok(())
}
