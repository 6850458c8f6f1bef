//! The differentiable search driver on a tiny supernet and random data: SoTL-DARTS' weight
//! restore, resuming, the skip-collapse warning, and every method running an epoch.

use sotl_nn::Nb201NetConfig;
use sotl_search::{
    DartsConfig, DartsMethod, DartsSearch, DrnasRegularizer, Nb201DartsSearch, SearchSplits,
};
use sotl_space::{Nb201Arch, Nb201Op};
use sotl_train::{Batch, BatchSource, TensorBatches};
use tch::{Device, Kind, Tensor};

/// The searches draw from libtorch's process-wide generator (weight init, Dirichlet samples), so
/// tests that compare two runs bit for bit must not interleave with each other.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn net() -> Nb201NetConfig {
    Nb201NetConfig {
        channels: 4,
        cells_per_stage: 1,
        num_classes: 3,
        in_channels: 3,
        image_size: 8,
    }
}

fn cfg() -> DartsConfig {
    DartsConfig {
        epochs: 3,
        batch_size: 4,
        unroll_steps: 4,
        arch_lr: 0.05,
        eigen_every: 0,
        ..DartsConfig::default()
    }
}

fn source(seed: i64, n: i64) -> TensorBatches {
    tch::manual_seed(seed);
    let x = Tensor::randn([n, 3, 8, 8], (Kind::Double, Device::Cpu));
    let y = Tensor::randint(3, [n], (Kind::Int64, Device::Cpu));
    TensorBatches::new(x, y, 4).unwrap().shuffled(seed as u64).drop_last(true).unwrap()
}

fn weights_of(s: &DartsSearch) -> Vec<Tensor> {
    s.supernet().params().iter().map(|t| t.detach().copy()).collect()
}

fn max_diff(a: &[Tensor], b: &[Tensor]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs().max().double_value(&[])).fold(0.0, f64::max)
}

/// Plain weight training on `batches` with the search's current alpha.
fn plain(s: &mut DartsSearch, batches: &[Batch]) {
    s.train_weights(batches).unwrap();
}

#[test]
fn sotl_step3_equals_plain_training_with_the_new_alpha_on_the_same_batches() {
    let _serial = serial();
    // One intra-op thread: tiny tensors, and the suite shares two cores.
    tch::set_num_threads(1);
    for restore_optimizer in [true, false] {
        let c = DartsConfig { sotl_restore_optimizer: restore_optimizer, epochs: 1, ..cfg() };
        let mut train = source(1, 16); // 4 batches = one window of T = 4
        let batches: Vec<Batch> = (0..4).map(|i| train.batch(0, i).unwrap()).collect();
        let mut s =
            Nb201DartsSearch::new(DartsMethod::Sotl, &c, &net(), 7, Device::Cpu, Kind::Double)
                .unwrap();
        let alpha_before = s.alpha().copy();
        s.run_epoch(&mut SearchSplits { train: &mut train, val: None }, &mut |_| {}).unwrap();
        let alpha_new = s.alpha().copy();
        assert!(
            (&alpha_new - &alpha_before).abs().max().double_value(&[]) > 1e-3,
            "alpha did not move"
        );
        let after = weights_of(&s);

        // Reference: same seed (same initial weights and alpha), plain steps only.
        let mut r =
            Nb201DartsSearch::new(DartsMethod::Sotl, &c, &net(), 7, Device::Cpu, Kind::Double)
                .unwrap();
        let w0 = r.snapshot_weights();
        if !restore_optimizer {
            // Appendix A keeps the momentum built during step 1: replay step 1 as plain training
            // with the old alpha (its weight updates do not depend on alpha's gradient).
            plain(&mut r, &batches);
            r.restore_weights(&w0).unwrap();
        }
        r.set_alpha(&alpha_new).unwrap();
        plain(&mut r, &batches);
        let d = max_diff(&after, &weights_of(&r));
        assert!(d < 1e-12, "restore_optimizer={restore_optimizer}: step-3 weights differ by {d}");

        // Not restoring would have continued from step 1's weights instead: clearly different.
        let mut cont =
            Nb201DartsSearch::new(DartsMethod::Sotl, &c, &net(), 7, Device::Cpu, Kind::Double)
                .unwrap();
        plain(&mut cont, &batches);
        cont.set_alpha(&alpha_new).unwrap();
        plain(&mut cont, &batches);
        assert!(max_diff(&after, &weights_of(&cont)) > 1e-4);
    }
}

#[test]
fn resumed_search_continues_exactly_with_the_saved_alpha() {
    let _serial = serial();
    // One intra-op thread: tiny tensors, and the suite shares two cores.
    tch::set_num_threads(1);
    let dir = tempfile::tempdir().unwrap();
    let ck = dir.path().join("search.ckpt");
    let c = DartsConfig { epochs: 2, ..cfg() };
    for method in [DartsMethod::Darts1, DartsMethod::SotlDrnas] {
        let (mut tr, mut va) = (source(1, 16), source(2, 16));
        let mut full =
            Nb201DartsSearch::new(method, &c, &net(), 5, Device::Cpu, Kind::Double).unwrap();
        full.run_epoch(&mut SearchSplits { train: &mut tr, val: Some(&mut va) }, &mut |_| {})
            .unwrap();
        full.save(&ck).unwrap();
        let saved_alpha = full.alpha().copy();
        full.run_epoch(&mut SearchSplits { train: &mut tr, val: Some(&mut va) }, &mut |_| {})
            .unwrap();

        let (mut tr2, mut va2) = (source(1, 16), source(2, 16));
        let mut resumed =
            Nb201DartsSearch::resume(&ck, method, &c, &net(), 5, Device::Cpu, Kind::Double)
                .unwrap();
        assert_eq!(resumed.epoch(), 1);
        assert!((resumed.alpha() - &saved_alpha).abs().max().double_value(&[]) == 0.0);
        resumed
            .run_epoch(&mut SearchSplits { train: &mut tr2, val: Some(&mut va2) }, &mut |_| {})
            .unwrap();
        assert!(resumed.is_done());
        assert_eq!(
            (resumed.alpha() - full.alpha()).abs().max().double_value(&[]),
            0.0,
            "{method}: alpha diverged"
        );
        assert_eq!(
            max_diff(&weights_of(&resumed), &weights_of(&full)),
            0.0,
            "{method}: weights diverged"
        );
        assert_eq!(resumed.trajectory().len(), 2);

        // A checkpoint of another run is refused.
        assert!(Nb201DartsSearch::resume(&ck, method, &c, &net(), 6, Device::Cpu, Kind::Double)
            .is_err());
        let other = DartsConfig { arch_lr: 0.01, ..c.clone() };
        assert!(Nb201DartsSearch::resume(
            &ck,
            method,
            &other,
            &net(),
            5,
            Device::Cpu,
            Kind::Double
        )
        .is_err());
    }
    std::fs::write(&ck, b"garbage").unwrap();
    let e = Nb201DartsSearch::resume(
        &ck,
        DartsMethod::Darts1,
        &c,
        &net(),
        5,
        Device::Cpu,
        Kind::Double,
    )
    .unwrap_err();
    assert!(e.to_string().contains("checkpoint"), "{e}");
}

#[test]
fn skip_collapse_is_reported_from_four_skips() {
    let _serial = serial();
    // One intra-op thread: tiny tensors, and the suite shares two cores.
    tch::set_num_threads(1);
    // Alpha fixed (arch_lr 0) with skip_connect winning on 4 edges, then on 3.
    let c = DartsConfig { arch_lr: 0.0, arch_weight_decay: 0.0, epochs: 2, ..cfg() };
    let mut s =
        Nb201DartsSearch::new(DartsMethod::Darts1, &c, &net(), 1, Device::Cpu, Kind::Double)
            .unwrap();
    let mut a = vec![0.0f64; 30];
    for e in 0..6 {
        let op = if e < 4 { Nb201Op::SkipConnect } else { Nb201Op::NorConv3x3 };
        a[e * 5 + op.index()] = 2.0;
    }
    s.set_alpha(&Tensor::from_slice(&a).view([6, 5])).unwrap();
    let (mut tr, mut va) = (source(1, 8), source(2, 8));
    let rep =
        s.run_epoch(&mut SearchSplits { train: &mut tr, val: Some(&mut va) }, &mut |_| {}).unwrap();
    let w = rep.collapse.expect("4 of 6 skips must warn");
    assert_eq!(w.skips, 4);
    assert_eq!(rep.point.skip_connections, 4);
    a[3 * 5 + Nb201Op::SkipConnect.index()] = 0.0;
    a[3 * 5 + Nb201Op::AvgPool3x3.index()] = 2.0;
    s.set_alpha(&Tensor::from_slice(&a).view([6, 5])).unwrap();
    let rep =
        s.run_epoch(&mut SearchSplits { train: &mut tr, val: Some(&mut va) }, &mut |_| {}).unwrap();
    assert!(rep.collapse.is_none());
    let g: Nb201Arch = s.genotype().unwrap();
    assert_eq!(g.count(Nb201Op::SkipConnect), 3);
}

#[test]
fn every_method_runs_an_epoch_and_measures_a_finite_eigenvalue() {
    let _serial = serial();
    // One intra-op thread: tiny tensors, and the suite shares two cores.
    tch::set_num_threads(1);
    let c = DartsConfig { epochs: 1, eigen_every: 1, eigen_batches: 1, ..cfg() };
    for method in DartsMethod::ALL {
        let (mut tr, mut va) = (source(3, 8), source(4, 8));
        let c = if method == DartsMethod::SotlExact {
            DartsConfig { unroll_steps: 2, ..c.clone() }
        } else {
            c.clone()
        };
        let mut s = Nb201DartsSearch::new(method, &c, &net(), 2, Device::Cpu, Kind::Float).unwrap();
        let before = s.alpha().copy();
        let val: Option<&mut dyn BatchSource> =
            if method.uses_validation() { Some(&mut va) } else { None };
        let rep = s.run_epoch(&mut SearchSplits { train: &mut tr, val }, &mut |_| {}).unwrap();
        assert!(rep.point.train_loss.is_finite(), "{method}");
        assert!(rep.point.eigenvalue.is_some_and(f64::is_finite), "{method}");
        assert!(
            (s.alpha() - before).abs().max().double_value(&[]) > 0.0,
            "{method}: alpha unchanged"
        );
        // Its one epoch has run: another is refused for that reason.
        let err =
            s.run_epoch(&mut SearchSplits { train: &mut tr, val: None }, &mut |_| {}).unwrap_err();
        assert!(err.to_string().contains("already run"), "{method}: {err}");
    }
    // A method that needs validation data refuses to run without it, saying so.
    let mut s = Nb201DartsSearch::new(DartsMethod::Darts1, &c, &net(), 2, Device::Cpu, Kind::Float)
        .unwrap();
    let mut tr = source(3, 8);
    let err =
        s.run_epoch(&mut SearchSplits { train: &mut tr, val: None }, &mut |_| {}).unwrap_err();
    assert!(err.to_string().contains("validation split"), "{err}");
}

#[test]
fn sotl_drnas_applies_the_kl_prior_to_alpha() {
    let _serial = serial();
    tch::set_num_threads(1);
    // At alpha = 1 every concentration is elu(1) + 1 = 2, and the KL to Dir(1) has, per entry,
    // dKL/dbeta = (beta - 1) psi'(beta) - (5 beta - 5) psi'(5 beta) = psi'(2) - 5 psi'(10)
    // = 0.64493 - 0.52583 = 0.1191 > 0 (elu' = 1 there). Scaled by 1e3 it outweighs the data
    // gradient, so the one architecture step of this epoch (16 images, batch 4, T = 4) must lower
    // every entry, by Adam's first-step size lr = 0.05.
    let c =
        DartsConfig { epochs: 1, drnas_reg: DrnasRegularizer::Kl, drnas_kl_scale: 1e3, ..cfg() };
    let mut s =
        Nb201DartsSearch::new(DartsMethod::SotlDrnas, &c, &net(), 5, Device::Cpu, Kind::Double)
            .unwrap();
    let start = Tensor::ones([6, 5], (Kind::Double, Device::Cpu));
    s.set_alpha(&start).unwrap();
    let (mut tr, mut va) = (source(1, 16), source(2, 16));
    s.run_epoch(&mut SearchSplits { train: &mut tr, val: Some(&mut va) }, &mut |_| {}).unwrap();
    let moved = s.alpha() - &start;
    let (lo, hi) = (moved.min().double_value(&[]), moved.max().double_value(&[]));
    assert!(hi < 0.0, "an entry rose by {hi}: the KL prior did not reach alpha");
    assert!(
        (lo + 0.05).abs() < 1e-3 && (hi + 0.05).abs() < 1e-3,
        "steps {lo}..{hi}, expected -0.05"
    );
}

#[test]
fn drnas_warms_up_each_stage_then_prunes_to_the_top_ops_and_resumes_with_the_mask() {
    let _serial = serial();
    tch::set_num_threads(1);
    let dir = tempfile::tempdir().unwrap();
    let ck = dir.path().join("search.ckpt");
    // 4 epochs = stages [0, 2) and [2, 4); warm-up round(2 * 0.5) = 1 epoch at the start of each.
    let c =
        DartsConfig { epochs: 4, drnas_progressive_keep: 2, drnas_warmup_fraction: 0.5, ..cfg() };
    assert_eq!(c.drnas_stages(), [(0, 2), (2, 4)]);
    let diff = |a: &Tensor, b: &Tensor| (a - b).abs().max().double_value(&[]);
    let (mut tr, mut va) = (source(1, 16), source(2, 16));
    let mut s = Nb201DartsSearch::new(DartsMethod::Drnas, &c, &net(), 3, Device::Cpu, Kind::Double)
        .unwrap();
    let mut epoch = |s: &mut DartsSearch| {
        let before = s.alpha().copy();
        s.run_epoch(&mut SearchSplits { train: &mut tr, val: Some(&mut va) }, &mut |_| {}).unwrap();
        diff(s.alpha(), &before)
    };
    assert_eq!(epoch(&mut s), 0.0, "epoch 1 is a warm-up epoch: alpha must not move");
    assert!(s.op_mask().is_none());
    assert!(epoch(&mut s) > 0.0, "epoch 2 updates alpha");
    let at_boundary = s.alpha().copy();
    assert_eq!(epoch(&mut s), 0.0, "epoch 3 warms up the second stage");
    // Pruned on entering stage 2: the two largest alphas of every edge at that moment.
    let mask = s.op_mask().expect("stage 2 prunes").copy();
    let m = Vec::<f64>::try_from(mask.reshape([-1])).unwrap();
    let a = Vec::<f64>::try_from(at_boundary.reshape([-1])).unwrap();
    for (mr, ar) in m.chunks(5).zip(a.chunks(5)) {
        assert_eq!(mr.iter().sum::<f64>(), 2.0);
        let lowest_kept = (0..5).filter(|&k| mr[k] == 1.0).map(|k| ar[k]).fold(f64::MAX, f64::min);
        let highest_pruned =
            (0..5).filter(|&k| mr[k] == 0.0).map(|k| ar[k]).fold(f64::MIN, f64::max);
        assert!(lowest_kept >= highest_pruned, "{ar:?} {mr:?}");
    }
    s.save(&ck).unwrap();
    assert!(epoch(&mut s) > 0.0, "epoch 4 updates alpha");
    // The genotype uses kept ops only.
    let g = s.genotype().unwrap();
    for (e, op) in g.ops.iter().enumerate() {
        assert_eq!(m[e * 5 + op.index()], 1.0, "edge {e} chose pruned {op:?}");
    }
    // Resuming after epoch 3 restores the mask and finishes exactly as the unbroken run.
    let mut r =
        Nb201DartsSearch::resume(&ck, DartsMethod::Drnas, &c, &net(), 3, Device::Cpu, Kind::Double)
            .unwrap();
    assert_eq!(diff(r.op_mask().unwrap(), &mask), 0.0);
    let (mut tr2, mut va2) = (source(1, 16), source(2, 16));
    r.run_epoch(&mut SearchSplits { train: &mut tr2, val: Some(&mut va2) }, &mut |_| {}).unwrap();
    assert_eq!(diff(r.alpha(), s.alpha()), 0.0);
    // Softmax methods ignore the DrNAS schedule: DARTS moves alpha in its first epoch.
    let mut d =
        Nb201DartsSearch::new(DartsMethod::Darts1, &c, &net(), 3, Device::Cpu, Kind::Double)
            .unwrap();
    let before = d.alpha().copy();
    let (mut tr3, mut va3) = (source(1, 16), source(2, 16));
    d.run_epoch(&mut SearchSplits { train: &mut tr3, val: Some(&mut va3) }, &mut |_| {}).unwrap();
    assert!(diff(d.alpha(), &before) > 0.0 && d.op_mask().is_none());
}

#[test]
fn arch_warm_up_trains_the_weights_alone_for_every_method() {
    let _serial = serial();
    tch::set_num_threads(1);
    let c = DartsConfig { epochs: 3, arch_warmup_epochs: 2, ..cfg() };
    let diff = |a: &Tensor, b: &Tensor| (a - b).abs().max().double_value(&[]);
    for method in [DartsMethod::Darts1, DartsMethod::Sotl] {
        let (mut tr, mut va) = (source(1, 16), source(2, 16));
        let mut s =
            Nb201DartsSearch::new(method, &c, &net(), 3, Device::Cpu, Kind::Double).unwrap();
        let start = s.alpha().copy();
        let mut moved = Vec::new();
        for _ in 0..3 {
            let before = s.alpha().copy();
            s.run_epoch(&mut SearchSplits { train: &mut tr, val: Some(&mut va) }, &mut |_| {})
                .unwrap();
            moved.push(diff(s.alpha(), &before));
        }
        assert_eq!(moved[..2], [0.0, 0.0], "{method}: alpha moved during the warm-up");
        assert!(moved[2] > 0.0, "{method}: alpha must learn after the warm-up");
        assert!(diff(s.alpha(), &start) > 0.0);
    }
    let all = DartsConfig { epochs: 3, arch_warmup_epochs: 3, ..cfg() };
    assert!(all.validate().unwrap_err().to_string().contains("arch_warmup_epochs"));
}

#[test]
fn partial_channels_that_do_not_divide_the_channels_are_refused_before_any_work() {
    let run = |methods: Vec<DartsMethod>| sotl_search::DartsRunConfig {
        methods,
        net: Nb201NetConfig { channels: 6, ..net() },
        ..Default::default()
    };
    let e = run(vec![DartsMethod::Sotl, DartsMethod::Drnas]).validate().unwrap_err().to_string();
    assert!(e.contains("drnas_partial_channels") && e.contains("net.channels = 6"), "{e}");
    // Softmax methods have no partial channels.
    run(vec![DartsMethod::Sotl]).validate().unwrap();
}
