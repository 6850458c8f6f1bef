//! Random search over NAS-Bench-201 by table queries.

use serde::{Deserialize, Serialize};
use sotl_space::Nb201Arch;

use crate::{ArchObjective, BenchError, Evaluation, Nb201Dataset, QueryBaseline, Result};

/// Random search (Bergstra & Bengio 2012; the "RS" baseline of NAS-Bench-201): draw `budget`
/// cells uniformly (with replacement, each draw one query) and keep the best by the selection
/// signal.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RandomSearchConfig {
    /// Dataset whose minibench validation accuracy is the selection signal.
    pub dataset: Nb201Dataset,
    /// Number of queries; the same default as [`crate::RegularizedEvolutionConfig::budget`] so
    /// the two baselines compare at equal cost.
    pub budget: usize,
}

impl Default for RandomSearchConfig {
    fn default() -> Self {
        Self { dataset: Nb201Dataset::Cifar10, budget: crate::DEFAULT_QUERY_BUDGET }
    }
}

impl QueryBaseline for RandomSearchConfig {
    fn name(&self) -> &'static str {
        "rs"
    }

    fn dataset(&self) -> Nb201Dataset {
        self.dataset
    }

    fn budget(&self) -> usize {
        self.budget
    }

    fn validate(&self) -> Result<()> {
        if self.budget == 0 {
            return Err(BenchError::Config(
                "random search: budget must be at least 1 query".into(),
            ));
        }
        Ok(())
    }

    fn search(
        &self,
        objective: &mut dyn ArchObjective,
        rng: &mut dyn rand::RngCore,
    ) -> Result<Vec<Evaluation>> {
        self.validate()?;
        let mut history = Vec::with_capacity(self.budget);
        for _ in 0..self.budget {
            let arch = Nb201Arch::sample(rng);
            let value = objective.evaluate(&arch)?;
            history.push(Evaluation { arch, value });
        }
        Ok(history)
    }
}
