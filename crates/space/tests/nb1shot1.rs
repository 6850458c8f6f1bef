//! The NAS-Bench-1shot1 spaces as search spaces: cell strings, sizes, the relaxation's layout
//! and discretisation (hand-computed cases), neighbours, FairNAS paths and cell depth.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use sotl_space::nb101::Nb101Op::{Conv1x1 as C1, Conv3x3 as C3, MaxPool3x3 as MP};
use sotl_space::{CellShape, OneShot1Cell, OneShot1Space, SearchSpace, SpaceError};

fn cell(
    space: OneShot1Space,
    parents: &[&[usize]],
    ops: &[sotl_space::nb101::Nb101Op],
) -> OneShot1Cell {
    OneShot1Cell { space, parents: parents.iter().map(|p| p.to_vec()).collect(), ops: ops.to_vec() }
}

#[test]
fn cell_strings_round_trip_and_read_as_documented() {
    let c = cell(OneShot1Space::S1, &[&[0], &[0, 1], &[1, 2], &[0, 3], &[2, 4]], &[C3, MP, C1, C3]);
    let s = "nb1shot1-s1|conv3x3-bn-relu~0|maxpool3x3~0~1|conv1x1-bn-relu~1~2|conv3x3-bn-relu~0~3|output~2~4|";
    assert_eq!(c.to_string(), s);
    assert_eq!(s.parse::<OneShot1Cell>().unwrap(), c);
    let json = serde_json::to_string(&c).unwrap();
    assert_eq!(json, format!("\"{s}\""));
    assert_eq!(serde_json::from_str::<OneShot1Cell>(&json).unwrap(), c);
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    for space in OneShot1Space::ALL {
        for _ in 0..200 {
            let g = space.sample(&mut rng);
            g.validate().unwrap();
            assert_eq!(g.to_string().parse::<OneShot1Cell>().unwrap(), g);
        }
    }
}

#[test]
fn malformed_cell_strings_are_refused_with_the_reason() {
    let cases = [
        ("nb1shot1-s4|output~0|", "space"),
        // Space 1's node 3 takes two parents.
        ("nb1shot1-s1|conv3x3-bn-relu~0|maxpool3x3~0~1|conv1x1-bn-relu~1|conv3x3-bn-relu~0~3|output~2~4|", "node 3 has 1 parents"),
        ("nb1shot1-s1|conv3x3-bn-relu~0|maxpool3x3~0~1|conv1x1-bn-relu~2~1|conv3x3-bn-relu~0~3|output~2~4|", "ascending"),
        ("nb1shot1-s1|conv3x3-bn-relu~0|maxpool3x3~0~1|conv1x1-bn-relu~1~3|conv3x3-bn-relu~0~3|output~2~4|", "earlier nodes"),
        ("nb1shot1-s1|conv5x5~0|maxpool3x3~0~1|conv1x1-bn-relu~1~2|conv3x3-bn-relu~0~3|output~2~4|", "unknown op"),
        ("nb1shot1-s1|conv3x3-bn-relu~0|maxpool3x3~0~1|conv1x1-bn-relu~1~2|output~2~4|", "groups"),
        ("nb1shot1-s1|conv3x3-bn-relu~0|maxpool3x3~0~01|conv1x1-bn-relu~1~2|conv3x3-bn-relu~0~3|output~2~4|", "not a node number"),
        ("nb1shot1-s1|conv3x3-bn-relu~0|maxpool3x3~0~1|conv1x1-bn-relu~1~2|conv3x3-bn-relu~0~3|output~2~4", "end with"),
    ];
    for (s, want) in cases {
        let e = s.parse::<OneShot1Cell>().unwrap_err();
        assert!(matches!(e, SpaceError::OneShot1 { .. }), "{s}: {e:?}");
        assert!(e.to_string().contains(want), "{s}: {e}");
    }
}

#[test]
fn sizes_count_every_parent_choice_times_every_op() {
    // Graphs: space 1 1*1*3*6*10 = 180, space 2 1*2*3*6*10 = 360, space 3 1*2*3*6*10*15 = 5400;
    // times 3^4, 3^4 and 3^5 op choices.
    assert_eq!(OneShot1Space::S1.size(), 14_580);
    assert_eq!(OneShot1Space::S2.size(), 29_160);
    assert_eq!(OneShot1Space::S3.size(), 1_312_200);
    for space in [OneShot1Space::S1, OneShot1Space::S2] {
        let all: Vec<_> = space.enumerate().unwrap().collect();
        assert_eq!(all.len() as u128, space.size());
        let unique: std::collections::HashSet<_> = all.iter().map(|c| c.to_string()).collect();
        assert_eq!(unique.len(), all.len());
    }
}

#[test]
fn the_relaxation_packs_the_reference_alphas_with_a_mask() {
    // Space 1: 4 op rows and parent rows for nodes 2..=5, 5 columns.
    let s1 = OneShot1Space::S1;
    assert_eq!(s1.relaxation_shape(), (8, 5));
    let m = s1.relaxation_mask().unwrap();
    let rows: Vec<Vec<bool>> = m.chunks(5).map(<[bool]>::to_vec).collect();
    let t = true;
    let f = false;
    assert_eq!(rows[0], [t, t, t, f, f]);
    assert_eq!(rows[3], [t, t, t, f, f]);
    assert_eq!(rows[4], [t, t, f, f, f]); // node 2: parents 0, 1
    assert_eq!(rows[5], [t, t, t, f, f]); // node 3
    assert_eq!(rows[7], [t, t, t, t, t]); // the output: input and nodes 1..=4
                                          // The reference's architecture parameters: 4x3 + 5 (output) + 3 + 4 (nodes 3, 4) = 24,
                                          // plus space 1's node 2 (2 entries, never weighted).
    assert_eq!(m.iter().filter(|&&b| b).count(), 24 + 2);
    let s3 = OneShot1Space::S3;
    assert_eq!(s3.relaxation_shape(), (10, 6));
    // 5x3 + 6 + (2 + 3 + 4 + 5) = 35.
    assert_eq!(s3.relaxation_mask().unwrap().iter().filter(|&&b| b).count(), 35);
    assert!(!s1.chooses_parents(2) && OneShot1Space::S2.chooses_parents(2));
}

#[test]
fn discretize_takes_the_argmax_op_and_the_top_parents() {
    let s2 = OneShot1Space::S2;
    let (rows, cols) = s2.relaxation_shape();
    let mut w = vec![0.0f64; rows * cols];
    let mut set = |r: usize, vals: &[f64]| w[r * cols..][..vals.len()].copy_from_slice(vals);
    // Ops (columns maxpool, conv3x3, conv1x1).
    set(0, &[0.1, 0.5, 0.4]); // conv3x3
    set(1, &[0.6, 0.2, 0.2]); // maxpool
    set(2, &[0.2, 0.2, 0.6]); // conv1x1
    set(3, &[0.3, 0.3, 0.3]); // tie: the first column, maxpool
                              // Parents: node 2 picks 1 of {0, 1}; node 3 2 of {0, 1, 2}; node 4 2 of 4; output 3 of 5.
    set(4, &[0.2, 0.8]);
    set(5, &[0.5, 0.1, 0.4]);
    set(6, &[0.1, 0.3, 0.3, 0.3]); // tie among 1, 2, 3: the lower nodes 1 and 2
    set(7, &[0.9, 0.0, 0.5, 0.2, 0.6]);
    let g = s2.discretize(&w).unwrap();
    assert_eq!(g.ops, [C3, MP, C1, MP]);
    assert_eq!(g.parents, [vec![0], vec![1], vec![0, 2], vec![1, 2], vec![0, 2, 4]]);
    // Padded entries never count, whatever they hold.
    let mut padded = w.clone();
    padded[4 * cols + 4] = 100.0;
    assert_eq!(s2.discretize(&padded).unwrap(), g);
    assert!(s2.discretize(&w[1..]).is_err());
}

#[test]
fn neighbours_change_one_op_or_move_one_parent() {
    let c = cell(OneShot1Space::S1, &[&[0], &[0, 1], &[1, 2], &[0, 3], &[2, 4]], &[C3, MP, C1, C3]);
    let n = OneShot1Space::S1.neighbours(&c);
    // Ops: 4 nodes x 2 others = 8. Parents: node 3 {1,2} -> each may move to 0: 2;
    // node 4 {0,3} -> each to 1 or 2: 4; output {2,4} -> each to 0, 1 or 3: 6. Total 20.
    assert_eq!(n.len(), 20);
    let unique: std::collections::HashSet<_> = n.iter().collect();
    assert_eq!(unique.len(), n.len());
    for m in &n {
        assert_ne!(m, &c);
        m.validate().unwrap();
    }
}

#[test]
fn fair_paths_share_a_topology_and_use_each_op_once_per_node() {
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    for space in OneShot1Space::ALL {
        let paths = space.fair_paths(&mut rng);
        assert_eq!(paths.len(), 3);
        for i in 0..space.intermediate_nodes() {
            let mut ops: Vec<_> = paths.iter().map(|p| p.ops[i]).collect();
            ops.sort();
            assert_eq!(ops, [C3, C1, MP]);
        }
        assert!(paths.iter().all(|p| p.parents == paths[0].parents));
    }
}

#[test]
fn depth_is_the_longest_input_output_path() {
    // 0 -> 1 -> 2 -> 3 -> 4 -> output: 5 edges.
    let chain = cell(OneShot1Space::S1, &[&[0], &[0, 1], &[1, 2], &[0, 3], &[3, 4]], &[C3; 4]);
    assert_eq!(chain.depth(), 5);
    // Every node reads the input and the output reads nodes 0, 1, 2, each at most two edges from
    // the input (0 -> 1 -> output, 0 -> 2 -> output): depth 2.
    let shallow = cell(OneShot1Space::S2, &[&[0], &[0], &[0, 1], &[0, 1], &[0, 1, 2]], &[C3; 4]);
    assert_eq!(shallow.depth(), 2);
    assert_eq!(shallow.edges(), 9);
    assert_eq!(shallow.skip_connections() + shallow.nones(), 0);
}
