//! `sotl-nas export`: a trained NAS-Bench-201 network as safetensors that PyTorch's
//! `TinyNetwork` loads; the work is `sotl_experiments::export::export_nb201`.

use std::path::PathBuf;

use anyhow::Result;

use crate::common::{print_json, Global};

/// Arguments of `export`.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// The folder of a `sotl-nas train --out` run (config.json, checkpoint.ot).
    pub run: PathBuf,
    /// The safetensors file to write.
    #[arg(long, default_value = "network.safetensors")]
    pub out: PathBuf,
}

/// Runs `export`.
pub fn run(args: ExportArgs, g: &Global) -> Result<()> {
    let summary = sotl_experiments::export::export_nb201(&args.run, &args.out)?;
    if g.json {
        return print_json(&summary);
    }
    print!("{}", summary.to_text());
    Ok(())
}
