//! End-to-end `sotl-nas train` on the generated synthetic dataset with a tiny budget.

use std::path::Path;
use std::process::{Command, Output};

const BEST: &str = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|";

fn train(out: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "--threads",
        "1",
        "--json",
        "train",
        "--arch",
        BEST,
        "--dataset",
        "synthetic",
        "--subset",
        "128",
        "--test-subset",
        "64",
        "--resize",
        "8",
        "--channels",
        "2",
        "--cells",
        "1",
        "--epochs",
        "2",
        "--batch-size",
        "32",
    ];
    args.extend_from_slice(extra);
    Command::new(env!("CARGO_BIN_EXE_sotl-nas"))
        .args(&args)
        .arg("--out")
        .arg(out)
        .output()
        .expect("run sotl-nas")
}

#[test]
fn train_writes_records_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let o = train(&out, &[]);
    assert!(o.status.success(), "stderr: {}", String::from_utf8_lossy(&o.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(summary["steps"], 8, "{summary}");
    assert_eq!(summary["epochs"], 2);
    assert!(summary["final_test_acc"].as_f64().is_some_and(|a| (0.0..=1.0).contains(&a)));
    for f in
        ["config.json", "checkpoint.ot", "epochs.json", "epochs.csv", "record.json", "summary.json"]
    {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    let csv = std::fs::read_to_string(out.join("epochs.csv")).unwrap();
    assert_eq!(csv.lines().count(), 3, "{csv}");
    let record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("record.json")).unwrap()).unwrap();
    assert_eq!(record["steps"].as_array().unwrap().len(), 8);
    assert_eq!(record["steps_per_epoch"], 4);

    // Same folder, same settings: picks up the finished checkpoint, same records.
    let again = train(&out, &[]);
    assert!(again.status.success(), "stderr: {}", String::from_utf8_lossy(&again.stderr));
    let s2: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(s2["resumed_from_step"], 8);
    assert_eq!(s2["final_test_acc"], summary["final_test_acc"]);

    // Same folder, other settings: refused with a message saying what to do.
    let other = train(&out, &["--seed", "5"]);
    assert!(!other.status.success());
    let err = String::from_utf8_lossy(&other.stderr);
    assert!(err.contains("different config") && err.contains("--out"), "{err}");
}

#[test]
fn train_rejects_bad_input_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let bad_arch = Command::new(env!("CARGO_BIN_EXE_sotl-nas"))
        .args(["train", "--arch", "|conv~0|", "--dataset", "synthetic"])
        .output()
        .unwrap();
    assert!(!bad_arch.status.success());
    assert!(String::from_utf8_lossy(&bad_arch.stderr).contains("bad --arch"));

    let no_arch = Command::new(env!("CARGO_BIN_EXE_sotl-nas"))
        .args(["train", "--dataset", "synthetic"])
        .output()
        .unwrap();
    assert!(!no_arch.status.success());
    assert!(String::from_utf8_lossy(&no_arch.stderr).contains("--arch"));

    let cfg = dir.path().join("c.toml");
    std::fs::write(&cfg, "epochs = 3\nlearning_rate = 0.1\n").unwrap();
    let unknown = Command::new(env!("CARGO_BIN_EXE_sotl-nas"))
        .args(["train", "--arch", BEST, "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&unknown.stderr);
    assert!(!unknown.status.success() && err.contains("learning_rate"), "{err}");

    let resize = Command::new(env!("CARGO_BIN_EXE_sotl-nas"))
        .args(["train", "--arch", BEST, "--dataset", "synthetic", "--resize", "10"])
        .output()
        .unwrap();
    assert!(!resize.status.success());
    assert!(String::from_utf8_lossy(&resize.stderr).contains("multiple of 4"));
}

/// `sotl-nas [--json] export RUN --out OUT`.
fn export(run: &Path, out: &Path, json: bool) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sotl-nas"));
    if json {
        c.arg("--json");
    }
    c.arg("export").arg(run).arg("--out").arg(out).output().unwrap()
}

/// The header of a safetensors file: `(name -> (dtype, shape))` and its metadata.
fn safetensors_header(
    path: &Path,
) -> (std::collections::BTreeMap<String, (String, Vec<u64>)>, serde_json::Value) {
    let bytes = std::fs::read(path).unwrap();
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    let mut entries = std::collections::BTreeMap::new();
    for (k, v) in header.as_object().unwrap() {
        if k == "__metadata__" {
            continue;
        }
        let shape = v["shape"].as_array().unwrap().iter().map(|d| d.as_u64().unwrap()).collect();
        entries.insert(k.clone(), (v["dtype"].as_str().unwrap().to_string(), shape));
    }
    (entries, header["__metadata__"].clone())
}

#[test]
fn export_writes_tiny_network_names_and_refuses_other_folders() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let o = train(&run, &[]);
    assert!(o.status.success(), "stderr: {}", String::from_utf8_lossy(&o.stderr));
    let file = dir.path().join("out/net.safetensors");
    let o = export(&run, &file, true);
    assert!(o.status.success(), "stderr: {}", String::from_utf8_lossy(&o.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(summary["arch"], BEST);
    assert_eq!(summary["steps"], 8);
    let (entries, meta) = safetensors_header(&file);
    assert_eq!(meta["arch"], BEST);
    assert_eq!((meta["C"].as_str(), meta["N"].as_str()), (Some("2"), Some("1")));
    // Counted by hand from TinyNetwork: stem conv + BN (5 entries with its buffers) = 6; per cell
    // 5 conv edges x (conv + 5 BN entries) = 30, 3 cells = 90; per reduction 2 x 6 + downsample
    // = 13, 2 of them = 26; lastact 5; classifier 2.
    assert_eq!(entries.len(), 6 + 90 + 26 + 5 + 2);
    assert_eq!(summary["tensors"], 129);
    assert_eq!(entries["cells.0.layers.4.op.1.weight"], ("F32".into(), vec![2, 2, 3, 3]));
    assert_eq!(entries["cells.0.layers.5.op.1.weight"], ("F32".into(), vec![2, 2, 1, 1]));
    assert!(!entries.contains_key("cells.0.layers.3.op.1.weight"), "skip_connect has no weights");
    assert_eq!(entries["cells.3.downsample.1.weight"], ("F32".into(), vec![8, 4, 1, 1]));
    assert_eq!(entries["classifier.weight"], ("F32".into(), vec![10, 8]));
    assert_eq!(entries["lastact.0.num_batches_tracked"], ("I64".into(), vec![]));

    let bad = dir.path().join("bad.safetensors");
    let o = export(dir.path(), &bad, false);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("sotl-nas train --out"), "{err}");
    assert!(!bad.exists());
}

#[test]
fn export_refuses_a_network_tiny_network_cannot_hold() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("mnist");
    let o = Command::new(env!("CARGO_BIN_EXE_sotl-nas"))
        .args(["--threads", "1", "train", "--arch", BEST, "--dataset", "synthetic", "--subset"])
        .args(["64", "--test-subset", "32", "--channels", "2", "--cells", "1", "--epochs", "1"])
        .arg("--out")
        .arg(&run)
        .output()
        .unwrap();
    assert!(o.status.success(), "stderr: {}", String::from_utf8_lossy(&o.stderr));
    // A DARTS-space genotype's run: TinyNetwork is NAS-Bench-201's network only.
    let cfg = run.join("config.json");
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&cfg).unwrap()).unwrap();
    v["arch"] = serde_json::Value::Null;
    v["genotype"] = "darts-v2".into();
    std::fs::write(&cfg, serde_json::to_vec(&v).unwrap()).unwrap();
    let out = dir.path().join("x.safetensors");
    let o = export(&run, &out, false);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("DARTS-space genotype") && err.contains("TinyNetwork"), "{err}");
    assert!(!out.exists());
}

#[test]
fn export_refuses_a_one_channel_network() {
    let test = "export_refuses_a_one_channel_network";
    let root = std::env::var_os("SOTL_NAS_DATA")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared").into());
    if !root.join("datasets/mnist").is_dir() {
        println!("skipped: {test} needs MNIST under ../shared (absent)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("mnist");
    let o = Command::new(env!("CARGO_BIN_EXE_sotl-nas"))
        .arg("--data-root")
        .arg(&root)
        .args(["--threads", "1", "train", "--arch", BEST, "--dataset", "mnist", "--subset"])
        .args(["64", "--test-subset", "32", "--channels", "2", "--cells", "1", "--epochs", "1"])
        .args(["--batch-size", "32", "--out"])
        .arg(&run)
        .output()
        .unwrap();
    assert!(o.status.success(), "stderr: {}", String::from_utf8_lossy(&o.stderr));
    let out = dir.path().join("x.safetensors");
    let o = export(&run, &out, false);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("1-channel") && err.contains("3 channels"), "{err}");
    assert!(!out.exists());
}
