//! End-to-end: `sotl-nas darts` on the embedded synthetic dataset with a tiny budget.

use std::process::Command;

fn sotl_nas() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sotl-nas"));
    c.args(["--threads", "1"]);
    c
}

const CONFIG: &str = r#"
methods = ["darts1", "sotl"]
seeds = 1
[search]
epochs = 2
batch_size = 8
unroll_steps = 2
eigen_every = 1
eigen_batches = 1
[net]
channels = 2
cells_per_stage = 1
[data]
source = "synthetic"
synthetic_images = 64
n_train = 24
n_val = 24
image_size = 8
"#;

#[test]
fn darts_runs_writes_outputs_reuses_finished_seeds_and_refuses_another_config() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.toml");
    std::fs::write(&cfg, CONFIG).unwrap();
    let out = dir.path().join("run");
    let empty_root = dir.path().join("no-data");
    std::fs::create_dir_all(&empty_root).unwrap();
    let run = |extra: &[&str]| {
        let mut c = sotl_nas();
        c.arg("--data-root")
            .arg(&empty_root)
            .arg("--json")
            .arg("darts")
            .arg("--config")
            .arg(&cfg)
            .arg("--out")
            .arg(&out);
        c.args(extra);
        c.output().unwrap()
    };
    let first = run(&[]);
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&first.stdout).unwrap();
    assert_eq!(summary.as_array().unwrap().len(), 2);
    for m in ["darts1", "sotl"] {
        let seed = out.join(m).join("seed0");
        let csv = std::fs::read_to_string(seed.join("trajectory.csv")).unwrap();
        assert_eq!(csv.lines().count(), 3, "header + 2 epochs");
        assert!(seed.join("search.ckpt").exists() && seed.join("op_weights.svg").exists());
        let t: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(seed.join("trajectory.json")).unwrap())
                .unwrap();
        assert!(t["trajectory"][1]["eigenvalue"].is_number());
    }
    let table = std::fs::read_to_string(out.join("table.md")).unwrap();
    assert!(table.contains("SoTL-DARTS") && table.contains("DARTS (first-order)"));
    assert!(out.join("config.json").exists());

    // Rerunning the same folder reuses the finished seeds: same genotypes.
    let again = run(&[]);
    assert!(again.status.success());
    let s2: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(summary[0]["genotype"], s2[0]["genotype"]);

    // Another configuration in the same folder is refused with a clear message, and the
    // folder keeps its config.
    let before = std::fs::read_to_string(out.join("config.json")).unwrap();
    let other = run(&["--epochs", "3"]);
    assert!(!other.status.success());
    let err = String::from_utf8_lossy(&other.stderr);
    assert!(err.contains("different config") && err.contains("config.json"), "{err}");
    assert_eq!(std::fs::read_to_string(out.join("config.json")).unwrap(), before);

    // A bad method name is refused.
    let bad = run(&["--method", "darts3"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("darts3"));
}
