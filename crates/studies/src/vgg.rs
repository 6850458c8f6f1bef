//! A VGG-style CNN (Simonyan & Zisserman 2015) with configurable width and depth, functional form.
//!
//! Blocks of 3x3 convolutions + ReLU, each block closed by 2x2 max-pooling, then a ReLU hidden
//! layer and the classifier. No batch norm: its running statistics would be extra state outside
//! the differentiable weight list, and the thesis' VGG16 predates it.

use tch::{Device, Kind, Tensor};

use crate::model::{uniform_init, with_torch_seed, FunctionalNet};

/// VGG-style network; `channels[i]` convolutions of width `channels[i]` in block `i`.
#[derive(Debug, Clone, PartialEq)]
pub struct Vgg {
    /// Input channels (3 for CIFAR-10).
    pub in_channels: i64,
    /// Input height = width (32 for CIFAR-10).
    pub image_size: i64,
    /// Width of each block (VGG16: 64, 128, 256, 512, 512).
    pub channels: Vec<i64>,
    /// Convolutions per block (VGG16: 2-3).
    pub convs_per_block: usize,
    /// Width of the hidden fully connected layer (VGG16: 4096).
    pub fc: i64,
    /// Output classes.
    pub classes: i64,
}

impl Vgg {
    /// Draws fresh parameters from libtorch's generator (callers hold the seed lock).
    fn fresh(&self, kind: Kind, device: Device) -> Vec<Tensor> {
        let mut out = Vec::new();
        for (i, o) in self.conv_shapes() {
            out.push(uniform_init(&[o, i, 3, 3], i * 9, kind, device));
            out.push(uniform_init(&[o], i * 9, kind, device));
        }
        let f = self.flat_features();
        out.push(uniform_init(&[self.fc, f], f, kind, device));
        out.push(uniform_init(&[self.fc], f, kind, device));
        out.push(uniform_init(&[self.classes, self.fc], self.fc, kind, device));
        out.push(uniform_init(&[self.classes], self.fc, kind, device));
        out
    }

    fn conv_shapes(&self) -> Vec<(i64, i64)> {
        let mut c_in = self.in_channels;
        let mut out = Vec::new();
        for &c in &self.channels {
            for _ in 0..self.convs_per_block {
                out.push((c_in, c));
                c_in = c;
            }
        }
        out
    }

    fn flat_features(&self) -> i64 {
        let side = self.image_size >> self.channels.len();
        self.channels.last().copied().unwrap_or(self.in_channels) * side * side
    }
}

impl FunctionalNet for Vgg {
    fn init_params(&self, seed: u64, kind: Kind, device: Device) -> Vec<Tensor> {
        with_torch_seed(seed, || self.fresh(kind, device))
    }

    /// # Shapes
    /// `x`: `[B, in_channels, image_size, image_size]` -> `[B, classes]`.
    fn forward(&self, params: &[Tensor], x: &Tensor) -> Tensor {
        let mut h = x.shallow_clone();
        let mut p = params.chunks(2);
        for _ in &self.channels {
            for _ in 0..self.convs_per_block {
                let wb = p.next().expect("conv parameters");
                h = h.conv2d(&wb[0], Some(&wb[1]), [1, 1], [1, 1], [1, 1], 1).relu();
            }
            h = h.max_pool2d([2, 2], [2, 2], [0, 0], [1, 1], false);
        }
        let fc = p.next().expect("fc parameters");
        let out = p.next().expect("classifier parameters");
        h.flatten(1, -1).linear(&fc[0], Some(&fc[1])).relu().linear(&out[0], Some(&out[1]))
    }

    fn num_params(&self) -> i64 {
        let conv: i64 = self.conv_shapes().iter().map(|(i, o)| i * o * 9 + o).sum();
        conv + self.flat_features() * self.fc + self.fc + self.fc * self.classes + self.classes
    }
}
