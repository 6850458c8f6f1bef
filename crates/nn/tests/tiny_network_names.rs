//! `Nb201Network::tiny_network_state_dict` against the reference's own `state_dict()`.
//!
//! The expected names and shapes are what AutoDL-Projects (D-X-Y/AutoDL-Projects at commit
//! f46486e21b71ae6459a700be720d7648b5429569, unmodified, torch 2.11) prints for
//! ```python
//! net = TinyNetwork(4, 1, CellStructure.str2structure(CELL), 10)   # xautodl.models.cell_infers
//! for k, v in net.state_dict().items(): print(k, list(v.shape))
//! ```
//! with the modules loaded as `../shared/bench/pytorch_nb201_reference.py` loads them. The
//! round trip through PyTorch (load_state_dict(strict=True), equal logits) is tested from Python
//! in `crates/python/tests`.

use sotl_nn::{Nb201NetConfig, Nb201Network};
use sotl_space::Nb201Arch;
use tch::nn::VarStore;
use tch::{Device, Kind};

const CELL: &str =
    "|nor_conv_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|skip_connect~0|none~1|nor_conv_3x3~2|";

const REFERENCE: &[(&str, &[i64])] = &[
    ("stem.0.weight", &[4, 3, 3, 3]),
    ("stem.1.weight", &[4]),
    ("stem.1.bias", &[4]),
    ("stem.1.running_mean", &[4]),
    ("stem.1.running_var", &[4]),
    ("stem.1.num_batches_tracked", &[]),
    ("cells.0.layers.0.op.1.weight", &[4, 4, 3, 3]),
    ("cells.0.layers.0.op.2.weight", &[4]),
    ("cells.0.layers.0.op.2.bias", &[4]),
    ("cells.0.layers.0.op.2.running_mean", &[4]),
    ("cells.0.layers.0.op.2.running_var", &[4]),
    ("cells.0.layers.0.op.2.num_batches_tracked", &[]),
    ("cells.0.layers.1.op.1.weight", &[4, 4, 1, 1]),
    ("cells.0.layers.1.op.2.weight", &[4]),
    ("cells.0.layers.1.op.2.bias", &[4]),
    ("cells.0.layers.1.op.2.running_mean", &[4]),
    ("cells.0.layers.1.op.2.running_var", &[4]),
    ("cells.0.layers.1.op.2.num_batches_tracked", &[]),
    ("cells.0.layers.5.op.1.weight", &[4, 4, 3, 3]),
    ("cells.0.layers.5.op.2.weight", &[4]),
    ("cells.0.layers.5.op.2.bias", &[4]),
    ("cells.0.layers.5.op.2.running_mean", &[4]),
    ("cells.0.layers.5.op.2.running_var", &[4]),
    ("cells.0.layers.5.op.2.num_batches_tracked", &[]),
    ("cells.1.conv_a.op.1.weight", &[8, 4, 3, 3]),
    ("cells.1.conv_a.op.2.weight", &[8]),
    ("cells.1.conv_a.op.2.bias", &[8]),
    ("cells.1.conv_a.op.2.running_mean", &[8]),
    ("cells.1.conv_a.op.2.running_var", &[8]),
    ("cells.1.conv_a.op.2.num_batches_tracked", &[]),
    ("cells.1.conv_b.op.1.weight", &[8, 8, 3, 3]),
    ("cells.1.conv_b.op.2.weight", &[8]),
    ("cells.1.conv_b.op.2.bias", &[8]),
    ("cells.1.conv_b.op.2.running_mean", &[8]),
    ("cells.1.conv_b.op.2.running_var", &[8]),
    ("cells.1.conv_b.op.2.num_batches_tracked", &[]),
    ("cells.1.downsample.1.weight", &[8, 4, 1, 1]),
    ("cells.2.layers.0.op.1.weight", &[8, 8, 3, 3]),
    ("cells.2.layers.0.op.2.weight", &[8]),
    ("cells.2.layers.0.op.2.bias", &[8]),
    ("cells.2.layers.0.op.2.running_mean", &[8]),
    ("cells.2.layers.0.op.2.running_var", &[8]),
    ("cells.2.layers.0.op.2.num_batches_tracked", &[]),
    ("cells.2.layers.1.op.1.weight", &[8, 8, 1, 1]),
    ("cells.2.layers.1.op.2.weight", &[8]),
    ("cells.2.layers.1.op.2.bias", &[8]),
    ("cells.2.layers.1.op.2.running_mean", &[8]),
    ("cells.2.layers.1.op.2.running_var", &[8]),
    ("cells.2.layers.1.op.2.num_batches_tracked", &[]),
    ("cells.2.layers.5.op.1.weight", &[8, 8, 3, 3]),
    ("cells.2.layers.5.op.2.weight", &[8]),
    ("cells.2.layers.5.op.2.bias", &[8]),
    ("cells.2.layers.5.op.2.running_mean", &[8]),
    ("cells.2.layers.5.op.2.running_var", &[8]),
    ("cells.2.layers.5.op.2.num_batches_tracked", &[]),
    ("cells.3.conv_a.op.1.weight", &[16, 8, 3, 3]),
    ("cells.3.conv_a.op.2.weight", &[16]),
    ("cells.3.conv_a.op.2.bias", &[16]),
    ("cells.3.conv_a.op.2.running_mean", &[16]),
    ("cells.3.conv_a.op.2.running_var", &[16]),
    ("cells.3.conv_a.op.2.num_batches_tracked", &[]),
    ("cells.3.conv_b.op.1.weight", &[16, 16, 3, 3]),
    ("cells.3.conv_b.op.2.weight", &[16]),
    ("cells.3.conv_b.op.2.bias", &[16]),
    ("cells.3.conv_b.op.2.running_mean", &[16]),
    ("cells.3.conv_b.op.2.running_var", &[16]),
    ("cells.3.conv_b.op.2.num_batches_tracked", &[]),
    ("cells.3.downsample.1.weight", &[16, 8, 1, 1]),
    ("cells.4.layers.0.op.1.weight", &[16, 16, 3, 3]),
    ("cells.4.layers.0.op.2.weight", &[16]),
    ("cells.4.layers.0.op.2.bias", &[16]),
    ("cells.4.layers.0.op.2.running_mean", &[16]),
    ("cells.4.layers.0.op.2.running_var", &[16]),
    ("cells.4.layers.0.op.2.num_batches_tracked", &[]),
    ("cells.4.layers.1.op.1.weight", &[16, 16, 1, 1]),
    ("cells.4.layers.1.op.2.weight", &[16]),
    ("cells.4.layers.1.op.2.bias", &[16]),
    ("cells.4.layers.1.op.2.running_mean", &[16]),
    ("cells.4.layers.1.op.2.running_var", &[16]),
    ("cells.4.layers.1.op.2.num_batches_tracked", &[]),
    ("cells.4.layers.5.op.1.weight", &[16, 16, 3, 3]),
    ("cells.4.layers.5.op.2.weight", &[16]),
    ("cells.4.layers.5.op.2.bias", &[16]),
    ("cells.4.layers.5.op.2.running_mean", &[16]),
    ("cells.4.layers.5.op.2.running_var", &[16]),
    ("cells.4.layers.5.op.2.num_batches_tracked", &[]),
    ("lastact.0.weight", &[16]),
    ("lastact.0.bias", &[16]),
    ("lastact.0.running_mean", &[16]),
    ("lastact.0.running_var", &[16]),
    ("lastact.0.num_batches_tracked", &[]),
    ("classifier.weight", &[10, 16]),
    ("classifier.bias", &[10]),
];

#[test]
fn names_shapes_and_order_are_the_reference_state_dict() {
    let vs = VarStore::new(Device::Cpu);
    let arch: Nb201Arch = CELL.parse().unwrap();
    let cfg = Nb201NetConfig { channels: 4, cells_per_stage: 1, ..Nb201NetConfig::default() };
    let net = Nb201Network::new(&vs.root(), &arch, &cfg).unwrap();
    let ours = net.tiny_network_state_dict(7);
    let got: Vec<(String, Vec<i64>)> = ours.iter().map(|(n, t)| (n.clone(), t.size())).collect();
    let want: Vec<(String, Vec<i64>)> =
        REFERENCE.iter().map(|(n, s)| (n.to_string(), s.to_vec())).collect();
    assert_eq!(got, want);
    // Every trainable weight is exported once, and the BN step counters carry the given count.
    let weights: i64 = ours
        .iter()
        .filter(|(n, _)| !n.contains("running_") && !n.ends_with("num_batches_tracked"))
        .map(|(_, t)| t.numel() as i64)
        .sum();
    assert_eq!(weights, net.param_count());
    for (n, t) in &ours {
        if n.ends_with("num_batches_tracked") {
            assert_eq!(t.kind(), Kind::Int64);
            assert_eq!(t.int64_value(&[]), 7);
        }
    }
}
