//! The pickle reader (CIFAR python batches, ImageNet16): `Ok` or an error, never a panic, a hang
//! or an allocation sized by an unchecked length field.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = sotl_data::pickle::parse(data) {
        let _ = v.get("data").and_then(|d| d.as_ndarray());
        let _ = v.get("labels").and_then(|d| d.as_int_vec());
    }
});
