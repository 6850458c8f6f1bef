//! Regularized evolution over a trained supernet with finetuning SoTL as the fitness: the
//! extension that thesis Section 4.2 proposes in place of scoring a fixed random pool.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::Path;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use sotl_bench::{
    best_index, regularized_evolution, Evaluation, QueryBaseline, RegularizedEvolutionConfig,
};
use sotl_space::{Genotype, Nb201Arch};
use sotl_train::DeviceImages;

use super::{
    ArchOf, CandidateResult, Finetuner, OneShotError, OneShotResult, PathNet, RankMetric,
    ResultsLog,
};

/// Settings of the evolutionary search. Population 10 and tournament 3 are the NAS-Bench-201
/// REA defaults (AutoDL-Projects' `R-EA.sh`); the budget counts fitness evaluations, each one a
/// finetuning of `finetune.steps` minibatches from the supernet weights.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EvolutionConfig {
    /// Individuals kept alive.
    pub population: usize,
    /// Tournament size (members drawn with replacement to pick a parent).
    pub sample_size: usize,
    /// Evaluations in all, initial population included (repeats of a cell already scored are
    /// looked up, not finetuned again, but count).
    pub budget: usize,
    /// Seed of sampling, tournaments and mutations.
    pub seed: u64,
}

impl Default for EvolutionConfig {
    fn default() -> Self {
        EvolutionConfig { population: 10, sample_size: 3, budget: 100, seed: 0 }
    }
}

impl EvolutionConfig {
    fn rea(&self) -> RegularizedEvolutionConfig {
        RegularizedEvolutionConfig {
            population: self.population,
            sample_size: self.sample_size,
            budget: self.budget,
            ..Default::default()
        }
    }

    /// Checks every value.
    pub fn validate(&self) -> OneShotResult<()> {
        self.rea().validate().map_err(|e| OneShotError::config("evolution", e.to_string()))
    }
}

/// What an evolutionary search did (over NAS-Bench-201 cells unless `G` says otherwise).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound(serialize = "G: Serialize", deserialize = "G: serde::de::DeserializeOwned"))]
pub struct EvolutionRun<G = Nb201Arch> {
    /// Every evaluation in order: the cell and its fitness (negated SoTL).
    pub history: Vec<Evaluation<G>>,
    /// Position in `history` of the pick: the fittest cell ever evaluated (earliest on ties).
    pub best: usize,
    /// The finetuning results of the distinct cells evaluated, in order of first evaluation.
    pub results: Vec<CandidateResult<G>>,
}

impl<G: Genotype> EvolutionRun<G> {
    /// The chosen cell.
    pub fn chosen(&self) -> G {
        self.history[self.best].arch.clone()
    }
}

/// Runs regularized evolution (Real et al. 2019) over cells of the supernet behind
/// `finetuner`, the fitness of a cell being its negated SoTL over the first
/// `finetune.sotl_window` finetuning minibatches from the supernet weights (the one-shot
/// protocol's score, so the search optimizes what the pool ranking ranks by).
///
/// Each distinct cell's result is appended to `results_path` as it is computed; a rerun replays
/// the same seeded decisions, reading the scores already there, and continues where the killed
/// run stopped. `progress(evaluations_done, budget, finetuned_now)` is called after each
/// evaluation.
pub fn evolve<N: PathNet + ?Sized>(
    finetuner: &mut Finetuner<'_, N>,
    config: &EvolutionConfig,
    train: &DeviceImages,
    val: &DeviceImages,
    results_path: &Path,
    mut progress: impl FnMut(usize, usize, bool),
) -> OneShotResult<EvolutionRun<ArchOf<N>>> {
    config.validate()?;
    let window = finetuner.config().sotl_window;
    let (log, done) = ResultsLog::open::<ArchOf<N>>(results_path, None)?;
    let fitness =
        |r: &CandidateResult<ArchOf<N>>| RankMetric::Sotl.score_at(&r.finetune, window, window);
    let mut known: HashMap<ArchOf<N>, f64> = HashMap::new();
    for r in &done {
        known.insert(r.arch.clone(), fitness(r)?);
    }
    // The objective cannot return our error type through the baseline's trait: keep it aside.
    let state = RefCell::new((log, done, known, None::<OneShotError>, 0usize));
    let space = finetuner.space();
    let mut objective = |arch: &ArchOf<N>| -> sotl_bench::Result<f64> {
        let mut st = state.borrow_mut();
        let (log, results, known, failure, evaluations) = &mut *st;
        *evaluations += 1;
        if let Some(&v) = known.get(arch) {
            progress(*evaluations, config.budget, false);
            return Ok(v);
        }
        let scored = finetuner
            .finetune(results.len(), arch, train, val)
            .and_then(|r| log.append(&r).map(|()| r))
            .and_then(|r| fitness(&r).map(|v| (r, v)));
        match scored {
            Ok((r, v)) => {
                known.insert(arch.clone(), v);
                results.push(r);
                progress(*evaluations, config.budget, true);
                Ok(v)
            }
            Err(e) => {
                *failure = Some(e);
                Err(sotl_bench::BenchError::Config("finetuning failed".into()))
            }
        }
    };
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    let outcome = regularized_evolution(
        &space,
        config.population,
        config.sample_size,
        config.budget,
        &mut objective,
        &mut rng,
    );
    let (_, results, _, failure, _) = state.into_inner();
    let history = match (outcome, failure) {
        (_, Some(e)) => return Err(e),
        (Err(e), None) => return Err(OneShotError::config("evolution", e.to_string())),
        (Ok(h), None) => h,
    };
    finetuner.reset();
    let best = best_index(&history).expect("the budget covers the population");
    Ok(EvolutionRun { history, best, results })
}
