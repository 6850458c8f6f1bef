//! One search step on the DARTS space's search network (`model_search.Network`): time and peak
//! memory, at any depth, for any differentiable method and gradient accumulation.

use serde::{Deserialize, Serialize};
use sotl_nn::{DartsNetConfig, DartsSupernet};
use sotl_search::{DartsConfig, DartsMethod, DartsSearch, SearchSplits};
use sotl_space::DartsOpSet;
use tch::{Device, Kind, Tensor};

use crate::darts::OneBatch;
use crate::{time_steps, PerfError, Result, RowStats};

/// What to time: the search network's size, the method and its step settings. Defaults are
/// DARTS' search (C=16, 8 layers, batch 64, 32x32, first order).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DartsStepBench {
    /// Channels `C`.
    pub channels: i64,
    /// Cells.
    pub layers: usize,
    /// Images per batch.
    pub batch: usize,
    /// Image side.
    pub image_size: i64,
    /// The method whose step is timed.
    pub method: DartsMethod,
    /// Micro-batches per minibatch (`search.accumulate`).
    pub accumulate: usize,
    /// Untimed steps first.
    pub warmup: usize,
    /// Timed steps.
    pub steps: usize,
    /// Seed of the weights and batches.
    pub seed: u64,
}

impl Default for DartsStepBench {
    fn default() -> Self {
        DartsStepBench {
            channels: 16,
            layers: 8,
            batch: 64,
            image_size: 32,
            method: DartsMethod::Darts1,
            accumulate: 1,
            warmup: 1,
            steps: 3,
            seed: 0,
        }
    }
}

/// DARTS' search settings (the original `train_search.py`: SGD lr 0.025, momentum 0.9, weight
/// decay 3e-4, clip 5; Adam 3e-4, betas (0.5, 0.999), weight decay 1e-3), the lr held flat.
fn search_config(b: &DartsStepBench) -> DartsConfig {
    DartsConfig {
        epochs: b.warmup + b.steps,
        batch_size: b.batch,
        accumulate: b.accumulate,
        w_lr: 0.025,
        w_lr_min: 0.025,
        // One batch per "epoch": a window of one step, so a SoTL step is one live weight step,
        // the alpha step and the retraining step.
        unroll_steps: 1,
        eigen_every: 0,
        ..DartsConfig::default()
    }
}

/// Times `b.steps` search steps after `b.warmup`: one `run_epoch` over one-batch splits, so a
/// step is what the method does per training batch (first order: an alpha step on a validation
/// batch and a weight step; SoTL: a weight step with alpha live, the alpha step and the
/// retraining step). 2 x batch images per step; peak memory over the timed steps.
pub fn darts_space_row(b: &DartsStepBench) -> Result<RowStats> {
    if b.steps == 0 {
        return Err(PerfError::Config { field: "steps", reason: "must be at least 1".into() });
    }
    let net = DartsNetConfig {
        channels: b.channels,
        layers: b.layers,
        num_classes: 10,
        in_channels: 3,
        image_size: b.image_size,
        ops: DartsOpSet::Full,
    };
    let mut search = DartsSearch::<DartsSupernet>::new(
        b.method,
        &search_config(b),
        &net,
        b.seed,
        Device::Cpu,
        Kind::Float,
    )?;
    tch::manual_seed(b.seed as i64);
    let shape = [b.batch as i64, 3, b.image_size, b.image_size];
    let batch = || OneBatch {
        inputs: Tensor::randn(shape, (Kind::Float, Device::Cpu)),
        targets: Tensor::randint(10, [b.batch as i64], (Kind::Int64, Device::Cpu)),
    };
    let (mut train, mut val) = (batch(), batch());
    time_steps(b.warmup, b.steps, 2 * b.batch, |_| {
        let mut splits = SearchSplits { train: &mut train, val: Some(&mut val) };
        search.run_epoch(&mut splits, &mut |_| {})?;
        Ok(())
    })
}

/// One measured combination of [`darts_space_table`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DartsStepRow {
    /// The settings.
    pub bench: DartsStepBench,
    /// Its timings and memory.
    pub stats: RowStats,
}

/// Every combination of layers x methods x accumulation, measured in turn in this process.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DartsSpaceReport {
    /// libtorch intra-op threads.
    pub threads: i32,
    /// One row per combination, in loop order (layers outermost).
    pub rows: Vec<DartsStepRow>,
}

impl DartsSpaceReport {
    /// The readable table: seconds per step and memory per combination.
    pub fn to_text(&self) -> String {
        let mut out = String::from(
            "DARTS-space search step (CPU): median s/step; resident memory before the first step, its peak over the steps, and the difference (a step's working memory; exact for a row run first in its process)\n",
        );
        out.push_str(&format!(
            "{:>6} {:>3} {:>6} {:>6} {:<12} {:>5} {:>10} {:>11} {:>12} {:>9}\n",
            "layers",
            "C",
            "batch",
            "image",
            "method",
            "accum",
            "s/step",
            "rss MiB",
            "peak MiB",
            "step MiB"
        ));
        for r in &self.rows {
            let b = &r.bench;
            let s = &r.stats;
            let mib = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.0}"));
            let step = match (s.rss_before_mib, s.peak_rss_mib, s.peak_reset) {
                (Some(a), Some(p), true) => format!("{:.0}", p - a),
                _ => "-".into(),
            };
            out.push_str(&format!(
                "{:>6} {:>3} {:>6} {:>6} {:<12} {:>5} {:>10.2} {:>11} {:>12} {:>9}\n",
                b.layers,
                b.channels,
                b.batch,
                b.image_size,
                b.method.name(),
                b.accumulate,
                s.median_ms / 1e3,
                mib(s.rss_before_mib),
                mib(s.peak_rss_mib),
                step
            ));
        }
        out
    }
}

/// Measures `base` at every `layers` x `methods` x `accumulate` combination, calling
/// `on_row` after each; accumulation is left out for methods that cannot split a step.
pub fn darts_space_table(
    base: &DartsStepBench,
    layers: &[usize],
    methods: &[DartsMethod],
    accumulate: &[usize],
    on_row: &mut dyn FnMut(&DartsStepRow),
) -> Result<DartsSpaceReport> {
    if layers.is_empty() || methods.is_empty() || accumulate.is_empty() {
        return Err(PerfError::Config {
            field: "darts-space",
            reason: "name at least one layer count, method and accumulation".into(),
        });
    }
    if let Some(m) = methods.iter().find(|m| m.is_progressive()) {
        return Err(PerfError::Config {
            field: "method",
            reason: format!(
                "{m} runs stages of darts1 / sotl steps; time those (its stage-3 network: --layers 17)"
            ),
        });
    }
    let mut rows = Vec::new();
    for &l in layers {
        for &method in methods {
            for &a in accumulate {
                if a > 1 && !method.can_accumulate() {
                    // Refused by the method itself; the table leaves the combination out.
                    continue;
                }
                let bench = DartsStepBench { layers: l, method, accumulate: a, ..*base };
                let stats = darts_space_row(&bench)?;
                let row = DartsStepRow { bench, stats };
                on_row(&row);
                rows.push(row);
            }
        }
    }
    Ok(DartsSpaceReport { threads: tch::get_num_threads(), rows })
}
