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

#[test]
fn darts_searches_the_restricted_darts_space_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.toml");
    std::fs::write(&cfg, CONFIG).unwrap();
    let out = dir.path().join("s2");
    let o = sotl_nas()
        .arg("--data-root")
        .arg(dir.path())
        .arg("--json")
        .args(["darts", "--config"])
        .arg(&cfg)
        .args(["--space", "darts-s2", "--channels", "4", "--layers", "3", "--eigen-every", "0"])
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    for s in summary.as_array().unwrap() {
        // A DARTS genotype of S2's ops that pastes back in, its skips per epoch, no NB201 lookup.
        let g: sotl_space::DartsGenotype = s["genotype"].as_str().unwrap().parse().unwrap();
        assert!(g.ops().all(|o| matches!(o.name(), "skip_connect" | "sep_conv_3x3")), "{g}");
        assert_eq!(s["skips_per_epoch"].as_array().unwrap().len(), 2);
        assert_eq!(s["skips_per_epoch"][1], s["skip_connections"]);
        assert!(s["cifar10_test"].is_null());
        assert!(s["seconds_per_epoch"].as_f64().unwrap() > 0.0);
    }
    let table = std::fs::read_to_string(out.join("table.md")).unwrap();
    assert!(table.contains("darts-s2 space") && table.contains("s/epoch"), "{table}");
    let csv = std::fs::read_to_string(out.join("sotl/seed0/trajectory.csv")).unwrap();
    // 28 edges x 2 ops of weights per row.
    assert!(csv.lines().next().unwrap().ends_with("w27_skip_connect,w27_sep_conv_3x3"), "{csv}");

    // An unknown space, and partial channels the DARTS network lacks, are named.
    let bad = sotl_nas().args(["darts", "--space", "darts-s9"]).output().unwrap();
    let e = String::from_utf8_lossy(&bad.stderr);
    assert!(!bad.status.success() && e.contains("darts-s2") && e.contains("darts-s9"), "{e}");
    let pc = dir.path().join("pc.toml");
    std::fs::write(
        &pc,
        CONFIG
            .replace("[search]", "[search]\ndrnas_partial_channels = [2, 1]")
            .replace("[\"darts1\", \"sotl\"]", "[\"drnas\"]"),
    )
    .unwrap();
    let bad = sotl_nas()
        .args(["darts", "--space", "darts", "--config"])
        .arg(&pc)
        .arg("--out")
        .arg(dir.path().join("pc"))
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&bad.stderr);
    assert!(!bad.status.success() && e.contains("drnas_partial_channels"), "{e}");
}

#[test]
fn evaluate_trains_a_published_genotype_and_names_bad_ones() {
    let dir = tempfile::tempdir().unwrap();
    let evaluate = |extra: &[&str]| {
        sotl_nas()
            .args(["--json", "evaluate", "--dataset", "synthetic", "--subset", "64"])
            .args(["--test-subset", "32", "--channels", "4", "--layers", "3", "--epochs", "2"])
            .args(["--batch-size", "16"])
            .args(extra)
            .output()
            .unwrap()
    };
    let out = dir.path().join("ev");
    let small = ["--cutout", "0", "--auxiliary-weight", "0", "--resize", "16"];
    // The shipped CPU config under the flags: its keys over DARTS' defaults, flags over both.
    let shipped = concat!(env!("CARGO_MANIFEST_DIR"), "/../../configs/darts-evaluate-cpu.toml");
    let run_args = ["--genotype", "pdarts", "--config", shipped, "--out", out.to_str().unwrap()];
    let o = evaluate(&[&small[..], &run_args[..]].concat());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let s: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(s["arch"].as_str().unwrap().starts_with("Genotype(normal=[('skip_connect', 0)"));
    assert_eq!(s["steps"], 8);
    let cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("config.json")).unwrap()).unwrap();
    // DARTS' protocol unless overridden.
    assert_eq!((cfg["auxiliary_weight"].as_f64(), cfg["cutout"].as_i64()), (Some(0.0), Some(0)));
    assert_eq!((cfg["lr"].as_f64(), cfg["drop_path"].as_f64()), (Some(0.025), Some(0.2)));
    assert_eq!((cfg["weight_decay"].as_f64(), cfg["batch_size"].as_i64()), (Some(3e-4), Some(16)));
    assert_eq!((cfg["eval_every_epochs"].as_i64(), cfg["layers"].as_i64()), (Some(5), Some(3)));

    let bad = evaluate(&["--genotype", "Genotype(normal=[('sep_conv_9x9', 0)])"]);
    let e = String::from_utf8_lossy(&bad.stderr);
    assert!(!bad.status.success() && e.contains("sep_conv_9x9") && e.contains("--genotype"), "{e}");
    // At 16x16 the auxiliary head's 5x5 pooling has nothing to pool: refused before the run
    // folder is claimed, so the advised fix reruns into the same folder.
    let out2 = dir.path().join("ev2");
    let args = ["--genotype", "darts-v2", "--cutout", "0", "--resize", "16", "--out"];
    let bad = evaluate(&[&args[..], &[out2.to_str().unwrap()]].concat());
    let e = String::from_utf8_lossy(&bad.stderr);
    assert!(
        !bad.status.success() && e.contains("32, 36 or 40") && e.contains("auxiliary_weight = 0"),
        "{e}"
    );
    let fixed =
        evaluate(&[&args[..], &[out2.to_str().unwrap(), "--auxiliary-weight", "0"]].concat());
    assert!(fixed.status.success(), "{}", String::from_utf8_lossy(&fixed.stderr));
}

const ONESHOT_DARTS: &str = r#"
space = "darts-s2"
[data]
source = "synthetic"
synthetic_images = 200
n_train = 64
n_val = 32
image_size = 8
[darts_net]
channels = 4
layers = 3
[pool]
size = 4
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

#[test]
fn oneshot_trains_and_ranks_the_darts_space_and_refuses_what_needs_nb201() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.toml");
    std::fs::write(&cfg, ONESHOT_DARTS).unwrap();
    let out = dir.path().join("run");
    let run = || {
        sotl_nas()
            .args(["--json", "oneshot", "run", "--trainers", "spos,fairnas", "--seeds", "1"])
            .arg("--config")
            .arg(&cfg)
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap()
    };
    let o = run();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let study: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(study["table"].is_null(), "no ground truth, no correlation table");
    let pool = std::fs::read_to_string(out.join("pool.json")).unwrap();
    let picks = study["picks"].as_array().unwrap();
    assert_eq!(picks.len(), 2);
    for (p, trainer) in picks.iter().zip(["spos", "fairnas"]) {
        assert_eq!(p["trainer"], trainer);
        // The choice is SoTL's first pick, a DARTS genotype of the pool, in the DARTS format.
        let choice = p["rows"][0]["top"][0]["arch"].as_str().unwrap();
        assert!(choice.starts_with("Genotype(normal=[('"), "{choice}");
        assert!(pool.contains(&choice.replace('\'', "\\u0027")) || pool.contains(choice));
        let seed = out.join(format!("{trainer}-seed0"));
        let csv = std::fs::read_to_string(seed.join("results.csv")).unwrap();
        assert_eq!(csv.lines().count(), 5, "header + 4 candidates: {csv}");
        assert!(std::fs::read_to_string(seed.join("picks.md")).unwrap().contains("Choice"));
        assert!(!seed.join("ranking.json").exists());
    }
    // A finished study reruns from its files: nothing is finetuned again.
    let log = std::fs::read_to_string(out.join("spos-seed0/results.jsonl")).unwrap();
    let again = run();
    assert!(again.status.success(), "{}", String::from_utf8_lossy(&again.stderr));
    assert_eq!(std::fs::read_to_string(out.join("spos-seed0/results.jsonl")).unwrap(), log);
    assert_eq!(again.stdout, o.stdout);

    // `oneshot rank` reads the space from the supernet folder's config.json.
    let ranked = dir.path().join("ranked");
    let o = sotl_nas()
        .args(["--json", "oneshot", "rank", "--supernet"])
        .arg(out.join("fairnas-seed0/supernet.ot"))
        .arg("--pool")
        .arg(out.join("pool.json"))
        .arg("--out")
        .arg(&ranked)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // The same scores as the study's own ranking: results.csv equal but for its last four
    // columns, the timings.
    let scores = |p: &std::path::Path| -> Vec<String> {
        std::fs::read_to_string(p.join("results.csv"))
            .unwrap()
            .lines()
            .map(|l| l.rsplitn(5, ',').nth(4).unwrap().to_string())
            .collect()
    };
    assert_eq!(scores(&ranked), scores(&out.join("fairnas-seed0")));
    // An NB201 pool is not a pool of this space.
    let nb = dir.path().join("nb201-pool.json");
    std::fs::write(&nb, r#"{"seed":0,"archs":["|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|","|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"]}"#).unwrap();
    let o = sotl_nas()
        .args(["oneshot", "rank", "--supernet"])
        .arg(out.join("spos-seed0/supernet.ot"))
        .arg("--pool")
        .arg(&nb)
        .arg("--out")
        .arg(dir.path().join("bad"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("not a pool of the darts-s2 space"), "{err}");

    // The ceiling ranks against NAS-Bench-201: refused here, with the way out.
    let o = sotl_nas()
        .args(["oneshot", "ceiling", "--space", "darts", "--config"])
        .arg(&cfg)
        .arg("--out")
        .arg(dir.path().join("ceiling"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("NAS-Bench-201 only"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn the_pdarts_config_holds_the_reference_schedule_and_pdarts_needs_the_darts_space() {
    let cfg: sotl_search::DartsRunConfig =
        toml::from_str(include_str!("../../../configs/pdarts.toml")).expect("configs/pdarts.toml");
    cfg.validate().unwrap();
    // chenxin061/pdarts train_search.py (b880e87) with its README's flags for CIFAR-10.
    let (s, p) = (&cfg.search, &cfg.pdarts);
    assert_eq!((cfg.darts_net.channels, cfg.darts_net.layers), (16, 5));
    assert_eq!(p.add_layers, [0, 6, 12]);
    assert_eq!(p.keep_ops, [5, 3]);
    assert_eq!(p.skip_dropout, [0.1, 0.4, 0.7]);
    assert_eq!((s.epochs, s.arch_warmup_epochs, s.batch_size), (25, 10, 96));
    assert_eq!((s.w_lr, s.w_lr_min, s.w_weight_decay), (0.025, 0.0, 3e-4));
    assert_eq!((s.arch_lr, s.arch_beta1, s.arch_weight_decay), (6e-4, 0.5, 1e-3));
    assert_eq!((s.grad_clip, s.arch_grad_clip, p.max_skips), (5.0, 5.0, 2));

    let dir = tempfile::tempdir().unwrap();
    let o = sotl_nas()
        .args(["darts", "--method", "pdarts", "--space", "nb201", "--out"])
        .arg(dir.path().join("run"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("use --space darts"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn the_sotl_darts_20_config_searches_twenty_layers_on_every_training_image() {
    let mut cfg: sotl_search::DartsRunConfig =
        toml::from_str(include_str!("../../../configs/sotl-darts-20.toml")).expect("parses");
    cfg.validate().unwrap();
    assert_eq!((cfg.darts_net.layers, cfg.darts_net.channels), (20, 16));
    assert_eq!((cfg.search.batch_size, cfg.search.unroll_steps), (64, 100));
    assert!(cfg.data.train_on_all && cfg.methods == [sotl_search::DartsMethod::Sotl]);
    // DARTS-20 reads validation batches: refused on every image, accepted on the halves.
    cfg.methods = vec![sotl_search::DartsMethod::Darts1];
    assert!(cfg.validate().unwrap_err().to_string().contains("reads validation images"));
    cfg.data.train_on_all = false;
    cfg.validate().unwrap();
}

#[test]
fn size_flags_of_the_other_space_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    for (cmd, args, says) in [
        (&["oneshot", "train"][..], &["--space", "darts", "--cells", "2"][..], "use --layers"),
        (&["oneshot", "train"][..], &["--layers", "5"][..], "use --cells"),
        (&["darts"][..], &["--space", "darts-s2", "--cells", "2"][..], "use --layers"),
        (&["darts"][..], &["--layers", "5"][..], "use --cells"),
    ] {
        let o = sotl_nas()
            .args(cmd)
            .args(args)
            .arg("--out")
            .arg(dir.path().join("run"))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success() && err.contains(says), "{err}");
        assert!(!dir.path().join("run").exists(), "nothing claimed before the refusal");
    }
}
