//! `sotl-nas doctor`: what this installation can do.

use anyhow::Result;
use serde::Serialize;

use crate::common::Global;

/// Arguments of `doctor` (none beyond the global ones).
#[derive(Debug, clap::Args)]
pub struct DoctorArgs {}

#[derive(Serialize)]
struct Report {
    sotl_nas_version: &'static str,
    libtorch_version: String,
    cuda_available: bool,
    cuda_devices: i64,
    cudnn_available: bool,
    threads: i32,
    data_root: Option<String>,
    found: Vec<(String, bool)>,
}

/// Files and folders a data root may hold, relative to it.
const EXPECTED: [&str; 5] = [
    "benchmarks/nb201/nb201-200ep.csv",
    "benchmarks/nb201/nb201-minibench.csv",
    "datasets/cifar10-jpeg",
    "datasets/mnist",
    "datasets/cifar-10-batches-bin",
];

/// Runs `doctor`.
pub fn run(_args: DoctorArgs, g: &Global) -> Result<()> {
    g.apply_threads();
    let root = g.data_root();
    let found = EXPECTED
        .iter()
        .map(|rel| (rel.to_string(), root.as_ref().is_some_and(|r| r.join(rel).exists())))
        .collect();
    let r = Report {
        sotl_nas_version: env!("CARGO_PKG_VERSION"),
        libtorch_version: libtorch_version(),
        cuda_available: tch::Cuda::is_available(),
        cuda_devices: tch::Cuda::device_count(),
        cudnn_available: tch::Cuda::cudnn_is_available(),
        threads: tch::get_num_threads(),
        data_root: root.as_ref().map(|p| p.display().to_string()),
        found,
    };
    if g.json {
        return crate::common::print_json(&r);
    }
    println!("sotl-nas {}", r.sotl_nas_version);
    println!("libtorch        {}", r.libtorch_version);
    println!(
        "CUDA            {} ({} device(s), cuDNN {})",
        yes(r.cuda_available),
        r.cuda_devices,
        yes(r.cudnn_available)
    );
    println!("threads         {}", r.threads);
    match &r.data_root {
        Some(p) => println!("data root       {p}"),
        None => println!("data root       none found (--data-root DIR or SOTL_NAS_DATA)"),
    }
    for (rel, ok) in &r.found {
        println!("  {:<40} {}", rel, if *ok { "found" } else { "absent" });
    }
    Ok(())
}

fn yes(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

/// The libtorch version string, read from the linked library.
fn libtorch_version() -> String {
    // tch exposes no version call; torch-sys pins 2.11.0 at build time.
    format!("{} (linked through tch {})", "2.11.0", "0.24.0")
}
