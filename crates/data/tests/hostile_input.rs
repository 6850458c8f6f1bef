//! Hostile bytes for the readers that take user files: every input gives `Ok` or an error,
//! never a panic, and no header length field drives the result past the bytes actually there.

use std::path::Path;

use proptest::prelude::*;
use sotl_data::{parse_idx_u8, pickle};

/// A protocol-2 pickle of `{"labels": [1, 2]}` with memo entries, written by hand opcode by
/// opcode (PROTO, EMPTY_DICT, BINPUT, MARK, BINUNICODE, BINPUT, EMPTY_LIST, BINPUT, MARK,
/// BININT1 x2, APPENDS, SETITEMS, STOP).
const PICKLE: &[u8] = b"\x80\x02}q\x00(X\x06\x00\x00\x00labelsq\x01]q\x02(K\x01K\x02eu.";

/// The whole IDX file of `sizes` unsigned-byte dimensions followed by `data` bytes.
fn idx(sizes: &[u32], data: usize) -> Vec<u8> {
    let mut b = vec![0, 0, 0x08, sizes.len() as u8];
    for s in sizes {
        b.extend(s.to_be_bytes());
    }
    b.extend(std::iter::repeat_n(7u8, data));
    b
}

#[test]
fn the_hand_written_pickle_parses() {
    let v = pickle::parse(PICKLE).unwrap();
    assert_eq!(v.get("labels").unwrap().as_int_vec().unwrap(), [1, 2]);
}

#[test]
fn idx_sizes_whose_product_overflows_are_refused() {
    // 2^32 - 1 cubed does not fit in 64 bits; wrapped, it must not be mistaken for a small file.
    let huge = u32::MAX;
    for sizes in [[huge, huge, huge], [65_536, 65_536, 1 << 31]] {
        let e = parse_idx_u8(Path::new("x"), &idx(&sizes, 0), 3).unwrap_err().to_string();
        assert!(e.contains("x"), "{e}");
    }
    // [2^32, 2^32, 1] wraps to 0 in 64 bits: an empty data part must not pass for it.
    let e = parse_idx_u8(Path::new("x"), &idx(&[1 << 31, 1 << 31, 4], 0), 3);
    assert!(e.is_err());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn idx_parser_never_panics_on_random_bytes(
        bytes in prop::collection::vec(any::<u8>(), 0..80),
        ndim in 1usize..4,
    ) {
        let _ = parse_idx_u8(Path::new("random"), &bytes, ndim);
    }

    #[test]
    fn idx_data_is_exactly_what_the_header_says(
        sizes in prop::collection::vec(prop_oneof![0u32..6, any::<u32>()], 1..4),
        extra in 0usize..40,
    ) {
        let ndim = sizes.len();
        let claimed: u128 = sizes.iter().map(|&s| s as u128).product();
        let data = if claimed <= 40 { claimed as usize } else { extra };
        if let Ok((s, d)) = parse_idx_u8(Path::new("f"), &idx(&sizes, data), ndim) {
            let n: u128 = s.iter().map(|&x| x as u128).product();
            prop_assert_eq!(n, d.len() as u128);
            prop_assert_eq!(s, sizes.iter().map(|&x| x as usize).collect::<Vec<_>>());
        }
    }

    #[test]
    fn pickle_parser_never_panics_on_random_bytes(
        bytes in prop::collection::vec(any::<u8>(), 0..200),
    ) {
        if let Ok(v) = pickle::parse(&bytes) {
            let _ = v.get("labels").map(|l| l.as_int_vec());
        }
    }

    #[test]
    fn pickle_parser_never_panics_on_a_mutated_pickle(
        edits in prop::collection::vec((0usize..64, any::<u8>(), 0u8..3), 1..6),
    ) {
        let mut b = PICKLE.to_vec();
        for (pos, byte, how) in edits {
            let pos = pos % (b.len() + 1);
            match how {
                0 if pos < b.len() => b[pos] = byte,
                1 => b.insert(pos, byte),
                _ if pos < b.len() => { b.remove(pos); }
                _ => {}
            }
        }
        if let Ok(v) = pickle::parse(&b) {
            // Whatever parsed can be read back without a panic (a self-referencing list made
            // through the memo included).
            if let Some(l) = v.get("labels") {
                let _ = (l.as_int_vec(), l.as_ndarray(), l.as_bytes(), l.as_str_like());
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn cifar_binary_reader_never_panics_on_random_batches(
        files in prop::collection::vec(
            (0usize..3, 0usize..4, prop::collection::vec(any::<u8>(), 1..8)),
            6,
        ),
    ) {
        // Each file: some whole records, maybe a few stray bytes, label bytes drawn at random.
        let dir = tempfile::tempdir().unwrap();
        let names = ["data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4",
                     "data_batch_5", "test_batch"];
        for (name, (records, stray, labels)) in names.iter().zip(&files) {
            let mut b = Vec::new();
            for r in 0..*records {
                b.push(labels[r % labels.len()]);
                b.extend(std::iter::repeat_n(r as u8, 3072));
            }
            b.extend(std::iter::repeat_n(1u8, *stray));
            std::fs::write(dir.path().join(format!("{name}.bin")), b).unwrap();
        }
        match sotl_data::read_cifar10_bin(dir.path(), sotl_data::SizeCheck::Any) {
            Ok((train, test)) => {
                for ds in [&train, &test] {
                    let l = Vec::<i64>::try_from(&ds.labels).unwrap();
                    prop_assert!(l.iter().all(|&c| (0..10).contains(&c)));
                    prop_assert_eq!(ds.images.size()[0] as usize, l.len());
                }
            }
            Err(e) => prop_assert!(e.to_string().contains(".bin"), "{}", e),
        }
    }

    #[test]
    fn image_folder_reader_refuses_undecodable_images_by_name(
        bytes in prop::collection::vec(any::<u8>(), 0..200),
        ext in prop::sample::select(vec!["jpg", "jpeg", "png"]),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let class = dir.path().join("train").join("cat");
        std::fs::create_dir_all(&class).unwrap();
        std::fs::write(class.join(format!("x.{ext}")), &bytes).unwrap();
        let opts = sotl_data::ImageFolderOptions { cache_dir: None, threads: 1 };
        if let Err(e) = sotl_data::read_image_folder(dir.path(), "train", &opts) {
            prop_assert!(e.to_string().contains("x."), "{}", e);
        }
    }
}
