//! `sotl-nas arch`: facts about NAS-Bench-201 networks (parameter count, forward FLOPs) and
//! cell diagrams of any genotype.

use std::path::PathBuf;

use anyhow::{Context, Result};
use sotl_experiments::inspect::arch_info;
use sotl_nn::Nb201NetConfig;
use sotl_space::Nb201Arch;

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
    /// Cell diagrams (SVG) of a NAS-Bench-201 arch string, a DARTS genotype or a preset name
    /// (darts-v1, darts-v2, pdarts, drnas): cell.svg, or normal.svg and reduce.svg.
    Draw(DrawArgs),
}

/// Arguments of `arch draw`.
#[derive(Debug, clap::Args)]
struct DrawArgs {
    /// The cell: '|nor_conv_3x3~0|+|...', 'Genotype(normal=[...], ...)' or a preset name.
    genotype: String,
    /// Folder for the SVG files.
    #[arg(long, default_value = "cell")]
    out: PathBuf,
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

/// Runs `arch`.
pub fn run(args: ArchArgs, g: &Global) -> Result<()> {
    g.apply_threads();
    let a = match args.command {
        ArchCommand::Info(a) => a,
        ArchCommand::Draw(d) => {
            let files = sotl_experiments::diagram::draw(&d.genotype, &d.out)?;
            if g.json {
                return print_json(&files);
            }
            files.iter().for_each(|f| println!("written: {}", f.display()));
            return Ok(());
        }
    };
    let mut cfg: Nb201NetConfig = load_config(a.config.as_deref())?;
    cfg.num_classes = a.classes.unwrap_or(cfg.num_classes);
    cfg.channels = a.channels.unwrap_or(cfg.channels);
    cfg.cells_per_stage = a.cells.unwrap_or(cfg.cells_per_stage);
    cfg.image_size = a.image_size.unwrap_or(cfg.image_size);
    cfg.in_channels = a.in_channels.unwrap_or(cfg.in_channels);
    let arch: Option<Nb201Arch> =
        a.arch.as_deref().map(str::parse).transpose().context("bad arch")?;
    let info = arch_info(&cfg, arch, a.supernet)?;
    if g.json {
        return print_json(&info);
    }
    print!("{}", info.to_text());
    Ok(())
}
