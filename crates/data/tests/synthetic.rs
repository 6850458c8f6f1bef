//! The synthetic dataset: determinism, balance, and that only local oriented filters see the class.

use sotl_data::{synthetic, synthetic_class_texture, SyntheticConfig};
use tch::{Device, Kind, Tensor};

fn small(seed: u64) -> SyntheticConfig {
    SyntheticConfig { n_train: 600, n_test: 200, seed, ..SyntheticConfig::default() }
}

/// Nearest-class-centroid accuracy of `test` features given `train` features (rows = examples).
fn ncc_accuracy(train: &Tensor, ytr: &Tensor, test: &Tensor, yte: &Tensor) -> f64 {
    let cents: Vec<Tensor> = (0..10)
        .map(|c| {
            train.index_select(0, &ytr.eq(c).nonzero().squeeze_dim(1)).mean_dim(
                0,
                false,
                Kind::Float,
            )
        })
        .collect();
    let cents = Tensor::stack(&cents, 0); // [10, F]
                                          // Standardize by the training spread so no feature dominates.
    let sd = train.std_dim(0, true, false) + 1e-6;
    let dist = ((test / &sd).unsqueeze(1) - (cents / &sd).unsqueeze(0)).square().sum_dim_intlist(
        2,
        false,
        Kind::Float,
    );
    dist.argmin(1, false).eq_tensor(yte).to_kind(Kind::Double).mean(Kind::Double).double_value(&[])
}

/// Energy of each image under Gabor filters matched to the ten class textures: [N, 10].
fn oriented_energy(x: &Tensor) -> Tensor {
    let k = 9i64;
    let mut filters = Vec::new();
    for c in 0..10 {
        let (t, p) = synthetic_class_texture(c);
        for phase in [0.0f32, std::f32::consts::FRAC_PI_2] {
            let mut w = vec![0f32; (k * k) as usize];
            for y in 0..k {
                for xx in 0..k {
                    let (fx, fy) = ((xx - k / 2) as f32, (y - k / 2) as f32);
                    let env = (-(fx * fx + fy * fy) / (2.0 * 9.0)).exp();
                    w[(y * k + xx) as usize] = env
                        * (2.0 * std::f32::consts::PI * (fx * t.cos() + fy * t.sin()) / p + phase)
                            .cos();
                }
            }
            filters.push(Tensor::from_slice(&w).view([1, 1, k, k]));
        }
    }
    let f = Tensor::cat(&filters, 0); // [20, 1, k, k]
    let gray = x.to_kind(Kind::Float).mean_dim(1, true, Kind::Float);
    let gray = &gray - gray.mean_dim(&[2i64, 3][..], true, Kind::Float);
    let r = gray.conv2d(&f, None::<Tensor>, [1], [0], [1], 1).square(); // [N, 20, h, w]
                                                                        // Quadrature pairs -> phase-free energy; the max over positions finds the textured window.
    let e = r.view([-1, 10, 2, 24, 24]).sum_dim_intlist(2, false, Kind::Float);
    e.amax(&[2i64, 3][..], false).log1p()
}

#[test]
fn deterministic_and_balanced() {
    let (a, at) = synthetic(&small(5)).unwrap();
    let (b, _) = synthetic(&small(5)).unwrap();
    let (c, _) = synthetic(&small(6)).unwrap();
    assert!(a.images.equal(&b.images));
    assert!(!a.images.equal(&c.images));
    assert_eq!(a.images.size(), vec![600, 3, 32, 32]);
    assert_eq!(a.class_counts(), vec![60; 10]);
    assert_eq!(at.len(), 200);
    assert_eq!(a.classes[6], "stripes-36deg-p8");
    // Train and test are different images.
    assert!(!a.images.narrow(0, 0, 200).equal(&at.images));
    assert!(synthetic(&SyntheticConfig { size: 4, ..small(0) }).is_err());
}

#[test]
fn pooled_colour_is_chance_but_oriented_filters_separate_classes() {
    let (tr, te) = synthetic(&small(1)).unwrap();
    let pooled = |x: &Tensor| x.to_kind(Kind::Float).mean_dim(&[2i64, 3][..], false, Kind::Float);
    let acc_pool = ncc_accuracy(&pooled(&tr.images), &tr.labels, &pooled(&te.images), &te.labels);
    let acc_gabor = ncc_accuracy(
        &oriented_energy(&tr.images),
        &tr.labels,
        &oriented_energy(&te.images),
        &te.labels,
    );
    eprintln!(
        "nearest-centroid accuracy: channel means {acc_pool:.3}, oriented energy {acc_gabor:.3}"
    );
    // Chance is 0.1: global averages must stay near it; matched local filters must do far better.
    assert!(acc_pool < 0.2, "global pooling sees the class: {acc_pool}");
    assert!(acc_gabor > 0.6, "oriented filters do not separate the classes: {acc_gabor}");
    let _ = Device::Cpu;
}
