//! Augmentation, normalization and resizing against hand-computed values and naive versions.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use sotl_data::{cutout, random_crop_flip, resize, Augment, Dataset, Normalization, ResizeMode};
use tch::{Device, Kind, Tensor};

/// A batch of distinct non-zero images: pixel = 1 + (b*C*H*W + ...) mod 250.
fn batch(b: i64, c: i64, h: i64, w: i64) -> Tensor {
    (Tensor::arange(b * c * h * w, (Kind::Int64, Device::Cpu)).remainder(250) + 1)
        .to_kind(Kind::Uint8)
        .view([b, c, h, w])
}

#[test]
fn crop_without_padding_or_flip_is_identity() {
    let x = batch(4, 3, 5, 6);
    let y = random_crop_flip(&x, 0, false, &mut ChaCha8Rng::seed_from_u64(0));
    assert!(x.equal(&y));
}

#[test]
fn every_crop_is_a_window_of_the_padded_image_possibly_flipped() {
    let (pad, h, w) = (2, 5, 6);
    let x = batch(16, 3, h, w);
    let y = random_crop_flip(&x, pad, true, &mut ChaCha8Rng::seed_from_u64(7));
    let padded = x.constant_pad_nd([pad, pad, pad, pad]);
    let mut flips = 0;
    let mut offsets = std::collections::HashSet::new();
    for i in 0..16 {
        let yi = y.get(i);
        // Naive reference: try every offset and both orientations, image by image.
        let mut found = None;
        for oy in 0..=2 * pad {
            for ox in 0..=2 * pad {
                let win = padded.get(i).narrow(1, oy, h).narrow(2, ox, w);
                if win.equal(&yi) {
                    found = Some((oy, ox, false));
                } else if win.flip([2]).equal(&yi) {
                    found = Some((oy, ox, true));
                }
            }
        }
        let (oy, ox, f) =
            found.unwrap_or_else(|| panic!("image {i} is no window of its padded input"));
        flips += i32::from(f);
        offsets.insert((oy, ox));
    }
    // 16 fair coins and 25 offsets: both orientations and several offsets must occur.
    assert!((1..16).contains(&flips), "{flips} flips");
    assert!(offsets.len() > 3);
}

#[test]
fn augmentation_is_reproducible_from_the_seed() {
    let n = Normalization::cifar10();
    let x = n.standardize(&batch(8, 3, 8, 8), Kind::Float);
    let aug = Augment { crop_padding: 2, flip: true, cutout: Some(4) };
    let black = n.black();
    let a = aug.apply(&x, &black, &mut ChaCha8Rng::seed_from_u64(1));
    let b = aug.apply(&x, &black, &mut ChaCha8Rng::seed_from_u64(1));
    let c = aug.apply(&x, &black, &mut ChaCha8Rng::seed_from_u64(2));
    assert!(a.equal(&b));
    assert!(!a.equal(&c));
    assert_eq!(a.kind(), Kind::Float);
}

#[test]
fn normalization_matches_hand_computation() {
    let x = Tensor::from_slice(&[255u8, 0, 128]).view([1, 3, 1, 1]);
    let y = Normalization::cifar10().standardize(&x, Kind::Float);
    // (255 - 125.3) / 63.0, (0 - 123.0) / 62.1, (128 - 113.9) / 66.7
    let want = [129.7 / 63.0, -123.0 / 62.1, 14.1 / 66.7];
    for (c, w) in want.iter().enumerate() {
        let got = y.double_value(&[0, c as i64, 0, 0]);
        assert!((got - w).abs() < 1e-5, "channel {c}: {got} vs {w}");
    }
    assert!(Normalization::mnist().validate(3).is_err());
    assert!(Normalization { mean: vec![0.0], std: vec![0.0] }.validate(1).is_err());
}

#[test]
fn cutout_zeroes_one_clipped_square() {
    let x = Tensor::ones([64, 2, 9, 9], (Kind::Float, Device::Cpu));
    let y = cutout(&x, 4, &mut ChaCha8Rng::seed_from_u64(3));
    let zeros = Vec::<f64>::try_from(y.eq(0.0).to_kind(Kind::Double).sum_dim_intlist(
        &[1i64, 2, 3][..],
        false,
        Kind::Double,
    ))
    .unwrap();
    // A 4-long cut spans rows cy-2..cy+2 clipped to 0..9: 2, 3 or 4 rows (likewise columns), in both channels.
    let allowed: Vec<f64> =
        [2.0, 3.0, 4.0].iter().flat_map(|r| [2.0, 3.0, 4.0].map(|c| 2.0 * r * c)).collect();
    assert!(zeros.iter().all(|z| allowed.contains(z)), "{zeros:?}");
    assert!(zeros.contains(&32.0), "an interior centre cuts a full 4x4 square");
    // Zeroed pixels form the same square in every channel.
    assert!(y.get(0).get(0).equal(&y.get(0).get(1)));
}

#[test]
fn resize_area_averages_blocks_and_bilinear_keeps_constants() {
    // 2x2 blocks of values 0,10 / 20,30 -> area resize to 1x1 is 15.
    let x = Tensor::from_slice(&[0u8, 10, 20, 30]).view([1, 1, 2, 2]);
    let d = Dataset::new("t", x, Tensor::from_slice(&[0i64]), vec!["a".into()]).unwrap();
    let r = resize(&d, 1, 1, ResizeMode::Area).unwrap();
    assert_eq!(r.images.int64_value(&[0, 0, 0, 0]), 15);
    let c = Tensor::full([3, 3, 32, 32], 77, (Kind::Uint8, Device::Cpu));
    let d = Dataset::new("c", c, Tensor::from_slice(&[0i64, 0, 0]), vec!["a".into()]).unwrap();
    let r = resize(&d, 16, 16, ResizeMode::Bilinear).unwrap();
    assert_eq!(r.images.size(), vec![3, 3, 16, 16]);
    assert_eq!(r.images.min().int64_value(&[]), 77);
    assert_eq!(r.images.max().int64_value(&[]), 77);
    assert!(resize(&d, 0, 16, ResizeMode::Area).is_err());
}

#[test]
fn augment_validation() {
    assert!(Augment { crop_padding: -1, ..Augment::none() }.validate(32, 32).is_err());
    assert!(Augment { cutout: Some(0), ..Augment::none() }.validate(32, 32).is_err());
    Augment::cifar().validate(32, 32).unwrap();
}
