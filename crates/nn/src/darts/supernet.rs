//! The DARTS search network (`model_search.Network`): every op of the op set on every edge,
//! mixed by an [`EdgeMix`].

use sotl_space::darts::{darts_edge_index, DartsCell, DARTS_CELL_EDGES, DARTS_STEPS};
use sotl_space::{DartsGenotype, DartsOp, DartsSpace};
use tch::nn::Path;
use tch::Tensor;

use super::config::DartsNetConfig;
use super::ops::{FactorizedReduce, Op, Preprocess};
use crate::ops::{ParamList, Stem};
use crate::weight_sharing::Supernet;
use crate::{EdgeMix, NnError, Result};

struct SearchCell {
    reduction: bool,
    pre0: Preprocess,
    pre1: Preprocess,
    /// Per relaxed edge ([`darts_edge_index`] order), one op per column of the op set.
    edges: Vec<Vec<Op>>,
}

/// The mix of one forward pass, unpacked once.
enum Prepared<'a> {
    /// Per relaxed edge of both cells (28 rows), per column, the weight.
    Soft(Vec<Vec<Tensor>>),
    Path(&'a DartsGenotype),
    Weighted(&'a DartsGenotype, Vec<Tensor>),
}

/// The DARTS search network (`model_search.Network`, Liu et al. 2019) over an op set: a `3C`
/// stem (affine BN), `layers` cells of four nodes, each node summing a mixed op over every
/// earlier state; every op of the op set on each of the 14 edges, BNs without affine weights
/// (pools followed by one, as `MixedOp`), global pooling and a classifier. Reduction cells at
/// 1/3 and 2/3 of the depth mix the relaxation's rows `14..28`, normal cells rows `0..14`.
///
/// A `Path` runs only the genotype's eight edges per cell (the ops' shared weights), as a
/// one-shot supernet does; 1 930 618 weights at the DARTS defaults.
pub struct DartsSupernet {
    cfg: DartsNetConfig,
    params: Vec<Tensor>,
    names: Vec<String>,
    stem: Stem,
    cells: Vec<SearchCell>,
    fc: (usize, usize),
    /// PDARTS' dropout on the identity skip connections of soft mixes (0 = off).
    skip_dropout: std::cell::Cell<f64>,
    /// Per relaxation entry (row-major), whether the op can carry weight; `None` = all can.
    active: std::cell::RefCell<Option<Vec<bool>>>,
}

impl DartsSupernet {
    /// Builds the weights under `p` (PyTorch's default init; seed with `tch::manual_seed`).
    pub fn new(p: &Path, cfg: &DartsNetConfig) -> Result<Self> {
        cfg.validate()?;
        let mut list = ParamList::default();
        let c3 = 3 * cfg.channels;
        let stem =
            Stem::named(&(p / "stem" / "0"), &(p / "stem" / "1"), &mut list, cfg.in_channels, c3);
        let mut cells = Vec::with_capacity(cfg.layers);
        let ops = cfg.ops.ops();
        for (i, s) in cfg.slots(DARTS_STEPS as i64).into_iter().enumerate() {
            let pc = p / "cells" / i;
            let pre0 = if s.reduction_prev {
                Preprocess::Reduce(FactorizedReduce::new(
                    &(&pc / "preprocess0"),
                    &mut list,
                    s.c_pp,
                    s.c,
                    false,
                ))
            } else {
                Preprocess::conv(&(&pc / "preprocess0"), &mut list, s.c_pp, s.c, false)
            };
            let pre1 = Preprocess::conv(&(&pc / "preprocess1"), &mut list, s.c_prev, s.c, false);
            let mut edges = Vec::with_capacity(DARTS_CELL_EDGES);
            for node in 0..DARTS_STEPS {
                for j in 0..node + 2 {
                    let stride = if s.reduction && j < 2 { 2 } else { 1 };
                    let pe = &pc / "_ops" / darts_edge_index(node, j) / "_ops";
                    edges.push(
                        ops.iter()
                            .enumerate()
                            .map(|(k, &op)| {
                                Op::new(&(&pe / k), &mut list, op, s.c, stride, false, true)
                            })
                            .collect(),
                    );
                }
            }
            cells.push(SearchCell { reduction: s.reduction, pre0, pre1, edges });
        }
        let c_last = cfg.slots(DARTS_STEPS as i64).last().map_or(c3, |s| DARTS_STEPS as i64 * s.c);
        let fc = list.linear(&(p / "classifier"), c_last, cfg.num_classes);
        Ok(DartsSupernet {
            cfg: *cfg,
            params: list.tensors,
            names: list.names,
            stem,
            cells,
            fc,
            skip_dropout: std::cell::Cell::new(0.0),
            active: std::cell::RefCell::new(None),
        })
    }

    /// The config the supernet was built with.
    pub fn config(&self) -> &DartsNetConfig {
        &self.cfg
    }

    /// Number of trainable weights (architecture parameters excluded).
    pub fn param_count(&self) -> i64 {
        self.params.iter().map(|t| t.numel() as i64).sum()
    }

    /// Checks that every op of `g` is in the supernet's op set (a `Path` of another op would
    /// have no weights to run).
    pub fn check_genotype(&self, g: &DartsGenotype) -> Result<()> {
        let set = self.cfg.ops.ops();
        let bad = g.ops().find(|o| !set.contains(o));
        let steps = |c: &DartsCell| {
            c.steps() == DARTS_STEPS && c.concat == (2..DARTS_STEPS + 2).collect::<Vec<_>>()
        };
        if let Some(op) = bad {
            return Err(NnError::BadMix(format!(
                "genotype op {op} is not in the supernet's op set {} ({})",
                self.cfg.ops,
                self.cfg.ops.names().join(", ")
            )));
        }
        if !steps(&g.normal) || !steps(&g.reduce) {
            return Err(NnError::BadMix(format!(
                "the supernet's cells have {DARTS_STEPS} nodes concatenated as range(2, 6); {g} does not"
            )));
        }
        Ok(())
    }

    fn column(&self, op: DartsOp) -> usize {
        self.cfg.ops.ops().iter().position(|&o| o == op).unwrap_or_else(|| {
            panic!("op {op} is not in the supernet's op set; validate with check_genotype")
        })
    }

    fn forward_impl(
        &self,
        params: &[Tensor],
        x: &Tensor,
        mix: &EdgeMix<DartsGenotype>,
        train: bool,
    ) -> Tensor {
        assert_eq!(
            params.len(),
            self.params.len(),
            "expected {} weight tensors",
            self.params.len()
        );
        let (rows, cols) = (2 * DARTS_CELL_EDGES, self.cfg.ops.ops().len());
        if let Err(e) = mix.validate_shape(rows, cols) {
            panic!("{e}");
        }
        let prepared = match mix {
            EdgeMix::Soft(w) => Prepared::Soft(w.unbind(0).iter().map(|r| r.unbind(0)).collect()),
            EdgeMix::Path(g) => Prepared::Path(g),
            EdgeMix::WeightedPath(g, w) => Prepared::Weighted(g, w.unbind(0)),
        };
        let stem = self.stem.forward(params, x, train);
        let (mut s0, mut s1) = (stem.shallow_clone(), stem);
        for cell in &self.cells {
            let s2 = self.cell_forward(cell, params, &s0, &s1, &prepared, train);
            (s0, s1) = (s1, s2);
        }
        let pooled = s1.mean_dim([2i64, 3].as_slice(), false, None::<tch::Kind>);
        pooled.linear(&params[self.fc.0], Some(&params[self.fc.1]))
    }

    fn cell_forward(
        &self,
        cell: &SearchCell,
        params: &[Tensor],
        s0: &Tensor,
        s1: &Tensor,
        mix: &Prepared,
        train: bool,
    ) -> Tensor {
        let mut states =
            vec![cell.pre0.forward(params, s0, train), cell.pre1.forward(params, s1, train)];
        let row0 = if cell.reduction { DARTS_CELL_EDGES } else { 0 };
        let set = self.cfg.ops.ops();
        let active = self.active.borrow();
        let p_skip = if train { self.skip_dropout.get() } else { 0.0 };
        for node in 0..DARTS_STEPS {
            let s = match mix {
                Prepared::Soft(w) => {
                    let mut acc: Option<Tensor> = None;
                    for (j, state) in states.iter().enumerate().take(node + 2) {
                        let e = darts_edge_index(node, j);
                        for (k, op) in cell.edges[e].iter().enumerate() {
                            // The zero op adds nothing (and has zero gradient for its weight);
                            // a pruned op's weight is exactly 0.
                            let pruned =
                                active.as_ref().is_some_and(|a| !a[(row0 + e) * set.len() + k]);
                            if set[k] == DartsOp::None || pruned {
                                continue;
                            }
                            let mut y = op.forward(params, state, train);
                            if p_skip > 0.0 && op.is_identity() {
                                y = y.dropout(p_skip, true);
                            }
                            let y = y * &w[row0 + e][k];
                            acc = Some(match acc {
                                Some(a) => a + y,
                                None => y,
                            });
                        }
                    }
                    acc.unwrap_or_else(|| zero_state(cell, &states[0]))
                }
                Prepared::Path(g) | Prepared::Weighted(g, _) => {
                    let c = if cell.reduction { &g.reduce } else { &g.normal };
                    let mut acc: Option<Tensor> = None;
                    for (op, j) in c.node(node) {
                        if op == DartsOp::None {
                            continue;
                        }
                        let e = darts_edge_index(node, j);
                        let y = cell.edges[e][self.column(op)].forward(params, &states[j], train);
                        // Not in place: an identity's output is the state tensor itself.
                        let y = match mix {
                            Prepared::Weighted(_, w) => y * &w[row0 + e],
                            _ => y,
                        };
                        acc = Some(match acc {
                            Some(a) => a + y,
                            None => y,
                        });
                    }
                    acc.unwrap_or_else(|| zero_state(cell, &states[0]))
                }
            };
            states.push(s);
        }
        Tensor::cat(&states[2..], 1)
    }

    /// Indices of the weights a single-path forward of `g` uses: the stem, the preprocessing of
    /// each cell input the genotype reads, the ops of the genotype's edges and the classifier.
    /// Every weight a `Path` forward reaches is listed; in degenerate genotypes (a cell output no
    /// later cell reads, an input read only by `noise`) some listed ones get no gradient.
    pub fn path_param_indices(&self, g: &DartsGenotype) -> Vec<usize> {
        let mut out: Vec<usize> = self.stem.indices().collect();
        for cell in &self.cells {
            let c = if cell.reduction { &g.reduce } else { &g.normal };
            let reads = |s: usize| c.edges.iter().any(|&(op, j)| j == s && op != DartsOp::None);
            if reads(0) {
                out.extend(cell.pre0.indices());
            }
            if reads(1) {
                out.extend(cell.pre1.indices());
            }
            for node in 0..DARTS_STEPS {
                for (op, j) in c.node(node) {
                    if let Some(k) = self.cfg.ops.ops().iter().position(|&o| o == op) {
                        out.extend(cell.edges[darts_edge_index(node, j)][k].indices());
                    }
                }
            }
        }
        out.extend([self.fc.0, self.fc.1]);
        // A node reading the same edge twice would list its op twice.
        let mut seen = std::collections::HashSet::new();
        out.retain(|i| seen.insert(*i));
        out
    }
}

/// The all-zero output of a node none of whose inputs carries an op.
fn zero_state(cell: &SearchCell, s: &Tensor) -> Tensor {
    if cell.reduction {
        s.slice(2, 0, None, 2).slice(3, 0, None, 2).zeros_like()
    } else {
        s.zeros_like()
    }
}

impl Supernet for DartsSupernet {
    type Space = DartsSpace;
    type Config = DartsNetConfig;

    fn build(p: &Path, cfg: &DartsNetConfig) -> Result<Self> {
        DartsSupernet::new(p, cfg)
    }

    fn space(&self) -> DartsSpace {
        DartsSpace::new(self.cfg.ops)
    }

    fn forward_mix(&self, x: &Tensor, mix: &EdgeMix<DartsGenotype>, train: bool) -> Tensor {
        self.forward_impl(&self.params, x, mix, train)
    }

    fn forward_mix_with(
        &self,
        params: &[Tensor],
        x: &Tensor,
        mix: &EdgeMix<DartsGenotype>,
    ) -> Tensor {
        self.forward_impl(params, x, mix, true)
    }

    fn weights(&self) -> Vec<Tensor> {
        self.params.iter().map(Tensor::shallow_clone).collect()
    }

    fn weight_names(&self) -> &[String] {
        &self.names
    }

    /// PDARTS' dropout on skip connections (Chen et al. 2019): in train-mode soft mixes, the
    /// output of every identity skip connection (stride 1; strided skips are FactorizedReduce)
    /// is dropped elementwise with probability `p` before its op weight applies. 0 turns it
    /// off; single paths are never affected.
    fn set_skip_dropout(&self, p: f64) -> Result<()> {
        if !(0.0..1.0).contains(&p) {
            return Err(NnError::InvalidConfig {
                field: "skip_dropout",
                value: p.to_string(),
                reason: "must be in [0, 1)",
            });
        }
        self.skip_dropout.set(p);
        Ok(())
    }

    fn skip_dropout(&self) -> f64 {
        self.skip_dropout.get()
    }

    fn set_active_ops(&self, active: Option<&[bool]>) -> Result<()> {
        let n = 2 * DARTS_CELL_EDGES * self.cfg.ops.ops().len();
        if let Some(a) = active {
            if a.len() != n {
                return Err(NnError::BadMix(format!(
                    "active-op mask of {} entries, the relaxation has {n}",
                    a.len()
                )));
            }
        }
        *self.active.borrow_mut() = active.map(<[bool]>::to_vec);
        Ok(())
    }

    fn path_weight_indices(&self, g: &DartsGenotype) -> Vec<usize> {
        self.path_param_indices(g)
    }

    /// The evaluation network's count at the supernet's size (no auxiliary head).
    fn standalone_param_count(&self, g: &DartsGenotype) -> u64 {
        super::darts_network_param_count(&self.cfg, g).max(0) as u64
    }
}
