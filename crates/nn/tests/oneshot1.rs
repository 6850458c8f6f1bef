//! The NAS-Bench-1shot1 one-shot model: NAS-Bench-101's published parameter count, the
//! reference model's weight count, soft and single-path forwards agreeing where they must, and
//! single-path gradients reaching exactly the path's weights.

use sotl_nn::{nb101_param_count, EdgeMix, OneShot1NetConfig, OneShot1Supernet, Supernet};
use sotl_space::nb101::Nb101Op::{self, Conv1x1 as C1, Conv3x3 as C3, MaxPool3x3 as MP};
use sotl_space::nb101::Nb101Spec;
use sotl_space::nb1shot1::ONESHOT1_OPS;
use sotl_space::{OneShot1Cell, OneShot1Space, SearchSpace};
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

fn net(space: OneShot1Space, kind: Kind) -> (VarStore, OneShot1Supernet) {
    tch::manual_seed(7);
    let mut vs = VarStore::new(Device::Cpu);
    let cfg =
        OneShot1NetConfig { space, channels: 4, layers: 3, image_size: 8, ..Default::default() };
    let n = OneShot1Supernet::new(&vs.root(), &cfg).unwrap();
    if kind == Kind::Double {
        vs.double();
    }
    (vs, n)
}

fn cell(space: OneShot1Space, parents: &[&[usize]], ops: &[Nb101Op]) -> OneShot1Cell {
    let c = OneShot1Cell {
        space,
        parents: parents.iter().map(|p| p.to_vec()).collect(),
        ops: ops.to_vec(),
    };
    c.validate().unwrap();
    c
}

fn max_diff(a: &Tensor, b: &Tensor) -> f64 {
    (a - b).abs().max().double_value(&[])
}

#[test]
fn nb101_network_count_is_the_published_one() {
    // The Inception-like cell of the NAS-Bench-101 README and colab (`NASBench.ipynb`), whose
    // queried `trainable_parameters` is 2 694 282 (128 channels, 3 stacks of 3, 10 classes).
    let m: Vec<Vec<u8>> = vec![
        vec![0, 1, 1, 1, 0, 1, 0],
        vec![0, 0, 0, 0, 0, 0, 1],
        vec![0, 0, 0, 0, 0, 0, 1],
        vec![0, 0, 0, 0, 1, 0, 0],
        vec![0, 0, 0, 0, 0, 0, 1],
        vec![0, 0, 0, 0, 0, 0, 1],
        vec![0, 0, 0, 0, 0, 0, 0],
    ];
    let spec = Nb101Spec::new(&m, &[C1, C3, C3, C3, MP]).unwrap();
    let cfg = OneShot1NetConfig { channels: 128, layers: 9, ..Default::default() };
    assert_eq!(nb101_param_count(&spec, &cfg), 2_694_282);
}

#[test]
fn supernet_weights_match_the_reference_model() {
    // `model_search.Network` at C=16, 9 cells, n nodes: stem 27C + 2C; per cell with c_in in
    // and c per node: n projections (c_in*c + 2c), the output projection (c_in*n*c + 2nc),
    // n conv3x3 (9c^2 + 2c) and n conv1x1 (c^2 + 2c); cells (16,16), (64,16) x2, (64,32),
    // (128,32) x2, (128,64), (256,64) x2 for n = 4; post-process 1x1 (4*64 -> 64, BN without
    // affine) and the classifier 64*10 + 10.
    for (space, want) in [(OneShot1Space::S1, 1_101_402), (OneShot1Space::S3, 1_509_594)] {
        let vs = VarStore::new(Device::Cpu);
        let cfg = OneShot1NetConfig { space, ..Default::default() };
        let n = OneShot1Supernet::new(&vs.root(), &cfg).unwrap();
        assert_eq!(n.param_count(), want, "{space}");
    }
}

#[test]
fn soft_weights_that_select_a_cell_give_its_single_path_output() {
    // Soft mixes weight a node's inputs by a normalised row, a path sums them; with the chosen
    // parents equally weighted, the soft node input is the path's scaled by 1/k, which the
    // conv-BN of a conv op removes (batch statistics). So every node with several parents here
    // runs a conv, and the two forwards agree up to BN's epsilon.
    let s2 = OneShot1Space::S2;
    let g = cell(s2, &[&[0], &[1], &[0, 2], &[1, 3], &[0, 2, 4]], &[MP, C1, C3, C3]);
    let (rows, cols) = s2.relaxation_shape();
    let mut w = vec![0.0f64; rows * cols];
    for v in 1..=4 {
        let k = ONESHOT1_OPS.iter().position(|&o| o == g.ops[v - 1]).unwrap();
        w[s2.op_row(v) * cols + k] = 1.0;
    }
    for v in 2..=5 {
        for &p in &g.parents[v - 1] {
            w[s2.parent_row(v) * cols + p] = 1.0;
        }
    }
    let (_vs, n) = net(s2, Kind::Double);
    let x = Tensor::randn([6, 3, 8, 8], (Kind::Double, Device::Cpu));
    let soft = Tensor::from_slice(&w).view([rows as i64, cols as i64]);
    let a = n.forward_mix(&x, &EdgeMix::Soft(soft), true);
    let b = n.forward_mix(&x, &EdgeMix::Path(g.clone()), true);
    assert_eq!(a.size(), [6, 10]);
    assert!(max_diff(&a, &b) < 1e-3, "{}", max_diff(&a, &b));
    // Moving the output's weight off node 4 changes the result.
    let mut w2 = w.clone();
    w2[s2.parent_row(5) * cols + 4] = 0.0;
    w2[s2.parent_row(5) * cols + 1] = 1.0;
    let soft2 = Tensor::from_slice(&w2).view([rows as i64, cols as i64]);
    assert!(max_diff(&a, &n.forward_mix(&x, &EdgeMix::Soft(soft2), true)) > 1e-3);
}

#[test]
fn padded_entries_carry_no_weight() {
    let s1 = OneShot1Space::S1;
    let (rows, cols) = s1.relaxation_shape();
    let (_vs, n) = net(s1, Kind::Double);
    let x = Tensor::randn([4, 3, 8, 8], (Kind::Double, Device::Cpu));
    let alpha = Tensor::randn([rows as i64, cols as i64], (Kind::Double, Device::Cpu));
    let mask = Tensor::from_slice(
        &s1.relaxation_mask().unwrap().iter().map(|&b| f64::from(u8::from(b))).collect::<Vec<_>>(),
    )
    .view([rows as i64, cols as i64]);
    let changed: Tensor = &alpha + (mask.ones_like() - &mask) * 5.0;
    let a = n.forward_mix(&x, &EdgeMix::Soft(alpha.softmax(-1, Kind::Double)), true);
    let b = n.forward_mix(&x, &EdgeMix::Soft(changed.softmax(-1, Kind::Double)), true);
    assert!(max_diff(&a, &b) < 1e-9, "{}", max_diff(&a, &b));
}

#[test]
fn single_path_gradients_reach_exactly_path_weights() {
    let x = Tensor::randn([4, 3, 8, 8], (Kind::Float, Device::Cpu));
    let cases = [
        // Node 3 is a loose end (nothing reads it); the output skips the input.
        cell(OneShot1Space::S1, &[&[0], &[0, 1], &[1, 2], &[1, 2], &[2, 4]], &[C3, MP, C1, C1]),
        // Every node pools; the output reads the input.
        cell(OneShot1Space::S3, &[&[0], &[1], &[2], &[0, 3], &[1, 4], &[0, 5]], &[MP; 5]),
    ];
    for g in cases {
        let (_vs, n) = net(g.space, Kind::Float);
        let w = n.weights();
        n.forward_mix(&x, &EdgeMix::Path(g.clone()), true).sum(Kind::Float).backward();
        let on = n.path_weight_indices(&g);
        for (i, t) in w.iter().enumerate() {
            assert_eq!(t.grad().defined(), on.contains(&i), "{g}: {}", n.weight_names()[i]);
        }
    }
}

#[test]
fn bad_sizes_are_refused_naming_the_key() {
    let vs = VarStore::new(Device::Cpu);
    let e =
        OneShot1Supernet::new(&vs.root(), &OneShot1NetConfig { layers: 2, ..Default::default() })
            .err()
            .unwrap();
    assert!(e.to_string().contains("layers = 2"), "{e}");
    let e =
        OneShot1Supernet::new(&vs.root(), &OneShot1NetConfig { channels: 0, ..Default::default() })
            .err()
            .unwrap();
    assert!(e.to_string().contains("channels = 0"), "{e}");
}
