//! NAS-Bench-201 ground truth for reporting, read only after a search has chosen.

use anyhow::Result;
use sotl_bench::{Nb201Bench, Nb201Dataset, Nb201Metric, Nb201Query, Nb201Table, TabularBenchmark};
use sotl_space::Nb201Arch;

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
