//! Runs on the DARTS space whose results are compared across runs (PDARTS' stages and resume,
//! gradient accumulation, alpha clipping). libtorch's generator is process-wide, so each test
//! holds the generator lock throughout, apart from the tests of other binaries.

use sotl_nn::{DartsNetConfig, DartsSupernet, Supernet};
use sotl_search::{DartsConfig, DartsMethod, DartsSearch, SearchSplits};
use sotl_space::{DartsOp, DartsOpSet};
use sotl_train::TensorBatches;
use tch::{Device, Kind, Tensor};

mod darts_common;
use darts_common::{net, source};

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
    let _rng = sotl_train::torch_rng_lock();
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
        if method == DartsMethod::SotlPdarts {
            // The resume paths are the same for both; one method's reruns cover them.
            continue;
        }
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
    let _rng = sotl_train::torch_rng_lock();
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
    let _rng = sotl_train::torch_rng_lock();
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

#[test]
fn pdarts_skip_dropout_is_in_force_and_a_mid_stage_resume_changes_nothing() {
    let _rng = sotl_train::torch_rng_lock();
    use sotl_search::{run_pdarts, PdartsConfig, SearchOutcome};
    use sotl_space::DartsGenotype;
    tch::set_num_threads(1);
    let cfg = DartsConfig {
        epochs: 2,
        batch_size: 4,
        eigen_every: 1,
        eigen_batches: 1,
        arch_warmup_epochs: 1,
        ..DartsConfig::default()
    };
    let base = net(DartsOpSet::Full);
    let pd = |rate: f64| PdartsConfig {
        add_layers: vec![0, 1],
        keep_ops: vec![4],
        skip_dropout: vec![rate, rate],
        max_skips: 2,
    };
    let run = |pd: &PdartsConfig, dir: &std::path::Path, stop_at: Option<(usize, usize)>| {
        let (mut tr, mut va) = (source(1, 16), source(2, 8));
        let mut data = SearchSplits { train: &mut tr, val: Some(&mut va) };
        let mut seen = 0;
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            run_pdarts(
                DartsMethod::Pdarts,
                &cfg,
                pd,
                &base,
                4,
                Device::Cpu,
                &mut data,
                Some(dir),
                &mut |stage, _| {
                    seen += 1;
                    // A kill right after an epoch's checkpoint.
                    if stop_at == Some((stage, seen)) {
                        panic!("killed");
                    }
                },
                &mut |_| {},
            )
            .unwrap()
        }))
        .ok()
    };
    let losses = |o: &SearchOutcome<DartsGenotype>| -> Vec<f64> {
        o.trajectory.iter().map(|p| p.train_loss).collect()
    };
    let dirs: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let whole = run(&pd(0.5), dirs[0].path(), None).unwrap();
    // Killed after the first epoch of stage 2 (the third epoch in all), then resumed there.
    assert!(run(&pd(0.5), dirs[1].path(), Some((1, 3))).is_none());
    let resumed = run(&pd(0.5), dirs[1].path(), None).unwrap();
    assert_eq!(resumed.genotype, whole.genotype);
    assert_eq!(losses(&resumed), losses(&whole), "the resumed epoch ran at the same dropout");
    // The eigenvalue is measured without the dropout mask: deterministic, and finite.
    assert!(whole.trajectory.iter().all(|p| p.eigenvalue.is_some_and(f64::is_finite)));
    // Without dropout the same search trains differently from its first epoch on.
    let plain = run(&pd(0.0), dirs[2].path(), None).unwrap();
    assert_ne!(losses(&plain)[0], losses(&whole)[0], "skip dropout had no effect");
}
