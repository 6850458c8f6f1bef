//! Every differentiable method on the DARTS space's search network (Zela et al.'s S2 and S3 and
//! the full op set), on random data at toy size, with a checkpoint resume between epochs: the
//! space plugs into the same search driver as NAS-Bench-201.

use sotl_nn::{DartsNetConfig, DartsSupernet, Supernet};
use sotl_search::{DartsConfig, DartsMethod, DartsSearch, SearchSplits};
use sotl_space::{CellShape, DartsOp, DartsOpSet, SearchSpace};
use sotl_train::TensorBatches;
use tch::{Device, Kind, Tensor};

fn source(seed: i64, n: i64) -> TensorBatches {
    tch::manual_seed(seed);
    let x = Tensor::randn([n, 3, 8, 8], (Kind::Float, Device::Cpu));
    let y = Tensor::randint(3, [n], (Kind::Int64, Device::Cpu));
    TensorBatches::new(x, y, 4).unwrap().shuffled(seed as u64).drop_last(true).unwrap()
}

fn net(ops: DartsOpSet) -> DartsNetConfig {
    DartsNetConfig { channels: 4, layers: 3, num_classes: 3, in_channels: 3, image_size: 8, ops }
}

#[test]
fn every_differentiable_method_searches_the_darts_space() {
    tch::set_num_threads(1);
    let cfg = DartsConfig {
        epochs: 2,
        batch_size: 4,
        unroll_steps: 2,
        eigen_every: 1,
        eigen_batches: 1,
        drnas_partial_channels: vec![1],
        ..DartsConfig::default()
    };
    let dir = tempfile::tempdir().unwrap();
    for (ops, method) in [
        (DartsOpSet::S2, DartsMethod::Darts1),
        (DartsOpSet::S2, DartsMethod::Sotl),
        (DartsOpSet::S2, DartsMethod::Darts2),
        (DartsOpSet::Full, DartsMethod::Drnas),
        (DartsOpSet::S3, DartsMethod::Sovl),
    ] {
        let n = net(ops);
        let (mut tr, mut va) = (source(1, 16), source(2, 8));
        let mut data = SearchSplits { train: &mut tr, val: Some(&mut va) };
        let mut s =
            DartsSearch::<DartsSupernet>::new(method, &cfg, &n, 5, Device::Cpu, Kind::Float)
                .unwrap();
        assert_eq!(s.alpha().size(), [28, ops.ops().len() as i64], "{method}");
        s.run_epoch(&mut data, &mut |_| {}).unwrap();
        let ck = dir.path().join(format!("{method}-{ops}.ckpt"));
        s.save(&ck).unwrap();
        let mut s = DartsSearch::<DartsSupernet>::resume(
            &ck,
            method,
            &cfg,
            &n,
            5,
            Device::Cpu,
            Kind::Float,
        )
        .unwrap();
        s.run_epoch(&mut data, &mut |_| {}).unwrap();
        let out = s.outcome().unwrap();
        assert_eq!(out.trajectory.len(), 2);
        for p in &out.trajectory {
            assert_eq!(p.op_weights.len(), 28);
            assert!(p.op_weights.iter().all(|r| r.len() == ops.ops().len()));
            assert_eq!(p.skip_connections, p.genotype.normal.count(DartsOp::SkipConnect));
            assert!(p.eigenvalue.is_some_and(f64::is_finite), "{method}");
        }
        let g = out.genotype;
        assert!(g.ops().all(|o| ops.cell_ops().contains(&o)), "{method}: {g}");
        assert!(g.depth() >= 1 && g.depth() <= 4);
        // The found cell pastes back in.
        assert_eq!(g.to_string().parse::<sotl_space::DartsGenotype>().unwrap(), g);
        assert_eq!(
            s.supernet()
                .space()
                .discretize(&vec![0.0; 28 * ops.ops().len()])
                .unwrap()
                .normal
                .edges
                .len(),
            8
        );
    }
}

#[test]
fn run_configs_name_darts_space_settings_that_cannot_apply() {
    use sotl_search::{DartsRunConfig, SpaceChoice};
    let s2 = DartsRunConfig { space: "darts-s2".parse().unwrap(), ..DartsRunConfig::default() };
    s2.validate().unwrap();
    // The op set is the space's: `[darts_net]` holds sizes only.
    let e = toml::from_str::<DartsRunConfig>("[darts_net]\nops = \"s2\"\n").unwrap_err();
    assert!(e.to_string().contains("unknown field"), "{e}");
    let drnas = DartsRunConfig { methods: vec![DartsMethod::Drnas], ..s2 };
    let e = drnas.validate().unwrap_err().to_string();
    assert!(e.contains("drnas_progressive_keep"), "{e}");
    assert_eq!("darts-s3".parse::<SpaceChoice>().unwrap().to_string(), "darts-s3");
    assert!("darts-full".parse::<SpaceChoice>().is_err());
}

/// The 0/1 op mask a stage checkpoint holds, as rows of kept column indices.
fn kept(
    ck: &std::path::Path,
    method: DartsMethod,
    cfg: &DartsConfig,
    n: &DartsNetConfig,
) -> Vec<Vec<usize>> {
    let s = DartsSearch::<DartsSupernet>::resume(ck, method, cfg, n, 3, Device::Cpu, Kind::Float)
        .unwrap();
    let m = s.op_mask().expect("a later stage starts from the kept ops");
    let flat = Vec::<f64>::try_from(m.reshape([-1])).unwrap();
    flat.chunks(8).map(|r| (0..8).filter(|&k| r[k] > 0.0).collect()).collect()
}

#[test]
fn pdarts_prunes_between_deepening_stages_and_resumes() {
    use sotl_search::{run_pdarts, PdartsConfig};
    tch::set_num_threads(1);
    let cfg = DartsConfig {
        epochs: 2,
        batch_size: 4,
        unroll_steps: 2,
        eigen_every: 0,
        arch_warmup_epochs: 1,
        arch_grad_clip: 5.0,
        ..DartsConfig::default()
    };
    let pd = PdartsConfig {
        add_layers: vec![0, 1, 2],
        keep_ops: vec![5, 3],
        skip_dropout: vec![0.1, 0.4, 0.7],
        max_skips: 1,
    };
    let base = net(DartsOpSet::Full);
    let dir = tempfile::tempdir().unwrap();
    for method in [DartsMethod::Pdarts, DartsMethod::SotlPdarts] {
        let d = dir.path().join(method.name());
        std::fs::create_dir_all(&d).unwrap();
        let run = || {
            let (mut tr, mut va) = (source(1, 16), source(2, 8));
            let mut data = SearchSplits { train: &mut tr, val: Some(&mut va) };
            let mut stages = Vec::new();
            let out = run_pdarts(
                method,
                &cfg,
                &pd,
                &base,
                3,
                Device::Cpu,
                &mut data,
                Some(&d),
                &mut |stage, _| stages.push(stage),
                &mut |_| {},
            )
            .unwrap();
            (out, stages)
        };
        let (out, stages) = run();
        assert_eq!(stages, [0, 0, 1, 1, 2, 2], "{method}: two epochs per stage");
        assert_eq!(
            out.trajectory.iter().map(|p| p.epoch).collect::<Vec<_>>(),
            [1, 2, 3, 4, 5, 6],
            "{method}: epochs numbered across stages"
        );
        // Stage 2 (4 cells) keeps 5 ops per edge, stage 3 (5 cells) 3 of those 5.
        let n2 = DartsNetConfig { layers: 4, ..base };
        let n3 = DartsNetConfig { layers: 5, ..base };
        let k2 = kept(&d.join("stage1.ckpt"), method, &cfg, &n2);
        let k3 = kept(&d.join("stage2.ckpt"), method, &cfg, &n3);
        assert_eq!(k2.len(), 28);
        for (a, b) in k2.iter().zip(&k3) {
            assert_eq!((a.len(), b.len()), (5, 3), "{method}");
            assert!(b.iter().all(|k| a.contains(k)), "{method}: stage 3 keeps ops of stage 2");
        }
        // The final cell uses kept ops only, and at most one skip in the normal cell.
        let g = &out.genotype;
        let ops = DartsOpSet::Full.ops();
        for (cell, row0) in [(&g.normal, 0), (&g.reduce, 14)] {
            for (k, &(op, j)) in cell.edges.iter().enumerate() {
                let row = row0 + sotl_space::darts::darts_edge_index(k / 2, j);
                let col = ops.iter().position(|&o| o == op).unwrap();
                assert!(k3[row].contains(&col), "{method}: {op} on row {row} was pruned: {g}");
            }
        }
        assert!(g.normal.count(DartsOp::SkipConnect) <= 1, "{method}: {g}");
        // Finished stages are read back: the same outcome without training again.
        let (again, stages) = run();
        assert!(stages.is_empty(), "{method}: nothing to train");
        assert_eq!(again.genotype, out.genotype);
        // A lost last stage retrains to the same genotype: dropout and all draws are seeded.
        std::fs::remove_file(d.join("stage2.ckpt")).unwrap();
        let (redo, stages) = run();
        assert_eq!(stages, [2, 2]);
        assert_eq!(redo.genotype, out.genotype, "{method}");
    }
}

#[test]
fn arch_grad_clip_bounds_the_alpha_gradient() {
    tch::set_num_threads(1);
    // Adam's step is about lr * g / (|g| + 1e-8): a gradient clipped to a norm of 1e-12 moves
    // alpha by about 1e-4 of the unclipped step.
    let moved = |clip: f64| {
        let cfg = DartsConfig {
            epochs: 1,
            batch_size: 4,
            eigen_every: 0,
            arch_grad_clip: clip,
            // Adam adds the decay after clipping; without it the step is the gradient's alone.
            arch_weight_decay: 0.0,
            ..DartsConfig::default()
        };
        let n = net(DartsOpSet::S2);
        let (mut tr, mut va) = (source(1, 16), source(2, 8));
        let mut data = SearchSplits { train: &mut tr, val: Some(&mut va) };
        let mut s = DartsSearch::<DartsSupernet>::new(
            DartsMethod::Darts1,
            &cfg,
            &n,
            5,
            Device::Cpu,
            Kind::Float,
        )
        .unwrap();
        let before = s.alpha().copy();
        s.run_epoch(&mut data, &mut |_| {}).unwrap();
        (s.alpha() - before).abs().max().double_value(&[])
    };
    let (free, clipped) = (moved(0.0), moved(1e-12));
    assert!(free > 1e-4, "{free}");
    assert!(clipped < free * 1e-2, "clipped {clipped} vs free {free}");
    let bad = DartsConfig { arch_grad_clip: -1.0, ..DartsConfig::default() };
    assert!(bad.validate().unwrap_err().to_string().contains("arch_grad_clip"));
}

#[test]
fn accumulation_over_copies_of_a_micro_batch_equals_a_step_on_it() {
    // A minibatch made of two copies of the same four images, run as two micro-batches, has
    // the gradient of those four images alone (each micro-batch sees the same batch-norm
    // statistics), so both searches must take identical steps.
    tch::set_num_threads(1);
    tch::manual_seed(21);
    let x = Tensor::randn([16, 3, 8, 8], (Kind::Float, Device::Cpu));
    let y = Tensor::randint(3, [16], (Kind::Int64, Device::Cpu));
    let doubled = |t: &Tensor| {
        let parts: Vec<Tensor> = t.chunk(4, 0).into_iter().flat_map(|c| [c.copy(), c]).collect();
        Tensor::cat(&parts, 0)
    };
    let n = net(DartsOpSet::S2);
    for method in [DartsMethod::Darts1, DartsMethod::Sotl] {
        let run = |x: &Tensor, y: &Tensor, batch_size: usize, accumulate: usize| {
            let cfg = DartsConfig {
                epochs: 1,
                batch_size,
                accumulate,
                unroll_steps: 2,
                eigen_every: 0,
                ..DartsConfig::default()
            };
            let mut tr = TensorBatches::new(x.copy(), y.copy(), batch_size).unwrap();
            let mut va = TensorBatches::new(x.copy(), y.copy(), batch_size).unwrap();
            let mut data = SearchSplits { train: &mut tr, val: Some(&mut va) };
            let mut s =
                DartsSearch::<DartsSupernet>::new(method, &cfg, &n, 7, Device::Cpu, Kind::Float)
                    .unwrap();
            let rep = s.run_epoch(&mut data, &mut |_| {}).unwrap();
            (s.alpha().copy(), s.supernet().weights(), rep.point.train_loss)
        };
        let (a1, w1, l1) = run(&x, &y, 4, 1);
        let (a2, w2, l2) = run(&doubled(&x), &doubled(&y), 8, 2);
        assert!(a1.allclose(&a2, 1e-5, 1e-6, false), "{method}: alpha {a1} vs {a2}");
        for (p, q) in w1.iter().zip(&w2) {
            assert!(p.allclose(q, 1e-4, 1e-5, false), "{method}: weights differ");
        }
        assert!((l1 - l2).abs() < 1e-5, "{method}: {l1} vs {l2}");
        // On distinct images the micro-batches' statistics differ from the whole minibatch's:
        // accumulation is in force, not silently ignored.
        let (a3, _, _) = run(&x, &y, 8, 1);
        let (a4, _, _) = run(&x, &y, 8, 2);
        assert!(!a3.allclose(&a4, 1e-6, 1e-7, false), "{method}: accumulate = 2 changed nothing");
    }
    // Methods that differentiate through a whole step refuse it.
    let cfg = DartsConfig { accumulate: 2, batch_size: 4, ..DartsConfig::default() };
    let e = DartsSearch::<DartsSupernet>::new(
        DartsMethod::Darts2,
        &cfg,
        &n,
        7,
        Device::Cpu,
        Kind::Float,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("accumulate"), "{e}");
    let e = DartsConfig { accumulate: 5, batch_size: 4, ..DartsConfig::default() }
        .validate()
        .unwrap_err()
        .to_string();
    assert!(e.contains("accumulate"), "{e}");
}
