//! Helpers shared by the bench integration tests.
#![allow(dead_code)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use sotl_space::{Nb201Arch, Nb201Op};

/// `../shared` (or $SOTL_NAS_DATA) if present; otherwise prints the skip line and returns None.
pub fn shared(test: &str) -> Option<PathBuf> {
    let root = std::env::var_os("SOTL_NAS_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared")));
    if root.join("benchmarks/nb201/nb201-200ep.csv").is_file() {
        Some(root)
    } else {
        println!("skipped: {test} needs ../shared (absent)");
        None
    }
}

/// The NAS-Bench-201 index a synthetic table gives ordinal `o` (a permutation of 0..15625:
/// 7919 is coprime with 5^6).
pub fn synthetic_index(o: usize) -> usize {
    (o * 7919) % 15_625
}

/// Synthetic accuracies: test = 10 per 3x3 conv, valid = 60 - 10 per 3x3 conv, so the best by
/// validation is the worst by test.
pub fn synthetic_acc(a: &Nb201Arch) -> (f64, f64) {
    let n = a.ops.iter().filter(|&&o| o == Nb201Op::NorConv3x3).count() as f64;
    let bonus = a.ops.iter().filter(|&&o| o == Nb201Op::NorConv1x1).count() as f64 * 0.5;
    (10.0 * n + bonus, 60.0 - 10.0 * n + bonus)
}

/// Writes a complete synthetic data root (all 15 625 cells, both tables) under `dir`.
pub fn write_synthetic_root(dir: &Path) {
    let nb = dir.join("benchmarks/nb201");
    std::fs::create_dir_all(&nb).unwrap();
    let mut full = String::from("index,arch,cifar10_test,cifar100_test,imagenet16_120_test\n");
    let mut mini = String::from(
        "index,arch,cifar10_test,cifar10_valid,cifar100_test,cifar100_valid,imagenet16_120_test,imagenet16_120_valid\n",
    );
    let mut rows: Vec<(usize, Nb201Arch)> =
        Nb201Arch::all().map(|a| (synthetic_index(a.ordinal()), a)).collect();
    rows.sort();
    for (i, a) in rows {
        let (t, v) = synthetic_acc(&a);
        writeln!(full, "{i},{a},{t},{t},{t}").unwrap();
        writeln!(mini, "{i},{a},{t},{v},{t},{v},{t},{v}").unwrap();
    }
    std::fs::write(nb.join("nb201-200ep.csv"), full).unwrap();
    std::fs::write(nb.join("nb201-minibench.csv"), mini).unwrap();
}
