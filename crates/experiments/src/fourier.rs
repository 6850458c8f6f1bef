//! The Fourier-degree study (thesis Section 4.1.2, Figures 4.2-4.3): fixed-degree SoTL, then
//! the degree searched by SoTL hypergradients (and the one-step validation baseline) from each
//! initial degree. Every run takes seconds, so there is no checkpoint: a rerun recomputes.

use std::path::Path;

use anyhow::Result;
use serde::Serialize;
use sotl_report::{plot_lines, LinePlot, Series, Table};
use sotl_studies::{
    degree_search, fixed_degree_sotl, fourier_data, DegreeObjective, DegreeRun, FixedDegreeResult,
    FourierConfig,
};

use crate::{Env, RunDir};

/// One degree search, summarized.
#[derive(Debug, Serialize)]
pub struct RunSummary {
    /// Initial MaxDeg.
    pub init: f64,
    /// SoTL with its T, or the validation baseline.
    pub objective: String,
    /// MaxDeg at the end.
    pub final_max_deg: f64,
    /// Fourier terms in use at the end.
    pub final_terms: usize,
    /// First weight step from which MaxDeg stayed within 0.5 of the true degree.
    pub first_within_half: Option<usize>,
}

/// What the study found.
#[derive(Debug, Serialize)]
pub struct FourierSummary {
    /// The degree that generated the data.
    pub true_degree: usize,
    /// `(degree, SoTL)` of each fixed-degree model.
    pub fixed_degree_sotl: Vec<(usize, f64)>,
    /// The fixed degree of lowest SoTL.
    pub sotl_argmin_degree: Option<usize>,
    /// One per (init, objective).
    pub runs: Vec<RunSummary>,
    /// Fixed-degree table (fixed_degree.md).
    #[serde(skip)]
    pub fixed_table: Table,
    /// MaxDeg trajectories (maxdeg.md).
    #[serde(skip)]
    pub trajectory_table: Table,
}

/// Runs the study on `env.device`; with `out`, writes config.json, fixed_degree.{md,csv},
/// maxdeg.{md,csv}, results.json and plots there.
pub fn run_fourier(env: &Env, cfg: &FourierConfig, out: Option<&Path>) -> Result<FourierSummary> {
    cfg.validate()?;
    let data = fourier_data(cfg, env.device);
    tracing::info!(
        "fourier: {} points, D = {}, true k = {}, {} weight steps per run",
        cfg.n_points,
        cfg.max_degree,
        cfg.true_degree,
        cfg.steps
    );
    let fixed = fixed_degree_sotl(&data, cfg)?;
    let mut objectives: Vec<DegreeObjective> =
        cfg.ts.iter().map(|&t| DegreeObjective::Sotl { t }).collect();
    if cfg.baseline {
        objectives.push(DegreeObjective::ValOneStep);
    }
    let mut runs = Vec::new();
    for &init in &cfg.inits {
        for &o in &objectives {
            let r = degree_search(&data, cfg, init, o)?;
            tracing::info!(
                "init {init:>6} {o:<10} final MaxDeg {:>7.3} ({:>2} terms), within 0.5 of {} from step {}",
                r.final_max_deg,
                r.final_terms,
                cfg.true_degree,
                r.first_within_half.map_or("never".to_string(), |s| s.to_string())
            );
            runs.push(r);
        }
    }
    let fixed_table = fixed_table(cfg, &fixed)?;
    let traj_table = trajectory_table(cfg, &runs)?;
    if let Some(out) = out {
        // Nothing resumes, so the folder is rewritten for whatever config this run has.
        let dir = RunDir::claim_compatible(out, cfg, |_, _| true)?;
        write_outputs(&dir, cfg, &fixed_table, &traj_table, &fixed, &runs)?;
        tracing::info!("wrote {}", out.display());
    }
    Ok(FourierSummary {
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
        fixed_table,
        trajectory_table: traj_table,
    })
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
    dir: &RunDir,
    cfg: &FourierConfig,
    fixed_table: &Table,
    traj_table: &Table,
    fixed: &[FixedDegreeResult],
    runs: &[DegreeRun],
) -> Result<()> {
    fixed_table.write_markdown(&dir.path("fixed_degree.md"))?;
    fixed_table.write_csv(&dir.path("fixed_degree.csv"))?;
    traj_table.write_markdown(&dir.path("maxdeg.md"))?;
    let mut csv = sotl_report::CsvText::new(["init", "objective", "step", "max_deg"]);
    for r in runs {
        for (s, m) in &r.trajectory {
            csv.row([r.init.to_string(), r.objective.to_string(), s.to_string(), m.to_string()]);
        }
    }
    dir.write_bytes("maxdeg.csv", csv.finish().as_bytes())?;
    #[derive(Serialize)]
    struct Results<'a> {
        fixed: &'a [FixedDegreeResult],
        runs: &'a [DegreeRun],
    }
    dir.write_json("results.json", &Results { fixed, runs })?;
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
    plot_lines(&dir.path("fixed_degree_loss.svg"), &loss_plot)?;
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
        plot_lines(&dir.path(&format!("maxdeg_init{init}.svg")), &plot)?;
    }
    Ok(())
}
