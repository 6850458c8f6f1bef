//! What every driver is given: the device, the data root and where progress goes.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Result};
use tch::Device;

/// One long loop's progress (a bar, periodic log lines, or nothing).
pub trait Progress {
    /// Sets the number of units.
    fn set_length(&self, len: u64);
    /// Sets the units done.
    fn set_position(&self, pos: u64);
    /// Sets the trailing message.
    fn set_message(&self, msg: String);
    /// Ends the report.
    fn finish(&self);
}

/// Makes a [`Progress`] for each long loop of a driver.
pub trait ProgressSink: Send + Sync {
    /// Progress over `len` units, labelled `prefix`.
    fn start(&self, len: u64, prefix: &str) -> Box<dyn Progress>;
}

/// A sink that shows nothing (tests, `--quiet`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Silent;

impl Progress for Silent {
    fn set_length(&self, _: u64) {}
    fn set_position(&self, _: u64) {}
    fn set_message(&self, _: String) {}
    fn finish(&self) {}
}

impl ProgressSink for Silent {
    fn start(&self, _: u64, _: &str) -> Box<dyn Progress> {
        Box::new(Silent)
    }
}

/// The environment of a run: device, data root (if any) and progress sink.
#[derive(Clone)]
pub struct Env {
    /// Where tensors live.
    pub device: Device,
    /// A folder laid out like `shared/` (`benchmarks/nb201/*.csv`, `datasets/<name>/...`).
    pub data_root: Option<PathBuf>,
    /// Where progress goes.
    pub progress: Arc<dyn ProgressSink>,
}

impl std::fmt::Debug for Env {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Env")
            .field("device", &self.device)
            .field("data_root", &self.data_root)
            .finish()
    }
}

impl Env {
    /// An environment that reports no progress.
    pub fn silent(device: Device, data_root: Option<PathBuf>) -> Self {
        Env { device, data_root, progress: Arc::new(Silent) }
    }

    /// The data root, or an error saying how to give one.
    pub fn require_data_root(&self) -> Result<&Path> {
        let Some(root) = self.data_root.as_deref() else {
            bail!(
                "no data root found: pass --data-root DIR or set SOTL_NAS_DATA to a folder laid \
                 out like shared/ (benchmarks/nb201/*.csv, datasets/<name>/...)"
            );
        };
        if !root.is_dir() {
            bail!("data root {} is not a folder", root.display());
        }
        Ok(root)
    }

    /// Progress over `len` units, labelled `prefix`.
    pub fn progress(&self, len: u64, prefix: &str) -> Box<dyn Progress> {
        self.progress.start(len, prefix)
    }
}

/// Parses a device name (`cpu`, `cuda` or `cuda:N`), checking that CUDA is there when asked
/// for; the messages name the `--device` flag that the CLI and the Python package share.
pub fn parse_device(s: &str) -> Result<tch::Device> {
    let dev = match s {
        "cpu" => return Ok(tch::Device::Cpu),
        "cuda" => tch::Device::Cuda(0),
        _ => match s.strip_prefix("cuda:").and_then(|n| n.parse::<usize>().ok()) {
            Some(n) => tch::Device::Cuda(n),
            None => bail!("bad --device {s:?}: expected cpu, cuda or cuda:N"),
        },
    };
    if !tch::Cuda::is_available() {
        bail!("--device {s} asked for CUDA, but libtorch reports no CUDA device (run `sotl-nas doctor`)");
    }
    let n = tch::Cuda::device_count() as usize;
    if let tch::Device::Cuda(i) = dev {
        if i >= n {
            bail!("--device {s}: only {n} CUDA device(s) present");
        }
    }
    Ok(dev)
}

/// The data root in force: `given`, else `$SOTL_NAS_DATA`, else the first of `../shared`
/// (beside the current folder) and `extra` that is a folder; `None` when there is none (drivers
/// that can fall back to synthetic data then do, and say so).
pub fn resolve_data_root(given: Option<&Path>, extra: &[PathBuf]) -> Option<PathBuf> {
    if let Some(p) = given {
        return Some(p.to_path_buf());
    }
    if let Some(p) = std::env::var_os("SOTL_NAS_DATA") {
        return Some(PathBuf::from(p));
    }
    std::iter::once(PathBuf::from("../shared")).chain(extra.iter().cloned()).find(|p| p.is_dir())
}
