//! Loader order, coverage, reproducibility and resumption.

use sotl_data::{Augment, Dataset, Loader, LoaderConfig, Normalization, Position};
use tch::{Device, Kind, Tensor};

/// 23 one-pixel RGB images whose red value is the example index.
fn data() -> Dataset {
    let idx = Tensor::arange(23, (Kind::Int64, Device::Cpu));
    let img =
        idx.view([23, 1, 1, 1]).expand([23, 3, 4, 4], false).to_kind(Kind::Uint8).contiguous();
    Dataset::new("t", img, idx.remainder(2), vec!["even".into(), "odd".into()]).unwrap()
}

fn cfg(drop_last: bool) -> LoaderConfig {
    let norm = Normalization { mean: vec![0.0; 3], std: vec![1.0 / 255.0; 3] }; // identity scale
    LoaderConfig {
        batch_size: 5,
        drop_last,
        shuffle: true,
        seed: 9,
        augment: Augment::none(),
        normalization: norm,
    }
}

#[test]
fn an_epoch_covers_each_index_once_and_images_match_indices() {
    let d = data();
    let all: Vec<i64> = (0..23).collect();
    let l = Loader::new(&d, &all, cfg(false)).unwrap();
    assert_eq!(l.batches_per_epoch(), 5);
    let mut seen = Vec::new();
    for b in l.epoch(0) {
        // Normalization with mean 0, std 1/255 gives back the raw value: the example index.
        let px = Vec::<f64>::try_from(
            b.images.select(1, 0).select(1, 0).select(1, 0).to_kind(Kind::Double),
        )
        .unwrap();
        assert_eq!(px, b.indices.iter().map(|&i| i as f64).collect::<Vec<_>>());
        assert_eq!(
            Vec::<i64>::try_from(&b.labels).unwrap(),
            b.indices.iter().map(|i| i % 2).collect::<Vec<_>>()
        );
        seen.extend(b.indices);
    }
    assert_eq!(seen.len(), 23);
    assert_ne!(seen, all, "shuffled");
    seen.sort();
    assert_eq!(seen, all);
}

#[test]
fn drop_last_and_subsets() {
    let d = data();
    let idx: Vec<i64> = (0..23).step_by(2).collect(); // 12 examples
    let l = Loader::new(&d, &idx, cfg(true)).unwrap();
    assert_eq!(l.batches_per_epoch(), 2);
    let got: Vec<i64> = l.epoch(3).flat_map(|b| b.indices).collect();
    assert_eq!(got.len(), 10);
    assert!(got.iter().all(|i| i % 2 == 0));
    assert!(Loader::new(&d, &idx[..3], cfg(true)).is_err());
    assert!(Loader::new(&d, &[23], cfg(false)).is_err());
}

#[test]
fn order_depends_only_on_seed_and_epoch_and_resume_matches() {
    let d = data();
    let all: Vec<i64> = (0..23).collect();
    let mut c = cfg(false);
    c.augment = Augment { crop_padding: 1, flip: true, cutout: Some(2) };
    let l = Loader::new(&d, &all, c.clone()).unwrap();
    let l2 = Loader::new(&d, &all, c.clone()).unwrap();
    assert_eq!(l.epoch_order(4), l2.epoch_order(4));
    assert_ne!(l.epoch_order(4), l.epoch_order(5));
    let full: Vec<_> = l.epoch(4).collect();
    let mut it = l2.epoch(4);
    it.next();
    it.next();
    let pos = it.position();
    assert_eq!(pos, Position { epoch: 4, batch: 2 });
    // A fresh loader resumed at the saved position yields the same remaining batches, pixels included.
    let l3 = Loader::new(&d, &all, c.clone()).unwrap();
    let rest: Vec<_> = l3.resume(pos).collect();
    assert_eq!(rest.len(), 3);
    for (a, b) in full[2..].iter().zip(&rest) {
        assert_eq!(a.indices, b.indices);
        assert!(a.images.equal(&b.images));
    }
    assert!(l3.batch_at(Position { epoch: 4, batch: 1 }).unwrap().images.equal(&full[1].images));
    // Another seed, another order.
    c.seed = 10;
    assert_ne!(Loader::new(&d, &all, c).unwrap().epoch_order(4), l.epoch_order(4));
}

#[test]
fn eval_loader_keeps_order() {
    let d = data();
    let all: Vec<i64> = (0..23).collect();
    let l = Loader::new(&d, &all, LoaderConfig::eval(10, Normalization::cifar10())).unwrap();
    let got: Vec<i64> = l.epoch(0).flat_map(|b| b.indices).collect();
    assert_eq!(got, all);
}
