//! `sotl-nas train --arch '<NB201 string>'`: trains one standalone NAS-Bench-201 network with
//! NAS-Bench-201's hyperparameters ([`TrainRunConfig`]); `sotl-nas evaluate --genotype ...`
//! trains a DARTS-space genotype with DARTS' protocol ([`TrainRunConfig::darts_evaluation`]).
//! Flags to config; the run is `sotl_experiments::standalone::train_standalone`.

use std::path::PathBuf;

use anyhow::Result;
use sotl_data::DatasetName;
use sotl_experiments::standalone::train_standalone;
use sotl_train::TrainRunConfig;

use crate::common::{load_config, load_config_over, print_json, Global, NetFlags};

/// Arguments of `train`; each flag overrides the config key named in its help.
#[derive(Debug, clap::Args)]
pub struct TrainArgs {
    /// The cell, a NAS-Bench-201 arch string such as
    /// '|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|' (config `arch`).
    #[arg(long)]
    arch: Option<String>,
    /// A DARTS-space genotype, in the DARTS format `Genotype(normal=[('sep_conv_3x3', 0), ...],
    /// normal_concat=range(2, 6), reduce=[...], reduce_concat=range(2, 6))` or a published one by
    /// name: darts-v1, darts-v2, pdarts, drnas (config `genotype`).
    #[arg(long)]
    genotype: Option<String>,
    /// Cells of the DARTS evaluation network (config `layers`; evaluate: 20).
    #[arg(long)]
    layers: Option<usize>,
    /// Loss weight of the DARTS auxiliary head, 0 for none (config `auxiliary_weight`; evaluate: 0.4).
    #[arg(long)]
    auxiliary_weight: Option<f64>,
    /// DARTS drop-path probability, reached linearly over the epochs (config `drop_path`; evaluate: 0.2).
    #[arg(long)]
    drop_path: Option<f64>,
    /// Cutout side in pixels, 0 for none (config `cutout`; evaluate: 16).
    #[arg(long)]
    cutout: Option<i64>,
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
    #[arg(long, visible_alias = "n-train", value_name = "N")]
    subset: Option<usize>,
    /// Evaluate on a stratified subset of N test images (config `test_subset`).
    #[arg(long, value_name = "N")]
    test_subset: Option<usize>,
    /// Resize images to SIDE x SIDE once at load, e.g. 16 (config `resize`).
    #[arg(long, value_name = "SIDE")]
    resize: Option<i64>,
    #[command(flatten)]
    net: NetFlags,
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

/// Runs `train`.
pub fn run(args: TrainArgs, g: &Global) -> Result<()> {
    g.apply_threads();
    let env = g.env()?;
    let cfg = merge(load_config::<TrainRunConfig>(args.config.as_deref())?, &args);
    let summary = train_standalone(&env, &cfg, args.out.as_deref())?;
    if g.json {
        return print_json(&summary);
    }
    print!("{}", summary.to_text());
    Ok(())
}

/// Runs `evaluate`: `train` over DARTS' evaluation protocol.
pub fn run_evaluate(args: TrainArgs, g: &Global) -> Result<()> {
    g.apply_threads();
    let env = g.env()?;
    let base = load_config_over(args.config.as_deref(), TrainRunConfig::darts_evaluation())?;
    let cfg = merge(base, &args);
    let summary = train_standalone(&env, &cfg, args.out.as_deref())?;
    if g.json {
        return print_json(&summary);
    }
    print!("{}", summary.to_text());
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
    if a.genotype.is_some() {
        cfg.genotype = a.genotype.clone();
    }
    set(&mut cfg.layers, &a.layers);
    set(&mut cfg.auxiliary_weight, &a.auxiliary_weight);
    set(&mut cfg.drop_path, &a.drop_path);
    if a.cutout.is_some() {
        cfg.cutout = a.cutout;
    }
    set(&mut cfg.dataset, &a.dataset);
    set(&mut cfg.epochs, &a.epochs);
    set(&mut cfg.batch_size, &a.batch_size);
    set(&mut cfg.lr, &a.lr);
    set(&mut cfg.weight_decay, &a.wd);
    set(&mut cfg.channels, &a.net.channels);
    set(&mut cfg.cells_per_stage, &a.net.cells);
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
