//! The rows of the benchmark table, named as the PyTorch reference harness names them.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::PerfError;

/// One row of the NAS-Bench-201 speed benchmark.
///
/// The first six are the rows of `shared/bench/pytorch_nb201_reference.py`, with the same meaning;
/// [`BenchRow::Data`] is ours only (the reference leaves data loading out).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BenchRow {
    /// DARTS first order: a weight step and an alpha step on the soft-mixed supernet (2 batches).
    Darts,
    /// SPOS: single-path step over a given sequence of sampled cells.
    Spos,
    /// The SPOS step with one fixed cell.
    Finetune,
    /// Finetune-and-rank throughput: `pool_size` cells finetuned one after another by the
    /// one-shot finetuner, from one supernet (the reference runs its `finetune` row per cell).
    Pool,
    /// Eval-mode, no-grad single-path forward of the fixed cell (+ cross-entropy).
    Eval,
    /// A train step of the fixed cell's standalone network (SGD lr 0.1).
    StandaloneTrain,
    /// Eval-mode, no-grad forward of the standalone network (+ cross-entropy).
    StandaloneEval,
    /// The data loader: gather + pad-4 crop + flip + normalize of one batch from a CIFAR-10-sized
    /// uint8 tensor.
    Data,
}

impl BenchRow {
    /// Every row, in table order.
    pub const ALL: [BenchRow; 8] = [
        BenchRow::Darts,
        BenchRow::Spos,
        BenchRow::Finetune,
        BenchRow::Pool,
        BenchRow::Eval,
        BenchRow::StandaloneTrain,
        BenchRow::StandaloneEval,
        BenchRow::Data,
    ];

    /// The row's name, as in the reference JSON.
    pub const fn name(self) -> &'static str {
        match self {
            BenchRow::Darts => "darts",
            BenchRow::Spos => "spos",
            BenchRow::Finetune => "finetune",
            BenchRow::Pool => "pool",
            BenchRow::Eval => "eval",
            BenchRow::StandaloneTrain => "standalone_train",
            BenchRow::StandaloneEval => "standalone_eval",
            BenchRow::Data => "data",
        }
    }

    /// Whether the reference harness has this row (its `pool` is its `finetune` row per cell).
    pub const fn in_reference(self) -> bool {
        !matches!(self, BenchRow::Data | BenchRow::Pool)
    }

    /// Parses a comma-separated list such as `darts,spos`, keeping table order and dropping
    /// repeats.
    pub fn parse_list(s: &str) -> Result<Vec<BenchRow>, PerfError> {
        let mut rows = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            rows.push(part.parse()?);
        }
        if rows.is_empty() {
            return Err(PerfError::Config {
                field: "bench",
                reason: format!("{s:?} names no row"),
            });
        }
        rows.sort();
        rows.dedup();
        Ok(rows)
    }
}

impl fmt::Display for BenchRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for BenchRow {
    type Err = PerfError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        BenchRow::ALL
            .into_iter()
            .find(|r| r.name() == s)
            .ok_or_else(|| PerfError::UnknownRow(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_lists_keep_table_order() {
        for r in BenchRow::ALL {
            assert_eq!(r.name().parse::<BenchRow>().unwrap(), r);
        }
        let rows = BenchRow::parse_list("eval, spos,eval").unwrap();
        assert_eq!(rows, vec![BenchRow::Spos, BenchRow::Eval]);
        assert!(BenchRow::parse_list("spos,dart").unwrap_err().to_string().contains("\"dart\""));
        assert!(BenchRow::parse_list(" , ").is_err());
    }
}
