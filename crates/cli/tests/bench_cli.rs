//! End to end: the real `sotl-nas` binary queries NAS-Bench-201 and runs the baselines in a temp
//! folder (skipped when ../shared is absent).

use std::path::PathBuf;
use std::process::{Command, Output};

fn shared(test: &str) -> Option<PathBuf> {
    let root = std::env::var_os("SOTL_NAS_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared")));
    if root.join("benchmarks/nb201/nb201-200ep.csv").is_file() {
        Some(root)
    } else {
        println!("skipped: {test} needs ../shared (absent)");
        None
    }
}

fn sotl_nas(dir: &std::path::Path, root: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sotl-nas"))
        .current_dir(dir)
        .arg("--data-root")
        .arg(root)
        .args(args)
        .output()
        .expect("run sotl-nas")
}

fn stdout_json(o: &Output) -> serde_json::Value {
    assert!(o.status.success(), "failed: {}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stdout)))
}

#[test]
fn query_prints_the_ground_truth_row() {
    let Some(root) = shared("query_prints_the_ground_truth_row") else { return };
    let dir = tempfile::tempdir().unwrap();
    let skip = "|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|skip_connect~2|";
    let o = sotl_nas(
        dir.path(),
        &root,
        &["bench", "nb201", "query", skip, "--dataset", "cifar10", "--json"],
    );
    let v = stdout_json(&o);
    assert_eq!(v["arch"], skip);
    let entries = v["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 3, "full200 test, mini test, mini valid: {v}");
    assert_eq!(entries[0]["table"], "full200");
    assert_eq!(entries[0]["accuracy"], 54.2967);
    let index = v["index"].as_u64().unwrap().to_string();
    // The same cell by index, human output.
    let o = sotl_nas(dir.path(), &root, &["bench", "nb201", "query", "--index", &index]);
    assert!(o.status.success());
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains(skip) && text.contains("54.2967") && text.contains("imagenet16-120"),
        "{text}"
    );
    // Bad input: a clear error, no panic.
    let o = sotl_nas(dir.path(), &root, &["bench", "nb201", "query", "|skip_connect~0|"]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("malformed arch string") && !err.contains("panicked"), "{err}");
}

#[test]
fn rea_and_rs_write_runs_and_summaries() {
    let Some(root) = shared("rea_and_rs_write_runs_and_summaries") else { return };
    let dir = tempfile::tempdir().unwrap();
    let args = ["bench", "nb201", "rea", "--runs", "5", "--seed", "3", "--json"];
    let v = stdout_json(&sotl_nas(dir.path(), &root, &args));
    assert_eq!(v["algorithm"], "rea");
    assert_eq!(v["runs"], 5);
    assert_eq!(v["reused_runs"], 0);
    let out = dir.path().join("runs/bench-nb201-rea");
    for f in ["config.json", "summary.json", "summary.md", "run-000.json", "run-004.json"] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    let run: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("run-002.json")).unwrap()).unwrap();
    assert_eq!(run["trajectory"].as_array().unwrap().len(), 100);
    let mean = v["summary"]["mean_test_accuracy"].as_f64().unwrap();
    assert!((85.0..=94.3733).contains(&mean), "{mean}");
    // Rerun with the same folder and config: every run is reused, same numbers.
    let again = stdout_json(&sotl_nas(dir.path(), &root, &args));
    assert_eq!(again["reused_runs"], 5);
    assert_eq!(again["summary"], v["summary"]);
    // Another config into the same folder is refused.
    let o = sotl_nas(dir.path(), &root, &["bench", "nb201", "rea", "--runs", "5", "--seed", "4"]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("different config") && err.contains("another --out"), "{err}");
    // A config file with flag overrides, and RS into its own folder.
    std::fs::write(
        dir.path().join("rs.toml"),
        "runs = 2\nseed = 9\n[search]\nbudget = 20\ndataset = \"cifar100\"\n",
    )
    .unwrap();
    let v = stdout_json(&sotl_nas(
        dir.path(),
        &root,
        &[
            "bench", "nb201", "rs", "--config", "rs.toml", "--runs", "3", "--out", "rs-out",
            "--json",
        ],
    ));
    assert_eq!(
        (v["runs"].as_u64(), v["seed"].as_u64(), v["budget"].as_u64()),
        (Some(3), Some(9), Some(20))
    );
    assert_eq!(v["dataset"], "cifar100");
    assert!(dir.path().join("rs-out/run-002.json").is_file());
    // Unknown config keys and bad values are errors.
    std::fs::write(dir.path().join("bad.toml"), "[search]\npopulaton = 3\n").unwrap();
    let o = sotl_nas(
        dir.path(),
        &root,
        &["bench", "nb201", "rea", "--config", "bad.toml", "--out", "x"],
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("populaton"));
}

#[test]
fn a_missing_table_names_the_path_looked_for() {
    let dir = tempfile::tempdir().unwrap();
    let o = sotl_nas(dir.path(), dir.path(), &["bench", "nb201", "query", "--index", "0"]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("benchmarks/nb201/nb201-200ep.csv") && err.contains("--data-root"),
        "{err}"
    );
}

#[test]
fn nb101_converts_the_official_file_and_answers_queries() {
    use base64::Engine;
    let dir = tempfile::tempdir().unwrap();
    // One run of input -> conv1x1 -> output (hash d1269d91..., published for this cell): a
    // ModelMetrics with three evaluations, the last with test accuracy 0.875 (field 5), and
    // 10 parameters (field 2).
    let mut m = vec![0x0a, 0x00, 0x0a, 0x00, 0x0a, 0x09, 0x29];
    m.extend(0.875f64.to_le_bytes());
    m.extend([0x10, 0x0a]);
    let row = serde_json::to_vec(&(
        "d1269d9156ddc027c40473008192958a",
        108,
        "010001000",
        "input,conv1x1-bn-relu,output",
        base64::engine::general_purpose::STANDARD.encode(&m),
    ))
    .unwrap();
    let mut file = Vec::new();
    sotl_bench::tfrecord::write_record(&mut file, &row).unwrap();
    let src = dir.path().join("nasbench_only108.tfrecord");
    std::fs::write(&src, &file).unwrap();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_sotl-nas"))
            .current_dir(dir.path())
            .args(args)
            .output()
            .expect("run sotl-nas")
    };
    let o =
        run(&["--json", "bench", "nb101", "convert", "--tfrecord", "nasbench_only108.tfrecord"]);
    let c = stdout_json(&o);
    assert_eq!((c["cells"].as_u64(), c["runs"].as_u64()), (Some(1), Some(1)));
    let o = run(&[
        "--json",
        "bench",
        "nb101",
        "query",
        "--adjacency",
        "010001000",
        "--ops",
        "conv1x1-bn-relu",
    ]);
    let a = stdout_json(&o);
    assert_eq!(a["trainable_parameters"], 10);
    assert_eq!(a["mean_test_accuracy"], 0.875);
    // A cell the table lacks, and a cut file, are errors that say what and where.
    let o = run(&["bench", "nb101", "query", "--adjacency", "0100"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("is not in the"), "{err}");
    std::fs::write(&src, &file[..file.len() - 2]).unwrap();
    let o = run(&[
        "bench",
        "nb101",
        "convert",
        "--tfrecord",
        "nasbench_only108.tfrecord",
        "--out",
        "t.csv",
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("record 0") && err.contains("truncated"), "{err}");
    assert!(!dir.path().join("t.csv").exists());
}
