//! NAS-Bench-201 arch strings: parsing gives `Ok` or an error, and what parses prints back to a
//! string that parses to the same cell.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sotl_space::Nb201Arch;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Ok(a) = s.parse::<Nb201Arch>() {
        let again: Nb201Arch = a.to_string().parse().expect("a printed arch parses");
        assert_eq!(again, a);
    }
});
