//! `sotl-nas fourier`: recovering a Fourier degree with a weight-sharing linear model (thesis
//! Section 4.1.2, Figures 4.2-4.3). Wiring only: the study lives in `sotl-studies`.
//!
//! Every run takes seconds, so there is no checkpoint: a rerun recomputes everything.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Serialize;
use sotl_report::{plot_lines, write_atomic, write_json_atomic, LinePlot, Series, Table};
use sotl_studies::{
    degree_search, fixed_degree_sotl, fourier_data, DegreeObjective, DegreeRun, FixedDegreeResult,
    FourierConfig,
};

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
    #[arg(long = "t", value_delimiter = ',', value_name = "T,..")]
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

#[derive(Debug, Serialize)]
struct RunSummary {
    init: f64,
    objective: String,
    final_max_deg: f64,
    final_terms: usize,
    first_within_half: Option<usize>,
}

#[derive(Debug, Serialize)]
struct Summary {
    true_degree: usize,
    fixed_degree_sotl: Vec<(usize, f64)>,
    sotl_argmin_degree: Option<usize>,
    runs: Vec<RunSummary>,
}

/// Runs `fourier`.
pub fn run(args: FourierArgs, g: &Global) -> Result<()> {
    g.apply_threads();
    let device = g.device()?;
    let cfg = merge(load_config::<FourierConfig>(args.config.as_deref())?, &args);
    cfg.validate()?;
    let data = fourier_data(&cfg, device);
    eprintln!(
        "fourier: {} points, D = {}, true k = {}, {} weight steps per run",
        cfg.n_points, cfg.max_degree, cfg.true_degree, cfg.steps
    );
    let fixed = fixed_degree_sotl(&data, &cfg)?;
    let mut objectives: Vec<DegreeObjective> =
        cfg.ts.iter().map(|&t| DegreeObjective::Sotl { t }).collect();
    if cfg.baseline {
        objectives.push(DegreeObjective::ValOneStep);
    }
    let mut runs = Vec::new();
    for &init in &cfg.inits {
        for &o in &objectives {
            let r = degree_search(&data, &cfg, init, o)?;
            eprintln!(
                "init {init:>6} {o:<10} final MaxDeg {:>7.3} ({:>2} terms), within 0.5 of {} from step {}",
                r.final_max_deg,
                r.final_terms,
                cfg.true_degree,
                r.first_within_half.map_or("never".to_string(), |s| s.to_string())
            );
            runs.push(r);
        }
    }
    let fixed_table = fixed_table(&cfg, &fixed)?;
    let traj_table = trajectory_table(&cfg, &runs)?;
    if let Some(out) = &args.out {
        write_outputs(out, &cfg, &fixed_table, &traj_table, &fixed, &runs)?;
        eprintln!("wrote {}", out.display());
    }
    let summary = Summary {
        true_degree: cfg.true_degree,
        fixed_degree_sotl: fixed.iter().map(|r| (r.degree, r.sotl)).collect(),
        sotl_argmin_degree: fixed.iter().min_by(|a, b| a.sotl.total_cmp(&b.sotl)).map(|r| r.degree),
        runs: runs
            .iter()
            .map(|r| RunSummary {
                init: r.init,
                objective: r.objective.to_string(),
                final_max_deg: r.final_max_deg,
                final_terms: r.final_terms,
                first_within_half: r.first_within_half,
            })
            .collect(),
    };
    if g.json {
        print_json(&summary)?;
    } else {
        println!("{}\n", fixed_table.to_markdown());
        println!("{}", traj_table.to_markdown());
    }
    Ok(())
}

fn fixed_table(cfg: &FourierConfig, fixed: &[FixedDegreeResult]) -> Result<Table> {
    let mut t = Table::new(
        format!(
            "Fixed-degree linear models, {} SGD steps each (true degree {})",
            cfg.fixed_steps, cfg.true_degree
        ),
        ["degree", "SoTL", "final val MSE"],
    );
    for r in fixed {
        t.push_row([
            r.degree.to_string(),
            format!("{:.2}", r.sotl),
            format!("{:.4}", r.final_val_mse),
        ])?;
    }
    Ok(t)
}

/// MaxDeg at ten evenly spaced weight steps, one column per (init, objective).
fn trajectory_table(cfg: &FourierConfig, runs: &[DegreeRun]) -> Result<Table> {
    let mut header = vec!["step".to_string()];
    header.extend(runs.iter().map(|r| format!("init {} {}", r.init, r.objective)));
    let mut t = Table::new(
        format!("MaxDeg during the degree search (true degree {})", cfg.true_degree),
        header,
    );
    for i in 0..=10 {
        let step = cfg.steps * i / 10;
        let mut row = vec![step.to_string()];
        row.extend(runs.iter().map(|r| format!("{:.3}", value_at(r, step))));
        t.push_row(row)?;
    }
    Ok(t)
}

/// MaxDeg in force at weight step `step` (the last update at or before it).
fn value_at(r: &DegreeRun, step: usize) -> f64 {
    r.trajectory.iter().take_while(|(s, _)| *s <= step).last().map_or(r.init, |p| p.1)
}

fn write_outputs(
    out: &Path,
    cfg: &FourierConfig,
    fixed_table: &Table,
    traj_table: &Table,
    fixed: &[FixedDegreeResult],
    runs: &[DegreeRun],
) -> Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    write_json_atomic(&out.join("config.json"), cfg)?;
    fixed_table.write_markdown(&out.join("fixed_degree.md"))?;
    fixed_table.write_csv(&out.join("fixed_degree.csv"))?;
    traj_table.write_markdown(&out.join("maxdeg.md"))?;
    let mut csv = String::from("init,objective,step,max_deg\n");
    for r in runs {
        for (s, m) in &r.trajectory {
            csv.push_str(&format!("{},{},{s},{m}\n", r.init, r.objective));
        }
    }
    write_atomic(&out.join("maxdeg.csv"), csv.as_bytes())?;
    #[derive(Serialize)]
    struct Results<'a> {
        fixed: &'a [FixedDegreeResult],
        runs: &'a [DegreeRun],
    }
    write_json_atomic(&out.join("results.json"), &Results { fixed, runs })?;
    let loss_plot = LinePlot {
        title: "Fixed-degree models: training loss".into(),
        x_label: "step".into(),
        y_label: "training MSE".into(),
        series: fixed
            .iter()
            .map(|r| Series {
                name: format!("k={}", r.degree),
                points: r.losses.iter().enumerate().map(|(i, l)| (i as f64, *l)).collect(),
            })
            .collect(),
    };
    plot_lines(&out.join("fixed_degree_loss.svg"), &loss_plot)?;
    for &init in &cfg.inits {
        let plot = LinePlot {
            title: format!("MaxDeg from init {init} (true degree {})", cfg.true_degree),
            x_label: "weight step".into(),
            y_label: "MaxDeg".into(),
            series: runs
                .iter()
                .filter(|r| r.init == init)
                .map(|r| Series {
                    name: r.objective.to_string(),
                    points: r.trajectory.iter().map(|&(s, m)| (s as f64, m)).collect(),
                })
                .collect(),
        };
        plot_lines(&out.join(format!("maxdeg_init{init}.svg")), &plot)?;
    }
    Ok(())
}
