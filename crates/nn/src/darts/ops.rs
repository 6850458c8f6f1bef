//! DARTS' operations (`operations.py`) as functional blocks over a parameter slice, named as the
//! reference modules name their weights so that checkpoints map one to one.

use sotl_space::DartsOp;
use tch::nn::Path;
use tch::Tensor;

use crate::ops::{Bn, ParamList};

fn conv(
    params: &[Tensor],
    x: &Tensor,
    w: usize,
    stride: i64,
    pad: i64,
    dil: i64,
    groups: i64,
) -> Tensor {
    x.conv2d(&params[w], None::<&Tensor>, [stride, stride], [pad, pad], [dil, dil], groups)
}

/// `ReLU-Conv(1x1)-BN` (`ReLUConvBN(C_in, C_out, 1, 1, 0)`), the cells' preprocessing.
pub(crate) struct ReluConvBn {
    conv: usize,
    bn: Bn,
}

impl ReluConvBn {
    pub(crate) fn new(p: &Path, list: &mut ParamList, c_in: i64, c_out: i64, affine: bool) -> Self {
        let conv = list.conv_weight(&(p / "op" / "1"), c_out, c_in, 1);
        let bn = list.bn(&(p / "op" / "2"), c_out, affine, true);
        ReluConvBn { conv, bn }
    }

    fn forward(&self, params: &[Tensor], x: &Tensor, train: bool) -> Tensor {
        self.bn.forward(params, &conv(params, &x.relu(), self.conv, 1, 0, 1, 1), train)
    }

    fn indices(&self) -> Vec<usize> {
        let mut v = vec![self.conv];
        v.extend(bn_indices(&self.bn));
        v
    }
}

/// `FactorizedReduce(C_in, C_out)`: two stride-2 1x1 convs, the second on the map shifted by one
/// pixel, concatenated, then BN.
pub(crate) struct FactorizedReduce {
    conv_1: usize,
    conv_2: usize,
    bn: Bn,
}

impl FactorizedReduce {
    pub(crate) fn new(p: &Path, list: &mut ParamList, c_in: i64, c_out: i64, affine: bool) -> Self {
        let conv_1 = list.conv_weight(&(p / "conv_1"), c_out / 2, c_in, 1);
        let conv_2 = list.conv_weight(&(p / "conv_2"), c_out / 2, c_in, 1);
        let bn = list.bn(&(p / "bn"), c_out, affine, true);
        FactorizedReduce { conv_1, conv_2, bn }
    }

    fn forward(&self, params: &[Tensor], x: &Tensor, train: bool) -> Tensor {
        let x = x.relu();
        let a = conv(params, &x, self.conv_1, 2, 0, 1, 1);
        let shifted = x.narrow(2, 1, x.size()[2] - 1).narrow(3, 1, x.size()[3] - 1);
        let b = conv(params, &shifted, self.conv_2, 2, 0, 1, 1);
        self.bn.forward(params, &Tensor::cat(&[a, b], 1), train)
    }

    fn indices(&self) -> Vec<usize> {
        let mut v = vec![self.conv_1, self.conv_2];
        v.extend(bn_indices(&self.bn));
        v
    }
}

/// A cell's first input: `FactorizedReduce` after a reduction cell, else `ReLU-Conv1x1-BN`.
pub(crate) enum Preprocess {
    Conv(ReluConvBn),
    Reduce(FactorizedReduce),
}

impl Preprocess {
    pub(crate) fn forward(&self, params: &[Tensor], x: &Tensor, train: bool) -> Tensor {
        match self {
            Preprocess::Conv(c) => c.forward(params, x, train),
            Preprocess::Reduce(r) => r.forward(params, x, train),
        }
    }

    pub(crate) fn indices(&self) -> Vec<usize> {
        match self {
            Preprocess::Conv(c) => c.indices(),
            Preprocess::Reduce(r) => r.indices(),
        }
    }

    pub(crate) fn conv(
        p: &Path,
        list: &mut ParamList,
        c_in: i64,
        c_out: i64,
        affine: bool,
    ) -> Self {
        Preprocess::Conv(ReluConvBn::new(p, list, c_in, c_out, affine))
    }
}

fn bn_indices(bn: &Bn) -> Vec<usize> {
    bn.affine.iter().flat_map(|&(g, b)| [g, b]).collect()
}

/// One DARTS op on `C` channels.
pub(crate) enum Op {
    Zero {
        stride: i64,
    },
    Identity,
    /// Max (`avg == false`) or average pooling, padding excluded from the average; the search
    /// network follows it by a BN without affine weights (`MixedOp`).
    Pool {
        avg: bool,
        stride: i64,
        bn: Option<Bn>,
    },
    Reduce(FactorizedReduce),
    /// `SepConv`: `ReLU, dw(k, stride), pw, BN, ReLU, dw(k), pw, BN`.
    Sep {
        k: i64,
        stride: i64,
        dw1: usize,
        pw1: usize,
        bn1: Bn,
        dw2: usize,
        pw2: usize,
        bn2: Bn,
    },
    /// `DilConv`: `ReLU, dw(k, stride, dilation 2), pw, BN`.
    Dil {
        k: i64,
        stride: i64,
        dw: usize,
        pw: usize,
        bn: Bn,
    },
    /// Zela et al.'s `NoiseOp`: N(0, 1) noise of the (strided) input's shape.
    Noise {
        stride: i64,
    },
}

impl Op {
    /// Builds `op` under `p` with the reference module layout; `search` adds the pools' BN.
    pub(crate) fn new(
        p: &Path,
        list: &mut ParamList,
        op: DartsOp,
        c: i64,
        stride: i64,
        affine: bool,
        search: bool,
    ) -> Self {
        let seq = |i: &str| p / "op" / i;
        match op {
            DartsOp::None => Op::Zero { stride },
            DartsOp::Noise => Op::Noise { stride },
            DartsOp::MaxPool3x3 | DartsOp::AvgPool3x3 => Op::Pool {
                avg: op == DartsOp::AvgPool3x3,
                stride,
                bn: search.then(|| list.bn(&(p / "1"), c, false, true)),
            },
            DartsOp::SkipConnect if stride == 1 => Op::Identity,
            DartsOp::SkipConnect => Op::Reduce(FactorizedReduce::new(p, list, c, c, affine)),
            DartsOp::SepConv3x3 | DartsOp::SepConv5x5 => {
                let k = if op == DartsOp::SepConv3x3 { 3 } else { 5 };
                let dw1 = list.conv_weight(&seq("1"), c, 1, k);
                let pw1 = list.conv_weight(&seq("2"), c, c, 1);
                let bn1 = list.bn(&seq("3"), c, affine, true);
                let dw2 = list.conv_weight(&seq("5"), c, 1, k);
                let pw2 = list.conv_weight(&seq("6"), c, c, 1);
                let bn2 = list.bn(&seq("7"), c, affine, true);
                Op::Sep { k, stride, dw1, pw1, bn1, dw2, pw2, bn2 }
            }
            DartsOp::DilConv3x3 | DartsOp::DilConv5x5 => {
                let k = if op == DartsOp::DilConv3x3 { 3 } else { 5 };
                let dw = list.conv_weight(&seq("1"), c, 1, k);
                let pw = list.conv_weight(&seq("2"), c, c, 1);
                let bn = list.bn(&seq("3"), c, affine, true);
                Op::Dil { k, stride, dw, pw, bn }
            }
        }
    }

    /// Whether the op is the identity (drop-path leaves identities alone).
    pub(crate) fn is_identity(&self) -> bool {
        matches!(self, Op::Identity)
    }

    /// # Shapes
    /// `[B, C, H, W]` -> `[B, C, H / stride, W / stride]`.
    pub(crate) fn forward(&self, params: &[Tensor], x: &Tensor, train: bool) -> Tensor {
        let strided = |s: i64| {
            if s == 1 {
                x.shallow_clone()
            } else {
                x.slice(2, 0, None, s).slice(3, 0, None, s)
            }
        };
        match self {
            Op::Zero { stride } => strided(*stride).zeros_like(),
            Op::Noise { stride } => strided(*stride).randn_like().detach(),
            Op::Identity => x.shallow_clone(),
            Op::Pool { avg, stride, bn } => {
                let s = [*stride, *stride];
                let y = if *avg {
                    x.avg_pool2d([3, 3], s, [1, 1], false, false, None::<i64>)
                } else {
                    x.max_pool2d([3, 3], s, [1, 1], [1, 1], false)
                };
                match bn {
                    Some(bn) => bn.forward(params, &y, train),
                    None => y,
                }
            }
            Op::Reduce(r) => r.forward(params, x, train),
            Op::Sep { k, stride, dw1, pw1, bn1, dw2, pw2, bn2 } => {
                let c = x.size()[1];
                let y = conv(params, &x.relu(), *dw1, *stride, k / 2, 1, c);
                let y = bn1.forward(params, &conv(params, &y, *pw1, 1, 0, 1, 1), train);
                let y = conv(params, &y.relu(), *dw2, 1, k / 2, 1, c);
                bn2.forward(params, &conv(params, &y, *pw2, 1, 0, 1, 1), train)
            }
            Op::Dil { k, stride, dw, pw, bn } => {
                let c = x.size()[1];
                let y = conv(params, &x.relu(), *dw, *stride, k - 1, 2, c);
                bn.forward(params, &conv(params, &y, *pw, 1, 0, 1, 1), train)
            }
        }
    }

    /// Indices of the op's trainable weights.
    pub(crate) fn indices(&self) -> Vec<usize> {
        match self {
            Op::Zero { .. } | Op::Noise { .. } | Op::Identity => vec![],
            Op::Pool { bn, .. } => bn.iter().flat_map(bn_indices).collect(),
            Op::Reduce(r) => r.indices(),
            Op::Sep { dw1, pw1, bn1, dw2, pw2, bn2, .. } => {
                let mut v = vec![*dw1, *pw1];
                v.extend(bn_indices(bn1));
                v.extend([*dw2, *pw2]);
                v.extend(bn_indices(bn2));
                v
            }
            Op::Dil { dw, pw, bn, .. } => {
                let mut v = vec![*dw, *pw];
                v.extend(bn_indices(bn));
                v
            }
        }
    }
}

/// DARTS' `drop_path`: each example's map is zeroed with probability `p`, the rest scaled by
/// `1 / (1 - p)` (libtorch's generator draws the mask).
pub(crate) fn drop_path(x: &Tensor, p: f64) -> Tensor {
    if p <= 0.0 {
        return x.shallow_clone();
    }
    let keep = 1.0 - p;
    let mask = Tensor::empty([x.size()[0], 1, 1, 1], (x.kind(), x.device())).bernoulli_float_(keep);
    x / keep * mask
}
