//! The fixed random batches every model row reuses, and the loss they are scored with.

use tch::{Device, Kind, Tensor};

use crate::{PerfConfig, PerfError, Result};

/// Two fixed batches of `randn` images and uniform labels: `w` for weight steps, `a` for the
/// architecture step and the eval rows (the reference harness' `x_w, y_w, x_a, y_a`).
#[derive(Debug)]
pub struct BenchInputs {
    /// Weight-step images, `[B, 3, 32, 32]` float32.
    pub x_w: Tensor,
    /// Weight-step labels, `[B]` int64.
    pub y_w: Tensor,
    /// Architecture-step / eval images, `[B, 3, 32, 32]` float32.
    pub x_a: Tensor,
    /// Architecture-step / eval labels, `[B]` int64.
    pub y_a: Tensor,
}

impl BenchInputs {
    /// Draws the batches on the CPU from libtorch's generator seeded with `cfg.seed`, in the
    /// reference's order (x_w, y_w, x_a, y_a), and moves them to `cfg.device`.
    pub fn new(cfg: &PerfConfig) -> BenchInputs {
        tch::manual_seed(cfg.seed as i64);
        let b = cfg.batch as i64;
        let opts = (Kind::Float, Device::Cpu);
        let x_w = Tensor::randn([b, 3, 32, 32], opts);
        let y_w = Tensor::randint(cfg.num_classes, [b], (Kind::Int64, Device::Cpu));
        let x_a = Tensor::randn([b, 3, 32, 32], opts);
        let y_a = Tensor::randint(cfg.num_classes, [b], (Kind::Int64, Device::Cpu));
        let d = cfg.device;
        BenchInputs { x_w: x_w.to(d), y_w: y_w.to(d), x_a: x_a.to(d), y_a: y_a.to(d) }
    }
}

pub use sotl_train::cross_entropy;

/// The loss value read back (the reference's `loss.item()`), or an error when it is not finite.
pub(crate) fn checked_loss(row: &'static str, step: usize, loss: &Tensor) -> Result<f64> {
    let value = loss.double_value(&[]);
    if value.is_finite() {
        Ok(value)
    } else {
        Err(PerfError::NonFinite { row, step, value })
    }
}
