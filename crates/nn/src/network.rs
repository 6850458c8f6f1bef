//! A standalone NAS-Bench-201 network for one cell, and weight inheritance from the supernet.

use sotl_space::nb201::{Nb201Arch, Nb201Op, NB201_EDGES, NB201_EDGE_ENDPOINTS, NB201_NODES};
use tch::nn::{ModuleT, Path};
use tch::Tensor;

use crate::config::LayerKind;
use crate::ops::{avg_pool_3x3, conv_same, Bn, Head, ParamList, Reduction, Stem};
use crate::supernet::{reduction_indices, SearchLayer};
use crate::topology::useful_edges;
use crate::{counts, Nb201NetConfig, Nb201Supernet, NnError, Result};

/// One edge op of a standalone cell.
enum NetOp {
    Skip,
    Pool,
    /// `ReLU-Conv(k)-BN`, conv without bias, affine BN with running stats.
    Conv {
        k: i64,
        w: usize,
        bn: Bn,
    },
}

enum NetLayer {
    /// A cell's ops by edge; `None` on `none` edges.
    Cell(Box<[Option<NetOp>; NB201_EDGES]>),
    Reduction(Reduction),
}

/// A NAS-Bench-201 network for one fixed cell, as the benchmark trains it (AutoDL-Projects'
/// `TinyNetwork` with `InferCell`): affine BNs with running statistics everywhere, convs without
/// bias. Parameter counts equal the reference's for every cell.
///
/// # Weight order
/// [`Nb201Network::params`] follows the reference module order: stem conv weight, stem BN weight,
/// bias; per body layer, a cell's non-`none`, parametric edges in arch-string order as conv weight,
/// BN weight, BN bias, or a reduction block as in [`Nb201Supernet`]; last BN weight, bias;
/// classifier weight, bias.
pub struct Nb201Network {
    cfg: Nb201NetConfig,
    arch: Nb201Arch,
    useful: [bool; NB201_EDGES],
    params: Vec<Tensor>,
    names: Vec<String>,
    stem: Stem,
    layers: Vec<NetLayer>,
    head: Head,
}

impl std::fmt::Debug for Nb201Network {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Nb201Network({}, {:?})", self.arch, self.cfg)
    }
}

impl Nb201Network {
    /// Builds the network of `arch` under `p`, PyTorch default init (seed with `tch::manual_seed`).
    pub fn new(p: &Path, arch: &Nb201Arch, cfg: &Nb201NetConfig) -> Result<Self> {
        cfg.validate()?;
        let mut list = ParamList::default();
        let stem = Stem::new(&(p / "stem"), &mut list, cfg.in_channels, cfg.channels);
        let mut layers = Vec::with_capacity(cfg.num_layers());
        for (l, kind) in cfg.layers().into_iter().enumerate() {
            let pl = p / format!("layer{l}");
            layers.push(match kind {
                LayerKind::Cell { c, .. } => NetLayer::Cell(Box::new(std::array::from_fn(|e| {
                    let pe = &pl / format!("edge{e}");
                    match arch.ops[e] {
                        Nb201Op::None => None,
                        Nb201Op::SkipConnect => Some(NetOp::Skip),
                        Nb201Op::AvgPool3x3 => Some(NetOp::Pool),
                        Nb201Op::NorConv1x1 | Nb201Op::NorConv3x3 => {
                            let k = if arch.ops[e] == Nb201Op::NorConv1x1 { 1 } else { 3 };
                            let w = list.conv_weight(&(&pe / "conv"), c, c, k);
                            let bn = list.bn(&(&pe / "bn"), c, true, true);
                            Some(NetOp::Conv { k, w, bn })
                        }
                    }
                }))),
                LayerKind::Reduction { c_in, c_out, .. } => {
                    NetLayer::Reduction(Reduction::new(&pl, &mut list, c_in, c_out))
                }
            });
        }
        let head = Head::new(p, &mut list, cfg.stage_channels(2), cfg.num_classes);
        Ok(Nb201Network {
            cfg: *cfg,
            arch: *arch,
            useful: useful_edges(arch),
            params: list.tensors,
            names: list.names,
            stem,
            layers,
            head,
        })
    }

    /// The cell this network was built from.
    pub fn arch(&self) -> &Nb201Arch {
        &self.arch
    }

    /// The config this network was built with.
    pub fn config(&self) -> &Nb201NetConfig {
        &self.cfg
    }

    /// The trainable weights in the documented order (shallow clones sharing the VarStore's storage).
    pub fn params(&self) -> Vec<Tensor> {
        self.params.iter().map(Tensor::shallow_clone).collect()
    }

    /// VarStore names of [`Self::params`], in the same order.
    pub fn param_names(&self) -> &[String] {
        &self.names
    }

    /// Number of trainable weights; equals AutoDL-Projects' `TinyNetwork` count for the same cell.
    pub fn param_count(&self) -> i64 {
        self.params.iter().map(|t| t.numel() as i64).sum()
    }

    /// Forward MFLOPs per image (AutoDL-Projects' `flop_benchmark` convention).
    pub fn mflops(&self) -> f64 {
        counts::standalone_mflops(&self.cfg, &self.arch)
    }

    /// Logits. In train mode BNs use batch statistics and update their running statistics in
    /// place; in eval mode they use the running statistics.
    ///
    /// # Shapes
    /// `x: [B, in_channels, H, W]` -> `[B, num_classes]`.
    pub fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        let p = &self.params;
        let mut h = self.stem.forward(p, x, train);
        for layer in &self.layers {
            h = match layer {
                NetLayer::Cell(ops) => self.cell_forward(ops, &h, train),
                NetLayer::Reduction(r) => r.forward(p, &h, train),
            };
        }
        self.head.forward(p, &h, train)
    }

    /// One cell. `None` stands for an all-zero map. Unlike the supernet's, an affine BN turns a
    /// zero input into its bias, so a conv fed a zero node still runs (as BN of zeros: the conv
    /// has no bias, so its output is exactly zero). Edges that cannot reach the output are skipped.
    fn cell_forward(
        &self,
        ops: &[Option<NetOp>; NB201_EDGES],
        input: &Tensor,
        train: bool,
    ) -> Tensor {
        let p = &self.params;
        let mut nodes: [Option<Tensor>; NB201_NODES] =
            [Some(input.shallow_clone()), None, None, None];
        let mut relus: [Option<Tensor>; NB201_NODES] = [None, None, None, None];
        for (e, &(to, from)) in NB201_EDGE_ENDPOINTS.iter().enumerate() {
            let op = match &ops[e] {
                Some(op) if self.useful[e] => op,
                _ => continue,
            };
            let term = match (op, nodes[from].as_ref()) {
                (NetOp::Skip, Some(x)) => Some(x.shallow_clone()),
                (NetOp::Pool, Some(x)) => Some(avg_pool_3x3(x)),
                (NetOp::Skip | NetOp::Pool, None) => None,
                (NetOp::Conv { k, w, bn }, Some(x)) => {
                    let r = relus[from].get_or_insert_with(|| x.relu());
                    Some(bn.forward(p, &conv_same(p, r, *w, None, *k), train))
                }
                (NetOp::Conv { bn, .. }, None) => Some(bn.forward(p, &input.zeros_like(), train)),
            };
            if let Some(t) = term {
                nodes[to] = Some(match nodes[to].take() {
                    None => t,
                    Some(acc) => acc + t,
                });
            }
        }
        nodes[NB201_NODES - 1].take().unwrap_or_else(|| input.zeros_like())
    }

    /// The network's weights and BN buffers under the parameter names of AutoDL-Projects'
    /// `TinyNetwork` for the same cell (`stem.0.weight`, `cells.3.layers.2.op.1.weight`,
    /// `cells.5.conv_a.op.2.running_mean`, `lastact.0.bias`, `classifier.weight`, ...), so that
    /// module's `load_state_dict(strict=True)` takes them. `batches_tracked` fills every BN's
    /// `num_batches_tracked` (the training steps run: each BN saw one batch per step).
    ///
    /// Cell layer `j` of the reference is the cell's `j`-th edge in arch-string order (`InferCell`
    /// keeps a module for every edge, `none` included), so names follow edges, not counts.
    pub fn tiny_network_state_dict(&self, batches_tracked: i64) -> Vec<(String, Tensor)> {
        let p = &self.params;
        let mut out: Vec<(String, Tensor)> = Vec::with_capacity(p.len() * 2);
        let bn = |out: &mut Vec<(String, Tensor)>, prefix: &str, bn: &Bn| {
            if let Some((g, b)) = bn.affine {
                out.push((format!("{prefix}.weight"), p[g].shallow_clone()));
                out.push((format!("{prefix}.bias"), p[b].shallow_clone()));
            }
            if let Some((m, v)) = &bn.running {
                out.push((format!("{prefix}.running_mean"), m.shallow_clone()));
                out.push((format!("{prefix}.running_var"), v.shallow_clone()));
                let n = Tensor::from(batches_tracked).to_device(m.device());
                out.push((format!("{prefix}.num_batches_tracked"), n));
            }
        };
        out.push(("stem.0.weight".into(), p[self.stem.conv].shallow_clone()));
        bn(&mut out, "stem.1", &self.stem.bn);
        for (l, layer) in self.layers.iter().enumerate() {
            match layer {
                NetLayer::Cell(ops) => {
                    for (e, op) in ops.iter().enumerate() {
                        if let Some(NetOp::Conv { w, bn: b, .. }) = op {
                            out.push((
                                format!("cells.{l}.layers.{e}.op.1.weight"),
                                p[*w].shallow_clone(),
                            ));
                            bn(&mut out, &format!("cells.{l}.layers.{e}.op.2"), b);
                        }
                    }
                }
                NetLayer::Reduction(r) => {
                    out.push((
                        format!("cells.{l}.conv_a.op.1.weight"),
                        p[r.conv_a].shallow_clone(),
                    ));
                    bn(&mut out, &format!("cells.{l}.conv_a.op.2"), &r.bn_a);
                    out.push((
                        format!("cells.{l}.conv_b.op.1.weight"),
                        p[r.conv_b].shallow_clone(),
                    ));
                    bn(&mut out, &format!("cells.{l}.conv_b.op.2"), &r.bn_b);
                    out.push((format!("cells.{l}.downsample.1.weight"), p[r.down].shallow_clone()));
                }
            }
        }
        bn(&mut out, "lastact.0", &self.head.bn);
        out.push(("classifier.weight".into(), p[self.head.fc_w].shallow_clone()));
        out.push(("classifier.bias".into(), p[self.head.fc_b].shallow_clone()));
        out
    }

    /// Copies weights out of `supernet` (built with the same config) for this network's cell.
    ///
    /// Mapping: the stem, both reduction blocks, the last BN and the classifier are copied
    /// one-to-one, running statistics included. In every cell, the conv of each parametric edge
    /// gets the supernet's weight for that layer, edge and op; the supernet conv's bias is dropped
    /// (a batch-statistics BN removes it exactly). Cell BNs start at weight 1, bias 0, running mean
    /// 0 and variance 1, since the supernet's cell BNs have neither. Consequently, in train mode
    /// (batch statistics), this network's logits equal the supernet's `EdgeMix::Path(arch)` logits
    /// up to float rounding; in eval mode they differ until the cell BNs' running stats are refit.
    pub fn inherit_from_supernet(&mut self, supernet: &Nb201Supernet) -> Result<()> {
        if supernet.config() != &self.cfg {
            return Err(NnError::ConfigMismatch {
                supernet: format!("{:?}", supernet.config()),
                network: format!("{:?}", self.cfg),
            });
        }
        let src = supernet.params();
        let dst = &self.params;
        tch::no_grad(|| -> Result<()> {
            let copy = |d: usize, s: usize| dst[d].shallow_clone().f_copy_(&src[s]).map(drop);
            copy_bn(&self.stem.bn, &supernet.stem.bn, dst, &src)?;
            copy(self.stem.conv, supernet.stem.conv)?;
            for (mine, theirs) in self.layers.iter().zip(&supernet.layers) {
                match (mine, theirs) {
                    (NetLayer::Cell(ops), SearchLayer::Cell(c)) => {
                        for (e, op) in ops.iter().enumerate() {
                            if let Some(NetOp::Conv { k, w, bn }) = op {
                                let s = if *k == 1 { c.conv1x1[e].0 } else { c.conv3x3[e].0 };
                                copy(*w, s)?;
                                reset_bn(bn, dst)?;
                            }
                        }
                    }
                    (NetLayer::Reduction(a), SearchLayer::Reduction(b)) => {
                        for (d, s) in reduction_indices(a).into_iter().zip(reduction_indices(b)) {
                            copy(d, s)?;
                        }
                        copy_bn(&a.bn_a, &b.bn_a, dst, &src)?;
                        copy_bn(&a.bn_b, &b.bn_b, dst, &src)?;
                    }
                    _ => unreachable!("layer kinds come from the same config"),
                }
            }
            copy_bn(&self.head.bn, &supernet.head.bn, dst, &src)?;
            copy(self.head.fc_w, supernet.head.fc_w)?;
            copy(self.head.fc_b, supernet.head.fc_b)?;
            Ok(())
        })
    }
}

/// Copies a BN's affine weights and running stats (both sides have them).
fn copy_bn(dst_bn: &Bn, src_bn: &Bn, dst: &[Tensor], src: &[Tensor]) -> Result<()> {
    if let (Some((dg, db)), Some((sg, sb))) = (dst_bn.affine, src_bn.affine) {
        dst[dg].shallow_clone().f_copy_(&src[sg])?;
        dst[db].shallow_clone().f_copy_(&src[sb])?;
    }
    if let (Some((dm, dv)), Some((sm, sv))) = (&dst_bn.running, &src_bn.running) {
        dm.shallow_clone().f_copy_(sm)?;
        dv.shallow_clone().f_copy_(sv)?;
    }
    Ok(())
}

/// Resets a BN to PyTorch's fresh state: weight 1, bias 0, running mean 0, running var 1.
fn reset_bn(bn: &Bn, params: &[Tensor]) -> Result<()> {
    if let Some((g, b)) = bn.affine {
        params[g].shallow_clone().f_fill_(1.0).map(drop)?;
        params[b].shallow_clone().f_fill_(0.0).map(drop)?;
    }
    if let Some((m, v)) = &bn.running {
        m.shallow_clone().f_fill_(0.0).map(drop)?;
        v.shallow_clone().f_fill_(1.0).map(drop)?;
    }
    Ok(())
}

impl ModuleT for Nb201Network {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        Nb201Network::forward_t(self, xs, train)
    }
}
