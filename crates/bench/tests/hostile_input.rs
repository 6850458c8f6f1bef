//! Hostile text for the NAS-Bench-201 table reader: every input gives `Ok` or an error naming
//! the file, never a panic.

use proptest::prelude::*;
use sotl_bench::{Nb201Table, Nb201TableData};

/// Two valid rows of the 200-epoch table's schema.
const TABLE: &str = "index,arch,cifar10_test,cifar100_test,imagenet16_120_test
0,|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|,85.8633,52.9133,26.6333
1,|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|,93.66,70.2933,44.0333
";

#[test]
fn the_sample_table_parses() {
    assert!(Nb201TableData::parse(TABLE.as_bytes(), Nb201Table::Full200, "t.csv").is_ok());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn table_reader_never_panics_on_random_bytes(
        bytes in prop::collection::vec(any::<u8>(), 0..300),
    ) {
        if let Err(e) = Nb201TableData::parse(&bytes[..], Nb201Table::Full200, "t.csv") {
            prop_assert!(e.to_string().contains("t.csv"), "{}", e);
        }
    }

    #[test]
    fn table_reader_never_panics_on_a_mutated_table(
        edits in prop::collection::vec(
            (0usize..400, prop::sample::select(vec![
                ",", "\n", "\"", "-", "1e999", "NaN", "inf", "99999999999999999999", "|", "~", "",
                "-1", "15625", " ", "nor_conv_3x3", "\r\n",
            ]), any::<bool>()),
            1..6,
        ),
    ) {
        let mut t = TABLE.to_string();
        for (pos, piece, replace) in edits {
            let mut pos = pos % (t.len() + 1);
            while !t.is_char_boundary(pos) {
                pos -= 1;
            }
            if replace && pos < t.len() {
                let end = (pos + 1..=t.len()).find(|&e| t.is_char_boundary(e)).unwrap_or(t.len());
                t.replace_range(pos..end, piece);
            } else {
                t.insert_str(pos, piece);
            }
        }
        match Nb201TableData::parse(t.as_bytes(), Nb201Table::Full200, "t.csv") {
            Ok(_) => {}
            Err(e) => prop_assert!(e.to_string().contains("t.csv"), "{}", e),
        }
    }
}
