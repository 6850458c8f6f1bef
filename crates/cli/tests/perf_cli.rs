//! End to end: `sotl-nas perf nb201` at a tiny size prints the reference layout as JSON, writes
//! its report, and refuses bad input with a message naming it.

use std::process::{Command, Output};

fn sotl_nas(dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sotl-nas"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run sotl-nas")
}

const TINY: [&str; 14] = [
    "--C",
    "4",
    "--N",
    "1",
    "--batch",
    "4",
    "--steps",
    "2",
    "--warmup",
    "0",
    "--data-images",
    "8",
    "--data-batches",
    "2",
];

#[test]
fn perf_nb201_tiny_rows_print_json_and_write_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec![
        "--json",
        "--threads",
        "1",
        "perf",
        "nb201",
        "--bench",
        "eval,data,finetune",
        "--output",
        "r/perf.json",
    ];
    args.extend(TINY);
    let o = sotl_nas(dir.path(), &args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let mut rows: Vec<&String> = v["results"].as_object().unwrap().keys().collect();
    rows.sort();
    assert_eq!(rows, ["data", "eval", "finetune"]);
    // Rows come in table order in the text itself.
    let text = String::from_utf8_lossy(&o.stdout);
    let at = |k: &str| text.find(&format!("\"{k}\":{{")).unwrap();
    assert!(at("finetune") < at("eval") && at("eval") < at("data"));
    assert_eq!(v["config"]["C"], 4);
    assert_eq!(v["config"]["threads"], 1);
    assert_eq!(v["results"]["eval"]["steps"], 2);
    assert!(v["results"]["data"]["imgs_per_s"].as_f64().unwrap() > 0.0);
    let file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("r/perf.json")).unwrap())
            .unwrap();
    assert_eq!(file["results"]["finetune"]["imgs_per_step"], 4);
}

#[test]
fn perf_nb201_bad_input_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let o = sotl_nas(dir.path(), &["perf", "nb201", "--bench", "spos,dart"]);
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("unknown bench row \"dart\""),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let o =
        sotl_nas(dir.path(), &["perf", "nb201", "--bench", "spos", "--spos-archs", "missing.json"]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("missing.json") && err.contains("cannot read"), "{err}");
    let o = sotl_nas(dir.path(), &["perf", "nb201", "--steps", "0"]);
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("steps"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}
