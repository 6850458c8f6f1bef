//! NAS-Bench-101's TFRecord rows, written here in the exact official format (TFRecord framing,
//! JSON row, base64 `ModelMetrics` protobuf encoded by hand below), read back into the table.
//! The cell and its numbers are the stored Inception-like cell the benchmark's colab prints
//! (`NASBench.ipynb`, google-research/nasbench b942470): 2 694 282 parameters; at 108 epochs
//! training time 1155.85302734375 s, train 1.0, validation 0.9376001358032227, test
//! 0.9311898946762085; its hash 28cfc787... is the one the README's form of the cell has.

use sotl_bench::nb101::{parse_record, Nb101Table};
use sotl_bench::tfrecord::write_record;
use sotl_space::nb101::{Nb101Op, Nb101Spec};

const HASH: &str = "28cfc7874f6d200472e1a9dcd8650aa0";
const ADJ: &str = "0111100000000100000010000001000001000000010000000";
const OPS: &str =
    "input,conv3x3-bn-relu,conv1x1-bn-relu,maxpool3x3,conv3x3-bn-relu,conv3x3-bn-relu,output";

/// A protobuf varint.
fn varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// `EvaluationData` with fields 1-5 (doubles, wire type 1) and a checkpoint path (field 6).
fn evaluation(epoch: f64, time: f64, train: f64, valid: f64, test: f64) -> Vec<u8> {
    let mut b = Vec::new();
    for (field, x) in [(1u8, epoch), (2, time), (3, train), (4, valid), (5, test)] {
        b.push(field << 3 | 1);
        b.extend(x.to_le_bytes());
    }
    let path = b"/tmp/ckpt";
    b.push(6 << 3 | 2);
    varint(path.len() as u64, &mut b);
    b.extend(path);
    b
}

/// `ModelMetrics`: three evaluations (field 1), parameters (2, varint), total time (3, double).
fn metrics(params: u64, last: [f64; 4]) -> Vec<u8> {
    let mut m = Vec::new();
    for e in [
        evaluation(0.0, 0.0, 0.1, 0.1, 0.1),
        evaluation(54.0, 577.9, 0.9, 0.89, 0.88),
        evaluation(108.0, last[0], last[1], last[2], last[3]),
    ] {
        m.push(1 << 3 | 2);
        varint(e.len() as u64, &mut m);
        m.extend(e);
    }
    m.push(2 << 3);
    varint(params, &mut m);
    m.push(3 << 3 | 1);
    m.extend(1200.5f64.to_le_bytes());
    m
}

fn base64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn row(hash: &str, epochs: u32, adj: &str, ops: &str, m: &[u8]) -> Vec<u8> {
    serde_json::to_vec(&(hash, epochs, adj, ops, base64(m))).unwrap()
}

const FINAL: [f64; 4] = [1155.85302734375, 1.0, 0.9376001358032227, 0.9311898946762085];

#[test]
fn a_row_decodes_to_the_published_cell_and_numbers() {
    let r = parse_record(&row(HASH, 108, ADJ, OPS, &metrics(2_694_282, FINAL))).unwrap();
    assert_eq!((r.hash.as_str(), r.epochs, r.trainable_parameters), (HASH, 108, 2_694_282));
    assert_eq!(r.spec.ops[..3], [Nb101Op::Conv3x3, Nb101Op::Conv1x1, Nb101Op::MaxPool3x3]);
    assert_eq!(r.spec.hash().unwrap(), HASH);
    let f = r.final_eval;
    assert_eq!([f.training_time, f.train_accuracy, f.validation_accuracy, f.test_accuracy], FINAL);
    assert_eq!(r.halfway.training_time, 577.9);
}

#[test]
fn a_file_streams_into_the_table_and_damage_names_the_record() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nasbench_only108.tfrecord");
    let mut file = Vec::new();
    for rep in 0..3 {
        let last = [FINAL[0] + rep as f64, 1.0, 0.93 + rep as f64 * 0.001, 0.92];
        write_record(&mut file, &row(HASH, 108, ADJ, OPS, &metrics(2_694_282, last))).unwrap();
    }
    // Input straight to output.
    write_record(
        &mut file,
        &row("043721b9c7fe8c5fad811d47d83132ec", 108, "0100", "input,output", &metrics(10, FINAL)),
    )
    .unwrap();
    std::fs::write(&path, &file).unwrap();
    let t = Nb101Table::from_tfrecord(&path, true).unwrap();
    assert_eq!(t.entries.len(), 2);
    assert_eq!(t.entries[HASH].runs[&108].len(), 3);
    // Queried by the README's (isomorphic) form of the cell.
    let readme = Nb101Spec::new(
        &[
            vec![0, 1, 1, 1, 0, 1, 0],
            vec![0, 0, 0, 0, 0, 0, 1],
            vec![0, 0, 0, 0, 0, 0, 1],
            vec![0, 0, 0, 0, 1, 0, 0],
            vec![0, 0, 0, 0, 0, 0, 1],
            vec![0, 0, 0, 0, 0, 0, 1],
            vec![0; 7],
        ],
        &[
            Nb101Op::Conv1x1,
            Nb101Op::Conv3x3,
            Nb101Op::Conv3x3,
            Nb101Op::Conv3x3,
            Nb101Op::MaxPool3x3,
        ],
    )
    .unwrap();
    assert_eq!(t.query(&readme, 108, 2).unwrap().validation_accuracy, 0.932);
    assert!(t.query(&readme, 4, 0).is_none());

    // A record whose key is not its cell's hash is refused, naming it.
    let mut wrong = Vec::new();
    write_record(&mut wrong, &row("0".repeat(32).as_str(), 108, ADJ, OPS, &metrics(1, FINAL)))
        .unwrap();
    std::fs::write(&path, &wrong).unwrap();
    let e = Nb101Table::from_tfrecord(&path, true).unwrap_err().to_string();
    assert!(e.contains("record 0") && e.contains("hashes to 28cfc787"), "{e}");
    // Truncated metrics, bad base64, a non-square adjacency, an unknown op.
    let m = metrics(5, FINAL);
    for (data, says) in [
        (row(HASH, 108, ADJ, OPS, &m[..m.len() - 30]), "protobuf"),
        (serde_json::to_vec(&(HASH, 108, ADJ, OPS, "%%%")).unwrap(), "base64"),
        (row(HASH, 108, "010", "input,x,output", &m), "square"),
        (row(HASH, 108, "0100", "input,conv5x5", &m), "input to output"),
        (b"[1, 2]".to_vec(), "not a NAS-Bench-101 row"),
    ] {
        let e = parse_record(&data).unwrap_err();
        assert!(e.contains(says), "{says}: {e}");
    }
    // A cut file fails at the record where it is cut.
    std::fs::write(&path, &file[..file.len() - 5]).unwrap();
    let e = Nb101Table::from_tfrecord(&path, true).unwrap_err().to_string();
    assert!(e.contains("nasbench_only108.tfrecord: record 3"), "{e}");
}

#[test]
fn the_conversion_writes_a_table_that_reads_back_exactly() {
    use sotl_bench::nb101::convert_tfrecord;
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("nasbench_full.tfrecord");
    let mut file = Vec::new();
    for (epochs, rep) in [(108, 0), (108, 1), (4, 0)] {
        let last = [
            FINAL[0] / (1 + rep) as f64,
            1.0,
            0.9376001358032227 - rep as f64 / 7.0,
            0.9311898946762085,
        ];
        write_record(&mut file, &row(HASH, epochs, ADJ, OPS, &metrics(2_694_282, last))).unwrap();
    }
    write_record(
        &mut file,
        &row("043721b9c7fe8c5fad811d47d83132ec", 108, "0100", "input,output", &metrics(10, FINAL)),
    )
    .unwrap();
    std::fs::write(&src, &file).unwrap();
    let out = dir.path().join("nb101.csv");
    let c = convert_tfrecord(&src, &out, true).unwrap();
    assert_eq!((c.cells, c.runs, c.epochs.clone()), (2, 4, vec![4, 108]));
    let read = Nb101Table::read_csv(&out).unwrap();
    assert_eq!(read, Nb101Table::from_tfrecord(&src, true).unwrap(), "floats round-trip exactly");
    assert!(!dir.path().join("nb101.csv.partial").exists());
    // A damaged table names its line.
    let text = std::fs::read_to_string(&out).unwrap();
    let broken = text.replacen("0.9311898946762085", "0.93x", 1);
    std::fs::write(&out, broken).unwrap();
    let e = Nb101Table::read_csv(&out).unwrap_err().to_string();
    assert!(e.contains("nb101.csv, line") && e.contains("test_accuracy"), "{e}");
    std::fs::write(&out, "hash,epochs\n").unwrap();
    let e = Nb101Table::read_csv(&out).unwrap_err().to_string();
    assert!(e.contains("lacks column \"repeat\""), "{e}");
}
