//! End-to-end test of `sotl-nas search` with a tiny budget on the embedded synthetic dataset.

use std::process::Command;

const TINY: &str = r#"
method = "evolution"
seed = 3

[oneshot.data]
source = "auto"
n_train = 192
n_val = 96
image_size = 8
synthetic_images = 400

[oneshot.net]
channels = 4
cells_per_stage = 1

[oneshot.train]
batch_size = 32
epochs = 1

[oneshot.pool]
size = 4

[oneshot.finetune]
steps = 6
batch_size = 32
sotl_window = 3
val_every = 3
mini_val_every = 3
inherited_window = 2

[oneshot.evolution]
population = 3
sample_size = 2
budget = 6
"#;

const TINY_DARTS: &str = r#"
method = "sotl-darts"
seed = 3

[darts.search]
epochs = 2
batch_size = 16
unroll_steps = 2

[darts.net]
channels = 4
cells_per_stage = 1

[darts.data]
source = "auto"
n_train = 64
n_val = 32
image_size = 8
synthetic_images = 200
"#;

fn run(dir: &std::path::Path, method: &str) -> (serde_json::Value, String) {
    let empty_root = dir.join("no-data");
    std::fs::create_dir_all(&empty_root).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sotl-nas"))
        .args(["--json", "--data-root"])
        .arg(&empty_root)
        .args(["search", "--method", method, "--top", "3", "--config"])
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

/// Runs `sotl-nas search ARGS --out DIR/run` (data root `DIR`, which has no data), expects it
/// to fail, and returns its stderr.
fn search_fails(dir: &std::path::Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_sotl-nas"))
        .arg("--data-root")
        .arg(dir)
        .arg("search")
        .args(args)
        .arg("--out")
        .arg(dir.join("run"))
        .output()
        .expect("sotl-nas runs");
    assert!(!out.status.success(), "search {args:?} should fail");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn search_runs_end_to_end_on_synthetic_data_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tiny.toml"), TINY).unwrap();
    let (first, stderr) = run(dir.path(), "evolution");
    assert!(
        stderr.contains("EMBEDDED SYNTHETIC"),
        "the synthetic fallback must be announced: {stderr}"
    );
    assert_eq!(first["data"], "synthetic");
    assert_eq!(first["method"], "evolution");
    assert!(first["budget"].as_str().unwrap().contains("6 evaluations"), "{}", first["budget"]);
    let chosen: sotl_space::Nb201Arch =
        first["chosen"].as_str().unwrap().parse().expect("chosen is an arch string");
    assert_eq!(first["seed"], 3, "the one seed of the config");
    assert!(first["differentiable"].is_null());
    let found = &first["one_shot"];
    let top = found["top"].as_array().unwrap();
    assert_eq!(top.len(), 3.min(found["candidates_finetuned"].as_u64().unwrap() as usize));
    assert_eq!(top[0]["arch"].as_str().unwrap(), chosen.to_string());
    // Ranked best first: lowest SoTL first.
    let sotl: Vec<f64> = top.iter().map(|r| r["sotl"].as_f64().unwrap()).collect();
    assert!(sotl.windows(2).all(|w| w[0] <= w[1]), "{sotl:?}");
    // No NB201 table under the empty root: no ground truth is invented.
    assert!(first["chosen_nb201_cifar10_test"].is_null());
    let run_dir = dir.path().join("run");
    for f in ["config.json", "supernet.ot", "evolution.jsonl", "evolution.json", "search.json"] {
        assert!(run_dir.join(f).exists(), "{f} missing");
    }
    // A kill after the first finetuned candidate: the rerun finetunes only the rest and
    // rebuilds the same file and the same answer.
    let log = std::fs::read_to_string(run_dir.join("evolution.jsonl")).unwrap();
    assert!(log.lines().count() >= 2, "{log}");
    // The kept record carries a sentinel timing that no real finetuning produces: a rerun that
    // recomputed it instead of resuming would overwrite it.
    let mut kept: serde_json::Value = serde_json::from_str(log.lines().next().unwrap()).unwrap();
    kept["timing"]["train_s"] = serde_json::json!(12345.0);
    std::fs::write(run_dir.join("evolution.jsonl"), format!("{kept}\n")).unwrap();
    let (second, stderr2) = run(dir.path(), "evolution");
    assert!(stderr2.contains("resuming"), "the finished supernet must be resumed: {stderr2}");
    let resumed = std::fs::read_to_string(run_dir.join("evolution.jsonl")).unwrap();
    let kept_back: serde_json::Value =
        serde_json::from_str(resumed.lines().next().unwrap()).unwrap();
    assert_eq!(kept_back["timing"]["train_s"], 12345.0, "the kept candidate was finetuned again");
    let archs = |t: &str| -> Vec<String> {
        t.lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .map(|v| format!("{} {}", v["arch"], v["finetune"]))
            .collect()
    };
    let rebuilt = std::fs::read_to_string(run_dir.join("evolution.jsonl")).unwrap();
    assert_eq!(archs(&rebuilt), archs(&log), "the resumed run must rebuild the same results");
    assert_eq!(second["chosen"], first["chosen"]);
    assert_eq!(second["one_shot"]["top"], first["one_shot"]["top"]);
    // The pool method reuses the trained supernet in the same folder.
    let (pool, _) = run(dir.path(), "pool");
    assert_eq!(pool["method"], "pool");
    assert_eq!(pool["one_shot"]["candidates_finetuned"], 4);
    for f in ["pool.json", "results.jsonl", "results.csv"] {
        assert!(run_dir.join(f).exists(), "{f} missing");
    }
}

#[test]
fn sotl_darts_search_reports_its_path_and_resumes_from_the_finished_search() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tiny.toml"), TINY_DARTS).unwrap();
    let (first, stderr) = run(dir.path(), "sotl-darts");
    assert!(stderr.contains("EMBEDDED SYNTHETIC"), "{stderr}");
    assert_eq!(first["method"], "sotl-darts");
    assert_eq!(first["seed"], 3);
    assert!(first["one_shot"].is_null());
    // 64 images at batch 16: 4 steps an epoch, one alpha step per T = 2 of them.
    let budget = first["budget"].as_str().unwrap();
    assert!(
        budget.contains("64 images of 8x8, 2 epochs of batch 16; T=2 (about 4 alpha steps)"),
        "{budget}"
    );
    let path = &first["differentiable"];
    let traj = path["trajectory"].as_array().unwrap();
    assert_eq!(traj.len(), 2, "one argmax cell per epoch");
    let chosen: sotl_space::Nb201Arch =
        first["chosen"].as_str().unwrap().parse().expect("chosen is an arch string");
    assert_eq!(traj[1]["genotype"].as_str().unwrap(), chosen.to_string());
    assert_eq!(path["warmup_epochs"], 0);
    let weights = path["op_weights"].as_array().unwrap();
    assert_eq!(weights.len(), 6);
    for row in weights {
        let w: Vec<f64> = row.as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        assert_eq!(w.len(), 5);
        assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-6, "softmax rows sum to 1: {w:?}");
    }
    assert!(first["chosen_nb201_cifar10_test"].is_null());
    let seed_dir = dir.path().join("run/sotl/seed3");
    for f in ["search.ckpt", "final.json", "trajectory.csv"] {
        assert!(seed_dir.join(f).exists(), "{f} missing");
    }
    // A rerun reads the finished search instead of searching again: a sentinel cell written
    // into final.json comes back as the choice.
    let sentinel = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|";
    let final_path = seed_dir.join("final.json");
    let mut fin: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&final_path).unwrap()).unwrap();
    fin["genotype"] = serde_json::json!(sentinel);
    std::fs::write(&final_path, fin.to_string()).unwrap();
    let (second, _) = run(dir.path(), "sotl-darts");
    assert_eq!(second["chosen"], sentinel);
    // The folder holds a SoTL-DARTS run: a one-shot method must not reuse it.
    let stderr = search_fails(dir.path(), &["--method", "pool"]);
    assert!(stderr.contains("use another --out"), "{stderr}");
}

#[test]
fn flags_of_the_other_kind_of_method_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    for (args, needle) in [
        (&["--pool-size", "10"][..], "--pool-size is a setting of the one-shot methods"),
        (&["--method", "evolution", "--t", "5"][..], "--unroll-steps is a sotl-darts setting"),
        (&["--epochs", "2"][..], "arch_warmup_epochs"),
        (&["--finetune-steps", "5"][..], "add --finalists N"),
        (&["--method", "pool", "--finalists", "5"][..], "--finalists is a sotl-darts setting"),
    ] {
        let stderr = search_fails(dir.path(), args);
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
        assert!(
            !dir.path().join("run").exists(),
            "nothing is written before the flags are checked"
        );
    }
}

#[test]
fn rerank_finetunes_the_finalists_longer_and_chooses_among_them() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = format!("{TINY}\n[oneshot.rerank]\ntop = 2\nsteps = 9\n");
    std::fs::write(dir.path().join("tiny.toml"), cfg).unwrap();
    let (first, _) = run(dir.path(), "evolution");
    let found = &first["one_shot"];
    let finalists = found["rerank"].as_array().expect("re-ranked finalists are reported");
    assert_eq!(finalists.len(), 2);
    assert_eq!(found["rerank_steps"], 9);
    // The finalists are the search's two lowest-SoTL cells, in whatever order the longer
    // finetuning puts them, and the choice is the first of that order.
    let top: Vec<&str> = found["top"]
        .as_array()
        .unwrap()
        .iter()
        .take(2)
        .map(|r| r["arch"].as_str().unwrap())
        .collect();
    let mut fin: Vec<&str> = finalists.iter().map(|r| r["arch"].as_str().unwrap()).collect();
    assert_eq!(first["chosen"], fin[0]);
    let long: Vec<f64> = finalists.iter().map(|r| r["sotl"].as_f64().unwrap()).collect();
    assert!(long[0] <= long[1], "{long:?}");
    fin.sort_unstable();
    let mut top_sorted = top.clone();
    top_sorted.sort_unstable();
    assert_eq!(fin, top_sorted);
    // Each finalist's log holds all 9 finetuning steps; a rerun reuses them.
    let log = std::fs::read_to_string(dir.path().join("run/rerank.jsonl")).unwrap();
    assert_eq!(log.lines().count(), 2);
    for line in log.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(v["finetune"]["steps"].as_array().unwrap().len(), 9);
    }
    let (again, _) = run(dir.path(), "evolution");
    assert_eq!(again["chosen"], first["chosen"]);
    assert_eq!(std::fs::read_to_string(dir.path().join("run/rerank.jsonl")).unwrap(), log);
}

#[test]
fn sotl_darts_finalists_are_the_most_probable_cells_reranked_by_finetuning_sotl() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = TINY_DARTS.replace(
        "[darts.search]",
        "[darts]\nfinalists = 3\n\n[darts.finetune]\nsteps = 4\nbatch_size = 16\nsotl_window = 4\nval_every = 4\nmini_val_every = 2\n\n[darts.search]",
    );
    std::fs::write(dir.path().join("tiny.toml"), cfg).unwrap();
    let (first, _) = run(dir.path(), "sotl-darts");
    let path = &first["differentiable"];
    let fin = path["finalists"].as_array().expect("finalists are reported");
    assert_eq!(fin.len(), 3);
    assert!(first["budget"].as_str().unwrap().contains("3 finalists finetuned 4 steps each"));
    // The finalists are the three cells of highest probability under the reported op
    // weights (each edge independently), checked against every cell of the space.
    let w: Vec<Vec<f64>> = path["op_weights"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect())
        .collect();
    let logp = |a: &sotl_space::Nb201Arch| -> f64 {
        a.ops.iter().enumerate().map(|(e, op)| w[e][op.index()].ln()).sum()
    };
    let archs: Vec<sotl_space::Nb201Arch> =
        fin.iter().map(|r| r["arch"].as_str().unwrap().parse().unwrap()).collect();
    let weakest = archs.iter().map(logp).fold(f64::INFINITY, f64::min);
    let better = (0..15_625)
        .map(sotl_space::Nb201Arch::from_ordinal)
        .filter(|a| !archs.contains(a) && logp(a) > weakest + 1e-12)
        .count();
    assert_eq!(better, 0, "a cell outside the finalists is more probable than one inside");
    let argmax = path["argmax"].as_str().unwrap();
    assert_eq!(argmax, path["trajectory"][1]["genotype"].as_str().unwrap());
    assert!(archs.iter().any(|a| a.to_string() == argmax), "the argmax is a finalist");
    // Ranked by SoTL, lowest first, and the choice is the first.
    assert_eq!(first["chosen"], fin[0]["arch"]);
    let sotl: Vec<f64> = fin.iter().map(|r| r["sotl"].as_f64().unwrap()).collect();
    assert!(sotl.windows(2).all(|p| p[0] <= p[1]), "{sotl:?}");
    // Each finalist's SoTL is the sum of its logged finetuning losses (all 4: window 4).
    let log_path = dir.path().join("run/finalists/finetune.jsonl");
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert_eq!(log.lines().count(), 3);
    for line in log.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let steps = v["finetune"]["steps"].as_array().unwrap();
        assert_eq!(steps.len(), 4);
        let sum: f64 = steps.iter().map(|s| s["train_loss"].as_f64().unwrap()).sum();
        let r = fin.iter().find(|r| r["arch"] == v["arch"]).expect("logged cell is a finalist");
        assert!((r["sotl"].as_f64().unwrap() - sum).abs() < 1e-6 * sum.abs().max(1.0));
    }
    // A rerun reuses the finetuned finalists; other finetuning settings need another folder.
    let (again, _) = run(dir.path(), "sotl-darts");
    assert_eq!(again["chosen"], first["chosen"]);
    assert_eq!(std::fs::read_to_string(&log_path).unwrap(), log);
    let stderr = search_fails(
        dir.path(),
        &["--config", dir.path().join("tiny.toml").to_str().unwrap(), "--finetune-steps", "5"],
    );
    assert!(
        stderr.contains("finalists/config.json") && stderr.contains("another --out"),
        "{stderr}"
    );
}

#[test]
fn search_refuses_a_config_that_asks_for_another_trainer() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = format!("{TINY}\n[oneshot.train.trainer]\nkind = \"fairnas\"\n");
    std::fs::write(dir.path().join("tiny.toml"), cfg).unwrap();
    let stderr =
        search_fails(dir.path(), &["--config", dir.path().join("tiny.toml").to_str().unwrap()]);
    assert!(stderr.contains("oneshot.train.trainer.kind = fairnas"), "{stderr}");
}

#[test]
fn shipped_oneshot_configs_parse_and_validate() {
    for (name, text) in [
        ("oneshot-nb201-thesis.toml", include_str!("../../../configs/oneshot-nb201-thesis.toml")),
        ("oneshot-cpu-fidelity.toml", include_str!("../../../configs/oneshot-cpu-fidelity.toml")),
    ] {
        let cfg: sotl_search::OneShotConfig =
            toml::from_str(text).unwrap_or_else(|e| panic!("configs/{name}: {e}"));
        cfg.validate().unwrap_or_else(|e| panic!("configs/{name}: {e}"));
        assert!(cfg.pool.size >= 100, "{name}: a reported study needs a pool of at least 100");
        assert_eq!(cfg.finetune.lr, None, "{name}: the finetuning lr must follow the trainer");
        assert!(cfg.train.augment && cfg.finetune.augment, "{name}");
        assert_eq!(cfg.finetune.eval_bn, sotl_search::EvalBn::Both, "{name}");
    }
    let thesis: sotl_search::OneShotConfig =
        toml::from_str(include_str!("../../../configs/oneshot-nb201-thesis.toml")).unwrap();
    assert_eq!(
        (thesis.net.channels, thesis.net.cells_per_stage, thesis.train.epochs, thesis.pool.size),
        (16, 5, 100, 200)
    );
    assert_eq!((thesis.finetune.steps, thesis.finetune.sotl_window), (300, 100));
}

#[test]
fn shipped_darts_config_parses_and_validates() {
    let text = include_str!("../../../configs/darts-scaled.toml");
    let cfg: sotl_search::DartsRunConfig =
        toml::from_str(text).expect("configs/darts-scaled.toml parses");
    cfg.validate().expect("configs/darts-scaled.toml validates");
    let s = &cfg.search;
    assert!(s.augment && !s.drnas_stage_lr_restart);
    assert_eq!(s.val_sampling, sotl_search::ValSampling::Random);
    // DrNAS' reference NAS-Bench-201 setting, key for key.
    let text = include_str!("../../../configs/drnas-nb201.toml");
    let cfg: sotl_search::DartsRunConfig =
        toml::from_str(text).expect("configs/drnas-nb201.toml parses");
    cfg.validate().expect("configs/drnas-nb201.toml validates");
    let s = &cfg.search;
    assert_eq!((s.epochs, s.batch_size, s.drnas_progressive_keep), (100, 64, 3));
    assert_eq!((s.w_lr, s.w_lr_min, s.w_weight_decay, s.arch_lr), (0.025, 0.001, 3e-4, 3e-4));
    assert_eq!((s.drnas_partial_channels.as_slice(), s.drnas_warmup_fraction), (&[4, 2][..], 0.2));
    assert!(s.augment && !s.drnas_stage_lr_restart && !s.w_nesterov);
    assert_eq!(s.val_sampling, sotl_search::ValSampling::Random);
    assert_eq!((cfg.net.channels, cfg.net.cells_per_stage), (16, 5));
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
