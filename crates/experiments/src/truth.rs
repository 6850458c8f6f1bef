//! NAS-Bench-201 and NAS-Bench-101 ground truth for reporting, read only after a search has
//! chosen.

use anyhow::Result;
use sotl_bench::nb101::Nb101Table;
use sotl_bench::{Nb201Bench, Nb201Dataset, Nb201Metric, Nb201Query, Nb201Table, TabularBenchmark};
use sotl_space::{Nb201Arch, OneShot1Cell};

use crate::Env;

/// The NAS-Bench-201 tables under the data root, if there: `None` with a note when absent, an
/// error when they are there but unreadable or corrupt.
pub fn load_bench(env: &Env) -> Result<Option<Nb201Bench>> {
    let Some(root) = env.data_root.as_deref() else {
        tracing::info!("no data root, so no NAS-Bench-201 ground truth; skipping correlations");
        return Ok(None);
    };
    match Nb201Bench::load(root) {
        Ok(b) => Ok(Some(b)),
        Err(sotl_bench::BenchError::Io { err, path })
            if err.kind() == std::io::ErrorKind::NotFound =>
        {
            tracing::info!(
                "no NAS-Bench-201 ground truth ({} is absent); skipping correlations",
                path.display()
            );
            Ok(None)
        }
        Err(e) => Err(anyhow::Error::new(e)
            .context("the NAS-Bench-201 tables under the data root cannot be used")),
    }
}

/// Test accuracy (%) of `arch` on `dataset` after NAS-Bench-201's 200-epoch schedule.
pub fn nb201_test(bench: &Nb201Bench, arch: &Nb201Arch, dataset: Nb201Dataset) -> Option<f64> {
    bench
        .query(arch, Nb201Query { table: Nb201Table::Full200, dataset, metric: Nb201Metric::Test })
        .ok()
}

/// CIFAR-10 test accuracy (%) of `arch` after NAS-Bench-201's 200-epoch schedule.
pub fn cifar10_truth(bench: &Nb201Bench, arch: &Nb201Arch) -> Option<f64> {
    nb201_test(bench, arch, Nb201Dataset::Cifar10)
}

/// Where a NAS-Bench-101 table converted by `sotl-nas bench nb101 convert` is looked for: this
/// file under the data root.
pub const NB101_TABLE: &str = "nb101.csv";

/// The NAS-Bench-101 table under the data root ([`NB101_TABLE`]), if there: `None` with a note
/// when absent, an error when it is there but unreadable.
pub fn load_nb101(env: &Env) -> Result<Option<Nb101Table>> {
    let Some(root) = env.data_root.as_deref() else {
        tracing::info!("no data root, so no NAS-Bench-101 ground truth; skipping correlations");
        return Ok(None);
    };
    let path = root.join(NB101_TABLE);
    if !path.exists() {
        tracing::info!(
            "no NAS-Bench-101 ground truth ({} is absent; `sotl-nas bench nb101 convert --out {}` makes it from nasbench_only108.tfrecord); skipping correlations",
            path.display(),
            path.display()
        );
        return Ok(None);
    }
    Nb101Table::read_csv(&path).map(Some).map_err(|e| {
        anyhow::Error::new(e).context("the NAS-Bench-101 table under the data root cannot be used")
    })
}

/// NAS-Bench-101 CIFAR-10 test accuracy (%) of a NAS-Bench-1shot1 cell after 108 epochs, the
/// mean over the benchmark's runs (as NAS-Bench-1shot1 reports it).
pub fn nb101_test(table: &Nb101Table, cell: &OneShot1Cell) -> Option<f64> {
    table.mean_test_accuracy(&cell.to_nb101(), 108).map(|a| 100.0 * a)
}
