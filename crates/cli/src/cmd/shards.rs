//! `sotl-nas shards missing`: which shards of a sharded ranking or study still lack results.

use std::path::PathBuf;

use anyhow::Result;
use sotl_experiments::shard::{array_spec, missing_shards, missing_study_shards};

use crate::common::{print_json, Global};

/// Arguments of `shards`.
#[derive(Debug, clap::Args)]
pub struct ShardsArgs {
    #[command(subcommand)]
    cmd: ShardsCommand,
}

#[derive(Debug, clap::Subcommand)]
enum ShardsCommand {
    /// Print the shard indices (of --shards) with a candidate still lacking a result, in the
    /// form `sbatch --array` takes (e.g. `1,3-4`); nothing when every shard is done.
    Missing {
        /// The plan written by `oneshot plan`.
        #[arg(
            long,
            value_name = "PLAN",
            required_unless_present = "study",
            conflicts_with = "study"
        )]
        plan: Option<PathBuf>,
        /// Or a study folder of `darts --shard` / `oneshot run --shard` tasks.
        #[arg(long, value_name = "DIR")]
        study: Option<PathBuf>,
        /// Shards the candidates were split into.
        #[arg(long)]
        shards: usize,
    },
}

/// Runs `shards`.
pub fn run(args: ShardsArgs, g: &Global) -> Result<()> {
    match args.cmd {
        ShardsCommand::Missing { plan, study, shards } => {
            let missing = match (plan, study) {
                (Some(p), _) => missing_shards(&p, shards)?,
                (None, Some(d)) => missing_study_shards(&d, shards)?,
                (None, None) => anyhow::bail!("give --plan or --study"),
            };
            if g.json {
                return print_json(&missing);
            }
            println!("{}", array_spec(&missing));
            Ok(())
        }
    }
}
