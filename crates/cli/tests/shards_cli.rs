//! A sharded ranking equals the unsharded one: `oneshot plan`, `oneshot rank --plan --shard`,
//! `shards missing`, `oneshot merge`, on the embedded synthetic data.

use std::path::Path;
use std::process::{Command, Output};

fn sotl_nas() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sotl-nas"));
    c.args(["--threads", "1"]);
    c
}

const CONFIG: &str = r#"
[data]
source = "synthetic"
synthetic_images = 200
n_train = 64
n_val = 32
image_size = 8
[net]
channels = 2
cells_per_stage = 1
[pool]
size = 7
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
"#;

fn ok(o: Output) -> String {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

fn run(args: &[&str], paths: &[&Path]) -> Output {
    let mut c = sotl_nas();
    c.args(args);
    for p in paths {
        c.arg(p);
    }
    c.output().unwrap()
}

/// results.csv without its timing columns (the last four).
fn scores(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("results.csv"))
        .unwrap()
        .lines()
        .map(|l| l.rsplitn(5, ',').nth(4).unwrap().to_string())
        .collect()
}

#[test]
fn shards_merge_into_the_unsharded_ranking_and_gaps_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cfg = d.join("c.toml");
    std::fs::write(&cfg, CONFIG).unwrap();
    ok(run(
        &["oneshot", "train", "--trainer", "spos", "--config"],
        &[&cfg, Path::new("--out"), &d.join("sn")],
    ));
    let ckpt = d.join("sn/supernet.ot");
    let whole = d.join("whole");
    ok(run(&["oneshot", "rank", "--supernet"], &[&ckpt, Path::new("--out"), &whole]));

    let sharded = d.join("sharded");
    ok(run(&["oneshot", "plan", "--supernet"], &[&ckpt, Path::new("--out"), &sharded]));
    let plan = sharded.join("plan.json");
    let missing = |n: &str| {
        ok(run(&["shards", "missing", "--shards", n, "--plan"], &[&plan])).trim().to_string()
    };
    assert_eq!(missing("3"), "0-2");
    for s in ["0/3", "2/3"] {
        ok(run(&["oneshot", "rank", "--shard", s, "--plan"], &[&plan]));
    }
    assert_eq!(missing("3"), "1");
    // Shard 1 holds candidates 1 and 4: the merge names them.
    let o = run(&["oneshot", "merge", "--plan"], &[&plan]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("candidate(s) 1,4 of 7"), "{err}");
    // A repeated task does no work twice; the missing shard, run as a Slurm array task, fills in.
    let again: serde_json::Value = serde_json::from_str(&ok(run(
        &["--json", "oneshot", "rank", "--shard", "0/3", "--plan"],
        &[&plan],
    )))
    .unwrap();
    assert_eq!((again["candidates"].as_u64(), again["finetuned"].as_u64()), (Some(3), Some(0)));
    let o = sotl_nas()
        .env("SLURM_ARRAY_TASK_ID", "1")
        .args(["oneshot", "rank", "--shard", "auto/3", "--plan"])
        .arg(&plan)
        .output()
        .unwrap();
    ok(o);
    assert_eq!(missing("3"), "");
    // Bare `auto` takes the count from a Slurm array 0..N-1; Kubernetes' index works with a
    // given count; an array that does not start at 0 needs the count given.
    let auto = |vars: &[(&str, &str)], shard: &str| {
        let mut c = sotl_nas();
        c.env_remove("SLURM_ARRAY_TASK_ID");
        for (k, v) in vars {
            c.env(k, v);
        }
        c.args(["--json", "oneshot", "rank", "--shard", shard, "--plan"])
            .arg(&plan)
            .output()
            .unwrap()
    };
    let slurm = [
        ("SLURM_ARRAY_TASK_ID", "2"),
        ("SLURM_ARRAY_TASK_COUNT", "3"),
        ("SLURM_ARRAY_TASK_MIN", "0"),
        ("SLURM_ARRAY_TASK_MAX", "2"),
    ];
    let v: serde_json::Value = serde_json::from_str(&ok(auto(&slurm, "auto"))).unwrap();
    assert_eq!((v["shard"]["index"].as_u64(), v["shard"]["count"].as_u64()), (Some(2), Some(3)));
    let v: serde_json::Value =
        serde_json::from_str(&ok(auto(&[("JOB_COMPLETION_INDEX", "1")], "auto/3"))).unwrap();
    assert_eq!((v["shard"]["index"].as_u64(), v["finetuned"].as_u64()), (Some(1), Some(0)));
    let shifted = [
        ("SLURM_ARRAY_TASK_ID", "2"),
        ("SLURM_ARRAY_TASK_COUNT", "1"),
        ("SLURM_ARRAY_TASK_MIN", "2"),
        ("SLURM_ARRAY_TASK_MAX", "2"),
    ];
    let o = auto(&shifted, "auto");
    assert!(
        !o.status.success()
            && String::from_utf8_lossy(&o.stderr).contains("give it: --shard auto/N")
    );
    ok(run(&["oneshot", "merge", "--plan"], &[&plan]));
    assert_eq!(scores(&sharded), scores(&whole));
    for f in ["picks.json", "picks.md"] {
        assert_eq!(
            std::fs::read(sharded.join(f)).unwrap(),
            std::fs::read(whole.join(f)).unwrap(),
            "{f}"
        );
    }
    if whole.join("ranking.json").exists() {
        assert_eq!(
            std::fs::read(sharded.join("ranking.json")).unwrap(),
            std::fs::read(whole.join("ranking.json")).unwrap()
        );
    }

    // A result stamped by another plan is refused, named.
    let p = sharded.join("candidates/00002.json");
    let text = std::fs::read_to_string(&p).unwrap();
    let hash = serde_json::from_str::<serde_json::Value>(&text).unwrap()["plan"]
        .as_str()
        .unwrap()
        .to_string();
    std::fs::write(&p, text.replace(&hash, "0123456789abcdef0123456789abcdef")).unwrap();
    let o = run(&["oneshot", "merge", "--plan"], &[&plan]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("candidate(s) 2 hold results of another plan"),
        "{err}"
    );
    assert_eq!(missing("3"), "2");
    // The merge refuses a config changed since the plan (it would rank with other settings).
    let sn_cfg = d.join("sn/config.json");
    let orig = std::fs::read_to_string(&sn_cfg).unwrap();
    let edited: serde_json::Value = {
        let mut v: serde_json::Value = serde_json::from_str(&orig).unwrap();
        v["report"]["top_k"] = serde_json::json!(3);
        v
    };
    std::fs::write(&sn_cfg, serde_json::to_string_pretty(&edited).unwrap()).unwrap();
    let o = run(&["oneshot", "merge", "--plan"], &[&plan]);
    assert!(
        !o.status.success()
            && String::from_utf8_lossy(&o.stderr).contains("changed since the plan")
    );
    std::fs::write(&sn_cfg, orig).unwrap();
    // A plan edited by hand is refused; so is a shard index out of range.
    let o = run(&["oneshot", "rank", "--shard", "3/3", "--plan"], &[&plan]);
    assert!(!o.status.success() && String::from_utf8_lossy(&o.stderr).contains("below the count"));
    std::fs::write(
        &plan,
        std::fs::read_to_string(&plan).unwrap().replacen("\"pool_seed\": 0", "\"pool_seed\": 1", 1),
    )
    .unwrap();
    let o = run(&["oneshot", "rank", "--shard", "0/3", "--plan"], &[&plan]);
    assert!(
        !o.status.success() && String::from_utf8_lossy(&o.stderr).contains("was edited"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

const DARTS: &str = r#"
methods = ["darts1", "sotl"]
seeds = 2
[search]
epochs = 1
batch_size = 8
unroll_steps = 2
eigen_every = 0
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

/// Per seed of a darts study's summary.json: method, seed, genotype (what the search chose).
fn chosen(dir: &Path) -> Vec<(String, u64, String)> {
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["method"].as_str().unwrap().into(),
                s["seed"].as_u64().unwrap(),
                s["genotype"].as_str().unwrap().into(),
            )
        })
        .collect()
}

#[test]
fn study_grids_shard_by_cell_and_merge_into_the_whole_study() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cfg = d.join("d.toml");
    std::fs::write(&cfg, DARTS).unwrap();
    let whole = d.join("whole");
    ok(run(&["darts", "--config"], &[&cfg, Path::new("--out"), &whole]));
    // Four cells (darts1 seeds 0, 1; sotl seeds 0, 1) over three shards: shard 2 holds cell 2.
    let sharded = d.join("sharded");
    let shard = |s: &str| {
        let mut c = sotl_nas();
        c.args(["darts", "--shard", s, "--config"]).arg(&cfg).arg("--out").arg(&sharded);
        ok(c.output().unwrap())
    };
    shard("0/3");
    shard("1/3");
    assert!(!sharded.join("table.md").exists(), "a shard leaves the tables to the merge");
    let missing = ok(run(&["shards", "missing", "--shards", "3", "--study"], &[&sharded]));
    assert_eq!(missing.trim(), "2");
    let merge = || {
        let mut c = sotl_nas();
        c.args(["darts", "--merge", "--config"]).arg(&cfg).arg("--out").arg(&sharded);
        c.output().unwrap()
    };
    let o = merge();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("grid cell(s) 2 "), "{err}");
    // A merge naming another grid (fewer seeds) is refused, not written over a subset.
    let mut c = sotl_nas();
    c.args(["darts", "--merge", "--seeds", "1", "--config"]).arg(&cfg).arg("--out").arg(&sharded);
    let o = c.output().unwrap();
    assert!(
        !o.status.success() && String::from_utf8_lossy(&o.stderr).contains("holds another grid")
    );
    shard("2/3");
    ok(merge());
    assert_eq!(chosen(&sharded), chosen(&whole));

    // oneshot run: trainers x seeds, the same way.
    let ocfg = d.join("o.toml");
    std::fs::write(&ocfg, CONFIG).unwrap();
    let study = |out: &Path, extra: &[&str]| {
        let mut c = sotl_nas();
        c.args([
            "--json",
            "oneshot",
            "run",
            "--trainers",
            "spos,fairnas",
            "--seeds",
            "1",
            "--config",
        ])
        .arg(&ocfg)
        .arg("--out")
        .arg(out)
        .args(extra);
        c.output().unwrap()
    };
    let owhole = d.join("owhole");
    let all: serde_json::Value = serde_json::from_str(&ok(study(&owhole, &[]))).unwrap();
    let osharded = d.join("osharded");
    ok(study(&osharded, &["--shard", "1/2"]));
    assert_eq!(
        ok(run(&["shards", "missing", "--shards", "2", "--study"], &[&osharded])).trim(),
        "0"
    );
    let o = study(&osharded, &["--merge"]);
    assert!(!o.status.success() && String::from_utf8_lossy(&o.stderr).contains("grid cell(s) 0 "));
    ok(study(&osharded, &["--shard", "0/2"]));
    let merged: serde_json::Value =
        serde_json::from_str(&ok(study(&osharded, &["--merge"]))).unwrap();
    assert_eq!(merged["picks"], all["picks"]);
}
