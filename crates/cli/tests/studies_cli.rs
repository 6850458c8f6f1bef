//! End-to-end tests of `sotl-nas fourier` and `sotl-nas hypergrad`, running the real binary.

mod common;

use std::process::Command;

use common::mnist_root;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sotl-nas"));
    c.arg("--threads").arg("1");
    c
}

#[test]
fn fourier_selects_the_true_degree_and_converges_from_below() {
    let dir = tempfile::tempdir().unwrap();
    let out = bin()
        .args(["--json", "fourier", "--init", "-1", "--t", "2", "--steps", "1200", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // Targets use the first k = 3 Fourier terms; the fixed-degree SoTL must be lowest there.
    assert_eq!(v["true_degree"], 3);
    assert_eq!(v["sotl_argmin_degree"], 3);
    let runs = v["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2, "SoTL T=2 and the validation baseline: {runs:?}");
    for r in runs {
        let d = r["final_max_deg"].as_f64().unwrap();
        assert!((d - 3.0).abs() < 0.5, "MaxDeg from -1 ended at {d}: {r}");
        assert!(r["first_within_half"].as_u64().is_some(), "{r}");
    }
    for f in ["results.json", "config.json", "maxdeg.csv", "maxdeg.md", "fixed_degree.csv"] {
        assert!(dir.path().join(f).is_file(), "missing {f}");
    }
}

#[test]
fn fourier_rejects_a_bad_unroll_length() {
    let dir = tempfile::tempdir().unwrap();
    let out = bin().args(["fourier", "--t", "0", "--out"]).arg(dir.path()).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unroll length 0"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn hypergrad_trains_an_mlp_on_mnist_and_resumes() {
    let Some(root) = mnist_root() else {
        eprintln!("skipped: hypergrad_trains_an_mlp_on_mnist_and_resumes needs ../shared (absent)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("hg.toml");
    std::fs::write(&cfg, "val_size = 500\ntrain_limit = 2000\neta0 = 0.1\n").unwrap();
    let run = || {
        bin()
            .arg("--data-root")
            .arg(&root)
            .args(["--json", "hypergrad", "--t", "2,10", "--epochs", "1", "--config"])
            .arg(&cfg)
            .arg("--out")
            .arg(dir.path().join("out"))
            .output()
            .unwrap()
    };
    let first = run();
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let v: serde_json::Value = serde_json::from_slice(&first.stdout).unwrap();
    // The default 784-1000-1000-10 MLP: 785 000 + 1 001 000 + 10 010 weights and biases.
    assert_eq!(v["params"], 1_796_010);
    let runs = v["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2);
    for r in runs {
        let acc = r["acc"][0].as_f64().unwrap();
        // 16 SGD steps at eta ~0.1 on 1 500 MNIST images take an MLP far above chance (10%).
        assert!(acc > 50.0, "test accuracy {acc}% after one epoch: {r}");
        assert!(r["final_eta"].as_f64().unwrap() > 0.0);
    }
    // Rerunning with the same folder resumes from the finished checkpoints: same answer.
    let second = run();
    assert!(second.status.success(), "{}", String::from_utf8_lossy(&second.stderr));
    let w: serde_json::Value = serde_json::from_slice(&second.stdout).unwrap();
    assert_eq!(v["runs"], w["runs"]);
}

const TINY_ONESHOT: &str = r#"
[data]
source = "synthetic"
n_train = 128
n_val = 64
image_size = 8
synthetic_images = 300

[net]
channels = 4
cells_per_stage = 1

[train]
batch_size = 32
epochs = 1

[pool]
size = 5

[finetune]
steps = 4
sotl_window = 3
val_every = 4
mini_val_every = 2
inherited_window = 2
"#;

#[test]
fn oneshot_ceiling_trains_the_pool_standalone_ranks_it_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("tiny.toml");
    std::fs::write(&cfg, TINY_ONESHOT).unwrap();
    let out = dir.path().join("ceiling");
    // With ../shared the NAS-Bench-201 table is there to rank against (the images stay synthetic).
    let root = mnist_root();
    let run = |epochs: &str| {
        let mut c = bin();
        if let Some(r) = &root {
            c.arg("--data-root").arg(r);
        }
        c.args(["--json", "oneshot", "ceiling", "--candidates", "3", "--standalone-epochs"])
            .arg(epochs)
            .arg("--config")
            .arg(&cfg)
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap()
    };
    let first = run("2");
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let v: serde_json::Value = serde_json::from_slice(&first.stdout).unwrap();
    let cands = v["candidates"].as_array().unwrap();
    assert_eq!(cands.len(), 3, "the first 3 of a pool of 5");
    let pool: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("pool.json")).unwrap()).unwrap();
    for (i, c) in cands.iter().enumerate() {
        assert_eq!(c["arch"], pool["archs"][i], "candidate {i} is the pool's {i}th cell");
        assert_eq!(c["val_acc"].as_array().unwrap().len(), 2, "one accuracy per epoch: {c}");
        // 128 images in batches of 32: 4 steps an epoch; the SoTL window (3) is inside it, so
        // the window's sum is below the first epoch's (cross-entropy losses are positive).
        let (w, e) =
            (c["sotl_from_scratch"].as_f64().unwrap(), c["sotl_first_epoch"].as_f64().unwrap());
        assert!(w > 0.0 && w < e, "window {w}, first epoch {e}");
        assert!(out.join(format!("standalone/{i}/summary.json")).is_file());
    }
    let csv = std::fs::read_to_string(out.join("ceiling.csv")).unwrap();
    assert_eq!(csv.lines().count(), 4, "header and 3 rows: {csv}");
    assert!(out.join("ceiling.md").is_file());
    let rankings = v["rankings"].as_array().unwrap();
    if root.is_some() {
        // Two epoch rows, two SoTL rows and the parameter count, which ranks exactly as itself.
        assert_eq!(rankings.len(), 5, "{rankings:?}");
        assert_eq!(rankings[4]["label"], "Params");
        let v = rankings[4]["spearman_vs_params"].as_f64().unwrap();
        assert!((v - 1.0).abs() < 1e-12, "{v}");
    } else {
        assert!(rankings.is_empty());
    }

    // Rerun: every candidate is finished, so nothing trains and the numbers are the same.
    let again = run("2");
    assert!(again.status.success(), "{}", String::from_utf8_lossy(&again.stderr));
    let w: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    for (a, b) in cands.iter().zip(w["candidates"].as_array().unwrap()) {
        assert_eq!(a["val_acc"], b["val_acc"]);
        assert_eq!(a["sotl_from_scratch"], b["sotl_from_scratch"]);
    }
    assert!(!String::from_utf8_lossy(&again.stderr).contains("epoch   0"), "retrained");

    // Other settings in the same folder are refused with the fix, not mixed in.
    let other = run("3");
    assert!(!other.status.success());
    let err = String::from_utf8_lossy(&other.stderr);
    assert!(err.contains("different config") && err.contains("--out"), "{err}");
    let zero = run("0");
    assert!(!zero.status.success());
    assert!(String::from_utf8_lossy(&zero.stderr).contains("at least one training epoch"));
}
