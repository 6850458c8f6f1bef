//! DARTS genotypes in the DARTS code's namedtuple form: `Ok` or an error, and round trips.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sotl_space::DartsGenotype;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Ok(g) = s.parse::<DartsGenotype>() {
        let again: DartsGenotype = g.to_string().parse().expect("a printed genotype parses");
        assert_eq!(again, g);
    }
});
