//! MNIST's IDX format: any bytes give `Ok` (sizes whose product is the data length) or an error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sotl_data::parse_idx_u8;

fuzz_target!(|data: &[u8]| {
    for ndim in [1, 3] {
        if let Ok((sizes, bytes)) = parse_idx_u8(std::path::Path::new("f.idx"), data, ndim) {
            assert_eq!(sizes.len(), ndim);
            assert_eq!(sizes.iter().product::<usize>(), bytes.len());
        }
    }
});
