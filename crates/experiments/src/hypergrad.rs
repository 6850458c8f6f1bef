//! The learning-rate study (thesis Section 4.1.1, Figure 4.1): one run per unroll length T,
//! each resumable from its checkpoint, then accuracy / learning-rate tables and plots.

use std::path::Path;

use anyhow::{bail, Result};
use serde::Serialize;
use sotl_data::DatasetName;
use sotl_report::{plot_lines, LinePlot, Series, Table};
use sotl_studies::{DatasetKind, EpochRecord, EtaPoint, HypergradConfig, LrData, LrRun};

use crate::{Env, RunDir};

/// One T's results (results.json).
#[derive(Debug, Clone, Serialize)]
pub struct RunResult {
    /// The unroll length.
    pub t: usize,
    /// End-of-epoch numbers.
    pub epochs: Vec<EpochRecord>,
    /// Every learning-rate update.
    pub eta_trace: Vec<EtaPoint>,
}

/// What the study produced.
#[derive(Debug)]
pub struct HypergradStudy {
    /// Parameters of the network.
    pub params: i64,
    /// One per T, in config order.
    pub runs: Vec<RunResult>,
    /// Accuracy and eta per epoch (also accuracy.md / accuracy.csv).
    pub table: Table,
}

/// The study in brief (the JSON of `hypergrad --json` and of the Python `run`): the config,
/// the network's size and, per T, accuracy by epoch (on the config's `eval_split`) and the
/// learning rate's fate.
#[derive(Debug, Clone, Serialize)]
pub struct HypergradSummary {
    /// The config run.
    pub config: HypergradConfig,
    /// Parameters of the network.
    pub params: i64,
    /// One per T, in config order.
    pub runs: Vec<RunBrief>,
}

/// One T of a [`HypergradSummary`].
#[derive(Debug, Clone, Serialize)]
pub struct RunBrief {
    /// The unroll length.
    pub t: usize,
    /// Accuracy after each epoch on the config's `eval_split`.
    pub acc: Vec<f64>,
    /// The learning rate at the end.
    pub final_eta: f64,
    /// Learning-rate updates made.
    pub hyper_updates: usize,
    /// Updates that halved the rate instead of following the hypergradient.
    pub halvings: usize,
}

impl HypergradStudy {
    /// The study in brief; `cfg` is the config it ran with.
    pub fn summary(&self, cfg: &HypergradConfig) -> HypergradSummary {
        let runs = self
            .runs
            .iter()
            .map(|r| RunBrief {
                t: r.t,
                acc: r.epochs.iter().map(|e| e.acc).collect(),
                final_eta: r.epochs.last().map_or(cfg.eta0, |e| e.eta),
                hyper_updates: r.eta_trace.len(),
                halvings: r.eta_trace.iter().filter(|p| p.halved).count(),
            })
            .collect();
        HypergradSummary { config: cfg.clone(), params: self.params, runs }
    }
}

/// Runs (or resumes) the study: with `out`, config.json, per-T checkpoints, accuracy.{md,csv,svg},
/// eta.{csv,svg} and results.json go there; `epochs` and `ts` may change between invocations
/// (each T has its own checkpoint, and more epochs extend it), nothing else.
pub fn run_hypergrad(
    env: &Env,
    cfg: &HypergradConfig,
    out: Option<&Path>,
) -> Result<HypergradStudy> {
    cfg.validate()?;
    let dir = match out {
        Some(o) => Some(RunDir::claim_compatible(o, cfg, |old: &HypergradConfig, new| {
            &HypergradConfig { epochs: new.epochs, ts: new.ts.clone(), ..old.clone() } == new
        })?),
        None => None,
    };
    let name = match cfg.dataset {
        DatasetKind::Mnist => DatasetName::Mnist,
        DatasetKind::Cifar10 => DatasetName::Cifar10,
    };
    let device = env.device;
    let (train, test) = crate::data::load_dataset(env, name)?;
    let data =
        LrData::new((&train.images, &train.labels), (&test.images, &test.labels), cfg, device)?;
    drop((train, test));
    let net = cfg.build_net();
    tracing::info!(
        "hypergrad: {} ({} params) on {}: {} train / {} val / {} test images, objective {}, T in {:?}, {} epochs, accuracy on the {} split",
        cfg.model,
        net.num_params(),
        cfg.dataset,
        data.train_images.size()[0],
        data.val_images.size()[0],
        data.test_images.size()[0],
        cfg.objective,
        cfg.ts,
        cfg.epochs,
        cfg.eval_split
    );
    let ckpt_dir = match &dir {
        Some(d) => Some(d.child("checkpoints")?),
        None => None,
    };
    let mut results = Vec::new();
    for &t in &cfg.ts {
        let tag = format!("t{t}");
        let mut run = match &ckpt_dir {
            Some(d) => LrRun::load(net.as_ref(), d.root(), &tag, device)?,
            None => None,
        }
        .unwrap_or_else(|| LrRun::new(net.as_ref(), cfg, t, device));
        if run.t != t {
            bail!("checkpoint {tag} holds a run with T = {}; pick another --out", run.t);
        }
        if run.epoch > 0 {
            tracing::info!("T={t}: resuming after epoch {}", run.epoch);
        }
        while run.epoch < cfg.epochs {
            let bar = env.progress(0, &format!("T={t} epoch {}/{}", run.epoch + 1, cfg.epochs));
            bar.set_message(format!("eta {:.5}", run.eta));
            let rec = run.run_epoch(net.as_ref(), &data, cfg, &mut |done, total| {
                bar.set_length(total as u64);
                bar.set_position(done as u64);
            })?;
            bar.finish();
            tracing::info!(
                "T={t} epoch {:>3}: {} acc {:.2}% loss {:.4} | train loss {:.4} | eta {:.5} | {:.1}s",
                rec.epoch, cfg.eval_split, rec.acc, rec.loss, rec.train_loss, rec.eta, rec.seconds
            );
            if let Some(d) = &ckpt_dir {
                run.save(d.root(), &tag)?;
            }
        }
        // A run already past --epochs (resumed with fewer) reports only the epochs asked for.
        let epochs: Vec<EpochRecord> = run.history.iter().take(cfg.epochs).cloned().collect();
        let last_step = epochs.last().map(|_| steps_through(&run, cfg.epochs)).unwrap_or(0);
        let eta_trace = run.eta_trace.iter().filter(|p| p.step <= last_step).copied().collect();
        results.push(RunResult { t, epochs, eta_trace });
    }
    let table = accuracy_table(cfg, &results)?;
    if let Some(d) = &dir {
        write_outputs(d, cfg, &table, &results)?;
        tracing::info!("wrote {}", d.root().display());
    }
    Ok(HypergradStudy { params: net.num_params(), runs: results, table })
}

/// The global step at the end of epoch `epochs` (every epoch has the same number of steps).
fn steps_through(run: &LrRun, epochs: usize) -> usize {
    run.step.checked_div(run.epoch).map_or(0, |per_epoch| per_epoch * epochs.min(run.epoch))
}

/// Accuracy per epoch (rows) and T (columns), plus the final eta.
fn accuracy_table(cfg: &HypergradConfig, results: &[RunResult]) -> Result<Table> {
    let mut header = vec!["epoch".to_string()];
    header.extend(results.iter().map(|r| format!("T={} acc%", r.t)));
    header.extend(results.iter().map(|r| format!("T={} eta", r.t)));
    let mut table = Table::new(
        format!(
            "{} on {}: {} accuracy and learning rate per epoch ({} hypergradients, eta0 {}, hyper-lr {}{})",
            cfg.model,
            cfg.dataset,
            cfg.eval_split,
            cfg.objective,
            cfg.eta0,
            cfg.hyper_lr,
            if cfg.retrain { ", blocks retrained at the new eta" } else { "" }
        ),
        header,
    );
    for e in 0..cfg.epochs {
        let mut row = vec![(e + 1).to_string()];
        row.extend(
            results
                .iter()
                .map(|r| r.epochs.get(e).map_or(String::new(), |x| format!("{:.2}", x.acc))),
        );
        row.extend(
            results
                .iter()
                .map(|r| r.epochs.get(e).map_or(String::new(), |x| format!("{:.5}", x.eta))),
        );
        table.push_row(row)?;
    }
    Ok(table)
}

fn write_outputs(
    dir: &RunDir,
    cfg: &HypergradConfig,
    table: &Table,
    results: &[RunResult],
) -> Result<()> {
    table.write_markdown(&dir.path("accuracy.md"))?;
    table.write_csv(&dir.path("accuracy.csv"))?;
    let mut eta = sotl_report::CsvText::new(["t", "step", "eta", "hypergrad", "halved"]);
    for r in results {
        for p in &r.eta_trace {
            eta.row([
                r.t.to_string(),
                p.step.to_string(),
                p.eta.to_string(),
                p.hypergrad.to_string(),
                p.halved.to_string(),
            ]);
        }
    }
    dir.write_bytes("eta.csv", eta.finish().as_bytes())?;
    dir.write_json("results.json", results)?;
    let acc = LinePlot {
        title: format!(
            "{} on {}: {} accuracy ({} hypergradients)",
            cfg.model, cfg.dataset, cfg.eval_split, cfg.objective
        ),
        x_label: "epoch".into(),
        y_label: format!("{} accuracy (%)", cfg.eval_split),
        series: results
            .iter()
            .map(|r| Series {
                name: format!("T={}", r.t),
                points: r.epochs.iter().map(|e| (e.epoch as f64, e.acc)).collect(),
            })
            .collect(),
    };
    let eta = LinePlot {
        title: format!("{} on {}: learning rate", cfg.model, cfg.dataset),
        x_label: "weight step".into(),
        y_label: "eta".into(),
        series: results
            .iter()
            .map(|r| Series {
                name: format!("T={}", r.t),
                points: std::iter::once((0.0, cfg.eta0))
                    .chain(r.eta_trace.iter().map(|p| (p.step as f64, p.eta)))
                    .collect(),
            })
            .collect(),
    };
    if results.iter().any(|r| !r.epochs.is_empty()) {
        plot_lines(&dir.path("accuracy.svg"), &acc)?;
        plot_lines(&dir.path("eta.svg"), &eta)?;
    }
    Ok(())
}
