//! The typed configuration of a benchmark run.

use serde::{Deserialize, Serialize};
use sotl_nn::Nb201NetConfig;
use sotl_space::Nb201Arch;

use crate::{BenchRow, PerfError, Result};

/// The fixed cell the reference harness samples for seed 0 (`random.seed(0)` then
/// `random_genotype(False)`), as recorded in `shared/bench/results/pytorch-nb201-cpu.json`.
pub const REFERENCE_FIXED_ARCH_SEED0: &str =
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|none~1|+|nor_conv_1x1~0|avg_pool_3x3~1|nor_conv_3x3~2|";

/// What to time and at which size. Defaults are the reference harness' (`C=16, N=5`, batch 64,
/// 2 threads, 3 warm-up and 20 timed steps, seed 0, gradient clip 5).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PerfConfig {
    /// Rows to run, in table order.
    pub rows: Vec<BenchRow>,
    /// Channels of the first stage (`C`).
    pub channels: i64,
    /// Cells per stage (`N`).
    pub cells_per_stage: usize,
    /// Classifier outputs.
    pub num_classes: i64,
    /// Images per batch.
    pub batch: usize,
    /// libtorch intra-op threads (`torch.set_num_threads`).
    pub threads: i32,
    /// Untimed steps before the timed ones.
    pub warmup: usize,
    /// Timed steps.
    pub steps: usize,
    /// Seed of the weights, the random batches and (without a reference JSON) the SPOS cells.
    pub seed: u64,
    /// Global gradient-norm clip of the supernet rows (the reference's `--grad-clip`; 0 = off).
    pub grad_clip: f64,
    /// The cell of `finetune`, `eval` and the standalone rows; absent = the reference JSON's, or
    /// [`REFERENCE_FIXED_ARCH_SEED0`].
    pub fixed_arch: Option<Nb201Arch>,
    /// Candidates of the `pool` row, each finetuned for `steps` minibatches.
    pub pool_size: usize,
    /// How CPU activations are laid out (`channels-last`, the networks' default, or
    /// `contiguous`, PyTorch's default), for measuring what the layout is worth.
    pub layout: sotl_nn::CpuLayout,
    /// Images in the `data` row's synthetic uint8 dataset (CIFAR-10's training set has 50 000).
    pub data_images: usize,
    /// Timed batches of the `data` row (a batch takes milliseconds, so it needs more than `steps`).
    pub data_batches: usize,
    /// Where the rows run (the global `--device`, not a config key). On a GPU every timed step
    /// still ends with its loss read back, as the reference's `loss.item()`, so the step's time
    /// includes the device's work.
    #[serde(skip, default = "cpu")]
    pub device: tch::Device,
}

fn cpu() -> tch::Device {
    tch::Device::Cpu
}

impl Default for PerfConfig {
    fn default() -> Self {
        PerfConfig {
            rows: BenchRow::ALL.to_vec(),
            channels: 16,
            cells_per_stage: 5,
            num_classes: 10,
            batch: 64,
            threads: 2,
            warmup: 3,
            steps: 20,
            seed: 0,
            grad_clip: 5.0,
            fixed_arch: None,
            pool_size: 5,
            layout: sotl_nn::CpuLayout::ChannelsLast,
            data_images: 50_000,
            data_batches: 200,
            device: tch::Device::Cpu,
        }
    }
}

impl PerfConfig {
    /// Checks every value, naming the first bad key.
    pub fn validate(&self) -> Result<()> {
        let bad = |field, reason: String| Err(PerfError::Config { field, reason });
        if self.rows.is_empty() {
            return bad("rows", "names no row; expected some of darts, spos, finetune, pool, eval, standalone_train, standalone_eval, data".into());
        }
        self.net_config().validate()?;
        if !(1..=65_536).contains(&self.batch) {
            return bad("batch", format!("is {}; expected 1..=65536", self.batch));
        }
        if !(1..=1024).contains(&self.threads) {
            return bad("threads", format!("is {}; expected 1..=1024", self.threads));
        }
        if self.steps == 0 {
            return bad("steps", "is 0; expected at least 1 timed step".into());
        }
        if !(self.grad_clip.is_finite() && self.grad_clip >= 0.0) {
            return bad(
                "grad_clip",
                format!("is {}; expected >= 0 (0 turns clipping off)", self.grad_clip),
            );
        }
        if self.rows.contains(&BenchRow::Pool) && self.pool_size == 0 {
            return bad("pool_size", "is 0; expected at least 1 candidate".into());
        }
        if self.rows.contains(&BenchRow::Data) {
            if self.data_images < self.batch {
                return bad(
                    "data_images",
                    format!(
                        "is {}; expected at least one batch ({})",
                        self.data_images, self.batch
                    ),
                );
            }
            if self.data_batches == 0 {
                return bad("data_batches", "is 0; expected at least 1".into());
            }
        }
        Ok(())
    }

    /// The network size of every row (3x32x32 inputs, as the reference).
    pub fn net_config(&self) -> Nb201NetConfig {
        Nb201NetConfig {
            channels: self.channels,
            cells_per_stage: self.cells_per_stage,
            num_classes: self.num_classes,
            ..Nb201NetConfig::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_reference_harness_defaults_and_validate() {
        let c = PerfConfig::default();
        c.validate().unwrap();
        assert_eq!(
            (c.channels, c.cells_per_stage, c.batch, c.threads, c.warmup, c.steps),
            (16, 5, 64, 2, 3, 20)
        );
        assert!(REFERENCE_FIXED_ARCH_SEED0.parse::<Nb201Arch>().is_ok());
    }

    #[test]
    fn bad_values_name_their_key_and_unknown_keys_are_rejected() {
        let e = PerfConfig { steps: 0, ..Default::default() }.validate().unwrap_err();
        assert!(e.to_string().contains("steps"), "{e}");
        let e = PerfConfig { grad_clip: f64::NAN, ..Default::default() }.validate().unwrap_err();
        assert!(e.to_string().contains("grad_clip"), "{e}");
        let e = PerfConfig { channels: 0, ..Default::default() }.validate().unwrap_err();
        assert!(e.to_string().contains("channels"), "{e}");
        let e = PerfConfig { pool_size: 0, ..Default::default() }.validate().unwrap_err();
        assert!(e.to_string().contains("pool_size"), "{e}");
        let c: PerfConfig = serde_json::from_str(r#"{"layout": "contiguous"}"#).unwrap();
        assert_eq!(c.layout, sotl_nn::CpuLayout::Contiguous);
        let e = serde_json::from_str::<PerfConfig>(r#"{"step": 3}"#).unwrap_err();
        assert!(e.to_string().contains("step"), "{e}");
        let c: PerfConfig = serde_json::from_str(r#"{"rows": ["spos", "eval"], "fixed_arch": "|none~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|"}"#).unwrap();
        assert_eq!(c.rows, vec![BenchRow::Spos, BenchRow::Eval]);
        assert!(c.fixed_arch.is_some());
    }
}
