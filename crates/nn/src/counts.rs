//! Parameter counts and forward FLOPs of NAS-Bench-201 networks, computed from the shapes alone.
//!
//! FLOPs follow AutoDL-Projects' `xautodl/utils/flop_benchmark.py`, the convention of the
//! NAS-Bench-201 tables: per image, the multiply-accumulates of every Conv2d and Linear layer plus
//! one add per output for a bias; BN, ReLU, pooling and sums are not counted.

use sotl_space::{Nb201Arch, Nb201Op};

use crate::config::LayerKind;
use crate::Nb201NetConfig;

/// Which kind of network a count is for: cells differ, the skeleton is shared.
#[derive(Clone, Copy, PartialEq, Eq)]
enum CellConvs {
    /// Standalone: affine BN (2 weights per channel), conv without bias.
    Standalone,
    /// Supernet: BN without affine weights, conv with bias.
    Search,
}

/// Weights and FLOPs of one `ReLU-Conv(k)-BN` op on `c` channels of `size`x`size` maps.
fn cell_conv(c: i64, k: i64, size: i64, kind: CellConvs) -> (i64, i64) {
    let macs = k * k * c * c * size * size;
    match kind {
        CellConvs::Standalone => (k * k * c * c + 2 * c, macs),
        CellConvs::Search => (k * k * c * c + c, macs + c * size * size),
    }
}

/// Weights and FLOPs of everything but the cells: stem, reduction blocks, last BN, classifier.
fn skeleton(cfg: &Nb201NetConfig) -> (i64, i64) {
    let (c, s) = (cfg.channels, cfg.image_size);
    let mut params = 9 * cfg.in_channels * c + 2 * c;
    let mut flops = 9 * cfg.in_channels * c * s * s;
    for layer in cfg.layers() {
        if let LayerKind::Reduction { c_in, c_out, size_out } = layer {
            let hw = size_out * size_out;
            params += 9 * c_in * c_out + 2 * c_out + 9 * c_out * c_out + 2 * c_out + c_in * c_out;
            flops += (9 * c_in * c_out + 9 * c_out * c_out + c_in * c_out) * hw;
        }
    }
    let c4 = cfg.stage_channels(2);
    params += 2 * c4 + c4 * cfg.num_classes + cfg.num_classes;
    flops += c4 * cfg.num_classes + cfg.num_classes;
    (params, flops)
}

/// Sums the skeleton and `per_cell` over every cell of the body.
fn total(cfg: &Nb201NetConfig, per_cell: impl Fn(i64, i64) -> (i64, i64)) -> (i64, i64) {
    let (mut params, mut flops) = skeleton(cfg);
    for layer in cfg.layers() {
        if let LayerKind::Cell { c, size } = layer {
            let (p, f) = per_cell(c, size);
            params += p;
            flops += f;
        }
    }
    (params, flops)
}

/// Counts for the cells' ops of `arch` (every non-`none` op, dead or not, as the reference builds them).
fn arch_counts(cfg: &Nb201NetConfig, arch: &Nb201Arch, kind: CellConvs) -> (i64, i64) {
    total(cfg, |c, size| {
        arch.ops.iter().fold((0, 0), |(p, f), op| {
            let (dp, df) = match op {
                Nb201Op::NorConv1x1 => cell_conv(c, 1, size, kind),
                Nb201Op::NorConv3x3 => cell_conv(c, 3, size, kind),
                _ => (0, 0),
            };
            (p + dp, f + df)
        })
    })
}

fn supernet_counts(cfg: &Nb201NetConfig) -> (i64, i64) {
    total(cfg, |c, size| {
        let (p1, f1) = cell_conv(c, 1, size, CellConvs::Search);
        let (p3, f3) = cell_conv(c, 3, size, CellConvs::Search);
        (6 * (p1 + p3), 6 * (f1 + f3))
    })
}

/// Trainable weights of the standalone network of `arch` (AutoDL-Projects' `TinyNetwork`).
pub fn standalone_param_count(cfg: &Nb201NetConfig, arch: &Nb201Arch) -> i64 {
    arch_counts(cfg, arch, CellConvs::Standalone).0
}

/// Forward MFLOPs per image of the standalone network of `arch`.
pub fn standalone_mflops(cfg: &Nb201NetConfig, arch: &Nb201Arch) -> f64 {
    arch_counts(cfg, arch, CellConvs::Standalone).1 as f64 / 1e6
}

/// Trainable weights of the supernet, architecture parameters excluded.
pub fn supernet_param_count(cfg: &Nb201NetConfig) -> i64 {
    supernet_counts(cfg).0
}

/// Forward MFLOPs per image of the supernet with every op on every edge.
pub fn supernet_mflops(cfg: &Nb201NetConfig) -> f64 {
    supernet_counts(cfg).1 as f64 / 1e6
}

/// Forward MFLOPs per image of the supernet's single path `arch`, every non-`none` op counted.
pub fn supernet_path_mflops(cfg: &Nb201NetConfig, arch: &Nb201Arch) -> f64 {
    arch_counts(cfg, arch, CellConvs::Search).1 as f64 / 1e6
}
