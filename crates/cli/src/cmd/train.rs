//! `sotl-nas train --arch '<NB201 string>'`: trains one standalone NAS-Bench-201 network.
//!
//! Wiring only: the dataset comes from `sotl-data`, the network from `sotl-nn`, the loop and all
//! hyperparameters from `sotl-train` ([`TrainRunConfig`], NAS-Bench-201 defaults).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;
use sotl_data::{
    resize, stratified_sample, Augment, DataRoot, Dataset, DatasetName, Loader, LoaderConfig,
    Normalization, ResizeMode,
};
use sotl_nn::{Nb201NetConfig, Nb201Network};
use sotl_space::Nb201Arch;
use sotl_train::{
    epochs_csv, torch_rng_lock, Batch, BatchOutput, EpochSummary, Event, ParamGroup, Sgd,
    TrainRunConfig, Trainer,
};
use tch::nn::VarStore;

use crate::common::{load_config, print_json, Global};

/// Arguments of `train`; each flag overrides the config key named in its help.
#[derive(Debug, clap::Args)]
pub struct TrainArgs {
    /// The cell, a NAS-Bench-201 arch string such as
    /// '|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|' (config `arch`).
    #[arg(long)]
    arch: Option<String>,
    /// TOML config with the keys of `TrainRunConfig` (unknown keys are rejected).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Dataset: cifar10, cifar100, imagenet16-120, mnist or synthetic (config `dataset`, default cifar10).
    #[arg(long)]
    dataset: Option<DatasetName>,
    /// Training epochs (config `epochs`, default 200).
    #[arg(long)]
    epochs: Option<usize>,
    /// Minibatch size (config `batch_size`, default 256).
    #[arg(long)]
    batch_size: Option<usize>,
    /// Peak learning rate of the cosine schedule (config `lr`, default 0.1).
    #[arg(long)]
    lr: Option<f64>,
    /// Weight decay (config `weight_decay`, default 5e-4).
    #[arg(long)]
    wd: Option<f64>,
    /// Train on a stratified subset of N training images (config `subset`).
    #[arg(long, value_name = "N")]
    subset: Option<usize>,
    /// Evaluate on a stratified subset of N test images (config `test_subset`).
    #[arg(long, value_name = "N")]
    test_subset: Option<usize>,
    /// Resize images to SIDE x SIDE once at load, e.g. 16 (config `resize`).
    #[arg(long, value_name = "SIDE")]
    resize: Option<i64>,
    /// Channels of the first stage (config `channels`, default 16).
    #[arg(long = "channels", visible_alias = "C", value_name = "C")]
    channels: Option<i64>,
    /// Cells per stage (config `cells_per_stage`, default 5).
    #[arg(long = "cells", visible_alias = "N", value_name = "N")]
    cells: Option<usize>,
    /// Run seed (config `seed`, default 0).
    #[arg(long)]
    seed: Option<u64>,
    /// Evaluate on the test set every K epochs (config `eval_every_epochs`, default 1).
    #[arg(long, value_name = "K")]
    eval_every: Option<usize>,
    /// Output folder: config.json, checkpoint, epochs.json/csv, record.json, summary.json.
    /// Rerunning with the same folder and settings resumes where the last run stopped.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

/// What a finished run reports (summary.json, and stdout with --json).
#[derive(Debug, Serialize)]
struct Summary {
    arch: String,
    dataset: DatasetName,
    param_count: i64,
    mflops: f64,
    train_images: usize,
    test_images: usize,
    image_size: i64,
    epochs: usize,
    steps: usize,
    final_train_loss: Option<f64>,
    final_train_acc: Option<f64>,
    final_test_loss: Option<f64>,
    final_test_acc: Option<f64>,
    seconds: f64,
    resumed_from_step: Option<usize>,
}

/// Runs `train`.
pub fn run(args: TrainArgs, g: &Global) -> Result<()> {
    g.apply_threads();
    let device = g.device()?;
    let cfg = merge(load_config::<TrainRunConfig>(args.config.as_deref())?, &args);
    cfg.validate()?;
    let arch_str = cfg.arch.clone().unwrap_or_default();
    let arch: Nb201Arch = arch_str.parse().with_context(|| format!("bad --arch {arch_str:?}"))?;
    if let Some(out) = &args.out {
        prepare_out(out, &cfg)?;
    }

    let (train_set, test_set) = load_data(&cfg, g)?;
    let [c, h, _] = train_set.image_shape();
    let train_idx = pick(&train_set, cfg.subset, cfg.seed)?;
    let test_idx = pick(&test_set, cfg.test_subset, cfg.seed)?;
    let (train_set, test_set) = (train_set.to_device(device), test_set.to_device(device));
    let norm = Normalization::for_dataset(cfg.dataset);
    // NAS-Bench-201 trains with PyTorch's DataLoader defaults: the last partial batch is kept.
    let train_cfg = LoaderConfig {
        drop_last: false,
        ..LoaderConfig::train(
            cfg.batch_size,
            cfg.seed,
            Augment::for_dataset(cfg.dataset),
            norm.clone(),
        )
    };
    let mut train = Loader::new(&train_set, &train_idx, train_cfg)?;
    let mut test = Loader::new(&test_set, &test_idx, LoaderConfig::eval(cfg.batch_size, norm))?;

    let net_cfg = Nb201NetConfig {
        channels: cfg.channels,
        cells_per_stage: cfg.cells_per_stage,
        num_classes: train_set.num_classes() as i64,
        in_channels: c,
        image_size: h,
    };
    let vs = VarStore::new(device);
    let net = {
        let _rng = torch_rng_lock();
        tch::manual_seed(sotl_train::torch_seed(cfg.seed, sotl_train::Stream::Init, 0));
        Nb201Network::new(&vs.root(), &arch, &net_cfg)?
    };
    let opt = Sgd::new(ParamGroup::from_var_store(&vs)?, cfg.sgd())?;
    let mut trainer = Trainer::new(cfg.trainer(), opt, vs.variables().into_iter().collect())?;
    trainer.set_param_count(net.param_count() as u64);
    let paths = args.out.as_ref().map(|o| OutFiles::new(o));
    if let Some(p) = &paths {
        trainer = trainer.with_checkpoint(&p.checkpoint);
    }
    let resumed = if trainer.resume_if_present()? { Some(trainer.step()) } else { None };
    if let Some(s) = resumed {
        eprintln!("resuming from the checkpoint after step {s}");
    }
    eprintln!(
        "training {arch} (C={}, N={}, {} params) on {} {} train / {} test images of {c}x{h}x{h} for {} epochs",
        cfg.channels,
        cfg.cells_per_stage,
        net.param_count(),
        cfg.dataset,
        train_idx.len(),
        test_idx.len(),
        cfg.epochs
    );

    let total = (cfg.epochs * sotl_train::BatchSource::batches_per_epoch(&train)) as u64;
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template(
            "{elapsed_precise} [{bar:30}] {pos}/{len} steps {msg} (eta {eta})",
        )
        .expect("static template")
        .progress_chars("=> "),
    );
    bar.set_position(trainer.step() as u64);
    let mut objective = |b: &Batch, train: bool| {
        Ok(BatchOutput::classification(&net.forward_t(&b.inputs, train), &b.targets))
    };
    let mut write_err: Option<anyhow::Error> = None;
    let mut epochs_so_far: Vec<EpochSummary> = trainer.epochs().to_vec();
    let status = trainer.run(
        &mut train,
        Some(&mut test),
        &mut objective,
        &mut |e| match e {
            Event::Step { record, lr, .. } => {
                bar.inc(1);
                bar.set_message(format!(
                    "epoch {} loss {:.4} lr {:.4}",
                    record.epoch, record.train_loss, lr
                ));
            }
            Event::Epoch(s) => {
                bar.println(epoch_line(s));
                epochs_so_far.push(s.clone());
                if let (Some(p), None) = (&paths, &write_err) {
                    write_err = p.write_epochs(&epochs_so_far).err();
                }
            }
            Event::Val(_) | Event::Checkpoint { .. } => {}
        },
        None,
    );
    bar.finish_and_clear();
    let status = status?;
    if let Some(e) = write_err {
        return Err(e);
    }
    debug_assert_eq!(status, sotl_train::RunStatus::Finished);

    let (record, epochs) = trainer.into_record();
    let last = epochs.last();
    let last_eval = epochs.iter().rev().find(|e| e.val_acc.is_some());
    let summary = Summary {
        arch: arch.to_string(),
        dataset: cfg.dataset,
        param_count: net.param_count(),
        mflops: net.mflops(),
        train_images: train_idx.len(),
        test_images: test_idx.len(),
        image_size: h,
        epochs: epochs.len(),
        steps: record.steps.len(),
        final_train_loss: last.map(|e| e.train_loss),
        final_train_acc: last.and_then(|e| e.train_acc),
        final_test_loss: last_eval.and_then(|e| e.val_loss),
        final_test_acc: last_eval.and_then(|e| e.val_acc),
        seconds: epochs.iter().map(|e| e.seconds).sum::<f64>(),
        resumed_from_step: resumed,
    };
    if let Some(p) = &paths {
        p.write_epochs(&epochs)?;
        sotl_report::write_json_atomic(&p.record, &record)
            .with_context(|| p.record.display().to_string())?;
        sotl_report::write_json_atomic(&p.summary, &summary)
            .with_context(|| p.summary.display().to_string())?;
    }
    if g.json {
        return print_json(&summary);
    }
    println!("arch        {}", summary.arch);
    println!("params      {} ({:.2} MFLOPs/image)", summary.param_count, summary.mflops);
    println!("epochs      {} ({} steps, {:.1} s)", summary.epochs, summary.steps, summary.seconds);
    if let Some(acc) = summary.final_test_acc {
        println!(
            "test acc    {:.2}% (loss {:.4})",
            100.0 * acc,
            summary.final_test_loss.unwrap_or(f64::NAN)
        );
    }
    if let Some(p) = &paths {
        println!("results     {}", p.dir.display());
    }
    Ok(())
}

/// Config file values, overridden by the flags that were given.
fn merge(mut cfg: TrainRunConfig, a: &TrainArgs) -> TrainRunConfig {
    fn set<T: Clone>(dst: &mut T, v: &Option<T>) {
        if let Some(v) = v {
            *dst = v.clone();
        }
    }
    if a.arch.is_some() {
        cfg.arch = a.arch.clone();
    }
    set(&mut cfg.dataset, &a.dataset);
    set(&mut cfg.epochs, &a.epochs);
    set(&mut cfg.batch_size, &a.batch_size);
    set(&mut cfg.lr, &a.lr);
    set(&mut cfg.weight_decay, &a.wd);
    set(&mut cfg.channels, &a.channels);
    set(&mut cfg.cells_per_stage, &a.cells);
    set(&mut cfg.seed, &a.seed);
    set(&mut cfg.eval_every_epochs, &a.eval_every);
    if a.subset.is_some() {
        cfg.subset = a.subset;
    }
    if a.test_subset.is_some() {
        cfg.test_subset = a.test_subset;
    }
    if a.resize.is_some() {
        cfg.resize = a.resize;
    }
    cfg
}

/// Creates the output folder, refusing one that holds a run with other settings.
fn prepare_out(out: &Path, cfg: &TrainRunConfig) -> Result<()> {
    let path = out.join("config.json");
    if path.exists() {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let old: TrainRunConfig = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a train config", path.display()))?;
        if &old != cfg {
            bail!(
                "{} holds a run with other settings; rerun with the same settings to resume it, or pick another --out",
                out.display()
            );
        }
        return Ok(());
    }
    sotl_report::write_json_atomic(&path, cfg)
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Loads (train, test) for the configured dataset, resized when asked.
fn load_data(cfg: &TrainRunConfig, g: &Global) -> Result<(Dataset, Dataset)> {
    let root = match cfg.dataset {
        DatasetName::Synthetic => DataRoot::new(g.data_root().unwrap_or_default()),
        _ => DataRoot::new(g.require_data_root()?),
    };
    let root = match cache_dir() {
        Some(d) => root.with_cache_dir(d),
        None => root,
    };
    let (mut train, mut test) = root.load(cfg.dataset)?;
    if cfg.dataset == DatasetName::Synthetic {
        eprintln!("note: using the generated synthetic dataset (no files)");
    }
    if let Some(side) = cfg.resize {
        let [_, h, w] = train.image_shape();
        let mode = if side < h.min(w) { ResizeMode::Area } else { ResizeMode::Bilinear };
        train = resize(&train, side, side, mode)?;
        test = resize(&test, side, side, mode)?;
    }
    Ok((train, test))
}

/// Where decoded image folders are cached: `$XDG_CACHE_HOME/sotl-nas/datasets` or `~/.cache/...`.
fn cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("sotl-nas").join("datasets"))
}

/// All indices of `data`, or a seeded stratified subset of `n`.
fn pick(data: &Dataset, n: Option<usize>, seed: u64) -> Result<Vec<i64>> {
    let all: Vec<i64> = (0..data.len() as i64).collect();
    match n {
        Some(n) if n < data.len() => Ok(stratified_sample(&data.labels_vec(), &all, n, seed)?),
        _ => Ok(all),
    }
}

fn epoch_line(s: &EpochSummary) -> String {
    let pct = |x: Option<f64>| x.map_or("-".to_string(), |v| format!("{:.2}%", 100.0 * v));
    format!(
        "epoch {:>3}  lr {:.5}  train loss {:.4} acc {}  test loss {} acc {}  ({:.1} s)",
        s.epoch,
        s.lr,
        s.train_loss,
        pct(s.train_acc),
        s.val_loss.map_or("-".to_string(), |v| format!("{v:.4}")),
        pct(s.val_acc),
        s.seconds
    )
}

/// The files of an output folder.
struct OutFiles {
    dir: PathBuf,
    checkpoint: PathBuf,
    epochs_json: PathBuf,
    epochs_csv: PathBuf,
    record: PathBuf,
    summary: PathBuf,
}

impl OutFiles {
    fn new(dir: &Path) -> Self {
        OutFiles {
            dir: dir.to_path_buf(),
            checkpoint: dir.join("checkpoint.ot"),
            epochs_json: dir.join("epochs.json"),
            epochs_csv: dir.join("epochs.csv"),
            record: dir.join("record.json"),
            summary: dir.join("summary.json"),
        }
    }

    fn write_epochs(&self, epochs: &[EpochSummary]) -> Result<()> {
        sotl_report::write_json_atomic(&self.epochs_json, epochs)
            .with_context(|| format!("cannot write {}", self.epochs_json.display()))?;
        sotl_report::write_atomic(&self.epochs_csv, epochs_csv(epochs).as_bytes())
            .with_context(|| format!("cannot write {}", self.epochs_csv.display()))
    }
}
