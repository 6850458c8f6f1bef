//! The learning-rate study on small synthetic "MNIST": the update rule, determinism, resuming,
//! parameter counts and input checks.

use sotl_studies::*;
use tch::{Device, Kind, Tensor};

/// Images whose label is the brightest of ten pixel blocks: learnable, so eta matters.
fn synthetic(n: i64, seed: u64) -> (Tensor, Tensor) {
    with_torch_seed(seed, || {
        let labels = Tensor::randint(10, [n], (Kind::Int64, Device::Cpu));
        let mut img = Tensor::randint(100, [n, 1, 28, 28], (Kind::Int64, Device::Cpu));
        let bright = labels.one_hot(10).view([n, 1, 10, 1]).repeat([1, 1, 1, 28]) * 150;
        img = img.slice(2, 0, 10, 1) + bright;
        let img = Tensor::cat(
            &[img, Tensor::randint(100, [n, 1, 18, 28], (Kind::Int64, Device::Cpu))],
            2,
        );
        (img.to_kind(Kind::Uint8), labels)
    })
}

fn cfg() -> HypergradConfig {
    HypergradConfig {
        ts: vec![5],
        epochs: 2,
        batch_size: 32,
        val_size: 96,
        mlp_hidden: vec![16],
        eta0: 0.01,
        hyper_lr: 0.05,
        ..Default::default()
    }
}

fn data(c: &HypergradConfig) -> LrData {
    let (xi, yi) = synthetic(480, 1);
    let (xt, yt) = synthetic(200, 2);
    LrData::new((&xi, &yi), (&xt, &yt), c, Device::Cpu).unwrap()
}

fn train(c: &HypergradConfig, epochs: usize) -> LrRun {
    let d = data(c);
    let net = c.build_net();
    let mut run = LrRun::new(net.as_ref(), c, c.ts[0], Device::Cpu);
    for _ in 0..epochs {
        run.run_epoch(net.as_ref(), &d, c, &mut |_, _| {}).unwrap();
    }
    run
}

#[test]
fn eta_update_clips_steps_and_halves() {
    // h = 25 clips to 10: 0.2 - 0.01 * 10 = 0.1.
    let p = eta_update(0.2, 25.0, 0.01, 10.0);
    assert!((p.eta - 0.1).abs() < 1e-15 && p.hypergrad == 10.0 && !p.halved);
    // h = -3: 0.2 + 0.03 = 0.23.
    let p = eta_update(0.2, -3.0, 0.01, 10.0);
    assert!((p.eta - 0.23).abs() < 1e-15 && !p.halved);
    // 0.05 - 0.01 * 10 < 0: halve instead.
    let p = eta_update(0.05, 10.0, 0.01, 10.0);
    assert!(p.eta == 0.025 && p.halved);
    // Landing exactly on 0 would stop training for good: halve too.
    assert!(eta_update(0.1, 10.0, 0.01, 10.0).halved);
}

#[test]
fn adam_on_eta_follows_darts_architecture_adam() {
    // PyTorch Adam written out by hand, betas (0.5, 0.999), eps 1e-8, weight decay 1e-3.
    let (lr, b1, b2, eps, wd) = (0.01, 0.5, 0.999, 1e-8, 1e-3);
    let (mut m, mut v, mut eta) = (0.0f64, 0.0f64, 0.05f64);
    let mut state = None;
    let mut ours = 0.05;
    for (t, h) in [(1, 3.0f64), (2, -1.0), (3, 25.0)] {
        let d = h.clamp(-10.0, 10.0) + wd * eta;
        m = b1 * m + (1.0 - b1) * d;
        v = b2 * v + (1.0 - b2) * d * d;
        let step = lr / (1.0 - b1.powi(t)) * m / (v.sqrt() / (1.0 - b2.powi(t)).sqrt() + eps);
        let proposed = eta - step;
        eta = if proposed > 0.0 { proposed } else { eta / 2.0 };
        let p = eta_update_with(ours, h, 10.0, |e, g| adam_eta_step(&mut state, e, g, lr)).unwrap();
        ours = p.eta;
        assert!((ours - eta).abs() < 1e-12, "step {t}: {ours} vs {eta}");
    }
    // The first step moves eta by lr, whatever the gradient's size: 0.05 - 0.01.
    let mut fresh = None;
    let p = eta_update_with(0.05, 3.0, 10.0, |e, g| adam_eta_step(&mut fresh, e, g, lr));
    assert!((p.unwrap().eta - 0.04).abs() < 1e-9);
    // A step past zero halves eta instead: 0.005 - 0.01 < 0.
    let mut fresh = None;
    let p = eta_update_with(0.005, 3.0, 10.0, |e, g| adam_eta_step(&mut fresh, e, g, lr)).unwrap();
    assert!(p.halved && p.eta == 0.0025);
}

#[test]
fn recorded_eta_trace_follows_the_update_rule() {
    for objective in [HyperObjective::Sotl, HyperObjective::Val] {
        let c = HypergradConfig { eta0: 0.2, hyper_lr: 1.0, clip: 0.5, objective, ..cfg() };
        let run = train(&c, 2);
        // SoTL trains on all 480 images: 15 batches of 32 = blocks of 5, 5, 5 per epoch. The
        // validation objective holds out 96: 384 / 32 = 12 batches = blocks of 5, 5, 2.
        assert_eq!(run.eta_trace.len(), 6, "{objective}");
        let steps_per_epoch = match objective {
            HyperObjective::Sotl => 15,
            HyperObjective::Val => 12,
        };
        assert_eq!(run.step, 2 * steps_per_epoch, "{objective}");
        // The rule written out here, not taken from the code: eta <- eta - hyper_lr * h with h
        // clipped to [-clip, clip], halving instead when that would not stay positive.
        let mut prev = c.eta0;
        for p in &run.eta_trace {
            assert!(p.hypergrad.abs() <= c.clip, "{objective}: unclipped {}", p.hypergrad);
            let proposed = prev - c.hyper_lr * p.hypergrad;
            let (want, halved) =
                if proposed > 0.0 { (proposed, false) } else { (prev / 2.0, true) };
            assert_eq!((p.eta, p.halved), (want, halved), "{objective}: {:?}", run.eta_trace);
            assert!(p.eta > 0.0);
            prev = p.eta;
        }
        assert!(
            run.eta_trace.iter().any(|p| p.hypergrad.abs() == c.clip),
            "clipping never exercised"
        );
    }
}

#[test]
fn training_learns_and_is_deterministic() {
    let c = cfg();
    let a = train(&c, 2);
    let b = train(&c, 2);
    assert_eq!(a.eta_trace, b.eta_trace);
    assert_eq!(
        a.history.iter().map(|e| e.acc).collect::<Vec<_>>(),
        b.history.iter().map(|e| e.acc).collect::<Vec<_>>()
    );
    // Ten well-separated classes: far above the 10% of chance after two epochs.
    assert!(a.history[1].acc > 50.0, "{:?}", a.history);
}

#[test]
fn resumed_run_equals_uninterrupted_run() {
    resumes_exactly(&cfg());
    // Adam's moments for eta travel in the checkpoint.
    let c = HypergradConfig { hyper_optimizer: HyperOptimizer::Adam, ..cfg() };
    let whole = resumes_exactly(&c);
    assert!(whole.eta_adam.is_some_and(|s| s.step == 6), "{:?}", whole.eta_adam);
}

fn resumes_exactly(c: &HypergradConfig) -> LrRun {
    let c = c.clone();
    let d = data(&c);
    let net = c.build_net();
    let dir = std::env::temp_dir().join(format!(
        "sotl-studies-resume-{}-{}",
        std::process::id(),
        c.hyper_optimizer
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let mut first = LrRun::new(net.as_ref(), &c, 5, Device::Cpu);
    first.run_epoch(net.as_ref(), &d, &c, &mut |_, _| {}).unwrap();
    first.save(&dir, "t5").unwrap();
    let mut resumed =
        LrRun::load(net.as_ref(), &dir, "t5", Device::Cpu).unwrap().expect("checkpoint");
    assert_eq!(resumed.epoch, 1);
    resumed.run_epoch(net.as_ref(), &d, &c, &mut |_, _| {}).unwrap();
    let whole = train(&c, 2);
    assert_eq!(resumed.eta_trace, whole.eta_trace);
    for (a, b) in resumed.params.iter().zip(&whole.params) {
        assert_eq!(a, b);
    }
    assert!(LrRun::load(net.as_ref(), &dir, "absent", Device::Cpu).unwrap().is_none());
    std::fs::write(dir.join("t5.json"), b"{not json").unwrap();
    let err = LrRun::load(net.as_ref(), &dir, "t5", Device::Cpu).unwrap_err();
    assert!(err.to_string().contains("corrupt"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(resumed.eta_adam, whole.eta_adam);
    whole
}

#[test]
fn default_study_is_the_thesis_mlp_on_every_training_image() {
    let d = HypergradConfig::default();
    // 784-1000-1000-10: 785 000 + 1 001 000 + 10 010 weights and biases.
    assert_eq!(d.build_net().num_params(), 1_796_010);
    // The thesis' stated settings, and the chosen ones: batch 64, blocks retrained, SGD on eta.
    assert_eq!((d.eta0, d.hyper_lr, d.clip), (1e-3, 1e-2, 10.0));
    assert_eq!((d.batch_size, d.retrain, d.hyper_optimizer), (64, true, HyperOptimizer::Sgd));
    assert_eq!((d.objective, d.eval_split), (HyperObjective::Sotl, EvalSplit::Test));
    let (xi, yi) = synthetic(480, 1);
    let (xt, yt) = synthetic(200, 2);
    // SoTL needs no validation data: all 480 images train.
    let c = cfg();
    let sotl = LrData::new((&xi, &yi), (&xt, &yt), &c, Device::Cpu).unwrap();
    assert_eq!((sotl.train_images.size()[0], sotl.val_images.size()[0]), (480, 0));
    // The validation baseline holds out val_size = 96.
    let v = HypergradConfig { objective: HyperObjective::Val, ..cfg() };
    let val = LrData::new((&xi, &yi), (&xt, &yt), &v, Device::Cpu).unwrap();
    assert_eq!((val.train_images.size()[0], val.val_images.size()[0]), (384, 96));
    // Measuring on the val split holds the same 96 out of a SoTL run too.
    let s = HypergradConfig { eval_split: EvalSplit::Val, ..cfg() };
    let held = LrData::new((&xi, &yi), (&xt, &yt), &s, Device::Cpu).unwrap();
    assert_eq!((held.train_images.size()[0], held.val_images.size()[0]), (384, 96));
    assert!(held.val_images.equal(&val.val_images));
}

#[test]
fn the_val_split_is_measured_on_held_out_images_only() {
    let c = HypergradConfig { eval_split: EvalSplit::Val, epochs: 1, ..cfg() };
    let d = data(&c);
    let net = c.build_net();
    let mut run = LrRun::new(net.as_ref(), &c, c.ts[0], Device::Cpu);
    let rec = run.run_epoch(net.as_ref(), &d, &c, &mut |_, _| {}).unwrap();
    // 96 held-out images: the accuracy is a count of them, and a hand count over them agrees.
    let logits = net.forward(&run.params, &d.norm.standardize(&d.val_images, Kind::Float));
    let correct = logits.argmax(-1, false).eq_tensor(&d.val_labels).sum(Kind::Int64);
    let hand = 100.0 * correct.int64_value(&[]) as f64 / 96.0;
    assert!((rec.acc - hand).abs() < 1e-9, "{} vs {hand}", rec.acc);
    let (test_acc, _) = evaluate(net.as_ref(), &run.params, &d, EvalSplit::Test, 1000);
    let test_hand = {
        let l = net.forward(&run.params, &d.norm.standardize(&d.test_images, Kind::Float));
        100.0
            * l.argmax(-1, false).eq_tensor(&d.test_labels).sum(Kind::Int64).int64_value(&[]) as f64
            / 200.0
    };
    assert!((test_acc - test_hand).abs() < 1e-9);
    // An empty validation set cannot be measured on.
    let empty = HypergradConfig { eval_split: EvalSplit::Val, val_size: 0, ..cfg() };
    assert!(matches!(empty.validate(), Err(StudiesError::Config(_))));
}

#[test]
fn parameter_counts_match_hand_counts() {
    let mlp = Mlp { input: 784, hidden: vec![1000], classes: 10 };
    assert_eq!(mlp.num_params(), 784 * 1000 + 1000 + 1000 * 10 + 10);
    // Baydin's 784-1000-1000-10 net: the thesis' "1.8M parameters".
    assert_eq!(Mlp { input: 784, hidden: vec![1000, 1000], classes: 10 }.num_params(), 1_796_010);
    let vgg = Vgg {
        in_channels: 3,
        image_size: 8,
        channels: vec![4, 8],
        convs_per_block: 1,
        fc: 16,
        classes: 10,
    };
    // conv 3->4: 112, conv 4->8: 296, fc 8*2*2 -> 16: 528, out 16 -> 10: 170.
    assert_eq!(vgg.num_params(), 112 + 296 + 528 + 170);
    for net in [&mlp as &dyn FunctionalNet, &vgg] {
        let p = net.init_params(0, Kind::Float, Device::Cpu);
        assert_eq!(p.iter().map(Tensor::numel).sum::<usize>() as i64, net.num_params());
    }
    let p = vgg.init_params(0, Kind::Float, Device::Cpu);
    assert_eq!(
        vgg.forward(&p, &Tensor::zeros([2, 3, 8, 8], (Kind::Float, Device::Cpu))).size(),
        [2, 10]
    );
}

#[test]
fn bad_config_and_data_are_rejected() {
    let bad = [
        HypergradConfig { ts: vec![], ..cfg() },
        HypergradConfig { ts: vec![1], ..cfg() },
        HypergradConfig { ts: vec![251], ..cfg() },
        HypergradConfig { eta0: -1.0, ..cfg() },
        HypergradConfig { objective: HyperObjective::Val, val_size: 8, ..cfg() },
        HypergradConfig {
            model: ModelKind::Vgg,
            dataset: DatasetKind::Cifar10,
            vgg_channels: vec![8; 6],
            ..cfg()
        },
    ];
    for c in bad {
        assert!(matches!(c.validate(), Err(StudiesError::Config(_))), "{c:?}");
    }
    HypergradConfig { objective: HyperObjective::Val, ts: vec![1], ..cfg() }.validate().unwrap();
    assert!("adam".parse::<HyperObjective>().is_err());
    assert_eq!("SoTL".parse::<HyperObjective>().unwrap(), HyperObjective::Sotl);
    let c = cfg();
    let (x, y) = synthetic(300, 1);
    let rgb = Tensor::zeros([300, 3, 28, 28], (Kind::Uint8, Device::Cpu));
    assert!(matches!(
        LrData::new((&rgb, &y), (&x, &y), &c, Device::Cpu),
        Err(StudiesError::Data(_))
    ));
    let short = y.narrow(0, 0, 10);
    assert!(matches!(
        LrData::new((&x, &short), (&x, &y), &c, Device::Cpu),
        Err(StudiesError::Data(_))
    ));
}

#[test]
fn retraining_takes_each_block_again_from_its_start_at_the_new_eta() {
    let c = HypergradConfig { epochs: 1, retrain: true, ..cfg() };
    let d = data(&c);
    let net = c.build_net();
    let mut run = LrRun::new(net.as_ref(), &c, 5, Device::Cpu);
    let mut w: Vec<Tensor> = run.params.iter().map(Tensor::copy).collect();
    run.run_epoch(net.as_ref(), &d, &c, &mut |_, _| {}).unwrap();
    // 480 images in batches of 32: 15 batches, blocks of 5, one eta update each. Replay by hand:
    // each block's 5 plain SGD steps from the block's starting weights at the eta its update
    // produced, w <- w - eta g.
    assert_eq!(run.eta_trace.len(), 3);
    let batches =
        epoch_indices(&mut index_batches(480, c.batch_size, c.seed, 2, 0).unwrap(), 0).unwrap();
    for (block, p) in batches.chunks(5).zip(&run.eta_trace) {
        for i in block {
            let x = d.norm.standardize(&d.train_images.index_select(0, i), Kind::Float);
            let y = d.train_labels.index_select(0, i);
            let ws: Vec<Tensor> = w.iter().map(|t| t.detach().set_requires_grad(true)).collect();
            let loss = cross_entropy(&net.forward(&ws, &x), &y);
            let refs: Vec<&Tensor> = ws.iter().collect();
            let g = Tensor::run_backward(&[&loss], &refs, false, false);
            w = ws.iter().zip(g).map(|(q, g)| (q - g * p.eta).detach()).collect();
        }
    }
    for (a, b) in run.params.iter().zip(&w) {
        assert!(a.allclose(b, 1e-6, 1e-7, false), "max diff {}", (a - b).abs().max());
    }
    // Without retraining the weights are the unroll's (each block at the old eta): different.
    let keep = HypergradConfig { retrain: false, ..c.clone() };
    let mut other = LrRun::new(net.as_ref(), &keep, 5, Device::Cpu);
    other.run_epoch(net.as_ref(), &d, &keep, &mut |_, _| {}).unwrap();
    assert!(!other.params[0].allclose(&run.params[0], 1e-6, 1e-7, false));
}
