//! Helpers shared by the CLI's end-to-end tests.

// Each test binary compiles this module and uses only part of it.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// A NAS-Bench-201 cell with every kind of op, for runs that train one network.
pub const ARCH: &str =
    "|nor_conv_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_3x3~0|avg_pool_3x3~1|nor_conv_3x3~2|";

/// Keys that differ between an interrupted and an uninterrupted run by design: wall-clock
/// timings, where the run folder is, and how a run was resumed.
fn volatile(key: &str) -> bool {
    key == "timing"
        || key == "out"
        || key.contains("seconds")
        || key.ends_with("_s")
        || key.starts_with("resumed")
        || key == "wall"
}

/// `v` without the [`volatile`] keys, at any depth.
pub fn strip(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter().filter(|(k, _)| !volatile(k)).map(|(k, v)| (k, strip(v))).collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(strip).collect()),
        other => other,
    }
}

/// Every result file under `dir` as comparable values, keyed by its path in the folder.
pub fn results(dir: &Path) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let rel = p.strip_prefix(dir).unwrap().display().to_string();
            let text = || std::fs::read_to_string(&p).unwrap();
            let value = match p.extension().and_then(|e| e.to_str()) {
                Some("json") => strip(serde_json::from_str(&text()).unwrap()),
                Some("jsonl") => Value::Array(
                    text()
                        .lines()
                        .filter(|l| !l.trim().is_empty())
                        .map(|l| strip(serde_json::from_str(l).unwrap()))
                        .collect(),
                ),
                Some("csv") => csv_rows(&text()),
                _ => continue,
            };
            out.insert(rel, value);
        }
    }
    out
}

/// A CSV file as rows of `column -> cell`, timing columns left out (the files have no quoted
/// commas: arch strings use `|`, `~` and `+`).
fn csv_rows(text: &str) -> Value {
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or("").split(',').collect();
    Value::Array(
        lines
            .map(|l| {
                let row = header
                    .iter()
                    .zip(l.split(','))
                    .filter(|(k, _)| !volatile(k))
                    .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
                    .collect();
                Value::Object(row)
            })
            .collect(),
    )
}

/// The data root (`$SOTL_NAS_DATA`, else `../shared` beside the checkout) when it holds MNIST.
pub fn mnist_root() -> Option<PathBuf> {
    let root = std::env::var_os("SOTL_NAS_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared")));
    root.join("datasets/mnist").is_dir().then_some(root)
}
