//! Tests of the one-shot module on a tiny hand-checkable model and a tiny NAS-Bench-201 supernet.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use sotl_data::{synthetic, SyntheticConfig};
use sotl_nn::Nb201NetConfig;
use sotl_space::{Nb201Arch, Nb201Op};
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

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
        (Trainer::Reptile { inner_steps: 2, outer_lr: eps }, 0.0),
        (Trainer::Metaprox { inner_steps: 2, outer_lr: eps, lambda }, lambda),
    ] {
        let net = Toy::new();
        let theta0 = snapshot(&net.weights());
        let batches = vec![toy_batch(1), toy_batch(2)];
        let arch = uniform_path(&mut ChaCha8Rng::seed_from_u64(5));
        let mut state = TrainerState::new(trainer, &net, plain_sgd());
        let stats = state.step(&net, &batches, lr, &mut ChaCha8Rng::seed_from_u64(5), 0).unwrap();
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
    let archs = uniform_paths(&mut ChaCha8Rng::seed_from_u64(11), 3);
    let mut state = TrainerState::new(Trainer::MultiPath { paths: 3 }, &net, plain_sgd());
    let stats = state
        .step(
            &net,
            &[(x.shallow_clone(), y.shallow_clone())],
            lr,
            &mut ChaCha8Rng::seed_from_u64(11),
            0,
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
    let mut state = TrainerState::new(Trainer::FairNas, &net, plain_sgd());
    let stats =
        state.step(&net, &[toy_batch(4)], 0.5, &mut ChaCha8Rng::seed_from_u64(2), 0).unwrap();
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
    let stats = ChannelStats::of(&tr);
    (
        DeviceImages::new(&tr, &stats, None, Device::Cpu).unwrap(),
        DeviceImages::new(&te, &stats, None, Device::Cpu).unwrap(),
    )
}

fn tiny_net(seed: i64) -> (VarStore, Nb201PathNet) {
    tch::manual_seed(seed);
    let vs = VarStore::new(Device::Cpu);
    let net = Nb201PathNet::new(&vs, &tiny_cfg()).unwrap();
    (vs, net)
}

fn tiny_train(kind: TrainerKind) -> SupernetTrainConfig {
    SupernetTrainConfig {
        trainer: TrainerConfig {
            paths: 2,
            inner_steps: 2,
            outer_lr: 0.7,
            ..TrainerConfig::of(kind)
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
            let s = ra.step(&train).unwrap();
            assert!(s.loss.is_finite(), "{kind}: loss {}", s.loss);
        }
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
    let mut ft = Finetuner::new(&net, tiny_finetune()).unwrap();
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
    let mut ft = Finetuner::new(&net, tiny_finetune()).unwrap();
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
    // Candidates whose SoTL is exactly the reverse of their ground truth, so SoTL has Spearman 1.
    let (train, val) = tiny_data();
    let (_vs, net) = tiny_net(7);
    let mut ft = Finetuner::new(&net, tiny_finetune()).unwrap();
    let pool = FinetunePool::sample(4, 1).unwrap();
    let results: Vec<CandidateResult> = pool
        .archs
        .iter()
        .enumerate()
        .map(|(i, a)| ft.finetune(i, a, &train, &val).unwrap())
        .collect();
    let sotl = TableRow { metric: RankMetric::Sotl, phase: Phase::Finetuned(3) };
    let scores = sotl.scores(&results, 3).unwrap();
    let truth_of = |a: &Nb201Arch| {
        let i = pool.archs.iter().position(|p| p == a)?;
        Some(90.0 + scores[i])
    };
    let settings = ReportSettings { sotl_window: 3, steps: 6, k: 2, curve_every: 2 };
    let run = rank_report(TrainerKind::Spos, 0, &results, &truth_of, &settings).unwrap();
    let row = run.rows.iter().find(|r| r.row == sotl).unwrap();
    let s = row.summary.unwrap();
    assert!((s.spearman - 1.0).abs() < 1e-12 && (s.kendall_tau - 1.0).abs() < 1e-12);
    let mut best: Vec<f64> = scores.iter().map(|s| 90.0 + s).collect();
    best.sort_by(|a, b| b.total_cmp(a));
    assert!((s.top_k_mean - (best[0] + best[1]) / 2.0).abs() < 1e-9);
    // The SoTL curve at t = 3 is the same number.
    let c = run.curves.iter().find(|c| c.metric == RankMetric::Sotl).unwrap();
    let k = c.steps.iter().position(|&t| t == 4).unwrap();
    assert!(c.spearman[k].is_finite());
    let table = SummaryTable::from_runs(&[run.clone(), RunRanking { seed: 1, ..run }]);
    let md = table.to_markdown();
    assert!(md.contains("| SoTL (ft 3) | 1.00 (0.00)"), "{md}");
    assert!(table.to_csv().lines().count() > 1);
    // Missing ground truth is an error, not a silently smaller table.
    let none = |_: &Nb201Arch| None;
    assert!(rank_report(TrainerKind::Spos, 0, &results, &none, &settings).is_err());
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
    let stats = ChannelStats::of(&tr);
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
    let mut ft = Finetuner::new(&net, fcfg).unwrap();
    let (mut plain, mut ours, mut total) = (0.0, 0.0, 0.0);
    for _ in 0..3 {
        ft.reset();
        let idx = net.path_indices(&arch);
        let w = net.weights();
        let params: Vec<Tensor> = idx.iter().map(|&i| w[i].shallow_clone()).collect();
        let mut order = BatchOrder::new(train.len(), 64, 0).unwrap();
        let t = std::time::Instant::now();
        for _ in 0..k {
            let (x, y) = order.next_batch(&train);
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
