//! Kill anywhere: each long command runs once uninterrupted, then again in a fresh folder where it
//! is killed with SIGKILL at seeded random moments and rerun until it finishes. The second
//! folder's results must equal the first's bit for bit: every JSON, JSON-lines and CSV file,
//! with only wall-clock timings and resume bookkeeping left out of the comparison. Runs on the
//! embedded synthetic data (the learning-rate study needs MNIST and is skipped without it).
//! `SOTL_KILL_SEED=N` moves every kill schedule (CI uses 0); a loop over N is a longer hunt.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{mnist_root, results, ARCH};

/// Kills per command. Each rerun resumes, so each kill waits a seeded fraction of a share of the
/// uninterrupted run's wall time (`2 / KILLS` of it at most): together they spread over the run.
const KILLS: usize = 4;

fn sotl_nas(root: &Path, args: &[String], out: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sotl-nas"));
    c.args(["--threads", "1", "-q", "--data-root"])
        .arg(root)
        .args(args)
        .arg("--out")
        .arg(out)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    c
}

/// Runs to the end; panics with stderr on failure. Returns the wall time.
fn run_to_end(root: &Path, args: &[String], out: &Path) -> Duration {
    let t0 = Instant::now();
    let o = sotl_nas(root, args, out).output().expect("sotl-nas runs");
    assert!(o.status.success(), "{args:?} failed: {}", String::from_utf8_lossy(&o.stderr));
    t0.elapsed()
}

/// Starts the command and SIGKILLs it after `delay` (unless it finished first).
fn kill_after(root: &Path, args: &[String], out: &Path, delay: Duration) -> bool {
    let mut child = sotl_nas(root, args, out).stderr(Stdio::null()).spawn().expect("spawns");
    let t0 = Instant::now();
    while t0.elapsed() < delay {
        if let Some(status) = child.try_wait().expect("waits") {
            assert!(status.success(), "{args:?} failed before it was killed");
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    // Child::kill sends SIGKILL on Unix: no handler runs, nothing is flushed.
    child.kill().expect("kills");
    child.wait().expect("reaps");
    true
}

/// A fraction in [0.05, 0.95) from a seeded xorshift.
fn fractions(seed: u64, n: usize) -> Vec<f64> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            0.05 + 0.9 * (x >> 11) as f64 / (1u64 << 53) as f64
        })
        .collect()
}

/// Runs `args` straight through and with kills, and compares the results.
fn check(name: &str, root: &Path, files: &[(&str, &str)], args: &[&str], seed: u64) {
    let dir = tempfile::tempdir().unwrap();
    for (f, body) in files {
        std::fs::write(dir.path().join(f), body).unwrap();
    }
    let args: Vec<String> =
        args.iter().map(|a| a.replace("{dir}", &dir.path().display().to_string())).collect();
    let (straight, killed) = (dir.path().join("straight"), dir.path().join("killed"));
    let wall = run_to_end(root, &args, &straight);
    let mut kills = 0;
    let offset: u64 =
        std::env::var("SOTL_KILL_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0);
    for f in fractions(seed.wrapping_add(offset.wrapping_mul(1000)), KILLS) {
        let delay = wall.mul_f64(2.0 * f / KILLS as f64);
        kills += usize::from(kill_after(root, &args, &killed, delay));
    }
    // What a kill in the middle of a checkpoint write leaves: the previous checkpoint, whole,
    // and a truncated temporary file beside it (writes go to a temporary file, then rename).
    let planted = plant_torn_writes(&killed);
    run_to_end(root, &args, &killed);
    assert!(kills > 0, "{name}: every kill came after the end; the schedule tests nothing");
    let (a, b) = (results(&straight), results(&killed));
    assert!(!a.is_empty(), "{name}: no result files");
    assert_eq!(
        a.keys().collect::<Vec<_>>(),
        b.keys().collect::<Vec<_>>(),
        "{name}: the killed run wrote other files"
    );
    for (file, v) in &a {
        assert!(v == &b[file], "{name}: {file} differs after {kills} kills:\n{v}\n{}", b[file]);
    }
    println!(
        "{name}: {kills} of {KILLS} kills landed before the end, {planted} torn checkpoint writes planted; {} files equal",
        a.len()
    );
}

/// Beside every checkpoint under `dir`, a temporary file holding its first half, named as an
/// interrupted atomic write names it. Returns how many were planted.
fn plant_torn_writes(dir: &Path) -> usize {
    let mut planted = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for e in entries {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if matches!(p.extension().and_then(|e| e.to_str()), Some("ot" | "ckpt")) {
                let bytes = std::fs::read(&p).unwrap();
                let name = p.file_name().unwrap().to_string_lossy();
                std::fs::write(d.join(format!(".{name}.torn01.tmp")), &bytes[..bytes.len() / 2])
                    .unwrap();
                planted += 1;
            }
        }
    }
    planted
}

fn empty_root() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

const ONESHOT: &str = r#"
[data]
source = "synthetic"
synthetic_images = 600
n_train = 256
n_val = 128
image_size = 8
[net]
channels = 4
cells_per_stage = 1
[train]
batch_size = 32
epochs = 3
[pool]
size = 5
[finetune]
steps = 8
batch_size = 32
sotl_window = 8
val_every = 4
mini_val_every = 2
eval_batch_size = 64
inherited_window = 2
"#;

#[test]
fn oneshot_train_and_rank_survive_kills() {
    let root = empty_root();
    check(
        "oneshot run",
        root.path(),
        &[("c.toml", ONESHOT)],
        &[
            "oneshot",
            "run",
            "--config",
            "{dir}/c.toml",
            "--trainers",
            "spos,fairnas",
            "--seeds",
            "1",
        ],
        1,
    );
}

const DARTS: &str = r#"
methods = ["darts1", "sotl", "drnas"]
seeds = 1
[search]
epochs = 4
batch_size = 16
unroll_steps = 2
eigen_every = 2
eigen_batches = 1
[net]
channels = 4
cells_per_stage = 1
[data]
source = "synthetic"
synthetic_images = 200
n_train = 64
n_val = 64
image_size = 8
"#;

#[test]
fn darts_methods_survive_kills() {
    let root = empty_root();
    check("darts", root.path(), &[("c.toml", DARTS)], &["darts", "--config", "{dir}/c.toml"], 2);
}

const SEARCH: &str = r#"
seed = 5
[darts.search]
epochs = 4
batch_size = 16
unroll_steps = 2
arch_warmup_epochs = 1
[darts.net]
channels = 4
cells_per_stage = 1
[darts.data]
source = "synthetic"
n_train = 64
n_val = 32
image_size = 8
synthetic_images = 200
[oneshot.data]
source = "synthetic"
n_train = 192
n_val = 96
image_size = 8
synthetic_images = 400
[oneshot.net]
channels = 4
cells_per_stage = 1
[oneshot.train]
batch_size = 32
epochs = 2
[oneshot.finetune]
steps = 6
batch_size = 32
sotl_window = 6
val_every = 3
mini_val_every = 3
inherited_window = 2
[oneshot.evolution]
population = 3
sample_size = 2
budget = 6
"#;

#[test]
fn the_main_job_survives_kills() {
    let root = empty_root();
    let files = [("c.toml", SEARCH)];
    check("search", root.path(), &files, &["search", "--config", "{dir}/c.toml"], 3);
    check(
        "search --method evolution",
        root.path(),
        &files,
        &["search", "--method", "evolution", "--config", "{dir}/c.toml"],
        4,
    );
}

#[test]
fn standalone_training_and_the_fourier_study_survive_kills() {
    let root = empty_root();
    check(
        "train",
        root.path(),
        &[],
        &[
            "train",
            "--arch",
            ARCH,
            "--dataset",
            "synthetic",
            "--epochs",
            "12",
            "--batch-size",
            "32",
            "--resize",
            "8",
            "--subset",
            "512",
            "--test-subset",
            "128",
            "--channels",
            "4",
            "--cells",
            "1",
        ],
        5,
    );
    check(
        "fourier",
        root.path(),
        &[],
        &["fourier", "--t", "2,10", "--steps", "200", "--init", "1,8"],
        6,
    );
}

#[test]
fn the_learning_rate_study_survives_kills() {
    let Some(root) = mnist_root() else {
        println!("skipped: the_learning_rate_study_survives_kills needs ../shared (absent)");
        return;
    };
    check(
        "hypergrad",
        &root,
        &[("hg.toml", "val_size = 256\ntrain_limit = 1024\nbatch_size = 64\n")],
        &["hypergrad", "--config", "{dir}/hg.toml", "--t", "2,5", "--epochs", "2"],
        7,
    );
}
