//! `bench nb201 convert` and `bench nb201 curves`: the official NAS-Bench-201 / NATS-Bench
//! archive converted once, and the query-based study of SoTL on its per-epoch curves (thesis
//! Figure 4.4): Spearman with the 200-epoch test accuracy after every epoch of either schedule.

use std::path::Path;

use anyhow::{bail, Context, Result};
use serde::Serialize;
use sotl_bench::curve_study::{curve_study, CurveEpoch, CurveStudySettings, CURVE_METRICS};
use sotl_bench::nb201_archive::{curves_path, CurveSeries, Nb201Curves};
use sotl_bench::Nb201Dataset;
use sotl_report::{plot_lines, LinePlot, Series, Table};

use crate::Env;

/// What the curves study measured.
#[derive(Debug, Clone, Serialize)]
pub struct CurvesReport {
    /// The schedule whose curves were read (12 or 200 epochs).
    pub schedule: u32,
    /// The dataset.
    pub dataset: Nb201Dataset,
    /// The archive dataset the training curves come from (`cifar10-valid` for CIFAR-10).
    pub curves_from: &'static str,
    /// What was sampled.
    pub settings: CurveStudySettings,
    /// Per epoch, per metric of [`CURVE_METRICS`], mean and std of Spearman over the samples.
    pub epochs: Vec<CurveEpoch>,
}

impl CurvesReport {
    /// The table: every epoch up to 20, else every tenth and the last.
    pub fn table(&self) -> Result<Table> {
        let mut t = Table::new(
            format!(
                "Spearman with NAS-Bench-201 {} test accuracy after 200 epochs, {}-epoch curves of {} ({} cells x {} samples, mean (std)); SoTL-E over the last {} epoch(s)",
                self.dataset, self.schedule, self.curves_from, self.settings.cells, self.settings.sampling_seeds, self.settings.last
            ),
            std::iter::once("epoch").chain(CURVE_METRICS),
        );
        let n = self.epochs.len();
        for e in self
            .epochs
            .iter()
            .filter(|e| n <= 20 || e.epoch % 10 == 0 || e.epoch == 1 || e.epoch == n)
        {
            let mut row = vec![e.epoch.to_string()];
            row.extend(e.spearman.iter().map(|v| match v {
                Some((m, s)) => format!("{m:.3} ({s:.3})"),
                None => "-".into(),
            }));
            t.push_row(row)?;
        }
        Ok(t)
    }

    /// Every epoch as CSV: `epoch`, then `<metric>_mean`, `<metric>_std` per metric.
    pub fn to_csv(&self) -> String {
        let mut header = vec!["epoch".to_string()];
        for m in CURVE_METRICS {
            header.push(format!("{m}_mean"));
            header.push(format!("{m}_std"));
        }
        let mut out = sotl_report::CsvText::new(header);
        for e in &self.epochs {
            let mut row = vec![e.epoch.to_string()];
            for v in &e.spearman {
                match v {
                    Some((m, s)) => row.extend([m.to_string(), s.to_string()]),
                    None => row.extend([String::new(), String::new()]),
                }
            }
            out.row(row);
        }
        out.finish()
    }
}

/// Converts an official archive (`NAS-Bench-201-v1_*.pth`, a NATS-Bench topology folder or
/// file) into `out`: curves files per schedule and the two tables the other commands read.
pub fn convert_archive(
    src: &Path,
    out: &Path,
) -> Result<sotl_bench::nb201_archive::ArchiveConversion> {
    Ok(sotl_bench::nb201_archive::convert_archive(src, out)?)
}

/// The curves study on the converted archive under the data root: `schedule`'s curves of
/// `dataset` (CIFAR-10's from `cifar10-valid`, trained on the train half and validated on the
/// other), ranked against the 200-epoch schedule's final test accuracy; writes table.md,
/// table.csv, curves.svg and curves.json into `out`.
pub fn run_curves_study(
    env: &Env,
    schedule: u32,
    dataset: Nb201Dataset,
    settings: CurveStudySettings,
    out: &Path,
) -> Result<CurvesReport> {
    let root = env.data_root.as_deref().context(
        "the curves study reads a converted archive under the data root; pass --data-root (after `sotl-nas bench nb201 convert --archive ... --out <data-root>/benchmarks/nb201`)",
    )?;
    let read = |hp: u32| -> Result<Nb201Curves> {
        let p = curves_path(root, hp);
        if !p.exists() {
            bail!(
                "{} is absent: convert the official archive first (`sotl-nas bench nb201 convert --archive NAS-Bench-201-v1_1-096897.pth|NATS-tss-v1_0-3ffb9-simple --out {}`)",
                p.display(),
                p.parent().map_or_else(String::new, |d| d.display().to_string())
            );
        }
        let (c, hp_read) = Nb201Curves::read(&p)?;
        if hp_read != hp || c.epochs != hp as usize {
            bail!("{} holds the {hp_read}-epoch schedule, not {hp}", p.display());
        }
        Ok(c)
    };
    let curves_from = match dataset {
        Nb201Dataset::Cifar10 => "cifar10-valid",
        Nb201Dataset::Cifar100 => "cifar100",
        Nb201Dataset::ImageNet16_120 => "ImageNet16-120",
    };
    let target = match dataset {
        Nb201Dataset::Cifar10 => "cifar10",
        _ => curves_from,
    };
    let curves = read(schedule)?;
    let full = if schedule == 200 { curves.clone() } else { read(200)? };
    if full.archs != curves.archs {
        bail!("the 12- and 200-epoch curves files list different cells; convert the archive again");
    }
    let t = Nb201Curves::dataset_index(target)?;
    let truth: Vec<f64> = (0..full.archs.len())
        .map(|i| f64::from(full.series(i, t, CurveSeries::TestAccuracy)[full.epochs - 1]))
        .collect();
    let d = Nb201Curves::dataset_index(curves_from)?;
    let epochs = curve_study(&curves, d, &truth, &settings)?;
    let report = CurvesReport { schedule, dataset, curves_from, settings, epochs };
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let table = report.table()?;
    table.write_markdown(&out.join("table.md"))?;
    sotl_report::write_atomic(&out.join("table.csv"), report.to_csv().as_bytes())?;
    sotl_report::write_json_atomic(&out.join("curves.json"), &report)?;
    let series = CURVE_METRICS
        .iter()
        .enumerate()
        .map(|(m, name)| Series {
            name: name.to_string(),
            points: report
                .epochs
                .iter()
                .filter_map(|e| e.spearman[m].map(|(mean, _)| (e.epoch as f64, mean)))
                .collect(),
        })
        .filter(|s| !s.points.is_empty())
        .collect();
    plot_lines(
        &out.join("curves.svg"),
        &LinePlot {
            title: format!(
                "Rank correlation with final test accuracy ({dataset}, {schedule}-epoch curves)"
            ),
            x_label: "epoch".into(),
            y_label: "Spearman".into(),
            series,
        },
    )?;
    Ok(report)
}
