//! The benchmark's result: the reference JSON's layout, with our rows.

use std::path::PathBuf;

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};
use sotl_space::Nb201Arch;

use crate::{BenchRow, RowStats};

/// Everything one run measured; serializes to JSON with the reference harness' top-level keys
/// (`config`, `env`, `model`, `results`) and row names.
#[derive(Debug, Clone, Serialize)]
pub struct PerfReport {
    /// What produced the file.
    pub harness: &'static str,
    /// The settings in force, with the reference's key names.
    pub config: ReportedConfig,
    /// Library versions and the machine.
    pub env: EnvInfo,
    /// Parameter and FLOP counts of the timed networks.
    pub model: ModelInfo,
    /// One entry per row that ran, in table order.
    pub results: RowResults,
}

/// The settings of a run, named as in the reference JSON's `config`.
#[derive(Debug, Clone, Serialize)]
pub struct ReportedConfig {
    /// Where the rows ran: `cpu`, or `cuda:N`.
    pub device: String,
    /// Images per batch.
    pub batch: usize,
    /// Channels of the first stage.
    #[serde(rename = "C")]
    pub channels: i64,
    /// Cells per stage.
    #[serde(rename = "N")]
    pub cells_per_stage: usize,
    /// Classifier outputs.
    pub num_classes: i64,
    /// libtorch intra-op threads.
    pub threads: i32,
    /// Untimed steps per row.
    pub warmup: usize,
    /// Timed steps per row.
    pub steps: usize,
    /// Seed.
    pub seed: u64,
    /// Gradient-norm clip of the supernet rows.
    pub grad_clip: f64,
    /// The cell of finetune, eval and the standalone rows.
    pub fixed_arch: Nb201Arch,
    /// Where `spos`'s cells came from: the reference JSON replayed, or `None` when sampled here.
    pub spos_archs_from: Option<PathBuf>,
    /// Images in the `data` row's dataset.
    pub data_images: usize,
    /// Timed batches of the `data` row.
    pub data_batches: usize,
    /// Candidates of the `pool` row.
    pub pool_size: usize,
    /// The CPU activation layout.
    pub layout: sotl_nn::CpuLayout,
}

/// Versions and machine facts.
#[derive(Debug, Clone, Serialize)]
pub struct EnvInfo {
    /// The libtorch the binary links (the one of PyPI's torch 2.11.0).
    pub libtorch: &'static str,
    /// The tch crate version.
    pub tch: &'static str,
    /// CPU architecture.
    pub machine: &'static str,
    /// CPU model name from `/proc/cpuinfo`.
    pub cpu: Option<String>,
    /// Logical CPUs the OS offers this process.
    pub os_cpu_count: Option<usize>,
    /// Intra-op threads libtorch reports after the run's setting.
    pub torch_num_threads: i32,
}

/// Parameter and forward-FLOP counts, in the reference's `model` keys (FLOPs per image, counted as
/// AutoDL-Projects' `flop_benchmark`).
#[derive(Debug, Clone, Serialize)]
pub struct ModelInfo {
    /// Supernet weights (architecture parameters excluded).
    pub supernet_params_weights: i64,
    /// Weights the fixed cell's single path uses.
    pub fixed_arch_path_params: i64,
    /// Weights of the fixed cell's standalone network.
    pub standalone_params: i64,
    /// Supernet forward MFLOPs per image.
    pub supernet_mflops_per_img: f64,
    /// Fixed-cell single-path forward MFLOPs per image (every non-`none` op counted).
    pub fixed_arch_mflops_per_img: f64,
    /// Standalone network forward MFLOPs per image.
    pub standalone_mflops_per_img: f64,
}

/// Rows and their timings, serialized as a JSON object in table order.
#[derive(Debug, Clone, Default)]
pub struct RowResults(pub Vec<(BenchRow, RowStats)>);

impl RowResults {
    /// The timings of `row`, if it ran.
    pub fn get(&self, row: BenchRow) -> Option<&RowStats> {
        self.0.iter().find(|(r, _)| *r == row).map(|(_, s)| s)
    }
}

impl Serialize for RowResults {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (row, stats) in &self.0 {
            m.serialize_entry(row.name(), stats)?;
        }
        m.end()
    }
}

/// The CPU model from `/proc/cpuinfo`, if readable.
pub(crate) fn cpu_name() -> Option<String> {
    let text = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    text.lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
}

impl PerfReport {
    /// The human summary: setup lines and one row per benchmark (what `sotl-nas perf` prints).
    pub fn to_text(&self) -> String {
        use std::fmt::Write;
        let r = self;
        let mut out = String::new();
        let c = &r.config;
        let m = &r.model;
        let _ = writeln!(
            out,
            "NAS-Bench-201 step timings ({}), libtorch {}, threads {}, cpu {:?}",
            r.harness,
            r.env.libtorch,
            r.env.torch_num_threads,
            r.env.cpu.as_deref().unwrap_or("?")
        );
        let _ = writeln!(
            out,
            "C={} N={} classes={} batch={} seed={} warmup={} steps={}",
            c.channels, c.cells_per_stage, c.num_classes, c.batch, c.seed, c.warmup, c.steps
        );
        let _ = writeln!(out, "fixed arch: {}", c.fixed_arch);
        if let Some(p) = &c.spos_archs_from {
            let _ = writeln!(out, "spos cells: replayed from {}", p.display());
        }
        let _ = writeln!(
        out,
        "params: supernet {}, fixed-arch path {}, standalone {}; MFLOPs/img: supernet {:.2}, fixed arch {:.2}, standalone {:.2}",
        m.supernet_params_weights, m.fixed_arch_path_params, m.standalone_params, m.supernet_mflops_per_img, m.fixed_arch_mflops_per_img, m.standalone_mflops_per_img
    );
        out.push('\n');
        let hdr = format!(
            "{:<17} {:>10} {:>10} {:>10} {:>10} {:>9} {:>10}",
            "bench", "median_ms", "mean_ms", "min_ms", "stdev_ms", "imgs/step", "imgs/s"
        );
        let _ = writeln!(out, "{hdr}");
        let _ = writeln!(out, "{}", "-".repeat(hdr.len()));
        for (row, s) in &r.results.0 {
            let _ = writeln!(
                out,
                "{:<17} {:>10.1} {:>10.1} {:>10.1} {:>10.1} {:>9} {:>10.1}",
                row.name(),
                s.median_ms,
                s.mean_ms,
                s.min_ms,
                s.stdev_ms,
                s.imgs_per_step,
                s.imgs_per_s
            );
            if let (Some(u), Some(sy), Some(f)) = (s.timed_user_s, s.timed_sys_s, s.timed_minflt) {
                let _ = writeln!(out, "{:<17} timed: user={u:.1}s sys={sy:.1}s minflt={f}", "");
            }
        }
        out
    }
}
