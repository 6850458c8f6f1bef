//! The three NAS-Bench-1shot1 search spaces (Zela et al., ICLR 2020): sub-spaces of
//! NAS-Bench-101 in which each intermediate node and the output choose a fixed number of parents
//! among earlier nodes, and each intermediate node one of NAS-Bench-101's three ops. Every cell
//! converts to a NAS-Bench-101 cell, so the benchmark's tables give its ground truth.

use serde::{Deserialize, Serialize};

use crate::nb101::{Nb101Op, Nb101Spec};

/// One of the three spaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum OneShot1Space {
    /// Space 1: 4 intermediate nodes with 1, 2, 2, 2 parents, output with 2.
    S1,
    /// Space 2: 4 intermediate nodes with 1, 1, 2, 2 parents, output with 3.
    S2,
    /// Space 3: 5 intermediate nodes with 1, 1, 1, 2, 2 parents, output with 2.
    S3,
}

/// A cell of a NAS-Bench-1shot1 space: each node's parents (node `i + 1`'s at `parents[i]`,
/// the output's last; node 0 is the input) and each intermediate node's op.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct OneShot1Cell {
    /// The space.
    pub space: OneShot1Space,
    /// Parents of nodes `1..=output`, ascending.
    pub parents: Vec<Vec<usize>>,
    /// Ops of the intermediate nodes `1..output`.
    pub ops: Vec<Nb101Op>,
}

/// How many cells a space has, counted the ways the literature counts them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct OneShot1Counts {
    /// Parent choices (graphs, loose ends included).
    pub graphs: usize,
    /// Graphs times the op choices of the intermediate nodes that have a child (ops of nodes
    /// without one change nothing): the count Zela et al. give for spaces 1 and 3.
    pub cells: usize,
    /// Graphs times the op choices of every intermediate node: the count they give for space 2.
    pub cells_all_ops: usize,
    /// Distinct NAS-Bench-101 cells among them (by the benchmark's graph hash, after pruning).
    pub unique: usize,
}

impl OneShot1Space {
    /// The three spaces.
    pub const ALL: [OneShot1Space; 3] = [OneShot1Space::S1, OneShot1Space::S2, OneShot1Space::S3];

    /// Parents of nodes `1..=output` (the output last).
    pub const fn parents_per_node(self) -> &'static [usize] {
        match self {
            OneShot1Space::S1 => &[1, 2, 2, 2, 2],
            OneShot1Space::S2 => &[1, 1, 2, 2, 3],
            OneShot1Space::S3 => &[1, 1, 1, 2, 2, 2],
        }
    }

    /// Intermediate nodes.
    pub const fn intermediate_nodes(self) -> usize {
        self.parents_per_node().len() - 1
    }

    /// Every choice of parents, node by node in lexicographic order of the parent sets.
    pub fn graphs(self) -> Vec<Vec<Vec<usize>>> {
        let mut out = vec![Vec::new()];
        for (i, &k) in self.parents_per_node().iter().enumerate() {
            let node = i + 1;
            let choices = combinations(node, k);
            out = out
                .into_iter()
                .flat_map(|g: Vec<Vec<usize>>| {
                    choices.iter().map(move |c| {
                        let mut g = g.clone();
                        g.push(c.clone());
                        g
                    })
                })
                .collect();
        }
        out
    }

    /// The counts of the space (enumerates it: about a second for space 3).
    pub fn counts(self) -> OneShot1Counts {
        let n = self.intermediate_nodes();
        let graphs = self.graphs();
        let mut cells = 0;
        let mut unique = std::collections::HashSet::new();
        for parents in &graphs {
            let has_child =
                |v: usize| parents.iter().enumerate().any(|(i, p)| i + 1 > v && p.contains(&v));
            cells += 3usize.pow((1..=n).filter(|&v| has_child(v)).count() as u32);
            // Ops of nodes the pruned cell drops cannot change its hash: vary only the others.
            let probe = OneShot1Cell {
                space: self,
                parents: parents.clone(),
                ops: vec![Nb101Op::Conv3x3; n],
            };
            let Some(pruned) = probe.to_nb101().pruned() else { continue };
            let live: Vec<usize> =
                (1..=n).filter(|&v| probe.reaches_output_from_input(v)).collect();
            debug_assert_eq!(live.len(), pruned.vertices() - 2);
            for code in 0..3usize.pow(live.len() as u32) {
                let mut ops = vec![Nb101Op::Conv3x3; n];
                let mut c = code;
                for &v in &live {
                    ops[v - 1] = Nb101Op::ALL[c % 3];
                    c /= 3;
                }
                let cell = OneShot1Cell { space: self, parents: parents.clone(), ops };
                if let Some(h) = cell.to_nb101().hash() {
                    unique.insert(h);
                }
            }
        }
        OneShot1Counts {
            graphs: graphs.len(),
            cells,
            cells_all_ops: graphs.len() * 3usize.pow(n as u32),
            unique: unique.len(),
        }
    }
}

impl OneShot1Cell {
    /// The NAS-Bench-101 cell: 7 vertices, input 0 and output 6; spaces 1 and 2 (4
    /// intermediate nodes) get an unconnected conv1x1 vertex at 5, as the benchmark code pads
    /// them, which pruning removes.
    pub fn to_nb101(&self) -> Nb101Spec {
        let n = self.space.intermediate_nodes();
        let out = n + 1;
        let index = |v: usize| if v == out { 6 } else { v };
        let mut matrix = vec![vec![0u8; 7]; 7];
        for (i, ps) in self.parents.iter().enumerate() {
            for &p in ps {
                matrix[index(p)][index(i + 1)] = 1;
            }
        }
        let mut ops = self.ops.clone();
        ops.resize(5, Nb101Op::Conv1x1);
        Nb101Spec::new(&matrix, &ops).expect("parents precede their children")
    }

    /// Whether node `v` lies on a path from the input to the output.
    fn reaches_output_from_input(&self, v: usize) -> bool {
        let out = self.parents.len();
        let mut from_input = vec![false; out + 1];
        from_input[0] = true;
        for node in 1..=out {
            from_input[node] = self.parents[node - 1].iter().any(|&p| from_input[p]);
        }
        let mut to_output = vec![false; out + 1];
        to_output[out] = true;
        for node in (0..out).rev() {
            to_output[node] =
                (node + 1..=out).any(|c| to_output[c] && self.parents[c - 1].contains(&node));
        }
        from_input[v] && to_output[v]
    }
}

/// The `k`-subsets of `0..n`, each ascending, in lexicographic order.
fn combinations(n: usize, k: usize) -> Vec<Vec<usize>> {
    if k == 0 {
        return vec![Vec::new()];
    }
    if k > n {
        return Vec::new();
    }
    let mut out = Vec::new();
    for first in 0..n {
        for mut rest in combinations(n - first - 1, k - 1) {
            rest.iter_mut().for_each(|r| *r += first + 1);
            let mut c = vec![first];
            c.extend(rest);
            out.push(c);
        }
    }
    out
}
