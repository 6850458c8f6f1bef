//! Functional building blocks: weights are looked up by index in a parameter slice, so the same
//! code runs on the VarStore's variables (`forward`) and on any other tensors (`forward_with`).

use tch::nn::{Init, Path};
use tch::Tensor;

/// PyTorch's BatchNorm2d defaults, which the reference networks use.
pub(crate) const BN_MOMENTUM: f64 = 0.1;
pub(crate) const BN_EPS: f64 = 1e-5;

/// Collects trainable weights in creation order; that order is the documented `params()` order.
#[derive(Default)]
pub(crate) struct ParamList {
    pub(crate) tensors: Vec<Tensor>,
    pub(crate) names: Vec<String>,
}

impl ParamList {
    fn push(&mut self, p: &Path, name: &str, t: Tensor) -> usize {
        self.tensors.push(t);
        self.names.push(p.path(name));
        self.tensors.len() - 1
    }

    /// A conv kernel `[c_out, c_in, k, k]` with PyTorch's default init (U(±1/sqrt(fan_in))).
    pub(crate) fn conv_weight(&mut self, p: &Path, c_out: i64, c_in: i64, k: i64) -> usize {
        let bound = 1.0 / ((c_in * k * k) as f64).sqrt();
        let t = p.var("weight", &[c_out, c_in, k, k], Init::Uniform { lo: -bound, up: bound });
        self.push(p, "weight", t)
    }

    /// A conv bias `[c_out]` with PyTorch's default init (U(±1/sqrt(fan_in))).
    pub(crate) fn conv_bias(&mut self, p: &Path, c_out: i64, fan_in: i64) -> usize {
        let bound = 1.0 / (fan_in as f64).sqrt();
        let t = p.var("bias", &[c_out], Init::Uniform { lo: -bound, up: bound });
        self.push(p, "bias", t)
    }

    /// A linear layer's weight `[out, in]` and bias `[out]`, PyTorch's default init.
    pub(crate) fn linear(&mut self, p: &Path, c_in: i64, c_out: i64) -> (usize, usize) {
        let bound = 1.0 / (c_in as f64).sqrt();
        let w = p.var("weight", &[c_out, c_in], Init::Uniform { lo: -bound, up: bound });
        let w = self.push(p, "weight", w);
        let b = p.var("bias", &[c_out], Init::Uniform { lo: -bound, up: bound });
        (w, self.push(p, "bias", b))
    }

    /// A batch norm over `c` channels; `affine` adds gamma=1/beta=0, `running` adds running stats
    /// (kept in the VarStore as non-trainable variables so checkpoints carry them).
    pub(crate) fn bn(&mut self, p: &Path, c: i64, affine: bool, running: bool) -> Bn {
        let affine = affine.then(|| {
            let g = p.var("weight", &[c], Init::Const(1.0));
            let g = self.push(p, "weight", g);
            let b = p.var("bias", &[c], Init::Const(0.0));
            (g, self.push(p, "bias", b))
        });
        // Created in the store's kind (`zeros_no_train` would force f32), so f64 stores work.
        let running = running.then(|| {
            let opts = (p.kind(), p.device());
            (
                p.add("running_mean", Tensor::zeros([c], opts), false),
                p.add("running_var", Tensor::ones([c], opts), false),
            )
        });
        Bn { affine, running }
    }
}

/// A BatchNorm2d: optional affine weights (indices into the parameter list), optional running stats.
pub(crate) struct Bn {
    pub(crate) affine: Option<(usize, usize)>,
    pub(crate) running: Option<(Tensor, Tensor)>,
}

impl Bn {
    /// Normalizes `x`. Without running stats, batch statistics are used even when `train` is false
    /// (PyTorch's `track_running_stats=False`). In train mode running stats are updated in place.
    pub(crate) fn forward(&self, params: &[Tensor], x: &Tensor, train: bool) -> Tensor {
        let (w, b) = match self.affine {
            Some((g, b)) => (Some(&params[g]), Some(&params[b])),
            None => (None, None),
        };
        match &self.running {
            Some((m, v)) => x.batch_norm(w, b, Some(m), Some(v), train, BN_MOMENTUM, BN_EPS, true),
            None => x.batch_norm(w, b, None, None, true, BN_MOMENTUM, BN_EPS, true),
        }
    }
}

/// `Conv(relu_x)` with stride 1 and "same" padding, optionally with bias.
pub(crate) fn conv_same(
    params: &[Tensor],
    relu_x: &Tensor,
    w: usize,
    b: Option<usize>,
    k: i64,
) -> Tensor {
    let pad = k / 2;
    relu_x.conv2d(&params[w], b.map(|b| &params[b]), [1, 1], [pad, pad], [1, 1], 1)
}

/// 3x3 average pooling, stride 1, padding 1, padded cells left out of the average
/// (`count_include_pad=False`, as NAS-Bench-201's `POOLING`).
pub(crate) fn avg_pool_3x3(x: &Tensor) -> Tensor {
    x.avg_pool2d([3, 3], [1, 1], [1, 1], false, false, None::<i64>)
}

/// The stem: conv3x3 (no bias) then an affine BatchNorm with running stats.
pub(crate) struct Stem {
    pub(crate) conv: usize,
    pub(crate) bn: Bn,
}

impl Stem {
    pub(crate) fn new(p: &Path, list: &mut ParamList, c_in: i64, c: i64) -> Self {
        Self::named(&(p / "conv"), &(p / "bn"), list, c_in, c)
    }

    /// A stem whose conv and BN live at `conv` and `bn` (the DARTS code's `stem.0`, `stem.1`).
    pub(crate) fn named(conv: &Path, bn: &Path, list: &mut ParamList, c_in: i64, c: i64) -> Self {
        let conv = list.conv_weight(conv, c, c_in, 3);
        let bn = list.bn(bn, c, true, true);
        Stem { conv, bn }
    }

    /// Indices of its trainable weights: the conv, then the BN's affine pair.
    pub(crate) fn indices(&self) -> impl Iterator<Item = usize> + '_ {
        std::iter::once(self.conv).chain(self.bn.affine.iter().flat_map(|&(g, b)| [g, b]))
    }

    pub(crate) fn forward(&self, params: &[Tensor], x: &Tensor, train: bool) -> Tensor {
        let x = crate::layout::compute_layout(x);
        let y = x.conv2d(&params[self.conv], None::<&Tensor>, [1, 1], [1, 1], [1, 1], 1);
        self.bn.forward(params, &y, train)
    }
}

/// The residual reduction block between stages (AutoDL-Projects' `ResNetBasicblock`, stride 2):
/// `ReLU-Conv3x3(s2)-BN -> ReLU-Conv3x3-BN` plus a `AvgPool2x2 -> Conv1x1` shortcut. Its BNs are
/// affine with running stats in both the supernet and standalone networks, as in the reference.
pub(crate) struct Reduction {
    pub(crate) conv_a: usize,
    pub(crate) bn_a: Bn,
    pub(crate) conv_b: usize,
    pub(crate) bn_b: Bn,
    pub(crate) down: usize,
}

impl Reduction {
    pub(crate) fn new(p: &Path, list: &mut ParamList, c_in: i64, c_out: i64) -> Self {
        let conv_a = list.conv_weight(&(p / "conv_a"), c_out, c_in, 3);
        let bn_a = list.bn(&(p / "bn_a"), c_out, true, true);
        let conv_b = list.conv_weight(&(p / "conv_b"), c_out, c_out, 3);
        let bn_b = list.bn(&(p / "bn_b"), c_out, true, true);
        let down = list.conv_weight(&(p / "downsample"), c_out, c_in, 1);
        Reduction { conv_a, bn_a, conv_b, bn_b, down }
    }

    /// # Shapes
    /// `[B, c_in, H, W]` -> `[B, c_out, H/2, W/2]`.
    pub(crate) fn forward(&self, params: &[Tensor], x: &Tensor, train: bool) -> Tensor {
        let a = x.relu().conv2d(&params[self.conv_a], None::<&Tensor>, [2, 2], [1, 1], [1, 1], 1);
        let a = self.bn_a.forward(params, &a, train);
        let b = a.relu().conv2d(&params[self.conv_b], None::<&Tensor>, [1, 1], [1, 1], [1, 1], 1);
        let b = self.bn_b.forward(params, &b, train);
        let r = x.avg_pool2d([2, 2], [2, 2], [0, 0], false, true, None::<i64>).conv2d(
            &params[self.down],
            None::<&Tensor>,
            [1, 1],
            [0, 0],
            [1, 1],
            1,
        );
        r + b
    }
}

/// The head: affine BN with running stats, ReLU, global average pooling, linear classifier.
pub(crate) struct Head {
    pub(crate) bn: Bn,
    pub(crate) fc_w: usize,
    pub(crate) fc_b: usize,
}

impl Head {
    pub(crate) fn new(p: &Path, list: &mut ParamList, c: i64, classes: i64) -> Self {
        let bn = list.bn(&(p / "lastact"), c, true, true);
        let (fc_w, fc_b) = list.linear(&(p / "classifier"), c, classes);
        Head { bn, fc_w, fc_b }
    }

    /// # Shapes
    /// `[B, C, H, W]` -> `[B, classes]`.
    pub(crate) fn forward(&self, params: &[Tensor], x: &Tensor, train: bool) -> Tensor {
        let y = self.bn.forward(params, x, train).relu();
        let y = y.mean_dim([2i64, 3].as_slice(), false, None::<tch::Kind>);
        y.linear(&params[self.fc_w], Some(&params[self.fc_b]))
    }
}
