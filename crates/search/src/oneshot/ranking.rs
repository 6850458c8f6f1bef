//! Ranking reports: rank correlations of each metric with ground truth, over finetuning steps,
//! across trainers and seeds (thesis Table 4.1 and Figure 4.6).
//!
//! This is the only place in the one-shot module that sees ground truth, and it sees it only as
//! a lookup passed in after every candidate has been scored.

use serde::{Deserialize, Serialize};
use sotl_estimators::{
    Estimator, ParamCount, Sog, Sogn, Sotl, TlMini, TrainingRecord, ValAcc, ValAccMini, Window,
};
use sotl_metrics::RankSummary;
use sotl_space::Nb201Arch;

use super::{CandidateResult, OneShotError, OneShotResult, TrainerKind};

/// A ranking metric of the one-shot study.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RankMetric {
    /// Sum of training losses over the SoTL window (negated: higher is better).
    Sotl,
    /// The latest minibatch training loss (negated).
    TlMini,
    /// The latest whole-validation-set accuracy.
    ValAcc,
    /// The latest one-minibatch validation accuracy.
    ValAccMini,
    /// Sum of gradients over the finetuning steps so far.
    Sog,
    /// Sum of gradient L1 norms over the finetuning steps so far.
    Sogn,
    /// Parameter count.
    Params,
}

impl RankMetric {
    /// Every metric, in table order.
    pub const ALL: [RankMetric; 7] = [
        RankMetric::Sotl,
        RankMetric::TlMini,
        RankMetric::ValAcc,
        RankMetric::ValAccMini,
        RankMetric::Sog,
        RankMetric::Sogn,
        RankMetric::Params,
    ];

    /// The thesis' label.
    pub fn label(self) -> &'static str {
        match self {
            RankMetric::Sotl => "SoTL",
            RankMetric::TlMini => "TLMini",
            RankMetric::ValAcc => "ValAcc",
            RankMetric::ValAccMini => "ValAccMini",
            RankMetric::Sog => "SoG",
            RankMetric::Sogn => "SoGN",
            RankMetric::Params => "Params",
        }
    }

    /// The metric's score after `t` finetuning steps (`t >= 1`), `window` being the SoTL window:
    /// SoTL sums the last `min(window, t)` losses, so at `t = window` it is SoTL over the first
    /// `window` minibatches.
    pub fn score_at(self, rec: &TrainingRecord, t: usize, window: usize) -> OneShotResult<f64> {
        let est: Box<dyn Estimator> = match self {
            RankMetric::Sotl => Box::new(Sotl::new(if t >= window {
                Window::LastSteps(window)
            } else {
                Window::All
            })),
            RankMetric::TlMini => Box::new(TlMini),
            RankMetric::ValAcc => Box::new(ValAcc),
            RankMetric::ValAccMini => Box::new(ValAccMini),
            RankMetric::Sog => Box::new(Sog { window: Window::All }),
            RankMetric::Sogn => Box::new(Sogn { window: Window::All }),
            RankMetric::Params => Box::new(ParamCount),
        };
        est.score_at(rec, t).map_err(|e| OneShotError::Report(e.to_string()))
    }

    /// The metric at the inherited weights, with no finetuning: SoTL and TLMini from the
    /// no-update loss pass, ValAcc(Mini) from the step-0 evaluations. SoG/SoGN need a training
    /// trajectory and have no such value.
    pub fn score_inherited(self, r: &CandidateResult) -> OneShotResult<f64> {
        let rec = &r.inherited;
        let est: Box<dyn Estimator> = match self {
            RankMetric::Sotl => Box::new(Sotl::new(Window::All)),
            RankMetric::TlMini => Box::new(TlMini),
            RankMetric::ValAcc => Box::new(ValAcc),
            RankMetric::ValAccMini => Box::new(ValAccMini),
            RankMetric::Params => Box::new(ParamCount),
            RankMetric::Sog | RankMetric::Sogn => {
                return Err(OneShotError::Report(format!(
                    "{} has no value without finetuning",
                    self.label()
                )))
            }
        };
        est.score(rec).map_err(|e| OneShotError::Report(e.to_string()))
    }
}

/// When a table row reads its metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// At the inherited supernet weights (the standard one-shot protocol).
    Inherited,
    /// After this many finetuning steps.
    Finetuned(usize),
}

/// One row of a Table 4.1-style table.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TableRow {
    /// The metric.
    pub metric: RankMetric,
    /// When it is read.
    pub phase: Phase,
}

impl TableRow {
    /// The row label, e.g. `SoTL (ft 100)`, `ValAcc` (inherited weights) or `SoTL (no ft)`.
    pub fn label(&self) -> String {
        match self.phase {
            Phase::Inherited if self.metric == RankMetric::Sotl => "SoTL (no ft)".to_string(),
            Phase::Inherited => self.metric.label().to_string(),
            Phase::Finetuned(t) => format!("{} (ft {t})", self.metric.label()),
        }
    }

    /// The thesis' Table 4.1 rows ("SoTL is reported after 100 minibatches finetuning and the
    /// remaining metrics are using the supernet weights directly"), then SoG, SoGN and Params,
    /// then the finetuned counterparts after all `steps`.
    pub fn standard(sotl_window: usize, steps: usize) -> Vec<TableRow> {
        let ft = Phase::Finetuned(sotl_window);
        let end = Phase::Finetuned(steps);
        vec![
            TableRow { metric: RankMetric::Sotl, phase: ft },
            TableRow { metric: RankMetric::TlMini, phase: Phase::Inherited },
            TableRow { metric: RankMetric::ValAcc, phase: Phase::Inherited },
            TableRow { metric: RankMetric::ValAccMini, phase: Phase::Inherited },
            TableRow { metric: RankMetric::Sog, phase: ft },
            TableRow { metric: RankMetric::Sogn, phase: ft },
            TableRow { metric: RankMetric::Params, phase: Phase::Inherited },
            TableRow { metric: RankMetric::Sotl, phase: Phase::Inherited },
            TableRow { metric: RankMetric::TlMini, phase: end },
            TableRow { metric: RankMetric::ValAcc, phase: end },
            TableRow { metric: RankMetric::ValAccMini, phase: end },
        ]
    }

    /// Every candidate's score for this row.
    pub fn scores(
        &self,
        results: &[CandidateResult],
        sotl_window: usize,
    ) -> OneShotResult<Vec<f64>> {
        results
            .iter()
            .map(|r| match self.phase {
                Phase::Inherited => self.metric.score_inherited(r),
                Phase::Finetuned(t) => self.metric.score_at(&r.finetune, t, sotl_window),
            })
            .collect()
    }
}

/// Ground truth of every candidate, or an error naming the first one the lookup lacks.
pub fn ground_truth(
    results: &[CandidateResult],
    truth: &dyn Fn(&Nb201Arch) -> Option<f64>,
) -> OneShotResult<Vec<f64>> {
    results
        .iter()
        .map(|r| {
            truth(&r.arch)
                .ok_or_else(|| OneShotError::Report(format!("no ground truth for {}", r.arch)))
        })
        .collect()
}

/// A row's ranking quality in one run; `None` with a reason when it cannot be computed (e.g.
/// every candidate got the same score).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RowResult {
    /// The row.
    pub row: TableRow,
    /// Spearman, Kendall and top-k mean, when defined.
    pub summary: Option<RankSummary>,
    /// Why `summary` is missing.
    pub note: Option<String>,
}

/// Rank correlation of one metric over finetuning steps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Curve {
    /// The metric.
    pub metric: RankMetric,
    /// Finetuning steps.
    pub steps: Vec<usize>,
    /// Spearman at each step (NaN where undefined).
    pub spearman: Vec<f64>,
    /// Kendall tau-b at each step (NaN where undefined).
    pub kendall: Vec<f64>,
    /// Mean ground truth of the top-k at each step (NaN where undefined).
    pub top_k: Vec<f64>,
}

/// The ranking report of one supernet (one trainer, one seed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRanking {
    /// The trainer that produced the supernet.
    pub trainer: TrainerKind,
    /// The supernet seed.
    pub seed: u64,
    /// Candidates ranked.
    pub n: usize,
    /// The k of the top-k numbers.
    pub k: usize,
    /// Table rows.
    pub rows: Vec<RowResult>,
    /// Correlation curves over finetuning.
    pub curves: Vec<Curve>,
}

/// Settings of a ranking report.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportSettings {
    /// The SoTL window used in finetuning.
    pub sotl_window: usize,
    /// The finetuning steps `K`.
    pub steps: usize,
    /// Top-k size (thesis: 10).
    pub k: usize,
    /// Curve resolution: a point every this many steps.
    pub curve_every: usize,
}

/// Computes a run's table rows and curves from finetuning results and a ground-truth lookup.
pub fn rank_report(
    trainer: TrainerKind,
    seed: u64,
    results: &[CandidateResult],
    truth: &dyn Fn(&Nb201Arch) -> Option<f64>,
    settings: &ReportSettings,
) -> OneShotResult<RunRanking> {
    if results.len() < 2 {
        return Err(OneShotError::Report(format!(
            "{} candidate(s): rank correlations need at least 2",
            results.len()
        )));
    }
    let gt = ground_truth(results, truth)?;
    let k = settings.k.min(results.len()).max(1);
    let summarize = |scores: OneShotResult<Vec<f64>>| -> Result<RankSummary, String> {
        let s = scores.map_err(|e| e.to_string())?;
        RankSummary::compute(&s, &gt, k).map_err(|e| e.to_string())
    };
    let rows = TableRow::standard(settings.sotl_window, settings.steps)
        .into_iter()
        .map(|row| match summarize(row.scores(results, settings.sotl_window)) {
            Ok(s) => RowResult { row, summary: Some(s), note: None },
            Err(e) => RowResult { row, summary: None, note: Some(e) },
        })
        .collect();
    let every = settings.curve_every.max(1);
    let steps: Vec<usize> =
        (1..=settings.steps).filter(|t| t.is_multiple_of(every) || *t == 1).collect();
    let curves = RankMetric::ALL
        .iter()
        .map(|&metric| {
            let mut c = Curve {
                metric,
                steps: steps.clone(),
                spearman: vec![],
                kendall: vec![],
                top_k: vec![],
            };
            for &t in &steps {
                let scores = results
                    .iter()
                    .map(|r| metric.score_at(&r.finetune, t, settings.sotl_window))
                    .collect();
                let s = summarize(scores).ok();
                c.spearman.push(s.map_or(f64::NAN, |s| s.spearman));
                c.kendall.push(s.map_or(f64::NAN, |s| s.kendall_tau));
                c.top_k.push(s.map_or(f64::NAN, |s| s.top_k_mean));
            }
            c
        })
        .collect();
    Ok(RunRanking { trainer, seed, n: results.len(), k, rows, curves })
}

/// Mean and population standard deviation (`ddof = 0`, as numpy's default) of the finite values.
pub fn mean_std(v: &[f64]) -> Option<(f64, f64)> {
    let v: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    let m = v.iter().sum::<f64>() / v.len() as f64;
    let var = v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / v.len() as f64;
    Some((m, var.sqrt()))
}

/// A Table 4.1-style summary: rows are metrics, columns trainers; each cell holds the Spearman
/// mean (std over seeds) and the top-k mean ground truth, mean (std).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SummaryTable {
    /// Column order.
    pub trainers: Vec<TrainerKind>,
    /// Row labels.
    pub rows: Vec<String>,
    /// `cells[row][trainer]`: ((spearman mean, std), (top-k mean, std), seeds counted).
    pub cells: Vec<Vec<Option<SummaryCell>>>,
    /// The k of the top-k.
    pub k: usize,
}

/// One cell of a [`SummaryTable`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SummaryCell {
    /// Spearman mean over seeds.
    pub spearman_mean: f64,
    /// Spearman std over seeds.
    pub spearman_std: f64,
    /// Top-k mean ground truth, mean over seeds.
    pub top_k_mean: f64,
    /// Its std over seeds.
    pub top_k_std: f64,
    /// Seeds with a defined value.
    pub seeds: usize,
}

impl SummaryTable {
    /// Aggregates runs (any number of seeds per trainer) into the table.
    pub fn from_runs(runs: &[RunRanking]) -> Self {
        let mut trainers: Vec<TrainerKind> = Vec::new();
        for r in runs {
            if !trainers.contains(&r.trainer) {
                trainers.push(r.trainer);
            }
        }
        let rows: Vec<String> = runs
            .first()
            .map(|r| r.rows.iter().map(|x| x.row.label()).collect())
            .unwrap_or_default();
        let k = runs.first().map_or(10, |r| r.k);
        let cells = (0..rows.len())
            .map(|ri| {
                trainers
                    .iter()
                    .map(|t| {
                        let sums: Vec<RankSummary> = runs
                            .iter()
                            .filter(|r| r.trainer == *t)
                            .filter_map(|r| r.rows.get(ri).and_then(|x| x.summary))
                            .collect();
                        let sp: Vec<f64> = sums.iter().map(|s| s.spearman).collect();
                        let tk: Vec<f64> = sums.iter().map(|s| s.top_k_mean).collect();
                        let (sm, ss) = mean_std(&sp)?;
                        let (tm, ts) = mean_std(&tk)?;
                        Some(SummaryCell {
                            spearman_mean: sm,
                            spearman_std: ss,
                            top_k_mean: tm,
                            top_k_std: ts,
                            seeds: sums.len(),
                        })
                    })
                    .collect()
            })
            .collect();
        SummaryTable { trainers, rows, cells, k }
    }

    /// Markdown in the thesis' layout: Spearman columns per trainer, then top-k columns.
    pub fn to_markdown(&self) -> String {
        let mut head = vec!["Metric".to_string()];
        head.extend(self.trainers.iter().map(|t| format!("Spearman {}", t.label())));
        head.extend(self.trainers.iter().map(|t| format!("Top {} {}", self.k, t.label())));
        let mut out = format!("| {} |\n|{}\n", head.join(" | "), "---|".repeat(head.len()));
        for (label, cells) in self.rows.iter().zip(&self.cells) {
            let mut line = vec![label.clone()];
            line.extend(cells.iter().map(|c| {
                c.map_or("n/a".into(), |c| {
                    format!("{:.2} ({:.2})", c.spearman_mean, c.spearman_std)
                })
            }));
            line.extend(cells.iter().map(|c| {
                c.map_or("n/a".into(), |c| format!("{:.2} ({:.2})", c.top_k_mean, c.top_k_std))
            }));
            out.push_str(&format!("| {} |\n", line.join(" | ")));
        }
        out
    }

    /// CSV, one line per (metric, trainer).
    pub fn to_csv(&self) -> String {
        let mut out = String::from(
            "metric,trainer,seeds,spearman_mean,spearman_std,top_k,top_k_mean,top_k_std\n",
        );
        for (label, cells) in self.rows.iter().zip(&self.cells) {
            for (t, c) in self.trainers.iter().zip(cells) {
                match c {
                    Some(c) => out.push_str(&format!(
                        "{label},{},{},{},{},{},{},{}\n",
                        t.name(),
                        c.seeds,
                        c.spearman_mean,
                        c.spearman_std,
                        self.k,
                        c.top_k_mean,
                        c.top_k_std
                    )),
                    None => out.push_str(&format!("{label},{},0,,,{},,\n", t.name(), self.k)),
                }
            }
        }
        out
    }
}

/// Candidates ordered best first by `row` (ties keep pool order); the search's ranking.
pub fn rank_by(
    results: &[CandidateResult],
    row: &TableRow,
    sotl_window: usize,
) -> OneShotResult<Vec<(usize, f64)>> {
    let scores = row.scores(results, sotl_window)?;
    let mut order: Vec<(usize, f64)> = scores.into_iter().enumerate().collect();
    order.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    Ok(order)
}
