//! The NAS-Bench-1shot1 one-shot model (Zela et al. 2020, automl/nasbench-1shot1
//! `optimizers/darts/model_search.Network`) on the NAS-Bench-101 skeleton, and the parameter
//! count of NAS-Bench-101's stand-alone network for a cell.

use serde::{Deserialize, Serialize};
use sotl_space::nb101::{Nb101Op, Nb101Spec};
use sotl_space::nb1shot1::ONESHOT1_OPS;
use sotl_space::{OneShot1Cell, OneShot1Space, SearchSpace};
use tch::nn::Path;
use tch::Tensor;

use crate::ops::{Bn, ParamList};
use crate::weight_sharing::Supernet;
use crate::{EdgeMix, NnError, Result};

/// Size of a NAS-Bench-1shot1 network: `channels` (C) in the stem and the first stack,
/// `layers` cells with a 2x2 max-pool and channel doubling before cells `layers / 3` and
/// `2 * layers / 3`. The defaults are the reference one-shot model's (C=16, 9 cells: three
/// stacks of three); NAS-Bench-101 itself trains C=128.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OneShot1NetConfig {
    /// The search space (its node count shapes the cells).
    pub space: OneShot1Space,
    /// Channels of the stem and the first stack (`C`).
    pub channels: i64,
    /// Cells.
    pub layers: usize,
    /// Classifier outputs.
    pub num_classes: i64,
    /// Input image channels.
    pub in_channels: i64,
    /// Input image height and width (square).
    pub image_size: i64,
}

impl Default for OneShot1NetConfig {
    fn default() -> Self {
        let s = OneShot1NetSize::default();
        Self {
            space: OneShot1Space::S1,
            channels: s.channels,
            layers: s.layers,
            num_classes: 10,
            in_channels: 3,
            image_size: 32,
        }
    }
}

/// The sizes a run config chooses (`[nb1shot1_net]`); the rest of [`OneShot1NetConfig`] comes
/// from the data and the space.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OneShot1NetSize {
    /// Channels of the stem and the first stack (`C`).
    pub channels: i64,
    /// Cells.
    pub layers: usize,
}

impl Default for OneShot1NetSize {
    fn default() -> Self {
        OneShot1NetSize { channels: 16, layers: 9 }
    }
}

impl OneShot1NetSize {
    /// Refuses sizes no network can be built with, naming the key.
    pub fn validate(&self) -> Result<()> {
        self.config(OneShot1Space::S1, 10, 3, 32).validate()
    }

    /// The full config for `space` and data of `classes` classes, `in_channels` channels and
    /// `image_size` pixels.
    pub fn config(
        &self,
        space: OneShot1Space,
        classes: i64,
        in_channels: i64,
        image_size: i64,
    ) -> OneShot1NetConfig {
        OneShot1NetConfig {
            space,
            channels: self.channels,
            layers: self.layers,
            num_classes: classes,
            in_channels,
            image_size,
        }
    }
}

impl OneShot1NetConfig {
    /// Refuses sizes the network cannot be built with, naming the key.
    pub fn validate(&self) -> Result<()> {
        let bad =
            |field, value: String, reason| Err(NnError::InvalidConfig { field, value, reason });
        if self.channels < 1 {
            return bad("channels", self.channels.to_string(), "must be at least 1");
        }
        if self.layers < 3 {
            return bad(
                "layers",
                self.layers.to_string(),
                "must be at least 3 (the network pools before cells layers/3 and 2*layers/3)",
            );
        }
        if self.num_classes < 1 || self.in_channels < 1 {
            return bad(
                "num_classes/in_channels",
                format!("{}/{}", self.num_classes, self.in_channels),
                "must be at least 1",
            );
        }
        if self.image_size < 4 {
            return bad(
                "image_size",
                self.image_size.to_string(),
                "must be at least 4 (pooled twice)",
            );
        }
        Ok(())
    }

    /// Whether cell `i` is preceded by the 2x2 max-pool (and doubles the channels).
    pub fn pools_before(&self, i: usize) -> bool {
        i > 0 && (i == self.layers / 3 || i == 2 * self.layers / 3)
    }

    /// Per cell, `(input channels, node channels)`: the first reads the stem's `C`, later ones
    /// the previous cell's concatenation of `n` nodes.
    pub fn cell_channels(&self) -> Vec<(i64, i64)> {
        let n = self.space.intermediate_nodes() as i64;
        let mut c = self.channels;
        let mut c_in = self.channels;
        (0..self.layers)
            .map(|i| {
                if self.pools_before(i) {
                    c *= 2;
                }
                let out = (c_in, c);
                c_in = c * n;
                out
            })
            .collect()
    }
}

/// `Conv(k) -> BN (affine, running stats) -> ReLU`, NAS-Bench-101's `conv_bn_relu`.
struct ConvBnRelu {
    conv: usize,
    bn: Bn,
    k: i64,
}

impl ConvBnRelu {
    fn new(p: &Path, list: &mut ParamList, c_in: i64, c_out: i64, k: i64) -> Self {
        let conv = list.conv_weight(&(p / "conv"), c_out, c_in, k);
        let bn = list.bn(&(p / "bn"), c_out, true, true);
        ConvBnRelu { conv, bn, k }
    }

    fn forward(&self, params: &[Tensor], x: &Tensor, train: bool) -> Tensor {
        let pad = self.k / 2;
        let y = x.conv2d(&params[self.conv], None::<&Tensor>, [1, 1], [pad, pad], [1, 1], 1);
        self.bn.forward(params, &y, train).relu()
    }

    fn indices(&self) -> impl Iterator<Item = usize> + '_ {
        std::iter::once(self.conv).chain(self.bn.affine.iter().flat_map(|&(g, b)| [g, b]))
    }
}

struct Cell {
    /// Channels of each node.
    c: i64,
    /// Per intermediate node, its projection of the cell input.
    proj: Vec<ConvBnRelu>,
    /// The input's projection onto the output (`n * C` channels).
    proj_out: ConvBnRelu,
    /// Per intermediate node, its conv3x3 and conv1x1 (max-pool has no weights).
    conv3x3: Vec<ConvBnRelu>,
    conv1x1: Vec<ConvBnRelu>,
}

/// The mix of one forward pass, unpacked once: per relaxation row, its valid entries.
enum Prepared<'a> {
    Soft(Vec<Vec<Tensor>>),
    /// The cell, its live nodes (computed once per forward) and any per-node scale.
    Path(&'a OneShot1Cell, Vec<bool>, Option<Vec<Tensor>>),
}

/// The NAS-Bench-1shot1 one-shot model (`model_search.Network` of automl/nasbench-1shot1) for
/// one space: a conv3x3-BN-ReLU stem of `C` channels, `layers` cells in three stacks, a
/// ReLU-conv1x1-BN (no affine) post-process to `4C`, global pooling and a classifier.
///
/// In a cell every intermediate node `v` projects the cell input (1x1 conv-BN-ReLU to `C`),
/// sums it with the earlier nodes' outputs weighted by its parent weights (unweighted where it
/// has no choice) and applies the mix of max-pool 3x3, conv3x3-BN-ReLU and conv1x1-BN-ReLU;
/// the output concatenates the nodes weighted by the output's parent weights and adds the
/// weighted projection of the input. A `Path` runs the cell as the reference's weight-sharing
/// random search does with 0/1 weights: only nodes that feed the output, each summing its
/// parents, the output's unchosen nodes as zeros.
///
/// Two choices differ from the reference code, both toward NAS-Bench-101's own network: the
/// pool between stacks is 2x2 stride 2 with "same" padding (32 -> 16 -> 8; the reference pads 1,
/// 32 -> 17 -> 9), and the BNs use PyTorch's momentum 0.1 (the reference's 0.997 is
/// TensorFlow's convention, which in PyTorch keeps only the last batch).
pub struct OneShot1Supernet {
    cfg: OneShot1NetConfig,
    params: Vec<Tensor>,
    names: Vec<String>,
    stem: ConvBnRelu,
    cells: Vec<Cell>,
    post_conv: usize,
    post_bn: Bn,
    fc: (usize, usize),
}

impl OneShot1Supernet {
    /// Builds the weights under `p` (PyTorch's default init; seed with `tch::manual_seed`).
    pub fn new(p: &Path, cfg: &OneShot1NetConfig) -> Result<Self> {
        cfg.validate()?;
        let n = cfg.space.intermediate_nodes();
        let mut list = ParamList::default();
        let stem = ConvBnRelu::new(&(p / "stem"), &mut list, cfg.in_channels, cfg.channels, 3);
        let mut cells = Vec::with_capacity(cfg.layers);
        for (i, (c_in, c)) in cfg.cell_channels().into_iter().enumerate() {
            let pc = p / "cells" / i;
            let proj = (1..=n)
                .map(|v| ConvBnRelu::new(&(&pc / "proj" / v), &mut list, c_in, c, 1))
                .collect();
            let proj_out = ConvBnRelu::new(&(&pc / "proj_out"), &mut list, c_in, c * n as i64, 1);
            let conv3x3 = (1..=n)
                .map(|v| ConvBnRelu::new(&(&pc / "node" / v / "conv3x3"), &mut list, c, c, 3))
                .collect();
            let conv1x1 = (1..=n)
                .map(|v| ConvBnRelu::new(&(&pc / "node" / v / "conv1x1"), &mut list, c, c, 1))
                .collect();
            cells.push(Cell { c, proj, proj_out, conv3x3, conv1x1 });
        }
        let c_last = cfg.cell_channels().last().map_or(cfg.channels, |&(_, c)| c);
        let post_conv = list.conv_weight(&(p / "postprocess"), c_last, c_last * n as i64, 1);
        let post_bn = list.bn(&(p / "postprocess" / "bn"), c_last, false, true);
        let fc = list.linear(&(p / "classifier"), c_last, cfg.num_classes);
        Ok(OneShot1Supernet {
            cfg: *cfg,
            params: list.tensors,
            names: list.names,
            stem,
            cells,
            post_conv,
            post_bn,
            fc,
        })
    }

    /// The config the supernet was built with.
    pub fn config(&self) -> &OneShot1NetConfig {
        &self.cfg
    }

    /// Number of trainable weights (architecture parameters excluded).
    pub fn param_count(&self) -> i64 {
        self.params.iter().map(|t| t.numel() as i64).sum()
    }

    fn check_cell(&self, g: &OneShot1Cell) {
        if g.space != self.cfg.space {
            panic!("cell {g} is not of the supernet's space {}", self.cfg.space);
        }
        if let Err(e) = g.validate() {
            panic!("{e}");
        }
    }

    fn forward_impl(
        &self,
        params: &[Tensor],
        x: &Tensor,
        mix: &EdgeMix<OneShot1Cell>,
        train: bool,
    ) -> Tensor {
        assert_eq!(
            params.len(),
            self.params.len(),
            "expected {} weight tensors",
            self.params.len()
        );
        let space = self.cfg.space;
        let (rows, cols) = space.relaxation_shape();
        if let Err(e) = mix.validate_shape(rows, cols) {
            panic!("{e}");
        }
        let prepared = match mix {
            EdgeMix::Soft(w) => Prepared::Soft(normalized_rows(space, w)),
            EdgeMix::Path(g) => {
                self.check_cell(g);
                Prepared::Path(g, g.live_nodes(), None)
            }
            EdgeMix::WeightedPath(g, w) => {
                self.check_cell(g);
                Prepared::Path(g, g.live_nodes(), Some(w.unbind(0)))
            }
        };
        let mut s = self.stem.forward(params, &crate::layout::compute_layout(x), train);
        for (i, cell) in self.cells.iter().enumerate() {
            if self.cfg.pools_before(i) {
                // "Same" 2x2/2 pooling: a partial window at an odd edge pools what it covers.
                s = s.max_pool2d([2, 2], [2, 2], [0, 0], [1, 1], true);
            }
            s = self.cell_forward(cell, params, &s, &prepared, train);
        }
        let y =
            s.relu().conv2d(&params[self.post_conv], None::<&Tensor>, [1, 1], [0, 0], [1, 1], 1);
        let y = self.post_bn.forward(params, &y, train);
        let pooled = y.mean_dim([2i64, 3].as_slice(), false, None::<tch::Kind>);
        pooled.linear(&params[self.fc.0], Some(&params[self.fc.1]))
    }

    fn node_op(
        cell: &Cell,
        params: &[Tensor],
        v: usize,
        op: Nb101Op,
        x: &Tensor,
        train: bool,
    ) -> Tensor {
        match op {
            Nb101Op::MaxPool3x3 => x.max_pool2d([3, 3], [1, 1], [1, 1], [1, 1], false),
            Nb101Op::Conv3x3 => cell.conv3x3[v - 1].forward(params, x, train),
            Nb101Op::Conv1x1 => cell.conv1x1[v - 1].forward(params, x, train),
        }
    }

    fn cell_forward(
        &self,
        cell: &Cell,
        params: &[Tensor],
        s0: &Tensor,
        mix: &Prepared,
        train: bool,
    ) -> Tensor {
        let space = self.cfg.space;
        let n = space.intermediate_nodes();
        match mix {
            Prepared::Soft(w) => {
                let mut states: Vec<Tensor> = Vec::with_capacity(n);
                for v in 1..=n {
                    let proj = cell.proj[v - 1].forward(params, s0, train);
                    let inputs = std::iter::once(&proj).chain(states.iter());
                    let x = if space.chooses_parents(v) {
                        let pw = &w[space.parent_row(v)];
                        sum(inputs.zip(pw).map(|(t, w)| t * w))
                    } else {
                        sum(inputs.map(Tensor::shallow_clone))
                    };
                    let ow = &w[space.op_row(v)];
                    let y = sum(ONESHOT1_OPS
                        .iter()
                        .zip(ow)
                        .map(|(&op, w)| Self::node_op(cell, params, v, op, &x, train) * w));
                    states.push(y);
                }
                let ww = &w[space.parent_row(n + 1)];
                let cat: Vec<Tensor> = states.iter().zip(&ww[1..]).map(|(t, w)| t * w).collect();
                cell.proj_out.forward(params, s0, train) * &ww[0] + Tensor::cat(&cat, 1)
            }
            Prepared::Path(g, live, scale) => {
                let mut states: Vec<Option<Tensor>> = Vec::with_capacity(n);
                for v in 1..=n {
                    if !live[v] {
                        states.push(None);
                        continue;
                    }
                    let x = sum(g.parents[v - 1].iter().map(|&p| {
                        if p == 0 {
                            cell.proj[v - 1].forward(params, s0, train)
                        } else {
                            states[p - 1]
                                .as_ref()
                                .expect("a live node's parents are live")
                                .shallow_clone()
                        }
                    }));
                    let y = Self::node_op(cell, params, v, g.ops[v - 1], &x, train);
                    states.push(Some(match scale {
                        Some(w) => y * &w[space.op_row(v)],
                        None => y,
                    }));
                }
                let out_parents = &g.parents[n];
                let zeros = || {
                    let mut shape = s0.size();
                    shape[1] = cell.c;
                    Tensor::zeros(shape, (s0.kind(), s0.device()))
                };
                let cat: Vec<Tensor> = (1..=n)
                    .map(|v| match (&states[v - 1], out_parents.contains(&v)) {
                        (Some(t), true) => t.shallow_clone(),
                        _ => zeros(),
                    })
                    .collect();
                let cat = Tensor::cat(&cat, 1);
                if out_parents.contains(&0) {
                    cell.proj_out.forward(params, s0, train) + cat
                } else {
                    cat
                }
            }
        }
    }

    /// Indices of the weights a single-path forward of `g` uses: the stem; in every cell the
    /// projections and ops of the nodes that feed the output and the input's projection onto
    /// the output when the output reads the input; the post-process and the classifier.
    pub fn path_param_indices(&self, g: &OneShot1Cell) -> Vec<usize> {
        let mut out: Vec<usize> = self.stem.indices().collect();
        let n = self.cfg.space.intermediate_nodes();
        let live = g.live_nodes();
        for cell in &self.cells {
            for v in (1..=n).filter(|&v| live[v]) {
                if g.parents[v - 1].contains(&0) {
                    out.extend(cell.proj[v - 1].indices());
                }
                match g.ops[v - 1] {
                    Nb101Op::Conv3x3 => out.extend(cell.conv3x3[v - 1].indices()),
                    Nb101Op::Conv1x1 => out.extend(cell.conv1x1[v - 1].indices()),
                    Nb101Op::MaxPool3x3 => {}
                }
            }
            if g.parents[n].contains(&0) {
                out.extend(cell.proj_out.indices());
            }
        }
        out.extend([self.post_conv, self.fc.0, self.fc.1]);
        out
    }
}

/// Sums tensors (at least one).
fn sum(mut it: impl Iterator<Item = Tensor>) -> Tensor {
    let first = it.next().expect("a node sums at least one input");
    it.fold(first, |a, t| a + t)
}

/// The relaxation's rows, each cut to its valid entries and renormalised over them (the
/// softmax over a row's valid entries when `w` is the softmax of the padded row).
fn normalized_rows(space: OneShot1Space, w: &Tensor) -> Vec<Vec<Tensor>> {
    let (rows, cols) = space.relaxation_shape();
    let mask = space.relaxation_mask().expect("the 1shot1 spaces pad their rows");
    (0..rows)
        .map(|r| {
            let valid = mask[r * cols..][..cols].iter().filter(|&&b| b).count() as i64;
            let row = w.get(r as i64).narrow(0, 0, valid);
            let row = &row / row.sum(row.kind());
            row.unbind(0)
        })
        .collect()
}

/// Trainable parameters of NAS-Bench-101's stand-alone network for `spec` (`model_builder`:
/// channels split over the output's inputs by `compute_vertex_channels`, 1x1 projections of
/// the input, conv-BN-ReLU ops with BN scale and offset, a dense classifier): stem `channels`,
/// `layers` cells pooled and doubled before cells `layers / 3` and `2 * layers / 3`. At 128
/// channels, 9 cells and 10 classes this is the benchmark's `trainable_parameters`.
pub fn nb101_param_count(spec: &Nb101Spec, cfg: &OneShot1NetConfig) -> i64 {
    let conv_bn = |c_in: i64, c_out: i64, k: i64| k * k * c_in * c_out + 2 * c_out;
    let Some(spec) = spec.pruned() else { return 0 };
    let mut params = conv_bn(cfg.in_channels, cfg.channels, 3);
    let (mut c_in, mut c) = (cfg.channels, cfg.channels);
    for i in 0..cfg.layers {
        if cfg.pools_before(i) {
            c *= 2;
        }
        params += nb101_module_params(&spec, c_in, c, &conv_bn);
        c_in = c;
    }
    params + c * cfg.num_classes + cfg.num_classes
}

/// One NAS-Bench-101 module's weights, `c_in` channels in and `c_out` out.
fn nb101_module_params(
    spec: &Nb101Spec,
    c_in: i64,
    c_out: i64,
    conv_bn: &dyn Fn(i64, i64, i64) -> i64,
) -> i64 {
    let n = spec.vertices();
    let m = &spec.matrix;
    let out = n - 1;
    let mut vc = vec![0i64; n];
    vc[0] = c_in;
    vc[out] = c_out;
    // `compute_vertex_channels`: the output's interior inputs split its channels (the first
    // ones one more on a remainder); other vertices take their widest interior successor.
    let fan_in = (1..out).filter(|&v| m[v][out]).count() as i64;
    if fan_in > 0 {
        let mut extra = c_out % fan_in;
        for v in (1..out).filter(|&v| m[v][out]) {
            vc[v] = c_out / fan_in + i64::from(extra > 0);
            extra = (extra - 1).max(0);
        }
    }
    for v in (1..out).rev() {
        if !m[v][out] {
            vc[v] = (v + 1..out).filter(|&d| m[v][d]).map(|d| vc[d]).max().unwrap_or(0);
        }
    }
    let mut params = 0;
    for v in 1..out {
        if m[0][v] {
            params += conv_bn(c_in, vc[v], 1);
        }
        params += match spec.ops[v - 1] {
            Nb101Op::Conv3x3 => conv_bn(vc[v], vc[v], 3),
            Nb101Op::Conv1x1 => conv_bn(vc[v], vc[v], 1),
            Nb101Op::MaxPool3x3 => 0,
        };
    }
    if fan_in == 0 || m[0][out] {
        params += conv_bn(c_in, c_out, 1);
    }
    params
}

impl Supernet for OneShot1Supernet {
    type Space = OneShot1Space;
    type Config = OneShot1NetConfig;

    fn build(p: &Path, cfg: &OneShot1NetConfig) -> Result<Self> {
        OneShot1Supernet::new(p, cfg)
    }

    fn space(&self) -> OneShot1Space {
        self.cfg.space
    }

    fn forward_mix(&self, x: &Tensor, mix: &EdgeMix<OneShot1Cell>, train: bool) -> Tensor {
        self.forward_impl(&self.params, x, mix, train)
    }

    fn forward_mix_with(
        &self,
        params: &[Tensor],
        x: &Tensor,
        mix: &EdgeMix<OneShot1Cell>,
    ) -> Tensor {
        self.forward_impl(params, x, mix, true)
    }

    fn weights(&self) -> Vec<Tensor> {
        self.params.iter().map(Tensor::shallow_clone).collect()
    }

    fn weight_names(&self) -> &[String] {
        &self.names
    }

    fn path_weight_indices(&self, g: &OneShot1Cell) -> Vec<usize> {
        self.path_param_indices(g)
    }

    /// NAS-Bench-101's stand-alone network for the cell at the supernet's size.
    fn standalone_param_count(&self, g: &OneShot1Cell) -> u64 {
        nb101_param_count(&g.to_nb101(), &self.cfg).max(0) as u64
    }
}
