//! `sotl-nas config defaults <command>`: every default of a command's config, as the TOML that
//! `--config` reads. The defaults themselves live (with their sources) in the config types'
//! `Default` impls and rustdoc; this prints them in one place.

use anyhow::Result;
use serde::Serialize;
use sotl_bench::{RandomSearchConfig, RegularizedEvolutionConfig, RunsConfig};
use sotl_nn::Nb201NetConfig;
use sotl_perf::PerfConfig;
use sotl_search::{DartsRunConfig, OneShotConfig};
use sotl_studies::{FourierConfig, HypergradConfig};
use sotl_train::TrainRunConfig;

use crate::common::Global;

/// Arguments of `config`.
#[derive(Debug, clap::Args)]
pub struct ConfigArgs {
    #[command(subcommand)]
    cmd: ConfigCmd,
}

#[derive(Debug, clap::Subcommand)]
enum ConfigCmd {
    /// Print the default config of a command as TOML (a starting point for `--config`).
    Defaults {
        /// Which command's config.
        #[arg(value_enum)]
        command: ConfigFor,
    },
}

/// Commands that read a TOML config.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum ConfigFor {
    /// `sotl-nas train`.
    Train,
    /// `sotl-nas evaluate` (DARTS' evaluation protocol).
    Evaluate,
    /// `sotl-nas oneshot ...`.
    Oneshot,
    /// `sotl-nas search` (the main job: method, seed, `[darts]` and `[oneshot]` budgets).
    Search,
    /// `sotl-nas darts`.
    Darts,
    /// `sotl-nas hypergrad`.
    Hypergrad,
    /// `sotl-nas fourier`.
    Fourier,
    /// `sotl-nas perf nb201`.
    Perf,
    /// `sotl-nas arch info`.
    Arch,
    /// `sotl-nas bench nb201 rs`.
    Rs,
    /// `sotl-nas bench nb201 rea`.
    Rea,
}

/// Runs `config`.
pub fn run(args: ConfigArgs, g: &Global) -> Result<()> {
    let ConfigCmd::Defaults { command } = args.cmd;
    match command {
        ConfigFor::Train => emit(&TrainRunConfig::default(), g),
        ConfigFor::Evaluate => emit(&TrainRunConfig::darts_evaluation(), g),
        ConfigFor::Oneshot => emit(&OneShotConfig::default(), g),
        ConfigFor::Search => emit(&sotl_experiments::search::SearchConfig::default(), g),
        ConfigFor::Darts => emit(&DartsRunConfig::default(), g),
        ConfigFor::Hypergrad => emit(&HypergradConfig::default(), g),
        ConfigFor::Fourier => emit(&FourierConfig::default(), g),
        ConfigFor::Perf => emit(&PerfConfig::default(), g),
        ConfigFor::Arch => emit(&Nb201NetConfig::default(), g),
        ConfigFor::Rs => emit(&RunsConfig::<RandomSearchConfig>::default(), g),
        ConfigFor::Rea => emit(&RunsConfig::<RegularizedEvolutionConfig>::default(), g),
    }
}

fn emit<T: Serialize>(cfg: &T, g: &Global) -> Result<()> {
    if g.json {
        return crate::common::print_json(cfg);
    }
    print!("{}", toml::to_string_pretty(cfg)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::de::DeserializeOwned;

    /// The printed defaults must be a valid `--config` file that reads back to the same values
    /// (unknown keys are rejected, so a renamed or skipped field would fail here).
    fn round_trips<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(cfg: T) {
        let text = toml::to_string_pretty(&cfg).unwrap();
        let back: T = toml::from_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(back, cfg, "{text}");
    }

    #[test]
    fn every_default_config_reads_back_as_a_config_file() {
        round_trips(TrainRunConfig::default());
        round_trips(TrainRunConfig::darts_evaluation());
        round_trips(OneShotConfig::default());
        round_trips(sotl_experiments::search::SearchConfig::default());
        round_trips(DartsRunConfig::default());
        round_trips(HypergradConfig::default());
        round_trips(FourierConfig::default());
        round_trips(PerfConfig::default());
        round_trips(Nb201NetConfig::default());
        round_trips(RunsConfig::<RandomSearchConfig>::default());
        round_trips(RunsConfig::<RegularizedEvolutionConfig>::default());
    }
}
