//! Checkpoints (the one format of every resumable run): `Ok` or an error naming the file.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("checkpoint.ot");
    std::fs::write(&path, data).unwrap();
    if let Err(e) = sotl_train::load_checkpoint(&path, tch::Device::Cpu) {
        assert!(e.to_string().contains("checkpoint.ot"), "{e}");
    }
});
