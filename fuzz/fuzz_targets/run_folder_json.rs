//! A run folder's config.json, as a resumed run reads it: any bytes there give `Ok` (the same
//! config) or an error naming the file, and never overwrite it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sotl_experiments::search::SearchConfig;
use sotl_experiments::RunDir;

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.json");
    std::fs::write(&path, data).unwrap();
    if let Err(e) = RunDir::claim(dir.path(), &SearchConfig::default()) {
        assert!(e.to_string().contains("config.json"), "{e}");
        assert_eq!(std::fs::read(&path).unwrap(), data, "a refused folder is left as it was");
    }
});
