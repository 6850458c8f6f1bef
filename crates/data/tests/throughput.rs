//! An ignored measurement: images/s of the batched crop+flip against a per-image loop
//! (`cargo test --release --workspace --test throughput -- --ignored --nocapture`). The whole
//! minibatch pipeline is timed by `sotl-nas perf nb201`'s `data` row.

use std::time::Instant;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sotl_data::{synthetic, SyntheticConfig};
use tch::{Kind, Tensor};

/// The obvious version: crop and flip each image separately.
fn per_image(x: &Tensor, pad: i64, rng: &mut ChaCha8Rng) -> Tensor {
    let (b, _, h, w) = x.size4().unwrap();
    let p = x.constant_pad_nd([pad, pad, pad, pad]);
    let imgs: Vec<Tensor> = (0..b)
        .map(|i| {
            let c = p.get(i).narrow(1, rng.gen_range(0..=2 * pad), h).narrow(
                2,
                rng.gen_range(0..=2 * pad),
                w,
            );
            if rng.gen_bool(0.5) {
                c.flip([2])
            } else {
                c
            }
        })
        .collect();
    Tensor::stack(&imgs, 0)
}

#[test]
#[ignore = "measurement; run with --ignored --nocapture"]
fn report_cpu_images_per_second() {
    // One intra-op thread: the numbers then do not depend on how busy the other core is.
    if let Some(t) = std::env::var("SOTL_BENCH_THREADS").ok().and_then(|t| t.parse().ok()) {
        tch::set_num_threads(t);
    }
    let (tr, _) =
        synthetic(&SyntheticConfig { n_train: 256, n_test: 10, ..SyntheticConfig::default() })
            .unwrap();
    let x = tr.images.narrow(0, 0, 256);
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let reps = 40;
    let t0 = Instant::now();
    for _ in 0..reps {
        let _ = sotl_data::random_crop_flip(&x, 4, true, &mut rng).to_kind(Kind::Float);
    }
    let batched = (reps * 256) as f64 / t0.elapsed().as_secs_f64();
    let t0 = Instant::now();
    for _ in 0..reps {
        let _ = per_image(&x, 4, &mut rng).to_kind(Kind::Float);
    }
    let looped = (reps * 256) as f64 / t0.elapsed().as_secs_f64();
    eprintln!("crop+flip of 256 images: batched gather {batched:.0} images/s, per-image loop {looped:.0} images/s");
}
