//! Faults outside the program: a disk that fills up mid-run and an output folder that cannot be
//! made. Each must stop with an error naming the file and the cause, keep everything already
//! written, and (for the full disk) resume once space is freed to the uninterrupted result.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{results, ARCH};

/// `sotl-nas train` on the embedded synthetic data: 3 epochs of 8 steps, a checkpoint of about
/// 160 KB after each.
fn train(out: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sotl-nas"))
        .args(["--threads", "1", "--data-root"])
        .arg(std::env::temp_dir())
        .args(["train", "--arch", ARCH, "--dataset", "synthetic", "--epochs", "3"])
        .args(["--batch-size", "32", "--resize", "8", "--subset", "256", "--test-subset", "128"])
        .args(["--channels", "4", "--cells", "1", "--out"])
        .arg(out)
        .output()
        .expect("sotl-nas runs")
}

/// A size-limited tmpfs, unmounted when dropped.
struct SmallDisk(tempfile::TempDir);

impl SmallDisk {
    /// Mounts `size` of tmpfs on a fresh folder; `None` where mounting is not allowed.
    fn mount(size: &str) -> Option<Self> {
        let dir = tempfile::tempdir().unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output()
            .is_ok_and(|o| o.status.success());
        ok.then_some(SmallDisk(dir))
    }

    fn resize(&self, size: &str) {
        let o = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(self.0.path())
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.0.path()).output();
    }
}

#[test]
fn a_full_disk_stops_the_run_clearly_keeps_what_was_written_and_resumes() {
    // Room for one checkpoint but not for the temporary file of the next.
    let Some(disk) = SmallDisk::mount("300k") else {
        println!(
            "skipped: a_full_disk_stops_the_run_clearly_keeps_what_was_written_and_resumes needs to mount a tmpfs (not permitted here)"
        );
        return;
    };
    let out = disk.0.path().join("run");
    let full = train(&out);
    assert!(!full.status.success(), "the run cannot fit on 300 KB");
    let err = String::from_utf8_lossy(&full.stderr);
    assert!(
        err.contains("No space left on device") && err.contains("checkpoint.ot"),
        "the error names the cause and the file: {err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    // The first epoch's checkpoint and records are whole; the failed write left no temporary.
    let names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.ends_with(".tmp")), "{names:?}");
    assert!(names.contains(&"checkpoint.ot".to_string()), "{names:?}");
    let epochs: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("epochs.json")).unwrap()).unwrap();
    assert!(!epochs.as_array().unwrap().is_empty(), "{epochs}");
    // With space freed, the rerun resumes from that checkpoint and ends where an unbroken run
    // on a roomy disk ends.
    disk.resize("8M");
    let resumed = train(&out);
    let log = String::from_utf8_lossy(&resumed.stderr);
    assert!(resumed.status.success(), "{log}");
    assert!(log.contains("resuming from the checkpoint after step 8"), "{log}");
    let roomy = tempfile::tempdir().unwrap();
    let straight = roomy.path().join("run");
    assert!(train(&straight).status.success());
    assert_eq!(results(&out), results(&straight));
}

#[test]
fn an_output_folder_that_cannot_be_made_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, "not a folder").unwrap();
    let out = file.join("run");
    let o = train(&out);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains(&out.display().to_string()) && err.contains("Not a directory"), "{err}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "not a folder", "nothing overwritten");
}

#[test]
fn a_read_only_output_folder_is_named_and_a_finished_run_in_it_stays_whole() {
    // Root ignores mode bits, so the folder is made unwritable the way root feels it: a
    // read-only mount.
    let Some(disk) = SmallDisk::mount("8M") else {
        println!(
            "skipped: a_read_only_output_folder_is_named_and_a_finished_run_in_it_stays_whole needs to mount a tmpfs (not permitted here)"
        );
        return;
    };
    let done = disk.0.path().join("done");
    assert!(train(&done).status.success());
    let before = results(&done);
    let o = Command::new("mount").args(["-o", "remount,ro"]).arg(disk.0.path()).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    // A new run folder there cannot be made: the error says which and why.
    let fresh = disk.0.path().join("fresh");
    let o = train(&fresh);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&fresh.display().to_string()) && err.contains("Read-only file system"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");

    // Rerunning the finished run cannot rewrite its summary; it says so, and what was there is
    // unchanged.
    let o = train(&done);
    let err = String::from_utf8_lossy(&o.stderr);
    if !o.status.success() {
        assert!(err.contains("Read-only file system"), "{err}");
    }
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(results(&done), before);
    let _ = Command::new("mount").args(["-o", "remount,rw"]).arg(disk.0.path()).output();
}

/// `oneshot run` on the synthetic data with `extra` appended to a tiny config.
fn oneshot(dir: &Path, extra: &str) -> Output {
    let cfg = dir.join("tiny.toml");
    let base = "[data]\nsource = \"synthetic\"\nn_train = 128\nn_val = 64\nimage_size = 8\n\
                synthetic_images = 300\n[net]\nchannels = 4\ncells_per_stage = 1\n[pool]\nsize = 4\n";
    std::fs::write(&cfg, format!("{base}{extra}")).unwrap();
    Command::new(env!("CARGO_BIN_EXE_sotl-nas"))
        .args(["--threads", "1", "oneshot", "run", "--trainers", "spos", "--seeds", "1"])
        .arg("--config")
        .arg(&cfg)
        .arg("--out")
        .arg(dir.join("run"))
        .output()
        .expect("sotl-nas runs")
}

#[test]
fn a_nan_loss_mid_run_stops_with_the_step_and_candidate_and_keeps_what_was_written() {
    // The supernet trains sanely; finetuning at lr 1e30 blows every candidate's loss up at its
    // second step (the first update), i.e. mid-way through the run.
    let dir = tempfile::tempdir().unwrap();
    let o = oneshot(
        dir.path(),
        "[train]\nbatch_size = 32\nepochs = 1\n[finetune]\nsteps = 4\nsotl_window = 3\n\
         val_every = 4\nmini_val_every = 2\ninherited_window = 2\nlr = 1e30\n",
    );
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("candidate 0 (|") && err.contains("non-finite finetuning loss at step 1"),
        "names the candidate and the step: {err}"
    );
    assert!(err.contains("lower the learning rate"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    // The trained supernet and the pool are kept; nothing was ranked.
    let seed = dir.path().join("run/spos-seed0");
    assert!(seed.join("supernet.ot").is_file() && dir.path().join("run/pool.json").is_file());
    assert_eq!(std::fs::read_to_string(seed.join("results.jsonl")).unwrap(), "");
    for f in ["ranking.json", "results.csv", "table.md"] {
        assert!(!seed.join(f).exists() && !dir.path().join("run").join(f).exists(), "{f}");
    }

    // A diverging supernet stops at its first step with the reason, and leaves no checkpoint
    // that would claim to be trained.
    let dir = tempfile::tempdir().unwrap();
    let o = oneshot(dir.path(), "[train]\nbatch_size = 32\nepochs = 1\nlr = 1e30\nlr_min = 0.0\n");
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("non-finite supernet training loss at step 1"), "{err}");
    assert!(!dir.path().join("run/spos-seed0/supernet.ot").exists());
}
