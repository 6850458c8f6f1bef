//! What every subcommand shares: global flags, the data root, devices, configs and output.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Flags accepted by every subcommand.
#[derive(Debug, Clone, clap::Args)]
pub struct Global {
    /// Data root laid out like `shared/` (`benchmarks/nb201/*.csv`, `datasets/<name>/...`).
    /// Default: $SOTL_NAS_DATA, else ../shared beside the current folder or the executable's checkout.
    #[arg(long, global = true, value_name = "DIR")]
    pub data_root: Option<PathBuf>,
    /// Print a machine-readable JSON result on stdout instead of human text.
    #[arg(long, global = true)]
    pub json: bool,
    /// Device: cpu, cuda or cuda:N.
    #[arg(long, global = true, default_value = "cpu")]
    pub device: String,
    /// Intra-op threads for libtorch, at least 1 (default: libtorch's own choice).
    #[arg(long, global = true, value_parser = clap::value_parser!(i32).range(1..))]
    pub threads: Option<i32>,
    /// More messages on stderr (-v: debug, -vv: trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only warnings and errors on stderr, and no progress bars.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
}

impl Global {
    /// The data root in force, if one exists: flag, then env, then `../shared` candidates.
    pub fn data_root(&self) -> Option<PathBuf> {
        sotl_experiments::resolve_data_root(self.data_root.as_deref(), &exe_data_roots())
    }

    /// The libtorch device named by `--device`.
    pub fn device(&self) -> Result<tch::Device> {
        sotl_experiments::parse_device(&self.device)
    }

    /// The environment handed to the experiment drivers: device, data root, and progress on
    /// stderr (bars on a terminal, plain lines in a log file, nothing with `--quiet`).
    pub fn env(&self) -> Result<sotl_experiments::Env> {
        let progress: std::sync::Arc<dyn sotl_experiments::ProgressSink> = if self.quiet {
            std::sync::Arc::new(sotl_experiments::Silent)
        } else {
            std::sync::Arc::new(sotl_experiments::StderrProgress)
        };
        Ok(sotl_experiments::Env { device: self.device()?, data_root: self.data_root(), progress })
    }

    /// Sends `tracing` messages to stderr at the level `-v`/`-q` ask for (default: info).
    pub fn init_logging(&self) {
        let level = match (self.quiet, self.verbose) {
            (true, _) => tracing::Level::WARN,
            (false, 0) => tracing::Level::INFO,
            (false, 1) => tracing::Level::DEBUG,
            (false, _) => tracing::Level::TRACE,
        };
        sotl_experiments::log_to_stderr(level);
    }

    /// Applies `--threads` to libtorch.
    pub fn apply_threads(&self) {
        if let Some(t) = self.threads {
            tch::set_num_threads(t);
        }
    }
}

/// The network-size flags of the commands that build a NAS-Bench-201 network from a config
/// with `channels` and `cells_per_stage` keys.
#[derive(Debug, clap::Args)]
pub struct NetFlags {
    /// Channels of the first stage (config `channels`, default 16).
    #[arg(long = "channels", visible_alias = "C", value_name = "C")]
    pub channels: Option<i64>,
    /// Cells per stage (config `cells_per_stage`, default 5).
    #[arg(long = "cells", visible_alias = "N", value_name = "N")]
    pub cells: Option<usize>,
}

/// `../shared` beside the checkout the executable was built in (`target/<profile>/sotl-nas`),
/// looked at after the current folder's.
pub fn exe_data_roots() -> Vec<PathBuf> {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent()?.parent()?.parent().map(|c| c.join("../shared")))
        .into_iter()
        .collect()
}

/// Loads a TOML config of type `T`: defaults, then the file (unknown keys rejected by `T`).
pub fn load_config<T: DeserializeOwned + Default>(path: Option<&Path>) -> Result<T> {
    match path {
        None => Ok(T::default()),
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("cannot read config file {}", p.display()))?;
            toml::from_str(&text).with_context(|| format!("invalid config file {}", p.display()))
        }
    }
}

/// [`load_config`] for a command whose defaults are `base` rather than `T::default()`: the
/// file's keys replace `base`'s (unknown keys are still rejected).
pub fn load_config_over<T: DeserializeOwned + Serialize>(
    path: Option<&Path>,
    base: T,
) -> Result<T> {
    let Some(p) = path else { return Ok(base) };
    let text = std::fs::read_to_string(p)
        .with_context(|| format!("cannot read config file {}", p.display()))?;
    let file: serde_json::Map<String, serde_json::Value> =
        toml::from_str(&text).with_context(|| format!("invalid config file {}", p.display()))?;
    sotl_experiments::config_over(base, file)
        .with_context(|| format!("invalid config file {}", p.display()))
}

/// Prints `value` as one JSON line on stdout.
pub fn print_json<T: Serialize + ?Sized>(value: &T) -> Result<()> {
    println!("{}", serde_json::to_string(value)?);
    Ok(())
}
