//! What a query-based search sees: one number per architecture, nothing else.

use serde::{Deserialize, Serialize};
use sotl_space::Nb201Arch;

use crate::Result;

/// The selection signal a search algorithm optimizes (higher is better).
///
/// Searchers get only this, never the benchmark: ground truth cannot steer the search by
/// accident (the baseline runner evaluates what was picked afterwards).
pub trait ArchObjective<G = Nb201Arch> {
    /// Evaluates `arch` (one query of the budget).
    fn evaluate(&mut self, arch: &G) -> Result<f64>;
}

impl<G, F: FnMut(&G) -> Result<f64>> ArchObjective<G> for F {
    fn evaluate(&mut self, arch: &G) -> Result<f64> {
        self(arch)
    }
}

/// One query made by a search: the architecture (a NAS-Bench-201 cell unless `G` says
/// otherwise) and its selection value.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(bound(serialize = "G: Serialize", deserialize = "G: serde::de::DeserializeOwned"))]
pub struct Evaluation<G = Nb201Arch> {
    /// The architecture queried.
    pub arch: G,
    /// Its selection value.
    pub value: f64,
}

/// Position of the best evaluation in `history` (the earliest on ties), if any.
pub fn best_index<G>(history: &[Evaluation<G>]) -> Option<usize> {
    let mut best: Option<usize> = None;
    for (i, e) in history.iter().enumerate() {
        if best.is_none_or(|b| e.value > history[b].value) {
            best = Some(i);
        }
    }
    best
}
