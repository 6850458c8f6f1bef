//! `sotl_nas._native`: the Python package's bindings. Each function converts Python values,
//! calls the library function the CLI calls for the same job, and converts the result back;
//! nothing is computed here. The pure-Python modules of `python/sotl_nas` give the public API.

mod studies;

use std::str::FromStr;

use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use sotl_bench::{Nb201Bench, Nb201Dataset, Nb201Metric, Nb201Query, Nb201Table, TabularBenchmark};
use sotl_estimators::{EstimatorKind, TrainingRecord};
use sotl_metrics::Bootstrap;
use sotl_space::{DartsGenotype, Nb201Arch, Nb201Space, SearchSpace};

pyo3::create_exception!(
    sotl_nas,
    SotlNasError,
    PyException,
    "An error of the sotl-nas library; the message names the problem and the fix."
);

/// A library error as a Python exception carrying the library's message.
pub(crate) fn to_py(e: anyhow::Error) -> PyErr {
    SotlNasError::new_err(sotl_experiments::error_text(&e))
}

/// [`to_py`] for any error type.
pub(crate) fn err<E: Into<anyhow::Error>>(e: E) -> PyErr {
    to_py(e.into())
}

/// Parses a value by its `FromStr`, naming what was being parsed.
fn parse<T: FromStr>(what: &str, s: &str) -> PyResult<T>
where
    T::Err: std::fmt::Display,
{
    s.parse().map_err(|e: T::Err| SotlNasError::new_err(format!("bad {what}: {e}")))
}

/// A NAS-Bench-201 cell: one operation on each of the 6 edges, written as the benchmark's
/// arch string `|op~0|+|op~0|op~1|+|op~0|op~1|op~2|`.
#[pyclass(module = "sotl_nas._native", name = "Arch", frozen)]
#[derive(Clone)]
struct PyArch(Nb201Arch);

#[pymethods]
impl PyArch {
    /// Parses an arch string.
    #[new]
    fn new(arch: &str) -> PyResult<Self> {
        Ok(PyArch(parse("NAS-Bench-201 arch string", arch.trim())?))
    }

    /// A cell drawn uniformly from the 15 625, by `seed`.
    #[staticmethod]
    fn sample(seed: u64) -> Self {
        PyArch(Nb201Space.sample(&mut ChaCha8Rng::seed_from_u64(seed)))
    }

    /// A random neighbour (one edge's op changed), by `seed`.
    fn mutate(&self, seed: u64) -> Self {
        PyArch(Nb201Space.mutate(&self.0, &mut ChaCha8Rng::seed_from_u64(seed)))
    }

    /// Every cell one edge's op away (24).
    fn neighbours(&self) -> Vec<PyArch> {
        Nb201Space.neighbours(&self.0).into_iter().map(PyArch).collect()
    }

    /// The op of each edge, in arch-string order: (1<-0), (2<-0), (2<-1), (3<-0), (3<-1), (3<-2).
    #[getter]
    fn ops(&self) -> Vec<String> {
        self.0.ops.iter().map(ToString::to_string).collect()
    }

    /// The cell as NAS-Bench-201's nested genotype list: per node, (op, input node) pairs.
    fn to_genotype(&self) -> Vec<Vec<(String, usize)>> {
        let ops = self.ops();
        vec![
            vec![(ops[0].clone(), 0)],
            vec![(ops[1].clone(), 0), (ops[2].clone(), 1)],
            vec![(ops[3].clone(), 0), (ops[4].clone(), 1), (ops[5].clone(), 2)],
        ]
    }

    fn __str__(&self) -> String {
        self.0.to_string()
    }

    fn __repr__(&self) -> String {
        format!("Arch('{}')", self.0)
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other.extract::<PyArch>().is_ok_and(|o| o.0 == self.0)
    }

    fn __hash__(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.0.hash(&mut h);
        h.finish()
    }
}

/// Accepts an [`PyArch`] or an arch string.
fn arch_of(v: &Bound<'_, PyAny>) -> PyResult<Nb201Arch> {
    if let Ok(a) = v.extract::<PyArch>() {
        return Ok(a.0);
    }
    let s: String = v.extract().map_err(|_| {
        SotlNasError::new_err("expected an Arch or a NAS-Bench-201 arch string".to_string())
    })?;
    parse("NAS-Bench-201 arch string", s.trim())
}

/// A DARTS-space genotype, in the DARTS code's own `Genotype(normal=[...], ...)` format.
#[pyclass(module = "sotl_nas._native", name = "Genotype", frozen)]
#[derive(Clone)]
struct PyGenotype(DartsGenotype);

#[pymethods]
impl PyGenotype {
    /// Parses `Genotype(normal=[...], normal_concat=..., reduce=[...], reduce_concat=...)` or a
    /// published cell's name (darts-v1, darts-v2, pdarts, drnas).
    #[new]
    fn new(genotype: &str) -> PyResult<Self> {
        let g = genotype.trim();
        let parsed = if g.starts_with("Genotype") {
            g.parse::<DartsGenotype>().map_err(err)?
        } else {
            sotl_space::darts::preset(g).map_err(err)?
        };
        Ok(PyGenotype(parsed))
    }

    /// The normal cell's (op, input state) pairs, two per intermediate node.
    #[getter]
    fn normal(&self) -> Vec<(String, usize)> {
        self.0.normal.edges.iter().map(|(o, i)| (o.to_string(), *i)).collect()
    }

    /// The reduction cell's (op, input state) pairs.
    #[getter]
    fn reduce(&self) -> Vec<(String, usize)> {
        self.0.reduce.edges.iter().map(|(o, i)| (o.to_string(), *i)).collect()
    }

    /// States concatenated into the normal cell's output.
    #[getter]
    fn normal_concat(&self) -> Vec<usize> {
        self.0.normal.concat.clone()
    }

    /// States concatenated into the reduction cell's output.
    #[getter]
    fn reduce_concat(&self) -> Vec<usize> {
        self.0.reduce.concat.clone()
    }

    fn __str__(&self) -> String {
        self.0.to_string()
    }

    fn __repr__(&self) -> String {
        self.0.to_string()
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other.extract::<PyGenotype>().is_ok_and(|o| o.0 == self.0)
    }

    fn __hash__(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.0.hash(&mut h);
        h.finish()
    }
}

/// NAS-Bench-201 ground truth: the 200-epoch table and the short-schedule one.
#[pyclass(module = "sotl_nas._native", name = "Bench", frozen)]
struct PyBench(Nb201Bench);

#[pymethods]
impl PyBench {
    /// Loads `<data_root>/benchmarks/nb201/nb201-200ep.csv` and `nb201-minibench.csv`.
    #[staticmethod]
    fn load(data_root: std::path::PathBuf) -> PyResult<Self> {
        Ok(PyBench(Nb201Bench::load(&data_root).map_err(err)?))
    }

    /// Loads two tables in the same formats from explicit paths.
    #[staticmethod]
    fn from_paths(full200: std::path::PathBuf, mini: std::path::PathBuf) -> PyResult<Self> {
        Ok(PyBench(Nb201Bench::from_paths(&full200, &mini).map_err(err)?))
    }

    /// Accuracy (%) of `arch`: `dataset` cifar10, cifar100 or imagenet16-120; `metric` test or
    /// valid; `table` full200 (the 200-epoch ground truth) or mini.
    #[pyo3(signature = (arch, dataset="cifar10", metric="test", table="full200"))]
    fn query(
        &self,
        arch: &Bound<'_, PyAny>,
        dataset: &str,
        metric: &str,
        table: &str,
    ) -> PyResult<f64> {
        let q = Nb201Query {
            table: parse::<Nb201Table>("table", table)?,
            dataset: parse::<Nb201Dataset>("dataset", dataset)?,
            metric: parse::<Nb201Metric>("metric", metric)?,
        };
        self.0.query(&arch_of(arch)?, q).map_err(err)
    }

    /// Every accuracy of `arch` in both tables, as a dict `{"index", "arch", "<table>/<dataset>/<metric>": %}`.
    fn row<'py>(&self, py: Python<'py>, arch: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyDict>> {
        let row = self.0.row(&arch_of(arch)?).map_err(err)?;
        let d = PyDict::new(py);
        d.set_item("index", row.index)?;
        d.set_item("arch", row.arch.to_string())?;
        for e in row.entries {
            d.set_item(format!("{}/{}/{}", e.table, e.dataset, e.metric), e.accuracy)?;
        }
        Ok(d)
    }

    /// The NAS-Bench-201 index of `arch`.
    fn index_of(&self, arch: &Bound<'_, PyAny>) -> PyResult<usize> {
        self.0.index_of(&arch_of(arch)?).map_err(err)
    }

    /// The cell with NAS-Bench-201 index `index`.
    fn arch_at(&self, index: usize) -> PyResult<PyArch> {
        Ok(PyArch(self.0.arch_at(index).map_err(err)?))
    }

    /// The best cell and its accuracy for a query (arguments as [`PyBench::query`]).
    #[pyo3(signature = (dataset="cifar10", metric="test", table="full200"))]
    fn best(&self, dataset: &str, metric: &str, table: &str) -> PyResult<(PyArch, f64)> {
        let q = Nb201Query {
            table: parse::<Nb201Table>("table", table)?,
            dataset: parse::<Nb201Dataset>("dataset", dataset)?,
            metric: parse::<Nb201Metric>("metric", metric)?,
        };
        let (a, acc) = self.0.best(q).map_err(err)?;
        Ok((PyArch(a), acc))
    }

    fn __len__(&self) -> usize {
        self.0.table(Nb201Table::Full200).len()
    }
}

/// Per-epoch curves of every NAS-Bench-201 cell under one schedule, converted from the official
/// archives by `convert` (`sotl-nas bench nb201 convert`).
#[pyclass(module = "sotl_nas._native", name = "Curves", frozen)]
struct PyCurves {
    curves: sotl_bench::nb201_archive::Nb201Curves,
    hp: u32,
    index: std::collections::HashMap<Nb201Arch, usize>,
}

#[pymethods]
impl PyCurves {
    /// Reads a `nb201-curves-{12,200}.bin` file.
    #[staticmethod]
    fn load(path: std::path::PathBuf) -> PyResult<Self> {
        let (curves, hp) = sotl_bench::nb201_archive::Nb201Curves::read(&path).map_err(err)?;
        let index = curves.archs.iter().enumerate().map(|(i, a)| (*a, i)).collect();
        Ok(PyCurves { curves, hp, index })
    }

    /// The curves of the `hp`-epoch schedule (12 or 200) under a data root, where `convert`
    /// puts them (`benchmarks/nb201/nb201-curves-<hp>.bin`).
    #[staticmethod]
    fn from_data_root(data_root: std::path::PathBuf, hp: u32) -> PyResult<Self> {
        if hp != 12 && hp != 200 {
            return Err(SotlNasError::new_err(format!(
                "hp must be 12 or 200 (the benchmark's two schedules), not {hp}"
            )));
        }
        Self::load(sotl_bench::nb201_archive::curves_path(&data_root, hp))
    }

    /// Epochs of the schedule (12 or 200).
    #[getter]
    fn epochs(&self) -> usize {
        self.curves.epochs
    }

    /// The schedule's name: 12 or 200.
    #[getter]
    fn hp(&self) -> u32 {
        self.hp
    }

    /// The cells, by NAS-Bench-201 index.
    fn archs(&self) -> Vec<PyArch> {
        self.curves.archs.iter().copied().map(PyArch).collect()
    }

    /// One series of `arch`, one value per epoch (NaN where the archive has none): `dataset`
    /// cifar10-valid, cifar10, cifar100 or ImageNet16-120; `series` train_loss, train_accuracy,
    /// valid_accuracy or test_accuracy (accuracies in %).
    #[pyo3(signature = (arch, dataset="cifar10", series="test_accuracy"))]
    fn curve(&self, arch: &Bound<'_, PyAny>, dataset: &str, series: &str) -> PyResult<Vec<f64>> {
        let a = arch_of(arch)?;
        let i = *self
            .index
            .get(&a)
            .ok_or_else(|| SotlNasError::new_err(format!("{a} is not in these curves")))?;
        let d = sotl_bench::nb201_archive::Nb201Curves::dataset_index(dataset).map_err(err)?;
        let s: sotl_bench::nb201_archive::CurveSeries = series.parse().map_err(err)?;
        Ok(self.curves.series(i, d, s).iter().map(|&v| f64::from(v)).collect())
    }

    fn __len__(&self) -> usize {
        self.curves.archs.len()
    }
}

/// Converts an official NAS-Bench-201 / NATS-Bench topology archive into the tables and
/// curves files under `out`; returns what was written as JSON.
#[pyfunction]
fn convert_archive(
    py: Python<'_>,
    archive: std::path::PathBuf,
    out: std::path::PathBuf,
) -> PyResult<String> {
    let c = py
        .allow_threads(|| sotl_bench::nb201_archive::convert_archive(&archive, &out))
        .map_err(err)?;
    serde_json::to_string(&c).map_err(err)
}

/// The score of estimator `spec` (the CLI's syntax: `sotl`, `sotl-e`, `sotl:last=100`,
/// `sotl-ema:0.9`, `tlmini`, ...) on a run's per-step training losses; higher = predicted better.
#[pyfunction]
#[pyo3(signature = (spec, losses, steps_per_epoch=None))]
fn score_losses(spec: &str, losses: Vec<f64>, steps_per_epoch: Option<usize>) -> PyResult<f64> {
    let kind: EstimatorKind = parse("estimator", spec)?;
    let rec = TrainingRecord::from_losses(&losses, steps_per_epoch).map_err(err)?;
    kind.build().map_err(err)?.score(&rec).map_err(err)
}

/// The score of estimator `spec` on a training record in the JSON form of a run's
/// `record.json`.
#[pyfunction]
fn score_record(spec: &str, record_json: &str) -> PyResult<f64> {
    let kind: EstimatorKind = parse("estimator", spec)?;
    let rec: TrainingRecord = serde_json::from_str(record_json)
        .map_err(|e| SotlNasError::new_err(format!("not a training record: {e}")))?;
    kind.build().map_err(err)?.score(&rec).map_err(err)
}

/// Spearman's rho of paired values.
#[pyfunction]
fn spearman(x: Vec<f64>, y: Vec<f64>) -> PyResult<f64> {
    sotl_metrics::spearman(&x, &y).map_err(err)
}

/// Kendall's tau-b of paired values.
#[pyfunction]
fn kendall_tau(x: Vec<f64>, y: Vec<f64>) -> PyResult<f64> {
    sotl_metrics::kendall_tau_b(&x, &y).map_err(err)
}

/// Pearson's r of paired values.
#[pyfunction]
fn pearson(x: Vec<f64>, y: Vec<f64>) -> PyResult<f64> {
    sotl_metrics::pearson(&x, &y).map_err(err)
}

/// Mean truth of the `k` best-scored items.
#[pyfunction]
fn top_k_mean(scores: Vec<f64>, truth: Vec<f64>, k: usize) -> PyResult<f64> {
    sotl_metrics::top_k_mean(&scores, &truth, k).map_err(err)
}

/// Share of the `k` best-scored items that are among the `k` truly best.
#[pyfunction]
fn precision_at_k(scores: Vec<f64>, truth: Vec<f64>, k: usize) -> PyResult<f64> {
    sotl_metrics::precision_at_k(&scores, &truth, k).map_err(err)
}

/// Percentile-bootstrap interval `(lo, hi)` of `statistic` (spearman or kendall).
#[pyfunction]
#[pyo3(signature = (x, y, statistic="spearman", resamples=1000, level=0.95, seed=0))]
fn bootstrap(
    x: Vec<f64>,
    y: Vec<f64>,
    statistic: &str,
    resamples: usize,
    level: f64,
    seed: u64,
) -> PyResult<(f64, f64)> {
    let b = Bootstrap { resamples, level, seed };
    let i = match statistic {
        "spearman" => b.spearman(&x, &y),
        "kendall" => b.kendall_tau_b(&x, &y),
        s => {
            return Err(SotlNasError::new_err(format!(
                "bad statistic {s:?}: expected spearman or kendall"
            )))
        }
    }
    .map_err(err)?;
    Ok((i.lo, i.hi))
}

/// Writes the network of a `train` run as safetensors under `TinyNetwork`'s names; returns
/// the summary as JSON.
#[pyfunction]
fn export(py: Python<'_>, run: std::path::PathBuf, out: std::path::PathBuf) -> PyResult<String> {
    let s =
        py.allow_threads(|| sotl_experiments::export::export_nb201(&run, &out)).map_err(to_py)?;
    serde_json::to_string(&s).map_err(err)
}

/// Eval-mode logits of the network of a `train` run on images given as flat float32 values
/// and a shape; returns the logits the same way.
#[pyfunction]
#[pyo3(signature = (run, values, shape, device="cpu"))]
fn nb201_logits(
    py: Python<'_>,
    run: std::path::PathBuf,
    values: Vec<f32>,
    shape: Vec<i64>,
    device: &str,
) -> PyResult<(Vec<f32>, Vec<i64>)> {
    let device = sotl_experiments::parse_device(device).map_err(to_py)?;
    let n: i64 = shape.iter().product();
    if n != values.len() as i64 {
        return Err(SotlNasError::new_err(format!(
            "{} values do not fill the shape {shape:?}",
            values.len()
        )));
    }
    py.allow_threads(|| -> anyhow::Result<(Vec<f32>, Vec<i64>)> {
        let x = tch::Tensor::from_slice(&values).reshape(&shape);
        let y = sotl_experiments::export::nb201_logits(&run, &x, device)?;
        let y = y.to_device(tch::Device::Cpu).to_kind(tch::Kind::Float).contiguous();
        let size = y.size();
        Ok((Vec::<f32>::try_from(y.reshape([-1]))?, size))
    })
    .map_err(to_py)
}

/// The data root in force: `given`, else `$SOTL_NAS_DATA`, else `../shared` when it is a folder
/// (the CLI's rule, less its executable-relative candidate).
#[pyfunction]
#[pyo3(signature = (given=None))]
fn resolve_data_root(given: Option<std::path::PathBuf>) -> Option<String> {
    sotl_experiments::resolve_data_root(given.as_deref(), &[]).map(|p| p.display().to_string())
}

/// Sends the library's log messages (warnings such as the synthetic-data fallback or a
/// skip-connection collapse, and progress notes) to stderr, at the level `$SOTL_NAS_LOG` names
/// (error, warn, info, debug, trace; default info, as the CLI).
fn init_logging() {
    let level =
        match std::env::var("SOTL_NAS_LOG").unwrap_or_default().to_ascii_lowercase().as_str() {
            "error" => tracing::Level::ERROR,
            "warn" => tracing::Level::WARN,
            "debug" => tracing::Level::DEBUG,
            "trace" => tracing::Level::TRACE,
            _ => tracing::Level::INFO,
        };
    sotl_experiments::log_to_stderr(level);
}

/// The library's version.
#[pyfunction]
fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    init_logging();
    m.add("STUDIES", studies::STUDIES.to_vec())?;
    m.add("SotlNasError", m.py().get_type::<SotlNasError>())?;
    m.add_class::<PyArch>()?;
    m.add_class::<PyGenotype>()?;
    m.add_class::<PyBench>()?;
    m.add_class::<PyCurves>()?;
    for f in [
        wrap_pyfunction!(score_losses, m)?,
        wrap_pyfunction!(score_record, m)?,
        wrap_pyfunction!(spearman, m)?,
        wrap_pyfunction!(kendall_tau, m)?,
        wrap_pyfunction!(pearson, m)?,
        wrap_pyfunction!(top_k_mean, m)?,
        wrap_pyfunction!(precision_at_k, m)?,
        wrap_pyfunction!(bootstrap, m)?,
        wrap_pyfunction!(export, m)?,
        wrap_pyfunction!(convert_archive, m)?,
        wrap_pyfunction!(nb201_logits, m)?,
        wrap_pyfunction!(version, m)?,
        wrap_pyfunction!(resolve_data_root, m)?,
        wrap_pyfunction!(studies::run_study, m)?,
        wrap_pyfunction!(studies::config_defaults, m)?,
    ] {
        m.add_function(f)?;
    }
    Ok(())
}
