//! Networks written as pure functions of an explicit parameter list, so the weights can be
//! non-leaf tensors inside an unrolled, differentiable training trajectory.

use tch::{Device, Kind, Tensor};

/// A network whose forward pass takes its parameters as arguments.
pub trait FunctionalNet {
    /// Fresh parameters (PyTorch's default `U(-1/sqrt(fan_in), 1/sqrt(fan_in))` init), drawn
    /// from libtorch's generator after `tch::manual_seed(seed)`.
    fn init_params(&self, seed: u64, kind: Kind, device: Device) -> Vec<Tensor>;

    /// Class logits.
    ///
    /// # Shapes
    /// `x`: float `[B, C, H, W]` (already normalized) -> `[B, classes]`.
    /// Panics on a shape mismatch (a bug, not bad input: data shapes are checked up front).
    fn forward(&self, params: &[Tensor], x: &Tensor) -> Tensor;

    /// Number of scalar weights.
    fn num_params(&self) -> i64;
}

/// Serializes use of libtorch's global generator: `manual_seed` then sampling must not
/// interleave with another thread's, or equal seeds would give different tensors.
static TORCH_RNG: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Runs `f` right after `tch::manual_seed(seed)`, holding the crate's generator lock.
pub fn with_torch_seed<R>(seed: u64, f: impl FnOnce() -> R) -> R {
    let _guard = TORCH_RNG.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    tch::manual_seed(seed as i64);
    f()
}

/// `U(-1/sqrt(fan_in), 1/sqrt(fan_in))` of the given shape.
pub(crate) fn uniform_init(shape: &[i64], fan_in: i64, kind: Kind, device: Device) -> Tensor {
    let bound = 1.0 / (fan_in as f64).sqrt();
    Tensor::empty(shape, (kind, device)).uniform_(-bound, bound)
}

pub use sotl_train::cross_entropy;
