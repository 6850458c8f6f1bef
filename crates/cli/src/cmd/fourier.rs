//! `sotl-nas fourier`: recovering a Fourier degree with a weight-sharing linear model (thesis
//! Section 4.1.2, Figures 4.2-4.3). Flags to config; the study is `sotl_experiments::fourier`.

use std::path::PathBuf;

use anyhow::Result;
use sotl_experiments::fourier::run_fourier;
use sotl_studies::FourierConfig;

use crate::common::{load_config, print_json, Global};

/// Arguments of `fourier`; each flag overrides the config key named in its help.
#[derive(Debug, clap::Args)]
pub struct FourierArgs {
    /// TOML config with the keys of `FourierConfig` (unknown keys are rejected).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Initial MaxDeg values, comma-separated (config `inits`, default -1,1,8,15).
    #[arg(long, value_delimiter = ',', allow_hyphen_values = true, value_name = "X,..")]
    init: Option<Vec<f64>>,
    /// SoTL unroll lengths, comma-separated (config `ts`, default 2,10,25,100).
    #[arg(long = "t", visible_alias = "unroll-steps", value_delimiter = ',', value_name = "T,..")]
    t: Option<Vec<usize>>,
    /// Weight steps per run (config `steps`).
    #[arg(long)]
    steps: Option<usize>,
    /// Seed of data, weights and batch order (config `seed`, default 0).
    #[arg(long)]
    seed: Option<u64>,
    /// L2 weight decay on MaxDeg per weight step (config `prior`).
    #[arg(long)]
    prior: Option<f64>,
    /// Learning rate of MaxDeg (config `hyper_lr`).
    #[arg(long)]
    hyper_lr: Option<f64>,
    /// Learning rate of the weights (config `weight_lr`).
    #[arg(long)]
    weight_lr: Option<f64>,
    /// Standard deviation of the target noise (config `noise_std`, default 0).
    #[arg(long)]
    noise: Option<f64>,
    /// Skip the one-step validation-loss baseline (config `baseline = false`).
    #[arg(long)]
    no_baseline: bool,
    /// Output folder: config.json, fixed_degree.{md,csv}, maxdeg.{md,csv}, maxdeg_init*.svg,
    /// results.json.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

fn merge(mut c: FourierConfig, a: &FourierArgs) -> FourierConfig {
    if let Some(v) = &a.init {
        c.inits = v.clone();
    }
    if let Some(v) = &a.t {
        c.ts = v.clone();
    }
    if let Some(v) = a.steps {
        c.steps = v;
    }
    if let Some(v) = a.seed {
        c.seed = v;
    }
    if let Some(v) = a.prior {
        c.prior = v;
    }
    if let Some(v) = a.hyper_lr {
        c.hyper_lr = v;
    }
    if let Some(v) = a.weight_lr {
        c.weight_lr = v;
    }
    if let Some(v) = a.noise {
        c.noise_std = v;
    }
    if a.no_baseline {
        c.baseline = false;
    }
    c
}

/// Runs `fourier`.
pub fn run(args: FourierArgs, g: &Global) -> Result<()> {
    g.apply_threads();
    let env = g.env()?;
    let cfg = merge(load_config::<FourierConfig>(args.config.as_deref())?, &args);
    let summary = run_fourier(&env, &cfg, args.out.as_deref())?;
    if g.json {
        return print_json(&summary);
    }
    println!("{}\n", summary.fixed_table.to_markdown());
    println!("{}", summary.trajectory_table.to_markdown());
    Ok(())
}
