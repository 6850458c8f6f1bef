//! Parameter counts and FLOPs checked against the NAS-Bench-201 reference definitions.
//!
//! The numbers were obtained by running AutoDL-Projects (D-X-Y/AutoDL-Projects at commit
//! f46486e21b71ae6459a700be720d7648b5429569) unmodified, with torch 2.11: `git archive` of
//! `xautodl/models/{cell_operations.py,cell_searchs,cell_infers}` into /tmp/autodl, then, with
//! `../shared/bench/pytorch_nb201_reference.py` on `sys.path` for its stub-package loader:
//!
//! ```python
//! ref = pytorch_nb201_reference.load_reference("/tmp/autodl")
//! x = torch.rand(1, 3, 32, 32)
//! for C, N, K in [(16, 5, 10), (8, 2, 100), (16, 5, 120)]:
//!     for s in CELLS:   # 7 hand-picked cells, then 13 from random.seed(2024) + random.choice per edge
//!         net = ref.TinyNetwork(C, N, ref.Structure.str2structure(s), K)
//!         print(s, count_params(net.parameters()), count_flops(net, x, net))
//!     sn = ref.TinyNetworkDarts(C, N, 4, K, ref.search_space, False, False)
//!     print(count_params(sn.get_weights()), len(sn.get_weights()), count_flops(sn, x, sn))
//!     sp = ref.TinyNetworkRANDOM(C, N, 4, K, ref.search_space, False, False)
//!     for s in CELLS[:8]:   # params that get a gradient from a forward_dynamic pass
//!         sp.arch_cache = ref.Structure.str2structure(s); sp.zero_grad(set_to_none=True)
//!         sp(torch.rand(2, 3, 32, 32))[1].sum().backward()
//!         print(s, count_params(p for p in sp.parameters() if p.grad is not None),
//!               count_flops(sp, x, sp))
//! ```
//! (`count_params` / `count_flops` are the harness's, i.e. `xautodl/utils/flop_benchmark.py`'s
//! convention.) The bench README's published figures agree: supernet 1 692 826 weights,
//! 245.43 MFLOPs; fixed arch path 828 186 / 118.46; its standalone net 830 426 / 117.88.

use sotl_nn::{
    standalone_mflops, standalone_param_count, supernet_mflops, supernet_param_count,
    supernet_path_mflops, Nb201NetConfig, Nb201Network, Nb201Supernet,
};
use sotl_space::{Nb201Arch, Nb201Op};
use tch::nn::VarStore;
use tch::Device;

/// (C, N, classes) and the reference (arch, TinyNetwork params, TinyNetwork MFLOPs/img) rows.
type Rows = &'static [(&'static str, i64, f64)];

const CELLS_DEFAULT: Rows = &[
    ("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|", 73306, 7.783050),
    ("|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|skip_connect~2|", 73306, 7.783050),
    ("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|", 1531546, 220.119690),
    ("|nor_conv_1x1~0|+|nor_conv_1x1~0|nor_conv_1x1~1|+|nor_conv_1x1~0|nor_conv_1x1~1|nor_conv_1x1~2|", 241306, 31.376010),
    ("|avg_pool_3x3~0|+|avg_pool_3x3~0|avg_pool_3x3~1|+|avg_pool_3x3~0|avg_pool_3x3~1|avg_pool_3x3~2|", 73306, 7.783050),
    ("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|", 1073466, 153.272970),
    ("|nor_conv_3x3~0|+|nor_conv_3x3~0|none~1|+|nor_conv_1x1~0|avg_pool_3x3~1|nor_conv_3x3~2|", 830426, 117.883530),
    ("|nor_conv_3x3~0|+|skip_connect~0|avg_pool_3x3~1|+|nor_conv_1x1~0|skip_connect~1|nor_conv_3x3~2|", 587386, 82.494090),
    ("|nor_conv_1x1~0|+|avg_pool_3x3~0|skip_connect~1|+|nor_conv_3x3~0|nor_conv_1x1~1|nor_conv_3x3~2|", 615386, 86.426250),
    ("|avg_pool_3x3~0|+|avg_pool_3x3~0|skip_connect~1|+|nor_conv_1x1~0|avg_pool_3x3~1|nor_conv_1x1~2|", 129306, 15.647370),
    ("|avg_pool_3x3~0|+|none~0|skip_connect~1|+|nor_conv_3x3~0|skip_connect~1|avg_pool_3x3~2|", 316346, 43.172490),
    ("|skip_connect~0|+|nor_conv_3x3~0|none~1|+|nor_conv_1x1~0|nor_conv_3x3~1|nor_conv_3x3~2|", 830426, 117.883530),
    ("|none~0|+|skip_connect~0|nor_conv_1x1~1|+|nor_conv_3x3~0|nor_conv_1x1~1|nor_conv_1x1~2|", 400346, 54.968970),
    ("|skip_connect~0|+|nor_conv_1x1~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_1x1~1|avg_pool_3x3~2|", 615386, 86.426250),
    ("|skip_connect~0|+|nor_conv_3x3~0|skip_connect~1|+|skip_connect~0|none~1|skip_connect~2|", 316346, 43.172490),
    ("|none~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|nor_conv_1x1~0|avg_pool_3x3~1|nor_conv_3x3~2|", 372346, 51.036810),
    ("|avg_pool_3x3~0|+|none~0|nor_conv_1x1~1|+|avg_pool_3x3~0|skip_connect~1|skip_connect~2|", 101306, 11.715210),
    ("|nor_conv_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|skip_connect~0|nor_conv_1x1~1|nor_conv_3x3~2|", 615386, 86.426250),
    ("|avg_pool_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|nor_conv_3x3~0|avg_pool_3x3~1|nor_conv_1x1~2|", 372346, 51.036810),
    ("|nor_conv_1x1~0|+|nor_conv_3x3~0|skip_connect~1|+|skip_connect~0|nor_conv_1x1~1|skip_connect~2|", 372346, 51.036810),
];

const PATHS_DEFAULT: Rows = &[
    ("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|", 73306, 7.783050),
    ("|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|skip_connect~2|", 73306, 7.783050),
    ("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|", 1528186, 220.979850),
    ("|nor_conv_1x1~0|+|nor_conv_1x1~0|nor_conv_1x1~1|+|nor_conv_1x1~0|nor_conv_1x1~1|nor_conv_1x1~2|", 237946, 32.236170),
    ("|avg_pool_3x3~0|+|avg_pool_3x3~0|avg_pool_3x3~1|+|avg_pool_3x3~0|avg_pool_3x3~1|avg_pool_3x3~2|", 73306, 7.783050),
    ("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|", 1070666, 153.989770),
    ("|nor_conv_3x3~0|+|nor_conv_3x3~0|none~1|+|nor_conv_1x1~0|avg_pool_3x3~1|nor_conv_3x3~2|", 828186, 118.456970),
    ("|nor_conv_3x3~0|+|skip_connect~0|avg_pool_3x3~1|+|nor_conv_1x1~0|skip_connect~1|nor_conv_3x3~2|", 585706, 82.924170),
];

const CELLS_C8_N2_K100: Rows = &[
    ("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|", 21708, 2.059492),
    ("|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|skip_connect~2|", 21708, 2.059492),
    ("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|", 168204, 23.293156),
    ("|nor_conv_1x1~0|+|nor_conv_1x1~0|nor_conv_1x1~1|+|nor_conv_1x1~0|nor_conv_1x1~1|nor_conv_1x1~2|", 39180, 4.418788),
    ("|avg_pool_3x3~0|+|avg_pool_3x3~0|avg_pool_3x3~1|+|avg_pool_3x3~0|avg_pool_3x3~1|avg_pool_3x3~2|", 21708, 2.059492),
    ("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|", 122284, 16.608484),
    ("|nor_conv_3x3~0|+|nor_conv_3x3~0|none~1|+|nor_conv_1x1~0|avg_pool_3x3~1|nor_conv_3x3~2|", 97868, 13.069540),
    ("|nor_conv_3x3~0|+|skip_connect~0|avg_pool_3x3~1|+|nor_conv_1x1~0|skip_connect~1|nor_conv_3x3~2|", 73452, 9.530596),
    ("|nor_conv_1x1~0|+|avg_pool_3x3~0|skip_connect~1|+|nor_conv_3x3~0|nor_conv_1x1~1|nor_conv_3x3~2|", 76364, 9.923812),
    ("|avg_pool_3x3~0|+|avg_pool_3x3~0|skip_connect~1|+|nor_conv_1x1~0|avg_pool_3x3~1|nor_conv_1x1~2|", 27532, 2.845924),
    ("|avg_pool_3x3~0|+|none~0|skip_connect~1|+|nor_conv_3x3~0|skip_connect~1|avg_pool_3x3~2|", 46124, 5.598436),
    ("|skip_connect~0|+|nor_conv_3x3~0|none~1|+|nor_conv_1x1~0|nor_conv_3x3~1|nor_conv_3x3~2|", 97868, 13.069540),
    ("|none~0|+|skip_connect~0|nor_conv_1x1~1|+|nor_conv_3x3~0|nor_conv_1x1~1|nor_conv_1x1~2|", 54860, 6.778084),
    ("|skip_connect~0|+|nor_conv_1x1~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_1x1~1|avg_pool_3x3~2|", 76364, 9.923812),
    ("|skip_connect~0|+|nor_conv_3x3~0|skip_connect~1|+|skip_connect~0|none~1|skip_connect~2|", 46124, 5.598436),
    ("|none~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|nor_conv_1x1~0|avg_pool_3x3~1|nor_conv_3x3~2|", 51948, 6.384868),
    ("|avg_pool_3x3~0|+|none~0|nor_conv_1x1~1|+|avg_pool_3x3~0|skip_connect~1|skip_connect~2|", 24620, 2.452708),
    ("|nor_conv_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|skip_connect~0|nor_conv_1x1~1|nor_conv_3x3~2|", 76364, 9.923812),
    ("|avg_pool_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|nor_conv_3x3~0|avg_pool_3x3~1|nor_conv_1x1~2|", 51948, 6.384868),
    ("|nor_conv_1x1~0|+|nor_conv_3x3~0|skip_connect~1|+|skip_connect~0|nor_conv_1x1~1|skip_connect~2|", 51948, 6.384868),
];

const PATHS_C8_N2_K100: Rows = &[
    ("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|", 21708, 2.059492),
    ("|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|skip_connect~2|", 21708, 2.059492),
    ("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|", 167532, 23.465188),
    ("|nor_conv_1x1~0|+|nor_conv_1x1~0|nor_conv_1x1~1|+|nor_conv_1x1~0|nor_conv_1x1~1|nor_conv_1x1~2|", 38508, 4.590820),
    ("|avg_pool_3x3~0|+|avg_pool_3x3~0|avg_pool_3x3~1|+|avg_pool_3x3~0|avg_pool_3x3~1|avg_pool_3x3~2|", 21708, 2.059492),
    ("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|", 121724, 16.751844),
    ("|nor_conv_3x3~0|+|nor_conv_3x3~0|none~1|+|nor_conv_1x1~0|avg_pool_3x3~1|nor_conv_3x3~2|", 97420, 13.184228),
    ("|nor_conv_3x3~0|+|skip_connect~0|avg_pool_3x3~1|+|nor_conv_1x1~0|skip_connect~1|nor_conv_3x3~2|", 73116, 9.616612),
];

const CELLS_C16_N5_K120: Rows = &[
    ("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|", 80456, 7.790200),
    ("|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|skip_connect~2|", 80456, 7.790200),
    ("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|", 1538696, 220.126840),
    ("|nor_conv_1x1~0|+|nor_conv_1x1~0|nor_conv_1x1~1|+|nor_conv_1x1~0|nor_conv_1x1~1|nor_conv_1x1~2|", 248456, 31.383160),
    ("|avg_pool_3x3~0|+|avg_pool_3x3~0|avg_pool_3x3~1|+|avg_pool_3x3~0|avg_pool_3x3~1|avg_pool_3x3~2|", 80456, 7.790200),
    ("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|", 1080616, 153.280120),
    ("|nor_conv_3x3~0|+|nor_conv_3x3~0|none~1|+|nor_conv_1x1~0|avg_pool_3x3~1|nor_conv_3x3~2|", 837576, 117.890680),
    ("|nor_conv_3x3~0|+|skip_connect~0|avg_pool_3x3~1|+|nor_conv_1x1~0|skip_connect~1|nor_conv_3x3~2|", 594536, 82.501240),
    ("|nor_conv_1x1~0|+|avg_pool_3x3~0|skip_connect~1|+|nor_conv_3x3~0|nor_conv_1x1~1|nor_conv_3x3~2|", 622536, 86.433400),
    ("|avg_pool_3x3~0|+|avg_pool_3x3~0|skip_connect~1|+|nor_conv_1x1~0|avg_pool_3x3~1|nor_conv_1x1~2|", 136456, 15.654520),
    ("|avg_pool_3x3~0|+|none~0|skip_connect~1|+|nor_conv_3x3~0|skip_connect~1|avg_pool_3x3~2|", 323496, 43.179640),
    ("|skip_connect~0|+|nor_conv_3x3~0|none~1|+|nor_conv_1x1~0|nor_conv_3x3~1|nor_conv_3x3~2|", 837576, 117.890680),
    ("|none~0|+|skip_connect~0|nor_conv_1x1~1|+|nor_conv_3x3~0|nor_conv_1x1~1|nor_conv_1x1~2|", 407496, 54.976120),
    ("|skip_connect~0|+|nor_conv_1x1~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_1x1~1|avg_pool_3x3~2|", 622536, 86.433400),
    ("|skip_connect~0|+|nor_conv_3x3~0|skip_connect~1|+|skip_connect~0|none~1|skip_connect~2|", 323496, 43.179640),
    ("|none~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|nor_conv_1x1~0|avg_pool_3x3~1|nor_conv_3x3~2|", 379496, 51.043960),
    ("|avg_pool_3x3~0|+|none~0|nor_conv_1x1~1|+|avg_pool_3x3~0|skip_connect~1|skip_connect~2|", 108456, 11.722360),
    ("|nor_conv_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|skip_connect~0|nor_conv_1x1~1|nor_conv_3x3~2|", 622536, 86.433400),
    ("|avg_pool_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|nor_conv_3x3~0|avg_pool_3x3~1|nor_conv_1x1~2|", 379496, 51.043960),
    ("|nor_conv_1x1~0|+|nor_conv_3x3~0|skip_connect~1|+|skip_connect~0|nor_conv_1x1~1|skip_connect~2|", 379496, 51.043960),
];

const PATHS_C16_N5_K120: Rows = &[
    ("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|", 80456, 7.790200),
    ("|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|skip_connect~2|", 80456, 7.790200),
    ("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|", 1535336, 220.987000),
    ("|nor_conv_1x1~0|+|nor_conv_1x1~0|nor_conv_1x1~1|+|nor_conv_1x1~0|nor_conv_1x1~1|nor_conv_1x1~2|", 245096, 32.243320),
    ("|avg_pool_3x3~0|+|avg_pool_3x3~0|avg_pool_3x3~1|+|avg_pool_3x3~0|avg_pool_3x3~1|avg_pool_3x3~2|", 80456, 7.790200),
    ("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|", 1077816, 153.996920),
    ("|nor_conv_3x3~0|+|nor_conv_3x3~0|none~1|+|nor_conv_1x1~0|avg_pool_3x3~1|nor_conv_3x3~2|", 835336, 118.464120),
    ("|nor_conv_3x3~0|+|skip_connect~0|avg_pool_3x3~1|+|nor_conv_1x1~0|skip_connect~1|nor_conv_3x3~2|", 592856, 82.931320),
];

/// (C, N, classes, standalone rows, supernet path rows, supernet weights, tensors, supernet MFLOPs).
type ConfigRow = (i64, usize, i64, Rows, Rows, i64, usize, f64);
const CONFIGS: &[ConfigRow] = &[
    (16, 5, 10, CELLS_DEFAULT, PATHS_DEFAULT, 1692826, 381, 245.432970),
    (8, 2, 100, CELLS_C8_N2_K100, PATHS_C8_N2_K100, 184332, 165, 25.996516),
    (16, 5, 120, CELLS_C16_N5_K120, PATHS_C16_N5_K120, 1699976, 381, 245.440120),
];
fn cfg(c: i64, n: usize, k: i64) -> Nb201NetConfig {
    Nb201NetConfig { channels: c, cells_per_stage: n, num_classes: k, ..Nb201NetConfig::default() }
}

fn arch(s: &str) -> Nb201Arch {
    s.parse().expect("reference arch strings parse")
}

/// Reference MFLOPs are printed with 6 decimals.
fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-6
}

#[test]
fn standalone_counts_match_tiny_network() {
    for &(c, n, k, cells, _, _, _, _) in CONFIGS {
        let cfg = cfg(c, n, k);
        for &(s, params, mflops) in cells {
            let a = arch(s);
            assert_eq!(
                standalone_param_count(&cfg, &a),
                params,
                "analytic params of {s} at {cfg:?}"
            );
            assert!(close(standalone_mflops(&cfg, &a), mflops), "MFLOPs of {s} at {cfg:?}");
        }
    }
    // The built networks (real tensors) agree too; the default size only, to stay quick.
    let (c, n, k, cells, ..) = CONFIGS[0];
    let cfg = cfg(c, n, k);
    for &(s, params, mflops) in cells {
        let vs = VarStore::new(Device::Cpu);
        let net = Nb201Network::new(&vs.root(), &arch(s), &cfg).unwrap();
        assert_eq!(net.param_count(), params, "built params of {s}");
        assert!(close(net.mflops(), mflops));
        assert_eq!(net.params().len(), vs.trainable_variables().len());
    }
}

#[test]
fn supernet_counts_match_reference_search_model() {
    for &(c, n, k, _, paths, weights, tensors, mflops) in CONFIGS {
        let cfg = cfg(c, n, k);
        assert_eq!(supernet_param_count(&cfg), weights);
        assert!(close(supernet_mflops(&cfg), mflops));
        let vs = VarStore::new(Device::Cpu);
        let net = Nb201Supernet::new(&vs.root(), &cfg).unwrap();
        assert_eq!(net.param_count(), weights, "built supernet at {cfg:?}");
        assert_eq!(net.params().len(), tensors);
        assert!(close(net.mflops(), mflops));
        // None of these paths has a dead edge, so the reference's "params with a gradient" equals
        // ours (which leaves dead edges out) -- except the all-`none` cell: the reference multiplies
        // by zero and so hands zero gradients to everything, we skip all but the head.
        for &(s, params, mflops) in paths {
            let a = arch(s);
            let expected = if a.ops.iter().all(|&op| op == Nb201Op::None) {
                let c4 = 4 * c;
                2 * c4 + c4 * k + k
            } else {
                params
            };
            assert_eq!(net.path_param_count(&a), expected, "path params of {s} at {cfg:?}");
            assert!(close(supernet_path_mflops(&cfg, &a), mflops), "path MFLOPs of {s}");
        }
    }
}

#[test]
fn published_bench_readme_figures() {
    let cfg = Nb201NetConfig::default();
    let fixed = arch(
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|none~1|+|nor_conv_1x1~0|avg_pool_3x3~1|nor_conv_3x3~2|",
    );
    assert_eq!(supernet_param_count(&cfg), 1_692_826);
    assert_eq!(standalone_param_count(&cfg, &fixed), 830_426);
    assert_eq!(format!("{:.2}", supernet_mflops(&cfg)), "245.43");
    assert_eq!(format!("{:.2}", supernet_path_mflops(&cfg, &fixed)), "118.46");
    assert_eq!(format!("{:.2}", standalone_mflops(&cfg, &fixed)), "117.88");
}
