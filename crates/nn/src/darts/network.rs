//! The DARTS evaluation network (`NetworkCIFAR`) of one genotype.

use sotl_space::darts::DartsCell;
use sotl_space::DartsGenotype;
use tch::nn::Path;
use tch::Tensor;

use super::config::DartsNetConfig;
use super::ops::{drop_path, FactorizedReduce, Op, Preprocess};
use crate::ops::{Bn, ParamList, Stem};
use crate::Result;

struct Cell {
    pre0: Preprocess,
    pre1: Preprocess,
    ops: Vec<Op>,
    inputs: Vec<usize>,
    concat: Vec<usize>,
}

impl Cell {
    fn forward(
        &self,
        params: &[Tensor],
        s0: &Tensor,
        s1: &Tensor,
        train: bool,
        drop: f64,
    ) -> Tensor {
        let mut states =
            vec![self.pre0.forward(params, s0, train), self.pre1.forward(params, s1, train)];
        for i in 0..self.ops.len() / 2 {
            let h = |k: usize| {
                let op = &self.ops[k];
                let y = op.forward(params, &states[self.inputs[k]], train);
                if train && drop > 0.0 && !op.is_identity() {
                    drop_path(&y, drop)
                } else {
                    y
                }
            };
            let s = h(2 * i) + h(2 * i + 1);
            states.push(s);
        }
        let out: Vec<&Tensor> = self.concat.iter().map(|&s| &states[s]).collect();
        Tensor::cat(&out, 1)
    }
}

struct AuxHead {
    conv1: usize,
    bn1: Bn,
    conv2: usize,
    bn2: Bn,
    fc: (usize, usize),
}

/// The DARTS evaluation network of a genotype (`model.NetworkCIFAR`), parameter for parameter:
/// a `3C` stem, `layers` cells built from the genotype (reduction cells at 1/3 and 2/3 of the
/// depth, double channels; strided ops on their input edges), global pooling and a classifier,
/// and optionally the auxiliary head after the second reduction cell. Every BN is affine with
/// running statistics. Weights are named as the reference's (`cells.3._ops.0.op.1.weight`).
pub struct DartsNetwork {
    cfg: DartsNetConfig,
    genotype: DartsGenotype,
    params: Vec<Tensor>,
    names: Vec<String>,
    stem: Stem,
    cells: Vec<Cell>,
    aux: Option<AuxHead>,
    fc: (usize, usize),
}

impl DartsNetwork {
    /// Builds the network under `p` (PyTorch's default init; seed with `tch::manual_seed`);
    /// `auxiliary` adds the auxiliary head (which needs 32- to 40-pixel images).
    pub fn new(
        p: &Path,
        cfg: &DartsNetConfig,
        genotype: &DartsGenotype,
        auxiliary: bool,
    ) -> Result<Self> {
        cfg.validate()?;
        if auxiliary {
            cfg.validate_auxiliary()?;
        }
        // A reduction cell's input states are at the input resolution, its nodes at half.
        if genotype.reduce.concat.iter().any(|&s| s < 2) {
            return Err(crate::NnError::InvalidConfig {
                field: "genotype",
                value: format!("reduce_concat = {:?}", genotype.reduce.concat),
                reason: "a reduction cell can only concatenate its nodes (states 2 and up): its inputs have twice their size",
            });
        }
        let mut list = ParamList::default();
        let c3 = 3 * cfg.channels;
        let stem =
            Stem::named(&(p / "stem" / "0"), &(p / "stem" / "1"), &mut list, cfg.in_channels, c3);
        let (mut c_pp, mut c_prev, mut c) = (c3, c3, cfg.channels);
        let mut reduction_prev = false;
        let mut cells = Vec::with_capacity(cfg.layers);
        let mut aux = None;
        for i in 0..cfg.layers {
            let reduction = cfg.is_reduction(i);
            if reduction {
                c *= 2;
            }
            let pc = p / "cells" / i;
            let pre0 = if reduction_prev {
                Preprocess::Reduce(FactorizedReduce::new(
                    &(&pc / "preprocess0"),
                    &mut list,
                    c_pp,
                    c,
                    true,
                ))
            } else {
                Preprocess::conv(&(&pc / "preprocess0"), &mut list, c_pp, c, true)
            };
            let pre1 = Preprocess::conv(&(&pc / "preprocess1"), &mut list, c_prev, c, true);
            let cell: &DartsCell = if reduction { &genotype.reduce } else { &genotype.normal };
            let ops = cell
                .edges
                .iter()
                .enumerate()
                .map(|(k, &(op, j))| {
                    let stride = if reduction && j < 2 { 2 } else { 1 };
                    Op::new(&(&pc / "_ops" / k), &mut list, op, c, stride, true, false)
                })
                .collect();
            cells.push(Cell {
                pre0,
                pre1,
                ops,
                inputs: cell.edges.iter().map(|e| e.1).collect(),
                concat: cell.concat.clone(),
            });
            reduction_prev = reduction;
            (c_pp, c_prev) = (c_prev, cell.concat.len() as i64 * c);
            if auxiliary && i == cfg.auxiliary_cell() {
                let pa = p / "auxiliary_head";
                let conv1 = list.conv_weight(&(&pa / "features" / "2"), 128, c_prev, 1);
                let bn1 = list.bn(&(&pa / "features" / "3"), 128, true, true);
                let conv2 = list.conv_weight(&(&pa / "features" / "5"), 768, 128, 2);
                let bn2 = list.bn(&(&pa / "features" / "6"), 768, true, true);
                let fc = list.linear(&(&pa / "classifier"), 768, cfg.num_classes);
                aux = Some(AuxHead { conv1, bn1, conv2, bn2, fc });
            }
        }
        let fc = list.linear(&(p / "classifier"), c_prev, cfg.num_classes);
        Ok(DartsNetwork {
            cfg: *cfg,
            genotype: genotype.clone(),
            params: list.tensors,
            names: list.names,
            stem,
            cells,
            aux,
            fc,
        })
    }

    /// The config the network was built with.
    pub fn config(&self) -> &DartsNetConfig {
        &self.cfg
    }

    /// The genotype the network was built from.
    pub fn genotype(&self) -> &DartsGenotype {
        &self.genotype
    }

    /// The trainable weights (shallow clones sharing storage), in creation order.
    pub fn params(&self) -> Vec<Tensor> {
        self.params.iter().map(Tensor::shallow_clone).collect()
    }

    /// VarStore names of [`Self::params`], in the same order.
    pub fn param_names(&self) -> &[String] {
        &self.names
    }

    /// Trainable weights, the auxiliary head included when built.
    pub fn param_count(&self) -> i64 {
        self.params.iter().map(|t| t.numel() as i64).sum()
    }

    /// Trainable weights without the auxiliary head: the model size DARTS reports.
    /// (DARTS' `count_parameters_in_MB` rule: weights whose name lacks `auxiliary`).
    pub fn param_count_without_auxiliary(&self) -> i64 {
        self.params
            .iter()
            .zip(&self.names)
            .filter(|(_, n)| !n.contains("auxiliary"))
            .map(|(t, _)| t.numel() as i64)
            .sum()
    }

    /// Logits, and in train mode with the auxiliary head its logits too; `drop_path` is the
    /// probability of dropping each non-identity op's output per example (train mode only).
    ///
    /// # Shapes
    /// `x: [B, in_channels, S, S]`, `S` the config's `image_size` ->
    /// `([B, classes], Option<[B, classes]>)`.
    pub fn forward_t(&self, x: &Tensor, train: bool, drop_path: f64) -> (Tensor, Option<Tensor>) {
        let p = &self.params;
        let stem = self.stem.forward(p, x, train);
        let (mut s0, mut s1) = (stem.shallow_clone(), stem);
        let mut aux_logits = None;
        for (i, cell) in self.cells.iter().enumerate() {
            let s2 = cell.forward(p, &s0, &s1, train, drop_path);
            (s0, s1) = (s1, s2);
            if train && i == self.cfg.auxiliary_cell() {
                if let Some(a) = &self.aux {
                    let y = s1.relu().avg_pool2d([5, 5], [3, 3], [0, 0], false, false, None::<i64>);
                    let y = a
                        .bn1
                        .forward(
                            p,
                            &y.conv2d(&p[a.conv1], None::<&Tensor>, [1, 1], [0, 0], [1, 1], 1),
                            train,
                        )
                        .relu();
                    let y = a
                        .bn2
                        .forward(
                            p,
                            &y.conv2d(&p[a.conv2], None::<&Tensor>, [1, 1], [0, 0], [1, 1], 1),
                            train,
                        )
                        .relu();
                    aux_logits = Some(y.flatten(1, -1).linear(&p[a.fc.0], Some(&p[a.fc.1])));
                }
            }
        }
        let pooled = s1.mean_dim([2i64, 3].as_slice(), false, None::<tch::Kind>);
        (pooled.linear(&p[self.fc.0], Some(&p[self.fc.1])), aux_logits)
    }
}
