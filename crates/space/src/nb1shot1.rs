//! The three NAS-Bench-1shot1 search spaces (Zela et al., ICLR 2020): sub-spaces of
//! NAS-Bench-101 in which each intermediate node and the output choose a fixed number of parents
//! among earlier nodes, and each intermediate node one of NAS-Bench-101's three ops. Every cell
//! converts to a NAS-Bench-101 cell, so the benchmark's tables give its ground truth.
//!
//! # Cell strings
//! `nb1shot1-s1|conv3x3-bn-relu~0|maxpool3x3~0~1|conv1x1-bn-relu~1~2|conv3x3-bn-relu~0~3|output~3~4|`:
//! the space, then one group per intermediate node (its op, then `~parent` for each parent,
//! ascending; node 0 is the cell input) and last the output's parents.
//!
//! # Relaxation
//! The architecture parameters of the reference one-shot model (automl/nasbench-1shot1
//! `model_search.Network`), packed into one matrix of `2n` rows (`n` intermediate nodes) and
//! `max(3, n + 1)` columns, each row softmaxed over its valid entries only
//! ([`SearchSpace::relaxation_mask`]):
//! - rows `0..n`: node `v = row + 1`'s op weights (`alphas_mixed_op`), columns
//!   [`ONESHOT1_OPS`] (the reference's `PRIMITIVES` order);
//! - rows `n..2n`: the parent weights of node `v = row - n + 2` (`alphas_inputs`, and for the
//!   output `alphas_output`), column `j` for parent node `j` (`0..v` valid).
//!
//! Node 1 always reads the input and has no row; a node whose every candidate is a parent
//! (space 1's node 2) keeps its row, which then carries no weight, as the reference sums such
//! inputs unweighted.

use std::fmt;
use std::str::FromStr;

use rand::seq::index::sample as sample_indices;
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::nb101::{Nb101Op, Nb101Spec};
use crate::search_space::check_relaxation;
use crate::{CellShape, Genotype, Result, SearchSpace, SpaceError};

/// The relaxation's op columns, in the reference one-shot model's `PRIMITIVES` order.
pub const ONESHOT1_OPS: [Nb101Op; 3] = [Nb101Op::MaxPool3x3, Nb101Op::Conv3x3, Nb101Op::Conv1x1];

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
/// the output's last; node 0 is the input) and each intermediate node's op. Its string form is
/// described in the module docs; serde goes through it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
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
            let on_path = probe.live_nodes();
            let live: Vec<usize> = (1..=n).filter(|&v| on_path[v]).collect();
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

    /// Per node (`0..=output`), whether it lies on a path from the input to the output: the
    /// intermediate nodes whose op can change the output (a single-path forward runs only these).
    pub fn live_nodes(&self) -> Vec<bool> {
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
        from_input.iter().zip(&to_output).map(|(a, b)| *a && *b).collect()
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

impl OneShot1Space {
    /// The space's name: `nb1shot1-s1`, `-s2` or `-s3`.
    pub const fn name(self) -> &'static str {
        match self {
            OneShot1Space::S1 => "nb1shot1-s1",
            OneShot1Space::S2 => "nb1shot1-s2",
            OneShot1Space::S3 => "nb1shot1-s3",
        }
    }

    /// Node `v`'s number of parents (`1..=output`).
    pub fn parents_of(self, v: usize) -> usize {
        self.parents_per_node()[v - 1]
    }

    /// Whether node `v` chooses its parents (some candidate is left out); node 1 and space 1's
    /// node 2 take every earlier node and do not.
    pub fn chooses_parents(self, v: usize) -> bool {
        self.parents_of(v) < v
    }

    /// The relaxation row of node `v`'s op weights (`1..output`).
    pub fn op_row(self, v: usize) -> usize {
        v - 1
    }

    /// The relaxation row of node `v`'s parent weights (`2..=output`).
    pub fn parent_row(self, v: usize) -> usize {
        self.intermediate_nodes() + v - 2
    }

    /// Every cell, graphs in [`OneShot1Space::graphs`] order, each with every op choice.
    pub fn cells(self) -> impl Iterator<Item = OneShot1Cell> {
        let n = self.intermediate_nodes();
        self.graphs().into_iter().flat_map(move |parents| {
            (0..3usize.pow(n as u32)).map(move |code| {
                let mut c = code;
                let ops = (0..n)
                    .map(|_| {
                        let op = ONESHOT1_OPS[c % 3];
                        c /= 3;
                        op
                    })
                    .collect();
                OneShot1Cell { space: self, parents: parents.clone(), ops }
            })
        })
    }
}

impl fmt::Display for OneShot1Space {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for OneShot1Space {
    type Err = SpaceError;

    fn from_str(s: &str) -> Result<Self> {
        OneShot1Space::ALL.into_iter().find(|o| o.name() == s).ok_or_else(|| SpaceError::Unknown {
            what: "NAS-Bench-1shot1 space",
            name: s.to_string(),
            expected: "nb1shot1-s1, nb1shot1-s2, nb1shot1-s3".into(),
        })
    }
}

/// Column names of the relaxation: op columns double as parent columns (see the module docs).
const COLUMNS_4: [&str; 5] =
    ["maxpool3x3|p0", "conv3x3-bn-relu|p1", "conv1x1-bn-relu|p2", "p3", "p4"];
const COLUMNS_5: [&str; 6] =
    ["maxpool3x3|p0", "conv3x3-bn-relu|p1", "conv1x1-bn-relu|p2", "p3", "p4", "p5"];

impl SearchSpace for OneShot1Space {
    type Genotype = OneShot1Cell;

    fn name(&self) -> &'static str {
        OneShot1Space::name(*self)
    }

    fn op_names(&self) -> &'static [&'static str] {
        match self {
            OneShot1Space::S3 => &COLUMNS_5,
            _ => &COLUMNS_4,
        }
    }

    fn relaxation_shape(&self) -> (usize, usize) {
        let n = self.intermediate_nodes();
        (2 * n, (n + 1).max(3))
    }

    fn holds(&self, g: &OneShot1Cell) -> bool {
        g.space == *self && g.validate().is_ok()
    }

    fn relaxation_mask(&self) -> Option<Vec<bool>> {
        let n = self.intermediate_nodes();
        let (rows, cols) = self.relaxation_shape();
        let mut mask = vec![false; rows * cols];
        for v in 1..=n {
            mask[self.op_row(v) * cols..][..3].fill(true);
        }
        for v in 2..=n + 1 {
            mask[self.parent_row(v) * cols..][..v].fill(true);
        }
        Some(mask)
    }

    /// Parent choices times an op for every intermediate node (loose ends included, as the
    /// reference samples them): 14 580, 29 160 and 1 312 200.
    fn size(&self) -> u128 {
        let graphs: u128 = (1..=self.intermediate_nodes() + 1)
            .map(|v| binomial(v, self.parents_of(v)) as u128)
            .product();
        graphs * 3u128.pow(self.intermediate_nodes() as u32)
    }

    fn enumerate(&self) -> Option<Box<dyn Iterator<Item = OneShot1Cell> + '_>> {
        Some(Box::new(self.cells()))
    }

    /// The reference's `sample`: node 1 reads the input, each later node (and the output) a
    /// uniform choice of its number of parents among the earlier nodes, each intermediate node
    /// a uniform op.
    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> OneShot1Cell {
        let n = self.intermediate_nodes();
        let parents = (1..=n + 1)
            .map(|v| {
                let mut p = sample_indices(rng, v, self.parents_of(v)).into_vec();
                p.sort_unstable();
                p
            })
            .collect();
        let ops = (0..n).map(|_| ONESHOT1_OPS[rng.gen_range(0..3)]).collect();
        OneShot1Cell { space: *self, parents, ops }
    }

    fn mutate<R: Rng + ?Sized>(&self, g: &OneShot1Cell, rng: &mut R) -> OneShot1Cell {
        let mut n = self.neighbours(g);
        n.swap_remove(rng.gen_range(0..n.len()))
    }

    /// One node's op changed, or one of a node's parents moved to an earlier node it does not
    /// already read.
    fn neighbours(&self, g: &OneShot1Cell) -> Vec<OneShot1Cell> {
        let mut out = Vec::new();
        for (i, &op) in g.ops.iter().enumerate() {
            for o in ONESHOT1_OPS {
                if o != op {
                    let mut c = g.clone();
                    c.ops[i] = o;
                    out.push(c);
                }
            }
        }
        for (i, ps) in g.parents.iter().enumerate() {
            let v = i + 1;
            for k in 0..ps.len() {
                for q in (0..v).filter(|q| !ps.contains(q)) {
                    let mut c = g.clone();
                    c.parents[i][k] = q;
                    c.parents[i].sort_unstable();
                    out.push(c);
                }
            }
        }
        out
    }

    /// Per intermediate node the op of largest weight (ties to the earlier column), per node
    /// with a choice its parents of largest weight (ties to the lower node), as the reference's
    /// `eval_one_shot_model` reads a search's alphas.
    fn discretize(&self, weights: &[f64]) -> Result<OneShot1Cell> {
        check_relaxation(
            self,
            weights,
            "op rows of the intermediate nodes, then parent rows of nodes 2..=output",
        )?;
        let n = self.intermediate_nodes();
        let cols = self.relaxation_shape().1;
        let row = |r: usize| &weights[r * cols..][..cols];
        let ops = (1..=n)
            .map(|v| {
                let w = row(self.op_row(v));
                let best = (0..3).fold(0, |b, k| if w[k] > w[b] { k } else { b });
                ONESHOT1_OPS[best]
            })
            .collect();
        let parents = (1..=n + 1)
            .map(|v| {
                if v == 1 {
                    return vec![0];
                }
                let w = row(self.parent_row(v));
                let mut order: Vec<usize> = (0..v).collect();
                order.sort_by(|&a, &b| w[b].total_cmp(&w[a]).then(a.cmp(&b)));
                let mut p = order[..self.parents_of(v)].to_vec();
                p.sort_unstable();
                p
            })
            .collect();
        Ok(OneShot1Cell { space: *self, parents, ops })
    }

    /// FairNAS on a per-node op encoding: one topology drawn as [`SearchSpace::sample`] draws
    /// it, shared by three paths, each node permuting the three ops, so every op trains exactly
    /// once on every node each step and each path is marginally uniform.
    fn fair_paths<R: Rng + ?Sized>(&self, rng: &mut R) -> Vec<OneShot1Cell> {
        use rand::seq::SliceRandom;
        let topology = self.sample(rng);
        let mut paths = vec![topology; 3];
        for i in 0..self.intermediate_nodes() {
            let mut perm = ONESHOT1_OPS;
            perm.shuffle(rng);
            for (p, op) in paths.iter_mut().zip(perm) {
                p.ops[i] = op;
            }
        }
        paths
    }
}

/// `n` choose `k`.
fn binomial(n: usize, k: usize) -> usize {
    (0..k).fold(1, |acc, i| acc * (n - i) / (i + 1))
}

impl OneShot1Cell {
    /// The output node's index (`intermediate nodes + 1`).
    pub fn output(&self) -> usize {
        self.parents.len()
    }

    /// The NAS-Bench-101 graph hash of the cell (the key of the benchmark's tables).
    pub fn hash(&self) -> String {
        self.to_nb101().hash().expect("every node of a 1shot1 cell reaches back to the input")
    }

    /// Checks the cell against its space: parent counts, parents earlier than their node and
    /// ascending without repeats, and one op per intermediate node.
    pub fn validate(&self) -> Result<()> {
        let bad = |reason: String| SpaceError::OneShot1 { input: self.to_string(), reason };
        let n = self.space.intermediate_nodes();
        if self.parents.len() != n + 1 || self.ops.len() != n {
            return Err(bad(format!(
                "{} has {n} intermediate nodes and an output; this cell has {} parent groups and {} ops",
                self.space,
                self.parents.len(),
                self.ops.len()
            )));
        }
        for (i, ps) in self.parents.iter().enumerate() {
            let v = i + 1;
            let name = if v == n + 1 { "the output".to_string() } else { format!("node {v}") };
            if ps.len() != self.space.parents_of(v) {
                return Err(bad(format!(
                    "{name} has {} parents; {} gives it {}",
                    ps.len(),
                    self.space,
                    self.space.parents_of(v)
                )));
            }
            if ps.windows(2).any(|w| w[0] >= w[1]) || ps.iter().any(|&p| p >= v) {
                return Err(bad(format!(
                    "{name}'s parents {ps:?} must be distinct earlier nodes (0..{v}), ascending"
                )));
            }
        }
        Ok(())
    }
}

impl fmt::Display for OneShot1Cell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}|", self.space)?;
        let out = self.output();
        for (i, ps) in self.parents.iter().enumerate() {
            let name = if i + 1 == out { "output" } else { self.ops[i].name() };
            f.write_str(name)?;
            for p in ps {
                write!(f, "~{p}")?;
            }
            f.write_str("|")?;
        }
        Ok(())
    }
}

impl FromStr for OneShot1Cell {
    type Err = SpaceError;

    fn from_str(input: &str) -> Result<Self> {
        let bad = |reason: String| SpaceError::OneShot1 { input: input.to_string(), reason };
        let s = input.trim();
        let inner = s.strip_suffix('|').ok_or_else(|| bad("it must end with '|'".into()))?;
        let mut groups = inner.split('|');
        let space: OneShot1Space = groups
            .next()
            .unwrap_or_default()
            .parse()
            .map_err(|e: SpaceError| bad(e.to_string()))?;
        let groups: Vec<&str> = groups.collect();
        let n = space.intermediate_nodes();
        if groups.len() != n + 1 {
            return Err(bad(format!(
                "{space} has {n} intermediate nodes and an output, so {} groups; found {}",
                n + 1,
                groups.len()
            )));
        }
        let mut ops = Vec::with_capacity(n);
        let mut parents = Vec::with_capacity(n + 1);
        for (i, g) in groups.iter().enumerate() {
            let mut parts = g.split('~');
            let name = parts.next().unwrap_or_default();
            if i < n {
                ops.push(
                    name.parse::<Nb101Op>()
                        .map_err(|_| bad(format!("node {}: unknown op {name:?}", i + 1)))?,
                );
            } else if name != "output" {
                return Err(bad(format!("the last group must be the output's, not {name:?}")));
            }
            let ps = parts
                .map(|p| {
                    p.parse::<usize>().ok().filter(|v| v.to_string() == p).ok_or_else(|| {
                        bad(format!("group {g:?}: parent {p:?} is not a node number"))
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            parents.push(ps);
        }
        let cell = OneShot1Cell { space, parents, ops };
        cell.validate().map_err(|e| match e {
            SpaceError::OneShot1 { reason, .. } => bad(reason),
            e => e,
        })?;
        Ok(cell)
    }
}

impl TryFrom<String> for OneShot1Cell {
    type Error = SpaceError;
    fn try_from(s: String) -> Result<Self> {
        s.parse()
    }
}

impl From<OneShot1Cell> for String {
    fn from(c: OneShot1Cell) -> String {
        c.to_string()
    }
}

impl Genotype for OneShot1Cell {}

impl CellShape for OneShot1Cell {
    /// Parent edges, the output's included.
    fn edges(&self) -> usize {
        self.parents.iter().map(Vec::len).sum()
    }

    /// None: the space has no identity op (the input's edge to the output is a projection).
    fn skip_connections(&self) -> usize {
        0
    }

    /// None: the space has no zero op.
    fn nones(&self) -> usize {
        0
    }

    /// Edges on the longest input-to-output path (Shu et al. 2020, as the thesis measures
    /// NAS-Bench-1shot1 cells): 1 for an input-output edge alone, at most `output`.
    fn depth(&self) -> usize {
        let mut d = vec![0usize; self.output() + 1];
        for v in 1..=self.output() {
            d[v] = self.parents[v - 1].iter().map(|&p| d[p] + 1).max().unwrap_or(0);
        }
        d[self.output()]
    }
}
