//! `sotl-nas oneshot train|rank|run`: one-shot supernet training and finetune-and-rank.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use serde::Serialize;
use sotl_bench::{Nb201Bench, Nb201Dataset, Nb201Metric, Nb201Query, Nb201Table, TabularBenchmark};
use sotl_search::{
    finetune_pool, load_supernet, prepare_data, rank_report, CandidateResult, DataSource,
    DeviceImages, FinetunePool, Finetuner, Nb201PathNet, OneShotConfig, PathNet, ReportSettings,
    RunRanking, SummaryTable, SupernetTraining, TrainerConfig, TrainerKind,
};
use sotl_space::Nb201Arch;
use tch::nn::VarStore;

use crate::common::{load_config, print_json, Global};

/// Arguments of `oneshot`.
#[derive(Debug, clap::Args)]
pub struct OneshotArgs {
    #[command(subcommand)]
    cmd: OneshotCommand,
}

#[derive(Debug, clap::Subcommand)]
enum OneshotCommand {
    /// Train a weight-sharing supernet with one trainer (resumes from --out).
    Train(TrainArgs),
    /// Finetune-and-rank a fixed pool from a trained supernet (resumes from --out).
    Rank(RankArgs),
    /// Train and rank for several trainers and seeds, then the Table 4.1-style summary.
    Run(RunArgs),
}

/// Flags shared by the oneshot subcommands; each overrides a config key.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ConfigArgs {
    /// TOML config (see configs/oneshot-scaled.toml); flags override its keys.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Supernet seed (`train.seed`; also seeds weight init).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Supernet training epochs (`train.epochs`).
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Cap on supernet steps (`train.max_steps`).
    #[arg(long)]
    pub max_steps: Option<usize>,
    /// Pool size (`pool.size`).
    #[arg(long)]
    pub pool_size: Option<usize>,
    /// Finetuning minibatches per candidate (`finetune.steps`).
    #[arg(long)]
    pub finetune_steps: Option<usize>,
    /// SoTL window (`finetune.sotl_window`).
    #[arg(long)]
    pub sotl_window: Option<usize>,
    /// Training images kept (`data.n_train`, 0 = all).
    #[arg(long)]
    pub n_train: Option<usize>,
    /// Validation images kept (`data.n_val`, 0 = all).
    #[arg(long)]
    pub n_val: Option<usize>,
    /// Supernet channels C (`net.channels`).
    #[arg(long)]
    pub channels: Option<i64>,
    /// Cells per stage N (`net.cells_per_stage`).
    #[arg(long)]
    pub cells: Option<usize>,
}

impl ConfigArgs {
    /// The config file (or defaults) with these flags applied, validated.
    pub fn resolve(&self, base: Option<OneShotConfig>) -> Result<OneShotConfig> {
        let mut c: OneShotConfig = match (&self.config, base) {
            (Some(p), _) => load_config(Some(p))?,
            (None, Some(b)) => b,
            (None, None) => OneShotConfig::default(),
        };
        if let Some(v) = self.seed {
            c.train.seed = v;
        }
        if let Some(v) = self.epochs {
            c.train.epochs = v;
        }
        if let Some(v) = self.max_steps {
            c.train.max_steps = v;
        }
        if let Some(v) = self.pool_size {
            c.pool.size = v;
        }
        if let Some(v) = self.finetune_steps {
            c.finetune.steps = v;
            c.finetune.sotl_window = c.finetune.sotl_window.min(v);
        }
        if let Some(v) = self.sotl_window {
            c.finetune.sotl_window = v;
        }
        if let Some(v) = self.n_train {
            c.data.n_train = v;
        }
        if let Some(v) = self.n_val {
            c.data.n_val = v;
        }
        if let Some(v) = self.channels {
            c.net.channels = v;
        }
        if let Some(v) = self.cells {
            c.net.cells_per_stage = v;
        }
        c.validate()?;
        Ok(c)
    }
}

#[derive(Debug, clap::Args)]
struct TrainArgs {
    /// The supernet trainer.
    #[arg(long, default_value = "spos", value_parser = trainer_kind())]
    trainer: TrainerKind,
    /// Output folder (config.json, supernet.ot); rerun with the same folder to resume.
    #[arg(long, default_value = "runs/oneshot-train")]
    out: PathBuf,
    #[command(flatten)]
    cfg: ConfigArgs,
}

#[derive(Debug, clap::Args)]
struct RankArgs {
    /// Supernet checkpoint written by `oneshot train` (its folder's config.json gives the setup).
    #[arg(long, value_name = "CKPT")]
    supernet: PathBuf,
    /// Candidate pool (JSON); default: <out>/pool.json, created from pool.seed if absent.
    #[arg(long, value_name = "FILE")]
    pool: Option<PathBuf>,
    /// Output folder (results.jsonl, ranking files); rerun to resume.
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    /// Trainers, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "spos,fairnas", value_parser = trainer_kind())]
    trainers: Vec<TrainerKind>,
    /// Number of supernet seeds (0..N, offset by --seed).
    #[arg(long, default_value_t = 3)]
    seeds: u64,
    /// Output folder; rerun with the same folder to resume.
    #[arg(long, default_value = "runs/oneshot")]
    out: PathBuf,
    #[command(flatten)]
    cfg: ConfigArgs,
}

/// Parses a trainer name; `--help` lists every name.
fn trainer_kind() -> impl clap::builder::TypedValueParser<Value = TrainerKind> {
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new(TrainerKind::ALL.map(TrainerKind::name))
        .map(|s| s.parse::<TrainerKind>().expect("a listed trainer name parses"))
}

/// Runs `oneshot`.
pub fn run(args: OneshotArgs, g: &Global) -> Result<()> {
    g.apply_threads();
    match args.cmd {
        OneshotCommand::Train(a) => {
            let mut cfg = a.cfg.resolve(None)?;
            cfg.train.trainer = TrainerConfig { kind: a.trainer, ..cfg.train.trainer };
            cfg.validate()?;
            let data = load_data(g, &cfg)?;
            let summary = train_in(g, &cfg, &data, &a.out)?;
            report_done(g, &summary)
        }
        OneshotCommand::Rank(a) => {
            let dir = a.supernet.parent().map(Path::to_path_buf).unwrap_or_default();
            let cfg: OneShotConfig = read_json(&dir.join("config.json")).with_context(|| {
                format!(
                    "rank needs the config.json written by `oneshot train` beside {}",
                    a.supernet.display()
                )
            })?;
            let out = a.out.unwrap_or_else(|| dir.clone());
            let data = load_data(g, &cfg)?;
            let (_vs, net) = build_net(g, &cfg, &data)?;
            load_supernet(&net, &a.supernet)?;
            let pool = pool_for(&cfg, a.pool.as_deref(), &out)?;
            let results = rank_in(&cfg, &net, &data, &pool, &out)?;
            let bench = load_bench(g)?;
            let ranking = match &bench {
                Some(b) => Some(write_run_ranking(&cfg, &results, b, &out, 0)?),
                None => None,
            };
            report_done(
                g,
                &RankSummary { out: out.display().to_string(), candidates: results.len(), ranking },
            )
        }
        OneshotCommand::Run(a) => run_many(g, a),
    }
}

/// Train and validation images, with where they came from.
pub struct Data {
    /// Training images.
    pub train: DeviceImages,
    /// Validation images.
    pub val: DeviceImages,
    /// `cifar10` or `synthetic`.
    pub source: &'static str,
}

/// Loads the configured dataset and prepares it; when CIFAR-10 is absent and the source is
/// `auto`, falls back to the synthetic dataset and says so on stderr.
pub fn load_data(g: &Global, cfg: &OneShotConfig) -> Result<Data> {
    let device = g.device()?;
    let cifar = || crate::common::load_cifar10_train(g);
    let synth = || {
        crate::common::synthetic_train(
            cfg.data.synthetic_images,
            cfg.data.image_size,
            cfg.data.split_seed,
        )
    };
    let (full, source) = match cfg.data.source {
        DataSource::Cifar10 => (cifar()?, "cifar10"),
        DataSource::Synthetic => (synth()?, "synthetic"),
        DataSource::Auto => match g.data_root().filter(|r| {
            r.join("datasets/cifar10-jpeg").is_dir()
                || r.join("datasets/cifar-10-batches-bin").is_dir()
        }) {
            Some(_) => (cifar()?, "cifar10"),
            None => {
                eprintln!("==============================================================================");
                eprintln!("WARNING: no CIFAR-10 under the data root: using the EMBEDDED SYNTHETIC dataset.");
                eprintln!("Its rankings say nothing about NAS-Bench-201 ground truth. Pass --data-root DIR");
                eprintln!("(or SOTL_NAS_DATA) with datasets/cifar10-jpeg to search on CIFAR-10.");
                eprintln!("==============================================================================");
                (synth()?, "synthetic")
            }
        },
    };
    let (train, val) = prepare_data(&full, &cfg.data, device)?;
    eprintln!(
        "data: {source}, {} train / {} valid images of {:?}",
        train.len(),
        val.len(),
        &train.images.size()[1..]
    );
    Ok(Data { train, val, source })
}

/// Builds the supernet for `cfg` and `data` (weight init seeded by `train.seed`).
pub fn build_net(g: &Global, cfg: &OneShotConfig, data: &Data) -> Result<(VarStore, Nb201PathNet)> {
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
    let vs = VarStore::new(g.device()?);
    let net = Nb201PathNet::new(&vs, &net_cfg)?;
    Ok((vs, net))
}

/// What a training run reports.
#[derive(Debug, Serialize)]
pub struct TrainSummary {
    /// Trainer.
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
pub fn train_in(g: &Global, cfg: &OneShotConfig, data: &Data, out: &Path) -> Result<TrainSummary> {
    claim_dir(out, cfg)?;
    let (_vs, net) = build_net(g, cfg, data)?;
    let ckpt = out.join("supernet.ot");
    let mut run = SupernetTraining::new(&net, cfg.train, data.train.len())?;
    if ckpt.exists() {
        run.resume(&ckpt)?;
        eprintln!("resuming {} at step {}/{}", ckpt.display(), run.step_count(), run.total_steps());
    }
    let t0 = Instant::now();
    let bar = progress(run.total_steps() as u64, &format!("train {}", cfg.train.trainer.kind));
    bar.set_position(run.step_count() as u64);
    let mut last = std::collections::VecDeque::new();
    let mut saved = Instant::now();
    while !run.is_done() {
        let s = run.step(&data.train)?;
        last.push_back(s.loss);
        if last.len() > 50 {
            last.pop_front();
        }
        bar.set_message(format!("loss {:.3} lr {:.4}", s.loss, run.lr()));
        bar.inc(1);
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
            bail!("{} holds a pool of {} (seed {}), the config asks for {} (seed {}): use another --out", path.display(), pool.len(), pool.seed, cfg.pool.size, cfg.pool.seed);
        }
        return Ok(pool);
    }
    let pool = FinetunePool::sample(cfg.pool.size, cfg.pool.seed)?;
    sotl_report::write_atomic(&path, pool.to_json().as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(pool)
}

/// Finetunes the pool from `net`'s current weights into `<out>/results.jsonl` (resuming).
pub fn rank_in(
    cfg: &OneShotConfig,
    net: &dyn PathNet,
    data: &Data,
    pool: &FinetunePool,
    out: &Path,
) -> Result<Vec<CandidateResult>> {
    let mut ft = Finetuner::new(net, cfg.finetune, cfg.train.trainer.kind)?;
    let bar = progress(pool.len() as u64, "finetune");
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

fn write_results_csv(results: &[CandidateResult], window: usize, path: &Path) -> Result<()> {
    use sotl_estimators::{BnStats, ValScope};
    let mut s = String::from("index,arch,param_count,sotl_first_window,tlmini_inherited,valacc_inherited_batch_bn,valacc_inherited_running_bn,valacc_mini_inherited_batch_bn,valacc_mini_inherited_running_bn,train_s,val_s,reset_s,inherited_s\n");
    for r in results {
        let sotl: f64 = r.finetune.steps.iter().take(window).map(|x| x.train_loss).sum();
        let vi = |scope, bn| {
            r.inherited
                .vals
                .iter()
                .find(|v| v.scope == scope && v.bn == bn)
                .map_or(String::new(), |v| v.acc.to_string())
        };
        s.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{:.4},{:.4},{:.6},{:.4}\n",
            r.index,
            r.arch,
            r.param_count,
            sotl,
            r.inherited.steps.first().map_or(String::new(), |x| x.train_loss.to_string()),
            vi(ValScope::Full, BnStats::Batch),
            vi(ValScope::Full, BnStats::Running),
            vi(ValScope::Minibatch, BnStats::Batch),
            vi(ValScope::Minibatch, BnStats::Running),
            r.timing.train_s,
            r.timing.val_s,
            r.timing.reset_s,
            r.timing.inherited_s
        ));
    }
    sotl_report::write_atomic(path, s.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))
}

/// NAS-Bench-201 ground truth, if the data root has it (reporting only): `None` with a note when
/// the tables are absent, an error when they are there but unreadable or corrupt.
pub fn load_bench(g: &Global) -> Result<Option<Nb201Bench>> {
    let Some(root) = g.data_root() else {
        eprintln!("note: no data root, so no NAS-Bench-201 ground truth; skipping correlations");
        return Ok(None);
    };
    match Nb201Bench::load(&root) {
        Ok(b) => Ok(Some(b)),
        Err(sotl_bench::BenchError::Io { err, path })
            if err.kind() == std::io::ErrorKind::NotFound =>
        {
            eprintln!(
                "note: no NAS-Bench-201 ground truth ({} is absent); skipping correlations",
                path.display()
            );
            Ok(None)
        }
        Err(e) => Err(anyhow::Error::new(e)
            .context("the NAS-Bench-201 tables under the data root cannot be used")),
    }
}

/// CIFAR-10 test accuracy (%) of `arch` after NAS-Bench-201's 200-epoch schedule.
pub fn cifar10_truth(bench: &Nb201Bench, arch: &Nb201Arch) -> Option<f64> {
    bench
        .query(
            arch,
            Nb201Query {
                table: Nb201Table::Full200,
                dataset: Nb201Dataset::Cifar10,
                metric: Nb201Metric::Test,
            },
        )
        .ok()
}

fn settings(cfg: &OneShotConfig) -> ReportSettings {
    ReportSettings {
        sotl_window: cfg.finetune.sotl_window,
        steps: cfg.finetune.steps,
        k: cfg.report.top_k,
        curve_every: cfg.report.curve_every,
    }
}

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
                sotl_search::RankMetric::Sotl
                    | sotl_search::RankMetric::TlMini
                    | sotl_search::RankMetric::ValAcc(_)
                    | sotl_search::RankMetric::ValAccMini(_)
            ) {
                continue;
            }
            let points: Vec<(f64, f64)> = c
                .steps
                .iter()
                .enumerate()
                .filter_map(|(k, &s)| {
                    let v: Vec<f64> = mine.iter().map(|r| r.curves[ci].spearman[k]).collect();
                    sotl_search::mean_std(&v).map(|(m, _)| (s as f64, m))
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

fn run_many(g: &Global, a: RunArgs) -> Result<()> {
    let base = a.cfg.resolve(None)?;
    if a.trainers.is_empty() || a.seeds == 0 {
        bail!("--trainers and --seeds must name at least one trainer and one seed");
    }
    std::fs::create_dir_all(&a.out)
        .with_context(|| format!("cannot create {}", a.out.display()))?;
    let data = load_data(g, &base)?;
    let pool = pool_for(&base, None, &a.out)?;
    let bench = load_bench(g)?;
    let mut runs = Vec::new();
    for &kind in &a.trainers {
        for s in 0..a.seeds {
            let mut cfg = base;
            cfg.train.trainer = TrainerConfig { kind, ..cfg.train.trainer };
            cfg.train.seed = base.train.seed + s;
            let dir = a.out.join(format!("{kind}-seed{}", cfg.train.seed));
            eprintln!("== {} seed {} -> {}", kind.label(), cfg.train.seed, dir.display());
            train_in(g, &cfg, &data, &dir)?;
            let (_vs, net) = build_net(g, &cfg, &data)?;
            load_supernet(&net, &dir.join("supernet.ot"))?;
            let results = rank_in(&cfg, &net, &data, &pool, &dir)?;
            if let Some(b) = &bench {
                runs.push(write_run_ranking(&cfg, &results, b, &dir, cfg.train.seed)?);
            }
        }
    }
    let Some(_) = bench else {
        eprintln!(
            "no NAS-Bench-201 table: results are in {}, no correlations computed",
            a.out.display()
        );
        return Ok(());
    };
    let table = write_summary(&runs, &a.out)?;
    sotl_report::write_json_atomic(&a.out.join("rankings.json"), &runs)?;
    if g.json {
        return print_json(&table);
    }
    println!("{}", table.to_markdown());
    println!("written: {}/table.md, table.csv, curves.svg, rankings.json", a.out.display());
    Ok(())
}

/// Creates `out` and writes `config.json`, or checks that an existing one equals `cfg`.
pub fn claim_dir(out: &Path, cfg: &OneShotConfig) -> Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let path = out.join("config.json");
    if path.exists() {
        let old: OneShotConfig = read_json(&path)?;
        if old != *cfg {
            bail!(
                "{} was written for a different config; rerun with the same settings to resume, or use another --out",
                path.display()
            );
        }
        return Ok(());
    }
    sotl_report::write_json_atomic(&path, cfg)
        .with_context(|| format!("cannot write {}", path.display()))
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("malformed {}", path.display()))
}

/// Progress on stderr (a bar on a terminal, periodic plain lines in a log file).
pub fn progress(len: u64, prefix: &str) -> crate::common::Progress {
    crate::common::Progress::new(len, prefix)
}

#[derive(Debug, Serialize)]
struct RankSummary {
    out: String,
    candidates: usize,
    ranking: Option<RunRanking>,
}

fn report_done<T: Serialize + std::fmt::Debug>(g: &Global, v: &T) -> Result<()> {
    if g.json {
        return print_json(v);
    }
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}
