//! End to end: `sotl-nas data check` on small dataset folders written here.

use std::path::Path;
use std::process::{Command, Output};

fn sotl_nas(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sotl-nas"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run sotl-nas")
}

fn idx(dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut v = vec![0, 0, 8, dims.len() as u8];
    for d in dims {
        v.extend_from_slice(&d.to_be_bytes());
    }
    v.extend_from_slice(data);
    v
}

/// MNIST-format files: 3 training images labelled 5, 0, 5 and one test image labelled 7.
fn mnist(dir: &Path) {
    std::fs::write(dir.join("train-images-idx3-ubyte"), idx(&[3, 28, 28], &[1; 3 * 784])).unwrap();
    std::fs::write(dir.join("train-labels-idx1-ubyte"), idx(&[3], &[5, 0, 5])).unwrap();
    std::fs::write(dir.join("t10k-images-idx3-ubyte"), idx(&[1, 28, 28], &[2; 784])).unwrap();
    std::fs::write(dir.join("t10k-labels-idx1-ubyte"), idx(&[1], &[7])).unwrap();
}

#[test]
fn data_check_counts_classes_and_names_bad_files() {
    let t = tempfile::tempdir().unwrap();
    mnist(t.path());
    let dir = t.path().to_str().unwrap();
    let o = sotl_nas(t.path(), &["--json", "data", "check", dir, "--any-size", "--no-cache"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["format"], "mnist-idx");
    assert_eq!(v["splits"][0]["images"], 3);
    assert_eq!(v["splits"][0]["classes"][5]["count"], 2);
    assert_eq!(v["splits"][1]["classes"][7]["count"], 1);
    // Without --any-size the official sizes are required.
    let o = sotl_nas(t.path(), &["data", "check", dir, "--no-cache"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("expected [60000, 28, 28]"));
    // A truncated file is named in the error.
    std::fs::write(t.path().join("t10k-images-idx3-ubyte"), idx(&[1, 28, 28], &[2; 700])).unwrap();
    let o = sotl_nas(t.path(), &["data", "check", dir, "--any-size", "--no-cache"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("t10k-images-idx3-ubyte") && err.contains("truncated"),
        "{err}"
    );
}

#[test]
fn data_check_synthetic_needs_no_files() {
    let t = tempfile::tempdir().unwrap();
    let o = sotl_nas(t.path(), &["data", "check", "synthetic"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("train 10000 / test 2000"), "{out}");
    assert!(String::from_utf8_lossy(&o.stderr).contains("generated"));
    let o = sotl_nas(t.path(), &["data", "check", "no-such-thing"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("expected one of cifar10"));
}
