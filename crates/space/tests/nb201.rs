//! Integration tests of the NAS-Bench-201 space: arch strings, enumeration, sampling, mutation,
//! and the depth/reachability diagnostics on hand-worked cells.

use std::collections::HashSet;
use std::path::PathBuf;

use proptest::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use sotl_space::nb201::{NB201_EDGES, NB201_SIZE};
use sotl_space::{Nb201Arch, Nb201Op, Nb201Space, SearchSpace, SpaceError};

const BEST: &str =
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|";

fn data_root() -> PathBuf {
    std::env::var_os("SOTL_NAS_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared")))
}

fn arch(s: &str) -> Nb201Arch {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn uniform(op: Nb201Op) -> Nb201Arch {
    Nb201Arch::new([op; NB201_EDGES])
}

#[test]
fn every_benchmark_string_round_trips() {
    let path = data_root().join("benchmarks/nb201/nb201-200ep.csv");
    if !path.exists() {
        println!("skipped: every_benchmark_string_round_trips needs ../shared (absent)");
        return;
    }
    let text = std::fs::read_to_string(&path).unwrap();
    let mut seen = HashSet::new();
    for line in text.lines().skip(1) {
        let s = line.split(',').nth(1).expect("arch column");
        let a = arch(s);
        assert_eq!(a.to_string(), s);
        seen.insert(a);
    }
    assert_eq!(seen.len(), NB201_SIZE, "the table should list every cell once");
}

/// Parses `s`, expects a parse error, and returns its (part, reason).
fn parse_error(s: &str) -> (String, String) {
    match s.parse::<Nb201Arch>() {
        Err(SpaceError::Parse { input, part, reason }) => {
            assert_eq!(input, s);
            (part, reason)
        }
        other => panic!("{s}: expected a parse error, got {other:?}"),
    }
}

#[test]
fn malformed_strings_name_the_offending_part() {
    // Wrong op on node 2's second edge.
    let (part, reason) = parse_error(
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|conv_5x5~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|",
    );
    assert_eq!(part, "conv_5x5~1");
    assert!(reason.contains("node 2, edge 1") && reason.contains("\"conv_5x5\""), "{reason}");

    // Wrong input index: node 3's third edge must come from node 2.
    let (part, reason) = parse_error(
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~1|",
    );
    assert_eq!(part, "nor_conv_1x1~1");
    assert!(reason.contains("must come from node 2, not 1"), "{reason}");

    // Non-numeric input index.
    let (part, reason) = parse_error("|none~x|+|none~0|none~1|+|none~0|none~1|none~2|");
    assert_eq!(part, "none~x");
    assert!(reason.contains("\"x\" is not a number"), "{reason}");

    // A non-canonical input index would not round-trip.
    let (part, reason) = parse_error("|none~00|+|none~0|none~1|+|none~0|none~1|none~2|");
    assert_eq!(part, "none~00");
    assert!(reason.contains("write the input node as 0"), "{reason}");

    // Missing '|' at the end of the first group.
    let (part, reason) = parse_error("|none~0+|none~0|none~1|+|none~0|none~1|none~2|");
    assert_eq!(part, "|none~0");
    assert!(reason.contains("node group 1 must start and end with '|'"), "{reason}");

    // Missing '|' between two edges: node 2 then has one edge instead of two.
    let (part, reason) = parse_error("|none~0|+|none~0none~1|+|none~0|none~1|none~2|");
    assert_eq!(part, "|none~0none~1|");
    assert!(reason.contains("node 2 must have 2 incoming edge(s), found 1"), "{reason}");

    // Wrong group count: two groups, and four groups.
    let (part, reason) = parse_error("|none~0|+|none~0|none~1|");
    assert_eq!(part, "|none~0|+|none~0|none~1|");
    assert!(reason.contains("expected 3 node groups separated by '+', found 2"), "{reason}");
    let (_, reason) = parse_error("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|+|none~0|");
    assert!(reason.contains("found 4"), "{reason}");

    // Edge without '~'.
    let (part, reason) = parse_error("|none|+|none~0|none~1|+|none~0|none~1|none~2|");
    assert_eq!(part, "none");
    assert!(reason.contains("op~input"), "{reason}");

    // The message shown to a user carries the part and the expected form.
    let msg = "".parse::<Nb201Arch>().unwrap_err().to_string();
    assert!(msg.contains("expected the NAS-Bench-201 form"), "{msg}");
}

#[test]
fn ordinals_round_trip_and_enumerate_every_cell_once() {
    for i in 0..NB201_SIZE {
        assert_eq!(Nb201Arch::from_ordinal(i).ordinal(), i);
    }
    let all: Vec<Nb201Arch> = Nb201Arch::all().collect();
    assert_eq!(all.len(), 15_625);
    let distinct: HashSet<_> = all.iter().collect();
    assert_eq!(distinct.len(), 15_625);
    let strings: HashSet<String> = all.iter().map(|a| a.to_string()).collect();
    assert_eq!(strings.len(), 15_625);
    // Edge 0 is the most significant base-5 digit: ordinal 5^5 = 3125 puts skip_connect there.
    assert_eq!(
        Nb201Arch::from_ordinal(3125).to_string(),
        "|skip_connect~0|+|none~0|none~1|+|none~0|none~1|none~2|"
    );
    assert_eq!(
        Nb201Arch::try_from_ordinal(NB201_SIZE),
        Err(SpaceError::IndexOutOfRange { index: NB201_SIZE, size: NB201_SIZE })
    );
    assert_eq!(Nb201Space.enumerate().unwrap().count(), 15_625);
    assert_eq!(Nb201Space.size(), 15_625);
}

#[test]
fn mutate_changes_exactly_one_edge() {
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let mut edges_hit = [0usize; NB201_EDGES];
    for _ in 0..2_000 {
        let parent = Nb201Arch::sample(&mut rng);
        let child = Nb201Space.mutate(&parent, &mut rng);
        let diff: Vec<usize> =
            (0..NB201_EDGES).filter(|&k| parent.ops[k] != child.ops[k]).collect();
        assert_eq!(diff.len(), 1, "{parent} -> {child}");
        edges_hit[diff[0]] += 1;
    }
    // Each edge is chosen with probability 1/6: about 333 of 2000, far from 0.
    assert!(edges_hit.iter().all(|&n| n > 200), "{edges_hit:?}");
}

#[test]
fn neighbours_are_24_distinct_one_edge_changes() {
    for a in [uniform(Nb201Op::None), arch(BEST), Nb201Arch::from_ordinal(7_777)] {
        let n = Nb201Space.neighbours(&a);
        assert_eq!(n.len(), 24);
        let distinct: HashSet<_> = n.iter().collect();
        assert_eq!(distinct.len(), 24);
        for b in &n {
            assert_eq!((0..NB201_EDGES).filter(|&k| a.ops[k] != b.ops[k]).count(), 1);
        }
    }
}

#[test]
fn sampling_is_seeded_and_covers_the_ops() {
    let draw = |seed| {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..50).map(|_| Nb201Space.sample(&mut rng)).collect::<Vec<_>>()
    };
    assert_eq!(draw(3), draw(3));
    assert_ne!(draw(3), draw(4));
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let mut counts = [0usize; 5];
    for _ in 0..1_000 {
        for (c, n) in counts.iter_mut().zip(Nb201Arch::sample(&mut rng).op_counts()) {
            *c += n;
        }
    }
    // 6000 edge draws, 1200 expected per op; a binomial sd is about 31.
    assert!(counts.iter().all(|&c| (1_050..1_350).contains(&c)), "{counts:?}");
}

#[test]
fn depth_and_reachability_on_hand_worked_cells() {
    // All none: nothing reaches the output.
    let none = uniform(Nb201Op::None);
    assert!(!none.output_reachable());
    assert_eq!(none.depth(), 0);
    assert_eq!(none.active_edges(), [false; 6]);

    // All skip: the longest path is 0->1->2->3, three edges.
    let skip = uniform(Nb201Op::SkipConnect);
    assert!(skip.output_reachable());
    assert_eq!(skip.depth(), 3);
    assert_eq!(skip.op_counts(), [0, 6, 0, 0, 0]);
    assert_eq!(skip.active_edges(), [true; 6]);

    // The chain 0->1->2->3 alone.
    let chain = arch("|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|none~0|none~1|nor_conv_3x3~2|");
    assert!(chain.output_reachable());
    assert_eq!(chain.depth(), 3);
    assert_eq!(chain.active_edges(), [true, false, true, false, false, true]);

    // Only the direct edge 3<-0: depth 1. Adding 0->2->3 raises it to 2.
    let direct = arch("|none~0|+|none~0|none~1|+|avg_pool_3x3~0|none~1|none~2|");
    assert_eq!((direct.output_reachable(), direct.depth()), (true, 1));
    let two = arch("|none~0|+|skip_connect~0|none~1|+|avg_pool_3x3~0|none~1|nor_conv_1x1~2|");
    assert_eq!(two.depth(), 2);

    // 1->2->3 is intact, but node 1 gets nothing from the input: unreachable, depth 0.
    let cut = arch("|none~0|+|none~0|nor_conv_3x3~1|+|none~0|nor_conv_3x3~1|nor_conv_3x3~2|");
    assert!(!cut.output_reachable());
    assert_eq!(cut.depth(), 0);
    assert_eq!(cut.active_edges(), [false; 6]);

    // The best CIFAR-10 cell: every edge is non-none, so 0->1->2->3 exists and the depth is 3;
    // 4x conv3x3, 1x conv1x1, 1x skip.
    let best = arch(BEST);
    assert!(best.output_reachable());
    assert_eq!(best.depth(), 3);
    assert_eq!(best.op_counts(), [0, 1, 1, 4, 0]);
    assert_eq!(best.count(Nb201Op::NorConv3x3), 4);
    assert_eq!(best.num_parametric(), 5);
    assert_eq!(best.num_active_parametric(), 5);
}

#[test]
fn depth_distribution_over_the_space() {
    // Hand count of unreachable cells. Each edge is none with p = 1/5, else q = 4/5. The output
    // is cut iff e30 is none and neither 1->3 nor 2->3 carries a reachable node. Conditioning on
    // the two other edges out of the input, e10 and e20:
    //   both none      p*p : nothing is reached                        -> 1
    //   e10 only       q*p : need e31 none and not (e21 and e32)        -> p*(1 - q^2)
    //   e20 only       p*q : need e32 none                              -> p
    //   both           q*q : need e31 and e32 none                      -> p^2
    // P = p * (p^2 + q p^2 (1 - q^2) + p^2 q + q^2 p^2)
    //   = 1/5 * (125 + 36 + 100 + 80) / 3125 = 341 / 15625.
    assert_eq!(Nb201Arch::all().filter(|a| !a.output_reachable()).count(), 341);
    // Depth 3 needs the chain edges e10, e21, e32 non-none; the other three are free: 4^3 * 5^3.
    assert_eq!(Nb201Arch::all().filter(|a| a.depth() == 3).count(), 8_000);
    // Depth 1: e30 non-none and every longer path (0-1-3, 0-2-3, 0-1-2-3) cut. That second
    // condition is exactly the "cut" event above without e30, whose weight was 341 out of 5^5:
    // so 4 * 341 cells. Depth 2 is the rest.
    let by_depth: Vec<usize> =
        (0..=3).map(|d| Nb201Arch::all().filter(|a| a.depth() == d).count()).collect();
    assert_eq!(by_depth, [341, 1_364, 15_625 - 341 - 1_364 - 8_000, 8_000]);
}

#[test]
fn serde_uses_the_arch_string() {
    let a = arch(BEST);
    let json = serde_json::to_string(&a).unwrap();
    assert_eq!(json, format!("\"{BEST}\""));
    assert_eq!(serde_json::from_str::<Nb201Arch>(&json).unwrap(), a);
    let bad = serde_json::from_str::<Nb201Arch>("\"|none~0|\"").unwrap_err().to_string();
    assert!(bad.contains("expected 3 node groups"), "{bad}");
    assert_eq!(serde_json::to_string(&Nb201Op::NorConv3x3).unwrap(), "\"nor_conv_3x3\"");
}

#[test]
fn space_describes_its_relaxation() {
    assert_eq!(Nb201Space.name(), "nb201");
    assert_eq!(Nb201Space.relaxation_shape(), (6, 5));
    assert_eq!(
        Nb201Space.op_names(),
        ["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"]
    );
}

fn any_arch() -> impl Strategy<Value = Nb201Arch> {
    (0..NB201_SIZE).prop_map(Nb201Arch::from_ordinal)
}

proptest! {
    #[test]
    fn parse_print_round_trips(a in any_arch()) {
        let s = a.to_string();
        prop_assert_eq!(s.parse::<Nb201Arch>().unwrap(), a);
    }

    #[test]
    fn parser_accepts_only_canonical_strings(
        a in any_arch(),
        pos in 0usize..200,
        c in prop::sample::select(vec!['|', '+', '~', '0', '1', '2', '3', '_', 'x', ' ', 'n']),
        delete in any::<bool>(),
    ) {
        // One character deleted or replaced: either an error, or a string that prints back as is.
        let mut chars: Vec<char> = a.to_string().chars().collect();
        let pos = pos % chars.len();
        if delete { chars.remove(pos); } else { chars[pos] = c; }
        let s: String = chars.into_iter().collect();
        if let Ok(b) = s.parse::<Nb201Arch>() {
            prop_assert_eq!(b.to_string(), s.trim());
        }
    }

    #[test]
    fn properties_agree_with_each_other(a in any_arch()) {
        prop_assert_eq!(a.op_counts().iter().sum::<usize>(), 6);
        prop_assert_eq!(a.output_reachable(), a.depth() > 0);
        prop_assert_eq!(a.output_reachable(), a.active_edges().iter().any(|&e| e));
        prop_assert!(a.depth() <= 3);
        prop_assert!(a.num_active_parametric() <= a.num_parametric());
        prop_assert_eq!(a.num_parametric(), a.count(Nb201Op::NorConv1x1) + a.count(Nb201Op::NorConv3x3));
    }
}

#[test]
fn op_serde_names_match_the_arch_string() {
    for op in Nb201Op::ALL {
        let json = serde_json::to_string(&op).unwrap();
        assert_eq!(json, format!("\"{}\"", op.name()));
        assert_eq!(serde_json::from_str::<Nb201Op>(&json).unwrap(), op);
    }
}
