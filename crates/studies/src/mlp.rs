//! A fully connected ReLU network (Baydin et al. 2018's MNIST model), functional form.

use tch::{Device, Kind, Tensor};

use crate::model::{uniform_init, with_torch_seed, FunctionalNet};

/// Fully connected ReLU network: `in -> hidden[0] -> ... -> classes`.
#[derive(Debug, Clone, PartialEq)]
pub struct Mlp {
    /// Input features (e.g. 784 for MNIST).
    pub input: i64,
    /// Hidden layer widths.
    pub hidden: Vec<i64>,
    /// Output classes.
    pub classes: i64,
}

impl Mlp {
    /// Draws fresh parameters from libtorch's generator (callers hold the seed lock).
    fn fresh(&self, kind: Kind, device: Device) -> Vec<Tensor> {
        let w = self.widths();
        let mut out = Vec::new();
        for pair in w.windows(2) {
            let (i, o) = (pair[0], pair[1]);
            out.push(uniform_init(&[o, i], i, kind, device));
            out.push(uniform_init(&[o], i, kind, device));
        }
        out
    }

    fn widths(&self) -> Vec<i64> {
        let mut w = vec![self.input];
        w.extend(&self.hidden);
        w.push(self.classes);
        w
    }
}

impl FunctionalNet for Mlp {
    fn init_params(&self, seed: u64, kind: Kind, device: Device) -> Vec<Tensor> {
        with_torch_seed(seed, || self.fresh(kind, device))
    }

    /// # Shapes
    /// `x`: `[B, ...]` with `input` elements per row after flattening -> `[B, classes]`.
    fn forward(&self, params: &[Tensor], x: &Tensor) -> Tensor {
        let mut h = x.flatten(1, -1);
        let layers = params.len() / 2;
        for (l, wb) in params.chunks(2).enumerate() {
            h = h.linear(&wb[0], Some(&wb[1]));
            if l + 1 < layers {
                h = h.relu();
            }
        }
        h
    }

    fn num_params(&self) -> i64 {
        self.widths().windows(2).map(|p| p[0] * p[1] + p[1]).sum()
    }
}
