//! The macro-skeleton hyperparameters shared by the supernet and standalone networks.

use serde::{Deserialize, Serialize};

use crate::{NnError, Result};

/// Size of a NAS-Bench-201 network: `C` channels in the first stage, `N` cells per stage.
///
/// Defaults are the benchmark's: C=16, N=5, 10 classes, 3x32x32 inputs. The input's channels change
/// the stem's parameter count; its spatial size only changes FLOPs (global pooling makes the
/// classifier size-independent).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Nb201NetConfig {
    /// Channels of the first stage (`C`); the stages have C, 2C and 4C.
    pub channels: i64,
    /// Cells per stage (`N`).
    pub cells_per_stage: usize,
    /// Classifier outputs.
    pub num_classes: i64,
    /// Input image channels.
    pub in_channels: i64,
    /// Input image height and width (square), used for FLOPs; must be a multiple of 4.
    pub image_size: i64,
}

impl Default for Nb201NetConfig {
    fn default() -> Self {
        Self { channels: 16, cells_per_stage: 5, num_classes: 10, in_channels: 3, image_size: 32 }
    }
}

impl Nb201NetConfig {
    /// Checks every value, naming the first bad one.
    pub fn validate(&self) -> Result<()> {
        let bad =
            |field, value: String, reason| Err(NnError::InvalidConfig { field, value, reason });
        if !(1..=4096).contains(&self.channels) {
            return bad("channels", self.channels.to_string(), "must be between 1 and 4096");
        }
        if self.cells_per_stage > 64 {
            return bad("cells_per_stage", self.cells_per_stage.to_string(), "must be at most 64");
        }
        if !(1..=100_000).contains(&self.num_classes) {
            return bad(
                "num_classes",
                self.num_classes.to_string(),
                "must be between 1 and 100000",
            );
        }
        if !(1..=64).contains(&self.in_channels) {
            return bad("in_channels", self.in_channels.to_string(), "must be between 1 and 64");
        }
        // Two stride-2 reductions whose residual (2x2 average pool) and main (3x3 stride-2 conv)
        // branches only agree in size when the input divides by 4.
        if self.image_size < 4 || self.image_size % 4 != 0 {
            return bad(
                "image_size",
                self.image_size.to_string(),
                "must be a positive multiple of 4",
            );
        }
        Ok(())
    }

    /// Channels of stage `s` (0, 1, 2): C, 2C, 4C.
    pub fn stage_channels(&self, s: usize) -> i64 {
        self.channels << s
    }

    /// Number of layers in the body: 3 stages of N cells plus 2 reduction blocks.
    pub fn num_layers(&self) -> usize {
        3 * self.cells_per_stage + 2
    }

    /// The body's layers in order, each a cell or a reduction block.
    pub fn layers(&self) -> Vec<LayerKind> {
        let mut out = Vec::with_capacity(self.num_layers());
        for s in 0..3 {
            if s > 0 {
                out.push(LayerKind::Reduction {
                    c_in: self.stage_channels(s - 1),
                    c_out: self.stage_channels(s),
                    size_out: self.image_size >> s,
                });
            }
            for _ in 0..self.cells_per_stage {
                out.push(LayerKind::Cell { c: self.stage_channels(s), size: self.image_size >> s });
            }
        }
        out
    }
}

/// One layer of the body of a NAS-Bench-201 network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayerKind {
    /// A cell with `c` channels on `size`x`size` maps.
    Cell {
        /// Channels in and out.
        c: i64,
        /// Spatial size in and out.
        size: i64,
    },
    /// A ResNet basic block with stride 2 between stages.
    Reduction {
        /// Input channels.
        c_in: i64,
        /// Output channels.
        c_out: i64,
        /// Output spatial size.
        size_out: i64,
    },
}
