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
    let window = report.sotl_window;
    println!(
        "SoTL search on {} by {} ({:.0} s)",
        report.data,
        report.method.describe(),
        report.seconds
    );
    println!("budget: {}", report.budget);
    println!("chosen: {}", report.chosen);
    if report.ground_truth {
        println!("(NAS-Bench-201 accuracies below were looked up after the choice was made)");
    }
    println!("rank  SoTL(first {window:>3})  NB201 C10 test  arch");
    for r in &report.top {
        let gt = r.nb201_cifar10_test.map_or("      -".to_string(), |v| format!("{v:7.2}"));
        println!("{:>4}  {:>15.3}  {:>14}  {}", r.rank, r.sotl, gt, r.arch);
    }
    if let Some(b) = report.best_finetuned_nb201_cifar10_test {
        println!(
            "best NB201 CIFAR-10 test accuracy among the {} cells finetuned: {b:.2}",
            report.candidates_finetuned
        );
    } else {
        println!("(no NAS-Bench-201 table under the data root: ground-truth accuracies not shown)");
    }
    println!("results: {}/search.json", report.out);
    Ok(())
}
