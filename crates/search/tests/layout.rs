//! The channels-last CPU layout (`sotl_nn::CpuLayout`) is a speed-up only: finetune-and-rank and
//! the soft-mixed supernets give the same results in both layouts, up to float rounding.
//!
//! One test in this file: the layout is a process-wide setting, and the tests of one file share a
//! process.

use sotl_data::{synthetic, Normalization, SyntheticConfig};
use sotl_nn::{
    set_cpu_layout, CpuLayout, DartsNetConfig, DartsSupernet, EdgeMix, Nb201NetConfig,
    Nb201Supernet, Supernet,
};
use sotl_search::oneshot::{FinetuneConfig, FinetunePool, Finetuner, Nb201PathNet, TrainerKind};
use sotl_space::darts::DARTS_CELL_EDGES;
use sotl_train::DeviceImages;
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

/// Per-candidate step losses of a small finetune-and-rank, from the same seeded supernet.
fn finetune_losses(layout: CpuLayout) -> Vec<Vec<f64>> {
    set_cpu_layout(layout);
    let (tr, te) =
        synthetic(&SyntheticConfig { n_train: 640, n_test: 64, size: 16, noise: 0.5, seed: 3 })
            .unwrap();
    let norm = Normalization::from_data(&tr);
    let train = DeviceImages::new(&tr, &norm, None, Device::Cpu).unwrap();
    let val = DeviceImages::new(&te, &norm, None, Device::Cpu).unwrap();
    tch::manual_seed(7);
    let vs = VarStore::new(Device::Cpu);
    let cfg =
        Nb201NetConfig { channels: 8, cells_per_stage: 1, image_size: 16, ..Default::default() };
    let net = Nb201PathNet::new(&vs, &cfg).unwrap();
    let fcfg = FinetuneConfig {
        steps: 20,
        batch_size: 32,
        sotl_window: 20,
        val_every: 20,
        mini_val_every: 20,
        inherited_window: 0,
        ..Default::default()
    };
    let mut ft = Finetuner::new(&net, fcfg, TrainerKind::Spos).unwrap();
    let pool = FinetunePool::sample(8, 11).unwrap();
    pool.archs
        .iter()
        .enumerate()
        .map(|(k, a)| {
            let r = ft.finetune(k, a, &train, &val).unwrap();
            r.finetune.steps.iter().map(|s| s.train_loss).collect()
        })
        .collect()
}

fn max_abs_diff(a: &Tensor, b: &Tensor) -> f64 {
    f64::try_from((a - b).abs().max()).unwrap()
}

/// Train-mode logits and input gradients of soft-mixed NB201 (with PC-DARTS partial channels,
/// whose channel shuffle copies) and DARTS-space supernets.
fn soft_outputs(layout: CpuLayout) -> Vec<Tensor> {
    set_cpu_layout(layout);
    tch::manual_seed(5);
    let x = Tensor::randn([4, 3, 16, 16], (Kind::Float, Device::Cpu)).set_requires_grad(true);
    let vs = VarStore::new(Device::Cpu);
    let cfg =
        Nb201NetConfig { channels: 8, cells_per_stage: 1, image_size: 16, ..Default::default() };
    let nb201 = Nb201Supernet::with_partial_channels(&vs.root(), &cfg, 2).unwrap();
    let w = Tensor::rand([6, 5], (Kind::Float, Device::Cpu)).softmax(-1, Kind::Float);
    let a = nb201.forward_mix(&x, &EdgeMix::Soft(w), true);
    let dcfg = DartsNetConfig { channels: 4, layers: 3, image_size: 16, ..Default::default() };
    let darts = DartsSupernet::new(&vs.root().sub("darts"), &dcfg).unwrap();
    let (rows, cols) = (2 * DARTS_CELL_EDGES as i64, dcfg.ops.ops().len() as i64);
    let w = Tensor::rand([rows, cols], (Kind::Float, Device::Cpu)).softmax(-1, Kind::Float);
    let b = darts.forward_mix(&x, &EdgeMix::Soft(w), true);
    let gx =
        Tensor::run_backward(&[(&a.sum(Kind::Float) + b.sum(Kind::Float))], &[&x], false, false);
    vec![a.detach(), b.detach(), gx[0].shallow_clone()]
}

#[test]
fn channels_last_gives_the_contiguous_layouts_results() {
    tch::set_num_threads(1);
    let soft_cl = soft_outputs(CpuLayout::ChannelsLast);
    let soft_nchw = soft_outputs(CpuLayout::Contiguous);
    for (k, (a, b)) in soft_cl.iter().zip(&soft_nchw).enumerate() {
        let scale = f64::try_from(b.abs().max()).unwrap().max(1.0);
        assert!(
            max_abs_diff(a, b) < 1e-5 * scale,
            "soft output {k} differs by {}",
            max_abs_diff(a, b)
        );
    }

    let cl = finetune_losses(CpuLayout::ChannelsLast);
    let nchw = finetune_losses(CpuLayout::Contiguous);
    set_cpu_layout(CpuLayout::default());
    for (k, (a, b)) in cl.iter().zip(&nchw).enumerate() {
        assert_eq!(a.len(), 20);
        // The first step sees the same weights: only the kernels' summation order differs.
        assert!((a[0] - b[0]).abs() < 1e-5, "candidate {k} step 0: {} vs {}", a[0], b[0]);
        // Then SGD carries the rounding on and can amplify it (about 10x a step early on for
        // one of these cells at this tiny size), as a change of thread count does too; the sum
        // over the window, what the ranking reads, stays close.
        for (s, (x, y)) in a.iter().zip(b).enumerate() {
            assert!((x - y).abs() < 0.05, "candidate {k} step {s}: {x} vs {y}");
        }
        let (sa, sb) = (a.iter().sum::<f64>(), b.iter().sum::<f64>());
        assert!((sa - sb).abs() < 2e-3 * sb, "candidate {k}: SoTL {sa} vs {sb}");
    }
    // The ranking by SoTL (the sum of the step losses) is the same in both layouts.
    let rank = |ls: &[Vec<f64>]| {
        let scores: Vec<f64> = ls.iter().map(|l| l.iter().sum()).collect();
        let mut idx: Vec<usize> = (0..scores.len()).collect();
        idx.sort_by(|&i, &j| scores[i].total_cmp(&scores[j]));
        idx
    };
    assert_eq!(rank(&cl), rank(&nchw));
}
