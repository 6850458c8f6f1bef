//! The memory layout the networks compute in.
//!
//! On CPU the networks convert their input to channels-last (NHWC strides, NCHW shape) at the
//! stem, and every op after it keeps that layout. libtorch's oneDNN convolutions, batch norms and
//! pooling run much faster on it at NAS sizes: at C=16, N=5, batch 64 on 2 cores a single-path
//! finetuning step took 282 ms against 390 ms contiguous, and a first-order DARTS step 1.75 s
//! against 3.15 s (`scripts/bench-vs-pytorch`, `perf nb201 --layout`). CUDA inputs keep their
//! layout. Shapes, parameters and results are the same up to float rounding.

use std::sync::atomic::{AtomicBool, Ordering};

use serde::{Deserialize, Serialize};
use tch::{Device, Tensor};

/// How CPU activations are laid out in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CpuLayout {
    /// NHWC strides (PyTorch's `channels_last`): the fast one with oneDNN.
    #[default]
    ChannelsLast,
    /// Plain contiguous NCHW, as PyTorch code computes by default.
    Contiguous,
}

impl std::fmt::Display for CpuLayout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CpuLayout::ChannelsLast => "channels-last",
            CpuLayout::Contiguous => "contiguous",
        })
    }
}

impl std::str::FromStr for CpuLayout {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "channels-last" => Ok(CpuLayout::ChannelsLast),
            "contiguous" => Ok(CpuLayout::Contiguous),
            _ => Err(format!("unknown layout '{s}'; expected channels-last or contiguous")),
        }
    }
}

static CONTIGUOUS: AtomicBool = AtomicBool::new(false);

/// The CPU layout in force for the whole process.
pub fn cpu_layout() -> CpuLayout {
    if CONTIGUOUS.load(Ordering::Relaxed) {
        CpuLayout::Contiguous
    } else {
        CpuLayout::ChannelsLast
    }
}

/// Sets the CPU layout for the whole process (like libtorch's thread count); networks read it at
/// every forward.
pub fn set_cpu_layout(layout: CpuLayout) {
    CONTIGUOUS.store(layout == CpuLayout::Contiguous, Ordering::Relaxed);
}

/// `x` (images, `[B, C, H, W]`) in the layout the networks compute in; a no-op when it already is.
pub(crate) fn compute_layout(x: &Tensor) -> Tensor {
    if x.device() != Device::Cpu || x.dim() != 4 || cpu_layout() == CpuLayout::Contiguous {
        return x.shallow_clone();
    }
    // NHWC memory under the NCHW shape: what PyTorch's `contiguous(memory_format=channels_last)`
    // makes, which tch does not expose.
    x.permute([0, 2, 3, 1]).contiguous().permute([0, 3, 1, 2])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_last_keeps_shape_and_values_and_has_nhwc_strides() {
        let x = Tensor::arange(2 * 3 * 4 * 5, (tch::Kind::Float, Device::Cpu)).view([2, 3, 4, 5]);
        let y = compute_layout(&x);
        assert_eq!(y.size(), vec![2, 3, 4, 5]);
        // NHWC strides for shape [2, 3, 4, 5]: channel stride 1, width stride C, height W*C.
        assert_eq!(y.stride(), vec![60, 1, 15, 3]);
        assert_eq!(f64::try_from((&y - &x).abs().max()).unwrap(), 0.0);
        assert_eq!("contiguous".parse::<CpuLayout>(), Ok(CpuLayout::Contiguous));
        assert!("nhwc".parse::<CpuLayout>().unwrap_err().contains("channels-last or contiguous"));
    }
}
