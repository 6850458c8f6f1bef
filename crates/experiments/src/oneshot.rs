//! One-shot studies: train a supernet (resumable), finetune-and-rank a pool from it, and the
//! trainers x seeds study with its Table 4.1-layout summary.

use std::collections::VecDeque;
use std::path::Path;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use serde::Serialize;
use sotl_bench::Nb201Bench;
use sotl_search::{
    finetune_pool, load_supernet, rank_report, CandidateResult, FinetunePool, Finetuner,
    Nb201PathNet, OneShotConfig, PathNet, RankMetric, ReportSettings, RunRanking, SummaryTable,
    SupernetTrainerConfig, SupernetTraining, TrainerKind,
};
use sotl_space::Nb201Arch;
use tch::nn::VarStore;

use crate::data::{load_splits, Splits};
use crate::truth::{cifar10_truth, load_bench};
use crate::{read_json, Env, RunDir};

/// Builds the supernet for `cfg` and `data` (weight init seeded by `train.seed`).
pub fn build_net(
    env: &Env,
    cfg: &OneShotConfig,
    data: &Splits,
) -> Result<(VarStore, Nb201PathNet)> {
    let mut net_cfg = cfg.net;
    net_cfg.num_classes = data.train.classes as i64;
    let dims = data.train.images.size();
    net_cfg.in_channels = dims[1];
    net_cfg.image_size = dims[2];
    tch::manual_seed(sotl_train::torch_seed(
        cfg.train.seed,
        sotl_train::Stream::TrainStep,
        u64::MAX,
    ));
    let vs = VarStore::new(env.device);
    let net = Nb201PathNet::new(&vs, &net_cfg)?;
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

/// Trains (or resumes) a supernet in `out`: config.json, supernet.ot (checkpointed every 30 s
/// and at the end). An existing config.json must match `cfg`.
pub fn train_supernet(
    env: &Env,
    cfg: &OneShotConfig,
    data: &Splits,
    out: &Path,
) -> Result<TrainSummary> {
    let dir = RunDir::claim(out, cfg)?;
    let (_vs, net) = build_net(env, cfg, data)?;
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
    while !run.is_done() {
        let s = run.step(&data.train)?;
        last.push_back(s.loss);
        if last.len() > 50 {
            last.pop_front();
        }
        bar.set_message(format!("loss {:.3} lr {:.4}", s.loss, run.lr()));
        bar.set_position(run.step_count() as u64);
        if saved.elapsed().as_secs() >= 30 {
            run.save(&ckpt)?;
            saved = Instant::now();
        }
    }
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

/// The pool: `explicit` if given; else `<out>/pool.json`, sampled from `pool.seed` and saved
/// when absent.
pub fn pool_for(cfg: &OneShotConfig, explicit: Option<&Path>, out: &Path) -> Result<FinetunePool> {
    if let Some(p) = explicit {
        return Ok(FinetunePool::load(p)?);
    }
    let path = out.join("pool.json");
    if path.exists() {
        let pool = FinetunePool::load(&path)?;
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
    let pool = FinetunePool::sample(cfg.pool.size, cfg.pool.seed)?;
    sotl_report::write_atomic(&path, pool.to_json().as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(pool)
}

/// Finetunes the pool from `net`'s current weights into `<out>/results.jsonl` (resuming) and
/// writes `results.csv`.
pub fn rank_pool(
    env: &Env,
    cfg: &OneShotConfig,
    net: &dyn PathNet<Space = sotl_space::Nb201Space>,
    data: &Splits,
    pool: &FinetunePool,
    out: &Path,
) -> Result<Vec<CandidateResult>> {
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
fn write_results_csv(results: &[CandidateResult], window: usize, path: &Path) -> Result<()> {
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
fn write_run_ranking(
    cfg: &OneShotConfig,
    results: &[CandidateResult],
    bench: &Nb201Bench,
    out: &Path,
    seed: u64,
) -> Result<RunRanking> {
    let truth = |a: &Nb201Arch| cifar10_truth(bench, a);
    let r = rank_report(cfg.train.trainer.kind, seed, results, &truth, &settings(cfg))?;
    sotl_report::write_json_atomic(&out.join("ranking.json"), &r)
        .context("cannot write ranking.json")?;
    write_summary(std::slice::from_ref(&r), out)?;
    Ok(r)
}

/// Writes table.md, table.csv and curves.svg for `runs` into `out`.
fn write_summary(runs: &[RunRanking], out: &Path) -> Result<SummaryTable> {
    let table = SummaryTable::from_runs(runs);
    let md = format!(
        "Spearman correlation with NAS-Bench-201 CIFAR-10 test accuracy (200 epochs), mean (std over seeds), and mean test accuracy of the top {} by each metric.\n\n{}",
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
    /// The ranking against ground truth, when the tables are there.
    pub ranking: Option<RunRanking>,
}

/// Finetune-and-rank a pool from a trained supernet checkpoint; its folder's config.json gives
/// the setup. Results go to `out` (default: the checkpoint's folder), resuming.
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
    let data = load_splits(env, &cfg.data)?;
    let (_vs, net) = build_net(env, &cfg, &data)?;
    load_supernet(&net, supernet)?;
    let pool = pool_for(&cfg, pool, &out)?;
    let results = rank_pool(env, &cfg, &net, &data, &pool, &out)?;
    let ranking = match load_bench(env)? {
        Some(b) => Some(write_run_ranking(&cfg, &results, &b, &out, 0)?),
        None => None,
    };
    Ok(RankSummary { out: out.display().to_string(), candidates: results.len(), ranking })
}

/// The trainers x seeds one-shot study (thesis Table 4.1): for each trainer and seed, train a
/// supernet in `<out>/<trainer>-seed<S>` and finetune-and-rank the shared pool from it; then
/// table.md/csv, curves.svg and rankings.json in `out`. Everything resumes. Returns the summary
/// table, or `None` when there is no ground truth to rank against.
pub fn run_study(
    env: &Env,
    base: &OneShotConfig,
    trainers: &[TrainerKind],
    seeds: u64,
    out: &Path,
) -> Result<Option<SummaryTable>> {
    if trainers.is_empty() || seeds == 0 {
        bail!("--trainers and --seeds must name at least one trainer and one seed");
    }
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let data = load_splits(env, &base.data)?;
    let pool = pool_for(base, None, out)?;
    let bench = load_bench(env)?;
    let mut runs = Vec::new();
    for &kind in trainers {
        for s in 0..seeds {
            let mut cfg = *base;
            cfg.train.trainer = SupernetTrainerConfig { kind, ..cfg.train.trainer };
            cfg.train.seed = base.train.seed + s;
            let dir = out.join(format!("{kind}-seed{}", cfg.train.seed));
            tracing::info!("== {} seed {} -> {}", kind.label(), cfg.train.seed, dir.display());
            train_supernet(env, &cfg, &data, &dir)?;
            let (_vs, net) = build_net(env, &cfg, &data)?;
            load_supernet(&net, &dir.join("supernet.ot"))?;
            let results = rank_pool(env, &cfg, &net, &data, &pool, &dir)?;
            if let Some(b) = &bench {
                runs.push(write_run_ranking(&cfg, &results, b, &dir, cfg.train.seed)?);
            }
        }
    }
    if bench.is_none() {
        tracing::warn!(
            "no NAS-Bench-201 table: results are in {}, no correlations computed",
            out.display()
        );
        return Ok(None);
    }
    let table = write_summary(&runs, out)?;
    sotl_report::write_json_atomic(&out.join("rankings.json"), &runs)?;
    Ok(Some(table))
}
