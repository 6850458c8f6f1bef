//! Times one training step of the NAS-Bench-201 supernet (single path) and of a standalone network
//! at C=16, N=5, batch 64 on CPU with 2 threads, the setting of `../shared/bench/` (whose PyTorch
//! reference measured spos ~680-890 ms, finetune ~1000 ms, standalone_train ~920 ms per step on a
//! 2-core VM). Replays the reference run's `sampled_archs` for the spos row.
//!
//! Run: `cargo run --release -p sotl-nn --example step_timing [-- REFERENCE_JSON [THREADS [WARMUP]]]`
//! (defaults `../shared/bench/results/pytorch-nb201-cpu.json`, 2 threads, 3 warm-up steps; the
//! timed steps are the JSON's remaining `sampled_archs`). Prints ms/step per row.

use std::time::Instant;

use sotl_nn::{EdgeMix, Nb201NetConfig, Nb201Network, Nb201Supernet};
use sotl_space::Nb201Arch;
use tch::nn::{OptimizerConfig, Sgd, VarStore};
use tch::{Device, Kind, Tensor};

const FIXED: &str =
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|none~1|+|nor_conv_1x1~0|avg_pool_3x3~1|nor_conv_3x3~2|";

fn stats(name: &str, ms: &[f64]) {
    let mut s = ms.to_vec();
    s.sort_by(f64::total_cmp);
    let mean = ms.iter().sum::<f64>() / ms.len() as f64;
    println!(
        "{name:<18} median {:7.1} ms  mean {:7.1} ms  min {:7.1} ms  ({} steps)",
        s[s.len() / 2],
        mean,
        s[0],
        ms.len()
    );
}

fn main() -> anyhow::Result<()> {
    let arg = |i: usize, default: usize| {
        std::env::args().nth(i).and_then(|v| v.parse().ok()).unwrap_or(default)
    };
    tch::set_num_threads(arg(2, 2) as i32);
    let default_json = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/bench/results/pytorch-nb201-cpu.json"
    );
    let json_path = std::env::args().nth(1).unwrap_or_else(|| default_json.to_string());
    let archs: Vec<Nb201Arch> = match std::fs::read_to_string(&json_path) {
        Ok(text) => {
            let v: serde_json::Value = serde_json::from_str(&text)?;
            v["results"]["spos"]["sampled_archs"]
                .as_array()
                .map(|a| a.iter().filter_map(|s| s.as_str()?.parse().ok()).collect())
                .unwrap_or_default()
        }
        Err(_) => Vec::new(),
    };
    anyhow::ensure!(!archs.is_empty(), "no sampled_archs found in {json_path}");
    let warmup = arg(3, 3).min(archs.len() - 1);
    let steps = archs.len() - warmup;
    tch::manual_seed(0);
    let x = Tensor::randn([64, 3, 32, 32], (Kind::Float, Device::Cpu));
    let y = Tensor::randint(10, [64], (Kind::Int64, Device::Cpu));
    let cfg = Nb201NetConfig::default();

    let vs = VarStore::new(Device::Cpu);
    let sn = Nb201Supernet::new(&vs.root(), &cfg)?;
    let mut opt =
        Sgd { momentum: 0.9, dampening: 0.0, wd: 5e-4, nesterov: true }.build(&vs, 0.025)?;
    let mut spos_step = |a: &Nb201Arch| {
        let t = Instant::now();
        let loss = sn.forward(&x, &EdgeMix::Path(*a)).cross_entropy_for_logits(&y);
        opt.backward_step_clip_norm(&loss, 5.0);
        let _ = loss.double_value(&[]);
        t.elapsed().as_secs_f64() * 1e3
    };
    let ms: Vec<f64> = archs.iter().map(&mut spos_step).skip(warmup).collect();
    stats("spos (replayed)", &ms);
    let fixed: Nb201Arch = FIXED.parse()?;
    let ms: Vec<f64> = (0..warmup + steps).map(|_| spos_step(&fixed)).skip(warmup).collect();
    stats("finetune", &ms);

    let vs2 = VarStore::new(Device::Cpu);
    let net = Nb201Network::new(&vs2.root(), &fixed, &cfg)?;
    let mut opt2 =
        Sgd { momentum: 0.9, dampening: 0.0, wd: 5e-4, nesterov: true }.build(&vs2, 0.1)?;
    let ms: Vec<f64> = (0..warmup + steps)
        .map(|_| {
            let t = Instant::now();
            let loss = net.forward_t(&x, true).cross_entropy_for_logits(&y);
            opt2.backward_step(&loss);
            let _ = loss.double_value(&[]);
            t.elapsed().as_secs_f64() * 1e3
        })
        .skip(warmup)
        .collect();
    stats("standalone_train", &ms);
    let ms: Vec<f64> = (0..warmup + steps)
        .map(|_| {
            let t = Instant::now();
            let loss = tch::no_grad(|| net.forward_t(&x, false).cross_entropy_for_logits(&y));
            let _ = loss.double_value(&[]);
            t.elapsed().as_secs_f64() * 1e3
        })
        .skip(warmup)
        .collect();
    stats("standalone_eval", &ms);
    Ok(())
}
