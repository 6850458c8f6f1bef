//! Tests of the one-shot module on a tiny hand-checkable model and a tiny NAS-Bench-201 supernet.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use sotl_data::{synthetic, SyntheticConfig};
use sotl_nn::Nb201NetConfig;
use sotl_space::{Nb201Arch, Nb201Op};
use sotl_train::DeviceImages;
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

use super::trainer::cross_entropy;
use super::*;

/// A model whose every parametric op is one scalar: `logits[b, c] = s[c] + sum_e w[e, op_e] x[b, c]`
/// over the edges whose op is a convolution. Small enough to replay by hand.
struct Toy {
    shared: Tensor,
    ops: Vec<Tensor>,
}

impl Toy {
    fn new() -> Self {
        let shared = Tensor::from_slice(&[0.1f64, -0.2]).set_requires_grad(true);
        let ops = (0..12)
            .map(|i| Tensor::from_slice(&[0.3 + 0.05 * i as f64]).set_requires_grad(true))
            .collect();
        Toy { shared, ops }
    }

    fn slot(e: usize, op: Nb201Op) -> Option<usize> {
        match op {
            Nb201Op::NorConv1x1 => Some(1 + 2 * e),
            Nb201Op::NorConv3x3 => Some(2 + 2 * e),
            _ => None,
        }
    }

    /// The toy's forward with explicit weights (list order as `weights()`), for replays.
    fn logits(w: &[Tensor], x: &Tensor, arch: &Nb201Arch) -> Tensor {
        let xf = x.flatten(1, -1);
        let mut out = xf.zeros_like() + &w[0];
        for (e, &op) in arch.ops.iter().enumerate() {
            if let Some(i) = Toy::slot(e, op) {
                out += &xf * &w[i];
            }
        }
        out
    }
}

impl PathNet for Toy {
    type Space = sotl_space::Nb201Space;
    fn space(&self) -> sotl_space::Nb201Space {
        sotl_space::Nb201Space
    }
    fn forward_path_t(&self, x: &Tensor, arch: &Nb201Arch, _train: bool) -> Tensor {
        Toy::logits(&self.weights(), x, arch)
    }
    fn weights(&self) -> Vec<Tensor> {
        std::iter::once(&self.shared).chain(&self.ops).map(Tensor::shallow_clone).collect()
    }
    fn path_indices(&self, arch: &Nb201Arch) -> Vec<usize> {
        let mut v = vec![0];
        v.extend(arch.ops.iter().enumerate().filter_map(|(e, &op)| Toy::slot(e, op)));
        v
    }
}

fn toy_batch(seed: i64) -> (Tensor, Tensor) {
    let _lock = sotl_train::torch_rng_lock();
    tch::manual_seed(seed);
    let x = Tensor::randn([8, 2, 1, 1], (Kind::Double, Device::Cpu));
    let y = Tensor::randint(2, [8], (Kind::Int64, Device::Cpu));
    (x, y)
}

fn plain_sgd() -> SgdSettings {
    SgdSettings { momentum: 0.0, nesterov: false, weight_decay: 0.0, grad_clip: None }
}

fn snapshot(ts: &[Tensor]) -> Vec<Tensor> {
    ts.iter().map(|t| t.detach().copy()).collect()
}

/// Gradient of the toy's mean cross-entropy with respect to `w` (an independent replay).
fn toy_grad(w: &[Tensor], x: &Tensor, y: &Tensor, arch: &Nb201Arch) -> Vec<Tensor> {
    let leaves: Vec<Tensor> = w.iter().map(|t| t.detach().copy().set_requires_grad(true)).collect();
    let loss = Toy::logits(&leaves, x, arch).log_softmax(-1, Kind::Double).nll_loss(y);
    let g = Tensor::run_backward(&[loss], &leaves, false, false);
    g.into_iter()
        .map(|g| if g.defined() { g } else { Tensor::zeros([1], (Kind::Double, Device::Cpu)) })
        .collect()
}

fn max_diff(a: &[Tensor], b: &[Tensor]) -> f64 {
    a.iter().zip(b).map(|(a, b)| (a - b).abs().max().double_value(&[])).fold(0.0, f64::max)
}

#[test]
fn reptile_and_metaprox_match_their_formulas() {
    let (lr, eps, lambda) = (0.3, 0.5, 10.0);
    for (trainer, lam) in [
        (SupernetTrainer::Reptile { inner_steps: 2, outer_lr: eps }, 0.0),
        (SupernetTrainer::Metaprox { inner_steps: 2, outer_lr: eps, lambda }, lambda),
    ] {
        let net = Toy::new();
        let theta0 = snapshot(&net.weights());
        let batches = vec![toy_batch(1), toy_batch(2)];
        let arch = uniform_path(&sotl_space::Nb201Space, &mut ChaCha8Rng::seed_from_u64(5));
        let mut state = SupernetTrainerState::new(trainer, &net, plain_sgd()).unwrap();
        let stats = state.step(&net, &batches, lr, &mut ChaCha8Rng::seed_from_u64(5)).unwrap();
        assert_eq!(stats.paths, vec![arch]);

        // theta_{t+1} = theta_t - lr (grad L(theta_t) + lambda (theta_t - theta_0)) on path weights.
        let on: Vec<usize> = net.path_indices(&arch);
        let mut th = snapshot(&theta0);
        for (x, y) in &batches {
            let g = toy_grad(&th, x, y, &arch);
            for &i in &on {
                th[i] = &th[i] - (&g[i] + (&th[i] - &theta0[i]) * lam) * lr;
            }
        }
        // theta <- theta_0 + eps (theta_hat - theta_0)
        let expected: Vec<Tensor> =
            theta0.iter().zip(&th).map(|(a, b)| a + (b - a) * eps).collect();
        let got = snapshot(&net.weights());
        assert!(
            max_diff(&got, &expected) < 1e-12,
            "{trainer:?}: update differs by {}",
            max_diff(&got, &expected)
        );
        // Something actually moved, and nothing off the path did.
        assert!(max_diff(&got, &theta0) > 1e-4);
        for i in (0..13).filter(|i| !on.contains(i)) {
            assert!(got[i].equal(&theta0[i]), "off-path weight {i} moved");
        }
    }
}

#[test]
fn multipath_averages_the_gradients_of_its_paths() {
    let net = Toy::new();
    let theta0 = snapshot(&net.weights());
    let (x, y) = toy_batch(3);
    let lr = 0.2;
    let archs = uniform_paths(&sotl_space::Nb201Space, &mut ChaCha8Rng::seed_from_u64(11), 3);
    let mut state =
        SupernetTrainerState::new(SupernetTrainer::MultiPath { paths: 3 }, &net, plain_sgd())
            .unwrap();
    let stats = state
        .step(
            &net,
            &[(x.shallow_clone(), y.shallow_clone())],
            lr,
            &mut ChaCha8Rng::seed_from_u64(11),
        )
        .unwrap();
    assert_eq!(stats.paths, archs);
    let mut expected = snapshot(&theta0);
    for a in &archs {
        let g = toy_grad(&theta0, &x, &y, a);
        for i in net.path_indices(a) {
            expected[i] = &expected[i] - &g[i] * (lr / 3.0);
        }
    }
    assert!(max_diff(&snapshot(&net.weights()), &expected) < 1e-12);
}

#[test]
fn fairnas_step_trains_every_op_of_every_edge() {
    let net = Toy::new();
    let before = snapshot(&net.weights());
    let mut state = SupernetTrainerState::new(SupernetTrainer::FairNas, &net, plain_sgd()).unwrap();
    let stats = state.step(&net, &[toy_batch(4)], 0.5, &mut ChaCha8Rng::seed_from_u64(2)).unwrap();
    assert_eq!(stats.paths.len(), 5);
    let after = net.weights();
    for i in 0..13 {
        assert!(!after[i].equal(&before[i]), "weight {i} was not trained by the FairNAS step");
    }
}

// --- The NAS-Bench-201 supernet, tiny: C=4, N=1, 8x8 synthetic images. ---

fn tiny_cfg() -> Nb201NetConfig {
    Nb201NetConfig {
        channels: 4,
        cells_per_stage: 1,
        num_classes: 10,
        in_channels: 3,
        image_size: 8,
    }
}

fn tiny_data() -> (DeviceImages, DeviceImages) {
    let (tr, te) =
        synthetic(&SyntheticConfig { n_train: 96, n_test: 64, size: 8, noise: 0.5, seed: 1 })
            .unwrap();
    let stats = sotl_data::Normalization::from_data(&tr);
    (
        DeviceImages::new(&tr, &stats, None, Device::Cpu).unwrap(),
        DeviceImages::new(&te, &stats, None, Device::Cpu).unwrap(),
    )
}

fn tiny_net(seed: i64) -> (VarStore, Nb201PathNet) {
    // libtorch's generator is global: hold the lock so a test running beside this one cannot
    // draw between the seeding and the initialization.
    let _lock = sotl_train::torch_rng_lock();
    tch::manual_seed(seed);
    let vs = VarStore::new(Device::Cpu);
    let net = Nb201PathNet::new(&vs, &tiny_cfg()).unwrap();
    (vs, net)
}

fn tiny_train(kind: TrainerKind) -> SupernetTrainConfig {
    SupernetTrainConfig {
        trainer: SupernetTrainerConfig {
            paths: 2,
            inner_steps: 2,
            outer_lr: 0.7,
            ..SupernetTrainerConfig::of(kind)
        },
        batch_size: 16,
        epochs: 2,
        ..Default::default()
    }
}

#[test]
fn spos_step_leaves_off_path_weights_bit_identical() {
    let (train, _) = tiny_data();
    let (_vs, net) = tiny_net(0);
    let mut run = SupernetTraining::new(&net, tiny_train(TrainerKind::Spos), train.len()).unwrap();
    // A few steps first, so momentum buffers of many weights are non-zero.
    for _ in 0..3 {
        run.step(&train).unwrap();
    }
    let before = snapshot(&net.weights());
    let stats = run.step(&train).unwrap();
    let on = net.path_indices(&stats.paths[0]);
    let after = net.weights();
    let mut moved = 0;
    for i in 0..after.len() {
        if on.contains(&i) {
            moved += usize::from(!after[i].equal(&before[i]));
        } else {
            assert!(after[i].equal(&before[i]), "off-path weight {i} changed");
        }
    }
    assert!(moved > 0, "no on-path weight moved");
}

#[test]
fn every_trainer_runs_and_resumes_exactly() {
    let (train, _) = tiny_data();
    let dir = tempdir("resume");
    for kind in TrainerKind::ALL {
        let cfg = tiny_train(kind);
        // Straight through: 4 steps.
        let (_vs, a) = tiny_net(3);
        let mut ra = SupernetTraining::new(&a, cfg, train.len()).unwrap();
        for _ in 0..4 {
            ra.step(&train).unwrap();
        }
        let losses = ra.read_losses().unwrap();
        assert_eq!(losses.len(), 4, "{kind}: one loss per step");
        assert!(losses.iter().all(|l| l.is_finite()), "{kind}: losses {losses:?}");
        assert!(ra.read_losses().unwrap().is_empty(), "{kind}: each loss is handed out once");
        // Two steps, checkpoint, a fresh process-like start from another init, resume, two more.
        let (_vs, b) = tiny_net(3);
        let mut rb = SupernetTraining::new(&b, cfg, train.len()).unwrap();
        rb.step(&train).unwrap();
        rb.step(&train).unwrap();
        let ck = dir.join(format!("{kind}.ot"));
        rb.save(&ck).unwrap();
        let (_vs, c) = tiny_net(99);
        let mut rc = SupernetTraining::new(&c, cfg, train.len()).unwrap();
        rc.resume(&ck).unwrap();
        assert_eq!(rc.step_count(), 2);
        rc.step(&train).unwrap();
        rc.step(&train).unwrap();
        for (x, y) in a.weights().iter().zip(c.weights()) {
            assert!(x.equal(&y), "{kind}: resumed run differs");
        }
        for (x, y) in a.buffers().iter().zip(c.buffers()) {
            assert!(x.equal(&y), "{kind}: resumed BN statistics differ");
        }
        // A different config refuses the checkpoint.
        let other = SupernetTrainConfig { lr: 0.5, ..cfg };
        let mut rd = SupernetTraining::new(&c, other, train.len()).unwrap();
        assert!(rd.resume(&ck).unwrap_err().to_string().contains("different training config"));
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

fn tiny_finetune() -> FinetuneConfig {
    FinetuneConfig {
        steps: 6,
        batch_size: 16,
        sotl_window: 3,
        val_every: 3,
        mini_val_every: 2,
        eval_batch_size: 40,
        inherited_window: 2,
        ..Default::default()
    }
}

#[test]
fn finetune_resets_the_supernet_exactly_and_is_repeatable() {
    let (train, val) = tiny_data();
    let (_vs, net) = tiny_net(5);
    let w0 = snapshot(&net.weights());
    let b0 = snapshot(&net.buffers());
    let mut ft = Finetuner::new(&net, tiny_finetune(), TrainerKind::Spos).unwrap();
    let arch: Nb201Arch = "|nor_conv_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_3x3~0|avg_pool_3x3~1|nor_conv_3x3~2|".parse().unwrap();
    let r1 = ft.finetune(0, &arch, &train, &val).unwrap();
    assert!(max_diff(&net.weights(), &w0) > 0.0, "finetuning changed nothing");
    ft.reset();
    for (a, b) in net.weights().iter().zip(&w0) {
        assert!(a.equal(b), "reset did not restore a weight exactly");
    }
    for (a, b) in net.buffers().iter().zip(&b0) {
        assert!(a.equal(b), "reset did not restore a BN buffer exactly");
    }
    let r2 = ft.finetune(0, &arch, &train, &val).unwrap();
    assert_eq!(r1.finetune, r2.finetune, "same candidate, same supernet: different trajectory");
    assert_eq!(r1.finetune.steps.len(), 6);
    let full =
        r1.finetune.vals.iter().filter(|v| v.scope == sotl_estimators::ValScope::Full).count();
    assert_eq!(full, 3, "whole-set evaluations at steps 0, 3, 6");
    assert_eq!(r1.inherited.steps.len(), 2);
    // The first finetuning loss is taken before any update: it equals the inherited loss.
    assert_eq!(r1.finetune.steps[0].train_loss, r1.inherited.steps[0].train_loss);
    assert!(r1.finetune.steps.iter().all(|s| s.grad_l1.unwrap() > 0.0));
    assert_eq!(r1.param_count, sotl_nn::standalone_param_count(&tiny_cfg(), &arch) as u64);
}

#[test]
fn pool_run_resumes_at_the_next_candidate() {
    let (train, val) = tiny_data();
    let dir = tempdir("pool");
    let pool = FinetunePool::sample(3, 4).unwrap();
    let (_vs, net) = tiny_net(6);
    let mut ft = Finetuner::new(&net, tiny_finetune(), TrainerKind::Spos).unwrap();
    let full =
        finetune_pool(&mut ft, &pool, &train, &val, &dir.join("all.jsonl"), |_, _, _| {}).unwrap();
    assert_eq!(full.len(), 3);

    // Keep one complete line plus a torn second one, as a kill mid-write leaves it.
    let text = std::fs::read_to_string(dir.join("all.jsonl")).unwrap();
    let mut lines = text.lines();
    let first = lines.next().unwrap();
    let torn = &lines.next().unwrap()[..40];
    std::fs::write(dir.join("part.jsonl"), format!("{first}\n{torn}")).unwrap();
    let mut calls = Vec::new();
    let resumed =
        finetune_pool(&mut ft, &pool, &train, &val, &dir.join("part.jsonl"), |d, _, _| {
            calls.push(d)
        })
        .unwrap();
    assert_eq!(calls, vec![2, 3], "should finetune only candidates 2 and 3");
    for (a, b) in full.iter().zip(&resumed) {
        assert_eq!(a.finetune, b.finetune);
        assert_eq!(a.inherited, b.inherited);
    }
    // Results from another pool are refused.
    let other = FinetunePool::sample(3, 5).unwrap();
    assert!(read_results(&dir.join("all.jsonl"), &other).is_err());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn ranking_report_on_a_known_ordering() {
    // Ground truth fixed by the SoTL order with the two best swapped: by score rank 1..4 the
    // truths are 92, 94, 90, 88. Hand values: rank differences d = (1, 1, 0, 0), so Spearman
    // = 1 - 6 * 2 / (4 * 15) = 0.8; one discordant pair of 6, so Kendall tau = (5 - 1) / 6;
    // the top 2 by SoTL have truths 92 and 94, mean 93.
    let (train, val) = tiny_data();
    let (_vs, net) = tiny_net(7);
    let mut ft = Finetuner::new(&net, tiny_finetune(), TrainerKind::Spos).unwrap();
    let pool = FinetunePool::sample(4, 1).unwrap();
    let results: Vec<CandidateResult> = pool
        .archs
        .iter()
        .enumerate()
        .map(|(i, a)| ft.finetune(i, a, &train, &val).unwrap())
        .collect();
    let sotl = TableRow { metric: RankMetric::Sotl, phase: Phase::Finetuned(3) };
    let scores = sotl.scores(&results, 3).unwrap();
    let mut by_score: Vec<usize> = (0..4).collect();
    by_score.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    assert!(scores[by_score[0]] > scores[by_score[1]] && scores[by_score[2]] > scores[by_score[3]]);
    let mut truth = [0.0; 4];
    for (rank, &i) in by_score.iter().enumerate() {
        truth[i] = [92.0, 94.0, 90.0, 88.0][rank];
    }
    let truth_of = |a: &Nb201Arch| Some(truth[pool.archs.iter().position(|p| p == a)?]);
    let settings = ReportSettings { sotl_window: 3, steps: 6, k: 2, curve_every: 1 };
    let run = rank_report(TrainerKind::Spos, 0, &results, &truth_of, &settings).unwrap();
    let row = run.rows.iter().find(|r| r.row == sotl).unwrap();
    let s = row.summary.unwrap();
    assert!((s.spearman - 0.8).abs() < 1e-12, "{}", s.spearman);
    assert!((s.kendall_tau - 4.0 / 6.0).abs() < 1e-12, "{}", s.kendall_tau);
    assert!((s.top_k_mean - 93.0).abs() < 1e-12, "{}", s.top_k_mean);
    // The SoTL curve at t = 3 is the same ranking, so the same number.
    let c = run.curves.iter().find(|c| c.metric == RankMetric::Sotl).unwrap();
    let k = c.steps.iter().position(|&t| t == 3).expect("curve_every 1 measures t = 3");
    assert!((c.spearman[k] - 0.8).abs() < 1e-12, "{:?}", c.spearman);
    let table = SummaryTable::from_runs(&[run.clone(), RunRanking { seed: 1, ..run }]);
    let md = table.to_markdown();
    assert!(md.contains("| SoTL (ft 3) | 0.80 (0.00)"), "{md}");
    assert!(table.to_csv().lines().count() > 1);
    // Missing ground truth is an error, not a silently smaller table.
    let none = |_: &Nb201Arch| None;
    assert!(rank_report(TrainerKind::Spos, 0, &results, &none, &settings).is_err());
}

/// A [`PathNet`] that records every forward call's input and BN mode, delegating the maths.
struct Spy<'n> {
    inner: &'n Nb201PathNet,
    calls: std::cell::RefCell<Vec<(Tensor, bool)>>,
}

impl PathNet for Spy<'_> {
    type Space = sotl_space::Nb201Space;
    fn space(&self) -> sotl_space::Nb201Space {
        sotl_space::Nb201Space
    }
    fn forward_path_t(&self, x: &Tensor, arch: &Nb201Arch, train: bool) -> Tensor {
        self.calls.borrow_mut().push((x.detach().copy(), train));
        self.inner.forward_path_t(x, arch, train)
    }
    fn weights(&self) -> Vec<Tensor> {
        self.inner.weights()
    }
    fn path_indices(&self, arch: &Nb201Arch) -> Vec<usize> {
        self.inner.path_indices(arch)
    }
    fn buffers(&self) -> Vec<Tensor> {
        self.inner.buffers()
    }
}

fn probe_arch() -> Nb201Arch {
    "|nor_conv_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_3x3~0|avg_pool_3x3~1|nor_conv_3x3~2|"
        .parse()
        .unwrap()
}

#[test]
fn augmentation_pads_black_crops_and_flips_by_seed() {
    let (train, _) = tiny_data();
    assert_eq!(train.crop_padding(), 1, "an eighth of 8 pixels");
    let x = train.images.narrow(0, 0, 16);
    let augment = |x: &Tensor, seed: u64| {
        train.standard_augment().apply(x, &train.black, &mut ChaCha8Rng::seed_from_u64(seed))
    };
    let a = augment(&x, 42);
    assert_eq!(a.size(), x.size());
    assert!(a.equal(&augment(&x, 42)), "same seed, same augmentation");
    assert!(!a.equal(&augment(&x, 43)));
    assert!(!a.equal(&x), "16 images came through unchanged");
    // Every output pixel is an input pixel of the same image and channel (crop/flip move
    // pixels) or the standardized black of the padding, -mean/std of its channel.
    let black = Vec::<f32>::try_from(train.black.flatten(0, -1)).unwrap();
    for i in 0..16 {
        for c in 0..3 {
            let src = Vec::<f32>::try_from(x.get(i).get(c).flatten(0, -1)).unwrap();
            for v in Vec::<f32>::try_from(a.get(i).get(c).flatten(0, -1)).unwrap() {
                // (x - black) + black may differ from x in the last bit.
                let moved = src.iter().any(|s| (s - v).abs() < 1e-5);
                assert!(moved || (v - black[c as usize]).abs() < 1e-5, "{v}");
            }
        }
    }
    // A training order serves the augmented batch; the plain order serves stored images.
    let (xp, yp) = Sequential::new(&train, 16, 9, false).next();
    let (xa, ya) = Sequential::new(&train, 16, 9, true).next();
    let (xo, _) = Sequential::new(&train, 16, 9, false).next();
    assert!(yp.equal(&ya) && xo.equal(&xp));
    assert!(!xa.equal(&xp));
    assert!(xa.equal(&augment(&xp, sotl_train::derive_seed(9, sotl_train::Stream::Augment, 0))));
}

#[test]
fn finetuning_batches_are_augmented_and_evaluation_batches_are_not() {
    let (train, val) = tiny_data();
    let (_vs, net) = tiny_net(11);
    let spy = Spy { inner: &net, calls: Default::default() };
    let cfg = FinetuneConfig { eval_bn: EvalBn::Running, ..tiny_finetune() };
    let mut ft = Finetuner::new(&spy, cfg, TrainerKind::Spos).unwrap();
    ft.finetune(0, &probe_arch(), &train, &val).unwrap();
    let calls = spy.calls.borrow();
    // The order of calls: the 2 inherited-loss passes (train mode), then the step-0 whole-set
    // evaluation (val 64 images in batches of 40) and a minibatch evaluation, then the 6
    // finetuning steps with their evaluations.
    let w = cfg.inherited_window;
    assert!(calls[..w].iter().all(|(_, t)| *t), "the inherited-loss passes come first");
    let (x0, t0) = &calls[w];
    assert!(!t0, "evaluation in eval mode with eval_bn = running");
    // The whole-set evaluation covers every validation image once, in a shuffled order (stored
    // splits are class-sorted, which would bias batch statistics).
    assert!(!x0.equal(&val.slice(0, 40).0), "whole-set evaluation in storage order");
    let full: Vec<Tensor> = calls[w..w + 2].iter().map(|(x, _)| x.shallow_clone()).collect();
    let seen = Tensor::cat(&full, 0);
    assert_eq!(seen.size()[0], val.len() as i64);
    let sorted =
        |t: &Tensor| t.sum_dim_intlist(&[1i64, 2, 3][..], false, Kind::Double).sort(0, false).0;
    assert!((sorted(&seen) - sorted(&val.images)).abs().max().double_value(&[]) < 1e-9);
    let seed = sotl_train::derive_seed(cfg.seed, sotl_train::Stream::TrainOrder, 0);
    let mut order = Sequential::new(&train, cfg.batch_size, seed, true);
    let mut plain = Sequential::new(&train, cfg.batch_size, seed, false);
    let train_calls: Vec<&Tensor> = calls.iter().filter(|(_, t)| *t).map(|(x, _)| x).collect();
    assert_eq!(train_calls.len(), cfg.inherited_window + cfg.steps);
    let expected = order.next().0;
    let unaugmented = plain.next().0;
    assert!(train_calls[0].equal(&expected), "the first training batch is the augmented one");
    assert!(!train_calls[0].equal(&unaugmented));
    // The first finetuning step sees the same augmented batch as the first inherited pass.
    assert!(train_calls[cfg.inherited_window].equal(&expected));
    // Every evaluation input is a block of stored validation images.
    let val_rows: Vec<Vec<f32>> = (0..val.len() as i64)
        .map(|i| Vec::<f32>::try_from(val.images.get(i).flatten(0, -1)).unwrap())
        .collect();
    for (x, _) in calls.iter().filter(|(_, t)| !*t) {
        for i in 0..x.size()[0] {
            let row = Vec::<f32>::try_from(x.get(i).flatten(0, -1)).unwrap();
            assert!(
                val_rows.contains(&row),
                "an evaluation image is not a stored validation image"
            );
        }
    }
}

#[test]
fn evaluation_bn_statistics_follow_the_config() {
    let (train, val) = tiny_data();
    let (_vs, net) = tiny_net(12);
    let arch = probe_arch();
    let mut out = std::collections::HashMap::new();
    for eval_bn in [EvalBn::Batch, EvalBn::Running, EvalBn::Both] {
        let spy = Spy { inner: &net, calls: Default::default() };
        let cfg = FinetuneConfig { eval_bn, inherited_window: 0, ..tiny_finetune() };
        let mut ft = Finetuner::new(&spy, cfg, TrainerKind::Spos).unwrap();
        let b0 = snapshot(&net.buffers());
        let r = ft.finetune(0, &arch, &train, &val).unwrap();
        // Step-0 evaluations come first: in batch mode they run the BNs in train mode, in
        // running mode in eval mode, and either way leave the running statistics untouched.
        let first = spy.calls.borrow()[0].1;
        assert_eq!(first, eval_bn != EvalBn::Running, "{eval_bn:?}");
        assert!(r.finetune.steps.len() == cfg.steps);
        let modes: Vec<sotl_estimators::BnStats> =
            r.finetune.vals.iter().filter(|v| v.step == 0).map(|v| v.bn).collect();
        let want: Vec<sotl_estimators::BnStats> =
            eval_bn.modes().iter().flat_map(|&m| [m]).collect();
        assert!(want.iter().all(|m| modes.contains(m)) && modes.iter().all(|m| want.contains(m)));
        ft.reset();
        assert_eq!(max_diff(&net.buffers(), &b0), 0.0);
        let acc = |bn| {
            r.finetune
                .vals
                .iter()
                .find(|v| v.step == 0 && v.bn == bn && v.scope == sotl_estimators::ValScope::Full)
                .map(|v| v.acc)
        };
        out.insert(
            format!("{eval_bn:?}"),
            (acc(sotl_estimators::BnStats::Batch), acc(sotl_estimators::BnStats::Running)),
        );
    }
    // `both` measures exactly what each single mode measures.
    assert_eq!(out["Both"].0, out["Batch"].0);
    assert_eq!(out["Both"].1, out["Running"].1);
    // The batch-statistics evaluation does not disturb the running one: a fresh supernet's
    // running statistics (mean 0, var 1) give a different accuracy than batch statistics.
    assert!(out["Batch"].0.is_some() && out["Running"].1.is_some());
}

/// Finetuning with plain SGD (no momentum, decay or augmentation), for hand replays.
fn plain_finetune(steps: usize) -> FinetuneConfig {
    FinetuneConfig {
        steps,
        sotl_window: steps,
        momentum: 0.0,
        nesterov: false,
        weight_decay: 0.0,
        inherited_window: 0,
        augment: false,
        ..tiny_finetune()
    }
}

/// The finetuning minibatches of `cfg` over `train` in the Finetuner's order, unaugmented.
fn finetune_order(cfg: &FinetuneConfig, train: &DeviceImages) -> Sequential {
    let seed = sotl_train::derive_seed(cfg.seed, sotl_train::Stream::TrainOrder, 0);
    Sequential::new(train, cfg.batch_size, seed, false)
}

/// One-shot minibatches served one after another from the start.
struct Sequential {
    batches: sotl_train::TensorBatches,
    position: usize,
}

impl Sequential {
    fn new(data: &DeviceImages, batch_size: usize, seed: u64, augment: bool) -> Self {
        Sequential { batches: data.batches(batch_size, seed, augment).unwrap(), position: 0 }
    }

    fn next(&mut self) -> (Tensor, Tensor) {
        use sotl_train::BatchSource;
        let per_epoch = self.batches.batches_per_epoch();
        let b = self.batches.batch(self.position / per_epoch, self.position % per_epoch).unwrap();
        self.position += 1;
        (b.inputs, b.targets)
    }
}

#[test]
fn finetuning_learning_rate_follows_the_trainer() {
    let cfg = FinetuneConfig::default();
    assert_eq!(cfg.lr_for(TrainerKind::Spos), 0.01);
    for k in [
        TrainerKind::Fairnas,
        TrainerKind::Multipath,
        TrainerKind::Reptile,
        TrainerKind::Metaprox,
        TrainerKind::MultipathMetaprox,
    ] {
        assert_eq!(cfg.lr_for(k), 0.001, "{k}");
    }
    let fixed = FinetuneConfig { lr: Some(0.05), ..cfg };
    assert_eq!(fixed.lr_for(TrainerKind::Fairnas), 0.05);
    assert_eq!(cfg.grad_clip, 0.0, "the reference finetuning loop clips nothing");
    // The Finetuner applies it: one plain SGD step moves each path weight by exactly -lr g.
    let (train, val) = tiny_data();
    let (_vs, net) = tiny_net(13);
    let arch = probe_arch();
    let w0 = snapshot(&net.weights());
    let plain = plain_finetune(1);
    for (kind, lr) in [(TrainerKind::Spos, 0.01), (TrainerKind::Fairnas, 0.001)] {
        let mut ft = Finetuner::new(&net, plain, kind).unwrap();
        assert_eq!(ft.lr(), lr);
        ft.finetune(0, &arch, &train, &val).unwrap();
        let w1 = snapshot(&net.weights());
        ft.reset();
        // Independent replay of the gradient on the same first minibatch.
        let mut order = finetune_order(&plain, &train);
        let (x, y) = order.next();
        let idx = net.path_indices(&arch);
        let ws = net.weights();
        let loss = cross_entropy(&net.forward_path(&x, &arch), &y);
        let inputs: Vec<&Tensor> = idx.iter().map(|&i| &ws[i]).collect();
        let g = Tensor::run_backward(&[&loss], &inputs, false, false);
        ft.reset();
        for (&i, g) in idx.iter().zip(&g) {
            if g.defined() {
                let want = &w0[i] - g * lr;
                let d = (&w1[i] - want).abs().max().double_value(&[]);
                assert!(d < 1e-6, "{kind}: weight {i} off by {d}");
            }
        }
    }
}

#[test]
fn sog_l1_is_the_l1_norm_of_the_summed_gradients() {
    let (train, val) = tiny_data();
    let (_vs, net) = tiny_net(14);
    let arch = probe_arch();
    let cfg = plain_finetune(2);
    let mut ft = Finetuner::new(&net, cfg, TrainerKind::Spos).unwrap();
    let r = ft.finetune(0, &arch, &train, &val).unwrap();
    ft.reset();
    // Replay: g0 at the inherited weights, a plain SGD step, g1 there.
    let mut order = finetune_order(&cfg, &train);
    let idx = net.path_indices(&arch);
    let ws = net.weights();
    let inputs: Vec<&Tensor> = idx.iter().map(|&i| &ws[i]).collect();
    let mut grads = Vec::new();
    for _ in 0..2 {
        let (x, y) = order.next();
        let loss = cross_entropy(&net.forward_path(&x, &arch), &y);
        let g = Tensor::run_backward(&[&loss], &inputs, false, false);
        tch::no_grad(|| {
            for (w, g) in inputs.iter().zip(&g) {
                if g.defined() {
                    let _ = w.shallow_clone().f_sub_(&(g * 0.01)).unwrap();
                }
            }
        });
        grads.push(g);
    }
    ft.reset();
    let l1 = |ts: Vec<Tensor>| {
        ts.iter().map(|t| t.abs().sum(Kind::Double).double_value(&[])).sum::<f64>()
    };
    let g0: Vec<Tensor> = grads[0].iter().filter(|g| g.defined()).map(|g| g.copy()).collect();
    let g01: Vec<Tensor> =
        grads[0].iter().zip(&grads[1]).filter(|(a, _)| a.defined()).map(|(a, b)| a + b).collect();
    let (want0, want1) = (l1(g0), l1(g01));
    let got: Vec<f64> = r.finetune.steps.iter().map(|s| s.grad_acc_l1.unwrap()).collect();
    assert!((got[0] - want0).abs() < 1e-4 * want0, "{} vs {want0}", got[0]);
    assert!((got[1] - want1).abs() < 1e-4 * want1, "{} vs {want1}", got[1]);
    // It is not the sum of the per-step norms (SoGN) unless the gradients never change sign.
    let sogn: f64 = r.finetune.steps.iter().map(|s| s.grad_l1.unwrap()).sum();
    assert!(got[1] < sogn);
    let score = RankMetric::SogL1.score_at(&r.finetune, 2, 2).unwrap();
    assert_eq!(score, got[1]);
}

#[test]
fn evolution_scores_by_sotl_and_resumes_after_a_kill() {
    let (train, val) = tiny_data();
    let (_vs, net) = tiny_net(15);
    let dir = tempdir("evolve");
    let cfg = EvolutionConfig { population: 3, sample_size: 2, budget: 8, seed: 4 };
    let fcfg = FinetuneConfig { inherited_window: 0, ..tiny_finetune() };
    let mut ft = Finetuner::new(&net, fcfg, TrainerKind::Spos).unwrap();
    let path = dir.join("evo.jsonl");
    let mut fresh = 0;
    let run =
        evolve(&mut ft, &cfg, &train, &val, &path, |_, _, f| fresh += usize::from(f)).unwrap();
    assert_eq!(run.history.len(), 8);
    assert_eq!(run.results.len(), fresh);
    // Every fitness is the negated SoTL over the window of that cell's finetuning.
    for e in &run.history {
        let r = run.results.iter().find(|r| r.arch == e.arch).unwrap();
        let sotl: f64 = r.finetune.steps[..fcfg.sotl_window].iter().map(|s| s.train_loss).sum();
        assert!((e.value + sotl).abs() < 1e-12);
    }
    let best = run.history.iter().map(|e| e.value).fold(f64::MIN, f64::max);
    assert_eq!(run.history[run.best].value, best);
    // A kill after two finetunings: the rerun replays them from the file and finetunes the rest.
    let text = std::fs::read_to_string(&path).unwrap();
    let two: String = text.lines().take(2).map(|l| format!("{l}\n")).collect();
    let cut = dir.join("cut.jsonl");
    std::fs::write(&cut, two).unwrap();
    let mut again = 0;
    let resumed =
        evolve(&mut ft, &cfg, &train, &val, &cut, |_, _, f| again += usize::from(f)).unwrap();
    assert_eq!(again, fresh - 2);
    assert_eq!(resumed.history, run.history);
    // The rebuilt file holds the same results (wall-clock timings aside).
    let strip = |t: &str| -> Vec<(Nb201Arch, sotl_estimators::TrainingRecord)> {
        t.lines()
            .map(|l| serde_json::from_str::<CandidateResult>(l).unwrap())
            .map(|r| (r.arch, r.finetune))
            .collect()
    };
    assert_eq!(strip(&std::fs::read_to_string(&cut).unwrap()), strip(&text));
    std::fs::remove_dir_all(&dir).unwrap();
}

fn tempdir(tag: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("sotl-oneshot-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Measures finetune-and-rank's per-candidate cost against `K` plain training steps (forward,
/// `backward()`, libtorch SGD over the path's weights) on the same path and data. Not a check:
/// run with `cargo test --release -p sotl-search finetune_overhead -- --ignored --nocapture`.
#[test]
#[ignore]
fn finetune_overhead() {
    tch::set_num_threads(1);
    let (tr, te) =
        synthetic(&SyntheticConfig { n_train: 2000, n_test: 128, size: 16, noise: 0.5, seed: 1 })
            .unwrap();
    let stats = sotl_data::Normalization::from_data(&tr);
    let train = DeviceImages::new(&tr, &stats, None, Device::Cpu).unwrap();
    let val = DeviceImages::new(&te, &stats, None, Device::Cpu).unwrap();
    tch::manual_seed(0);
    let vs = VarStore::new(Device::Cpu);
    let cfg = Nb201NetConfig {
        channels: 8,
        cells_per_stage: 1,
        num_classes: 10,
        in_channels: 3,
        image_size: 16,
    };
    let net = Nb201PathNet::new(&vs, &cfg).unwrap();
    let arch: Nb201Arch = "|nor_conv_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_3x3~0|avg_pool_3x3~1|nor_conv_3x3~2|".parse().unwrap();
    let k = 100;
    let fcfg = FinetuneConfig {
        steps: k,
        sotl_window: k,
        val_every: 1000,
        mini_val_every: 1000,
        inherited_window: 0,
        ..Default::default()
    };
    let mut ft = Finetuner::new(&net, fcfg, TrainerKind::Spos).unwrap();
    let (mut plain, mut ours, mut total) = (0.0, 0.0, 0.0);
    for _ in 0..3 {
        ft.reset();
        let idx = net.path_indices(&arch);
        let w = net.weights();
        let params: Vec<Tensor> = idx.iter().map(|&i| w[i].shallow_clone()).collect();
        let mut order = Sequential::new(&train, 64, 0, false);
        let t = std::time::Instant::now();
        for _ in 0..k {
            let (x, y) = order.next();
            for p in &params {
                let mut g = p.grad();
                if g.defined() {
                    let _ = g.zero_();
                }
            }
            let loss = net.forward_path(&x, &arch).cross_entropy_for_logits(&y);
            loss.backward();
            let _ = loss.double_value(&[]);
            tch::no_grad(|| {
                for p in &params {
                    let _ = p.shallow_clone().g_sub_(&(p.grad() * 0.01));
                }
            });
        }
        plain += t.elapsed().as_secs_f64();
        let t = std::time::Instant::now();
        let r = ft.finetune(0, &arch, &train, &val).unwrap();
        total += t.elapsed().as_secs_f64();
        ours += r.timing.train_s + r.timing.reset_s;
    }
    println!(
        "K={k}: plain {:.1} ms/step, finetune {:.1} ms/step (overhead {:+.1}%), whole candidate incl. 2 evaluations {:.1} ms/step",
        plain / 3.0 / k as f64 * 1e3,
        ours / 3.0 / k as f64 * 1e3,
        (ours / plain - 1.0) * 100.0,
        total / 3.0 / k as f64 * 1e3
    );
}

/// A search space other than NAS-Bench-201, for the seams: three edges in a chain, each choosing
/// op `a` or `b`; its genotype string is like `a-b-a`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(into = "String", try_from = "String")]
struct Chain([bool; 3]);

impl std::fmt::Display for Chain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ops: Vec<&str> = self.0.iter().map(|&b| if b { "b" } else { "a" }).collect();
        f.write_str(&ops.join("-"))
    }
}

impl std::str::FromStr for Chain {
    type Err = sotl_space::SpaceError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let ops: Vec<&str> = s.split('-').collect();
        let bad = || sotl_space::SpaceError::UnknownOp(s.to_string());
        if ops.len() != 3 {
            return Err(bad());
        }
        let mut g = [false; 3];
        for (k, op) in ops.iter().enumerate() {
            g[k] = match *op {
                "a" => false,
                "b" => true,
                _ => return Err(bad()),
            };
        }
        Ok(Chain(g))
    }
}

impl From<Chain> for String {
    fn from(c: Chain) -> String {
        c.to_string()
    }
}

impl TryFrom<String> for Chain {
    type Error = sotl_space::SpaceError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl sotl_space::Genotype for Chain {}

#[derive(Debug, Clone, Copy)]
struct ChainSpace;

impl sotl_space::SearchSpace for ChainSpace {
    type Genotype = Chain;
    fn name(&self) -> &'static str {
        "chain"
    }
    fn op_names(&self) -> &'static [&'static str] {
        &["a", "b"]
    }
    fn relaxation_shape(&self) -> (usize, usize) {
        (3, 2)
    }
    fn size(&self) -> u128 {
        8
    }
    fn enumerate(&self) -> Option<Box<dyn Iterator<Item = Chain> + '_>> {
        Some(Box::new((0..8u8).map(|i| Chain([i & 1 != 0, i & 2 != 0, i & 4 != 0]))))
    }
    fn sample<R: rand::Rng + ?Sized>(&self, rng: &mut R) -> Chain {
        Chain([rng.gen(), rng.gen(), rng.gen()])
    }
    fn mutate<R: rand::Rng + ?Sized>(&self, g: &Chain, rng: &mut R) -> Chain {
        let mut m = g.clone();
        let e = rng.gen_range(0..3);
        m.0[e] = !m.0[e];
        m
    }
    fn neighbours(&self, g: &Chain) -> Vec<Chain> {
        (0..3)
            .map(|e| {
                let mut m = g.clone();
                m.0[e] = !m.0[e];
                m
            })
            .collect()
    }
    fn discretize(&self, w: &[f64]) -> sotl_space::Result<Chain> {
        Ok(Chain([w[1] > w[0], w[3] > w[2], w[5] > w[4]]))
    }
}

impl sotl_space::CellShape for Chain {
    fn edges(&self) -> usize {
        3
    }
    fn skip_connections(&self) -> usize {
        0
    }
    fn nones(&self) -> usize {
        0
    }
    fn depth(&self) -> usize {
        3
    }
}

/// A linear classifier over the images whose logits are scaled by the chain's op scalars mixed
/// per edge: weight 0 is shared, weight `1 + 2e + op` belongs to op `op` of edge `e`. A
/// [`sotl_nn::Supernet`] of the chain space, so the one-shot code reaches it through
/// [`SupernetPathNet`] and the differentiable searches run over it exactly as over
/// NAS-Bench-201's.
struct ChainNet {
    weights: Vec<Tensor>,
    names: Vec<String>,
}

/// The chain network's hyperparameters.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
struct ChainConfig {
    features: i64,
    classes: i64,
}

const CHAIN: ChainConfig = ChainConfig { features: 192, classes: 10 };

impl ChainNet {
    fn logits(w: &[Tensor], x: &Tensor, mix: &sotl_nn::EdgeMix<Chain>) -> Tensor {
        let op = |e: usize, k: usize| &w[1 + 2 * e + k];
        let scale = match mix {
            sotl_nn::EdgeMix::Path(a) => {
                (0..3).fold(Tensor::from(0.0f32), |s, e| s + op(e, a.0[e] as usize))
            }
            sotl_nn::EdgeMix::WeightedPath(a, m) => (0..3)
                .fold(Tensor::from(0.0f32), |s, e| s + op(e, a.0[e] as usize) * m.get(e as i64)),
            sotl_nn::EdgeMix::Soft(m) => (0..3).fold(Tensor::from(0.0f32), |s, e| {
                s + op(e, 0) * m.get(e as i64).get(0) + op(e, 1) * m.get(e as i64).get(1)
            }),
        };
        x.flatten(1, -1).to_kind(w[0].kind()).matmul(&w[0]) * scale
    }
}

impl sotl_nn::Supernet for ChainNet {
    type Space = ChainSpace;
    type Config = ChainConfig;
    fn build(p: &tch::nn::Path, cfg: &ChainConfig) -> sotl_nn::Result<Self> {
        let mut weights = vec![p.var(
            "w0",
            &[cfg.features, cfg.classes],
            tch::nn::Init::Randn { mean: 0.0, stdev: 0.05 },
        )];
        weights.extend((0..6).map(|i| {
            p.var(&format!("w{}", i + 1), &[], tch::nn::Init::Const(0.2 + 0.1 * i as f64))
        }));
        let names = (0..weights.len()).map(|i| p.path(&format!("w{i}"))).collect();
        Ok(ChainNet { weights, names })
    }
    fn space(&self) -> ChainSpace {
        ChainSpace
    }
    fn forward_mix(&self, x: &Tensor, mix: &sotl_nn::EdgeMix<Chain>, _train: bool) -> Tensor {
        ChainNet::logits(&self.weights, x, mix)
    }
    fn forward_mix_with(
        &self,
        params: &[Tensor],
        x: &Tensor,
        mix: &sotl_nn::EdgeMix<Chain>,
    ) -> Tensor {
        ChainNet::logits(params, x, mix)
    }
    fn weights(&self) -> Vec<Tensor> {
        self.weights.iter().map(Tensor::shallow_clone).collect()
    }
    fn weight_names(&self) -> &[String] {
        &self.names
    }
    fn path_weight_indices(&self, arch: &Chain) -> Vec<usize> {
        let mut v = vec![0];
        v.extend(arch.0.iter().enumerate().map(|(e, &b)| 1 + 2 * e + b as usize));
        v
    }
    fn standalone_param_count(&self, arch: &Chain) -> u64 {
        self.path_weight_indices(arch).iter().map(|&i| self.weights[i].numel() as u64).sum()
    }
}

#[test]
fn differentiable_methods_run_over_another_search_space() {
    use sotl_train::TensorBatches;
    let _lock = sotl_train::torch_rng_lock();
    let (train, val) = tiny_data();
    let batches = |d: &DeviceImages, seed| {
        TensorBatches::new(d.images.shallow_clone(), d.labels.shallow_clone(), 16)
            .unwrap()
            .shuffled(seed)
            .drop_last(true)
            .unwrap()
    };
    let cfg = crate::DartsConfig {
        epochs: 2,
        batch_size: 16,
        unroll_steps: 2,
        eigen_every: 1,
        eigen_batches: 1,
        // The chain network has no partial channels.
        drnas_partial_channels: vec![1],
        ..crate::DartsConfig::default()
    };
    // DrNAS' default partial channels need a supernet that has them: refused by name.
    let pc = crate::DartsConfig { drnas_partial_channels: vec![4, 2], ..cfg.clone() };
    let e = crate::DartsSearch::<ChainNet>::new(
        crate::DartsMethod::Drnas,
        &pc,
        &CHAIN,
        4,
        Device::Cpu,
        Kind::Float,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("partial_channels"), "{e}");
    let dir = tempdir("chain-darts");
    for method in [
        crate::DartsMethod::Darts1,
        crate::DartsMethod::Darts2,
        crate::DartsMethod::Sotl,
        crate::DartsMethod::Drnas,
    ] {
        let run = |resume_after_first: bool| {
            let (mut tr, mut va) = (batches(&train, 1), batches(&val, 2));
            let mut data = crate::SearchSplits { train: &mut tr, val: Some(&mut va) };
            let mk = || {
                crate::DartsSearch::<ChainNet>::new(
                    method,
                    &cfg,
                    &CHAIN,
                    4,
                    Device::Cpu,
                    Kind::Float,
                )
                .unwrap()
            };
            let mut s = mk();
            assert_eq!(s.alpha().size(), [3, 2], "alpha takes the space's relaxation shape");
            s.run_epoch(&mut data, &mut |_| {}).unwrap();
            if resume_after_first {
                let ck = dir.join(format!("{method}.ckpt"));
                s.save(&ck).unwrap();
                s = crate::DartsSearch::<ChainNet>::resume(
                    &ck,
                    method,
                    &cfg,
                    &CHAIN,
                    4,
                    Device::Cpu,
                    Kind::Float,
                )
                .unwrap();
            }
            s.run_epoch(&mut data, &mut |_| {}).unwrap();
            s.outcome().unwrap()
        };
        let out = run(false);
        assert_eq!(out.trajectory.len(), 2, "{method}");
        for p in &out.trajectory {
            assert_eq!(p.op_weights.len(), 3);
            for row in &p.op_weights {
                assert_eq!(row.len(), 2);
                assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-5, "{method}: {row:?}");
            }
            // The genotype is the space's argmax of the recorded weights.
            let want = Chain([0, 1, 2].map(|e| p.op_weights[e][1] > p.op_weights[e][0]));
            assert_eq!(p.genotype, want, "{method}");
            assert!(p.eigenvalue.is_some_and(f64::is_finite), "{method}: Hessian eigenvalue");
        }
        assert_eq!(out.genotype, out.trajectory[1].genotype);
        // A checkpoint of this space's search resumes exactly.
        let resumed = run(true);
        let rows = |o: &crate::SearchOutcome<Chain>| -> Vec<Vec<Vec<f64>>> {
            o.trajectory.iter().map(|p| p.op_weights.clone()).collect()
        };
        assert_eq!(rows(&resumed), rows(&out), "{method}: resumed run diverged");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn finetune_and_rank_run_over_another_search_space() {
    let (train, val) = tiny_data();
    let vs = VarStore::new(Device::Cpu);
    let net = {
        let _lock = sotl_train::torch_rng_lock();
        tch::manual_seed(3);
        let chain = <ChainNet as sotl_nn::Supernet>::build(&vs.root(), &CHAIN).unwrap();
        // Its variable store holds only trainable weights, so it has no buffers.
        SupernetPathNet::from_supernet(&vs, chain)
    };
    // A one-hot soft mix of a path computes that path's logits.
    let x = train.images.narrow(0, 0, 4);
    let a: Chain = "b-a-b".parse().unwrap();
    let one_hot = Tensor::from_slice(&[0.0f32, 1.0, 1.0, 0.0, 0.0, 1.0]).view([3, 2]);
    let soft =
        sotl_nn::Supernet::forward_mix(&net.supernet, &x, &sotl_nn::EdgeMix::Soft(one_hot), true);
    assert!(soft.allclose(&net.forward_path(&x, &a), 1e-6, 1e-6, false));
    // Pools are drawn from the space: distinct genotypes, at most the space's size.
    let drawn = FinetunePool::sample_from(&ChainSpace, 8, 5).unwrap();
    let distinct: std::collections::HashSet<&Chain> = drawn.archs.iter().collect();
    assert_eq!(distinct.len(), 8, "the whole space, each cell once");
    assert_eq!(FinetunePool::sample_from(&ChainSpace, 8, 5).unwrap(), drawn, "seeded");
    let e = FinetunePool::sample_from(&ChainSpace, 9, 5).unwrap_err().to_string();
    assert!(e.contains("pool.size") && e.contains("1..=8") && e.contains("chain"), "{e}");
    let archs: Vec<Chain> =
        ["a-a-a", "b-a-b", "b-b-b"].iter().map(|s| s.parse().unwrap()).collect();
    let pool = FinetunePool { seed: 0, archs: archs.clone() };
    let mut ft = Finetuner::new(&net, tiny_finetune(), TrainerKind::Spos).unwrap();
    let dir = tempdir("chain");
    let path = dir.join("results.jsonl");
    let first = finetune_pool(&mut ft, &pool, &train, &val, &path, |_, _, _| {}).unwrap();
    assert_eq!(first.iter().map(|r| r.arch.clone()).collect::<Vec<_>>(), archs);
    // Each path's parameter count: the shared matrix plus its three op scalars.
    assert!(first.iter().all(|r| r.param_count == 192 * 10 + 3));
    let log = std::fs::read_to_string(&path).unwrap();
    assert!(log.lines().next().unwrap().contains("\"arch\":\"a-a-a\""), "{log}");
    // A kill after the first candidate: the rerun keeps it and finetunes the rest again,
    // identically.
    std::fs::write(&path, format!("{}\n", log.lines().next().unwrap())).unwrap();
    let resumed = finetune_pool(&mut ft, &pool, &train, &val, &path, |_, _, _| {}).unwrap();
    assert_eq!(resumed[0], first[0], "the kept candidate, timing included, comes from the log");
    let records = |rs: &[CandidateResult<Chain>]| -> Vec<_> {
        rs.iter().map(|r| (r.arch.clone(), r.finetune.clone(), r.inherited.clone())).collect()
    };
    assert_eq!(records(&resumed), records(&first));
    // Ranking and ground truth take the space's genotypes.
    let row = TableRow { metric: RankMetric::Sotl, phase: Phase::Finetuned(3) };
    let order = rank_by(&first, &row, 3).unwrap();
    assert_eq!(order.len(), 3);
    let truth = |g: &Chain| Some(g.0.iter().filter(|&&b| b).count() as f64);
    assert_eq!(ground_truth(&first, &truth).unwrap(), [0.0, 2.0, 3.0]);
    // Regularized evolution over the same space: 6 evaluations of chain genotypes, each distinct
    // cell finetuned once, the pick the fittest evaluated.
    let evo = EvolutionConfig { population: 3, sample_size: 2, budget: 6, seed: 1 };
    let run =
        evolve(&mut ft, &evo, &train, &val, &dir.join("evolution.jsonl"), |_, _, _| {}).unwrap();
    assert_eq!(run.history.len(), 6);
    let distinct: std::collections::HashSet<&Chain> = run.history.iter().map(|e| &e.arch).collect();
    assert_eq!(run.results.len(), distinct.len());
    let best = run.history.iter().map(|e| e.value).fold(f64::MIN, f64::max);
    assert_eq!(run.history[run.best].value, best);
    assert!(distinct.contains(&run.chosen()));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn score_ranking_matches_hand_computed_correlations() {
    // Scores 1..4 against truth 1,2,4,3: one swapped pair. Spearman = 1 - 6*2/(4*15) = 0.8;
    // Kendall tau = (5 concordant - 1 discordant)/6 = 2/3; the top 2 by score are truth 4 and 3.
    let scores = [1.0, 2.0, 3.0, 4.0];
    let truth = [1.0, 2.0, 4.0, 3.0];
    let params = [4.0, 3.0, 2.0, 1.0];
    let r = ScoreRanking::compute("x", &scores, &truth, &params, 2).unwrap();
    assert!((r.summary.spearman - 0.8).abs() < 1e-12, "{r:?}");
    assert!((r.summary.kendall_tau - 2.0 / 3.0).abs() < 1e-12, "{r:?}");
    assert!((r.summary.top_k_mean - 3.5).abs() < 1e-12, "{r:?}");
    assert!((r.spearman_vs_params.unwrap() + 1.0).abs() < 1e-12, "{r:?}");
    let ci = r.spearman_ci.unwrap();
    assert!(ci.lo <= 0.8 && 0.8 <= ci.hi && ci.hi <= 1.0, "{ci:?}");
    let md = ScoreRanking::markdown(&[r]);
    assert!(md.contains("| x | 4 | 0.80 ["), "{md}");
    // Constant scores have no Spearman: an error naming the score, not a NaN row.
    let e = ScoreRanking::compute("flat", &[1.0; 4], &truth, &params, 2).unwrap_err();
    assert!(e.to_string().contains("flat"), "{e}");
}

#[test]
fn pool_picks_rank_by_hand_computed_scores_without_ground_truth() {
    use sotl_estimators::StepRecord;
    // Four candidates, two finetuning steps each. SoTL over the window of 2:
    //   c0: 1.0 + 0.5 = 1.5, c1: 0.8 + 0.4 = 1.2, c2: 2.0 + 1.0 = 3.0, c3: 0.3 + 0.6 = 0.9,
    // so SoTL (lowest first) picks 3, 1, 0, 2. Parameter counts 30, 20, 10, 40 rank 3, 0, 1, 2:
    // rank differences against SoTL's (0, 1, 1, 0) give Spearman 1 - 6 * 2 / (4 * 15) = 0.8.
    let losses = [[1.0, 0.5], [0.8, 0.4], [2.0, 1.0], [0.3, 0.6]];
    let params = [30u64, 20, 10, 40];
    let arch = |i: usize| Nb201Arch::new([Nb201Op::ALL[i]; sotl_space::nb201::NB201_EDGES]);
    let results: Vec<CandidateResult> = (0..4)
        .map(|i| CandidateResult {
            index: i,
            arch: arch(i),
            param_count: params[i],
            finetune: sotl_estimators::TrainingRecord {
                steps: losses[i]
                    .iter()
                    .enumerate()
                    .map(|(s, &l)| StepRecord {
                        step: s,
                        epoch: 0,
                        train_loss: l,
                        train_acc: None,
                        grad_sum: None,
                        grad_l1: None,
                        grad_acc_l1: None,
                    })
                    .collect(),
                vals: Vec::new(),
                steps_per_epoch: 2,
                param_count: Some(params[i]),
            },
            inherited: sotl_estimators::TrainingRecord {
                param_count: Some(params[i]),
                ..Default::default()
            },
            timing: CandidateTiming::default(),
        })
        .collect();
    let settings = ReportSettings { sotl_window: 2, steps: 2, k: 3, curve_every: 1 };
    let picks = PoolPicks::compute(TrainerKind::Spos, 4, &results, &settings).unwrap();
    let sotl = &picks.rows[0];
    assert_eq!(sotl.row, TableRow { metric: RankMetric::Sotl, phase: Phase::Finetuned(2) });
    assert_eq!(sotl.top.iter().map(|p| p.index).collect::<Vec<_>>(), [3, 1, 0]);
    assert!((sotl.top[0].score + 0.9).abs() < 1e-12, "SoTL is negated: {}", sotl.top[0].score);
    assert!((sotl.spearman_with_sotl.unwrap() - 1.0).abs() < 1e-12);
    assert_eq!(picks.choice().unwrap().arch, arch(3).to_string());
    let p = picks.rows.iter().find(|r| r.row.metric == RankMetric::Params).unwrap();
    assert_eq!(p.top.iter().map(|p| p.index).collect::<Vec<_>>(), [3, 0, 1]);
    assert!((p.spearman_with_sotl.unwrap() - 0.8).abs() < 1e-12, "{:?}", p.spearman_with_sotl);
    // TLMini after 2 steps reads the last losses 0.5, 0.4, 1.0, 0.6: picks 1, 0, 3.
    let tl = picks
        .rows
        .iter()
        .find(|r| r.row == TableRow { metric: RankMetric::TlMini, phase: Phase::Finetuned(2) })
        .unwrap();
    assert_eq!(tl.top.iter().map(|p| p.index).collect::<Vec<_>>(), [1, 0, 3]);
    // Validation rows had no evaluations: empty, with the reason, never a made-up pick.
    let v = picks.rows.iter().find(|r| matches!(r.row.metric, RankMetric::ValAcc(_))).unwrap();
    assert!(v.top.is_empty() && v.note.is_some(), "{v:?}");
    let md = picks.to_markdown();
    assert!(md.contains("Choice (lowest SoTL): candidate 3"), "{md}");
    assert!(md.contains("| Params | 0.80 | 3 |"), "{md}");
    assert!(PoolPicks::compute::<Nb201Arch>(TrainerKind::Spos, 0, &[], &settings).is_err());
}

#[test]
fn train_on_all_trains_on_both_halves_and_only_with_methods_that_never_validate() {
    let (full, _) =
        synthetic(&SyntheticConfig { n_train: 100, n_test: 8, size: 8, noise: 0.5, seed: 2 })
            .unwrap();
    let halves = DataConfig { source: DataSource::Synthetic, ..DataConfig::default() };
    let (tr, va) = prepare_data(&full, &halves, Device::Cpu).unwrap();
    assert_eq!((tr.len(), va.len()), (50, 50));
    let all = DataConfig { train_on_all: true, ..halves };
    let (tr, va) = prepare_data(&full, &all, Device::Cpu).unwrap();
    assert_eq!((tr.len(), va.len()), (100, 50), "every image trains; the valid half stays");
    let e = prepare_data(&full, &DataConfig { n_train: 10, ..all }, Device::Cpu).unwrap_err();
    assert!(e.to_string().contains("n_train must be 0"), "{e}");
    // One-shot ranking evaluates on the valid half: refused.
    let cfg = OneShotConfig { data: all, ..OneShotConfig::default() };
    assert!(cfg.validate().unwrap_err().to_string().contains("train_on_all"));
    // A darts run: SoTL never reads validation data, DARTS does.
    let mut run = crate::DartsRunConfig {
        methods: vec![crate::DartsMethod::Sotl],
        data: all,
        ..crate::DartsRunConfig::default()
    };
    run.validate().unwrap();
    run.methods.push(crate::DartsMethod::Darts1);
    let e = run.validate().unwrap_err().to_string();
    assert!(e.contains("darts1 reads validation images"), "{e}");
}
