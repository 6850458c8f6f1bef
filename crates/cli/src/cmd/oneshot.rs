//! `sotl-nas oneshot train|rank|run`: one-shot supernet training and finetune-and-rank. Flags
//! to config; the work is in `sotl_experiments::oneshot`.

use std::path::PathBuf;

use anyhow::Result;
use serde::Serialize;
use sotl_experiments::data::load_splits;
use sotl_experiments::{oneshot, shard};
use sotl_search::{OneShotConfig, SizeFlags, SpaceChoice, SupernetTrainerConfig, TrainerKind};

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
    /// Finetune-and-rank a fixed pool from a trained supernet (resumes from --out); with
    /// --plan and --shard, only one shard of a plan's candidates (a job-array task).
    Rank(RankArgs),
    /// Write the plan of a sharded ranking: the pool, stamped with the supernet's and config's
    /// hashes (then `oneshot rank --plan --shard`, `shards missing`, `oneshot merge`).
    Plan(PlanArgs),
    /// Merge the shards' results of a plan into the outputs of an unsharded `oneshot rank`.
    Merge(MergeArgs),
    /// Train and rank for several trainers and seeds, then the Table 4.1-style summary.
    Run(RunArgs),
    /// The proxy ceiling: train the pool's first candidates standalone at the study's proxy
    /// scale and rank them against NAS-Bench-201 (resumes from --out).
    Ceiling(CeilingArgs),
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
    /// Search space: nb201, darts, darts-s2, darts-s3, darts-s4, nb1shot1-s1, nb1shot1-s2,
    /// nb1shot1-s3 (`space`).
    #[arg(long, value_parser = super::darts::parse_space)]
    pub space: Option<SpaceChoice>,
    /// Supernet channels C (`net.channels`; `darts_net.channels` / `nb1shot1_net.channels` in
    /// those spaces).
    #[arg(long)]
    pub channels: Option<i64>,
    /// Cells per stage N (`net.cells_per_stage`, NAS-Bench-201).
    #[arg(long)]
    pub cells: Option<usize>,
    /// Cells of the DARTS-space or NAS-Bench-1shot1 supernet (`darts_net.layers`,
    /// `nb1shot1_net.layers`).
    #[arg(long)]
    pub layers: Option<usize>,
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
        if let Some(v) = self.space {
            c.space = v;
        }
        let flags = SizeFlags { channels: self.channels, cells: self.cells, layers: self.layers };
        c.space.apply_size_flags(flags, &mut c.net, &mut c.darts_net, &mut c.nb1shot1_net)?;
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
    #[arg(long, value_name = "CKPT", required_unless_present = "plan", conflicts_with = "plan")]
    supernet: Option<PathBuf>,
    /// A plan written by `oneshot plan`: rank the candidates of --shard beside it.
    #[arg(long, value_name = "PLAN", requires = "shard", conflicts_with_all = ["pool", "out"])]
    plan: Option<PathBuf>,
    /// The shard: i/N (candidates with id mod N = i), auto/N (i from SLURM_ARRAY_TASK_ID or
    /// JOB_COMPLETION_INDEX) or auto (a Slurm array 0..N-1).
    #[arg(long, value_name = "SHARD", requires = "plan")]
    shard: Option<String>,
    /// Candidate pool (JSON); default: <out>/pool.json, created from pool.seed if absent.
    #[arg(long, value_name = "FILE")]
    pool: Option<PathBuf>,
    /// Output folder (results.jsonl, ranking files); rerun to resume.
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
struct PlanArgs {
    /// Supernet checkpoint written by `oneshot train` (its folder's config.json gives the setup).
    #[arg(long, value_name = "CKPT")]
    supernet: PathBuf,
    /// Candidate pool (JSON); default: <out>/pool.json, created from pool.seed if absent.
    #[arg(long, value_name = "FILE")]
    pool: Option<PathBuf>,
    /// Folder of the plan and the shards' results.
    #[arg(long)]
    out: PathBuf,
}

#[derive(Debug, clap::Args)]
struct MergeArgs {
    /// The plan whose shards' results are merged (outputs go beside it).
    #[arg(long, value_name = "PLAN")]
    plan: PathBuf,
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
    /// Run only the trainer x seed cells of this job-array shard (i/N, auto/N or auto; cells
    /// numbered trainer-major); the summary waits for --merge.
    #[arg(long, value_name = "SHARD")]
    shard: Option<String>,
    /// Train and rank nothing new: check every cell has its picks, then the summary.
    #[arg(long)]
    merge: bool,
    #[command(flatten)]
    cfg: ConfigArgs,
}

#[derive(Debug, clap::Args)]
struct CeilingArgs {
    /// Standalone training epochs per candidate, with the supernet's optimizer and schedule.
    #[arg(long, default_value_t = 4)]
    standalone_epochs: usize,
    /// Train the first N candidates of the pool (0: all).
    #[arg(long, default_value_t = 0, value_name = "N")]
    candidates: usize,
    /// Output folder (pool.json, standalone/<index>/, ceiling.md/csv/json); rerun to resume.
    /// A one-shot study's folder works: its pool.json is reused.
    #[arg(long, default_value = "runs/oneshot-ceiling")]
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
    let env = g.env()?;
    match args.cmd {
        OneshotCommand::Train(a) => {
            let mut cfg = a.cfg.resolve(None)?;
            cfg.train.trainer = SupernetTrainerConfig { kind: a.trainer, ..cfg.train.trainer };
            cfg.validate()?;
            let data = load_splits(&env, &cfg.data)?;
            let summary = oneshot::train_supernet(&env, &cfg, &data, &a.out)?;
            report_done(g, &summary)
        }
        OneshotCommand::Rank(a) => match (a.plan, a.shard, a.supernet) {
            (Some(plan), Some(shard), _) => {
                let summary = shard::rank_shard(&env, &plan, shard::Shard::parse(&shard)?)?;
                report_done(g, &summary)
            }
            (_, _, Some(supernet)) => {
                let summary =
                    oneshot::rank_supernet(&env, &supernet, a.pool.as_deref(), a.out.as_deref())?;
                report_done(g, &summary)
            }
            _ => anyhow::bail!("give --supernet, or --plan with --shard"),
        },
        OneshotCommand::Plan(a) => {
            let plan = shard::plan_rank(&a.supernet, a.pool.as_deref(), &a.out)?;
            if g.json {
                return print_json(&plan);
            }
            println!(
                "plan {}: {} candidates -> {}",
                plan.hash,
                plan.candidates.len(),
                a.out.join(shard::PLAN_FILE).display()
            );
            Ok(())
        }
        OneshotCommand::Merge(a) => report_done(g, &shard::merge_rank(&env, &a.plan)?),
        OneshotCommand::Run(a) => {
            let base = a.cfg.resolve(None)?;
            let mode = shard::GridMode::from_flags(a.shard.as_deref(), a.merge)?;
            let Some(study) =
                oneshot::run_study_grid(&env, &base, &a.trainers, a.seeds, &a.out, mode)?
            else {
                println!("shard done: {}", a.out.display());
                return Ok(());
            };
            if g.json {
                return print_json(&study);
            }
            print!("{}", study.to_text());
            let tables = if study.table.is_some() {
                "table.md, table.csv, curves.svg, rankings.json, "
            } else {
                ""
            };
            println!("written: {}/{tables}picks.json; per run picks.md", a.out.display());
            Ok(())
        }
        OneshotCommand::Ceiling(a) => {
            let cfg = a.cfg.resolve(None)?;
            let settings =
                oneshot::CeilingSettings { epochs: a.standalone_epochs, candidates: a.candidates };
            let report = oneshot::proxy_ceiling(&env, &cfg, settings, &a.out)?;
            if g.json {
                return print_json(&report);
            }
            println!("{}", sotl_search::ScoreRanking::markdown(&report.rankings));
            println!("written: {}/ceiling.md, ceiling.csv, ceiling.json", a.out.display());
            Ok(())
        }
    }
}

fn report_done<T: Serialize + std::fmt::Debug>(g: &Global, v: &T) -> Result<()> {
    if g.json {
        return print_json(v);
    }
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}
