//! NAS-Bench-201 ground truth: the 200-epoch table and the minibench table together.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sotl_space::Nb201Arch;

use crate::{
    BenchError, Nb201Dataset, Nb201Metric, Nb201Table, Nb201TableData, Result, TabularBenchmark,
};

/// Folder of the tables under a data root.
pub const NB201_DIR: &str = "benchmarks/nb201";

/// One NAS-Bench-201 lookup: which table, dataset and accuracy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Nb201Query {
    /// Which table (fidelity).
    pub table: Nb201Table,
    /// Which dataset.
    pub dataset: Nb201Dataset,
    /// Test or validation accuracy.
    pub metric: Nb201Metric,
}

impl Nb201Query {
    /// The ground truth: 200-epoch test accuracy on `dataset`.
    pub const fn ground_truth(dataset: Nb201Dataset) -> Self {
        Self { table: Nb201Table::Full200, dataset, metric: Nb201Metric::Test }
    }

    /// What query-based baselines select on: minibench validation accuracy on `dataset`.
    pub const fn selection(dataset: Nb201Dataset) -> Self {
        Self { table: Nb201Table::Mini, dataset, metric: Nb201Metric::Valid }
    }
}

/// One accuracy of a [`Nb201Row`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Nb201Entry {
    /// Which table.
    pub table: Nb201Table,
    /// Which dataset.
    pub dataset: Nb201Dataset,
    /// Which metric.
    pub metric: Nb201Metric,
    /// Accuracy in percent.
    pub accuracy: f64,
}

/// Everything both tables hold about one architecture.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Nb201Row {
    /// NAS-Bench-201 index.
    pub index: usize,
    /// The cell.
    pub arch: Nb201Arch,
    /// Every accuracy, 200-epoch table first, then minibench, in column order.
    pub entries: Vec<Nb201Entry>,
}

/// NAS-Bench-201 ground truth from the two CSV tables of `shared/benchmarks/nb201/`.
///
/// Loads in well under a second (about 0.1 s) into about 1.4 MB (the original API needs ~28 GB). Query by
/// [`Nb201Arch`] (never by string) or by NAS-Bench-201 index.
#[derive(Debug, Clone)]
pub struct Nb201Bench {
    full: Nb201TableData,
    mini: Nb201TableData,
}

impl Nb201Bench {
    /// The two table paths under a data root.
    pub fn paths(data_root: &Path) -> (PathBuf, PathBuf) {
        let dir = data_root.join(NB201_DIR);
        (dir.join(Nb201Table::Full200.file_name()), dir.join(Nb201Table::Mini.file_name()))
    }

    /// Loads both tables from `data_root/benchmarks/nb201/`, requiring all 15 625 rows in each.
    pub fn load(data_root: &Path) -> Result<Self> {
        let (full, mini) = Self::paths(data_root);
        let bench = Self::from_paths(&full, &mini)?;
        bench.full.require_complete()?;
        bench.mini.require_complete()?;
        Ok(bench)
    }

    /// Loads the two tables from explicit paths (partial tables allowed, as in tests).
    pub fn from_paths(full200: &Path, mini: &Path) -> Result<Self> {
        Self::from_tables(
            Nb201TableData::open(full200, Nb201Table::Full200)?,
            Nb201TableData::open(mini, Nb201Table::Mini)?,
        )
    }

    /// Pairs two parsed tables, checking they hold the same architectures under the same indices.
    pub fn from_tables(full: Nb201TableData, mini: Nb201TableData) -> Result<Self> {
        if full.table() != Nb201Table::Full200 || mini.table() != Nb201Table::Mini {
            return Err(BenchError::Config(
                "from_tables takes the 200-epoch table, then the minibench table".into(),
            ));
        }
        let mismatch =
            |reason: String| BenchError::Mismatch { file: mini.source().to_string(), reason };
        for (index, arch) in full.entries() {
            match mini.arch_at(index) {
                Some(a) if a == arch => {}
                Some(a) => {
                    return Err(mismatch(format!(
                        "index {index} is {a} here but {arch} in {}",
                        full.source()
                    )))
                }
                None => {
                    return Err(mismatch(format!(
                        "index {index} ({arch}) of {} is missing",
                        full.source()
                    )))
                }
            }
        }
        if mini.len() != full.len() {
            return Err(mismatch(format!(
                "{} rows here, {} in {}",
                mini.len(),
                full.len(),
                full.source()
            )));
        }
        Ok(Self { full, mini })
    }

    /// One of the two tables.
    pub fn table(&self, t: Nb201Table) -> &Nb201TableData {
        match t {
            Nb201Table::Full200 => &self.full,
            Nb201Table::Mini => &self.mini,
        }
    }

    /// The NAS-Bench-201 index of `arch`.
    pub fn index_of(&self, arch: &Nb201Arch) -> Result<usize> {
        self.full.index_of(arch).ok_or_else(|| BenchError::UnknownArch {
            arch: arch.to_string(),
            table: self.full.source().to_string(),
        })
    }

    /// The architecture with NAS-Bench-201 index `index`.
    pub fn arch_at(&self, index: usize) -> Result<Nb201Arch> {
        self.full.arch_at(index).ok_or(BenchError::UnknownIndex { index, len: self.full.len() })
    }

    /// Accuracy (%) of the architecture with NAS-Bench-201 index `index`.
    pub fn query_index(&self, index: usize, q: Nb201Query) -> Result<f64> {
        self.query(&self.arch_at(index)?, q)
    }

    /// Every accuracy of `arch` in both tables.
    pub fn row(&self, arch: &Nb201Arch) -> Result<Nb201Row> {
        let index = self.index_of(arch)?;
        let mut entries = Vec::new();
        for table in Nb201Table::ALL {
            for (dataset, metric) in table.columns() {
                let accuracy = self.query(arch, Nb201Query { table, dataset, metric })?;
                entries.push(Nb201Entry { table, dataset, metric, accuracy });
            }
        }
        Ok(Nb201Row { index, arch: *arch, entries })
    }

    /// The architecture with the highest accuracy under `q` (the lowest index on ties).
    pub fn best(&self, q: Nb201Query) -> Result<(Nb201Arch, f64)> {
        self.check_query(q)?;
        let t = self.table(q.table);
        let mut best: Option<(Nb201Arch, f64)> = None;
        for (_, arch) in t.entries() {
            let v = t.get(&arch, q.dataset, q.metric).unwrap_or(f64::NAN);
            if best.is_none_or(|(_, b)| v > b) {
                best = Some((arch, v));
            }
        }
        best.ok_or_else(|| BenchError::Config("empty table".into()))
    }

    /// Errors unless the tables have the column `q` names (e.g. the 200-epoch table has no
    /// validation accuracy).
    pub fn check_query(&self, q: Nb201Query) -> Result<()> {
        if self.table(q.table).has_column(q.dataset, q.metric) {
            return Ok(());
        }
        let hint = if q.metric == Nb201Metric::Valid {
            "only the minibench table (mini) has validation accuracies".to_string()
        } else {
            format!("the columns are {:?}", q.table.columns())
        };
        Err(BenchError::Unsupported {
            table: q.table.name().into(),
            dataset: q.dataset.name().into(),
            metric: q.metric.name().into(),
            hint,
        })
    }
}

impl TabularBenchmark for Nb201Bench {
    type Arch = Nb201Arch;
    type Query = Nb201Query;

    fn query(&self, arch: &Nb201Arch, q: Nb201Query) -> Result<f64> {
        self.check_query(q)?;
        let t = self.table(q.table);
        t.get(arch, q.dataset, q.metric).ok_or_else(|| BenchError::UnknownArch {
            arch: arch.to_string(),
            table: t.source().to_string(),
        })
    }

    fn supports(&self, q: Nb201Query) -> bool {
        self.check_query(q).is_ok()
    }

    fn len(&self) -> usize {
        self.full.len()
    }
}
