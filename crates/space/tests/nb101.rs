//! NAS-Bench-101 cells and the NAS-Bench-1shot1 spaces, against published facts:
//!
//! - hashes of the NAS-Bench-101 README's Inception-like cell (`28cfc787...`, the value
//!   google-research/unified_functional_hashing's `evaluator_test.py` uses for it) and of the
//!   isomorphic form the benchmark's own colab (`NASBench.ipynb`) prints for the same cell;
//! - the equal and unequal hash cases of google-research/nasbench `graph_util_test.py` and the
//!   pruning cases of `model_spec_test.py` (commit b94247037ee470418a3e56dcb83814e9be83f3a8);
//! - Zela et al.'s space sizes (6 240, 29 160 and 363 648) and the counts the reference code
//!   (automl/nasbench-1shot1 cb0f0ec) gives when run unmodified.

use sotl_space::nb101::{Nb101Op, Nb101Spec};
use sotl_space::nb1shot1::{OneShot1Cell, OneShot1Space};

use Nb101Op::{Conv1x1 as C1, Conv3x3 as C3, MaxPool3x3 as MP};

fn spec(m: &[&[u8]], ops: &[Nb101Op]) -> Nb101Spec {
    Nb101Spec::new(&m.iter().map(|r| r.to_vec()).collect::<Vec<_>>(), ops).unwrap()
}

#[test]
fn hashes_match_the_published_ones() {
    let readme = spec(
        &[
            &[0, 1, 1, 1, 0, 1, 0],
            &[0, 0, 0, 0, 0, 0, 1],
            &[0, 0, 0, 0, 0, 0, 1],
            &[0, 0, 0, 0, 1, 0, 0],
            &[0, 0, 0, 0, 0, 0, 1],
            &[0, 0, 0, 0, 0, 0, 1],
            &[0, 0, 0, 0, 0, 0, 0],
        ],
        &[C1, C3, C3, C3, MP],
    );
    assert_eq!(readme.hash().unwrap(), "28cfc7874f6d200472e1a9dcd8650aa0");
    let colab = spec(
        &[
            &[0, 1, 1, 1, 1, 0, 0],
            &[0, 0, 0, 0, 0, 0, 1],
            &[0, 0, 0, 0, 0, 0, 1],
            &[0, 0, 0, 0, 0, 0, 1],
            &[0, 0, 0, 0, 0, 1, 0],
            &[0, 0, 0, 0, 0, 0, 1],
            &[0, 0, 0, 0, 0, 0, 0],
        ],
        &[C3, C1, MP, C3, C3],
    );
    assert_eq!(colab.hash().unwrap(), "28cfc7874f6d200472e1a9dcd8650aa0");
    // Input straight to output, and input -> conv1x1 -> output.
    assert_eq!(spec(&[&[0, 1], &[0, 0]], &[]).hash().unwrap(), "043721b9c7fe8c5fad811d47d83132ec");
    let chain = spec(&[&[0, 1, 0], &[0, 0, 1], &[0, 0, 0]], &[C1]);
    assert_eq!(chain.hash().unwrap(), "d1269d9156ddc027c40473008192958a");
}

#[test]
fn isomorphic_cells_hash_alike_and_others_do_not() {
    // graph_util_test.py: a diamond is symmetric in its two branches.
    let diamond =
        |a, b| spec(&[&[0, 1, 1, 0], &[0, 0, 0, 1], &[0, 0, 0, 1], &[0, 0, 0, 0]], &[a, b]);
    assert_eq!(diamond(C1, MP).hash(), diamond(MP, C1).hash());
    assert_ne!(diamond(C1, MP).hash(), diamond(C1, C1).hash());
    // A chain is not symmetric: its ops' order matters.
    let chain = |a, b, c| {
        spec(
            &[&[0, 1, 0, 0, 0], &[0, 0, 1, 0, 0], &[0, 0, 0, 1, 0], &[0, 0, 0, 0, 1], &[0; 5]],
            &[a, b, c],
        )
    };
    assert_ne!(chain(C1, C3, C3).hash(), chain(C3, C3, C1).hash());
    // Relabelling the interior vertices of the README cell gives the same hash.
    let m: [[u8; 7]; 7] = [
        [0, 1, 1, 1, 0, 1, 0],
        [0, 0, 0, 0, 0, 0, 1],
        [0, 0, 0, 0, 0, 0, 1],
        [0, 0, 0, 0, 1, 0, 0],
        [0, 0, 0, 0, 0, 0, 1],
        [0, 0, 0, 0, 0, 0, 1],
        [0, 0, 0, 0, 0, 0, 0],
    ];
    let ops = [C1, C3, C3, C3, MP];
    // Interior order 2, 1, 5, 3, 4 keeps every edge pointing forward.
    let perm = [0, 2, 1, 5, 3, 4, 6];
    let pos = |v: usize| perm.iter().position(|&p| p == v).unwrap();
    let mut pm = vec![vec![0u8; 7]; 7];
    for i in 0..7 {
        for j in 0..7 {
            if m[i][j] == 1 {
                pm[pos(i)][pos(j)] = 1;
            }
        }
    }
    let pops: Vec<Nb101Op> = (1..6).map(|k| ops[perm[k] - 1]).collect();
    let relabelled = Nb101Spec::new(&pm, &pops).unwrap();
    assert_eq!(relabelled.hash().unwrap(), "28cfc7874f6d200472e1a9dcd8650aa0");
}

#[test]
fn pruning_removes_vertices_off_every_path() {
    // model_spec_test.py: vertex 2 has no way in from the input; it goes.
    let s = spec(&[&[0, 1, 0, 0], &[0, 0, 0, 1], &[0, 0, 0, 0], &[0, 0, 0, 0]], &[C1, MP]);
    let p = s.pruned().unwrap();
    assert_eq!(p.vertices(), 3);
    assert_eq!(p.ops, [C1]);
    assert_eq!(p.hash(), spec(&[&[0, 1, 0], &[0, 0, 1], &[0, 0, 0]], &[C1]).hash());
    // A dead end (vertex 1 reaches nothing) goes too; an unreachable output is no cell.
    let s = spec(&[&[0, 1, 1], &[0, 0, 0], &[0, 0, 0]], &[MP]);
    assert_eq!(s.pruned().unwrap().vertices(), 2);
    let s = spec(&[&[0, 1, 0], &[0, 0, 0], &[0, 0, 0]], &[MP]);
    assert!(s.pruned().is_none() && s.hash().is_none() && !s.is_valid());
    // More than 9 edges after pruning: not in the benchmark.
    let full: Vec<Vec<u8>> = (0..7).map(|i| (0..7).map(|j| u8::from(j > i)).collect()).collect();
    let dense = Nb101Spec::new(&full, &[C3; 5]).unwrap();
    assert_eq!(dense.edges(), 21);
    assert!(!dense.is_valid());
}

#[test]
fn malformed_cells_are_refused_with_the_reason() {
    let e = Nb101Spec::new(&[vec![0, 1], vec![1, 0]], &[]).unwrap_err().to_string();
    assert!(e.contains("strictly upper triangular"), "{e}");
    let e = Nb101Spec::new(&[vec![0, 1], vec![0]], &[]).unwrap_err().to_string();
    assert!(e.contains("row 1"), "{e}");
    let e = Nb101Spec::new(&[vec![0, 2], vec![0, 0]], &[]).unwrap_err().to_string();
    assert!(e.contains("not 0 or 1"), "{e}");
    let e = Nb101Spec::new(&[vec![0, 1], vec![0, 0]], &[C1]).unwrap_err().to_string();
    assert!(e.contains("1 ops for 0 interior"), "{e}");
    assert!("conv5x5".parse::<Nb101Op>().is_err());
    assert_eq!("maxpool3x3".parse::<Nb101Op>().unwrap(), MP);
}

#[test]
fn the_spaces_have_the_published_sizes() {
    // Graphs: prod over nodes of C(node, parents). Space 1: 1 * 1 * C(3,2) * C(4,2) * C(5,2) =
    // 180; space 2: 1 * 2 * 3 * 6 * C(5,3) = 360; space 3: 1 * 2 * 3 * 6 * 10 * C(6,2) = 5 400.
    let expect = [
        // (graphs, Zela et al.'s cells, cells with ops on every node, unique NB101 hashes)
        (OneShot1Space::S1, 180, 6_240, 180 * 81, 2_685),
        (OneShot1Space::S2, 360, 16_632, 29_160, 7_773),
        (OneShot1Space::S3, 5_400, 363_648, 5_400 * 243, 55_854),
    ];
    for (space, graphs, cells, all_ops, unique) in expect {
        let c = space.counts();
        assert_eq!(c.graphs, graphs, "{space:?}");
        assert_eq!(c.cells, cells, "{space:?}");
        assert_eq!(c.cells_all_ops, all_ops, "{space:?}");
        assert_eq!(c.unique, unique, "{space:?}");
    }
}

#[test]
fn cells_convert_to_padded_nb101_cells() {
    // Space 1's first graph: node 1 <- 0, node 2 <- 0,1, node 3 <- 0,1, node 4 <- 0,1,
    // output <- 0,1: nodes 2, 3, 4 are dead ends, so the cell is input -> node 1 -> output
    // plus input -> output.
    let g = OneShot1Space::S1.graphs()[0].clone();
    assert_eq!(g, [vec![0], vec![0, 1], vec![0, 1], vec![0, 1], vec![0, 1]]);
    let cell = OneShot1Cell { space: OneShot1Space::S1, parents: g, ops: vec![MP, C1, C1, C1] };
    let s = cell.to_nb101();
    assert_eq!(s.vertices(), 7);
    assert!(s.matrix[0][6] && s.matrix[1][6] && !s.matrix[5].iter().any(|&e| e));
    let p = s.pruned().unwrap();
    assert_eq!((p.vertices(), p.ops.clone()), (3, vec![MP]));
    let direct = spec(&[&[0, 1, 1], &[0, 0, 1], &[0, 0, 0]], &[MP]);
    assert_eq!(s.hash(), direct.hash());
}
