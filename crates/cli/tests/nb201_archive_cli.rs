//! `bench nb201 convert` and `bench nb201 curves` on small archives in the official formats,
//! written by CPython itself (`tests/fixtures/nb201_archive.py`): NATS-Bench's bzip2 pickles
//! always; `torch.save`'s legacy and zip files where the project's torch is there (it is
//! wherever the suite builds). No real archive is read: none is on this machine.

use std::path::{Path, PathBuf};
use std::process::Command;

fn sotl_nas() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sotl-nas"));
    c.args(["--threads", "1"]);
    c
}

const CELLS: usize = 12;

/// Runs the fixture writer with `python`; `false` when that interpreter cannot do it.
fn write_archive(python: &str, kind: &str, out: &Path) -> bool {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/nb201_archive.py");
    Command::new(python)
        .arg(script)
        .args([kind, &CELLS.to_string()])
        .arg(out)
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The project's torch Python (set by scripts/env.sh), if any.
fn torch_python() -> Option<String> {
    std::env::var("SOTL_NAS_TORCH_PYTHON").ok().filter(|p| Path::new(p).exists())
}

fn convert(archive: &Path, out: &Path) -> std::process::Output {
    sotl_nas()
        .args(["bench", "nb201", "convert", "--archive"])
        .arg(archive)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap()
}

fn read(p: PathBuf) -> String {
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn nats_folder_converts_to_tables_with_the_known_values_and_curves_rank_as_built() {
    let dir = tempfile::tempdir().unwrap();
    let nats = dir.path().join("NATS-tss-v1_0-3ffb9-simple");
    let python = torch_python().unwrap_or_else(|| "python3".into());
    assert!(write_archive(&python, "nats", &nats), "{python} cannot write the fixture");
    let root = dir.path().join("root");
    let tables = root.join("benchmarks/nb201");
    let o = convert(&nats, &tables);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // Final tables: each column from its own dataset and set (the fixture's values tell them
    // apart): 200 epochs, cifar10's ori-test 73 + i, cifar100's and ImageNet16-120's x-test
    // 86 + i and 89 + i; 12 epochs also the validation columns, CIFAR-10's from cifar10-valid's
    // x-valid (90 - i), cifar100's 70 - i, ImageNet16-120's 60 - i.
    let check = |file: &str, header: &str, want: &dyn Fn(f64) -> Vec<f64>| {
        let text = read(tables.join(file));
        let mut lines = text.lines();
        assert_eq!(lines.next().unwrap(), header);
        let mut n = 0;
        for (i, l) in lines.enumerate() {
            let f: Vec<&str> = l.split(',').collect();
            assert_eq!(f[0], i.to_string());
            assert!(f[1].parse::<sotl_space::Nb201Arch>().is_ok(), "{l}");
            let got: Vec<f64> = f[2..].iter().map(|v| v.parse().unwrap()).collect();
            assert_eq!(got, want(i as f64), "{file}: {l}");
            n += 1;
        }
        assert_eq!(n, CELLS);
    };
    check("nb201-200ep.csv", "index,arch,cifar10_test,cifar100_test,imagenet16_120_test", &|i| {
        vec![73.0 + i, 86.0 + i, 89.0 + i]
    });
    check(
        "nb201-minibench.csv",
        "index,arch,cifar10_test,cifar10_valid,cifar100_test,cifar100_valid,imagenet16_120_test,imagenet16_120_valid",
        &|i| vec![73.0 + i, 90.0 - i, 86.0 + i, 70.0 - i, 89.0 + i, 60.0 - i],
    );
    // The tables read back through the benchmark's own reader.
    let t = sotl_bench::Nb201TableData::open(
        &tables.join("nb201-200ep.csv"),
        sotl_bench::Nb201Table::Full200,
    )
    .unwrap();
    assert_eq!(t.len(), CELLS);

    // Curves: CIFAR-10's come from cifar10-valid, whose loss falls with i, against cifar10's
    // test accuracy, which rises: SoTL and the training loss rank the cells exactly (Spearman 1
    // at every epoch), validation accuracy (90 - i) exactly backwards (-1). Another dataset's
    // curves, or another test set, would flip a sign.
    let curves = |schedule: &str, dataset: &str, out: &Path| {
        let o = sotl_nas()
            .arg("--data-root")
            .arg(&root)
            .args([
                "--json",
                "bench",
                "nb201",
                "curves",
                "--schedule",
                schedule,
                "--dataset",
                dataset,
            ])
            .args(["--sample-size", "8", "--sampling-seeds", "3", "--out"])
            .arg(out)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()
    };
    for (schedule, epochs) in [("12", 12), ("200", 200)] {
        let r = curves(schedule, "cifar10", &dir.path().join(format!("c10-{schedule}")));
        assert_eq!(r["curves_from"], "cifar10-valid");
        let rows = r["epochs"].as_array().unwrap();
        assert_eq!(rows.len(), epochs);
        for row in rows {
            let m = |k: usize| row["spearman"][k][0].as_f64().unwrap();
            assert!(
                (m(0) - 1.0).abs() < 1e-12
                    && (m(1) - 1.0).abs() < 1e-12
                    && (m(2) - 1.0).abs() < 1e-12,
                "{row}"
            );
            assert!((m(3) + 1.0).abs() < 1e-12, "{row}");
            assert_eq!(row["spearman"][0][1].as_f64().unwrap(), 0.0);
        }
        assert!(dir.path().join(format!("c10-{schedule}/curves.svg")).exists());
    }
    // CIFAR-100's loss rises with i (SoTL -1); its validation split is evaluated only after
    // the last of 200 epochs.
    let r = curves("200", "cifar100", &dir.path().join("c100"));
    let rows = r["epochs"].as_array().unwrap();
    assert!(rows.iter().all(|row| (row["spearman"][0][0].as_f64().unwrap() + 1.0).abs() < 1e-12));
    assert!(rows[..199].iter().all(|row| row["spearman"][3].is_null()));
    assert!((rows[199]["spearman"][3][0].as_f64().unwrap() + 1.0).abs() < 1e-12);

    // A truncated curves file is refused, naming it.
    let c = tables.join("nb201-curves-12.bin");
    let bytes = std::fs::read(&c).unwrap();
    std::fs::write(&c, &bytes[..bytes.len() - 10]).unwrap();
    let o = sotl_nas()
        .arg("--data-root")
        .arg(&root)
        .args(["bench", "nb201", "curves", "--schedule", "12", "--sample-size", "8", "--out"])
        .arg(dir.path().join("bad"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("nb201-curves-12.bin") && err.contains("truncated"),
        "{err}"
    );

    // A missing cell file is named.
    let gone = nats.join("000005.pickle.pbz2");
    let keep = std::fs::read(&gone).unwrap();
    std::fs::remove_file(&gone).unwrap();
    let o = convert(&nats, &dir.path().join("o1"));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("cell 5's file 000005.pickle.pbz2 is missing"),
        "{err}"
    );
    std::fs::write(&gone, keep).unwrap();

    // A corrupt cell file is named.
    let cell = nats.join("000003.pickle.pbz2");
    let b = std::fs::read(&cell).unwrap();
    std::fs::write(&cell, &b[..b.len() / 2]).unwrap();
    let o = convert(&nats, &dir.path().join("o2"));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("000003.pickle.pbz2") && err.contains("bzip2"),
        "{err}"
    );
}

#[test]
fn torch_save_files_convert_exactly_as_the_nats_folder() {
    let Some(python) = torch_python() else {
        eprintln!("skipped: SOTL_NAS_TORCH_PYTHON is not set (run through scripts/test), so no torch.save files can be written");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let nats = dir.path().join("nats");
    assert!(write_archive(&python, "nats", &nats));
    let want = dir.path().join("want");
    assert!(convert(&nats, &want).status.success());
    for kind in ["pth-legacy", "pth-zip"] {
        let pth = dir.path().join(format!("NAS-Bench-201-{kind}.pth"));
        assert!(write_archive(&python, kind, &pth), "{kind}");
        let out = dir.path().join(kind);
        let o = convert(&pth, &out);
        assert!(o.status.success(), "{kind}: {}", String::from_utf8_lossy(&o.stderr));
        for f in [
            "nb201-curves-12.bin",
            "nb201-curves-200.bin",
            "nb201-200ep.csv",
            "nb201-minibench.csv",
        ] {
            assert_eq!(
                std::fs::read(out.join(f)).unwrap(),
                std::fs::read(want.join(f)).unwrap(),
                "{kind}: {f}"
            );
        }
    }
    // Truncated, and a file with tensors, are refused with the reason.
    let legacy = dir.path().join("NAS-Bench-201-pth-legacy.pth");
    let b = std::fs::read(&legacy).unwrap();
    let cut = dir.path().join("cut.pth");
    std::fs::write(&cut, &b[..b.len() / 2]).unwrap();
    let err = String::from_utf8_lossy(&convert(&cut, &dir.path().join("o")).stderr).to_string();
    assert!(err.contains("cut.pth") && err.contains("truncated"), "{err}");
    let tensor = dir.path().join("tensor.pth");
    assert!(write_archive(&python, "pth-tensor", &tensor));
    let err = String::from_utf8_lossy(&convert(&tensor, &dir.path().join("o")).stderr).to_string();
    assert!(err.contains("holds tensors"), "{err}");
    let junk = dir.path().join("junk.pth");
    std::fs::write(&junk, b"not a torch file").unwrap();
    let err = String::from_utf8_lossy(&convert(&junk, &dir.path().join("o")).stderr).to_string();
    assert!(err.contains("not a torch.save file"), "{err}");
}
