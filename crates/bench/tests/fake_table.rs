//! Tables written by the tests themselves: parsing, errors for corrupt files, and the baselines on
//! a synthetic complete table.

mod common;

use sotl_bench::*;
use sotl_space::Nb201Arch;

const FULL_HEADER: &str = "index,arch,cifar10_test,cifar100_test,imagenet16_120_test\n";
const MINI_HEADER: &str =
    "index,arch,cifar10_test,cifar10_valid,cifar100_test,cifar100_valid,imagenet16_120_test,imagenet16_120_valid\n";
const A0: &str = "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|";
const A1: &str = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|";

fn tiny_full() -> String {
    format!("{FULL_HEADER}0,{A0},85.8633,52.9133,26.6333\n7,{A1},93.66,70.2933,44.0333\n")
}

fn tiny_mini() -> String {
    format!("{MINI_HEADER}0,{A0},69.55,63.364,31.26,31.84,17.0,18.4667\n7,{A1},88.22,82.834,58.26,57.8,33.8,35.4333\n")
}

fn parse(text: &str, t: Nb201Table) -> Result<Nb201TableData> {
    Nb201TableData::parse(text.as_bytes(), t, "fake.csv")
}

fn tiny_bench() -> Nb201Bench {
    Nb201Bench::from_tables(
        parse(&tiny_full(), Nb201Table::Full200).unwrap(),
        parse(&tiny_mini(), Nb201Table::Mini).unwrap(),
    )
    .unwrap()
}

#[test]
fn tiny_tables_answer_queries_by_arch_and_index() {
    let b = tiny_bench();
    let a1: Nb201Arch = A1.parse().unwrap();
    assert_eq!(b.len(), 2);
    assert_eq!(b.index_of(&a1).unwrap(), 7);
    assert_eq!(b.arch_at(7).unwrap(), a1);
    let q = Nb201Query::ground_truth(Nb201Dataset::Cifar100);
    assert_eq!(b.query(&a1, q).unwrap(), 70.2933);
    assert_eq!(b.query_index(0, q).unwrap(), 52.9133);
    assert_eq!(b.query(&a1, Nb201Query::selection(Nb201Dataset::ImageNet16_120)).unwrap(), 35.4333);
    let row = b.row(&a1).unwrap();
    assert_eq!(row.index, 7);
    assert_eq!(row.entries.len(), 9);
    assert_eq!(row.entries[3].table, Nb201Table::Mini);
    assert_eq!(row.entries[3].accuracy, 88.22);
    assert_eq!(b.best(Nb201Query::ground_truth(Nb201Dataset::Cifar10)).unwrap(), (a1, 93.66));
}

#[test]
fn column_order_in_the_header_does_not_matter() {
    let text = format!(
        "arch,imagenet16_120_test,index,cifar100_test,cifar10_test\n{A1},44.0333,7,70.2933,93.66\n"
    );
    let t = parse(&text, Nb201Table::Full200).unwrap();
    let a1: Nb201Arch = A1.parse().unwrap();
    assert_eq!(t.get(&a1, Nb201Dataset::Cifar10, Nb201Metric::Test), Some(93.66));
    assert_eq!(t.get(&a1, Nb201Dataset::ImageNet16_120, Nb201Metric::Test), Some(44.0333));
}

#[test]
fn unsupported_and_unknown_queries_are_errors() {
    let b = tiny_bench();
    let a1: Nb201Arch = A1.parse().unwrap();
    let valid200 = Nb201Query {
        table: Nb201Table::Full200,
        dataset: Nb201Dataset::Cifar10,
        metric: Nb201Metric::Valid,
    };
    let e = b.query(&a1, valid200).unwrap_err();
    assert!(matches!(e, BenchError::Unsupported { .. }), "{e}");
    assert!(e.to_string().contains("minibench"), "{e}");
    assert!(!b.supports(valid200));
    let absent = Nb201Arch::from_ordinal(0);
    assert!(matches!(
        b.query(&absent, Nb201Query::ground_truth(Nb201Dataset::Cifar10)),
        Err(BenchError::UnknownArch { .. })
    ));
    assert!(matches!(b.arch_at(3), Err(BenchError::UnknownIndex { index: 3, .. })));
    assert!(matches!(b.arch_at(1_000_000), Err(BenchError::UnknownIndex { .. })));
}

fn row_err(text: &str, t: Nb201Table) -> (u64, String) {
    match parse(text, t) {
        Err(BenchError::Row { line, reason, .. }) => (line, reason),
        other => panic!("expected a row error, got {other:?}"),
    }
}

#[test]
fn corrupt_and_truncated_tables_name_the_line() {
    // Truncated mid-row: the last line has too few fields.
    let truncated = format!("{FULL_HEADER}0,{A0},85.8633,52.9133,26.6333\n7,{A1},93.66");
    let (line, reason) = row_err(&truncated, Nb201Table::Full200);
    assert_eq!(line, 3);
    assert!(reason.contains("field"), "{reason}");
    // A value that is not a number, and one that is not an accuracy.
    let (line, reason) =
        row_err(&format!("{FULL_HEADER}0,{A0},85.8633,abc,26.6333\n"), Nb201Table::Full200);
    assert_eq!(line, 2);
    assert!(reason.contains("cifar100_test") && reason.contains("abc"), "{reason}");
    let (_, reason) =
        row_err(&format!("{FULL_HEADER}0,{A0},85.8633,NaN,26.6333\n"), Nb201Table::Full200);
    assert!(reason.contains("not an accuracy"), "{reason}");
    let (_, reason) =
        row_err(&format!("{FULL_HEADER}0,{A0},185.0,50,26.6333\n"), Nb201Table::Full200);
    assert!(reason.contains("not an accuracy"), "{reason}");
    // A malformed arch string names the offending part.
    let bad_arch = A0.replace("nor_conv_1x1~0|skip", "nor_conv_1x2~0|skip");
    let (_, reason) = row_err(&format!("{FULL_HEADER}0,{bad_arch},1,2,3\n"), Nb201Table::Full200);
    assert!(reason.contains("nor_conv_1x2"), "{reason}");
    // Duplicates.
    let (line, reason) =
        row_err(&format!("{FULL_HEADER}0,{A0},1,2,3\n1,{A0},1,2,3\n"), Nb201Table::Full200);
    assert_eq!(line, 3);
    assert!(reason.contains("already appeared on line 2"), "{reason}");
    let (_, reason) =
        row_err(&format!("{FULL_HEADER}0,{A0},1,2,3\n0,{A1},1,2,3\n"), Nb201Table::Full200);
    assert!(reason.contains("index 0 appears twice"), "{reason}");
    let (_, reason) = row_err(&format!("{FULL_HEADER}-1,{A0},1,2,3\n"), Nb201Table::Full200);
    assert!(reason.contains("index"), "{reason}");
    // Header only.
    assert!(matches!(parse(FULL_HEADER, Nb201Table::Full200), Err(BenchError::Row { .. })));
}

#[test]
fn missing_columns_and_files_are_clear_errors() {
    // The 200-epoch schema read as the minibench table lacks the validation columns.
    let e = parse(&tiny_full(), Nb201Table::Mini).unwrap_err();
    assert!(matches!(&e, BenchError::Header { missing, .. } if missing == "cifar10_valid"), "{e}");
    assert!(e.to_string().contains("fake.csv"));
    let e = parse("", Nb201Table::Full200).unwrap_err();
    assert!(matches!(e, BenchError::Header { .. }), "{e}");
    let dir = tempfile::tempdir().unwrap();
    let e = Nb201Bench::load(dir.path()).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("benchmarks/nb201/nb201-200ep.csv") && msg.contains("--data-root"),
        "{msg}"
    );
}

#[test]
fn tables_that_disagree_or_are_incomplete_are_rejected() {
    let other_mini = format!("{MINI_HEADER}0,{A1},1,2,3,4,5,6\n7,{A0},1,2,3,4,5,6\n");
    let e = Nb201Bench::from_tables(
        parse(&tiny_full(), Nb201Table::Full200).unwrap(),
        parse(&other_mini, Nb201Table::Mini).unwrap(),
    )
    .unwrap_err();
    assert!(matches!(e, BenchError::Mismatch { .. }), "{e}");
    let dir = tempfile::tempdir().unwrap();
    let nb = dir.path().join("benchmarks/nb201");
    std::fs::create_dir_all(&nb).unwrap();
    std::fs::write(nb.join("nb201-200ep.csv"), tiny_full()).unwrap();
    std::fs::write(nb.join("nb201-minibench.csv"), tiny_mini()).unwrap();
    let e = Nb201Bench::load(dir.path()).unwrap_err();
    assert!(matches!(e, BenchError::Incomplete { rows: 2, expected: 15_625, .. }), "{e}");
    let (full, mini) = Nb201Bench::paths(dir.path());
    assert_eq!(Nb201Bench::from_paths(&full, &mini).unwrap().len(), 2);
}

#[test]
fn baselines_on_a_synthetic_table_select_on_validation_only_and_are_deterministic() {
    let dir = tempfile::tempdir().unwrap();
    common::write_synthetic_root(dir.path());
    let bench = Nb201Bench::load(dir.path()).unwrap();
    let rea = RegularizedEvolutionConfig::default();
    let rs = RandomSearchConfig::default();
    let a = run_many(&bench, &rea, 5, 42).unwrap();
    assert_eq!(a, run_many(&bench, &rea, 5, 42).unwrap(), "same seed, same runs");
    assert_ne!(a, run_many(&bench, &rea, 5, 43).unwrap(), "another seed, other runs");
    assert_ne!(a[0].arch, a[1].arch, "runs of one call differ");
    for r in a.iter().chain(&run_many(&bench, &rs, 5, 42).unwrap()) {
        assert_eq!(r.queries, 100);
        assert_eq!(r.trajectory.len(), 100);
        assert_eq!(r.arch, bench.arch_at(r.index).unwrap());
        assert_eq!(common::synthetic_index(r.arch.ordinal()), r.index);
        let (test, valid) = common::synthetic_acc(&r.arch);
        assert_eq!((r.test_accuracy, r.selection), (test, valid));
        let last = r.trajectory.last().unwrap();
        assert_eq!((last.best_selection, last.test_accuracy), (r.selection, r.test_accuracy));
        assert!(r.trajectory.windows(2).all(|w| w[1].best_selection >= w[0].best_selection));
    }
    // Validation here rewards *fewer* 3x3 convolutions and test rewards more, so a searcher that
    // only sees validation must end with few of them: the mean pick stays far below the best test.
    let s = summarize(&a).unwrap();
    assert!(s.mean_test_accuracy <= 20.0 + 3.0, "{s:?}");
    // Replaying one run from its recorded seed gives the same run.
    assert_eq!(run_one(&bench, &rea, 3, a[3].seed).unwrap(), a[3]);
}

#[test]
fn bad_configs_are_rejected_before_searching() {
    let bench = tiny_bench();
    let bad = [
        RegularizedEvolutionConfig { population: 0, ..Default::default() },
        RegularizedEvolutionConfig { sample_size: 11, ..Default::default() },
        RegularizedEvolutionConfig { sample_size: 0, ..Default::default() },
        RegularizedEvolutionConfig { budget: 5, ..Default::default() },
    ];
    for c in bad {
        assert!(matches!(run_one(&bench, &c, 0, 1), Err(BenchError::Config(_))), "{c:?}");
    }
    assert!(run_one(&bench, &RandomSearchConfig { budget: 0, ..Default::default() }, 0, 1).is_err());
    // On the two-row table a random cell is almost surely absent: an error, not a silent skip.
    assert!(matches!(
        run_one(&bench, &RandomSearchConfig::default(), 0, 1),
        Err(BenchError::UnknownArch { .. })
    ));
    assert!(summarize(&[]).is_err());
}

#[test]
fn configs_reject_unknown_keys_and_fill_defaults() {
    let c: RegularizedEvolutionConfig =
        serde_json::from_str(r#"{"population": 20, "dataset": "imagenet16-120"}"#).unwrap();
    assert_eq!(
        (c.population, c.sample_size, c.budget, c.dataset),
        (20, 3, 100, Nb201Dataset::ImageNet16_120)
    );
    assert!(serde_json::from_str::<RegularizedEvolutionConfig>(r#"{"populaton": 20}"#).is_err());
    assert!(serde_json::from_str::<RandomSearchConfig>(r#"{"dataset": "cifar10-valid"}"#).is_err());
}

#[test]
fn run_seeds_are_distinct_and_stable() {
    let seeds: std::collections::HashSet<u64> = (0..1000).map(|r| run_seed(0, r)).collect();
    assert_eq!(seeds.len(), 1000);
    assert_eq!(run_seed(7, 3), run_seed(7, 3));
    assert_ne!(run_seed(7, 3), run_seed(8, 3));
}

#[test]
fn runs_config_nests_the_search_keys_and_rejects_unknown_ones_at_both_levels() {
    let c: RunsConfig<RegularizedEvolutionConfig> =
        serde_json::from_str(r#"{"runs": 7, "search": {"sample_size": 5}}"#).unwrap();
    assert_eq!((c.runs, c.seed, c.search.sample_size, c.search.population), (7, 0, 5, 10));
    assert!(serde_json::from_str::<RunsConfig<RandomSearchConfig>>(r#"{"run": 7}"#).is_err());
    assert!(serde_json::from_str::<RunsConfig<RandomSearchConfig>>(
        r#"{"search": {"population": 7}}"#
    )
    .is_err());
    let zero = RunsConfig { runs: 0, ..RunsConfig::<RandomSearchConfig>::default() };
    assert!(matches!(zero.validate(), Err(BenchError::Config(_))));
    assert!(RunsConfig::<RegularizedEvolutionConfig>::default().validate().is_ok());
}
