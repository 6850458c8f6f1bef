//! Standalone training of one network (`sotl-nas train`: a NAS-Bench-201 cell with
//! NAS-Bench-201's hyperparameters; `sotl-nas evaluate`: a DARTS-space genotype with DARTS'
//! evaluation protocol): resumable, per-epoch records, a summary.

use std::path::Path;

use anyhow::{Context, Result};
use serde::Serialize;
use sotl_data::{
    resize, stratified_sample, Augment, Dataset, DatasetName, Normalization, ResizeMode,
};
use sotl_estimators::TrainingRecord;
use sotl_nn::{DartsNetConfig, DartsNetwork, Nb201NetConfig, Nb201Network};
use sotl_space::{DartsGenotype, Nb201Arch};
use sotl_train::{
    cross_entropy, epochs_csv, torch_rng_lock, Batch, BatchOutput, BatchPlan, DeviceImages,
    EpochSummary, Event, OrderSeeding, ParamGroup, Sgd, TrainRunConfig, Trainer,
};
use tch::nn::VarStore;

use crate::{Env, RunDir};

/// What a finished run reports (summary.json).
#[derive(Debug, Clone, Serialize)]
pub struct TrainSummary {
    /// The cell (NAS-Bench-201 arch string) or DARTS genotype.
    pub arch: String,
    /// The dataset.
    pub dataset: DatasetName,
    /// Parameters of the network.
    pub param_count: i64,
    /// Forward MFLOPs per image (NAS-Bench-201 networks; `None` for DARTS-space ones).
    pub mflops: Option<f64>,
    /// Training images used.
    pub train_images: usize,
    /// Test images used.
    pub test_images: usize,
    /// Image side.
    pub image_size: i64,
    /// Epochs run.
    pub epochs: usize,
    /// Steps run.
    pub steps: usize,
    /// Mean training loss of the last epoch.
    pub final_train_loss: Option<f64>,
    /// Training accuracy of the last epoch (fraction).
    pub final_train_acc: Option<f64>,
    /// Test loss at the last evaluation.
    pub final_test_loss: Option<f64>,
    /// Test accuracy at the last evaluation (fraction).
    pub final_test_acc: Option<f64>,
    /// Seconds of training over all invocations.
    pub seconds: f64,
    /// The step a resumed run continued from.
    pub resumed_from_step: Option<usize>,
    /// The run folder, if any.
    pub out: Option<String>,
}

impl TrainSummary {
    /// The human summary: cell, size, epochs, final test accuracy, where the results are.
    pub fn to_text(&self) -> String {
        let flops = self.mflops.map(|m| format!(" ({m:.2} MFLOPs/image)")).unwrap_or_default();
        let mut out = format!(
            "arch        {}\nparams      {}{flops}\nepochs      {} ({} steps, {:.1} s)\n",
            self.arch, self.param_count, self.epochs, self.steps, self.seconds
        );
        if let Some(acc) = self.final_test_acc {
            out.push_str(&format!(
                "test acc    {:.2}% (loss {:.4})\n",
                100.0 * acc,
                self.final_test_loss.unwrap_or(f64::NAN)
            ));
        }
        if let Some(dir) = &self.out {
            out.push_str(&format!("results     {dir}\n"));
        }
        out
    }
}

/// Trains the network of `cfg.arch`; with `out`, resumably (config.json, checkpoint.ot,
/// epochs.json/csv written after every epoch, record.json and summary.json at the end).
pub fn train_standalone(
    env: &Env,
    cfg: &TrainRunConfig,
    out: Option<&Path>,
) -> Result<TrainSummary> {
    cfg.validate()?;
    NetKind::from_config(cfg)?;
    let (train_set, test_set) = load_data(env, cfg)?;
    let train_idx = pick(&train_set, cfg.subset, cfg.seed)?;
    let test_idx = pick(&test_set, cfg.test_subset, cfg.seed)?;
    let norm = Normalization::for_dataset(cfg.dataset);
    let device = env.device;
    let train_images = DeviceImages::new(&train_set.subset(&train_idx, "")?, &norm, None, device)?;
    let test_images = DeviceImages::new(&test_set.subset(&test_idx, "")?, &norm, None, device)?;
    Ok(train_on_images(env, cfg, &train_images, &test_images, out)?.summary)
}

/// What one standalone training produced.
#[derive(Debug, Clone)]
pub struct TrainOutcome {
    /// The summary (summary.json).
    pub summary: TrainSummary,
    /// Every step's training loss (record.json).
    pub record: TrainingRecord,
    /// Per-epoch summaries (epochs.json).
    pub epochs: Vec<EpochSummary>,
}

/// Trains the network of `cfg` on images already on the device (`cfg.subset`, `cfg.test_subset`
/// and `cfg.resize` are the caller's business); with `out`, resumably as [`train_standalone`].
pub fn train_on_images(
    env: &Env,
    cfg: &TrainRunConfig,
    train_images: &DeviceImages,
    test_images: &DeviceImages,
    out: Option<&Path>,
) -> Result<TrainOutcome> {
    let device = env.device;
    cfg.validate()?;
    let net_kind = NetKind::from_config(cfg)?;
    let dims = train_images.images.size();
    let (c, h) = (dims[1], dims[2]);
    // NAS-Bench-201 trains with PyTorch's DataLoader defaults: the last partial batch is kept.
    let mut train = train_images.batches_with(&BatchPlan {
        batch_size: cfg.batch_size,
        shuffle: true,
        seed: cfg.seed,
        seeding: OrderSeeding::Derived,
        drop_last: false,
        augment: Augment {
            cutout: cfg.cutout.filter(|&c| c > 0),
            ..Augment::for_dataset(cfg.dataset)
        },
    })?;
    let mut test = test_images.batches_with(&BatchPlan::eval(cfg.batch_size))?;
    let vs = VarStore::new(device);
    let net = {
        let _rng = torch_rng_lock();
        tch::manual_seed(sotl_train::torch_seed(cfg.seed, sotl_train::Stream::Init, 0));
        match &net_kind {
            NetKind::Nb201(arch) => Net::Nb201(Nb201Network::new(
                &vs.root(),
                arch,
                &Nb201NetConfig {
                    channels: cfg.channels,
                    cells_per_stage: cfg.cells_per_stage,
                    num_classes: train_images.classes as i64,
                    in_channels: c,
                    image_size: h,
                },
            )?),
            NetKind::Darts(g) => {
                let dcfg = DartsNetConfig {
                    channels: cfg.channels,
                    layers: cfg.layers,
                    num_classes: train_images.classes as i64,
                    in_channels: c,
                    image_size: h,
                    ..DartsNetConfig::default()
                };
                Net::Darts(DartsNetwork::new(&vs.root(), &dcfg, g, cfg.auxiliary_weight > 0.0)?)
            }
        }
    };
    // Claimed once the network is built, so a config the network refuses leaves no folder.
    let dir = match out {
        Some(o) => Some(RunDir::claim(o, cfg)?),
        None => None,
    };
    let opt = Sgd::new(ParamGroup::from_var_store(&vs)?, cfg.sgd())?;
    let mut trainer = Trainer::new(cfg.trainer(), opt, vs.variables().into_iter().collect())?;
    trainer.set_param_count(net.param_count() as u64);
    let batches_per_epoch = sotl_train::BatchSource::batches_per_epoch(&train).max(1);
    if let Some(d) = &dir {
        trainer = trainer.with_checkpoint(d.path("checkpoint.ot"));
    }
    let resumed = if trainer.resume_if_present()? { Some(trainer.step()) } else { None };
    if let Some(s) = resumed {
        tracing::info!("resuming from the checkpoint after step {s}");
    }
    tracing::info!(
        "training {} (C={}, {}, {} params) on {} {} train / {} test images of {c}x{h}x{h} for {} epochs",
        net_kind.name(),
        cfg.channels,
        match net_kind {
            NetKind::Nb201(_) => format!("N={}", cfg.cells_per_stage),
            NetKind::Darts(_) => format!("{} layers", cfg.layers),
        },
        net.param_count(),
        cfg.dataset,
        train_images.len(),
        test_images.len(),
        cfg.epochs
    );

    let total = (cfg.epochs * sotl_train::BatchSource::batches_per_epoch(&train)) as u64;
    let bar = env.progress(total, "train");
    bar.set_position(trainer.step() as u64);
    let mut done = trainer.step() as u64;
    // The epoch under way, for DARTS' drop-path schedule (`p * epoch / epochs`, from 0).
    let epoch = std::cell::Cell::new(trainer.step() / batches_per_epoch);
    let mut objective = |b: &Batch, train: bool| {
        Ok(match &net {
            Net::Nb201(n) => {
                BatchOutput::classification(&n.forward_t(&b.inputs, train), &b.targets)
            }
            Net::Darts(n) => {
                let p = cfg.drop_path * epoch.get() as f64 / cfg.epochs.max(1) as f64;
                let (logits, aux) = n.forward_t(&b.inputs, train, p);
                let mut out = BatchOutput::classification(&logits, &b.targets);
                if let Some(aux) = aux {
                    out.loss += cross_entropy(&aux, &b.targets) * cfg.auxiliary_weight;
                }
                out
            }
        })
    };
    let mut write_err: Option<anyhow::Error> = None;
    let mut epochs_so_far: Vec<EpochSummary> = trainer.epochs().to_vec();
    let status = trainer.run(
        &mut train,
        Some(&mut test),
        &mut objective,
        &mut |e| match e {
            Event::Step { record, lr, .. } => {
                done += 1;
                bar.set_position(done);
                bar.set_message(format!(
                    "epoch {} loss {:.4} lr {:.4}",
                    record.epoch, record.train_loss, lr
                ));
            }
            Event::Epoch(s) => {
                epoch.set(s.epoch + 1);
                tracing::info!("{}", epoch_line(s));
                epochs_so_far.push(s.clone());
                if let (Some(d), None) = (&dir, &write_err) {
                    write_err = write_epochs(d, &epochs_so_far).err();
                }
            }
            Event::Val(_) | Event::Checkpoint { .. } => {}
        },
        None,
    );
    bar.finish();
    let status = status?;
    if let Some(e) = write_err {
        return Err(e);
    }
    debug_assert_eq!(status, sotl_train::RunStatus::Finished);

    let (record, epochs) = trainer.into_record();
    let last = epochs.last();
    let last_eval = epochs.iter().rev().find(|e| e.val_acc.is_some());
    let summary = TrainSummary {
        arch: net_kind.name(),
        dataset: cfg.dataset,
        param_count: net.param_count(),
        mflops: match &net {
            Net::Nb201(n) => Some(n.mflops()),
            Net::Darts(_) => None,
        },
        train_images: train_images.len(),
        test_images: test_images.len(),
        image_size: h,
        epochs: epochs.len(),
        steps: record.steps.len(),
        final_train_loss: last.map(|e| e.train_loss),
        final_train_acc: last.and_then(|e| e.train_acc),
        final_test_loss: last_eval.and_then(|e| e.val_loss),
        final_test_acc: last_eval.and_then(|e| e.val_acc),
        seconds: epochs.iter().map(|e| e.seconds).sum::<f64>(),
        resumed_from_step: resumed,
        out: out.map(|o| o.display().to_string()),
    };
    if let Some(d) = &dir {
        write_epochs(d, &epochs)?;
        d.write_json("record.json", &record)?;
        d.write_json("summary.json", &summary)?;
    }
    Ok(TrainOutcome { summary, record, epochs })
}

/// What the config asks to train, parsed.
enum NetKind {
    Nb201(Nb201Arch),
    Darts(DartsGenotype),
}

impl NetKind {
    fn from_config(cfg: &TrainRunConfig) -> Result<Self> {
        if let Some(g) = cfg.genotype.as_deref().filter(|g| !g.trim().is_empty()) {
            let g = g.trim();
            let parsed = if g.starts_with("Genotype") {
                g.parse::<DartsGenotype>()
            } else {
                sotl_space::darts::preset(g)
            };
            return Ok(NetKind::Darts(parsed.with_context(|| format!("bad --genotype {g:?}"))?));
        }
        let a = cfg.arch.clone().unwrap_or_default();
        Ok(NetKind::Nb201(a.parse().with_context(|| format!("bad --arch {a:?}"))?))
    }

    fn name(&self) -> String {
        match self {
            NetKind::Nb201(a) => a.to_string(),
            NetKind::Darts(g) => g.to_string(),
        }
    }
}

/// The network being trained.
enum Net {
    Nb201(Nb201Network),
    Darts(DartsNetwork),
}

impl Net {
    fn param_count(&self) -> i64 {
        match self {
            Net::Nb201(n) => n.param_count(),
            // What DARTS reports as the model size: the auxiliary head is left out.
            Net::Darts(n) => n.param_count_without_auxiliary(),
        }
    }
}

/// Loads (train, test) for the configured dataset, resized when asked.
fn load_data(env: &Env, cfg: &TrainRunConfig) -> Result<(Dataset, Dataset)> {
    let (mut train, mut test) = crate::data::load_dataset(env, cfg.dataset)?;
    if cfg.dataset == DatasetName::Synthetic {
        tracing::info!("using the generated synthetic dataset (no files)");
    }
    if let Some(side) = cfg.resize {
        let [_, h, w] = train.image_shape();
        let mode = if side < h.min(w) { ResizeMode::Area } else { ResizeMode::Bilinear };
        train = resize(&train, side, side, mode)?;
        test = resize(&test, side, side, mode)?;
    }
    Ok((train, test))
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

/// epochs.json and epochs.csv of a run folder.
fn write_epochs(dir: &RunDir, epochs: &[EpochSummary]) -> Result<()> {
    dir.write_json("epochs.json", epochs)?;
    dir.write_bytes("epochs.csv", epochs_csv(epochs).as_bytes())
}
