//! `sotl-nas search`: the main job (`sotl_experiments::search`). Flags to config, then print.

use std::path::PathBuf;

use anyhow::Result;
use sotl_experiments::search::{default_budget, run_search, SearchMethod};

use super::oneshot::ConfigArgs;
use crate::common::{print_json, Global};

/// Parses a search method; `--help` lists every name.
fn search_method() -> impl clap::builder::TypedValueParser<Value = SearchMethod> {
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new(SearchMethod::ALL.map(SearchMethod::name))
        .map(|s| s.parse::<SearchMethod>().expect("a listed method parses"))
}

/// Arguments of `search`.
#[derive(Debug, clap::Args)]
pub struct SearchArgs {
    /// How to choose a cell from the supernet: regularized evolution with finetuning SoTL as
    /// the fitness, or the lowest SoTL of a fixed random pool.
    #[arg(long, default_value = "evolution", value_parser = search_method())]
    method: SearchMethod,
    /// Fitness evaluations of the evolutionary search (`evolution.budget`).
    #[arg(long)]
    budget: Option<usize>,
    /// Output folder; rerun with the same folder to resume.
    #[arg(long, default_value = "runs/search")]
    out: PathBuf,
    /// How many of the ranking to print.
    #[arg(long, default_value_t = 5)]
    top: usize,
    #[command(flatten)]
    cfg: ConfigArgs,
}

/// Runs `search`.
pub fn run(args: SearchArgs, g: &Global) -> Result<()> {
    g.apply_threads();
    let env = g.env()?;
    let mut cfg = args.cfg.resolve(Some(default_budget()))?;
    if let Some(b) = args.budget {
        cfg.evolution.budget = b;
    }
    let report = run_search(&env, cfg, args.method, args.top, &args.out)?;
    if g.json {
        return print_json(&report);
    }
    print!("{}", report.to_text());
    Ok(())
}
