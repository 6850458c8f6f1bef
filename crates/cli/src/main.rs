//! `sotl-nas`: weight-sharing NAS with the SoTL estimator. Parses, reads files, prints; the
//! work happens in the library crates.

mod cmd;
mod common;

use clap::{Parser, Subcommand};

/// sotl-nas: weight-sharing neural architecture search ranked by the sum of training losses.
#[derive(Debug, Parser)]
#[command(name = "sotl-nas", version, about, propagate_version = true)]
struct Cli {
    #[command(flatten)]
    global: common::Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Libtorch version, CUDA, threads and where data was found.
    Doctor(cmd::doctor::DoctorArgs),
    /// NAS-Bench-201 networks: `arch info '<arch>'` / `arch info --supernet` (params, MFLOPs).
    Arch(cmd::arch::ArchArgs),
    /// Datasets: `data check <dir|name>` finds, validates and counts a dataset.
    Data(cmd::data::DataArgs),
    /// NAS-Bench-201 ground truth queries and query-based baselines (rs, rea).
    Bench(cmd::bench::BenchArgs),
    /// Train one standalone NAS-Bench-201 network (NB201 hyperparameters; resumable with --out).
    Train(cmd::train::TrainArgs),
    /// Write a trained NAS-Bench-201 network (a `train --out` folder) as safetensors under the names of PyTorch's TinyNetwork.
    Export(cmd::export::ExportArgs),
    /// Train a DARTS-space genotype from scratch with DARTS' evaluation protocol (C=36, 20 layers, auxiliary head, drop path, Cutout; resumable with --out).
    Evaluate(cmd::train::TrainArgs),
    /// One-shot NAS: supernet trainers (SPOS, FairNAS, ...) and finetune-and-rank by SoTL.
    Oneshot(cmd::oneshot::OneshotArgs),
    /// The main job: choose a NAS-Bench-201 cell by SoTL (SoTL-DARTS; or evolution or a pool over an SPOS supernet).
    Search(cmd::search::SearchArgs),
    /// Online learning-rate tuning by T-step SoTL hypergradients (MLP/MNIST, VGG/CIFAR-10).
    Hypergrad(cmd::hypergrad::HypergradArgs),
    /// Differentiable NAS on NAS-Bench-201 or the DARTS space: DARTS, SoTL-DARTS, SoVL-DARTS, exact SoTL, DrNAS.
    Darts(cmd::darts::DartsArgs),
    /// Recover a Fourier degree with a weight-sharing linear model and SoTL hypergradients.
    Fourier(cmd::fourier::FourierArgs),
    /// Step timings of the NAS-Bench-201 rows of the PyTorch reference harness (see scripts/bench-vs-pytorch).
    Perf(cmd::perf::PerfArgs),
    /// Config defaults: `config defaults <command>` prints every default as TOML.
    Config(cmd::config::ConfigArgs),
    /// Sharded rankings: `shards missing --plan P --shards N` lists the shards still to run.
    Shards(cmd::shards::ShardsArgs),
}

fn main() {
    let cli = Cli::parse();
    cli.global.init_logging();
    let result = match cli.command {
        Command::Doctor(a) => cmd::doctor::run(a, &cli.global),
        Command::Arch(a) => cmd::arch::run(a, &cli.global),
        Command::Data(a) => cmd::data::run(a, &cli.global),
        Command::Bench(a) => cmd::bench::run(a, &cli.global),
        Command::Train(a) => cmd::train::run(a, &cli.global),
        Command::Export(a) => cmd::export::run(a, &cli.global),
        Command::Evaluate(a) => cmd::train::run_evaluate(a, &cli.global),
        Command::Oneshot(a) => cmd::oneshot::run(a, &cli.global),
        Command::Shards(a) => cmd::shards::run(a, &cli.global),
        Command::Search(a) => cmd::search::run(a, &cli.global),
        Command::Hypergrad(a) => cmd::hypergrad::run(a, &cli.global),
        Command::Darts(a) => cmd::darts::run(a, &cli.global),
        Command::Fourier(a) => cmd::fourier::run(a, &cli.global),
        Command::Perf(a) => cmd::perf::run(a, &cli.global),
        Command::Config(a) => cmd::config::run(a, &cli.global),
    };
    if let Err(e) = result {
        eprintln!("error: {}", sotl_experiments::error_text(&e));
        std::process::exit(1);
    }
}
