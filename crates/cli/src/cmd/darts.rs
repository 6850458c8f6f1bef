//! `sotl-nas darts`: differentiable NAS (DARTS, SoTL-DARTS, SoVL-DARTS, exact SoTL
//! hypergradients, DrNAS, SoTL-DrNAS, PDARTS, SoTL-PDARTS) on NAS-Bench-201 or the DARTS
//! space, several seeds, a
//! summary table. Flags to config; the study is `sotl_experiments::darts::run_darts`.

use std::path::PathBuf;

use anyhow::Result;
use sotl_experiments::darts::run_darts_grid;
use sotl_experiments::shard::GridMode;
use sotl_search::{DartsMethod, DartsRunConfig, SizeFlags, SpaceChoice};

use crate::common::{load_config, print_json, Global};

/// Arguments of `darts`.
#[derive(Debug, clap::Args)]
pub struct DartsArgs {
    /// Methods, comma-separated: darts1, darts2, sotl, sovl, sotl-exact, drnas, sotl-drnas;
    /// pdarts and sotl-pdarts on the DARTS space (`[pdarts]`).
    #[arg(long, value_delimiter = ',', value_parser = parse_method)]
    pub method: Vec<DartsMethod>,
    /// Search space: nb201, darts, darts-s2, darts-s3, darts-s4 (Zela et al.'s restricted
    /// DARTS spaces), nb1shot1-s1, nb1shot1-s2, nb1shot1-s3.
    #[arg(long, value_parser = parse_space)]
    pub space: Option<SpaceChoice>,
    /// Seeds per method.
    #[arg(long)]
    pub seeds: Option<usize>,
    /// Run only the method x seed cells of this job-array shard (i/N, auto/N or auto; cells
    /// numbered method-major); the tables wait for --merge.
    #[arg(long, value_name = "SHARD")]
    pub shard: Option<String>,
    /// Search nothing: check every cell has its result, then write the tables.
    #[arg(long)]
    pub merge: bool,
    /// First seed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// TOML config (`methods`, `seeds`, `space`, `[search]`, `[net]`, `[darts_net]`, `[nb1shot1_net]`,
    /// `[pdarts]`, `[data]`); flags override it.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Run folder: config.json, per-seed checkpoints, trajectories, plots, table. Rerunning with
    /// the same folder resumes.
    #[arg(long, default_value = "darts-runs")]
    pub out: PathBuf,
    /// Search epochs (per stage for PDARTS).
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Epochs at the start (of each PDARTS stage) that train the weights only.
    #[arg(long)]
    pub arch_warmup_epochs: Option<usize>,
    /// T, the SoTL / SoVL window.
    #[arg(long, visible_alias = "t")]
    pub unroll_steps: Option<usize>,
    /// Minibatch size.
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Micro-batches per minibatch, gradients summed (`search.accumulate`; 1 = off).
    #[arg(long)]
    pub accumulate: Option<usize>,
    /// Measure the alpha-Hessian eigenvalue every this many epochs (0: never).
    #[arg(long)]
    pub eigen_every: Option<usize>,
    /// Training images kept from the train half (0: all 25 000).
    #[arg(long)]
    pub n_train: Option<usize>,
    /// Validation images kept from the valid half (0: all 25 000).
    #[arg(long)]
    pub n_val: Option<usize>,
    /// Image side after down-sizing (0: native 32).
    #[arg(long)]
    pub image_size: Option<i64>,
    /// Train on the whole training set (`data.train_on_all = true`; SoTL methods only).
    #[arg(long, conflicts_with = "train_on_halves")]
    pub train_on_all: bool,
    /// Train on the train half only (`data.train_on_all = false`).
    #[arg(long)]
    pub train_on_halves: bool,
    /// Supernet channels C (of `[net]`; of `[darts_net]` / `[nb1shot1_net]` in those spaces).
    #[arg(long)]
    pub channels: Option<i64>,
    /// Cells per stage N (NAS-Bench-201).
    #[arg(long)]
    pub cells: Option<usize>,
    /// Cells of the DARTS-space search network (8 in DARTS) or the NAS-Bench-1shot1 one-shot
    /// model (9).
    #[arg(long)]
    pub layers: Option<usize>,
}

/// Parses a `--space` value (shared by `darts` and `oneshot`).
pub(crate) fn parse_space(s: &str) -> Result<SpaceChoice, String> {
    s.parse().map_err(|e: sotl_search::DartsError| e.to_string())
}

/// Parses a `--method` value (shared by `darts` and `perf darts-space`).
pub(crate) fn parse_method(s: &str) -> Result<DartsMethod, String> {
    s.parse().map_err(|e: sotl_search::DartsError| e.to_string())
}

/// Runs `darts`.
pub fn run(args: DartsArgs, g: &Global) -> Result<()> {
    g.apply_threads();
    let env = g.env()?;
    let mut cfg: DartsRunConfig = load_config(args.config.as_deref())?;
    if !args.method.is_empty() {
        cfg.methods = args.method.clone();
    }
    override_with(&mut cfg.seeds, args.seeds);
    override_with(&mut cfg.seed_base, args.seed);
    override_with(&mut cfg.search.epochs, args.epochs);
    override_with(&mut cfg.search.arch_warmup_epochs, args.arch_warmup_epochs);
    override_with(&mut cfg.search.unroll_steps, args.unroll_steps);
    override_with(&mut cfg.search.batch_size, args.batch_size);
    override_with(&mut cfg.search.accumulate, args.accumulate);
    override_with(&mut cfg.search.eigen_every, args.eigen_every);
    override_with(&mut cfg.data.n_train, args.n_train);
    override_with(&mut cfg.data.n_val, args.n_val);
    override_with(&mut cfg.data.image_size, args.image_size);
    if args.train_on_all || args.train_on_halves {
        cfg.data.train_on_all = args.train_on_all;
    }
    override_with(&mut cfg.space, args.space);
    let flags = SizeFlags { channels: args.channels, cells: args.cells, layers: args.layers };
    cfg.space.apply_size_flags(flags, &mut cfg.net, &mut cfg.darts_net, &mut cfg.nb1shot1_net)?;
    let mode = GridMode::from_flags(args.shard.as_deref(), args.merge)?;
    let Some(study) = run_darts_grid(&env, &cfg, &args.out, mode)? else {
        println!("shard done: {}", args.out.display());
        return Ok(());
    };
    if g.json {
        return print_json(&study.seeds);
    }
    print!("{}", study.to_text());
    println!("results in {}", args.out.display());
    Ok(())
}

fn override_with<T>(slot: &mut T, v: Option<T>) {
    if let Some(v) = v {
        *slot = v;
    }
}
