//! The DARTS space: genotype strings, presets, discretisation, sampling and cell properties,
//! checked against hand-computed values and the DARTS code's conventions.

use proptest::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use sotl_space::darts::{darts_edge_index, preset, DartsCell, PRESETS};
use sotl_space::{
    CellShape, DartsGenotype, DartsOp, DartsOpSet, DartsSpace, SearchSpace, SpaceError,
};

const V2: &str = "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), ('dil_conv_3x3', 2)], normal_concat=range(2, 6), reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), ('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], reduce_concat=range(2, 6))";

fn parse_err(s: &str) -> String {
    match s.parse::<DartsGenotype>() {
        Err(e @ SpaceError::Genotype { .. }) => e.to_string(),
        other => panic!("expected a genotype error for {s:?}, got {other:?}"),
    }
}

#[test]
fn presets_parse_and_print_in_the_darts_form() {
    for (name, text) in PRESETS {
        let g = preset(name).unwrap();
        assert_eq!(g.to_string().parse::<DartsGenotype>().unwrap(), g, "{name}");
        assert_eq!(text.parse::<DartsGenotype>().unwrap(), g);
        assert_eq!(g.normal.edges.len(), 8);
        assert_eq!(g.normal.concat, vec![2, 3, 4, 5]);
    }
    // The list concat of genotypes.py prints as the range the search code writes.
    assert_eq!(preset("darts-v2").unwrap().to_string(), V2);
    // Python's repr() of the published namedtuples (Python 3.11 on the authors' genotypes.py).
    assert_eq!(preset("pdarts").unwrap().to_string(), "Genotype(normal=[('skip_connect', 0), ('dil_conv_3x3', 1), ('skip_connect', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 1), ('sep_conv_3x3', 3), ('sep_conv_3x3', 0), ('dil_conv_5x5', 4)], normal_concat=range(2, 6), reduce=[('avg_pool_3x3', 0), ('sep_conv_5x5', 1), ('sep_conv_3x3', 0), ('dil_conv_5x5', 2), ('max_pool_3x3', 0), ('dil_conv_3x3', 1), ('dil_conv_3x3', 1), ('dil_conv_5x5', 3)], reduce_concat=range(2, 6))");
    assert_eq!(preset("drnas").unwrap().to_string(), "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_5x5', 1), ('sep_conv_3x3', 1), ('sep_conv_3x3', 2), ('skip_connect', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 2), ('dil_conv_5x5', 3)], normal_concat=range(2, 6), reduce=[('max_pool_3x3', 0), ('sep_conv_5x5', 1), ('dil_conv_5x5', 2), ('sep_conv_5x5', 1), ('sep_conv_5x5', 1), ('dil_conv_5x5', 3), ('skip_connect', 4), ('sep_conv_5x5', 1)], reduce_concat=range(2, 6))");
    let json = serde_json::to_string(&preset("pdarts").unwrap()).unwrap();
    assert_eq!(serde_json::from_str::<DartsGenotype>(&json).unwrap(), preset("pdarts").unwrap());
    let e = preset("nasnet").unwrap_err().to_string();
    assert!(
        e.contains("unknown published genotype \"nasnet\"") && e.contains("darts-v2, pdarts"),
        "{e}"
    );
}

#[test]
fn parsing_takes_the_forms_python_writes() {
    let g: DartsGenotype = V2.parse().unwrap();
    let spaced = V2.replace("', ", "\",").replace("('", "(\"").replace("), ", "),\n    ");
    assert_eq!(spaced.parse::<DartsGenotype>().unwrap(), g, "{spaced}");
    let reordered = "Genotype(reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), ('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], reduce_concat=list(range(2, 6)), normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), ('dil_conv_3x3', 2)], normal_concat=[2, 3, 4, 5],)";
    assert_eq!(reordered.parse::<DartsGenotype>().unwrap(), g);
    // A non-contiguous concat prints as a list.
    let odd = V2.replacen("normal_concat=range(2, 6)", "normal_concat=[2, 3, 5]", 1);
    let h: DartsGenotype = odd.parse().unwrap();
    assert_eq!(h.normal.concat, vec![2, 3, 5]);
    assert!(h.to_string().contains("normal_concat=[2, 3, 5]"));
    assert_eq!(h.to_string().parse::<DartsGenotype>().unwrap(), h);
}

#[test]
fn malformed_genotypes_name_the_bad_part() {
    let e = parse_err(&V2.replace("dil_conv_3x3", "conv_7x1_1x7"));
    assert!(e.contains("unknown op \"conv_7x1_1x7\"") && e.contains("conv_7x1_1x7'"), "{e}");
    // Node 1 (state 3) may read states 0..=2 only.
    let e = parse_err(&V2.replacen(
        "('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 1), ('skip",
        "('sep_conv_3x3', 0), ('sep_conv_3x3', 3), ('sep_conv_3x3', 1), ('skip",
        1,
    ));
    assert!(e.contains("normal cell") && e.contains("entry 3") && e.contains("0..=2"), "{e}");
    let e = parse_err(&V2.replacen(", ('dil_conv_3x3', 2)", "", 1));
    assert!(e.contains("7 entries"), "{e}");
    let e = parse_err(&V2.replacen(", reduce_concat=range(2, 6)", "", 1));
    assert!(e.contains("missing field reduce_concat"), "{e}");
    let e = parse_err(&format!("{V2} extra"));
    assert!(e.contains("after the closing") && e.contains("extra"), "{e}");
    let e = parse_err(&V2.replacen("normal_concat", "normal_cat", 1));
    assert!(e.contains("unknown field \"normal_cat\""), "{e}");
    let e = parse_err(&V2.replacen("range(2, 6)", "range(6, 2)", 1));
    assert!(e.contains("range(6, 2) is empty"), "{e}");
    let e = parse_err(&V2.replacen("range(2, 6)", "range(2, 7)", 1));
    assert!(e.contains("concat state 6"), "{e}");
    let e = parse_err("|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|");
    assert!(e.contains("expected \"Genotype\""), "{e}");
    let e = parse_err(
        &V2.replacen("'sep_conv_3x3'", "'sep_conv_3x3", 1).replace("'", "\"").replacen('"', "'", 1),
    );
    assert!(e.contains("quoted") || e.contains("expected"), "{e}");
    assert!(parse_err("Genotype(normal=[('skip_connect', 99999)]").contains("too large"));
}

/// Hand-built relaxation weights: one row per edge of the two cells, columns in `PRIMITIVES`.
fn rows_with(set: DartsOpSet, f: impl Fn(usize, usize, usize) -> f64) -> Vec<f64> {
    let n = set.ops().len();
    let mut w = vec![0.0; 28 * n];
    for cell in 0..2 {
        for i in 0..4 {
            for j in 0..i + 2 {
                for k in 0..n {
                    w[(cell * 14 + darts_edge_index(i, j)) * n + k] = f(cell, i * 10 + j, k);
                }
            }
        }
    }
    w
}

#[test]
fn discretisation_keeps_two_strongest_edges_per_node_without_none() {
    let s = DartsSpace::default();
    // `none` (column 0) is strongest everywhere and must be ignored. Edge j -> node i has its
    // best non-none op at column 1 + (i + j) % 7 with strength 0.1 * (j + 1) + 0.01 * i: the two
    // highest inputs win, listed strongest first.
    let w = rows_with(DartsOpSet::Full, |_, e, k| {
        let (i, j) = (e / 10, e % 10);
        if k == 0 {
            0.9
        } else if k == 1 + (i + j) % 7 {
            0.1 * (j + 1) as f64 + 0.01 * i as f64
        } else {
            0.0
        }
    });
    let g = s.discretize(&w).unwrap();
    let op = |i: usize, j: usize| DartsOp::PRIMITIVES[1 + (i + j) % 7];
    let expect: Vec<(DartsOp, usize)> =
        (0..4).flat_map(|i| [(op(i, i + 1), i + 1), (op(i, i), i)]).collect();
    assert_eq!(g.normal.edges, expect);
    assert_eq!(g.reduce.edges, expect);
    assert_eq!(g.normal.concat, vec![2, 3, 4, 5]);
    // Ties: equal strengths keep the lower inputs, equal ops the earlier column.
    let flat = s.discretize(&vec![0.5; 28 * 8]).unwrap();
    let first = (0..4).flat_map(|_| [(DartsOp::MaxPool3x3, 0), (DartsOp::MaxPool3x3, 1)]);
    assert_eq!(flat.normal.edges, first.collect::<Vec<_>>());
    // S2 has no `none` column: both ops compete.
    let s2 = DartsSpace::new(DartsOpSet::S2);
    let w2 = rows_with(DartsOpSet::S2, |cell, e, k| {
        let (i, j) = (e / 10, e % 10);
        // Normal cell: skip wins on input 0 and 1 is strongest; reduce: sep_conv everywhere.
        match (cell, k) {
            (0, 0) => {
                if j == 0 {
                    0.8
                } else {
                    0.1
                }
            }
            (0, 1) => {
                if j == 1 {
                    0.7
                } else {
                    0.2 + 0.01 * i as f64
                }
            }
            (_, 0) => 0.1,
            _ => 0.3 + 0.01 * j as f64,
        }
    });
    let g2 = s2.discretize(&w2).unwrap();
    assert_eq!(g2.normal.node(0), [(DartsOp::SkipConnect, 0), (DartsOp::SepConv3x3, 1)]);
    assert_eq!(g2.normal.node(3), [(DartsOp::SkipConnect, 0), (DartsOp::SepConv3x3, 1)]);
    assert_eq!(g2.reduce.node(3), [(DartsOp::SepConv3x3, 4), (DartsOp::SepConv3x3, 3)]);
    assert_eq!(g2.skip_connections(), 4);
    // Bad input names the problem.
    assert!(matches!(s.discretize(&w[..10]), Err(SpaceError::Weights(m)) if m.contains("got 10")));
    let mut nan = w.clone();
    nan[8 * 3 + 2] = f64::NAN;
    assert!(
        matches!(s.discretize(&nan), Err(SpaceError::Weights(m)) if m.contains("edge 3, op avg_pool_3x3"))
    );
}

#[test]
fn sizes_and_shapes_match_hand_counts() {
    // Per cell: input pairs 1 * 3 * 6 * 10 = 180, seven ops on each of 8 entries.
    let per_cell: u128 = 180 * 7u128.pow(8);
    assert_eq!(per_cell, 1_037_664_180);
    assert_eq!(DartsSpace::default().size(), per_cell * per_cell);
    assert!(DartsSpace::default().size() > 1_000_000_000_000_000_000);
    assert_eq!(DartsSpace::new(DartsOpSet::S2).size(), (180u128 * 256).pow(2));
    assert_eq!(DartsSpace::default().relaxation_shape(), (28, 8));
    assert_eq!(DartsSpace::new(DartsOpSet::S3).relaxation_shape(), (28, 3));
    assert_eq!(DartsSpace::default().name(), "darts");
    assert_eq!(DartsSpace::new(DartsOpSet::S2).op_names(), ["skip_connect", "sep_conv_3x3"]);
    assert!(DartsSpace::default().enumerate().is_none());
    assert_eq!(darts_edge_index(3, 4), 13);
}

#[test]
fn depth_and_counts_of_published_cells() {
    // DARTS V2 normal: node 3 (state 5) reads node 0 (state 2): depth 2; two skips.
    let v2 = preset("darts-v2").unwrap();
    assert_eq!((v2.depth(), v2.skip_connections(), v2.nones(), v2.edges()), (2, 2, 0, 8));
    // PDARTS normal: state 4 <- state 3 <- inputs, state 5 <- state 4: depth 3.
    let pd = preset("pdarts").unwrap();
    assert_eq!((pd.depth(), pd.skip_connections()), (3, 2));
    assert_eq!(preset("darts-v1").unwrap().skip_connections(), 3);
    assert_eq!(v2.reduce.count(DartsOp::MaxPool3x3), 5);
    // A cell whose only chain is a `none` op does not count it.
    let c = DartsCell::new(vec![
        (DartsOp::SepConv3x3, 0),
        (DartsOp::SepConv3x3, 1),
        (DartsOp::None, 2),
        (DartsOp::SkipConnect, 0),
    ])
    .unwrap();
    assert_eq!(c.longest_path(), 1);
    assert!(DartsCell::new(vec![(DartsOp::SepConv3x3, 2), (DartsOp::SepConv3x3, 1)]).is_err());
}

#[test]
fn sampling_and_neighbours_stay_in_the_space() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    for set in DartsOpSet::ALL {
        let s = DartsSpace::new(set);
        let allowed = set.cell_ops();
        for _ in 0..50 {
            let g = s.sample(&mut rng);
            assert!(g.ops().all(|o| allowed.contains(&o)), "{g}");
            for cell in [&g.normal, &g.reduce] {
                for i in 0..4 {
                    let [(_, a), (_, b)] = cell.node(i);
                    assert!(a < b && b < i + 2, "{g}");
                }
            }
            assert_eq!(g.to_string().parse::<DartsGenotype>().unwrap(), g);
            let n = s.neighbours(&g);
            // Per cell: each of 8 entries takes the set's other ops, and node i's two entries
            // can each move to the i states the node does not read.
            let per_cell = 8 * (allowed.len() - 1) + 2 * (1 + 2 + 3);
            assert_eq!(n.len(), 2 * per_cell, "{set}");
            assert!(!n.contains(&g));
            let m = s.mutate(&g, &mut rng);
            assert!(n.contains(&m));
        }
    }
    // One seed, one genotype.
    let a = DartsSpace::default().sample(&mut ChaCha8Rng::seed_from_u64(3));
    let b = DartsSpace::default().sample(&mut ChaCha8Rng::seed_from_u64(3));
    assert_eq!(a, b);
}

#[test]
fn fair_paths_share_a_topology_and_use_every_op_once_per_entry() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    for set in DartsOpSet::ALL {
        let s = DartsSpace::new(set);
        let mut ops = set.cell_ops();
        ops.sort();
        let mut topologies = std::collections::HashSet::new();
        for _ in 0..30 {
            let paths = s.fair_paths(&mut rng);
            assert_eq!(paths.len(), ops.len(), "{set}: one path per op other than none");
            for cell in 0..2 {
                let cells: Vec<&DartsCell> =
                    paths.iter().map(|p| if cell == 0 { &p.normal } else { &p.reduce }).collect();
                let inputs: Vec<usize> = cells[0].edges.iter().map(|e| e.1).collect();
                for c in &cells {
                    assert_eq!(c.edges.iter().map(|e| e.1).collect::<Vec<_>>(), inputs);
                }
                for k in 0..8 {
                    let mut seen: Vec<DartsOp> = cells.iter().map(|c| c.edges[k].0).collect();
                    seen.sort();
                    assert_eq!(seen, ops, "{set}: entry {k} of cell {cell}");
                }
                topologies.insert(inputs);
            }
        }
        // The topology is drawn afresh each step (60 cells drawn from 180 topologies).
        assert!(topologies.len() > 10, "{set}: {} topologies", topologies.len());
    }
}

proptest! {
    #[test]
    fn arbitrary_text_never_panics(s in ".{0,300}") {
        let _ = s.parse::<DartsGenotype>();
    }

    #[test]
    fn mangled_genotypes_never_panic(cut in 0usize..400, byte in 0u8..128, at in 0usize..400) {
        let mut b = V2.as_bytes().to_vec();
        let at = at % b.len();
        b[at] = byte;
        let s = String::from_utf8_lossy(&b[..cut.min(b.len())]).into_owned();
        if let Ok(g) = s.parse::<DartsGenotype>() {
            prop_assert_eq!(g.to_string().parse::<DartsGenotype>().unwrap(), g);
        }
    }
}
