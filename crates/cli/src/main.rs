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
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Doctor(a) => cmd::doctor::run(a, &cli.global),
    };
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
