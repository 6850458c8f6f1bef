//! The DARTS-space networks checked against the original DARTS code.
//!
//! The numbers come from running the reference unmodified with torch 2.11 on CPU:
//! quark0/darts at commit f276dd346a09ae3160f8e3aca5c7b193fda1da37 (`cnn/model.py`,
//! `operations.py`, `genotypes.py`, `utils.py`, `model_search.py`), with the PDARTS genotype from
//! chenxin061/pdarts (b880e8733010403307fe6a9bf7f02612fbc424ca) and `DrNAS_cifar10` from
//! xiangning-chen/DrNAS (f2caa4dbdd96c1be29b56cb7ed47a74a184e6ef0):
//!
//! ```python
//! net = model.NetworkCIFAR(C, 10, layers, auxiliary, G)
//! no_aux = sum(p.numel() for n, p in net.named_parameters() if "auxiliary" not in n)
//! total  = sum(p.numel() for p in net.parameters())
//! print([(n, tuple(p.shape)) for n, p in net.named_parameters()])
//! s = model_search.Network(C, 10, layers, nn.CrossEntropyLoss())  # alphas are not parameters
//! print(sum(p.numel() for p in s.parameters()), len(list(s.parameters())))
//! ```
//! (`.cuda()` in `_initialize_alphas` was redirected to a no-op; a stub `torchvision` let
//! `utils.py` import.) The DARTS README gives "3.3M model params" for DARTS V2, the PDARTS paper
//! 3.4M.

use sotl_nn::darts::{darts_network_param_count, darts_supernet_param_count};
use sotl_nn::{DartsNetConfig, DartsNetwork, DartsSupernet, EdgeMix, Supernet};
use sotl_space::darts::{darts_edge_index, preset};
use sotl_space::{DartsGenotype, DartsOpSet, DartsSpace, SearchSpace};
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

fn cfg(channels: i64, layers: usize) -> DartsNetConfig {
    DartsNetConfig { channels, layers, ..DartsNetConfig::default() }
}

fn network(c: &DartsNetConfig, g: &DartsGenotype, aux: bool) -> (VarStore, DartsNetwork) {
    let vs = VarStore::new(Device::Cpu);
    let net = DartsNetwork::new(&vs.root(), c, g, aux).unwrap();
    (vs, net)
}

#[test]
fn evaluation_networks_have_the_published_sizes() {
    // (preset, NetworkCIFAR(36, 10, 20, True) weights without / with the auxiliary head).
    let rows = [
        ("darts-v1", 3_169_414, 3_645_840),
        ("darts-v2", 3_349_342, 3_825_768),
        ("pdarts", 3_433_798, 3_910_224),
        ("drnas", 4_099_294, 4_575_720),
    ];
    for (name, no_aux, total) in rows {
        let g = preset(name).unwrap();
        let (_vs, net) = network(&DartsNetConfig::evaluation(), &g, true);
        assert_eq!(net.param_count_without_auxiliary(), no_aux, "{name}");
        assert_eq!(net.param_count(), total, "{name}");
        assert_eq!(darts_network_param_count(&DartsNetConfig::evaluation(), &g), no_aux, "{name}");
    }
}

#[test]
fn small_networks_match_the_reference_counts_shapes_and_names() {
    let v2 = preset("darts-v2").unwrap();
    let (_vs, net) = network(&cfg(8, 5), &v2, true);
    assert_eq!((net.param_count_without_auxiliary(), net.param_count()), (37_018, 456_100));
    let pd = preset("pdarts").unwrap();
    let (_vs2, net2) = network(&cfg(8, 5), &pd, false);
    assert_eq!(net2.param_count(), 53_490);
    assert_eq!(darts_network_param_count(&cfg(8, 5), &pd), 53_490);

    // Reference names and shapes, NetworkCIFAR(8, 10, 5, False, DARTS_V2): the stem, cell 0
    // (normal), cell 1 (reduction: only max pools and identities, so only preprocessing), cell
    // 2's preprocessing (FactorizedReduce after a reduction) and the classifier.
    let sep = |cell: usize, k: usize, c: i64| -> Vec<(String, Vec<i64>)> {
        let p = format!("cells.{cell}._ops.{k}.op");
        vec![
            (format!("{p}.1.weight"), vec![c, 1, 3, 3]),
            (format!("{p}.2.weight"), vec![c, c, 1, 1]),
            (format!("{p}.3.weight"), vec![c]),
            (format!("{p}.3.bias"), vec![c]),
            (format!("{p}.5.weight"), vec![c, 1, 3, 3]),
            (format!("{p}.6.weight"), vec![c, c, 1, 1]),
            (format!("{p}.7.weight"), vec![c]),
            (format!("{p}.7.bias"), vec![c]),
        ]
    };
    let rcb = |p: &str, c_out: i64, c_in: i64| {
        vec![
            (format!("{p}.op.1.weight"), vec![c_out, c_in, 1, 1]),
            (format!("{p}.op.2.weight"), vec![c_out]),
            (format!("{p}.op.2.bias"), vec![c_out]),
        ]
    };
    let mut expect: Vec<(String, Vec<i64>)> = vec![
        ("stem.0.weight".into(), vec![24, 3, 3, 3]),
        ("stem.1.weight".into(), vec![24]),
        ("stem.1.bias".into(), vec![24]),
    ];
    expect.extend(rcb("cells.0.preprocess0", 8, 24));
    expect.extend(rcb("cells.0.preprocess1", 8, 24));
    for k in 0..5 {
        expect.extend(sep(0, k, 8));
    }
    expect.extend([
        ("cells.0._ops.7.op.1.weight".into(), vec![8, 1, 3, 3]),
        ("cells.0._ops.7.op.2.weight".into(), vec![8, 8, 1, 1]),
        ("cells.0._ops.7.op.3.weight".into(), vec![8]),
        ("cells.0._ops.7.op.3.bias".into(), vec![8]),
    ]);
    expect.extend(rcb("cells.1.preprocess0", 16, 24));
    expect.extend(rcb("cells.1.preprocess1", 16, 32));
    expect.extend([
        ("cells.2.preprocess0.conv_1.weight".into(), vec![8, 32, 1, 1]),
        ("cells.2.preprocess0.conv_2.weight".into(), vec![8, 32, 1, 1]),
        ("cells.2.preprocess0.bn.weight".into(), vec![16]),
        ("cells.2.preprocess0.bn.bias".into(), vec![16]),
    ]);
    expect.extend(rcb("cells.2.preprocess1", 16, 64));
    let (_vs3, plain) = network(&cfg(8, 5), &v2, false);
    let got: Vec<(String, Vec<i64>)> =
        plain.param_names().iter().cloned().zip(plain.params().iter().map(|t| t.size())).collect();
    assert_eq!(got[..expect.len()], expect[..]);
    let last = got.len();
    assert_eq!(got[last - 2], ("classifier.weight".to_string(), vec![10, 128]));
    assert_eq!(got[last - 1], ("classifier.bias".to_string(), vec![10]));

    // Eval mode has no auxiliary logits; train mode does.
    let x = Tensor::rand([2, 3, 32, 32], (Kind::Float, Device::Cpu));
    let (y, aux) = net.forward_t(&x, false, 0.0);
    assert_eq!((y.size(), aux.is_none()), (vec![2, 10], true));
    let (y, aux) = net.forward_t(&x, true, 0.2);
    assert_eq!((y.size(), aux.map(|a| a.size())), (vec![2, 10], Some(vec![2, 10])));
}

#[test]
fn search_networks_match_the_reference_counts() {
    // model_search.Network(C, 10, layers): (weights, weight tensors).
    for (c, layers, weights, tensors) in [(16, 8, 1_930_618, 1399), (4, 5, 136_182, 889)] {
        let vs = VarStore::new(Device::Cpu);
        let net = DartsSupernet::new(&vs.root(), &cfg(c, layers)).unwrap();
        assert_eq!((net.param_count(), net.weights().len()), (weights, tensors), "C={c}");
        assert_eq!(darts_supernet_param_count(&cfg(c, layers)), weights);
    }
    let s2 = DartsNetConfig { ops: DartsOpSet::S2, ..cfg(4, 5) };
    let vs = VarStore::new(Device::Cpu);
    let net = DartsSupernet::new(&vs.root(), &s2).unwrap();
    assert_eq!(net.param_count(), darts_supernet_param_count(&s2));
    assert!(DartsSupernet::new(&vs.root(), &cfg(5, 5)).is_err());
}

/// One-hot rows selecting `g`'s ops on its edges and `none` elsewhere (full op set).
fn one_hot(g: &DartsGenotype) -> Tensor {
    let n = 8;
    let mut w = vec![0f32; 28 * n];
    for (base, cell) in [(0, &g.normal), (14, &g.reduce)] {
        for e in 0..14 {
            w[(base + e) * n] = 1.0;
        }
        for node in 0..4 {
            for (op, j) in cell.node(node) {
                let row = base + darts_edge_index(node, j);
                w[row * n] = 0.0;
                w[row * n + DartsOpSet::Full.ops().iter().position(|&o| o == op).unwrap()] = 1.0;
            }
        }
    }
    Tensor::from_slice(&w).view([28, n as i64])
}

#[test]
fn a_path_is_the_soft_mix_of_its_one_hot_weights_and_trains_only_its_weights() {
    tch::manual_seed(0);
    let vs = VarStore::new(Device::Cpu);
    let net = DartsSupernet::new(&vs.root(), &cfg(4, 5)).unwrap();
    let space = DartsSpace::default();
    let g = space.sample(&mut <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(1));
    let x = Tensor::rand([4, 3, 16, 16], (Kind::Float, Device::Cpu));
    let path = net.forward_mix(&x, &EdgeMix::Path(g.clone()), true);
    let soft = net.forward_mix(&x, &EdgeMix::Soft(one_hot(&g)), true);
    assert!(path.allclose(&soft, 1e-5, 1e-5, false), "{path} {soft}");
    let with = net.forward_mix_with(&net.weights(), &x, &EdgeMix::Path(g.clone()));
    assert!(with.allclose(&path, 1e-6, 1e-6, false));
    let ones = Tensor::ones([28], (Kind::Float, Device::Cpu));
    let weighted = net.forward_mix(&x, &EdgeMix::WeightedPath(g.clone(), ones), true);
    assert!(weighted.allclose(&path, 1e-5, 1e-5, false));

    // Gradients of a path's loss reach exactly the path's weights.
    for w in net.weights() {
        let mut w = w;
        w.zero_grad();
    }
    net.forward_mix(&x, &EdgeMix::Path(g.clone()), true).square().sum(Kind::Float).backward();
    let used: std::collections::HashSet<usize> = net.path_weight_indices(&g).into_iter().collect();
    for (i, w) in net.weights().iter().enumerate() {
        let g_abs = {
            let gr = w.grad();
            if gr.defined() {
                gr.abs().sum(Kind::Float).double_value(&[])
            } else {
                0.0
            }
        };
        assert_eq!(g_abs > 0.0, used.contains(&i), "weight {}", net.weight_names()[i]);
    }
    // The Params baseline is the evaluation network's size at the supernet's config.
    assert_eq!(net.standalone_param_count(&g) as i64, darts_network_param_count(&cfg(4, 5), &g));
}

#[test]
fn sizes_the_networks_cannot_run_are_refused() {
    let vs = VarStore::new(Device::Cpu);
    let v2 = preset("darts-v2").unwrap();
    // FactorizedReduce needs even maps at both reductions.
    let odd = DartsNetConfig { image_size: 10, ..cfg(4, 5) };
    let e = DartsSupernet::new(&vs.root(), &odd).err().unwrap().to_string();
    assert!(e.contains("image_size") && e.contains("multiple of 4"), "{e}");
    // The auxiliary head pools 8- to 10-pixel maps to 2x2: 28- and 44-pixel images do not fit,
    // 32 and 40 do.
    for (side, ok) in [(28, false), (32, true), (40, true), (44, false)] {
        let c = DartsNetConfig { image_size: side, ..cfg(4, 5) };
        let r = DartsNetwork::new(&vs.root(), &c, &v2, true);
        assert_eq!(r.is_ok(), ok, "{side}");
        if ok {
            let x = Tensor::rand([2, 3, side, side], (Kind::Float, Device::Cpu));
            let (_, aux) = r.unwrap().forward_t(&x, true, 0.0);
            assert_eq!(aux.unwrap().size(), [2, 10]);
        }
        assert!(DartsNetwork::new(&vs.root(), &c, &v2, false).is_ok());
    }
    // A reduction cell concatenating its (full-size) inputs.
    let bad: DartsGenotype = v2
        .to_string()
        .replace("reduce_concat=range(2, 6)", "reduce_concat=range(1, 6)")
        .parse()
        .unwrap();
    let e = DartsNetwork::new(&vs.root(), &cfg(4, 5), &bad, false).err().unwrap().to_string();
    assert!(e.contains("reduce_concat"), "{e}");
}

#[test]
fn genotypes_outside_the_op_set_are_refused() {
    let vs = VarStore::new(Device::Cpu);
    let net = DartsSupernet::new(&vs.root(), &DartsNetConfig { ops: DartsOpSet::S2, ..cfg(4, 5) })
        .unwrap();
    let e = net.check_genotype(&preset("darts-v2").unwrap()).unwrap_err().to_string();
    assert!(e.contains("dil_conv_3x3") && e.contains("s2"), "{e}");
    let g =
        net.space().sample(&mut <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(2));
    assert!(net.check_genotype(&g).is_ok());
}

#[test]
fn drop_path_acts_in_train_mode_only() {
    tch::manual_seed(3);
    let (_vs, net) = network(&cfg(4, 3), &preset("pdarts").unwrap(), false);
    let x = Tensor::rand([8, 3, 16, 16], (Kind::Float, Device::Cpu));
    let run = |train, p| net.forward_t(&x, train, p).0;
    assert!(run(true, 0.0).allclose(&run(true, 0.0), 1e-6, 1e-6, false));
    assert!(!run(true, 0.5).allclose(&run(true, 0.5), 1e-3, 1e-3, false), "drop path draws masks");
    assert!(run(false, 0.5).allclose(&run(false, 0.0), 1e-6, 1e-6, false), "eval mode never drops");
}

#[test]
fn pruned_ops_are_skipped_and_skip_dropout_touches_only_identity_skips() {
    tch::manual_seed(3);
    let vs = VarStore::new(Device::Cpu);
    let net = DartsSupernet::new(&vs.root(), &cfg(4, 4)).unwrap();
    let x = Tensor::rand([2, 3, 16, 16], (Kind::Float, Device::Cpu));
    // Soft weights with columns 2 (avg_pool) and 5 (sep_conv_5x5) pruned to 0 on every edge.
    tch::manual_seed(4);
    let mut w = Tensor::rand([28, 8], (Kind::Float, Device::Cpu));
    let keep: Vec<bool> = (0..28 * 8).map(|i| i % 8 != 2 && i % 8 != 5).collect();
    let mask =
        Tensor::from_slice(&keep.iter().map(|&k| f32::from(u8::from(k))).collect::<Vec<_>>())
            .view([28, 8]);
    w = &w * &mask;
    let all = net.forward_mix(&x, &EdgeMix::Soft(w.shallow_clone()), false);
    net.set_active_ops(Some(&keep)).unwrap();
    let skipped = net.forward_mix(&x, &EdgeMix::Soft(w.shallow_clone()), false);
    assert!(
        all.allclose(&skipped, 1e-6, 1e-6, false),
        "skipping zero-weight ops changed the output"
    );
    assert!(net.set_active_ops(Some(&keep[..10])).is_err());
    net.set_active_ops(None).unwrap();

    // Skip dropout: evaluation ignores it; a training pass with weight on skip_connect (column
    // 3) changes; with no weight on skip_connect, the dropped skips contribute nothing anyway.
    net.set_skip_dropout(0.5).unwrap();
    let eval = net.forward_mix(&x, &EdgeMix::Soft(w.shallow_clone()), false);
    assert!(eval.allclose(&all, 1e-6, 1e-6, false));
    let train = |w: &Tensor, p: f64| {
        net.set_skip_dropout(p).unwrap();
        tch::manual_seed(9);
        net.forward_mix(&x, &EdgeMix::Soft(w.shallow_clone()), true)
    };
    assert!(!train(&w, 0.5).allclose(&train(&w, 0.0), 1e-4, 1e-4, false));
    let no_skip = &w * Tensor::from_slice(&[1f32, 1., 1., 0., 1., 1., 1., 1.]).view([1, 8]);
    assert!(train(&no_skip, 0.5).allclose(&train(&no_skip, 0.0), 1e-6, 1e-6, false));
    assert!(net.set_skip_dropout(1.0).is_err() && net.set_skip_dropout(-0.1).is_err());
}
