//! `sotl-nas arch`: facts about NAS-Bench-201 networks (parameter count, forward FLOPs).

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use serde::Serialize;
use sotl_nn::{Nb201NetConfig, Nb201Network, Nb201Supernet};
use sotl_space::Nb201Arch;
use tch::nn::VarStore;

use crate::common::{load_config, print_json, Global};

/// Arguments of `arch`.
#[derive(Debug, clap::Args)]
pub struct ArchArgs {
    #[command(subcommand)]
    command: ArchCommand,
}

#[derive(Debug, clap::Subcommand)]
enum ArchCommand {
    /// Parameter count and forward MFLOPs per image of a standalone network or the supernet.
    Info(InfoArgs),
}

/// Arguments of `arch info`.
#[derive(Debug, clap::Args)]
struct InfoArgs {
    /// NAS-Bench-201 arch string, e.g. '|nor_conv_3x3~0|+|nor_conv_3x3~0|none~1|+|nor_conv_1x1~0|avg_pool_3x3~1|nor_conv_3x3~2|'.
    /// With --supernet, also reports that single path within the supernet.
    arch: Option<String>,
    /// Describe the weight-sharing supernet instead of a standalone network.
    #[arg(long)]
    supernet: bool,
    /// TOML file with network keys (channels, cells_per_stage, num_classes, in_channels, image_size).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Number of classes (config key num_classes; default 10).
    #[arg(long)]
    classes: Option<i64>,
    /// Channels of the first stage (config key channels; default 16).
    #[arg(long = "channels", visible_alias = "C", value_name = "C")]
    channels: Option<i64>,
    /// Cells per stage (config key cells_per_stage; default 5).
    #[arg(long = "cells", visible_alias = "N", value_name = "N")]
    cells: Option<usize>,
    /// Input height and width, a multiple of 4 (config key image_size; default 32).
    #[arg(long)]
    image_size: Option<i64>,
    /// Input channels (config key in_channels; default 3).
    #[arg(long)]
    in_channels: Option<i64>,
}

#[derive(Serialize)]
struct Info {
    network: &'static str,
    arch: Option<String>,
    config: Nb201NetConfig,
    params: i64,
    mflops: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    path_params: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    path_mflops: Option<f64>,
}

/// Runs `arch`.
pub fn run(args: ArchArgs, g: &Global) -> Result<()> {
    match args.command {
        ArchCommand::Info(a) => info(a, g),
    }
}

fn info(a: InfoArgs, g: &Global) -> Result<()> {
    g.apply_threads();
    let mut cfg: Nb201NetConfig = load_config(a.config.as_deref())?;
    cfg.num_classes = a.classes.unwrap_or(cfg.num_classes);
    cfg.channels = a.channels.unwrap_or(cfg.channels);
    cfg.cells_per_stage = a.cells.unwrap_or(cfg.cells_per_stage);
    cfg.image_size = a.image_size.unwrap_or(cfg.image_size);
    cfg.in_channels = a.in_channels.unwrap_or(cfg.in_channels);
    cfg.validate()?;
    let arch: Option<Nb201Arch> =
        a.arch.as_deref().map(str::parse).transpose().context("bad arch")?;
    // Counting needs no accelerator: the weights are built on the CPU.
    let vs = VarStore::new(tch::Device::Cpu);
    let info = match (a.supernet, arch) {
        (true, path) => {
            let net = Nb201Supernet::new(&vs.root(), &cfg)?;
            Info {
                network: "supernet",
                arch: path.map(|p| p.to_string()),
                config: cfg,
                params: net.param_count(),
                mflops: net.mflops(),
                path_params: path.map(|p| net.path_param_count(&p)),
                path_mflops: path.map(|p| net.path_mflops(&p)),
            }
        }
        (false, Some(arch)) => {
            let net = Nb201Network::new(&vs.root(), &arch, &cfg)?;
            Info {
                network: "standalone",
                arch: Some(arch.to_string()),
                config: cfg,
                params: net.param_count(),
                mflops: net.mflops(),
                path_params: None,
                path_mflops: None,
            }
        }
        (false, None) => bail!("give an arch string (e.g. 'sotl-nas arch info \"|nor_conv_3x3~0|+|...|\"') or --supernet"),
    };
    if g.json {
        return print_json(&info);
    }
    match &info.arch {
        Some(s) if info.network == "standalone" => println!("standalone network {s}"),
        _ => println!(
            "supernet (all 5 ops on each of the 6 edges; architecture parameters not counted)"
        ),
    }
    println!(
        "  C={} N={} classes={} input {}x{}x{}",
        cfg.channels,
        cfg.cells_per_stage,
        cfg.num_classes,
        cfg.in_channels,
        cfg.image_size,
        cfg.image_size
    );
    println!("  parameters          {} ({:.3} M)", info.params, info.params as f64 / 1e6);
    println!("  forward MFLOPs/img  {:.2}", info.mflops);
    if let (Some(s), Some(p), Some(f)) = (&info.arch, info.path_params, info.path_mflops) {
        println!("  single path {s}");
        println!("    parameters used     {p} ({:.3} M)", p as f64 / 1e6);
        println!("    forward MFLOPs/img  {f:.2}");
    }
    Ok(())
}
