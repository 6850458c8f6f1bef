//! Supernet and standalone behaviour: shapes, functional forward, hypergradients, `none` handling,
//! single-path gradients, weight inheritance, config validation.

use sotl_nn::{live_edges, EdgeMix, Nb201NetConfig, Nb201Network, Nb201Supernet, NnError};
use sotl_space::{Nb201Arch, Nb201Op};
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

const BEST: &str = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|";
/// Node 2 has only `none` inputs (a zero map feeding a conv) and node 1 is used.
const DEAD_SOURCE: &str =
    "|avg_pool_3x3~0|+|none~0|none~1|+|skip_connect~0|nor_conv_1x1~1|nor_conv_3x3~2|";
/// Node 1 feeds only `none` edges (its conv is dead).
const DEAD_TARGET: &str =
    "|nor_conv_3x3~0|+|nor_conv_1x1~0|none~1|+|avg_pool_3x3~0|none~1|skip_connect~2|";
const ALL_NONE: &str = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|";

fn arch(s: &str) -> Nb201Arch {
    s.parse().unwrap()
}

fn small(kind: Kind) -> (VarStore, Nb201Supernet) {
    tch::manual_seed(0);
    let mut vs = VarStore::new(Device::Cpu);
    vs.set_kind(kind);
    let cfg = Nb201NetConfig {
        channels: 4,
        cells_per_stage: 1,
        num_classes: 3,
        in_channels: 3,
        image_size: 8,
    };
    let net = Nb201Supernet::new(&vs.root(), &cfg).unwrap();
    (vs, net)
}

fn max_diff(a: &Tensor, b: &Tensor) -> f64 {
    (a - b).abs().max().double_value(&[])
}

fn one_hot(a: &Nb201Arch) -> Tensor {
    let w = Tensor::zeros([6, 5], (Kind::Float, Device::Cpu));
    for (e, op) in a.ops.iter().enumerate() {
        let _ = w.get(e as i64).get(op.index() as i64).fill_(1.0);
    }
    w
}

#[test]
fn shapes_for_every_mix_and_size() {
    tch::manual_seed(1);
    let vs = VarStore::new(Device::Cpu);
    let cfg = Nb201NetConfig { num_classes: 7, ..Nb201NetConfig::default() };
    let sn = Nb201Supernet::new(&vs.root(), &cfg).unwrap();
    let net = Nb201Network::new(&(vs.root() / "standalone"), &arch(BEST), &cfg).unwrap();
    // Any input size divisible by 4 works: global pooling makes the head size-independent.
    for size in [32, 16] {
        let x = Tensor::randn([3, 3, size, size], (Kind::Float, Device::Cpu));
        let mixes = [
            EdgeMix::Soft(Tensor::rand([6, 5], (Kind::Float, Device::Cpu))),
            EdgeMix::Path(arch(BEST)),
            EdgeMix::WeightedPath(arch(DEAD_SOURCE), Tensor::ones([6], (Kind::Float, Device::Cpu))),
        ];
        for mix in &mixes {
            assert_eq!(sn.forward(&x, mix).size(), [3, 7]);
            assert_eq!(sn.forward_t(&x, mix, false).size(), [3, 7]);
        }
        assert_eq!(net.forward_t(&x, true).size(), [3, 7]);
        assert_eq!(net.forward_t(&x, false).size(), [3, 7]);
    }
}

#[test]
fn forward_with_own_params_equals_forward() {
    let (_vs, net) = small(Kind::Float);
    let x = Tensor::randn([4, 3, 8, 8], (Kind::Float, Device::Cpu));
    let params = net.params();
    for mix in
        [EdgeMix::Soft(Tensor::rand([6, 5], (Kind::Float, Device::Cpu))), EdgeMix::Path(arch(BEST))]
    {
        assert_eq!(max_diff(&net.forward(&x, &mix), &net.forward_with(&params, &x, &mix)), 0.0);
    }
    // And it really uses the given tensors: scaling the classifier bias moves the logits.
    let mut shifted: Vec<Tensor> = params.iter().map(|p| p.detach()).collect();
    let last = shifted.len() - 1;
    shifted[last] = &shifted[last] + 1.0;
    let mix = EdgeMix::Path(arch(BEST));
    let d = net.forward_with(&shifted, &x, &mix) - net.forward(&x, &mix);
    assert!((d - 1.0).abs().max().double_value(&[]) < 1e-5);
}

/// Validation loss after one unrolled SGD step on the training loss, as a function of alpha:
/// `L_val(w - lr * dL_train/dw (alpha), alpha)`.
fn unrolled_loss(net: &Nb201Supernet, alpha: &Tensor, data: &[Tensor; 4]) -> Tensor {
    let [x1, y1, x2, y2] = data;
    let w = net.params();
    let mix = EdgeMix::Soft(alpha.softmax(-1, Kind::Double));
    // (`cross_entropy_for_logits` would round to f32.)
    let ce = |logits: Tensor, y: &Tensor| logits.log_softmax(-1, Kind::Double).nll_loss(y);
    let train = ce(net.forward_with(&w, x1, &mix), y1);
    let grads = Tensor::run_backward(&[train], &w, true, true);
    let stepped: Vec<Tensor> = w.iter().zip(&grads).map(|(p, g)| p - g * 0.5).collect();
    ce(net.forward_with(&stepped, x2, &mix), y2)
}

#[test]
fn hypergradient_through_unrolled_step_matches_finite_differences() {
    let (_vs, net) = small(Kind::Double);
    let opts = (Kind::Double, Device::Cpu);
    let data = [
        Tensor::randn([4, 3, 8, 8], opts),
        Tensor::from_slice(&[0i64, 1, 2, 1]),
        Tensor::randn([4, 3, 8, 8], opts),
        Tensor::from_slice(&[2i64, 0, 1, 1]),
    ];
    let alpha = (Tensor::randn([6, 5], opts) * 0.5).set_requires_grad(true);
    let loss = unrolled_loss(&net, &alpha, &data);
    let grad = Tensor::run_backward(&[loss], &[&alpha], false, false).pop().unwrap();
    let h = 1e-5;
    for (e, k) in [(0, 3), (2, 1), (3, 2), (5, 4)] {
        let bump = |d: f64| {
            let a = alpha.detach().copy();
            let _ = a.get(e).get(k).fill_(alpha.double_value(&[e, k]) + d);
            unrolled_loss(&net, &a.set_requires_grad(false), &data).double_value(&[])
        };
        let fd = (bump(h) - bump(-h)) / (2.0 * h);
        let ad = grad.double_value(&[e, k]);
        assert!(ad.abs() > 1e-8, "hypergradient ({e},{k}) vanished");
        assert!(
            (fd - ad).abs() <= 1e-5 * fd.abs().max(1e-3),
            "alpha[{e},{k}]: autograd {ad}, finite diff {fd}"
        );
    }
}

#[test]
fn soft_one_hot_and_unit_weighted_path_equal_path() {
    let (_vs, net) = small(Kind::Float);
    let x = Tensor::randn([4, 3, 8, 8], (Kind::Float, Device::Cpu));
    for s in [BEST, DEAD_SOURCE, DEAD_TARGET, ALL_NONE] {
        let a = arch(s);
        let path = net.forward(&x, &EdgeMix::Path(a));
        // Soft mode computes every op (dead ones included), so this checks the pruning is exact.
        let soft = net.forward(&x, &EdgeMix::Soft(one_hot(&a)));
        assert!(max_diff(&path, &soft) < 1e-4, "{s}: {}", max_diff(&path, &soft));
        let ones = Tensor::ones([6], (Kind::Float, Device::Cpu));
        assert_eq!(max_diff(&path, &net.forward(&x, &EdgeMix::WeightedPath(a, ones))), 0.0);
    }
}

#[test]
fn weighted_path_scales_edges_and_passes_gradients() {
    let (_vs, net) = small(Kind::Float);
    let x = Tensor::randn([4, 3, 8, 8], (Kind::Float, Device::Cpu));
    let a = arch(BEST);
    let w = Tensor::ones([6], (Kind::Float, Device::Cpu)).set_requires_grad(true);
    let out = net.forward(&x, &EdgeMix::WeightedPath(a, &w * 1.0));
    out.sum(Kind::Float).backward();
    assert!(
        w.grad().abs().min().double_value(&[]) > 0.0,
        "every edge of BEST is live: {:?}",
        w.grad()
    );
    // Halving the weight on the only edge into node 1 changes the output.
    let half = Tensor::from_slice(&[0.5f32, 1., 1., 1., 1., 1.]);
    assert!(max_diff(&out, &net.forward(&x, &EdgeMix::WeightedPath(a, half))) > 1e-6);
}

#[test]
fn single_path_gradients_reach_exactly_path_params() {
    let x = Tensor::randn([4, 3, 8, 8], (Kind::Float, Device::Cpu));
    for s in [BEST, DEAD_SOURCE, DEAD_TARGET, ALL_NONE] {
        // A fresh supernet per arch: grads, once defined, stay defined.
        let (_vs, net) = small(Kind::Float);
        let a = arch(s);
        let params = net.params();
        net.forward(&x, &EdgeMix::Path(a)).sum(Kind::Float).backward();
        let on_path = net.path_param_indices(&a);
        for (i, p) in params.iter().enumerate() {
            assert_eq!(p.grad().defined(), on_path.contains(&i), "{s}: {}", net.param_names()[i]);
        }
    }
    // Worked out by hand: node 1 of DEAD_TARGET only feeds `none` edges; node 2 of DEAD_SOURCE has
    // no non-`none` input.
    let live = live_edges(&arch(DEAD_TARGET));
    assert_eq!(live, [false, true, false, true, false, true]);
    let live_dead_source = live_edges(&arch(DEAD_SOURCE));
    assert_eq!(live_dead_source, [true, false, false, true, true, false]);
}

#[test]
fn all_none_cells_give_input_independent_logits() {
    let (_vs, net) = small(Kind::Float);
    let x1 = Tensor::randn([4, 3, 8, 8], (Kind::Float, Device::Cpu));
    let x2 = Tensor::randn([4, 3, 8, 8], (Kind::Float, Device::Cpu)) * 3.0;
    let mix = EdgeMix::Path(arch(ALL_NONE));
    let (l1, l2) = (net.forward(&x1, &mix), net.forward(&x2, &mix));
    assert_eq!(l1.size(), [4, 3]);
    assert_eq!(max_diff(&l1, &l2), 0.0);
    // Every row is the same: nothing of the input survives the cells.
    assert_eq!(max_diff(&l1, &l1.get(0).unsqueeze(0).expand_as(&l1)), 0.0);
    l1.sum(Kind::Float).backward();
    let vs2 = VarStore::new(Device::Cpu);
    let st = Nb201Network::new(&vs2.root(), &arch(ALL_NONE), net.config()).unwrap();
    let (s1, s2) = (st.forward_t(&x1, true), st.forward_t(&x2, true));
    assert_eq!(max_diff(&s1, &s2), 0.0);
}

#[test]
fn inherited_network_reproduces_supernet_path_in_train_mode() {
    tch::manual_seed(3);
    let vs = VarStore::new(Device::Cpu);
    let cfg = Nb201NetConfig {
        channels: 8,
        cells_per_stage: 2,
        num_classes: 5,
        in_channels: 3,
        image_size: 16,
    };
    let sn = Nb201Supernet::new(&vs.root(), &cfg).unwrap();
    // Make the shared BN weights non-trivial so copying them matters.
    tch::no_grad(|| {
        for (p, name) in sn.params().iter().zip(sn.param_names()) {
            if name.contains("bn") || name.contains("lastact") {
                p.shallow_clone().copy_(&(Tensor::rand_like(p) + 0.5));
            }
        }
    });
    let x = Tensor::randn([8, 3, 16, 16], (Kind::Float, Device::Cpu));
    for s in [BEST, DEAD_SOURCE, DEAD_TARGET] {
        let a = arch(s);
        let vs2 = VarStore::new(Device::Cpu);
        let mut st = Nb201Network::new(&vs2.root(), &a, &cfg).unwrap();
        let before = max_diff(&st.forward_t(&x, true), &sn.forward(&x, &EdgeMix::Path(a)));
        st.inherit_from_supernet(&sn).unwrap();
        let after = max_diff(&st.forward_t(&x, true), &sn.forward(&x, &EdgeMix::Path(a)));
        assert!(before > 1e-2, "{s}: fresh nets should differ ({before})");
        assert!(after < 1e-4, "{s}: inherited logits differ by {after}");
    }
    // A different config is refused with an error, not a panic.
    let vs3 = VarStore::new(Device::Cpu);
    let other = Nb201NetConfig { channels: 4, ..cfg };
    let mut st = Nb201Network::new(&vs3.root(), &arch(BEST), &other).unwrap();
    assert!(matches!(st.inherit_from_supernet(&sn), Err(NnError::ConfigMismatch { .. })));
}

#[test]
fn bad_configs_and_mixes_are_errors() {
    let vs = VarStore::new(Device::Cpu);
    for (cfg, field) in [
        (Nb201NetConfig { image_size: 30, ..Default::default() }, "image_size"),
        (Nb201NetConfig { channels: 0, ..Default::default() }, "channels"),
        (Nb201NetConfig { num_classes: 0, ..Default::default() }, "num_classes"),
    ] {
        match Nb201Supernet::new(&vs.root(), &cfg) {
            Err(NnError::InvalidConfig { field: f, .. }) => assert_eq!(f, field),
            other => panic!("expected InvalidConfig({field}), got {:?}", other.err()),
        }
        assert!(Nb201Network::new(&vs.root(), &arch(BEST), &cfg).is_err());
    }
    let bad = EdgeMix::Soft(Tensor::zeros([6, 4], (Kind::Float, Device::Cpu)));
    assert!(matches!(bad.validate(), Err(NnError::BadMix(_))));
    let bad = EdgeMix::WeightedPath(arch(BEST), Tensor::zeros([5], (Kind::Float, Device::Cpu)));
    assert!(bad.validate().is_err());
    // Unknown config keys are rejected; missing ones take the defaults.
    assert!(serde_json::from_str::<Nb201NetConfig>(r#"{"channels": 16, "chanels": 8}"#).is_err());
    let c: Nb201NetConfig = serde_json::from_str(r#"{"num_classes": 100}"#).unwrap();
    assert_eq!(c, Nb201NetConfig { num_classes: 100, ..Default::default() });
    assert_eq!(Nb201Op::ALL.len(), 5);
}
