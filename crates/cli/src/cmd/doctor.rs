//! `sotl-nas doctor`: what this installation can do.

use anyhow::Result;

use crate::common::Global;

/// Arguments of `doctor` (none beyond the global ones).
#[derive(Debug, clap::Args)]
pub struct DoctorArgs {}

/// Runs `doctor`.
pub fn run(_args: DoctorArgs, g: &Global) -> Result<()> {
    g.apply_threads();
    let r = sotl_experiments::inspect::environment_report(g.data_root().as_deref());
    if g.json {
        return crate::common::print_json(&r);
    }
    print!("{}", r.to_text());
    Ok(())
}
