//! `sotl-nas hypergrad`: online learning-rate tuning by T-step SoTL hypergradients (thesis
//! Section 4.1.1, Figure 4.1). Wiring only: data from `sotl-data`, the study from `sotl-studies`.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;
use sotl_data::{DataRoot, DatasetName};
use sotl_report::{plot_lines, write_atomic, write_json_atomic, LinePlot, Series, Table};
use sotl_studies::{
    DatasetKind, EpochRecord, EtaPoint, HyperObjective, HypergradConfig, LrData, LrRun, ModelKind,
};

use crate::common::{load_config, print_json, Global};

/// Arguments of `hypergrad`; each flag overrides the config key named in its help.
#[derive(Debug, clap::Args)]
pub struct HypergradArgs {
    /// TOML config with the keys of `HypergradConfig` (unknown keys are rejected).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Network: mlp or vgg (config `model`, default mlp).
    #[arg(long)]
    model: Option<ModelKind>,
    /// Dataset: mnist or cifar10 (config `dataset`, default mnist).
    #[arg(long)]
    dataset: Option<DatasetKind>,
    /// Unroll lengths, comma-separated, one run each (config `ts`, default 2,10,50,150).
    #[arg(long = "t", value_delimiter = ',', value_name = "T,..")]
    t: Option<Vec<usize>>,
    /// Epochs per run (config `epochs`, default 20).
    #[arg(long)]
    epochs: Option<usize>,
    /// What eta descends: sotl or val (config `objective`, default sotl).
    #[arg(long)]
    objective: Option<HyperObjective>,
    /// Minibatch size (config `batch_size`, default 128).
    #[arg(long)]
    batch_size: Option<usize>,
    /// Seed of weights, batch order and validation batches (config `seed`, default 0).
    #[arg(long)]
    seed: Option<u64>,
    /// Initial learning rate (config `eta0`, default 1e-3).
    #[arg(long)]
    eta0: Option<f64>,
    /// Hyper learning rate (config `hyper_lr`, default 1e-2).
    #[arg(long)]
    hyper_lr: Option<f64>,
    /// Use only the first N training images (config `train_limit`, default all).
    #[arg(long, value_name = "N")]
    train_limit: Option<usize>,
    /// Output folder: config.json, per-T checkpoints, accuracy.{md,csv,svg}, eta.{csv,svg},
    /// results.json. Rerunning with the same folder resumes (more --epochs extend the runs).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

fn merge(mut c: HypergradConfig, a: &HypergradArgs) -> HypergradConfig {
    if let Some(v) = a.model {
        c.model = v;
    }
    if let Some(v) = a.dataset {
        c.dataset = v;
    }
    if let Some(v) = &a.t {
        c.ts = v.clone();
    }
    if let Some(v) = a.epochs {
        c.epochs = v;
    }
    if let Some(v) = a.objective {
        c.objective = v;
    }
    if let Some(v) = a.batch_size {
        c.batch_size = v;
    }
    if let Some(v) = a.seed {
        c.seed = v;
    }
    if let Some(v) = a.eta0 {
        c.eta0 = v;
    }
    if let Some(v) = a.hyper_lr {
        c.hyper_lr = v;
    }
    if let Some(v) = a.train_limit {
        c.train_limit = v;
    }
    c
}

/// One T's results (results.json and `--json`).
#[derive(Debug, Serialize)]
struct RunResult {
    t: usize,
    epochs: Vec<EpochRecord>,
    eta_trace: Vec<EtaPoint>,
}

#[derive(Debug, Serialize)]
struct Summary<'a> {
    config: &'a HypergradConfig,
    params: i64,
    runs: Vec<RunSummary>,
}

#[derive(Debug, Serialize)]
struct RunSummary {
    t: usize,
    test_acc: Vec<f64>,
    final_eta: f64,
    hyper_updates: usize,
    halvings: usize,
}

/// Runs `hypergrad`.
pub fn run(args: HypergradArgs, g: &Global) -> Result<()> {
    g.apply_threads();
    let device = g.device()?;
    let cfg = merge(load_config::<HypergradConfig>(args.config.as_deref())?, &args);
    cfg.validate()?;
    if let Some(out) = &args.out {
        prepare_out(out, &cfg)?;
    }
    let name = match cfg.dataset {
        DatasetKind::Mnist => DatasetName::Mnist,
        DatasetKind::Cifar10 => DatasetName::Cifar10,
    };
    let (train, test) = DataRoot::new(g.require_data_root()?).load(name)?;
    let data =
        LrData::new((&train.images, &train.labels), (&test.images, &test.labels), &cfg, device)?;
    drop((train, test));
    let net = cfg.build_net();
    eprintln!(
        "hypergrad: {} ({} params) on {}: {} train / {} val / {} test images, objective {}, T in {:?}, {} epochs",
        cfg.model,
        net.num_params(),
        cfg.dataset,
        data.train_images.size()[0],
        data.val_images.size()[0],
        data.test_images.size()[0],
        cfg.objective,
        cfg.ts,
        cfg.epochs
    );

    let mut results = Vec::new();
    for &t in &cfg.ts {
        let tag = format!("t{t}");
        let ckpt_dir = args.out.as_ref().map(|o| o.join("checkpoints"));
        let mut run = match &ckpt_dir {
            Some(d) => LrRun::load(net.as_ref(), d, &tag, device)?,
            None => None,
        }
        .unwrap_or_else(|| LrRun::new(net.as_ref(), &cfg, t, device));
        if run.t != t {
            bail!("checkpoint {tag} holds a run with T = {}; pick another --out", run.t);
        }
        if run.epoch > 0 {
            eprintln!("T={t}: resuming after epoch {}", run.epoch);
        }
        while run.epoch < cfg.epochs {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template(
                    "{elapsed_precise} [{bar:30}] {pos}/{len} blocks {msg}",
                )
                .expect("static template")
                .progress_chars("=> "),
            );
            bar.set_message(format!(
                "T={t} epoch {}/{} eta {:.5}",
                run.epoch + 1,
                cfg.epochs,
                run.eta
            ));
            let rec = run.run_epoch(net.as_ref(), &data, &cfg, &mut |done, total| {
                bar.set_length(total as u64);
                bar.set_position(done as u64);
            })?;
            bar.finish_and_clear();
            eprintln!(
                "T={t} epoch {:>3}: test acc {:.2}% loss {:.4} | train loss {:.4} | eta {:.5} | {:.1}s",
                rec.epoch, rec.test_acc, rec.test_loss, rec.train_loss, rec.eta, rec.seconds
            );
            if let Some(d) = &ckpt_dir {
                std::fs::create_dir_all(d)
                    .with_context(|| format!("cannot create {}", d.display()))?;
                run.save(d, &tag)?;
            }
        }
        // A run already past --epochs (resumed with fewer) reports only the epochs asked for.
        let epochs: Vec<EpochRecord> = run.history.iter().take(cfg.epochs).cloned().collect();
        let last_step = epochs.last().map(|_| steps_through(&run, cfg.epochs)).unwrap_or(0);
        let eta_trace = run.eta_trace.iter().filter(|p| p.step <= last_step).copied().collect();
        results.push(RunResult { t, epochs, eta_trace });
    }

    let table = accuracy_table(&cfg, &results)?;
    if let Some(out) = &args.out {
        write_outputs(out, &cfg, &table, &results)?;
        eprintln!("wrote {}", out.display());
    }
    if g.json {
        let runs = results
            .iter()
            .map(|r| RunSummary {
                t: r.t,
                test_acc: r.epochs.iter().map(|e| e.test_acc).collect(),
                final_eta: r.epochs.last().map_or(cfg.eta0, |e| e.eta),
                hyper_updates: r.eta_trace.len(),
                halvings: r.eta_trace.iter().filter(|p| p.halved).count(),
            })
            .collect();
        print_json(&Summary { config: &cfg, params: net.num_params(), runs })?;
    } else {
        println!("{}", table.to_markdown());
    }
    Ok(())
}

/// The global step at the end of epoch `epochs` (every epoch has the same number of steps).
fn steps_through(run: &LrRun, epochs: usize) -> usize {
    run.step.checked_div(run.epoch).map_or(0, |per_epoch| per_epoch * epochs.min(run.epoch))
}

/// Test accuracy per epoch (rows) and T (columns), plus the final eta.
fn accuracy_table(cfg: &HypergradConfig, results: &[RunResult]) -> Result<Table> {
    let mut header = vec!["epoch".to_string()];
    header.extend(results.iter().map(|r| format!("T={} acc%", r.t)));
    header.extend(results.iter().map(|r| format!("T={} eta", r.t)));
    let mut table = Table::new(
        format!(
            "{} on {}: test accuracy and learning rate per epoch ({} hypergradients, eta0 {}, hyper-lr {})",
            cfg.model, cfg.dataset, cfg.objective, cfg.eta0, cfg.hyper_lr
        ),
        header,
    );
    for e in 0..cfg.epochs {
        let mut row = vec![(e + 1).to_string()];
        row.extend(
            results
                .iter()
                .map(|r| r.epochs.get(e).map_or(String::new(), |x| format!("{:.2}", x.test_acc))),
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
    out: &Path,
    cfg: &HypergradConfig,
    table: &Table,
    results: &[RunResult],
) -> Result<()> {
    table.write_markdown(&out.join("accuracy.md"))?;
    table.write_csv(&out.join("accuracy.csv"))?;
    let mut eta_csv = String::from("t,step,eta,hypergrad,halved\n");
    for r in results {
        for p in &r.eta_trace {
            eta_csv
                .push_str(&format!("{},{},{},{},{}\n", r.t, p.step, p.eta, p.hypergrad, p.halved));
        }
    }
    write_atomic(&out.join("eta.csv"), eta_csv.as_bytes())?;
    write_json_atomic(&out.join("results.json"), results)?;
    let acc = LinePlot {
        title: format!(
            "{} on {}: test accuracy ({} hypergradients)",
            cfg.model, cfg.dataset, cfg.objective
        ),
        x_label: "epoch".into(),
        y_label: "test accuracy (%)".into(),
        series: results
            .iter()
            .map(|r| Series {
                name: format!("T={}", r.t),
                points: r.epochs.iter().map(|e| (e.epoch as f64, e.test_acc)).collect(),
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
        plot_lines(&out.join("accuracy.svg"), &acc)?;
        plot_lines(&out.join("eta.svg"), &eta)?;
    }
    Ok(())
}

/// Writes `config.json`, or checks that an existing one describes the same run (`epochs` and
/// `ts` may change: each T has its own checkpoint, and more epochs extend it).
fn prepare_out(out: &Path, cfg: &HypergradConfig) -> Result<()> {
    let path = out.join("config.json");
    if path.exists() {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let old: HypergradConfig = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a hypergrad config", path.display()))?;
        let same = HypergradConfig { epochs: cfg.epochs, ts: cfg.ts.clone(), ..old };
        if &same != cfg {
            bail!(
                "{} holds a run with other settings; rerun with the same settings to resume it, or pick another --out",
                out.display()
            );
        }
    }
    write_json_atomic(&path, cfg).with_context(|| format!("cannot write {}", path.display()))
}
