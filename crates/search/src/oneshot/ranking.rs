//! Ranking reports: rank correlations of each metric with ground truth, over finetuning steps,
//! across trainers and seeds (thesis Table 4.1 and Figure 4.6).
//!
//! This is the only place in the one-shot module that sees ground truth, and it sees it only as
//! a lookup passed in after every candidate has been scored.

use serde::{Deserialize, Serialize};
use sotl_estimators::{
    BnStats, Estimator, ParamCount, Sog, SogL1, Sogn, Sotl, TlMini, TrainingRecord, ValAcc,
    ValAccMini, Window,
};
use sotl_metrics::{spearman, Bootstrap, Interval, RankSummary};
use sotl_report::mean_std;
use sotl_space::Genotype;

use super::{CandidateResult, OneShotError, OneShotResult, TrainerKind};

/// A ranking metric of the one-shot study.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RankMetric {
    /// Sum of training losses over the SoTL window (negated: higher is better).
    Sotl,
    /// The latest minibatch training loss (negated).
    TlMini,
    /// The latest whole-validation-set accuracy, evaluated with these BN statistics.
    ValAcc(BnStats),
    /// The latest one-minibatch validation accuracy, evaluated with these BN statistics.
    ValAccMini(BnStats),
    /// Sum of gradients over the finetuning steps so far (dimension-wise sum of the summed
    /// gradient).
    Sog,
    /// L1 norm of the gradient summed over the finetuning steps so far (the thesis author's code).
    SogL1,
    /// Sum of gradient L1 norms over the finetuning steps so far.
    Sogn,
    /// Parameter count.
    Params,
}

impl RankMetric {
    /// Every metric, in table order.
    pub const ALL: [RankMetric; 10] = [
        RankMetric::Sotl,
        RankMetric::TlMini,
        RankMetric::ValAcc(BnStats::Batch),
        RankMetric::ValAcc(BnStats::Running),
        RankMetric::ValAccMini(BnStats::Batch),
        RankMetric::ValAccMini(BnStats::Running),
        RankMetric::Sog,
        RankMetric::SogL1,
        RankMetric::Sogn,
        RankMetric::Params,
    ];

    /// The thesis' label, with the BN statistics of validation metrics.
    pub fn label(self) -> &'static str {
        match self {
            RankMetric::Sotl => "SoTL",
            RankMetric::TlMini => "TLMini",
            RankMetric::ValAcc(BnStats::Batch) => "ValAcc [batch BN]",
            RankMetric::ValAcc(BnStats::Running) => "ValAcc [running BN]",
            RankMetric::ValAccMini(BnStats::Batch) => "ValAccMini [batch BN]",
            RankMetric::ValAccMini(BnStats::Running) => "ValAccMini [running BN]",
            RankMetric::Sog => "SoG",
            RankMetric::SogL1 => "SoG-L1",
            RankMetric::Sogn => "SoGN",
            RankMetric::Params => "Params",
        }
    }

    fn estimator(self, sotl_window: Window) -> Box<dyn Estimator> {
        match self {
            RankMetric::Sotl => Box::new(Sotl::new(sotl_window)),
            RankMetric::TlMini => Box::new(TlMini),
            RankMetric::ValAcc(_) => Box::new(ValAcc),
            RankMetric::ValAccMini(_) => Box::new(ValAccMini),
            RankMetric::Sog => Box::new(Sog { window: Window::All }),
            RankMetric::SogL1 => Box::new(SogL1),
            RankMetric::Sogn => Box::new(Sogn { window: Window::All }),
            RankMetric::Params => Box::new(ParamCount),
        }
    }

    /// `rec`, or for a validation metric a copy holding only its BN mode's evaluations.
    fn record(self, rec: &TrainingRecord) -> std::borrow::Cow<'_, TrainingRecord> {
        match self {
            RankMetric::ValAcc(bn) | RankMetric::ValAccMini(bn) => {
                let mut r = rec.clone();
                r.vals.retain(|v| v.bn == bn);
                std::borrow::Cow::Owned(r)
            }
            _ => std::borrow::Cow::Borrowed(rec),
        }
    }

    /// The metric's score after `t` finetuning steps (`t >= 1`), `window` being the SoTL window:
    /// SoTL sums the last `min(window, t)` losses, so at `t = window` it is SoTL over the first
    /// `window` minibatches.
    pub fn score_at(self, rec: &TrainingRecord, t: usize, window: usize) -> OneShotResult<f64> {
        let w = if t >= window { Window::LastSteps(window) } else { Window::All };
        self.estimator(w)
            .score_at(&self.record(rec), t)
            .map_err(|e| OneShotError::Report(e.to_string()))
    }

    /// The metric at the inherited weights, with no finetuning: SoTL and TLMini from the
    /// no-update loss pass, ValAcc(Mini) from the step-0 evaluations. The gradient metrics need a
    /// training trajectory and have no such value.
    pub fn score_inherited<G>(self, r: &CandidateResult<G>) -> OneShotResult<f64> {
        if matches!(self, RankMetric::Sog | RankMetric::SogL1 | RankMetric::Sogn) {
            return Err(OneShotError::Report(format!(
                "{} has no value without finetuning",
                self.label()
            )));
        }
        self.estimator(Window::All)
            .score(&self.record(&r.inherited))
            .map_err(|e| OneShotError::Report(e.to_string()))
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
    /// remaining metrics are using the supernet weights directly"), validation metrics in both
    /// BN modes, then SoG, SoG-L1, SoGN and Params, then the finetuned counterparts after all
    /// `steps`. Rows whose data a run did not record (a BN mode not evaluated) come out empty.
    pub fn standard(sotl_window: usize, steps: usize) -> Vec<TableRow> {
        use BnStats::{Batch, Running};
        let ft = Phase::Finetuned(sotl_window);
        let end = Phase::Finetuned(steps);
        let inh = Phase::Inherited;
        let row = |metric, phase| TableRow { metric, phase };
        vec![
            row(RankMetric::Sotl, ft),
            row(RankMetric::TlMini, inh),
            row(RankMetric::ValAcc(Batch), inh),
            row(RankMetric::ValAcc(Running), inh),
            row(RankMetric::ValAccMini(Batch), inh),
            row(RankMetric::ValAccMini(Running), inh),
            row(RankMetric::Sog, ft),
            row(RankMetric::SogL1, ft),
            row(RankMetric::Sogn, ft),
            row(RankMetric::Params, inh),
            row(RankMetric::Sotl, inh),
            row(RankMetric::TlMini, end),
            row(RankMetric::ValAcc(Batch), end),
            row(RankMetric::ValAcc(Running), end),
            row(RankMetric::ValAccMini(Batch), end),
            row(RankMetric::ValAccMini(Running), end),
        ]
    }

    /// Every candidate's score for this row.
    pub fn scores<G>(
        &self,
        results: &[CandidateResult<G>],
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
pub fn ground_truth<G: Genotype>(
    results: &[CandidateResult<G>],
    truth: &dyn Fn(&G) -> Option<f64>,
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
    /// Percentile-bootstrap 95% interval of the Spearman correlation (resampling candidates).
    pub spearman_ci: Option<Interval>,
    /// Percentile-bootstrap 95% interval of Kendall's tau-b.
    pub kendall_ci: Option<Interval>,
    /// Spearman correlation of the metric with the candidates' parameter counts: near 1 means
    /// it ranks by size, whatever its correlation with ground truth.
    pub spearman_vs_params: Option<f64>,
    /// Every candidate's score (pool order), for intervals over seeds; empty when undefined.
    pub scores: Vec<f64>,
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
    /// Ground truth of every candidate (pool order), read after scoring.
    pub truth: Vec<f64>,
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
pub fn rank_report<G: Genotype>(
    trainer: TrainerKind,
    seed: u64,
    results: &[CandidateResult<G>],
    truth: &dyn Fn(&G) -> Option<f64>,
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
    let params: Vec<f64> = results.iter().map(|r| r.param_count as f64).collect();
    let rows = TableRow::standard(settings.sotl_window, settings.steps)
        .into_iter()
        .map(|row| {
            let scores = row.scores(results, settings.sotl_window);
            let kept = scores.as_ref().map(Vec::clone).unwrap_or_default();
            match summarize(scores) {
                Ok(s) => {
                    let scores = kept;
                    let (spearman_ci, kendall_ci, spearman_vs_params) =
                        intervals(&scores, &gt, &params);
                    RowResult {
                        row,
                        summary: Some(s),
                        spearman_ci,
                        kendall_ci,
                        spearman_vs_params,
                        scores,
                        note: None,
                    }
                }
                Err(e) => RowResult {
                    row,
                    summary: None,
                    spearman_ci: None,
                    kendall_ci: None,
                    spearman_vs_params: None,
                    scores: Vec::new(),
                    note: Some(e),
                },
            }
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
    Ok(RunRanking { trainer, seed, n: results.len(), k, rows, curves, truth: gt })
}

/// The 95% bootstrap intervals of Spearman and Kendall against `truth`, and the Spearman with
/// `params` (each `None` where undefined).
fn intervals(
    scores: &[f64],
    truth: &[f64],
    params: &[f64],
) -> (Option<Interval>, Option<Interval>, Option<f64>) {
    let boot = Bootstrap::default();
    (
        boot.spearman(scores, truth).ok(),
        boot.kendall_tau_b(scores, truth).ok(),
        spearman(scores, params).ok(),
    )
}

/// One score's ranking of a pool against ground truth (higher score = predicted better), with
/// 95% bootstrap intervals and its Spearman with the parameter count.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoreRanking {
    /// What was scored.
    pub label: String,
    /// Spearman, Kendall and top-k mean.
    pub summary: RankSummary,
    /// 95% bootstrap interval of the Spearman correlation.
    pub spearman_ci: Option<Interval>,
    /// 95% bootstrap interval of Kendall's tau-b.
    pub kendall_ci: Option<Interval>,
    /// Spearman with the parameter count.
    pub spearman_vs_params: Option<f64>,
}

impl ScoreRanking {
    /// Ranks `scores` against `truth` (both in pool order); `k` for the top-k mean.
    pub fn compute(
        label: impl Into<String>,
        scores: &[f64],
        truth: &[f64],
        params: &[f64],
        k: usize,
    ) -> OneShotResult<Self> {
        let label = label.into();
        let summary = RankSummary::compute(scores, truth, k.max(1))
            .map_err(|e| OneShotError::Report(format!("{label}: {e}")))?;
        let (spearman_ci, kendall_ci, spearman_vs_params) = intervals(scores, truth, params);
        Ok(ScoreRanking { label, summary, spearman_ci, kendall_ci, spearman_vs_params })
    }

    /// A Markdown table of `rows`: Spearman [95%], Kendall [95%], vs params, top-k mean.
    pub fn markdown(rows: &[ScoreRanking]) -> String {
        let k = rows.first().map_or(0, |r| r.summary.k);
        let mut out = format!(
            "| Score | n | Spearman [95%] | Kendall [95%] | vs params | Top {k} |\n|---|---|---|---|---|---|\n"
        );
        let ci = |i: Option<Interval>| {
            i.map_or(String::new(), |i| format!(" [{:.2}, {:.2}]", i.lo, i.hi))
        };
        for r in rows {
            out.push_str(&format!(
                "| {} | {} | {:.2}{} | {:.2}{} | {} | {:.2} |\n",
                r.label,
                r.summary.n,
                r.summary.spearman,
                ci(r.spearman_ci),
                r.summary.kendall_tau,
                ci(r.kendall_ci),
                r.spearman_vs_params.map_or("n/a".to_string(), |v| format!("{v:.2}")),
                r.summary.top_k_mean
            ));
        }
        out
    }
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
    /// 95% bootstrap interval of the seed-mean Spearman (candidates resampled jointly across
    /// seeds, which share the pool).
    pub spearman_ci: Option<Interval>,
    /// Kendall tau-b mean over seeds.
    pub kendall_mean: f64,
    /// Kendall tau-b std over seeds.
    pub kendall_std: f64,
    /// 95% bootstrap interval of the seed-mean Kendall tau-b.
    pub kendall_ci: Option<Interval>,
    /// Spearman with the parameter count, mean over seeds.
    pub vs_params_mean: Option<f64>,
    /// Top-k mean ground truth, mean over seeds.
    pub top_k_mean: f64,
    /// Its std over seeds.
    pub top_k_std: f64,
    /// Seeds with a defined value.
    pub seeds: usize,
}

/// The 95% bootstrap interval of the mean over runs of `stat(scores, truth)`: each resample of
/// candidate positions is applied to every run (they share one pool).
fn seed_mean_interval(
    runs: &[(&[f64], &[f64])],
    stat: fn(&[f64], &[f64]) -> sotl_metrics::Result<f64>,
) -> Option<Interval> {
    let n = runs.first()?.0.len();
    if runs.iter().any(|(s, t)| s.len() != n || t.len() != n) {
        return None;
    }
    let (mut xs, mut ys) = (Vec::with_capacity(n), Vec::with_capacity(n));
    Bootstrap::default()
        .interval(n, |idx| {
            let mut sum = 0.0;
            for (s, t) in runs {
                xs.clear();
                ys.clear();
                xs.extend(idx.iter().map(|&i| s[i]));
                ys.extend(idx.iter().map(|&i| t[i]));
                sum += stat(&xs, &ys).ok()?;
            }
            Some(sum / runs.len() as f64)
        })
        .ok()
}

impl SummaryTable {
    /// Aggregates runs (any number of seeds per trainer) into the table; rows no run could
    /// compute (e.g. a BN mode that was not evaluated) are left out.
    pub fn from_runs(runs: &[RunRanking]) -> Self {
        let mut trainers: Vec<TrainerKind> = Vec::new();
        for r in runs {
            if !trainers.contains(&r.trainer) {
                trainers.push(r.trainer);
            }
        }
        let labels: Vec<String> = runs
            .first()
            .map(|r| r.rows.iter().map(|x| x.row.label()).collect())
            .unwrap_or_default();
        let k = runs.first().map_or(10, |r| r.k);
        let mut rows = Vec::new();
        let mut cells = Vec::new();
        for (ri, label) in labels.into_iter().enumerate() {
            let line: Vec<Option<SummaryCell>> = trainers
                .iter()
                .map(|t| {
                    let mine: Vec<(&RunRanking, &RowResult)> = runs
                        .iter()
                        .filter(|r| r.trainer == *t)
                        .filter_map(|r| {
                            r.rows.get(ri).filter(|x| x.summary.is_some()).map(|x| (r, x))
                        })
                        .collect();
                    let sums: Vec<RankSummary> =
                        mine.iter().filter_map(|(_, x)| x.summary).collect();
                    let sp: Vec<f64> = sums.iter().map(|s| s.spearman).collect();
                    let kt: Vec<f64> = sums.iter().map(|s| s.kendall_tau).collect();
                    let tk: Vec<f64> = sums.iter().map(|s| s.top_k_mean).collect();
                    let vp: Vec<f64> =
                        mine.iter().filter_map(|(_, x)| x.spearman_vs_params).collect();
                    let (sm, ss) = mean_std(&sp)?;
                    let (km, ks) = mean_std(&kt)?;
                    let (tm, ts) = mean_std(&tk)?;
                    let pairs: Vec<(&[f64], &[f64])> = mine
                        .iter()
                        .map(|(r, x)| (x.scores.as_slice(), r.truth.as_slice()))
                        .collect();
                    Some(SummaryCell {
                        spearman_mean: sm,
                        spearman_std: ss,
                        spearman_ci: seed_mean_interval(&pairs, spearman),
                        kendall_mean: km,
                        kendall_std: ks,
                        kendall_ci: seed_mean_interval(&pairs, sotl_metrics::kendall_tau_b),
                        vs_params_mean: mean_std(&vp).map(|(m, _)| m),
                        top_k_mean: tm,
                        top_k_std: ts,
                        seeds: sums.len(),
                    })
                })
                .collect();
            if line.iter().any(Option::is_some) {
                rows.push(label);
                cells.push(line);
            }
        }
        SummaryTable { trainers, rows, cells, k }
    }

    /// Markdown in the thesis' layout: per trainer the Spearman mean (std) [95% interval], the
    /// Kendall tau-b likewise, the Spearman with the parameter count, then top-k columns.
    pub fn to_markdown(&self) -> String {
        let mut head = vec!["Metric".to_string()];
        head.extend(self.trainers.iter().map(|t| format!("Spearman {}", t.label())));
        head.extend(self.trainers.iter().map(|t| format!("Kendall {}", t.label())));
        head.extend(self.trainers.iter().map(|t| format!("vs params {}", t.label())));
        head.extend(self.trainers.iter().map(|t| format!("Top {} {}", self.k, t.label())));
        let mut out = format!("| {} |\n|{}\n", head.join(" | "), "---|".repeat(head.len()));
        let ci = |i: Option<Interval>| {
            i.map_or(String::new(), |i| format!(" [{:.2}, {:.2}]", i.lo, i.hi))
        };
        for (label, cells) in self.rows.iter().zip(&self.cells) {
            let mut line = vec![label.clone()];
            let na = || "n/a".to_string();
            line.extend(cells.iter().map(|c| {
                c.map_or_else(na, |c| {
                    format!("{:.2} ({:.2}){}", c.spearman_mean, c.spearman_std, ci(c.spearman_ci))
                })
            }));
            line.extend(cells.iter().map(|c| {
                c.map_or_else(na, |c| {
                    format!("{:.2} ({:.2}){}", c.kendall_mean, c.kendall_std, ci(c.kendall_ci))
                })
            }));
            line.extend(
                cells.iter().map(|c| {
                    c.and_then(|c| c.vs_params_mean).map_or_else(na, |v| format!("{v:.2}"))
                }),
            );
            line.extend(cells.iter().map(|c| {
                c.map_or_else(na, |c| format!("{:.2} ({:.2})", c.top_k_mean, c.top_k_std))
            }));
            out.push_str(&format!("| {} |\n", line.join(" | ")));
        }
        out
    }

    /// CSV, one line per (metric, trainer).
    pub fn to_csv(&self) -> String {
        let mut out = sotl_report::CsvText::new([
            "metric",
            "trainer",
            "seeds",
            "spearman_mean",
            "spearman_std",
            "spearman_ci_lo",
            "spearman_ci_hi",
            "kendall_mean",
            "kendall_std",
            "kendall_ci_lo",
            "kendall_ci_hi",
            "spearman_vs_params",
            "top_k",
            "top_k_mean",
            "top_k_std",
        ]);
        let opt = |v: Option<f64>| v.map_or(String::new(), |v| v.to_string());
        for (label, cells) in self.rows.iter().zip(&self.cells) {
            for (t, c) in self.trainers.iter().zip(cells) {
                let row = match c {
                    Some(c) => vec![
                        label.clone(),
                        t.name().to_string(),
                        c.seeds.to_string(),
                        c.spearman_mean.to_string(),
                        c.spearman_std.to_string(),
                        opt(c.spearman_ci.map(|i| i.lo)),
                        opt(c.spearman_ci.map(|i| i.hi)),
                        c.kendall_mean.to_string(),
                        c.kendall_std.to_string(),
                        opt(c.kendall_ci.map(|i| i.lo)),
                        opt(c.kendall_ci.map(|i| i.hi)),
                        opt(c.vs_params_mean),
                        self.k.to_string(),
                        c.top_k_mean.to_string(),
                        c.top_k_std.to_string(),
                    ],
                    None => {
                        let mut r = vec![String::new(); 15];
                        r[0] = label.clone();
                        r[1] = t.name().to_string();
                        r[2] = "0".into();
                        r[12] = self.k.to_string();
                        r
                    }
                };
                out.row(row);
            }
        }
        out.finish()
    }
}

/// Candidates ordered best first by `row` (ties keep pool order); the search's ranking.
pub fn rank_by<G>(
    results: &[CandidateResult<G>],
    row: &TableRow,
    sotl_window: usize,
) -> OneShotResult<Vec<(usize, f64)>> {
    let scores = row.scores(results, sotl_window)?;
    let mut order: Vec<(usize, f64)> = scores.into_iter().enumerate().collect();
    order.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    Ok(order)
}

/// One candidate a metric picks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pick {
    /// Position in the pool.
    pub index: usize,
    /// The genotype, in the space's string form.
    pub arch: String,
    /// The metric's score (higher ranks first: losses, SoTL and sizes as the metric defines).
    pub score: f64,
}

/// One metric's picks from a pool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PickRow {
    /// The metric and when it is read.
    pub row: TableRow,
    /// The best `k` candidates, best first (ties in pool order); empty when undefined.
    pub top: Vec<Pick>,
    /// Spearman correlation of this metric's scores with SoTL's (the first row): how far the
    /// two agree over the whole pool, which needs no ground truth.
    pub spearman_with_sotl: Option<f64>,
    /// Why the row is empty.
    pub note: Option<String>,
}

/// A run's picks where there is no ground truth to rank against (the DARTS space; NAS-Bench-201
/// without its tables): the best candidates of the pool by each metric of the standard table,
/// and how far each metric agrees with SoTL. SoTL's first pick is the run's choice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PoolPicks {
    /// The supernet trainer.
    pub trainer: TrainerKind,
    /// The supernet seed.
    pub seed: u64,
    /// Candidates ranked.
    pub candidates: usize,
    /// The standard rows ([`TableRow::standard`]), SoTL first.
    pub rows: Vec<PickRow>,
}

impl PoolPicks {
    /// The picks of `results` by every standard row, the top `settings.k` of each.
    pub fn compute<G: Genotype>(
        trainer: TrainerKind,
        seed: u64,
        results: &[CandidateResult<G>],
        settings: &ReportSettings,
    ) -> OneShotResult<Self> {
        if results.is_empty() {
            return Err(OneShotError::Report("no candidates to pick from".into()));
        }
        let window = settings.sotl_window;
        let rows = TableRow::standard(window, settings.steps);
        let sotl = rows[0].scores(results, window)?;
        let rows = rows
            .into_iter()
            .map(|row| match row.scores(results, window) {
                Ok(scores) => {
                    let mut order: Vec<usize> = (0..scores.len()).collect();
                    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
                    let top = order
                        .iter()
                        .take(settings.k.max(1))
                        .map(|&i| Pick {
                            index: results[i].index,
                            arch: results[i].arch.to_string(),
                            score: scores[i],
                        })
                        .collect();
                    PickRow {
                        row,
                        top,
                        spearman_with_sotl: spearman(&scores, &sotl).ok().filter(|r| r.is_finite()),
                        note: None,
                    }
                }
                Err(e) => PickRow {
                    row,
                    top: Vec::new(),
                    spearman_with_sotl: None,
                    note: Some(e.to_string()),
                },
            })
            .collect();
        Ok(PoolPicks { trainer, seed, candidates: results.len(), rows })
    }

    /// The run's choice: SoTL's best candidate.
    pub fn choice(&self) -> Option<&Pick> {
        self.rows.first().and_then(|r| r.top.first())
    }

    /// A Markdown summary: the choice, then per metric its agreement with SoTL and its first
    /// pick.
    pub fn to_markdown(&self) -> String {
        let mut out = format!(
            "{} seed {}: {} candidates ranked without ground truth.\n\n",
            self.trainer.label(),
            self.seed,
            self.candidates
        );
        if let Some(c) = self.choice() {
            out.push_str(&format!("Choice (lowest SoTL): candidate {}: {}\n\n", c.index, c.arch));
        }
        out.push_str("| Metric | Spearman with SoTL | Best candidate | Score | Next best |\n");
        out.push_str("|---|---|---|---|---|\n");
        for r in &self.rows {
            let agree = r.spearman_with_sotl.map_or("n/a".to_string(), |v| format!("{v:.2}"));
            match r.top.first() {
                Some(best) => {
                    let next: Vec<String> =
                        r.top.iter().skip(1).take(4).map(|p| p.index.to_string()).collect();
                    out.push_str(&format!(
                        "| {} | {agree} | {} | {:.4} | {} |\n",
                        r.row.label(),
                        best.index,
                        best.score,
                        next.join(", ")
                    ));
                }
                None => out.push_str(&format!(
                    "| {} | n/a | - | - | {} |\n",
                    r.row.label(),
                    r.note.as_deref().unwrap_or("")
                )),
            }
        }
        out
    }
}
