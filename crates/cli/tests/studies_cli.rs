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
        let acc = r["test_acc"][0].as_f64().unwrap();
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
