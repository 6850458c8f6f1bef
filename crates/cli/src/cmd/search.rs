//! `sotl-nas search`: the main job. Train an SPOS supernet, then choose a cell by finetuning
//! candidates from it and scoring them with SoTL: by regularized evolution (default) or over a
//! fixed random pool.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
use serde::Serialize;
use sotl_search::{
    evolve, load_supernet, rank_by, CandidateResult, DataSource, Finetuner, OneShotConfig, Phase,
    RankMetric, TableRow, TrainerKind,
};

use super::oneshot::{
    build_net, cifar10_truth, load_bench, load_data, pool_for, progress, rank_in, train_in,
    ConfigArgs,
};
use crate::common::{print_json, Global};

/// How `search` chooses among the cells of the trained supernet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SearchMethod {
    /// Regularized evolution with each cell's finetuning SoTL as its fitness
    /// (`evolution.budget` evaluations).
    Evolution,
    /// Finetune a fixed random pool (`pool.size` cells) and take the lowest SoTL.
    Pool,
}

impl SearchMethod {
    fn describe(self) -> &'static str {
        match self {
            SearchMethod::Evolution => "regularized evolution, fitness = finetuning SoTL",
            SearchMethod::Pool => "random pool ranked by finetuning SoTL",
        }
    }
}

/// Arguments of `search`.
#[derive(Debug, clap::Args)]
pub struct SearchArgs {
    /// How to choose a cell from the supernet.
    #[arg(long, value_enum, default_value_t = SearchMethod::Evolution)]
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

/// The default budget, about 4 minutes on 2 idle CPU cores (under the 5 the main job allows):
/// the thesis' one-shot protocol scaled down in network and image size but not in data. An SPOS
/// supernet (C=8, N=1, 16x16 images) trained for 20 epochs on the whole 25 000-image train half
/// with augmentation (about 21 ms a step with 2 threads), then regularized evolution over 30
/// evaluations, each a 100-minibatch finetuning at lr 0.01 scored by SoTL over those 100
/// (thesis 4.2). Smaller budgets (4 000 images, 10 epochs) left the supernet so undertrained
/// that the lowest SoTL went to parameter-free cells.
pub fn default_budget() -> OneShotConfig {
    let mut c = OneShotConfig::default();
    c.data.source = DataSource::Auto;
    c.data.n_train = 0;
    c.data.n_val = 1_000;
    c.data.image_size = 16;
    c.data.synthetic_images = 4_000;
    c.net.channels = 8;
    c.net.cells_per_stage = 1;
    c.train.epochs = 20;
    c.pool.size = 30;
    c.evolution.budget = 30;
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
    /// Sum of the first `finetune.sotl_window` finetuning losses (lower is better).
    sotl: f64,
    nb201_cifar10_test: Option<f64>,
}

#[derive(Debug, Serialize)]
struct SearchReport {
    method: SearchMethod,
    budget: String,
    data: &'static str,
    chosen: String,
    chosen_nb201_cifar10_test: Option<f64>,
    top: Vec<Ranked>,
    candidates_finetuned: usize,
    best_finetuned_nb201_cifar10_test: Option<f64>,
    seconds: f64,
    out: String,
}

/// Runs `search`.
pub fn run(args: SearchArgs, g: &Global) -> Result<()> {
    g.apply_threads();
    let t0 = Instant::now();
    let mut cfg = args.cfg.resolve(Some(default_budget()))?;
    if cfg.train.trainer.kind != TrainerKind::Spos {
        anyhow::bail!(
            "search trains an SPOS supernet, but the config asks for trainer.kind = {}; use `sotl-nas oneshot run --trainers {}` for other trainers",
            cfg.train.trainer.kind,
            cfg.train.trainer.kind
        );
    }
    if let Some(b) = args.budget {
        cfg.evolution.budget = b;
    }
    // One seed drives every random choice of the search: the supernet, the evolution or pool,
    // and the finetuning data order.
    cfg.evolution.seed = cfg.train.seed;
    cfg.pool.seed = cfg.train.seed;
    cfg.finetune.seed = cfg.train.seed;
    cfg.validate()?;
    let data = load_data(g, &cfg)?;
    train_in(g, &cfg, &data, &args.out)?;
    let (_vs, net) = build_net(g, &cfg, &data)?;
    load_supernet(&net, &args.out.join("supernet.ot"))?;
    let window = cfg.finetune.sotl_window;
    // Candidates with their SoTL score (higher = lower SoTL), best first. The search sees
    // SoTL alone; ground truth is looked up only afterwards, for the report.
    let (ranked, results, budget): (Vec<(CandidateResult, f64)>, usize, String) = match args.method
    {
        SearchMethod::Pool => {
            let pool = pool_for(&cfg, None, &args.out)?;
            let results = rank_in(&cfg, &net, &data, &pool, &args.out)?;
            let row = TableRow { metric: RankMetric::Sotl, phase: Phase::Finetuned(window) };
            let order = rank_by(&results, &row, window)?;
            let n = results.len();
            (
                order.into_iter().map(|(i, s)| (results[i].clone(), s)).collect(),
                n,
                format!("pool of {}", cfg.pool.size),
            )
        }
        SearchMethod::Evolution => {
            let mut ft = Finetuner::new(&net, cfg.finetune, cfg.train.trainer.kind)?;
            let bar = progress(cfg.evolution.budget as u64, "evolve");
            let run = evolve(
                &mut ft,
                &cfg.evolution,
                &data.train,
                &data.val,
                &args.out.join("evolution.jsonl"),
                |done, _, _| bar.set_position(done as u64),
            )?;
            bar.finish();
            sotl_report::write_json_atomic(&args.out.join("evolution.json"), &run)?;
            let mut scored: Vec<(CandidateResult, f64)> = run
                .results
                .iter()
                .map(|r| Ok((r.clone(), RankMetric::Sotl.score_at(&r.finetune, window, window)?)))
                .collect::<Result<_, sotl_search::OneShotError>>()?;
            scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.index.cmp(&b.0.index)));
            let n = scored.len();
            (
                scored,
                n,
                format!(
                    "{} evaluations (population {}, tournament {})",
                    cfg.evolution.budget, cfg.evolution.population, cfg.evolution.sample_size
                ),
            )
        }
    };
    let bench = load_bench(g)?;
    let truth = |r: &CandidateResult| bench.as_ref().and_then(|b| cifar10_truth(b, &r.arch));
    let top: Vec<Ranked> = ranked
        .iter()
        .take(args.top.max(1))
        .enumerate()
        .map(|(i, (r, s))| Ranked {
            rank: i + 1,
            arch: r.arch.to_string(),
            sotl: -*s,
            nb201_cifar10_test: truth(r),
        })
        .collect();
    let best = ranked
        .iter()
        .filter_map(|(r, _)| truth(r))
        .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))));
    let report = SearchReport {
        method: args.method,
        budget: format!(
            "SPOS supernet C={} N={} on {} images of {}x{}, {} epochs; {budget}; {} finetuning steps each, SoTL over {window}",
            cfg.net.channels,
            cfg.net.cells_per_stage,
            data.train.len(),
            data.train.images.size()[2],
            data.train.images.size()[3],
            cfg.train.epochs,
            cfg.finetune.steps,
        ),
        data: data.source,
        chosen: top[0].arch.clone(),
        chosen_nb201_cifar10_test: top[0].nb201_cifar10_test,
        top,
        candidates_finetuned: results,
        best_finetuned_nb201_cifar10_test: best,
        seconds: t0.elapsed().as_secs_f64(),
        out: args.out.display().to_string(),
    };
    sotl_report::write_json_atomic(&args.out.join("search.json"), &report)?;
    if g.json {
        return print_json(&report);
    }
    println!(
        "SoTL search on {} by {} ({:.0} s)",
        report.data,
        args.method.describe(),
        report.seconds
    );
    println!("budget: {}", report.budget);
    println!("chosen: {}", report.chosen);
    if bench.is_some() {
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
