//! The main job: choose a NAS-Bench-201 cell by SoTL, with SoTL-DARTS (default) or over an SPOS
//! supernet by finetuning candidates from it and scoring them with SoTL (regularized evolution
//! or a fixed random pool).

use std::path::Path;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use sotl_nn::{Nb201NetConfig, Nb201Supernet};
use sotl_search::{
    evolve, finetune_pool, load_supernet, rank_by, CandidateResult, DartsConfig, DartsMethod,
    DartsRunConfig, DataConfig, DataSource, FinetuneConfig, FinetunePool, Finetuner,
    Nb201DartsSearch, Nb201PathNet, OneShotConfig, Phase, RankMetric, TableRow, TrainerKind,
};

use crate::darts::{run_darts_on, search_checkpoint, DartsStudy};
use crate::data::load_splits;
use crate::oneshot::{build_net, pool_for, rank_pool, require_nb201, train_supernet};
use crate::truth::{cifar10_truth, load_bench};
use crate::Env;

/// How `search` chooses a cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SearchMethod {
    /// SoTL-DARTS: a differentiable search whose architecture gradient is that of the sum of
    /// `T` unrolled training losses (thesis Section 4.3); the cell is the final argmax.
    SotlDarts,
    /// Regularized evolution over an SPOS supernet with each cell's finetuning SoTL as its
    /// fitness (`oneshot.evolution.budget` evaluations).
    Evolution,
    /// Finetune a fixed random pool (`oneshot.pool.size` cells) from an SPOS supernet and take
    /// the lowest SoTL.
    Pool,
}

impl SearchMethod {
    /// Every method, in `--help` order.
    pub const ALL: [SearchMethod; 3] =
        [SearchMethod::SotlDarts, SearchMethod::Evolution, SearchMethod::Pool];

    /// The flag value.
    pub fn name(self) -> &'static str {
        match self {
            SearchMethod::SotlDarts => "sotl-darts",
            SearchMethod::Evolution => "evolution",
            SearchMethod::Pool => "pool",
        }
    }

    /// One line for people.
    pub fn describe(self) -> &'static str {
        match self {
            SearchMethod::SotlDarts => "SoTL-DARTS, alpha descends the sum of T training losses",
            SearchMethod::Evolution => "regularized evolution, fitness = finetuning SoTL",
            SearchMethod::Pool => "random pool ranked by finetuning SoTL",
        }
    }

    /// Whether the method trains an SPOS supernet and finetunes candidates (the `[oneshot]`
    /// budget) rather than running a differentiable search (the `[darts]` budget).
    pub fn is_one_shot(self) -> bool {
        !matches!(self, SearchMethod::SotlDarts)
    }
}

impl std::fmt::Display for SearchMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for SearchMethod {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        SearchMethod::ALL.into_iter().find(|m| m.name() == s).ok_or_else(|| {
            anyhow::anyhow!("unknown search method {s:?}: expected sotl-darts, evolution or pool")
        })
    }
}

/// What the main job does when the final argmax of SoTL-DARTS has collapsed toward skip
/// connections (at least `darts.search.skip_collapse_threshold` of them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnCollapse {
    /// Choose the argmax of the latest epoch after the warm-up that had fewer skip connections
    /// than the threshold: the search stopped before it collapsed (the early stopping of
    /// DARTS+, Liang et al. 2019, on the same skip-count signal). If no such epoch exists, keep
    /// the final argmax and warn.
    EarlierEpoch,
    /// Keep the final argmax and warn.
    Keep,
}

impl OnCollapse {
    /// Every value, in `--help` order.
    pub const ALL: [OnCollapse; 2] = [OnCollapse::EarlierEpoch, OnCollapse::Keep];

    /// The flag value.
    pub fn name(self) -> &'static str {
        match self {
            OnCollapse::EarlierEpoch => "earlier-epoch",
            OnCollapse::Keep => "keep",
        }
    }
}

impl std::fmt::Display for OnCollapse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for OnCollapse {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        OnCollapse::ALL.into_iter().find(|m| m.name() == s).ok_or_else(|| {
            anyhow::anyhow!("unknown on_collapse {s:?}: expected earlier-epoch or keep")
        })
    }
}

/// The budget of the differentiable method: search hyperparameters, supernet and data (a
/// `darts` config without its methods and seeds).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DartsBudget {
    /// The search hyperparameters (`T` is `unroll_steps`).
    pub search: DartsConfig,
    /// The supernet (classes, input channels and size are taken from the data).
    pub net: Nb201NetConfig,
    /// The data.
    pub data: DataConfig,
    /// Finalists re-ranked after the search (0: the final argmax is the choice): the this-many
    /// most probable cells under the final softmax(alpha), each finetuned from the supernet's
    /// searched weights and scored by SoTL; the lowest SoTL is the choice.
    pub finalists: usize,
    /// The finetuning of each finalist (its `seed` is set from the search's).
    pub finetune: FinetuneConfig,
    /// What to choose when the final argmax has collapsed toward skip connections (with
    /// `finalists = 0`; finalists are re-ranked from the final weights whatever their skips,
    /// and `--on-collapse` with `--finalists` is refused).
    pub on_collapse: OnCollapse,
}

/// The finetuning of SoTL-DARTS finalists (`darts.finetune`): 100 minibatches of 64 at a
/// constant lr of 0.01 (the thesis' SPOS setting: the weights were trained as a whole
/// supernet, not path by path, so the higher of its two rates), SoTL over all 100 losses,
/// step 0 included.
pub fn finalist_finetune() -> FinetuneConfig {
    FinetuneConfig {
        steps: 100,
        lr: Some(0.01),
        sotl_window: 100,
        val_every: 100,
        mini_val_every: 10,
        inherited_window: 0,
        ..FinetuneConfig::default()
    }
}

impl Default for DartsBudget {
    /// The main job's SoTL-DARTS budget, 3.5-4.5 minutes on 2 idle CPU cores (seed 0: 205 s
    /// and 272 s on two machines; the main job allows 5): the NAS-Bench-201 DARTS recipe (batch 64; weights SGD 0.025 cosine to 0.001,
    /// momentum 0.9, weight decay 3e-4, clip 5; alpha Adam 3e-4, betas (0.5, 0.999), weight
    /// decay 1e-3) on a C=8, N=1 supernet over 16x16 images and 6 000 training images, T = 10:
    /// 13 epochs, the first 3 training the weights alone, then 9 alpha steps an epoch (90 in
    /// all; the thesis' T = 100 over 25 000 images gives about 4 an epoch, 195 over 50 epochs).
    /// The warm-up follows PC-DARTS and DrNAS: without it the argmax drifted to skip connections
    /// while the convolutions were untrained, and on seeds 0-4 (2 threads) the choices'
    /// NAS-Bench-201 CIFAR-10 test accuracies were 93.28, 93.61, 88.40, 93.48, 91.64 (mean
    /// 92.08); with it 93.06, 94.02, 93.02, 92.42, 93.02 (mean 93.11), and on seeds 5-17, never
    /// used for a choice, 87.59, 94.11, 91.83, 93.90, 94.30, 93.02, 93.02, 93.76, 62.80 (a
    /// collapse to skip connections), 94.02, 92.06, 93.06, 93.75 (median 93.06, mean 90.55).
    /// On fresh seeds 18-23: 93.76, 93.81, 93.63, 93.35, 92.62, 94.30 (mean 93.58). A final
    /// argmax collapsed toward skip connections gives way to the latest post-warm-up epoch's
    /// argmax with fewer (`on_collapse`); on seeds 0-2, 13 and 18-23 it never fired (seed 13
    /// collapsed in its first post-warm-up epoch and keeps its cell, with a warning).
    /// No eigenvalue diagnostics: they cost time and do not change the choice. Finalists are
    /// off (`finalists = 0`): re-ranked by 100-step finetuning SoTL they averaged 92.21 on the
    /// same seeds 5-12 (92.16 against 93.60 on 8-12, the seeds the decision was made on).
    fn default() -> Self {
        let search = DartsConfig {
            epochs: 13,
            arch_warmup_epochs: 3,
            unroll_steps: 10,
            eigen_every: 0,
            ..Default::default()
        };
        let net = Nb201NetConfig { channels: 8, cells_per_stage: 1, ..Default::default() };
        let data = DataConfig {
            source: DataSource::Auto,
            n_train: 6_000,
            n_val: 1_000,
            image_size: 16,
            split_seed: 0,
            synthetic_images: 4_000,
            train_on_all: false,
        };
        DartsBudget {
            search,
            net,
            data,
            finalists: 0,
            finetune: finalist_finetune(),
            on_collapse: OnCollapse::EarlierEpoch,
        }
    }
}

/// The main job's config (`sotl-nas search --config`; `sotl-nas config defaults search` prints
/// it): the method, the one seed, and the budget of each kind of method (only the chosen
/// method's is read).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SearchConfig {
    /// How the cell is chosen.
    pub method: SearchMethod,
    /// Drives every random choice of the search (weights, alpha, data order, evolution, pool,
    /// finetuning order); the run seeds inside `[darts]` and `[oneshot]` are set from it (the
    /// train/valid split keeps its own `data.split_seed`, a property of the dataset).
    pub seed: u64,
    /// The budget of `sotl-darts`.
    pub darts: DartsBudget,
    /// The budget of `evolution` and `pool`.
    pub oneshot: OneShotConfig,
}

impl Default for SearchConfig {
    fn default() -> Self {
        SearchConfig {
            method: SearchMethod::SotlDarts,
            seed: 0,
            darts: DartsBudget::default(),
            oneshot: default_budget(),
        }
    }
}

impl SearchConfig {
    /// Checks the chosen method's budget, naming the first bad key.
    pub fn validate(&self) -> Result<()> {
        if self.method.is_one_shot() {
            self.one_shot().validate().context("in [oneshot]")?;
        } else {
            self.darts_run().validate().context("in [darts]")?;
            if self.darts.finalists > 0 {
                self.darts.finetune.validate().context("in [darts.finetune]")?;
            }
            if self.darts.finalists > sotl_space::nb201::NB201_SIZE {
                bail!(
                    "darts.finalists = {} exceeds the {} cells of NAS-Bench-201",
                    self.darts.finalists,
                    sotl_space::nb201::NB201_SIZE
                );
            }
        }
        Ok(())
    }

    /// The one-shot budget with every seed set from `seed`.
    pub fn one_shot(&self) -> OneShotConfig {
        let mut c = self.oneshot;
        c.train.seed = self.seed;
        c.evolution.seed = self.seed;
        c.pool.seed = self.seed;
        c.finetune.seed = self.seed;
        c
    }

    /// The differentiable budget as a one-method, one-seed `darts` run.
    pub fn darts_run(&self) -> DartsRunConfig {
        let mut search = self.darts.search.clone();
        search.power_iteration.seed = self.seed;
        DartsRunConfig {
            methods: vec![DartsMethod::Sotl],
            seeds: 1,
            seed_base: self.seed,
            search,
            net: self.darts.net,
            data: self.darts.data,
            // The main job searches NAS-Bench-201, whose tables it reports against.
            ..DartsRunConfig::default()
        }
    }
}

/// The one-shot methods' default budget (`[oneshot]`), under the 5 minutes on 2 idle CPU cores the main job allows (about 280
/// s): the thesis' one-shot protocol scaled down in network and image size but not in data. An
/// SPOS supernet (C=8, N=1, 16x16 images) trained for 20 epochs on the whole 25 000-image train
/// half with augmentation (about 21 ms a step with 2 threads), then regularized evolution over
/// 30 evaluations, each a 100-minibatch finetuning at lr 0.01 scored by SoTL over those 100
/// (thesis 4.2). Smaller budgets (4 000 images, 10 epochs) left the supernet so undertrained
/// that the lowest SoTL went to parameter-free cells. Re-ranking the finalists by 300-step SoTL
/// (`[rerank] top = 5`) is available but off: on seeds 0-2 it never changed the choice and took
/// the run past 5 minutes (312 s).
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

/// One of the best cells found, by SoTL.
#[derive(Debug, Clone, Serialize)]
pub struct Ranked {
    /// 1 = chosen.
    pub rank: usize,
    /// NAS-Bench-201 arch string.
    pub arch: String,
    /// Sum of the first `finetune.sotl_window` finetuning losses (lower is better).
    pub sotl: f64,
    /// Ground truth, looked up after the choice.
    pub nb201_cifar10_test: Option<f64>,
}

/// What the main job found (search.json).
#[derive(Debug, Clone, Serialize)]
pub struct SearchReport {
    /// How the cell was chosen.
    pub method: SearchMethod,
    /// The seed.
    pub seed: u64,
    /// The budget, in words.
    pub budget: String,
    /// `cifar10` or `synthetic`.
    pub data: &'static str,
    /// The chosen cell.
    pub chosen: String,
    /// Its NAS-Bench-201 CIFAR-10 test accuracy, when the tables are there.
    pub chosen_nb201_cifar10_test: Option<f64>,
    /// Wall-clock seconds of this invocation.
    pub seconds: f64,
    /// The run folder.
    pub out: String,
    /// Whether NAS-Bench-201 tables were there to look the cells up in.
    pub ground_truth: bool,
    /// What the one-shot methods saw (`evolution`, `pool`).
    pub one_shot: Option<OneShotFindings>,
    /// What the differentiable method saw (`sotl-darts`).
    pub differentiable: Option<DartsFindings>,
}

/// The candidates a one-shot search finetuned.
#[derive(Debug, Clone, Serialize)]
pub struct OneShotFindings {
    /// The best `top` cells by SoTL.
    pub top: Vec<Ranked>,
    /// Cells finetuned.
    pub candidates_finetuned: usize,
    /// The best ground truth among them (how good the choice could have been).
    pub best_finetuned_nb201_cifar10_test: Option<f64>,
    /// The SoTL window.
    pub sotl_window: usize,
    /// The finalists re-ranked by a longer finetuning, best first (`rerank.top > 0`); the
    /// choice is the first. Their `sotl` sums all `rerank.steps` losses.
    pub rerank: Option<Vec<Ranked>>,
    /// Finetuning minibatches of the re-ranking.
    pub rerank_steps: usize,
}

/// A differentiable search's path to its choice.
#[derive(Debug, Clone, Serialize)]
pub struct DartsFindings {
    /// The argmax cell after each epoch, with its skips, depth and (looked up afterwards)
    /// ground truth.
    pub trajectory: Vec<EpochChoice>,
    /// The final mixing weights: per edge (arch-string order), the five ops in
    /// `Nb201Op::ALL` order.
    pub op_weights: Vec<Vec<f64>>,
    /// Epochs at the start in which only the weights trained (their argmax is alpha's
    /// initialization).
    pub warmup_epochs: usize,
    /// The final argmax cell.
    pub argmax: String,
    /// The finalists (`darts.finalists` most probable cells under the final op weights)
    /// re-ranked by finetuning SoTL, best first; the choice is the first. Empty when
    /// re-ranking is off and the argmax is the choice.
    pub finalists: Vec<Ranked>,
    /// Finetuning minibatches per finalist (their `sotl` sums the first `sotl_window`).
    pub finetune_steps: usize,
    /// The SoTL window of the finalists.
    pub sotl_window: usize,
    /// Skip connections from which a cell counts as collapsed (`darts.search.skip_collapse_threshold`).
    pub skip_collapse_threshold: usize,
    /// What was configured for a collapsed final argmax.
    pub on_collapse: OnCollapse,
    /// When the final argmax had collapsed and an earlier epoch's argmax was chosen instead:
    /// that epoch.
    pub chosen_epoch: Option<usize>,
}

/// The discretized cell after one epoch of a differentiable search.
#[derive(Debug, Clone, Serialize)]
pub struct EpochChoice {
    /// Epochs completed.
    pub epoch: usize,
    /// Argmax cell.
    pub genotype: String,
    /// Its skip connections.
    pub skip_connections: usize,
    /// Its depth.
    pub depth: usize,
    /// Its NAS-Bench-201 CIFAR-10 test accuracy, looked up after the search.
    pub nb201_cifar10_test: Option<f64>,
}

impl SearchReport {
    /// The human summary: method, budget, the choice and how it was reached, with ground
    /// truth marked as looked up afterwards.
    pub fn to_text(&self) -> String {
        use std::fmt::Write;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "SoTL search on {} by {} (seed {}, {:.0} s)",
            self.data,
            self.method.describe(),
            self.seed,
            self.seconds
        );
        let _ = writeln!(out, "budget: {}", self.budget);
        let _ = writeln!(out, "chosen: {}", self.chosen);
        if self.ground_truth {
            let _ = writeln!(
                out,
                "(NAS-Bench-201 accuracies below were looked up after the choice was made)"
            );
        }
        if let Some(d) = &self.differentiable {
            let _ = writeln!(out, "epoch  skips  depth  NB201 C10 test  argmax cell");
            for e in &d.trajectory {
                let warm = if e.epoch <= d.warmup_epochs {
                    "  (warm-up: alpha as initialized)"
                } else {
                    ""
                };
                let _ = writeln!(
                    out,
                    "{:>5}  {:>5}  {:>5}  {:>14}  {}{warm}",
                    e.epoch,
                    e.skip_connections,
                    e.depth,
                    truth_cell(e.nb201_cifar10_test),
                    e.genotype
                );
            }
            let _ = writeln!(out, "final op weights (softmax of alpha) per edge:");
            let _ = writeln!(
                out,
                "edge  {}",
                sotl_space::Nb201Op::ALL.map(|o| format!("{:>14}", o.to_string())).join("")
            );
            for (e, w) in d.op_weights.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "{e:>4}  {}",
                    w.iter().map(|v| format!("{v:>14.3}")).collect::<String>()
                );
            }
            if let Some(last) = d.trajectory.last() {
                if last.skip_connections >= d.skip_collapse_threshold.max(1) {
                    let _ = write!(
                        out,
                        "the final argmax has {} skip connections (the collapse threshold is {}): the search drifted toward skip connections, DARTS' failure mode; ",
                        last.skip_connections, d.skip_collapse_threshold
                    );
                    let _ = match d.chosen_epoch {
                        _ if !d.finalists.is_empty() => {
                            writeln!(out, "the finalists below come from these final weights")
                        }
                        Some(e) => writeln!(
                            out,
                            "chose the argmax of epoch {e} instead, the latest with fewer (darts.on_collapse = \"{}\")",
                            d.on_collapse
                        ),
                        None => writeln!(
                            out,
                            "warning: kept it; another --seed, more epochs, or --method evolution may choose better"
                        ),
                    };
                }
            }
            if !d.finalists.is_empty() {
                let _ = writeln!(
                    out,
                    "the {} most probable cells under these weights, finetuned {} steps each from the supernet and ranked by SoTL (the argmax was {}):",
                    d.finalists.len(),
                    d.finetune_steps,
                    d.argmax
                );
                ranking(&mut out, &d.finalists, d.sotl_window);
            }
        }
        if let Some(o) = &self.one_shot {
            let window = o.sotl_window;
            if let Some(finalists) = &o.rerank {
                let _ = writeln!(
                    out,
                    "finalists re-ranked by SoTL over {} finetuning steps:",
                    o.rerank_steps
                );
                ranking(&mut out, finalists, o.rerank_steps);
                let _ = writeln!(out, "search ranking (before re-ranking):");
            }
            ranking(&mut out, &o.top, window);
            if let Some(b) = o.best_finetuned_nb201_cifar10_test {
                let _ = writeln!(
                    out,
                    "best NB201 CIFAR-10 test accuracy among the {} cells finetuned: {b:.2}",
                    o.candidates_finetuned
                );
            }
        } else if let Some(v) = self.chosen_nb201_cifar10_test {
            let _ = writeln!(out, "NB201 CIFAR-10 test accuracy of the chosen cell: {v:.2}");
        }
        if !self.ground_truth {
            out.push_str(
                "(no NAS-Bench-201 table under the data root: ground-truth accuracies not shown)\n",
            );
        }
        let _ = writeln!(out, "results: {}/search.json", self.out);
        out
    }
}

/// A ground-truth accuracy for a table cell, `-` when unknown.
fn truth_cell(v: Option<f64>) -> String {
    v.map_or("      -".to_string(), |v| format!("{v:7.2}"))
}

/// A ranking table: rank, SoTL over `window` steps, ground truth, arch.
fn ranking(out: &mut String, rows: &[Ranked], window: usize) {
    use std::fmt::Write;
    let _ = writeln!(out, "rank  SoTL(first {window:>3})  NB201 C10 test  arch");
    for r in rows {
        let gt = truth_cell(r.nb201_cifar10_test);
        let _ = writeln!(out, "{:>4}  {:>15.3}  {:>14}  {}", r.rank, r.sotl, gt, r.arch);
    }
}

/// The re-ranking stage: the `rerank.top` best cells of `ranked` finetuned again for
/// `rerank.steps` minibatches (resumable, `rerank.jsonl`), best first by SoTL over all of them;
/// `None` when re-ranking is off.
fn rerank(
    env: &Env,
    cfg: &OneShotConfig,
    net: &Nb201PathNet,
    data: &crate::data::Splits,
    ranked: &[(CandidateResult, f64)],
    out: &Path,
) -> Result<Option<Vec<(CandidateResult, f64)>>> {
    let k = cfg.rerank.top.min(ranked.len());
    if k == 0 {
        return Ok(None);
    }
    let steps = cfg.rerank.steps;
    let finalists = FinetunePool {
        seed: cfg.train.seed,
        archs: ranked.iter().take(k).map(|(r, _)| r.arch).collect(),
    };
    let mut fcfg = cfg.finetune;
    fcfg.steps = steps;
    fcfg.sotl_window = steps;
    fcfg.val_every = steps;
    let log = out.join("rerank.jsonl");
    let ranked = finetune_ranked(env, net, fcfg, cfg.train.trainer.kind, &finalists, data, &log)?;
    Ok(Some(ranked))
}

/// Finetunes `pool` from `net`'s weights (resumable, results in `log`) with a progress bar and
/// ranks the results best first by SoTL over `fcfg.sotl_window`.
fn finetune_ranked(
    env: &Env,
    net: &Nb201PathNet,
    fcfg: FinetuneConfig,
    trainer: TrainerKind,
    pool: &FinetunePool,
    data: &crate::data::Splits,
    log: &Path,
) -> Result<Vec<(CandidateResult, f64)>> {
    let mut ft = Finetuner::new(net, fcfg, trainer)?;
    let bar = env.progress(pool.archs.len() as u64, "finetune");
    let results = finetune_pool(&mut ft, pool, &data.train, &data.val, log, |done, _, _| {
        bar.set_position(done as u64)
    })?;
    bar.finish();
    by_sotl(&results, fcfg.sotl_window)
}

/// `results` with their SoTL score over `window` steps (higher = lower SoTL), best first, ties
/// in finetuning order.
fn by_sotl(results: &[CandidateResult], window: usize) -> Result<Vec<(CandidateResult, f64)>> {
    let row = TableRow { metric: RankMetric::Sotl, phase: Phase::Finetuned(window) };
    let order = rank_by(results, &row, window)?;
    Ok(order.into_iter().map(|(i, s)| (results[i].clone(), s)).collect())
}

/// Runs the main job in `out` (resumable) with the resolved `cfg` (defaults or a file, with
/// the user's overrides): `cfg.seed` drives every random choice. The search sees training
/// losses alone; ground truth is looked up only afterwards, for the report.
pub fn run_search(env: &Env, cfg: &SearchConfig, top: usize, out: &Path) -> Result<SearchReport> {
    let t0 = Instant::now();
    cfg.validate()?;
    let mut report = if cfg.method.is_one_shot() {
        one_shot_search(env, &cfg.one_shot(), cfg.method, top, out)?
    } else {
        darts_search(env, cfg, out)?
    };
    report.seconds = t0.elapsed().as_secs_f64();
    sotl_report::write_json_atomic(&out.join("search.json"), &report)?;
    Ok(report)
}

/// SoTL-DARTS as a one-seed `darts` run in `out` (its files: config.json, table.md,
/// `sotl/seed<S>/` with the checkpoint, trajectory and plots), then, when `darts.finalists` is
/// set, the finalists re-ranked by finetuning SoTL (`finalists/`).
fn darts_search(env: &Env, cfg: &SearchConfig, out: &Path) -> Result<SearchReport> {
    let run = cfg.darts_run();
    run.validate()?;
    let data = load_splits(env, &run.data)?;
    let study = run_darts_on(env, &run, &data, out)?;
    let outcome = study.outcomes.first().context("a one-seed darts run has one outcome")?;
    let seed = &study.seeds[0];
    let last = outcome.trajectory.last().context("a finished search has at least one epoch")?;
    let bench = load_bench(env)?;
    let truth = |a: &sotl_space::Nb201Arch| bench.as_ref().and_then(|b| cifar10_truth(b, a));
    let finalists: Vec<Ranked> = rerank_finalists(env, cfg, &study, &data, out)?
        .iter()
        .enumerate()
        .map(|(i, (r, s))| Ranked {
            rank: i + 1,
            arch: r.arch.to_string(),
            sotl: -*s,
            nb201_cifar10_test: truth(&r.arch),
        })
        .collect();
    let threshold = run.search.skip_collapse_threshold;
    let earlier = match (cfg.darts.on_collapse, finalists.is_empty()) {
        (OnCollapse::EarlierEpoch, true) => {
            let skips: Vec<usize> = outcome.trajectory.iter().map(|p| p.skip_connections).collect();
            before_collapse(&skips, run.search.arch_warmup_epochs, threshold)
                .map(|i| &outcome.trajectory[i])
        }
        _ => None,
    };
    let (chosen, chosen_truth) = match (finalists.first(), earlier) {
        (Some(f), _) => (f.arch.clone(), f.nb201_cifar10_test),
        (None, Some(p)) => (p.genotype.to_string(), p.test_accuracy),
        (None, None) => (seed.genotype.clone(), seed.cifar10_test),
    };
    let steps_per_epoch = study.train_images / run.search.batch_size;
    let side = study.image_size;
    let alpha_epochs = run.search.epochs - run.search.arch_warmup_epochs;
    let warm = match run.search.arch_warmup_epochs {
        0 => String::new(),
        w => format!(" (the first {w} weights only)"),
    };
    let alpha_steps = alpha_epochs * (steps_per_epoch / run.search.unroll_steps);
    let rerank = match cfg.darts.finalists {
        0 => String::new(),
        k => format!(
            "; {k} finalists finetuned {} steps each, SoTL over {}",
            cfg.darts.finetune.steps, cfg.darts.finetune.sotl_window
        ),
    };
    Ok(SearchReport {
        method: cfg.method,
        seed: cfg.seed,
        budget: format!(
            "supernet C={} N={} on {} images of {side}x{side}, {} epochs of batch {}{warm}; T={} (about {alpha_steps} alpha steps){rerank}",
            run.net.channels,
            run.net.cells_per_stage,
            study.train_images,
            run.search.epochs,
            run.search.batch_size,
            run.search.unroll_steps,
        ),
        data: study.data_source,
        chosen,
        chosen_nb201_cifar10_test: chosen_truth,
        seconds: 0.0,
        out: out.display().to_string(),
        ground_truth: bench.is_some(),
        one_shot: None,
        differentiable: Some(DartsFindings {
            trajectory: outcome
                .trajectory
                .iter()
                .map(|p| EpochChoice {
                    epoch: p.epoch,
                    genotype: p.genotype.to_string(),
                    skip_connections: p.skip_connections,
                    depth: p.depth,
                    nb201_cifar10_test: p.test_accuracy,
                })
                .collect(),
            op_weights: last.op_weights.clone(),
            warmup_epochs: run.search.arch_warmup_epochs,
            argmax: seed.genotype.clone(),
            finalists,
            finetune_steps: cfg.darts.finetune.steps,
            sotl_window: cfg.darts.finetune.sotl_window,
            skip_collapse_threshold: threshold,
            on_collapse: cfg.darts.on_collapse,
            chosen_epoch: earlier.map(|p| p.epoch),
        }),
    })
}

/// With `skips[e]` the skip connections of the argmax after epoch `e + 1`: when the last has
/// collapsed (`>= threshold`), the index of the latest epoch after the `warmup` epochs (whose
/// argmax is alpha's initialization, not a search result) that had not; `None` when the last
/// has not collapsed or no such epoch exists.
fn before_collapse(skips: &[usize], warmup: usize, threshold: usize) -> Option<usize> {
    match skips.last() {
        Some(&last) if last >= threshold => {
            skips.iter().rposition(|&s| s < threshold).filter(|&i| i >= warmup)
        }
        _ => None,
    }
}

/// What the finalists stage of a SoTL-DARTS search ran with (`finalists/config.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct FinalistsRun {
    finalists: usize,
    finetune: FinetuneConfig,
}

/// The `darts.finalists` most probable cells under the search's final op weights, finetuned
/// from its final supernet weights (resumable, `finalists/finetune.jsonl`), best first by SoTL;
/// empty when re-ranking is off.
fn rerank_finalists(
    env: &Env,
    cfg: &SearchConfig,
    study: &DartsStudy,
    data: &crate::data::Splits,
    out: &Path,
) -> Result<Vec<(CandidateResult, f64)>> {
    let k = cfg.darts.finalists;
    if k == 0 {
        return Ok(Vec::new());
    }
    let run = cfg.darts_run();
    let last = study
        .outcomes
        .first()
        .and_then(|o| o.trajectory.last())
        .context("a finished search has at least one epoch")?;
    let weights: Vec<f64> = last.op_weights.iter().flatten().copied().collect();
    let archs: Vec<_> = sotl_space::Nb201Space
        .most_probable(&weights, k)
        .context("cannot take finalists from the final op weights")?
        .into_iter()
        .map(|(a, _)| a)
        .collect();
    let mut finetune = cfg.darts.finetune;
    finetune.seed = cfg.seed;
    let dir =
        crate::RunDir::claim(&out.join("finalists"), &FinalistsRun { finalists: k, finetune })?;
    let ckpt = search_checkpoint(out, DartsMethod::Sotl, cfg.seed);
    let search = Nb201DartsSearch::resume(
        &ckpt,
        DartsMethod::Sotl,
        &run.search,
        &study.net,
        cfg.seed,
        env.device,
        tch::Kind::Float,
    )
    .with_context(|| format!("cannot load the searched supernet from {}", ckpt.display()))?;
    let (_vs, net) = search.into_path_net();
    let pool = FinetunePool { seed: cfg.seed, archs };
    finetune_ranked(
        env,
        &net,
        finetune,
        TrainerKind::Spos,
        &pool,
        data,
        &dir.path("finetune.jsonl"),
    )
}

/// An SPOS supernet, then evolution or a pool ranked by finetuning SoTL.
fn one_shot_search(
    env: &Env,
    cfg: &OneShotConfig,
    method: SearchMethod,
    top: usize,
    out: &Path,
) -> Result<SearchReport> {
    if cfg.train.trainer.kind != TrainerKind::Spos {
        bail!(
            "search trains an SPOS supernet, but the config asks for oneshot.train.trainer.kind = {}; use `sotl-nas oneshot run --trainers {}` for other trainers",
            cfg.train.trainer.kind,
            cfg.train.trainer.kind
        );
    }
    require_nb201(cfg, "search")?;
    let data = load_splits(env, &cfg.data)?;
    train_supernet(env, cfg, &data, out)?;
    let (_vs, net) = build_net::<Nb201Supernet>(env, cfg, &data)?;
    load_supernet(&net, &out.join("supernet.ot"))?;
    let window = cfg.finetune.sotl_window;
    // Candidates with their SoTL score (higher = lower SoTL), best first.
    let (ranked, results, budget): (Vec<(CandidateResult, f64)>, usize, String) = match method {
        SearchMethod::Pool => {
            let pool = pool_for(cfg, &sotl_space::Nb201Space, None, out)?;
            let results = rank_pool(env, cfg, &net, &data, &pool, out)?;
            (by_sotl(&results, window)?, results.len(), format!("pool of {}", cfg.pool.size))
        }
        SearchMethod::SotlDarts => unreachable!("run_search sends sotl-darts to darts_search"),
        SearchMethod::Evolution => {
            let mut ft = Finetuner::new(&net, cfg.finetune, cfg.train.trainer.kind)?;
            let bar = env.progress(cfg.evolution.budget as u64, "evolve");
            let run = evolve(
                &mut ft,
                &cfg.evolution,
                &data.train,
                &data.val,
                &out.join("evolution.jsonl"),
                |done, _, _| bar.set_position(done as u64),
            )?;
            bar.finish();
            sotl_report::write_json_atomic(&out.join("evolution.json"), &run)?;
            let scored = by_sotl(&run.results, window)?;
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
    let reranked = rerank(env, cfg, &net, &data, &ranked, out)?;
    let bench = load_bench(env)?;
    let truth = |r: &CandidateResult| bench.as_ref().and_then(|b| cifar10_truth(b, &r.arch));
    let to_ranked = |list: &[(CandidateResult, f64)], n: usize| -> Vec<Ranked> {
        list.iter()
            .take(n)
            .enumerate()
            .map(|(i, (r, s))| Ranked {
                rank: i + 1,
                arch: r.arch.to_string(),
                sotl: -*s,
                nb201_cifar10_test: truth(r),
            })
            .collect()
    };
    let finalists = reranked.as_ref().map(|f| to_ranked(f, f.len()));
    let top = to_ranked(&ranked, top.max(1));
    let (chosen, chosen_truth) = match &finalists {
        Some(f) => (f[0].arch.clone(), f[0].nb201_cifar10_test),
        None => (top[0].arch.clone(), top[0].nb201_cifar10_test),
    };
    let best = ranked
        .iter()
        .filter_map(|(r, _)| truth(r))
        .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))));
    Ok(SearchReport {
        method,
        seed: cfg.train.seed,
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
        chosen,
        chosen_nb201_cifar10_test: chosen_truth,
        seconds: 0.0,
        out: out.display().to_string(),
        ground_truth: bench.is_some(),
        one_shot: Some(OneShotFindings {
            top,
            candidates_finetuned: results,
            best_finetuned_nb201_cifar10_test: best,
            sotl_window: window,
            rerank: finalists,
            rerank_steps: cfg.rerank.steps,
        }),
        differentiable: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(skips: usize, chosen_epoch: Option<usize>) -> SearchReport {
        let cell = "|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|nor_conv_3x3~2|";
        SearchReport {
            method: SearchMethod::SotlDarts,
            seed: 13,
            budget: "tiny".into(),
            data: "synthetic",
            chosen: cell.into(),
            chosen_nb201_cifar10_test: None,
            seconds: 1.0,
            out: "runs/x".into(),
            ground_truth: false,
            one_shot: None,
            differentiable: Some(DartsFindings {
                trajectory: vec![EpochChoice {
                    epoch: 1,
                    genotype: cell.into(),
                    skip_connections: skips,
                    depth: 3,
                    nb201_cifar10_test: None,
                }],
                op_weights: vec![vec![0.2; 5]; 6],
                warmup_epochs: 0,
                argmax: cell.into(),
                finalists: Vec::new(),
                finetune_steps: 100,
                sotl_window: 100,
                skip_collapse_threshold: 4,
                on_collapse: OnCollapse::EarlierEpoch,
                chosen_epoch,
            }),
        }
    }

    #[test]
    fn a_collapsed_choice_is_flagged_in_the_summary() {
        let text = report(5, None).to_text();
        assert!(text.contains("the final argmax has 5 skip connections"), "{text}");
        assert!(text.contains("warning: kept it"), "{text}");
        let text = report(5, Some(7)).to_text();
        assert!(text.contains("chose the argmax of epoch 7 instead"), "{text}");
        assert!(!text.contains("warning"), "{text}");
        let text = report(3, None).to_text();
        assert!(!text.contains("skip connections (the collapse"), "below the threshold: {text}");
    }

    #[test]
    fn a_collapsed_search_falls_back_to_the_latest_epoch_before_the_collapse() {
        // Skips per epoch; threshold 4; no warm-up.
        assert_eq!(before_collapse(&[1, 1, 3, 4, 2, 1, 5], 0, 4), Some(5));
        assert_eq!(before_collapse(&[1, 4, 4], 0, 4), Some(0));
        assert_eq!(before_collapse(&[3, 4, 2], 0, 4), None, "the final argmax is healthy");
        assert_eq!(before_collapse(&[4, 5, 6], 0, 4), None, "every epoch collapsed");
        assert_eq!(before_collapse(&[], 0, 4), None);
        // Two warm-up epochs: their argmax is alpha's initialization, never the choice.
        assert_eq!(before_collapse(&[1, 1, 2, 4, 5], 2, 4), Some(2));
        assert_eq!(before_collapse(&[1, 1, 4, 4, 5], 2, 4), None, "only warm-up was healthy");
    }
}
