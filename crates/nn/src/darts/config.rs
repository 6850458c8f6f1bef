//! Sizes of DARTS-space networks and their closed-form parameter counts.

use serde::{Deserialize, Serialize};
use sotl_space::darts::DartsCell;
use sotl_space::{DartsGenotype, DartsOp, DartsOpSet};

use crate::{NnError, Result};

/// Size of a DARTS network (`NetworkCIFAR` / the search `Network`): `channels` (C) in the first
/// cells, `layers` cells with reduction cells at `layers / 3` and `2 * layers / 3` (each doubles
/// the channels), a `3C` stem.
///
/// Defaults are the DARTS search network's (C=16, 8 layers); the evaluation network of the DARTS
/// paper is C=36, 20 layers ([`DartsNetConfig::evaluation`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DartsNetConfig {
    /// Channels of the first cells (`C`).
    pub channels: i64,
    /// Cells (`layers` in the DARTS code).
    pub layers: usize,
    /// Classifier outputs.
    pub num_classes: i64,
    /// Input image channels.
    pub in_channels: i64,
    /// Input image height and width (square): a multiple of 4, as the two reductions halve it
    /// with FactorizedReduce, which needs even maps.
    pub image_size: i64,
    /// The candidate ops of the search network's mixed edges (the evaluation network runs any).
    pub ops: DartsOpSet,
}

impl Default for DartsNetConfig {
    fn default() -> Self {
        Self {
            channels: 16,
            layers: 8,
            num_classes: 10,
            in_channels: 3,
            image_size: 32,
            ops: DartsOpSet::Full,
        }
    }
}

/// The sizes of a DARTS network a run config chooses (`[darts_net]`): the rest of
/// [`DartsNetConfig`] comes from the data (classes, input channels and size) and the search
/// space (the op set).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DartsNetSize {
    /// Channels of the first cells (`C`).
    pub channels: i64,
    /// Cells.
    pub layers: usize,
}

impl Default for DartsNetSize {
    fn default() -> Self {
        let d = DartsNetConfig::default();
        Self { channels: d.channels, layers: d.layers }
    }
}

impl DartsNetSize {
    /// The full config for `ops`, `classes` and `in_channels` x `image_size`^2 inputs.
    pub fn config(
        &self,
        ops: DartsOpSet,
        classes: i64,
        in_channels: i64,
        image_size: i64,
    ) -> DartsNetConfig {
        DartsNetConfig {
            channels: self.channels,
            layers: self.layers,
            num_classes: classes,
            in_channels,
            image_size,
            ops,
        }
    }

    /// Checks the sizes (as a default-sized network of these sizes).
    pub fn validate(&self) -> Result<()> {
        self.config(DartsOpSet::Full, 10, 3, 32).validate()
    }
}

/// One cell of the skeleton: its channels and neighbours' kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CellSlot {
    /// Channels of the output of the cell before the previous one.
    pub(crate) c_pp: i64,
    /// Channels of the previous cell's output.
    pub(crate) c_prev: i64,
    /// The cell's own op channels (its output has 4x as many).
    pub(crate) c: i64,
    pub(crate) reduction: bool,
    pub(crate) reduction_prev: bool,
}

impl DartsNetConfig {
    /// The DARTS evaluation network on CIFAR-10: C=36, 20 layers.
    pub fn evaluation() -> Self {
        Self { channels: 36, layers: 20, ..Self::default() }
    }

    /// Checks every value, naming the first bad one.
    pub fn validate(&self) -> Result<()> {
        let bad =
            |field, value: String, reason| Err(NnError::InvalidConfig { field, value, reason });
        // FactorizedReduce splits the channels into two halves.
        if !(2..=4096).contains(&self.channels) || self.channels % 2 != 0 {
            return bad("channels", self.channels.to_string(), "must be even, from 2 to 4096");
        }
        if !(3..=200).contains(&self.layers) {
            return bad(
                "layers",
                self.layers.to_string(),
                "must be between 3 and 200 (two reduction cells and a normal one)",
            );
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
        if self.image_size < 4 || self.image_size % 4 != 0 {
            return bad(
                "image_size",
                self.image_size.to_string(),
                "must be a positive multiple of 4 (two reductions halve even maps)",
            );
        }
        Ok(())
    }

    /// Checks that the auxiliary head fits: it pools the second reduction's `image_size / 4`
    /// maps 5x5 with stride 3 to 2x2 and convolves them 2x2 to 1x1, which needs maps of 8 to 10
    /// (images of 32, 36 or 40 pixels).
    pub fn validate_auxiliary(&self) -> Result<()> {
        if !(8..=10).contains(&(self.image_size / 4)) {
            return Err(NnError::InvalidConfig {
                field: "image_size",
                value: self.image_size.to_string(),
                reason: "the DARTS auxiliary head needs images of 32, 36 or 40 pixels; turn the head off (auxiliary_weight = 0) for other sizes",
            });
        }
        Ok(())
    }

    /// Whether cell `i` is a reduction cell.
    pub fn is_reduction(&self, i: usize) -> bool {
        i == self.layers / 3 || i == 2 * self.layers / 3
    }

    /// The cell after which the auxiliary head reads (the second reduction cell).
    pub fn auxiliary_cell(&self) -> usize {
        2 * self.layers / 3
    }

    /// The cells' channels, as `NetworkCIFAR.__init__` assigns them; `multiplier` is the number of
    /// states each cell concatenates.
    pub(crate) fn slots(&self, multiplier: i64) -> Vec<CellSlot> {
        let (mut c_pp, mut c_prev, mut c) = (3 * self.channels, 3 * self.channels, self.channels);
        let mut reduction_prev = false;
        (0..self.layers)
            .map(|i| {
                let reduction = self.is_reduction(i);
                if reduction {
                    c *= 2;
                }
                let slot = CellSlot { c_pp, c_prev, c, reduction, reduction_prev };
                reduction_prev = reduction;
                (c_pp, c_prev) = (c_prev, multiplier * c);
                slot
            })
            .collect()
    }
}

/// Weights of op `op` on `c` channels; `affine` BNs (evaluation) or not (search), `stride` 2 on
/// a reduction cell's input edges.
pub(crate) fn op_params(op: DartsOp, c: i64, stride: i64, affine: bool) -> i64 {
    let bn = if affine { 2 * c } else { 0 };
    match op {
        DartsOp::SepConv3x3 | DartsOp::SepConv5x5 => {
            let k = if op == DartsOp::SepConv3x3 { 3 } else { 5 };
            2 * (c * k * k + c * c + bn)
        }
        DartsOp::DilConv3x3 | DartsOp::DilConv5x5 => {
            let k = if op == DartsOp::DilConv3x3 { 3 } else { 5 };
            c * k * k + c * c + bn
        }
        DartsOp::SkipConnect if stride == 2 => 2 * c * (c / 2) + bn,
        _ => 0,
    }
}

/// Weights of the preprocessing of a cell: `FactorizedReduce` after a reduction cell, else
/// `ReLU-Conv1x1-BN`, plus `ReLU-Conv1x1-BN` on the previous cell's output.
fn preprocess_params(s: &CellSlot, affine: bool) -> i64 {
    let bn = if affine { 2 * s.c } else { 0 };
    let pre0 = if s.reduction_prev { 2 * s.c_pp * (s.c / 2) } else { s.c_pp * s.c };
    pre0 + bn + s.c_prev * s.c + bn
}

/// Weights of the auxiliary head on `c` input channels (`AuxiliaryHeadCIFAR`).
pub fn auxiliary_head_params(c: i64, num_classes: i64) -> i64 {
    c * 128 + 2 * 128 + 128 * 768 * 4 + 2 * 768 + 768 * num_classes + num_classes
}

fn cell_params(cell: &DartsCell, s: &CellSlot) -> i64 {
    let ops: i64 = cell
        .edges
        .iter()
        .map(|&(op, j)| op_params(op, s.c, if s.reduction && j < 2 { 2 } else { 1 }, true))
        .sum();
    preprocess_params(s, true) + ops
}

/// Trainable weights of `genotype`'s evaluation network (`NetworkCIFAR`) at `cfg`, without the
/// auxiliary head: what DARTS reports as the model size (`count_parameters_in_MB`), e.g.
/// 3 349 342 for DARTS V2 at C=36, 20 layers. Add [`auxiliary_head_params`] for the head.
pub fn darts_network_param_count(cfg: &DartsNetConfig, genotype: &DartsGenotype) -> i64 {
    let multiplier = genotype.normal.concat.len() as i64;
    let mut params = 9 * cfg.in_channels * 3 * cfg.channels + 2 * 3 * cfg.channels;
    let slots = cfg.slots(multiplier);
    let reduce_mult = genotype.reduce.concat.len() as i64;
    // A reduction cell concatenates its own number of states; recompute channels cell by cell.
    let mut c_prev_out = 3 * cfg.channels;
    let mut c_pp_out = 3 * cfg.channels;
    for s in &slots {
        let s = CellSlot { c_pp: c_pp_out, c_prev: c_prev_out, ..*s };
        let cell = if s.reduction { &genotype.reduce } else { &genotype.normal };
        params += cell_params(cell, &s);
        let m = if s.reduction { reduce_mult } else { multiplier };
        (c_pp_out, c_prev_out) = (c_prev_out, m * s.c);
    }
    params + c_prev_out * cfg.num_classes + cfg.num_classes
}

/// Trainable weights of the search network (`model_search.Network`) at `cfg`: every op of the op
/// set on every edge, BNs without affine weights except the stem's; architecture parameters not
/// included. 1 930 618 at the DARTS defaults (C=16, 8 layers, the full op set).
pub fn darts_supernet_param_count(cfg: &DartsNetConfig) -> i64 {
    let mut params = 9 * cfg.in_channels * 3 * cfg.channels + 2 * 3 * cfg.channels;
    let slots = cfg.slots(sotl_space::darts::DARTS_STEPS as i64);
    for s in &slots {
        params += preprocess_params(s, false);
        for i in 0..sotl_space::darts::DARTS_STEPS {
            for j in 0..i + 2 {
                let stride = if s.reduction && j < 2 { 2 } else { 1 };
                params +=
                    cfg.ops.ops().iter().map(|&op| op_params(op, s.c, stride, false)).sum::<i64>();
            }
        }
    }
    let c_last = slots.last().map_or(3 * cfg.channels, |s| 4 * s.c);
    params + c_last * cfg.num_classes + cfg.num_classes
}
