//! Facts about the installation, a network and a benchmark cell: `arch info`, `doctor` and
//! `bench nb201 query`.

use std::fmt::Write;
use std::path::Path;

use anyhow::{bail, Result};
use serde::Serialize;
use sotl_bench::{Nb201Bench, Nb201Dataset, Nb201Entry};
use sotl_nn::{Nb201NetConfig, Nb201Network, Nb201Supernet};
use sotl_space::Nb201Arch;
use tch::nn::VarStore;

/// Size of a standalone network or of the supernet (and one path of it).
#[derive(Debug, Serialize)]
pub struct ArchInfo {
    /// `standalone` or `supernet`.
    pub network: &'static str,
    /// The cell (the path, for the supernet).
    pub arch: Option<String>,
    /// The network's shape.
    pub config: Nb201NetConfig,
    /// Trainable parameters.
    pub params: i64,
    /// Forward MFLOPs per image.
    pub mflops: f64,
    /// Parameters the path uses (supernet with a cell).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path_params: Option<i64>,
    /// Forward MFLOPs per image of the path (supernet with a cell).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path_mflops: Option<f64>,
}

/// Parameter count and forward MFLOPs of the standalone network of `arch`, or of the supernet
/// (and of `arch`'s path in it) when `supernet` is set. Built on the CPU: counting needs no
/// accelerator.
pub fn arch_info(
    cfg: &Nb201NetConfig,
    arch: Option<Nb201Arch>,
    supernet: bool,
) -> Result<ArchInfo> {
    cfg.validate()?;
    let vs = VarStore::new(tch::Device::Cpu);
    Ok(match (supernet, arch) {
        (true, path) => {
            let net = Nb201Supernet::new(&vs.root(), cfg)?;
            ArchInfo {
                network: "supernet",
                arch: path.map(|p| p.to_string()),
                config: *cfg,
                params: net.param_count(),
                mflops: net.mflops(),
                path_params: path.map(|p| net.path_param_count(&p)),
                path_mflops: path.map(|p| net.path_mflops(&p)),
            }
        }
        (false, Some(arch)) => {
            let net = Nb201Network::new(&vs.root(), &arch, cfg)?;
            ArchInfo {
                network: "standalone",
                arch: Some(arch.to_string()),
                config: *cfg,
                params: net.param_count(),
                mflops: net.mflops(),
                path_params: None,
                path_mflops: None,
            }
        }
        (false, None) => bail!(
            "give an arch string (e.g. 'sotl-nas arch info \"|nor_conv_3x3~0|+|...|\"') or --supernet"
        ),
    })
}

impl ArchInfo {
    /// The human summary.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let c = &self.config;
        match &self.arch {
            Some(s) if self.network == "standalone" => {
                let _ = writeln!(out, "standalone network {s}");
            }
            _ => out.push_str(
                "supernet (all 5 ops on each of the 6 edges; architecture parameters not counted)\n",
            ),
        }
        let _ = writeln!(
            out,
            "  C={} N={} classes={} input {}x{}x{}",
            c.channels, c.cells_per_stage, c.num_classes, c.in_channels, c.image_size, c.image_size
        );
        let _ = writeln!(
            out,
            "  parameters          {} ({:.3} M)",
            self.params,
            self.params as f64 / 1e6
        );
        let _ = writeln!(out, "  forward MFLOPs/img  {:.2}", self.mflops);
        if let (Some(s), Some(p), Some(f)) = (&self.arch, self.path_params, self.path_mflops) {
            let _ = writeln!(out, "  single path {s}");
            let _ = writeln!(out, "    parameters used     {p} ({:.3} M)", p as f64 / 1e6);
            let _ = writeln!(out, "    forward MFLOPs/img  {f:.2}");
        }
        out
    }
}

/// Files and folders a data root may hold, relative to it.
const EXPECTED: [&str; 5] = [
    "benchmarks/nb201/nb201-200ep.csv",
    "benchmarks/nb201/nb201-minibench.csv",
    "datasets/cifar10-jpeg",
    "datasets/mnist",
    "datasets/cifar-10-batches-bin",
];

/// What this installation can do (`doctor`).
#[derive(Debug, Serialize)]
pub struct EnvironmentReport {
    /// This build's version.
    pub sotl_nas_version: &'static str,
    /// The libtorch it links.
    pub libtorch_version: String,
    /// Whether libtorch sees CUDA.
    pub cuda_available: bool,
    /// CUDA devices.
    pub cuda_devices: i64,
    /// Whether cuDNN is there.
    pub cudnn_available: bool,
    /// libtorch's intra-op threads.
    pub threads: i32,
    /// The data root in force.
    pub data_root: Option<String>,
    /// Each expected file or folder of a data root, and whether it is there.
    pub found: Vec<(String, bool)>,
}

/// Reads the installation's capabilities and what `data_root` holds.
pub fn environment_report(data_root: Option<&Path>) -> EnvironmentReport {
    EnvironmentReport {
        sotl_nas_version: env!("CARGO_PKG_VERSION"),
        // tch exposes no version call; torch-sys pins 2.11.0 at build time.
        libtorch_version: "2.11.0 (linked through tch 0.24.0)".to_string(),
        cuda_available: tch::Cuda::is_available(),
        cuda_devices: tch::Cuda::device_count(),
        cudnn_available: tch::Cuda::cudnn_is_available(),
        threads: tch::get_num_threads(),
        data_root: data_root.map(|p| p.display().to_string()),
        found: EXPECTED
            .iter()
            .map(|rel| (rel.to_string(), data_root.is_some_and(|r| r.join(rel).exists())))
            .collect(),
    }
}

impl EnvironmentReport {
    /// The human summary.
    pub fn to_text(&self) -> String {
        let yes = |b: bool| if b { "yes" } else { "no" };
        let mut out = String::new();
        let _ = writeln!(out, "sotl-nas {}", self.sotl_nas_version);
        let _ = writeln!(out, "libtorch        {}", self.libtorch_version);
        let _ = writeln!(
            out,
            "CUDA            {} ({} device(s), cuDNN {})",
            yes(self.cuda_available),
            self.cuda_devices,
            yes(self.cudnn_available)
        );
        let _ = writeln!(out, "threads         {}", self.threads);
        match &self.data_root {
            Some(p) => {
                let _ = writeln!(out, "data root       {p}");
            }
            None => out.push_str("data root       none found (--data-root DIR or SOTL_NAS_DATA)\n"),
        }
        for (rel, ok) in &self.found {
            let _ = writeln!(out, "  {:<40} {}", rel, if *ok { "found" } else { "absent" });
        }
        out
    }
}

/// Every accuracy the NAS-Bench-201 tables hold for one cell.
#[derive(Debug, Serialize)]
pub struct CellRow {
    /// The cell's NAS-Bench-201 index.
    pub index: usize,
    /// The cell.
    pub arch: Nb201Arch,
    /// Its accuracies (one dataset's, when asked).
    pub entries: Vec<Nb201Entry>,
}

/// The row of `arch` (or of NAS-Bench-201 index `index`), restricted to `dataset` if given.
pub fn query_cell(
    bench: &Nb201Bench,
    arch: Option<&str>,
    index: Option<usize>,
    dataset: Option<Nb201Dataset>,
) -> Result<CellRow> {
    let arch = match (arch, index) {
        (Some(s), _) => s.parse::<Nb201Arch>()?,
        (None, Some(i)) => bench.arch_at(i)?,
        (None, None) => bail!("give an arch string or --index N"),
    };
    let row = bench.row(&arch)?;
    let entries =
        row.entries.into_iter().filter(|e| dataset.is_none_or(|d| d == e.dataset)).collect();
    Ok(CellRow { index: row.index, arch: row.arch, entries })
}

impl CellRow {
    /// The human summary: one line per accuracy.
    pub fn to_text(&self) -> String {
        let mut out = format!("index {}\narch  {}\n", self.index, self.arch);
        let _ = writeln!(out, "{:<9} {:<15} {:<6} {:>9}", "table", "dataset", "metric", "accuracy");
        for e in &self.entries {
            let _ = writeln!(
                out,
                "{:<9} {:<15} {:<6} {:>9.4}",
                e.table.name(),
                e.dataset.name(),
                e.metric.name(),
                e.accuracy
            );
        }
        out
    }
}
