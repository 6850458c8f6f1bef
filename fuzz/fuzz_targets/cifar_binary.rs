//! The CIFAR-10 binary reader on a folder of six batch files holding the fuzzed bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sotl_data::{read_cifar10_bin, SizeCheck};

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().unwrap();
    for f in (1..=5).map(|i| format!("data_batch_{i}.bin")).chain(["test_batch.bin".into()]) {
        std::fs::write(dir.path().join(f), data).unwrap();
    }
    if let Ok((train, test)) = read_cifar10_bin(dir.path(), SizeCheck::Any) {
        assert_eq!(train.len(), 5 * test.len());
    }
});
