//! Every row runs at a tiny size and returns finite times; the reported model counts equal the
//! reference harness' published numbers; spos replays a reference JSON's cells.

use sotl_perf::{
    model_info, run_nb201, BenchRow, PerfConfig, PerfError, ReferenceRun,
    REFERENCE_FIXED_ARCH_SEED0,
};
use sotl_space::Nb201Arch;

fn tiny() -> PerfConfig {
    PerfConfig {
        channels: 4,
        cells_per_stage: 1,
        batch: 4,
        threads: 1,
        warmup: 1,
        steps: 1,
        data_images: 16,
        data_batches: 5,
        ..PerfConfig::default()
    }
}

#[test]
fn every_row_runs_one_tiny_step_with_finite_times() {
    let mut started = Vec::new();
    let report = run_nb201(&tiny(), None, &mut |ev| {
        if let sotl_perf::PerfEvent::Started(r) = ev {
            started.push(r);
        }
    })
    .unwrap();
    assert_eq!(started, BenchRow::ALL.to_vec());
    let rows: Vec<BenchRow> = report.results.0.iter().map(|(r, _)| *r).collect();
    assert_eq!(rows, BenchRow::ALL.to_vec());
    for (row, s) in &report.results.0 {
        // data: 5 batches; pool: 5 candidates (the default pool_size) of 1 step, one mean
        // per candidate.
        let steps = if matches!(row, BenchRow::Data | BenchRow::Pool) { 5 } else { 1 };
        assert_eq!(s.steps, steps, "{row}");
        assert_eq!(s.step_ms.len(), steps, "{row}");
        for v in [s.median_ms, s.mean_ms, s.min_ms, s.max_ms, s.stdev_ms, s.imgs_per_s, s.wall_s] {
            assert!(v.is_finite() && v >= 0.0, "{row}: {v}");
        }
        assert!(s.median_ms > 0.0, "{row}");
        let imgs = if *row == BenchRow::Darts { 8 } else { 4 };
        assert_eq!(s.imgs_per_step, imgs, "{row}");
    }
    // Without a reference, spos samples warmup + steps cells itself and records them.
    let spos = report.results.get(BenchRow::Spos).unwrap();
    assert_eq!(spos.sampled_archs.as_ref().map(Vec::len), Some(2));
    assert_eq!(report.config.fixed_arch.to_string(), REFERENCE_FIXED_ARCH_SEED0);
    let json = serde_json::to_value(&report).unwrap();
    let keys: Vec<&String> = json["results"].as_object().unwrap().keys().collect();
    let pool = report.results.get(BenchRow::Pool).unwrap();
    assert_eq!(pool.sampled_archs.as_ref().map(Vec::len), Some(5));
    assert_eq!(keys.len(), 8);
    assert!(json["results"]["standalone_train"]["median_ms"].is_f64());
}

#[test]
fn model_counts_equal_the_reference_harness_published_numbers() {
    // shared/bench/README.md (from AutoDL-Projects' TinyNetworkDarts/TinyNetwork at C=16, N=5):
    // supernet 1 692 826 weights, fixed-arch path 828 186, stand-alone 830 426; forward MFLOPs per
    // image 245.43 (supernet), 118.46 (fixed path), 117.88 (stand-alone).
    let fixed: Nb201Arch = REFERENCE_FIXED_ARCH_SEED0.parse().unwrap();
    let m = model_info(&PerfConfig::default(), &fixed).unwrap();
    assert_eq!(m.supernet_params_weights, 1_692_826);
    assert_eq!(m.fixed_arch_path_params, 828_186);
    assert_eq!(m.standalone_params, 830_426);
    assert!((m.supernet_mflops_per_img - 245.43297).abs() < 1e-3, "{}", m.supernet_mflops_per_img);
    assert!(
        (m.fixed_arch_mflops_per_img - 118.45697).abs() < 1e-3,
        "{}",
        m.fixed_arch_mflops_per_img
    );
    assert!(
        (m.standalone_mflops_per_img - 117.88353).abs() < 1e-3,
        "{}",
        m.standalone_mflops_per_img
    );
}

fn reference_json(steps: usize, archs: &[&str]) -> String {
    let list: Vec<String> = archs.iter().map(|a| format!("{a:?}")).collect();
    format!(
        r#"{{"config": {{"C": 4, "N": 1, "num_classes": 10, "batch": 4, "threads": 1, "warmup": 1,
        "steps": {steps}, "seed": 0, "fixed_arch": "|none~0|+|skip_connect~0|none~1|+|none~0|none~1|avg_pool_3x3~2|"}},
        "results": {{"spos": {{"sampled_archs": [{}]}}}}}}"#,
        list.join(",")
    )
}

#[test]
fn spos_replays_the_reference_cells_and_mismatched_settings_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let archs = [
        "|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|nor_conv_1x1~2|",
        "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|",
    ];
    let path = dir.path().join("ref.json");
    std::fs::write(&path, reference_json(1, &archs)).unwrap();
    let reference = ReferenceRun::read(&path).unwrap();
    let cfg = PerfConfig { rows: vec![BenchRow::Spos, BenchRow::Eval], ..tiny() };
    let report = run_nb201(&cfg, Some(&reference), &mut |_| {}).unwrap();
    let replayed: Vec<String> = report
        .results
        .get(BenchRow::Spos)
        .unwrap()
        .sampled_archs
        .as_ref()
        .unwrap()
        .iter()
        .map(|a| a.to_string())
        .collect();
    assert_eq!(replayed, archs);
    assert_eq!(
        report.config.fixed_arch.to_string(),
        "|none~0|+|skip_connect~0|none~1|+|none~0|none~1|avg_pool_3x3~2|"
    );
    assert_eq!(report.config.spos_archs_from.as_deref(), Some(path.as_path()));

    // A reference made with 2 timed steps cannot be compared with our 1.
    std::fs::write(&path, reference_json(2, &archs)).unwrap();
    let reference = ReferenceRun::read(&path).unwrap();
    let e = run_nb201(&cfg, Some(&reference), &mut |_| {}).unwrap_err();
    assert!(matches!(e, PerfError::Reference { .. }), "{e}");
    assert!(e.to_string().contains("steps: reference 2, ours 1"), "{e}");
}

#[test]
fn the_published_reference_json_reads_with_its_fixed_cell_and_23_spos_cells() {
    let root =
        std::env::var_os("SOTL_NAS_DATA").map(std::path::PathBuf::from).unwrap_or_else(|| {
            std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared"))
        });
    let path = root.join("bench/results/pytorch-nb201-cpu.json");
    if !path.is_file() {
        println!("skipped: the_published_reference_json_reads_with_its_fixed_cell_and_23_spos_cells needs ../shared (absent)");
        return;
    }
    let r = ReferenceRun::read(&path).unwrap();
    assert_eq!(r.fixed_arch.to_string(), REFERENCE_FIXED_ARCH_SEED0);
    assert_eq!(r.spos_archs.as_ref().map(Vec::len), Some(23));
    assert_eq!(
        (r.setting("C"), r.setting("N"), r.setting("batch"), r.setting("steps")),
        (Some(16), Some(5), Some(64), Some(20))
    );
    r.check(&PerfConfig::default()).unwrap();
}
