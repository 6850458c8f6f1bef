//! Loader throughput: a quick sanity test, and an ignored measurement that prints images/s of the
//! batched crop+flip against a per-image loop (`cargo test --release -p sotl-data --test
//! throughput -- --ignored --nocapture`).

use std::time::Instant;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sotl_data::{
    measure_throughput, synthetic, Augment, Loader, LoaderConfig, Normalization, SyntheticConfig,
};
use tch::{Kind, Tensor};

#[test]
fn throughput_counts_batches_and_images() {
    let (tr, _) =
        synthetic(&SyntheticConfig { n_train: 100, n_test: 10, ..SyntheticConfig::default() })
            .unwrap();
    let all: Vec<i64> = (0..100).collect();
    let l = Loader::new(
        &tr,
        &all,
        LoaderConfig::train(32, 0, Augment::cifar(), Normalization::synthetic()),
    )
    .unwrap();
    // 3 batches per epoch (drop_last): 7 batches wrap into a third epoch.
    let t = measure_throughput(&l, 7).unwrap();
    assert_eq!((t.batches, t.images), (7, 7 * 32));
    assert!(t.images_per_sec > 0.0);
    assert!(measure_throughput(&l, 0).is_err());
}

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
        synthetic(&SyntheticConfig { n_train: 10_000, n_test: 10, ..SyntheticConfig::default() })
            .unwrap();
    let all: Vec<i64> = (0..10_000).collect();
    for (bs, aug) in [
        (64, Augment::cifar()),
        (256, Augment::cifar()),
        (256, Augment { cutout: Some(16), ..Augment::cifar() }),
        (256, Augment::none()),
    ] {
        let l = Loader::new(&tr, &all, LoaderConfig::train(bs, 0, aug, Normalization::synthetic()))
            .unwrap();
        let t = measure_throughput(&l, 10_000 / bs * 2).unwrap();
        eprintln!(
            "loader batch {bs} {aug:?}: {:.0} images/s ({} images in {:.2} s, {} threads)",
            t.images_per_sec,
            t.images,
            t.seconds,
            tch::get_num_threads()
        );
    }
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
