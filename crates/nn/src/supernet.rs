//! The NAS-Bench-201 supernet: every candidate op on every edge, mixed by an [`EdgeMix`].

use sotl_space::nb201::{Nb201Arch, Nb201Op, NB201_EDGES, NB201_EDGE_ENDPOINTS, NB201_NODES};
use tch::nn::Path;
use tch::Tensor;

use crate::config::LayerKind;
use crate::ops::{avg_pool_3x3, conv_same, Bn, Head, ParamList, Reduction, Stem};
use crate::topology::live_edges;
use crate::{counts, EdgeMix, Nb201NetConfig, Result};

/// Weight indices of one search cell: for each edge, `(weight, bias)` of its 1x1 and 3x3 convs.
pub(crate) struct SearchCell {
    pub(crate) conv1x1: [(usize, usize); NB201_EDGES],
    pub(crate) conv3x3: [(usize, usize); NB201_EDGES],
}

pub(crate) enum SearchLayer {
    Cell(SearchCell),
    Reduction(Reduction),
}

/// The NAS-Bench-201 weight-sharing supernet (AutoDL-Projects' `TinyNetworkDarts` /
/// `TinyNetworkRANDOM` with `affine=False, track_running_stats=False`).
///
/// Cells hold all five candidate ops on each of their six edges. Their convolutions carry a bias
/// and their BNs have no affine parameters and no running statistics (batch statistics always),
/// as the reference search code. The stem, the two residual reduction blocks and the final BN are
/// shared by every architecture and keep affine BNs with running statistics, also as the reference.
/// Architecture parameters are not owned here: the caller turns them into an [`EdgeMix`].
///
/// # Weight order
/// [`Nb201Supernet::params`] lists the trainable tensors in the reference `get_weights()` order:
/// stem conv weight, stem BN weight, bias; then for each body layer in order, a cell's edges in
/// arch-string order (`1<-0, 2<-0, 2<-1, 3<-0, 3<-1, 3<-2`), each as conv1x1 weight, conv1x1 bias,
/// conv3x3 weight, conv3x3 bias, or a reduction block's conv_a weight, bn_a weight, bias, conv_b
/// weight, bn_b weight, bias, downsample conv weight; then the last BN's weight and bias and the
/// classifier's weight and bias. At C=16, N=5, 10 classes: 381 tensors, 1 692 826 weights.
pub struct Nb201Supernet {
    cfg: Nb201NetConfig,
    /// Partial channels `k`: each cell op sees the first `C/k` channels of its input (1 = all).
    partial: usize,
    params: Vec<Tensor>,
    names: Vec<String>,
    pub(crate) stem: Stem,
    pub(crate) layers: Vec<SearchLayer>,
    pub(crate) head: Head,
}

/// An [`EdgeMix`] unpacked once per forward pass and reused by every cell.
enum Prepared<'a> {
    Soft(Box<[[Tensor; 5]; NB201_EDGES]>),
    Path(&'a Nb201Arch, [bool; NB201_EDGES]),
    Weighted(&'a Nb201Arch, [bool; NB201_EDGES], Vec<Tensor>),
}

/// Search-cell BN: no affine parameters, no running stats.
const CELL_BN: Bn = Bn { affine: None, running: None };

impl Nb201Supernet {
    /// Builds the supernet's weights under `p` (weights in their own VarStore, not with the
    /// architecture parameters). Init follows PyTorch's defaults; seed with `tch::manual_seed`.
    pub fn new(p: &Path, cfg: &Nb201NetConfig) -> Result<Self> {
        Self::with_partial_channels(p, cfg, 1)
    }

    /// [`Nb201Supernet::new`] with partial channels (PC-DARTS; DrNAS' NAS-Bench-201 search,
    /// `NAS201SearchCell_PartialChannel`): on every cell edge the ops see only the first `C/k`
    /// of the input's `C` channels (their convolutions are `C/k` wide), the other channels pass
    /// by unchanged, and the two parts are concatenated and shuffled in `k` groups. `k = 1` is
    /// the plain supernet. `k` must divide the first stage's channels.
    pub fn with_partial_channels(p: &Path, cfg: &Nb201NetConfig, k: usize) -> Result<Self> {
        cfg.validate()?;
        if k == 0 || cfg.channels % k as i64 != 0 {
            return Err(crate::NnError::InvalidConfig {
                field: "partial_channels",
                value: format!("{k} with channels = {}", cfg.channels),
                reason: "must be at least 1 and divide the channels",
            });
        }
        let kk = k as i64;
        let mut list = ParamList::default();
        let stem = Stem::new(&(p / "stem"), &mut list, cfg.in_channels, cfg.channels);
        let mut layers = Vec::with_capacity(cfg.num_layers());
        for (l, kind) in cfg.layers().into_iter().enumerate() {
            let pl = p / format!("layer{l}");
            layers.push(match kind {
                LayerKind::Cell { c, .. } => {
                    let c = c / kk;
                    let mut conv1x1 = [(0, 0); NB201_EDGES];
                    let mut conv3x3 = [(0, 0); NB201_EDGES];
                    for e in 0..NB201_EDGES {
                        let pe = &pl / format!("edge{e}");
                        let p1 = &pe / "conv1x1";
                        conv1x1[e] = (list.conv_weight(&p1, c, c, 1), list.conv_bias(&p1, c, c));
                        let p3 = &pe / "conv3x3";
                        conv3x3[e] =
                            (list.conv_weight(&p3, c, c, 3), list.conv_bias(&p3, c, 9 * c));
                    }
                    SearchLayer::Cell(SearchCell { conv1x1, conv3x3 })
                }
                LayerKind::Reduction { c_in, c_out, .. } => {
                    SearchLayer::Reduction(Reduction::new(&pl, &mut list, c_in, c_out))
                }
            });
        }
        let head = Head::new(p, &mut list, cfg.stage_channels(2), cfg.num_classes);
        Ok(Nb201Supernet {
            cfg: *cfg,
            partial: k,
            params: list.tensors,
            names: list.names,
            stem,
            layers,
            head,
        })
    }

    /// The config the supernet was built with.
    pub fn config(&self) -> &Nb201NetConfig {
        &self.cfg
    }

    /// Partial channels `k` in force (1 = every op sees all channels).
    pub fn partial_channels(&self) -> usize {
        self.partial
    }

    /// Widens the cell ops from `C/k_old` to `C/k` channels (`k` divides `k_old`), as DrNAS
    /// does between its progressive stages (`wider`, net2wider without rescaling): each
    /// convolution gains input channels copied from randomly chosen existing ones, then output
    /// channels (and their biases) likewise, the choices drawn from libtorch's generator (seed
    /// it first). The weight tensors change shape in place (every handle sees the new values;
    /// gradients are reset to zeros of the new shape). Returns, per widened weight, how to
    /// widen state that follows its shape (e.g. momentum), see [`Widened::apply`].
    pub fn widen_partial_channels(&mut self, k: usize) -> Result<Vec<Widened>> {
        if k == 0 || !self.partial.is_multiple_of(k) || k == self.partial {
            return Err(crate::NnError::InvalidConfig {
                field: "partial_channels",
                value: format!("{} -> {k}", self.partial),
                reason: "widening needs a smaller k that divides the current one",
            });
        }
        let mut out = Vec::new();
        let convs: Vec<(usize, usize)> = self
            .layers
            .iter()
            .filter_map(|l| match l {
                SearchLayer::Cell(c) => Some(c),
                SearchLayer::Reduction(_) => None,
            })
            .flat_map(|c| c.conv1x1.iter().chain(c.conv3x3.iter()).copied().collect::<Vec<_>>())
            .collect();
        tch::no_grad(|| {
            for (w, b) in convs {
                let weight = &self.params[w];
                let (co, ci) = (weight.size()[0], weight.size()[1]);
                let (co_new, ci_new) =
                    (co * (self.partial / k) as i64, ci * (self.partial / k) as i64);
                let opts = (tch::Kind::Int64, weight.device());
                let in_index = Tensor::randint_low(0, ci, [ci_new - ci], opts);
                let out_index = Tensor::randint_low(0, co, [co_new - co], opts);
                let wide = Widened {
                    index: w,
                    in_index: Some(in_index),
                    out_index: Some(out_index.shallow_clone()),
                };
                set_shape(&self.params[w], &wide.apply(weight));
                out.push(wide);
                let bias = Widened { index: b, in_index: None, out_index: Some(out_index) };
                set_shape(&self.params[b], &bias.apply(&self.params[b]));
                out.push(bias);
            }
        });
        self.partial = k;
        Ok(out)
    }

    /// The trainable weights in the documented order (shallow clones sharing the VarStore's storage).
    pub fn params(&self) -> Vec<Tensor> {
        self.params.iter().map(Tensor::shallow_clone).collect()
    }

    /// VarStore names of [`Self::params`], in the same order.
    pub fn param_names(&self) -> &[String] {
        &self.names
    }

    /// Number of trainable weights (architecture parameters excluded).
    pub fn param_count(&self) -> i64 {
        self.params.iter().map(|t| t.numel() as i64).sum()
    }

    /// Indices into [`Self::params`] of the weights a single-path forward of `arch` uses: the stem,
    /// reduction blocks, head and the convs of the edges that can affect the output
    /// ([`crate::live_edges`]); for a cell without such an edge (e.g. all `none`), only the head.
    /// Exactly these receive gradients from a `Path` forward; an optimizer should leave the
    /// others untouched.
    pub fn path_param_indices(&self, arch: &Nb201Arch) -> Vec<usize> {
        let live = live_edges(arch);
        let head = self
            .head
            .bn
            .affine
            .iter()
            .flat_map(|&(g, b)| [g, b])
            .chain([self.head.fc_w, self.head.fc_b]);
        // Without a live edge every cell outputs zeros, so only the head after the last one counts.
        if !live.contains(&true) && self.cfg.cells_per_stage > 0 {
            return head.collect();
        }
        let mut out: Vec<usize> = self.stem.indices().collect();
        for layer in &self.layers {
            match layer {
                SearchLayer::Cell(c) => {
                    for e in (0..NB201_EDGES).filter(|&e| live[e]) {
                        match arch.ops[e] {
                            Nb201Op::NorConv1x1 => out.extend([c.conv1x1[e].0, c.conv1x1[e].1]),
                            Nb201Op::NorConv3x3 => out.extend([c.conv3x3[e].0, c.conv3x3[e].1]),
                            _ => {}
                        }
                    }
                }
                SearchLayer::Reduction(r) => out.extend(reduction_indices(r)),
            }
        }
        out.extend(head);
        out
    }

    /// Number of weights in [`Self::path_param_indices`].
    pub fn path_param_count(&self, arch: &Nb201Arch) -> i64 {
        self.path_param_indices(arch).iter().map(|&i| self.params[i].numel() as i64).sum()
    }

    /// Forward MFLOPs per image of the whole supernet (every op on every edge), counted as
    /// AutoDL-Projects' `flop_benchmark` does: conv/linear multiply-accumulates plus bias adds.
    pub fn mflops(&self) -> f64 {
        counts::supernet_mflops(&self.cfg)
    }

    /// Forward MFLOPs per image of the single path `arch`, reference convention (every non-`none`
    /// op counted, as the reference runs them all, even those this crate skips as dead).
    pub fn path_mflops(&self, arch: &Nb201Arch) -> f64 {
        counts::supernet_path_mflops(&self.cfg, arch)
    }

    /// Logits in train mode: `forward_with(&self.params(), x, mix)`.
    ///
    /// # Shapes
    /// `x: [B, in_channels, H, W]` -> `[B, num_classes]`.
    ///
    /// # Panics
    /// If `mix` has the wrong shape ([`EdgeMix::validate`]) or `x` does not match the config: bugs.
    pub fn forward(&self, x: &Tensor, mix: &EdgeMix) -> Tensor {
        self.forward_with_t(&self.params, x, mix, true)
    }

    /// Logits; with `train == false` the stem, reduction and last BNs use their running statistics
    /// (cell BNs always use batch statistics, as the reference's `track_running_stats=False`).
    /// In train mode those running statistics are updated in place.
    ///
    /// # Shapes
    /// `x: [B, in_channels, H, W]` -> `[B, num_classes]`.
    pub fn forward_t(&self, x: &Tensor, mix: &EdgeMix, train: bool) -> Tensor {
        self.forward_with_t(&self.params, x, mix, train)
    }

    /// Train-mode logits computed with `params` in place of the supernet's own weights (same order
    /// and shapes as [`Self::params`]); they may be non-leaf tensors, e.g. weights after unrolled
    /// SGD steps that depend on architecture parameters, and gradients flow through them.
    ///
    /// # Shapes
    /// `x: [B, in_channels, H, W]` -> `[B, num_classes]`.
    ///
    /// # Panics
    /// If `params` does not have [`Self::params`]'s length, or `mix` is malformed: bugs.
    pub fn forward_with(&self, params: &[Tensor], x: &Tensor, mix: &EdgeMix) -> Tensor {
        self.forward_with_t(params, x, mix, true)
    }

    /// [`Self::forward_with`] with a train/eval flag (see [`Self::forward_t`]).
    ///
    /// # Shapes
    /// `x: [B, in_channels, H, W]` -> `[B, num_classes]`.
    pub fn forward_with_t(
        &self,
        params: &[Tensor],
        x: &Tensor,
        mix: &EdgeMix,
        train: bool,
    ) -> Tensor {
        assert_eq!(
            params.len(),
            self.params.len(),
            "forward_with: expected {} weight tensors",
            self.params.len()
        );
        if let Err(e) = mix.validate() {
            panic!("{e}");
        }
        let prepared = match mix {
            EdgeMix::Soft(w) => Prepared::Soft(Box::new(std::array::from_fn(|e| {
                let row = w.select(0, e as i64);
                std::array::from_fn(|k| row.select(0, k as i64))
            }))),
            EdgeMix::Path(a) => Prepared::Path(a, live_edges(a)),
            EdgeMix::WeightedPath(a, w) => Prepared::Weighted(a, live_edges(a), w.unbind(0)),
        };
        let mut h = Some(self.stem.forward(params, x, train));
        let mut shape = h.as_ref().map(Tensor::size).unwrap_or_default();
        for layer in &self.layers {
            h = match layer {
                SearchLayer::Cell(c) => cell_forward(c, params, h, &prepared, self.partial),
                SearchLayer::Reduction(r) => {
                    let input = h
                        .unwrap_or_else(|| Tensor::zeros(shape.as_slice(), (x.kind(), x.device())));
                    let y = r.forward(params, &input, train);
                    shape = y.size();
                    Some(y)
                }
            };
        }
        let h = h.unwrap_or_else(|| Tensor::zeros(shape.as_slice(), (x.kind(), x.device())));
        self.head.forward(params, &h, train)
    }
}

/// Indices of a reduction block's weights, in `params()` order.
pub(crate) fn reduction_indices(r: &Reduction) -> Vec<usize> {
    let mut out = vec![r.conv_a];
    out.extend(r.bn_a.affine.iter().flat_map(|&(g, b)| [g, b]));
    out.push(r.conv_b);
    out.extend(r.bn_b.affine.iter().flat_map(|&(g, b)| [g, b]));
    out.push(r.down);
    out
}

/// One search cell. `None` stands for an all-zero map: every search-cell op maps zero to zero
/// (conv bias is removed by the affine-free batch-statistics BN), so zero inputs skip all work.
/// With partial channels `k > 1`, each edge's ops read the first `C/k` channels of their input
/// and the edge outputs `shuffle_k([ops(x[:C/k]), x[C/k:]])` (see
/// [`Nb201Supernet::with_partial_channels`]).
fn cell_forward(
    c: &SearchCell,
    params: &[Tensor],
    input: Option<Tensor>,
    mix: &Prepared,
    partial: usize,
) -> Option<Tensor> {
    let input = input?;
    let mut nodes: [Option<Tensor>; NB201_NODES] = [Some(input), None, None, None];
    // ReLU of a node is shared by every conv reading it (the reference recomputes it per op).
    let mut relus: [Option<Tensor>; NB201_NODES] = [None, None, None, None];
    for (e, &(to, from)) in NB201_EDGE_ENDPOINTS.iter().enumerate() {
        let Some(node) = nodes[from].as_ref() else { continue };
        let (x, rest) = split_channels(node, partial);
        let relu = &mut relus[from];
        let term = match mix {
            Prepared::Soft(w) => {
                let mut acc: Option<Tensor> = None;
                for op in &Nb201Op::ALL[1..] {
                    let y = apply_op(c, params, *op, e, &x, relu).expect("non-none op")
                        * &w[e][op.index()];
                    acc = Some(match acc {
                        None => y,
                        Some(a) => a + y,
                    });
                }
                acc
            }
            Prepared::Path(a, live) => {
                live[e].then(|| apply_op(c, params, a.ops[e], e, &x, relu)).flatten()
            }
            Prepared::Weighted(a, live, w) => live[e]
                .then(|| apply_op(c, params, a.ops[e], e, &x, relu).map(|y| y * &w[e]))
                .flatten(),
        };
        let term = match rest {
            None => term,
            Some(rest) => {
                let ops = term.unwrap_or_else(|| x.zeros_like());
                Some(channel_shuffle(&Tensor::cat(&[ops, rest], 1), partial as i64))
            }
        };
        if let Some(t) = term {
            nodes[to] = Some(match nodes[to].take() {
                None => t,
                Some(acc) => acc + t,
            });
        }
    }
    nodes[NB201_NODES - 1].take()
}

/// The first `C/k` channels of `x` and, for `k > 1`, the rest.
fn split_channels(x: &Tensor, k: usize) -> (Tensor, Option<Tensor>) {
    if k <= 1 {
        return (x.shallow_clone(), None);
    }
    let c = x.size()[1];
    let head = c / k as i64;
    (x.narrow(1, 0, head), Some(x.narrow(1, head, c - head)))
}

/// ShuffleNet's channel shuffle: `[B, C, H, W]` seen as `k` groups of `C/k` channels, the
/// channel at group `g`, position `i` moves to `i * k + g`.
pub fn channel_shuffle(x: &Tensor, k: i64) -> Tensor {
    let s = x.size();
    let y = x
        .view([s[0], k, s[1] / k, s[2], s[3]])
        .transpose(1, 2)
        .contiguous()
        .view([s[0], s[1], s[2], s[3]]);
    // The copy above is contiguous NCHW: back to the layout the rest of the network runs in.
    crate::layout::compute_layout(&y)
}

/// How one weight was widened: input channels (dim 1) gained copies of `in_index`, then output
/// channels (dim 0) copies of `out_index`.
#[derive(Debug)]
pub struct Widened {
    /// Index of the weight in the supernet's weight order.
    pub index: usize,
    /// Input channels copied onto the end, in order.
    pub in_index: Option<Tensor>,
    /// Output channels copied onto the end, in order.
    pub out_index: Option<Tensor>,
}

impl Widened {
    /// `t` (shaped like the weight before widening) widened the same way: the weight itself,
    /// or state that follows its shape such as a momentum buffer.
    pub fn apply(&self, t: &Tensor) -> Tensor {
        let mut t = t.shallow_clone();
        if let Some(i) = &self.in_index {
            t = Tensor::cat(&[t.shallow_clone(), t.index_select(1, i)], 1);
        }
        if let Some(o) = &self.out_index {
            t = Tensor::cat(&[t.shallow_clone(), t.index_select(0, o)], 0);
        }
        t
    }
}

/// Gives `param` the values (and shape) of `value` in place, and a zero gradient of that shape
/// when it had one, so optimizers and autograd keep working on the same tensor.
fn set_shape(param: &Tensor, value: &Tensor) {
    let mut p = param.shallow_clone();
    p.set_data(&value.detach());
    let mut g = p.grad();
    if g.defined() {
        g.set_data(&value.zeros_like());
    }
}

/// Applies op `op` of edge `e` to `x`; `None` for the zero op.
fn apply_op(
    c: &SearchCell,
    params: &[Tensor],
    op: Nb201Op,
    e: usize,
    x: &Tensor,
    relu: &mut Option<Tensor>,
) -> Option<Tensor> {
    let (w, b, k) = match op {
        Nb201Op::None => return None,
        Nb201Op::SkipConnect => return Some(x.shallow_clone()),
        Nb201Op::AvgPool3x3 => return Some(avg_pool_3x3(x)),
        Nb201Op::NorConv1x1 => (c.conv1x1[e].0, c.conv1x1[e].1, 1),
        Nb201Op::NorConv3x3 => (c.conv3x3[e].0, c.conv3x3[e].1, 3),
    };
    let r = relu.get_or_insert_with(|| x.relu());
    Some(CELL_BN.forward(params, &conv_same(params, r, w, Some(b), k), true))
}
