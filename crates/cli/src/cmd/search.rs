//! `sotl-nas search`: the main job. A one-shot SoTL search: train an SPOS supernet, finetune a
//! pool of candidates from it, rank them by SoTL, print the choice.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
use serde::Serialize;
use sotl_search::{
    load_supernet, rank_by, DataSource, OneShotConfig, Phase, RankMetric, TableRow, TrainerKind,
};

use super::oneshot::{
    build_net, cifar10_truth, load_bench, load_data, pool_for, rank_in, train_in, ConfigArgs,
};
use crate::common::{print_json, Global};

/// Arguments of `search`.
#[derive(Debug, clap::Args)]
pub struct SearchArgs {
    /// Output folder; rerun with the same folder to resume.
    #[arg(long, default_value = "runs/search")]
    out: PathBuf,
    /// How many of the ranking to print.
    #[arg(long, default_value_t = 5)]
    top: usize,
    #[command(flatten)]
    cfg: ConfigArgs,
}

/// The default budget: about 2 minutes on 2 idle CPU cores (well under 5). A C=8, N=1 supernet
/// on 16x16 images, 4 000 training / 1 000 validation images, 10 SPOS epochs, then a pool of 20
/// candidates finetuned for 100 minibatches each and ranked by SoTL over those 100. (With 4
/// epochs and SoTL over 20 steps, the ranking favoured parameter-free cells: too little training
/// for the sum of losses to separate the candidates.)
pub fn default_budget() -> OneShotConfig {
    let mut c = OneShotConfig::default();
    c.data.source = DataSource::Auto;
    c.data.n_train = 4_000;
    c.data.n_val = 1_000;
    c.data.image_size = 16;
    c.data.synthetic_images = 4_000;
    c.net.channels = 8;
    c.net.cells_per_stage = 1;
    c.train.epochs = 10;
    c.pool.size = 20;
    c.finetune.steps = 100;
    c.finetune.sotl_window = 100;
    c.finetune.val_every = 100;
    c.finetune.mini_val_every = 10;
    c.finetune.inherited_window = 0;
    c.report.top_k = 5;
    c
}

#[derive(Debug, Serialize)]
struct Ranked {
    rank: usize,
    arch: String,
    sotl: f64,
    nb201_cifar10_test: Option<f64>,
}

#[derive(Debug, Serialize)]
struct SearchReport {
    data: &'static str,
    chosen: String,
    chosen_nb201_cifar10_test: Option<f64>,
    top: Vec<Ranked>,
    pool_size: usize,
    pool_best_nb201_cifar10_test: Option<f64>,
    seconds: f64,
    out: String,
}

/// Runs `search`.
pub fn run(args: SearchArgs, g: &Global) -> Result<()> {
    // Small path networks run fastest single-threaded on a shared 2-core machine (libtorch's
    // default thread pool spins against other processes); --threads overrides.
    match g.threads {
        Some(_) => g.apply_threads(),
        None => tch::set_num_threads(1),
    }
    let t0 = Instant::now();
    let mut cfg = args.cfg.resolve(Some(default_budget()))?;
    cfg.train.trainer.kind = TrainerKind::Spos;
    cfg.validate()?;
    let data = load_data(g, &cfg)?;
    train_in(g, &cfg, &data, &args.out)?;
    let (_vs, net) = build_net(g, &cfg, &data)?;
    load_supernet(&net, &args.out.join("supernet.ot"))?;
    let pool = pool_for(&cfg, None, &args.out)?;
    let results = rank_in(&cfg, &net, &data, &pool, &args.out)?;
    // The search ranks by SoTL alone; ground truth is looked up only afterwards, for the report.
    let row =
        TableRow { metric: RankMetric::Sotl, phase: Phase::Finetuned(cfg.finetune.sotl_window) };
    let order = rank_by(&results, &row, cfg.finetune.sotl_window)?;
    let bench = load_bench(g);
    let truth = |i: usize| bench.as_ref().and_then(|b| cifar10_truth(b, &results[i].arch));
    let top: Vec<Ranked> = order
        .iter()
        .take(args.top.max(1))
        .enumerate()
        .map(|(r, &(i, s))| Ranked {
            rank: r + 1,
            arch: results[i].arch.to_string(),
            sotl: s,
            nb201_cifar10_test: truth(i),
        })
        .collect();
    let best = (0..results.len())
        .filter_map(truth)
        .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))));
    let report = SearchReport {
        data: data.source,
        chosen: top[0].arch.clone(),
        chosen_nb201_cifar10_test: top[0].nb201_cifar10_test,
        top,
        pool_size: results.len(),
        pool_best_nb201_cifar10_test: best,
        seconds: t0.elapsed().as_secs_f64(),
        out: args.out.display().to_string(),
    };
    sotl_report::write_json_atomic(&args.out.join("search.json"), &report)?;
    if g.json {
        return print_json(&report);
    }
    println!(
        "one-shot SoTL search on {} ({} candidates, {:.0} s)",
        report.data, report.pool_size, report.seconds
    );
    println!("chosen: {}", report.chosen);
    println!("rank  SoTL(first {:>3})  NB201 C10 test  arch", cfg.finetune.sotl_window);
    for r in &report.top {
        let gt = r.nb201_cifar10_test.map_or("      -".to_string(), |v| format!("{v:7.2}"));
        println!("{:>4}  {:>15.3}  {:>14}  {}", r.rank, r.sotl, gt, r.arch);
    }
    if let Some(b) = report.pool_best_nb201_cifar10_test {
        println!("best NB201 CIFAR-10 test accuracy in the pool: {b:.2}");
    } else {
        println!("(no NAS-Bench-201 table under the data root: ground-truth accuracies not shown)");
    }
    println!("results: {}/results.csv, search.json", report.out);
    Ok(())
}
