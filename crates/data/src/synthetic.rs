//! A generated image dataset, deterministic from a seed, for runs without any dataset on disk.
//!
//! # Construction
//! Ten classes of RGB images (`size` x `size`, default 32). Class `c` is a stripe texture with
//! orientation `θ = (c mod 5) · 36°` and period `λ = 4` pixels for classes 0-4, `8` for 5-9. Each
//! image draws, from its own seeded generator:
//! - a random phase (the stripes shift by up to one period),
//! - a square window of side `size/2 ..= 3·size/4` at a random place: the class texture fills it
//!   at full amplitude, the rest of the image carries a distractor texture of random orientation
//!   and period at 0.3 of that amplitude,
//! - per-channel gains in `[0.4, 1]` and offsets in `[-0.2, 0.2]` (colour says nothing about the
//!   class), and a contrast in `[0.5, 1]`,
//! - independent pixel noise (sum of four uniforms, std `noise` in units of the texture's
//!   amplitude 64 grey levels).
//!
//! Pixel = `clamp(128 + 64 · (offset_ch + gain_ch · contrast · texture) + noise)`.
//!
//! Why architecture matters: the class is carried by local orientation and frequency only.
//! Global averages of the pixels carry none of it (random phase; colour independent of class), so
//! a network that mostly pools and skips sees little, while stacked convolutions build the
//! oriented, frequency-selective filters the classes need, and must find the window among
//! distractors. The tests check the two ends: per-channel means classify at chance, fixed
//! oriented filters classify well.

use std::f32::consts::PI;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

use crate::dataset::Dataset;
use crate::error::{DataError, Result};

/// Parameters of the synthetic dataset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SyntheticConfig {
    /// Training images.
    pub n_train: usize,
    /// Test images.
    pub n_test: usize,
    /// Image side in pixels (at least 8).
    pub size: usize,
    /// Pixel noise std, relative to the texture amplitude (0 = none).
    pub noise: f32,
    /// Seed: the same seed gives the same images, bit for bit.
    pub seed: u64,
}

impl Default for SyntheticConfig {
    fn default() -> Self {
        SyntheticConfig { n_train: 10_000, n_test: 2_000, size: 32, noise: 1.0, seed: 0 }
    }
}

/// The number of classes.
pub const SYNTHETIC_CLASSES: usize = 10;

/// Class `c`'s (orientation in radians, period in pixels).
pub fn synthetic_class_texture(c: usize) -> (f32, f32) {
    ((c % 5) as f32 * PI / 5.0, if c < 5 { 4.0 } else { 8.0 })
}

/// Approximately standard normal noise: the sum of four uniforms, rescaled (cheap and portable).
fn noise(rng: &mut ChaCha8Rng) -> f32 {
    let s: f32 = (0..4).map(|_| rng.gen::<f32>()).sum();
    (s - 2.0) * 3f32.sqrt()
}

/// Generates `n` images of split stream `stream`.
fn generate(cfg: &SyntheticConfig, n: usize, stream: u64, name: &str) -> Result<Dataset> {
    let s = cfg.size;
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    rng.set_stream(stream);
    let plane = s * s;
    let mut px = vec![0u8; n * 3 * plane];
    let mut labels = Vec::with_capacity(n);
    let mut tex = vec![0f32; plane];
    for (k, img) in px.chunks_exact_mut(3 * plane).enumerate() {
        let c = k % SYNTHETIC_CLASSES;
        labels.push(c as i64);
        let (theta, period) = synthetic_class_texture(c);
        let phase = rng.gen::<f32>() * 2.0 * PI;
        let side = rng.gen_range(s / 2..=3 * s / 4);
        let (y0, x0) = (rng.gen_range(0..=s - side), rng.gen_range(0..=s - side));
        let (dtheta, dperiod) = synthetic_class_texture(rng.gen_range(0..SYNTHETIC_CLASSES));
        let dphase = rng.gen::<f32>() * 2.0 * PI;
        let contrast = rng.gen_range(0.5f32..=1.0);
        let gains: [f32; 3] = std::array::from_fn(|_| rng.gen_range(0.4f32..=1.0));
        let offsets: [f32; 3] = std::array::from_fn(|_| rng.gen_range(-0.2f32..=0.2));
        let (ct, st) = (theta.cos(), theta.sin());
        let (dct, dst) = (dtheta.cos(), dtheta.sin());
        for y in 0..s {
            for x in 0..s {
                let (fx, fy) = (x as f32, y as f32);
                let inside = (y0..y0 + side).contains(&y) && (x0..x0 + side).contains(&x);
                tex[y * s + x] = if inside {
                    (2.0 * PI * (fx * ct + fy * st) / period + phase).cos()
                } else {
                    0.3 * (2.0 * PI * (fx * dct + fy * dst) / dperiod + dphase).cos()
                };
            }
        }
        for ch in 0..3 {
            for (p, t) in img[ch * plane..(ch + 1) * plane].iter_mut().zip(&tex) {
                let v = 128.0
                    + 64.0 * (offsets[ch] + gains[ch] * contrast * t + cfg.noise * noise(&mut rng));
                *p = v.round().clamp(0.0, 255.0) as u8;
            }
        }
    }
    let images = Tensor::f_from_data_size(&px, &[n as i64, 3, s as i64, s as i64], Kind::Uint8)?;
    let classes = (0..SYNTHETIC_CLASSES)
        .map(|c| {
            let (t, p) = synthetic_class_texture(c);
            format!("stripes-{:.0}deg-p{p:.0}", t.to_degrees())
        })
        .collect();
    Dataset::new(name, images, Tensor::from_slice(&labels), classes)
}

/// Generates the synthetic (train, test) datasets described in the module docs.
pub fn synthetic(cfg: &SyntheticConfig) -> Result<(Dataset, Dataset)> {
    if cfg.size < 8 {
        return Err(DataError::invalid(
            "synthetic size",
            format!("{}, expected at least 8", cfg.size),
        ));
    }
    if !(cfg.noise.is_finite() && cfg.noise >= 0.0) {
        return Err(DataError::invalid(
            "synthetic noise",
            format!("{}, expected a finite value >= 0", cfg.noise),
        ));
    }
    if cfg.n_train == 0 || cfg.n_test == 0 {
        return Err(DataError::invalid(
            "synthetic sizes",
            "n_train and n_test must be positive".to_string(),
        ));
    }
    Ok((
        generate(cfg, cfg.n_train, 0, "synthetic/train")?,
        generate(cfg, cfg.n_test, 1, "synthetic/test")?,
    ))
}
