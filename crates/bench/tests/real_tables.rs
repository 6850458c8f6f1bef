//! The real NAS-Bench-201 tables from ../shared (skipped when absent).

mod common;

use std::time::Instant;

use sotl_bench::*;
use sotl_space::{Nb201Arch, Nb201Op};

#[test]
fn published_values_load_and_every_arch_round_trips() {
    let Some(root) = common::shared("published_values_load_and_every_arch_round_trips") else {
        return;
    };
    // Load time is a benchmark's business, not a test's: reported, never asserted.
    let t0 = Instant::now();
    let b = Nb201Bench::load(&root).unwrap();
    println!("loaded both NAS-Bench-201 tables in {:.3} s", t0.elapsed().as_secs_f64());
    assert_eq!(b.len(), 15_625);
    let gt = Nb201Query::ground_truth(Nb201Dataset::Cifar10);
    let (best, acc) = b.best(gt).unwrap();
    assert_eq!(acc, 94.3733, "best CIFAR-10 cell {best}");
    let skip = Nb201Arch::new([Nb201Op::SkipConnect; 6]);
    assert_eq!(b.query(&skip, gt).unwrap(), 54.2967);
    // Index and arch agree in both directions for all cells, and every cell is present.
    for a in Nb201Arch::all() {
        let i = b.index_of(&a).unwrap();
        assert_eq!(b.arch_at(i).unwrap(), a);
    }
    // First data row of both files (README): index 0.
    let a0: Nb201Arch = "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|"
        .parse()
        .unwrap();
    assert_eq!(b.index_of(&a0).unwrap(), 0);
    assert_eq!(b.query_index(0, gt).unwrap(), 85.8633);
    assert_eq!(b.query_index(0, Nb201Query::selection(Nb201Dataset::Cifar10)).unwrap(), 63.364);
}

#[test]
fn rea_beats_random_search_on_average() {
    let Some(root) = common::shared("rea_beats_random_search_on_average") else { return };
    let b = Nb201Bench::load(&root).unwrap();
    let rea =
        summarize(&run_many(&b, &RegularizedEvolutionConfig::default(), 100, 0).unwrap()).unwrap();
    let rs = summarize(&run_many(&b, &RandomSearchConfig::default(), 100, 0).unwrap()).unwrap();
    println!("cifar10, 100 runs, 100 queries: REA {rea:?}\nRS {rs:?}");
    assert!(rea.mean_test_accuracy >= rs.mean_test_accuracy, "REA {rea:?} vs RS {rs:?}");
    // Both pick far better than a random cell (NAS-Bench-201 CIFAR-10 mean is about 87 %).
    assert!(rs.mean_test_accuracy > 90.0, "{rs:?}");
}
