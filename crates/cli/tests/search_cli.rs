//! End-to-end test of `sotl-nas search` with a tiny budget on the embedded synthetic dataset.

use std::process::Command;

const TINY: &str = r#"
[data]
source = "auto"
n_train = 192
n_val = 96
image_size = 8
synthetic_images = 400

[net]
channels = 4
cells_per_stage = 1

[train]
batch_size = 32
epochs = 1

[pool]
size = 4
seed = 3

[finetune]
steps = 6
batch_size = 32
sotl_window = 3
val_every = 3
mini_val_every = 3
inherited_window = 2
"#;

fn run(dir: &std::path::Path) -> (serde_json::Value, String) {
    let empty_root = dir.join("no-data");
    std::fs::create_dir_all(&empty_root).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sotl-nas"))
        .args(["--json", "--data-root"])
        .arg(&empty_root)
        .args(["search", "--top", "3", "--config"])
        .arg(dir.join("tiny.toml"))
        .arg("--out")
        .arg(dir.join("run"))
        .output()
        .expect("sotl-nas runs");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "search failed: {stderr}");
    let json: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("--json prints one JSON document");
    (json, stderr)
}

#[test]
fn search_runs_end_to_end_on_synthetic_data_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tiny.toml"), TINY).unwrap();
    let (first, stderr) = run(dir.path());
    assert!(
        stderr.contains("EMBEDDED SYNTHETIC"),
        "the synthetic fallback must be announced: {stderr}"
    );
    assert_eq!(first["data"], "synthetic");
    assert_eq!(first["pool_size"], 4);
    let chosen: sotl_space::Nb201Arch =
        first["chosen"].as_str().unwrap().parse().expect("chosen is an arch string");
    let top = first["top"].as_array().unwrap();
    assert_eq!(top.len(), 3);
    assert_eq!(top[0]["arch"].as_str().unwrap(), chosen.to_string());
    // Ranked best first by SoTL (higher = better).
    let sotl: Vec<f64> = top.iter().map(|r| r["sotl"].as_f64().unwrap()).collect();
    assert!(sotl.windows(2).all(|w| w[0] >= w[1]), "{sotl:?}");
    // No NB201 table under the empty root: no ground truth is invented.
    assert!(first["chosen_nb201_cifar10_test"].is_null());
    for f in
        ["config.json", "pool.json", "supernet.ot", "results.jsonl", "results.csv", "search.json"]
    {
        assert!(dir.path().join("run").join(f).exists(), "{f} missing");
    }
    // Rerunning with the same --out resumes from the finished files and gives the same answer.
    let (second, _) = run(dir.path());
    assert_eq!(second["chosen"], first["chosen"]);
    assert_eq!(second["top"], first["top"]);
}

#[test]
fn shipped_scaled_config_parses_and_validates() {
    let text = include_str!("../../../configs/oneshot-scaled.toml");
    let cfg: sotl_search::OneShotConfig =
        toml::from_str(text).expect("configs/oneshot-scaled.toml parses");
    cfg.validate().expect("configs/oneshot-scaled.toml validates");
    assert_eq!(
        (cfg.net.channels, cfg.net.cells_per_stage, cfg.pool.size, cfg.finetune.steps),
        (8, 1, 30, 50)
    );
    // Unknown keys are rejected.
    assert!(
        toml::from_str::<sotl_search::OneShotConfig>(&format!("{text}\n[extra]\nx = 1\n")).is_err()
    );
}
