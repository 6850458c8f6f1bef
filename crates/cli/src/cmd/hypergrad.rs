//! `sotl-nas hypergrad`: online learning-rate tuning by T-step SoTL hypergradients (thesis
//! Section 4.1.1, Figure 4.1). Flags to config; the study is `sotl_experiments::hypergrad`.

use std::path::PathBuf;

use anyhow::Result;
use sotl_experiments::hypergrad::run_hypergrad;
use sotl_studies::{
    DatasetKind, EvalSplit, HyperObjective, HyperOptimizer, HypergradConfig, ModelKind,
};

use crate::common::{load_config, print_json, Global};

/// Arguments of `hypergrad`; each flag overrides the config key named in its help.
#[derive(Debug, clap::Args)]
pub struct HypergradArgs {
    /// TOML config with the keys of `HypergradConfig` (unknown keys are rejected).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Network: mlp or vgg (config `model`, default mlp).
    #[arg(long)]
    model: Option<ModelKind>,
    /// Dataset: mnist or cifar10 (config `dataset`, default mnist).
    #[arg(long)]
    dataset: Option<DatasetKind>,
    /// Unroll lengths, comma-separated, one run each (config `ts`, default 2,10,50,150).
    #[arg(long = "t", visible_alias = "unroll-steps", value_delimiter = ',', value_name = "T,..")]
    t: Option<Vec<usize>>,
    /// Epochs per run (config `epochs`, default 20).
    #[arg(long)]
    epochs: Option<usize>,
    /// What eta descends: sotl or val (config `objective`, default sotl).
    #[arg(long)]
    objective: Option<HyperObjective>,
    /// Minibatch size (config `batch_size`, default 64).
    #[arg(long)]
    batch_size: Option<usize>,
    /// Seed of weights, batch order and validation batches (config `seed`, default 0).
    #[arg(long)]
    seed: Option<u64>,
    /// Initial learning rate (config `eta0`, default 1e-3).
    #[arg(long)]
    eta0: Option<f64>,
    /// Hyper learning rate (config `hyper_lr`, default 1e-2).
    #[arg(long)]
    hyper_lr: Option<f64>,
    /// What descends eta: sgd, or adam as DARTS' architecture optimizer (config
    /// `hyper_optimizer`, default sgd).
    #[arg(long)]
    hyper_optimizer: Option<HyperOptimizer>,
    /// Measure accuracy on test or on val, `val_size` held-out training images, to choose
    /// settings without the test set (config `eval_split`, default test).
    #[arg(long)]
    eval_split: Option<EvalSplit>,
    /// Use only the first N training images (config `train_limit`, default all).
    #[arg(long, visible_alias = "n-train", value_name = "N")]
    train_limit: Option<usize>,
    /// Output folder: config.json, per-T checkpoints, accuracy.{md,csv,svg}, eta.{csv,svg},
    /// results.json. Rerunning with the same folder resumes (more --epochs extend the runs).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

fn merge(mut c: HypergradConfig, a: &HypergradArgs) -> HypergradConfig {
    if let Some(v) = a.model {
        c.model = v;
    }
    if let Some(v) = a.dataset {
        c.dataset = v;
    }
    if let Some(v) = &a.t {
        c.ts = v.clone();
    }
    if let Some(v) = a.epochs {
        c.epochs = v;
    }
    if let Some(v) = a.objective {
        c.objective = v;
    }
    if let Some(v) = a.batch_size {
        c.batch_size = v;
    }
    if let Some(v) = a.seed {
        c.seed = v;
    }
    if let Some(v) = a.eta0 {
        c.eta0 = v;
    }
    if let Some(v) = a.hyper_lr {
        c.hyper_lr = v;
    }
    if let Some(v) = a.hyper_optimizer {
        c.hyper_optimizer = v;
    }
    if let Some(v) = a.eval_split {
        c.eval_split = v;
    }
    if let Some(v) = a.train_limit {
        c.train_limit = v;
    }
    c
}

/// Runs `hypergrad`.
pub fn run(args: HypergradArgs, g: &Global) -> Result<()> {
    g.apply_threads();
    let env = g.env()?;
    let cfg = merge(load_config::<HypergradConfig>(args.config.as_deref())?, &args);
    let study = run_hypergrad(&env, &cfg, args.out.as_deref())?;
    if g.json {
        print_json(&study.summary(&cfg))?;
    } else {
        println!("{}", study.table.to_markdown());
    }
    Ok(())
}
