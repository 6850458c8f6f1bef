//! Running a query-based baseline many times on NAS-Bench-201 and summarizing the picks.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use sotl_space::Nb201Arch;

use crate::{
    best_index, ArchObjective, BenchError, Evaluation, Nb201Bench, Nb201Dataset, Nb201Query,
    Result, TabularBenchmark,
};

/// Default number of queries per run for both baselines (see [`crate::RegularizedEvolutionConfig`]).
pub const DEFAULT_QUERY_BUDGET: usize = 100;

/// A batch of baseline runs: how many, the base seed, and the search's own configuration.
///
/// In TOML: `runs = 100`, `seed = 0`, then the search keys under `[search]`. Unknown keys are
/// rejected at both levels.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RunsConfig<C> {
    /// Number of independent runs.
    pub runs: usize,
    /// Base seed; run `r` uses [`run_seed`]`(seed, r)`.
    pub seed: u64,
    /// The search configuration.
    pub search: C,
}

impl<C: Default> Default for RunsConfig<C> {
    fn default() -> Self {
        // 100 runs, as NAS-Bench-201 reports its query-based baselines.
        Self { runs: 100, seed: 0, search: C::default() }
    }
}

impl<C: QueryBaseline> RunsConfig<C> {
    /// Checks the run count and the search configuration.
    pub fn validate(&self) -> Result<()> {
        if self.runs == 0 {
            return Err(BenchError::Config("runs must be at least 1".into()));
        }
        self.search.validate()
    }
}

/// A query-based search algorithm with its configuration.
pub trait QueryBaseline {
    /// Short name (`rs`, `rea`).
    fn name(&self) -> &'static str;
    /// Dataset whose minibench validation accuracy is the selection signal.
    fn dataset(&self) -> Nb201Dataset;
    /// Queries per run.
    fn budget(&self) -> usize;
    /// Checks the configuration.
    fn validate(&self) -> Result<()>;
    /// Runs one search against `objective`, returning every query in order.
    fn search(
        &self,
        objective: &mut dyn ArchObjective,
        rng: &mut dyn rand::RngCore,
    ) -> Result<Vec<Evaluation>>;
}

/// The incumbent (best-so-far pick) after a number of queries.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct IncumbentPoint {
    /// Queries made so far.
    pub queries: usize,
    /// Selection value of the best cell so far.
    pub best_selection: f64,
    /// 200-epoch test accuracy (%) of that cell (computed after the search).
    pub test_accuracy: f64,
}

/// The outcome of one run of a baseline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    /// Baseline name (`rs`, `rea`).
    pub algorithm: String,
    /// Dataset searched on.
    pub dataset: Nb201Dataset,
    /// Run number, from 0.
    pub run: usize,
    /// This run's seed (derived from the base seed with [`run_seed`]).
    pub seed: u64,
    /// Queries made.
    pub queries: usize,
    /// The picked cell.
    pub arch: Nb201Arch,
    /// Its NAS-Bench-201 index.
    pub index: usize,
    /// Its selection value (minibench validation accuracy, %).
    pub selection: f64,
    /// Its 200-epoch test accuracy (%), the ground truth.
    pub test_accuracy: f64,
    /// Best-so-far after each query.
    pub trajectory: Vec<IncumbentPoint>,
}

/// Mean and spread of the picked cells' accuracies over runs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Number of runs.
    pub runs: usize,
    /// Mean 200-epoch test accuracy (%) of the picks.
    pub mean_test_accuracy: f64,
    /// Sample standard deviation (n - 1) of it; 0 for one run.
    pub std_test_accuracy: f64,
    /// Lowest pick test accuracy.
    pub min_test_accuracy: f64,
    /// Highest pick test accuracy.
    pub max_test_accuracy: f64,
    /// Mean selection value of the picks.
    pub mean_selection: f64,
}

/// Seed of run `run` given base seed `seed`: SplitMix64 of the pair, so runs are independent
/// streams and any single run can be replayed from its recorded seed.
pub fn run_seed(seed: u64, run: usize) -> u64 {
    let mut z = seed.wrapping_add((run as u64).wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Runs `baseline` once with `seed`: the searcher sees only minibench validation accuracy; the
/// 200-epoch test accuracy of what it picked is looked up afterwards.
pub fn run_one<B: QueryBaseline + ?Sized>(
    bench: &Nb201Bench,
    baseline: &B,
    run: usize,
    seed: u64,
) -> Result<RunResult> {
    baseline.validate()?;
    let dataset = baseline.dataset();
    let select = Nb201Query::selection(dataset);
    let truth = Nb201Query::ground_truth(dataset);
    // Fail before searching if a column is missing, not at the end of the run.
    bench.check_query(select)?;
    bench.check_query(truth)?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut objective = |a: &Nb201Arch| bench.query(a, select);
    let history = baseline.search(&mut objective, &mut rng)?;
    let best = best_index(&history)
        .ok_or_else(|| BenchError::Config("the search made no query".into()))?;
    let mut trajectory = Vec::with_capacity(history.len());
    let mut cur = 0;
    for (i, e) in history.iter().enumerate() {
        if e.value > history[cur].value {
            cur = i;
        }
        trajectory.push(IncumbentPoint {
            queries: i + 1,
            best_selection: history[cur].value,
            test_accuracy: bench.query(&history[cur].arch, truth)?,
        });
    }
    let pick = history[best];
    Ok(RunResult {
        algorithm: baseline.name().to_string(),
        dataset,
        run,
        seed,
        queries: history.len(),
        arch: pick.arch,
        index: bench.index_of(&pick.arch)?,
        selection: pick.value,
        test_accuracy: bench.query(&pick.arch, truth)?,
        trajectory,
    })
}

/// Runs `baseline` `runs` times, run `r` seeded with [`run_seed`]`(seed, r)`.
pub fn run_many<B: QueryBaseline + ?Sized>(
    bench: &Nb201Bench,
    baseline: &B,
    runs: usize,
    seed: u64,
) -> Result<Vec<RunResult>> {
    (0..runs).map(|r| run_one(bench, baseline, r, run_seed(seed, r))).collect()
}

/// Mean, sample standard deviation and range of the picks' test accuracies.
pub fn summarize(results: &[RunResult]) -> Result<Summary> {
    let n = results.len();
    if n == 0 {
        return Err(BenchError::Config("no runs to summarize (runs must be at least 1)".into()));
    }
    let acc: Vec<f64> = results.iter().map(|r| r.test_accuracy).collect();
    let mean = acc.iter().sum::<f64>() / n as f64;
    let var = if n > 1 {
        acc.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / (n - 1) as f64
    } else {
        0.0
    };
    Ok(Summary {
        runs: n,
        mean_test_accuracy: mean,
        std_test_accuracy: var.sqrt(),
        min_test_accuracy: acc.iter().copied().fold(f64::INFINITY, f64::min),
        max_test_accuracy: acc.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        mean_selection: results.iter().map(|r| r.selection).sum::<f64>() / n as f64,
    })
}
