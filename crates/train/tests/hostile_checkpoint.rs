//! Damaged checkpoint files: truncated, bit-flipped or overwritten, a checkpoint loads as it
//! was saved or fails with an error naming the file, never a panic or a crash.

use proptest::prelude::*;
use sotl_train::{load_checkpoint, save_checkpoint};
use tch::{Device, Kind, Tensor};

/// The bytes of a small valid checkpoint: two tensors and a JSON state document.
fn valid_bytes(dir: &std::path::Path) -> Vec<u8> {
    let path = dir.join("valid.ckpt");
    let tensors = vec![
        ("w".to_string(), Tensor::arange(12, (Kind::Float, Device::Cpu)).view([3, 4])),
        ("b".to_string(), Tensor::from_slice(&[1i64, 2, 3])),
    ];
    save_checkpoint(&path, &tensors, &serde_json::json!({"step": 7, "name": "x"})).unwrap();
    std::fs::read(&path).unwrap()
}

#[test]
fn a_valid_checkpoint_loads_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.ckpt");
    std::fs::write(&path, valid_bytes(dir.path())).unwrap();
    let (tensors, meta) = load_checkpoint(&path, Device::Cpu).unwrap();
    assert_eq!(meta["step"], 7);
    assert_eq!(tensors.len(), 2);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn a_damaged_checkpoint_loads_or_errs_naming_the_file(
        cut in any::<prop::sample::Index>(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8),
        truncate in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mut bytes = valid_bytes(dir.path());
        for (at, v) in flips {
            let i = at.index(bytes.len());
            bytes[i] ^= v | 1;
        }
        if truncate {
            bytes.truncate(cut.index(bytes.len()));
        }
        let path = dir.path().join("damaged.ckpt");
        std::fs::write(&path, &bytes).unwrap();
        if let Err(e) = load_checkpoint(&path, Device::Cpu) {
            prop_assert!(e.to_string().contains("damaged.ckpt"), "{}", e);
        }
    }
}

#[test]
fn a_flipped_byte_never_loads_as_different_values() {
    let dir = tempfile::tempdir().unwrap();
    let good = valid_bytes(dir.path());
    let path = dir.path().join("flipped.ckpt");
    let (want, want_meta) = {
        std::fs::write(&path, &good).unwrap();
        load_checkpoint(&path, Device::Cpu).unwrap()
    };
    let mut silent = Vec::new();
    // Every fifth byte (a load takes tens of milliseconds): header, names, data and the JSON.
    for i in (0..good.len()).step_by(5) {
        let mut b = good.clone();
        b[i] ^= 0x5a;
        std::fs::write(&path, &b).unwrap();
        if let Ok((got, meta)) = load_checkpoint(&path, Device::Cpu) {
            let same = meta == want_meta
                && got.len() == want.len()
                && got.iter().zip(&want).all(|((n, t), (m, u))| {
                    n == m && t.size() == u.size() && t.kind() == u.kind() && t.equal(u)
                });
            if !same {
                silent.push(i);
            }
        }
    }
    assert!(
        silent.is_empty(),
        "{} of {} single-byte flips loaded as other values, at {:?}",
        silent.len(),
        good.len(),
        &silent[..silent.len().min(20)]
    );
}
