//! [`DartsSpace`]: the DARTS search space behind the [`SearchSpace`] trait.

use rand::seq::index::sample as sample_indices;
use rand::Rng;
use serde::{Deserialize, Serialize};

use super::{
    darts_edge_index, DartsCell, DartsGenotype, DartsOp, DartsOpSet, DARTS_CELL_EDGES, DARTS_STEPS,
};
use crate::search_space::check_relaxation;
use crate::{Result, SearchSpace};

/// The DARTS search space (Liu et al., ICLR 2019) over an op set: a normal and a reduction cell,
/// each with two input states and four intermediate nodes that take two inputs each, the output
/// concatenating the four. With the full op set, `(180 * 7^8)^2 ≈ 1.1e18` genotypes.
///
/// The relaxation has one row per edge `input -> node` of both cells: rows `0..14` the normal
/// cell's, rows `14..28` the reduction cell's, each cell in [`darts_edge_index`] order, and one
/// column per op of the op set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DartsSpace {
    /// The candidate operations.
    pub ops: DartsOpSet,
}

impl DartsSpace {
    /// The space over `ops`.
    pub const fn new(ops: DartsOpSet) -> Self {
        DartsSpace { ops }
    }

    fn sample_cell<R: Rng + ?Sized>(&self, ops: &[DartsOp], rng: &mut R) -> DartsCell {
        let mut edges = Vec::with_capacity(2 * DARTS_STEPS);
        for i in 0..DARTS_STEPS {
            let mut inputs = sample_indices(rng, i + 2, 2).into_vec();
            inputs.sort_unstable();
            for j in inputs {
                edges.push((ops[rng.gen_range(0..ops.len())], j));
            }
        }
        DartsCell { edges, concat: (2..DARTS_STEPS + 2).collect() }
    }

    /// FairNAS on one cell: `paths` copies of `topology`, entry `k` of path `p` taking the
    /// `p`-th op of entry `k`'s own permutation of `ops`.
    fn fair_cells<R: Rng + ?Sized>(
        topology: &DartsCell,
        ops: &[DartsOp],
        rng: &mut R,
    ) -> Vec<DartsCell> {
        use rand::seq::SliceRandom;
        let mut cells = vec![topology.clone(); ops.len()];
        for k in 0..topology.edges.len() {
            let mut perm = ops.to_vec();
            perm.shuffle(rng);
            for (cell, op) in cells.iter_mut().zip(perm) {
                cell.edges[k].0 = op;
            }
        }
        cells
    }

    /// Every cell one change away from `c`: one entry's op swapped for another op of the set,
    /// or one entry's input moved to a state its node does not already read.
    fn cell_neighbours(&self, c: &DartsCell) -> Vec<DartsCell> {
        let ops = self.ops.cell_ops();
        let mut out = Vec::new();
        for k in 0..c.edges.len() {
            let (op, j) = c.edges[k];
            let other = c.edges[k ^ 1].1;
            for &o in &ops {
                if o != op {
                    let mut n = c.clone();
                    n.edges[k].0 = o;
                    out.push(n);
                }
            }
            for jj in 0..k / 2 + 2 {
                if jj != j && jj != other {
                    let mut n = c.clone();
                    n.edges[k].1 = jj;
                    out.push(n);
                }
            }
        }
        out
    }

    /// DARTS' `_parse` on one cell's 14 rows: per node the two incoming edges whose strongest
    /// op other than `none` is largest (ties to the lower input), each with that op (ties to
    /// the earlier column).
    fn discretize_cell(&self, rows: &[f64]) -> DartsCell {
        let set = self.ops.ops();
        let n = set.len();
        let best = |row: &[f64]| -> usize {
            let mut b: Option<usize> = None;
            for k in 0..n {
                if set[k] != DartsOp::None && b.is_none_or(|b| row[k] > row[b]) {
                    b = Some(k);
                }
            }
            b.expect("an op set holds an op other than none")
        };
        let mut edges = Vec::with_capacity(2 * DARTS_STEPS);
        for i in 0..DARTS_STEPS {
            let mut inputs: Vec<usize> = (0..i + 2).collect();
            let row = |j: usize| &rows[darts_edge_index(i, j) * n..][..n];
            // A stable sort on strength, descending: ties keep the lower input first.
            inputs.sort_by(|&a, &b| {
                let (ra, rb) = (row(a), row(b));
                rb[best(rb)].total_cmp(&ra[best(ra)])
            });
            for &j in &inputs[..2] {
                edges.push((set[best(row(j))], j));
            }
        }
        DartsCell { edges, concat: (2..DARTS_STEPS + 2).collect() }
    }
}

/// Ways to pick each node's two inputs: `prod_{i<4} C(i + 2, 2) = 1 * 3 * 6 * 10`.
const INPUT_CHOICES: u128 = 180;

impl SearchSpace for DartsSpace {
    type Genotype = DartsGenotype;

    fn name(&self) -> &'static str {
        match self.ops {
            DartsOpSet::Full => "darts",
            DartsOpSet::S2 => "darts-s2",
            DartsOpSet::S3 => "darts-s3",
            DartsOpSet::S4 => "darts-s4",
        }
    }

    fn op_names(&self) -> &'static [&'static str] {
        self.ops.names()
    }

    fn relaxation_shape(&self) -> (usize, usize) {
        (2 * DARTS_CELL_EDGES, self.ops.ops().len())
    }

    /// Every op of both cells in the op set, two inputs per node, concatenating the four nodes.
    fn holds(&self, g: &DartsGenotype) -> bool {
        let ops = self.ops.cell_ops();
        [&g.normal, &g.reduce].iter().all(|c| {
            c.edges.len() == 2 * DARTS_STEPS
                && c.concat == (2..DARTS_STEPS + 2).collect::<Vec<_>>()
                && c.edges.iter().all(|(op, _)| ops.contains(op))
        })
    }

    fn size(&self) -> u128 {
        let per_cell =
            INPUT_CHOICES * (self.ops.cell_ops().len() as u128).pow(2 * DARTS_STEPS as u32);
        per_cell * per_cell
    }

    fn enumerate(&self) -> Option<Box<dyn Iterator<Item = DartsGenotype> + '_>> {
        None
    }

    /// Each node's two inputs uniformly among the pairs of earlier states (listed ascending),
    /// each entry's op uniformly among the set's ops other than `none`.
    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> DartsGenotype {
        let ops = self.ops.cell_ops();
        let normal = self.sample_cell(&ops, rng);
        let reduce = self.sample_cell(&ops, rng);
        DartsGenotype { normal, reduce }
    }

    fn mutate<R: Rng + ?Sized>(&self, g: &DartsGenotype, rng: &mut R) -> DartsGenotype {
        let mut n = self.neighbours(g);
        n.swap_remove(rng.gen_range(0..n.len()))
    }

    fn neighbours(&self, g: &DartsGenotype) -> Vec<DartsGenotype> {
        let mut out: Vec<DartsGenotype> = self
            .cell_neighbours(&g.normal)
            .into_iter()
            .map(|normal| DartsGenotype { normal, reduce: g.reduce.clone() })
            .chain(
                self.cell_neighbours(&g.reduce)
                    .into_iter()
                    .map(|reduce| DartsGenotype { normal: g.normal.clone(), reduce }),
            )
            .collect();
        // Moving an entry's input can repeat another neighbour only through a duplicate entry
        // pair; keep the first of any repeats.
        let mut seen = std::collections::HashSet::new();
        out.retain(|n| n != g && seen.insert(n.clone()));
        out
    }

    /// FairNAS where a path is a topology as well as ops: one topology is drawn uniformly (as
    /// [`SearchSpace::sample`] draws it) and shared by the step's paths, and each of its entries
    /// permutes the ops other than `none`. So the step trains every op exactly once on every
    /// edge it uses, the paths are as many as those ops, and each is marginally uniform.
    fn fair_paths<R: Rng + ?Sized>(&self, rng: &mut R) -> Vec<DartsGenotype> {
        let ops = self.ops.cell_ops();
        let topology = self.sample(rng);
        let normal = Self::fair_cells(&topology.normal, &ops, rng);
        let reduce = Self::fair_cells(&topology.reduce, &ops, rng);
        normal
            .into_iter()
            .zip(reduce)
            .map(|(normal, reduce)| DartsGenotype { normal, reduce })
            .collect()
    }

    fn discretize(&self, weights: &[f64]) -> Result<DartsGenotype> {
        check_relaxation(self, weights, "normal cell's 14 edges then the reduction cell's")?;
        let n_ops = self.ops.ops().len();
        let (normal, reduce) = weights.split_at(DARTS_CELL_EDGES * n_ops);
        Ok(DartsGenotype {
            normal: self.discretize_cell(normal),
            reduce: self.discretize_cell(reduce),
        })
    }
}
