//! `run_study`: every command's study from a Python dict with the TOML config's keys, on a
//! worker thread so that Python stays responsive: progress goes to stderr or to a Python
//! callable, and Ctrl-C stops the study at its next progress report, leaving the run folder
//! as resumable as a killed CLI run leaves it.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use pyo3::prelude::*;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use sotl_experiments::search::SearchConfig;
use sotl_experiments::shard::GridMode;
use sotl_experiments::{Env, Progress, ProgressSink, Silent, StderrProgress};
use sotl_search::{DartsRunConfig, OneShotConfig, SupernetTrainerConfig, TrainerKind};
use sotl_studies::{FourierConfig, HypergradConfig};
use sotl_train::TrainRunConfig;

use crate::{to_py, SotlNasError};

/// The studies `run_study` knows, as the CLI names them.
pub const STUDIES: [&str; 9] = [
    "search",
    "train",
    "evaluate",
    "oneshot-train",
    "oneshot-rank",
    "oneshot-run",
    "darts",
    "hypergrad",
    "fourier",
];

/// The panic payload that unwinds a study out of its loop after Ctrl-C (or a failing
/// progress callback): the drivers have no cancellation points of their own, and every long
/// loop reports progress, so that report is where the study stops. Run folders are written
/// atomically, so what was checkpointed resumes.
struct Interrupted;

/// Where progress goes, and the flag that stops the study.
struct PySink {
    inner: Arc<dyn ProgressSink>,
    callback: Option<Arc<Py<PyAny>>>,
    stop: Arc<AtomicBool>,
    callback_error: Arc<Mutex<Option<PyErr>>>,
}

struct PyProgress {
    inner: Box<dyn Progress>,
    label: String,
    len: std::cell::Cell<u64>,
    pos: std::cell::Cell<u64>,
    msg: std::cell::RefCell<String>,
    last: std::cell::Cell<Option<Instant>>,
    callback: Option<Arc<Py<PyAny>>>,
    stop: Arc<AtomicBool>,
    callback_error: Arc<Mutex<Option<PyErr>>>,
}

impl PyProgress {
    fn check_stop(&self) {
        if self.stop.load(Ordering::SeqCst) {
            std::panic::resume_unwind(Box::new(Interrupted));
        }
    }

    /// Calls the Python callback at most 5 times a second, and always when `force`.
    fn report(&self, force: bool) {
        let Some(cb) = &self.callback else { return };
        if !force && self.last.get().is_some_and(|t| t.elapsed() < Duration::from_millis(200)) {
            return;
        }
        self.last.set(Some(Instant::now()));
        let args = (self.label.clone(), self.pos.get(), self.len.get(), self.msg.borrow().clone());
        if let Err(e) = Python::with_gil(|py| cb.call1(py, args).map(drop)) {
            *self.callback_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
            self.stop.store(true, Ordering::SeqCst);
        }
    }
}

impl Progress for PyProgress {
    fn set_length(&self, len: u64) {
        self.len.set(len);
        self.inner.set_length(len);
        self.check_stop();
    }
    fn set_position(&self, pos: u64) {
        self.pos.set(pos);
        self.inner.set_position(pos);
        self.report(false);
        self.check_stop();
    }
    fn set_message(&self, msg: String) {
        *self.msg.borrow_mut() = msg.clone();
        self.inner.set_message(msg);
    }
    fn finish(&self) {
        self.inner.finish();
        self.report(true);
        self.check_stop();
    }
}

impl ProgressSink for PySink {
    fn start(&self, len: u64, prefix: &str) -> Box<dyn Progress> {
        Box::new(PyProgress {
            inner: self.inner.start(len, prefix),
            label: prefix.to_string(),
            len: std::cell::Cell::new(len),
            pos: std::cell::Cell::new(0),
            msg: std::cell::RefCell::new(String::new()),
            last: std::cell::Cell::new(None),
            callback: self.callback.clone(),
            stop: self.stop.clone(),
            callback_error: self.callback_error.clone(),
        })
    }
}

/// Runs `study` with the config given as JSON (the TOML config's keys; unknown keys are
/// refused), writing to `out`; `options` (JSON) holds what the CLI takes as flags outside the
/// config: `top` (search), `trainers` and `seeds` (oneshot-run), `supernet` and `pool`
/// (oneshot-rank). `progress` is True (stderr: bars on a terminal, lines in a log), False, or
/// a callable `(label, position, length, message)`. Returns the result as the JSON that the
/// CLI's `--json` prints.
#[pyfunction]
#[pyo3(signature = (study, config_json, out, data_root, device, threads, progress, options_json))]
#[allow(clippy::too_many_arguments)]
pub fn run_study(
    py: Python<'_>,
    study: &str,
    config_json: &str,
    out: PathBuf,
    data_root: Option<PathBuf>,
    device: &str,
    threads: Option<i32>,
    progress: &Bound<'_, PyAny>,
    options_json: &str,
) -> PyResult<String> {
    let config: Value = serde_json::from_str(config_json)
        .map_err(|e| SotlNasError::new_err(format!("config is not JSON-like: {e}")))?;
    let options: Value = serde_json::from_str(options_json)
        .map_err(|e| SotlNasError::new_err(format!("options are not JSON-like: {e}")))?;
    let device = sotl_experiments::parse_device(device).map_err(to_py)?;
    if let Some(t) = threads {
        if t < 1 {
            return Err(SotlNasError::new_err(format!("threads must be at least 1, not {t}")));
        }
        tch::set_num_threads(t);
    }
    let (inner, callback): (Arc<dyn ProgressSink>, Option<Arc<Py<PyAny>>>) =
        if progress.is_callable() {
            (Arc::new(Silent), Some(Arc::new(progress.clone().unbind())))
        } else if progress.is_truthy()? {
            (Arc::new(StderrProgress), None)
        } else {
            (Arc::new(Silent), None)
        };
    let stop = Arc::new(AtomicBool::new(false));
    let callback_error = Arc::new(Mutex::new(None));
    let sink =
        PySink { inner, callback, stop: stop.clone(), callback_error: callback_error.clone() };
    let env = Env { device, data_root, progress: Arc::new(sink) };
    let study = study.to_string();
    let outcome = std::thread::scope(|s| -> PyResult<std::thread::Result<Result<Value>>> {
        let worker = s.spawn(|| {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                dispatch(&env, &study, config, &out, &options)
            }))
        });
        let mut interrupt: Option<PyErr> = None;
        while !worker.is_finished() {
            py.allow_threads(|| std::thread::sleep(Duration::from_millis(50)));
            if interrupt.is_none() {
                if let Err(e) = py.check_signals() {
                    stop.store(true, Ordering::SeqCst);
                    interrupt = Some(e);
                }
            }
        }
        let joined = py.allow_threads(|| worker.join()).unwrap_or_else(Err);
        // A Ctrl-C that came as the study ended: the study is done (its folder complete), but
        // the user asked to stop, so Python hears it.
        if interrupt.is_none() {
            interrupt = py.check_signals().err();
        }
        match interrupt {
            Some(e) => Err(e),
            None => Ok(joined),
        }
    })?;
    if let Some(e) = callback_error.lock().unwrap_or_else(|p| p.into_inner()).take() {
        return Err(e);
    }
    match outcome {
        Ok(Ok(v)) => serde_json::to_string(&v).map_err(crate::err),
        Ok(Err(e)) => Err(to_py(e)),
        Err(payload) if payload.is::<Interrupted>() => {
            Err(pyo3::exceptions::PyKeyboardInterrupt::new_err("study interrupted"))
        }
        Err(payload) => {
            let what = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown panic".into());
            Err(SotlNasError::new_err(format!("internal error (a bug; please report it): {what}")))
        }
    }
}

/// Every default of `study`'s config, as JSON (the keys `run_study` takes).
#[pyfunction]
pub fn config_defaults(study: &str) -> PyResult<String> {
    let v = match study {
        "search" => json(&SearchConfig::default()),
        "train" => json(&TrainRunConfig::default()),
        "evaluate" => json(&TrainRunConfig::darts_evaluation()),
        "oneshot-train" | "oneshot-run" => json(&OneShotConfig::default()),
        "oneshot-rank" => Ok(Value::Object(Default::default())),
        "darts" => json(&DartsRunConfig::default()),
        "hypergrad" => json(&HypergradConfig::default()),
        "fourier" => json(&FourierConfig::default()),
        s => Err(anyhow::anyhow!("unknown study {s:?}: expected one of {}", STUDIES.join(", "))),
    }
    .map_err(to_py)?;
    serde_json::to_string(&v).map_err(crate::err)
}

fn json<T: Serialize>(v: &T) -> Result<Value> {
    serde_json::to_value(v).context("serializing the result")
}

/// `base` with the top-level keys of the Python dict replaced.
fn config<T: DeserializeOwned + Serialize>(config: Value, base: T) -> Result<T> {
    let Value::Object(keys) = config else { bail!("the config must be a dict") };
    sotl_experiments::config_over(base, keys).context("invalid config")
}

fn option<T: DeserializeOwned>(options: &Value, key: &str) -> Result<Option<T>> {
    match options.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => serde_json::from_value(v.clone())
            .map(Some)
            .with_context(|| format!("invalid option {key}={v}")),
    }
}

fn path_option(options: &Value, key: &str) -> Result<Option<PathBuf>> {
    option::<String>(options, key).map(|p| p.map(PathBuf::from))
}

/// The study's library call, as the CLI makes it.
fn dispatch(env: &Env, study: &str, cfg: Value, out: &Path, options: &Value) -> Result<Value> {
    let known: &[&str] = match study {
        "search" => &["top"],
        "oneshot-run" => &["trainers", "seeds"],
        "oneshot-rank" => &["supernet", "pool"],
        "oneshot-train" => &["trainer"],
        _ => &[],
    };
    if let Some(k) =
        options.as_object().and_then(|m| m.keys().find(|k| !known.contains(&k.as_str())))
    {
        bail!("{study} takes no option {k:?} (its options: {known:?})");
    }
    match study {
        "search" => {
            let c: SearchConfig = config(cfg, SearchConfig::default())?;
            let top = option(options, "top")?.unwrap_or(5);
            json(&sotl_experiments::search::run_search(env, &c, top, out)?)
        }
        "train" => {
            let c: TrainRunConfig = config(cfg, TrainRunConfig::default())?;
            json(&sotl_experiments::standalone::train_standalone(env, &c, Some(out))?)
        }
        "evaluate" => {
            let c: TrainRunConfig = config(cfg, TrainRunConfig::darts_evaluation())?;
            json(&sotl_experiments::standalone::train_standalone(env, &c, Some(out))?)
        }
        "oneshot-train" => {
            let mut c: OneShotConfig = config(cfg, OneShotConfig::default())?;
            if let Some(kind) = option::<TrainerKind>(options, "trainer")? {
                c.train.trainer = SupernetTrainerConfig { kind, ..c.train.trainer };
            }
            c.validate()?;
            let data = sotl_experiments::data::load_splits(env, &c.data)?;
            json(&sotl_experiments::oneshot::train_supernet(env, &c, &data, out)?)
        }
        "oneshot-rank" => {
            if cfg.as_object().is_some_and(|m| !m.is_empty()) {
                bail!(
                    "oneshot-rank takes no config: it ranks with the config of the oneshot-train \
                     run that wrote the supernet (give supernet=... and, optionally, pool=...)"
                );
            }
            let Some(supernet) = path_option(options, "supernet")? else {
                bail!(
                    "oneshot-rank needs supernet=<the supernet checkpoint of an oneshot-train run>"
                );
            };
            let pool = path_option(options, "pool")?;
            json(&sotl_experiments::oneshot::rank_supernet(
                env,
                &supernet,
                pool.as_deref(),
                Some(out),
            )?)
        }
        "oneshot-run" => {
            let c: OneShotConfig = config(cfg, OneShotConfig::default())?;
            c.validate()?;
            let trainers: Vec<TrainerKind> = option(options, "trainers")?
                .unwrap_or_else(|| vec![TrainerKind::Spos, TrainerKind::Fairnas]);
            let seeds: u64 = option(options, "seeds")?.unwrap_or(3);
            let study = sotl_experiments::oneshot::run_study_grid(
                env,
                &c,
                &trainers,
                seeds,
                out,
                GridMode::All,
            )?
            .context("the whole grid ran, so a study is due")?;
            json(&study)
        }
        "darts" => {
            let c: DartsRunConfig = config(cfg, DartsRunConfig::default())?;
            let study = sotl_experiments::darts::run_darts_grid(env, &c, out, GridMode::All)?
                .context("the whole grid ran, so a study is due")?;
            json(&study.seeds)
        }
        "hypergrad" => {
            let c: HypergradConfig = config(cfg, HypergradConfig::default())?;
            let study = sotl_experiments::hypergrad::run_hypergrad(env, &c, Some(out))?;
            json(&study.summary(&c))
        }
        "fourier" => {
            let c: FourierConfig = config(cfg, FourierConfig::default())?;
            json(&sotl_experiments::fourier::run_fourier(env, &c, Some(out))?)
        }
        s => bail!("unknown study {s:?}: expected one of {}", STUDIES.join(", ")),
    }
}
