//! The NAS-Bench-201 ground-truth CSV reader: `Ok` or an error naming the file.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sotl_bench::{Nb201Table, Nb201TableData};

fuzz_target!(|data: &[u8]| {
    for table in Nb201Table::ALL {
        if let Err(e) = Nb201TableData::parse(data, table, "t.csv") {
            assert!(e.to_string().contains("t.csv"), "{e}");
        }
    }
});
