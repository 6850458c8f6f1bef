//! End-to-end on the NAS-Bench-1shot1 spaces: `darts` and `oneshot run` on the embedded
//! synthetic data, their ground truth read from a NAS-Bench-101 table under the data root. The
//! table is a fixture in the converted format, written here with a known answer for every cell
//! of space 1 (test accuracy 80% + 1% per edge of the cell's depth), so every lookup can be
//! checked against the cell it was made for.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use sotl_bench::nb101::{Nb101Entry, Nb101Eval, Nb101Table};
use sotl_space::{CellShape, OneShot1Cell, OneShot1Space};

fn sotl_nas() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sotl-nas"));
    c.args(["--threads", "1"]);
    c
}

/// The fixture's test accuracy (%) of a cell.
fn known(cell: &OneShot1Cell) -> f64 {
    80.0 + cell.depth() as f64
}

/// Writes `root/nb101.csv`: every distinct cell of space 1, three runs at 108 epochs whose test
/// accuracies average to [`known`].
fn write_fixture(root: &Path) {
    let mut table = Nb101Table::default();
    for cell in OneShot1Space::S1.cells() {
        let acc = known(&cell) / 100.0;
        let run = |d: f64| {
            let e = Nb101Eval { test_accuracy: acc + d, ..Nb101Eval::default() };
            (e, e)
        };
        table.entries.entry(cell.hash()).or_insert_with(|| Nb101Entry {
            spec: cell.to_nb101().pruned().unwrap(),
            trainable_parameters: 1,
            runs: BTreeMap::from([(108, vec![run(-0.005), run(0.0), run(0.005)])]),
        });
    }
    table.write_csv(&root.join("nb101.csv")).unwrap();
}

const DARTS: &str = r#"
methods = ["darts1", "sotl"]
seeds = 1
space = "nb1shot1-s1"
[search]
epochs = 2
batch_size = 8
unroll_steps = 2
eigen_every = 1
eigen_batches = 1
drnas_progressive_keep = 0
drnas_partial_channels = [1]
[nb1shot1_net]
channels = 2
layers = 3
[data]
source = "synthetic"
synthetic_images = 64
n_train = 24
n_val = 24
image_size = 8
"#;

#[test]
fn darts_searches_space_1_and_reads_each_epochs_cell_from_the_nb101_table() {
    let dir = tempfile::tempdir().unwrap();
    write_fixture(dir.path());
    let cfg = dir.path().join("c.toml");
    std::fs::write(&cfg, DARTS).unwrap();
    let out = dir.path().join("run");
    let o = sotl_nas()
        .arg("--data-root")
        .arg(dir.path())
        .args(["--json", "darts", "--config"])
        .arg(&cfg)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let seeds: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    for (s, method) in seeds.as_array().unwrap().iter().zip(["darts1", "sotl"]) {
        let cell: OneShot1Cell = s["genotype"].as_str().unwrap().parse().unwrap();
        assert_eq!(s["depth"].as_u64().unwrap() as usize, cell.depth());
        assert!((s["cifar10_test"].as_f64().unwrap() - known(&cell)).abs() < 1e-9, "{cell}");
        // Every epoch's cell was looked up: the trajectory's accuracy follows its depth.
        let traj: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(out.join(method).join("seed0/trajectory.json")).unwrap(),
        )
        .unwrap();
        let points = traj["trajectory"].as_array().unwrap();
        assert_eq!(points.len(), 2);
        for p in points {
            let c: OneShot1Cell = p["genotype"].as_str().unwrap().parse().unwrap();
            assert!((p["test_accuracy"].as_f64().unwrap() - known(&c)).abs() < 1e-9, "{c}");
        }
        assert!(out.join(method).join("seed0/cell.svg").exists());
    }
    let table = std::fs::read_to_string(out.join("table.md")).unwrap();
    assert!(table.contains("nb1shot1-s1") && table.contains("test acc"), "{table}");

    // Methods the space does not define are refused with the reason.
    let o = sotl_nas()
        .args(["darts", "--method", "drnas", "--space", "nb1shot1-s2", "--out"])
        .arg(dir.path().join("bad"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("drnas_progressive_keep"), "{err}");
    let o = sotl_nas()
        .args(["darts", "--method", "pdarts", "--space", "nb1shot1-s3", "--out"])
        .arg(dir.path().join("bad2"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("use --space darts"), "{err}");
}

const ONESHOT: &str = r#"
space = "nb1shot1-s1"
[data]
source = "synthetic"
synthetic_images = 200
n_train = 64
n_val = 32
image_size = 8
[nb1shot1_net]
channels = 2
layers = 3
[pool]
size = 5
[train]
batch_size = 32
epochs = 1
[finetune]
steps = 4
batch_size = 32
sotl_window = 4
val_every = 2
mini_val_every = 2
inherited_window = 2
[report]
top_k = 2
"#;

#[test]
fn oneshot_ranks_a_space_1_pool_against_the_nb101_table() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.toml");
    std::fs::write(&cfg, ONESHOT).unwrap();
    let out = dir.path().join("run");
    let run = |root: &Path| {
        sotl_nas()
            .arg("--data-root")
            .arg(root)
            .args(["--json", "oneshot", "run", "--trainers", "spos,fairnas", "--seeds", "1"])
            .arg("--config")
            .arg(&cfg)
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap()
    };
    // Without the table: picks, no correlations.
    let empty = tempfile::tempdir().unwrap();
    let o = run(empty.path());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let study: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(study["table"].is_null());
    // With it, the same finetuning results (nothing runs again) are ranked against it.
    write_fixture(dir.path());
    let o = run(dir.path());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let study: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(!study["table"].is_null());
    let pool: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("pool.json")).unwrap()).unwrap();
    let want: Vec<f64> = pool["archs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| known(&a.as_str().unwrap().parse().unwrap()))
        .collect();
    for trainer in ["spos", "fairnas"] {
        let r: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(out.join(format!("{trainer}-seed0/ranking.json"))).unwrap(),
        )
        .unwrap();
        let truth: Vec<f64> =
            r["truth"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        assert_eq!(truth.len(), want.len());
        for (t, w) in truth.iter().zip(&want) {
            assert!((t - w).abs() < 1e-9, "{truth:?} vs {want:?}");
        }
    }
    let table = std::fs::read_to_string(out.join("table.md")).unwrap();
    assert!(table.contains("NAS-Bench-101 CIFAR-10 test accuracy (108 epochs"), "{table}");

    // A pool of another 1shot1 space is refused, naming the candidate.
    let s2 = dir.path().join("s2-pool.json");
    let cell = "nb1shot1-s2|conv3x3-bn-relu~0|conv3x3-bn-relu~1|conv3x3-bn-relu~0~2|conv3x3-bn-relu~0~3|output~1~2~4|";
    std::fs::write(
        &s2,
        format!("{{\"seed\":0,\"archs\":[\"{cell}\",\"{}\"]}}", cell.replace("~1~2~4", "~0~2~4")),
    )
    .unwrap();
    let o = sotl_nas()
        .args(["oneshot", "rank", "--supernet"])
        .arg(out.join("spos-seed0/supernet.ot"))
        .arg("--pool")
        .arg(&s2)
        .arg("--out")
        .arg(dir.path().join("bad"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("candidate 0") && err.contains("another space's"),
        "{err}"
    );
}

#[test]
fn every_method_and_trainer_runs_on_space_2() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.toml");
    std::fs::write(
        &cfg,
        DARTS.replace("nb1shot1-s1", "nb1shot1-s2").replace("epochs = 2", "epochs = 1"),
    )
    .unwrap();
    let methods = "darts1,darts2,sotl,sovl,sotl-exact,drnas,sotl-drnas";
    let o = sotl_nas()
        .args(["--json", "darts", "--method", methods, "--eigen-every", "0", "--config"])
        .arg(&cfg)
        .arg("--out")
        .arg(dir.path().join("darts"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let seeds: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(seeds.as_array().unwrap().len(), 7);
    for s in seeds.as_array().unwrap() {
        let g: OneShot1Cell = s["genotype"].as_str().unwrap().parse().unwrap();
        assert_eq!(g.space, OneShot1Space::S2, "{}", s["method"]);
    }
    let ocfg = dir.path().join("o.toml");
    std::fs::write(&ocfg, ONESHOT.replace("nb1shot1-s1", "nb1shot1-s2")).unwrap();
    let o = sotl_nas()
        .args(["--json", "oneshot", "run", "--seeds", "1", "--epochs", "4", "--trainers"])
        .arg("spos,fairnas,multipath,reptile,metaprox,multipath-metaprox")
        .arg("--config")
        .arg(&ocfg)
        .arg("--out")
        .arg(dir.path().join("oneshot"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let study: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(study["picks"].as_array().unwrap().len(), 6);
}
