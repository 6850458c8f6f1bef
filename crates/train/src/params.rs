//! Parameter groups: the named trainable tensors one optimizer updates, and "zero grad".

use tch::nn::VarStore;
use tch::{COptimizer, Tensor};

use crate::{Result, TrainError};

/// A named set of trainable tensors (shallow handles on the tensors of a `VarStore` or model).
///
/// Weights and architecture parameters live in separate groups (usually separate `VarStore`s),
/// each with its own optimizer. Names are unique and sorted, so optimizer state in a checkpoint
/// is matched by name, not by creation order.
pub struct ParamGroup {
    names: Vec<String>,
    params: Vec<Tensor>,
    // libtorch's C++ `Optimizer::zero_grad()` sets gradients to undefined (`set_to_none = true`
    // since PyTorch 2.0); tch has no other way to reset a gradient to None, so a zero-lr SGD
    // holding the same tensors is kept only for that call.
    clearer: COptimizer,
}

impl std::fmt::Debug for ParamGroup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParamGroup").field("names", &self.names).finish()
    }
}

impl ParamGroup {
    /// A group from named tensors; every tensor must require grad and names must be unique.
    pub fn new(named: Vec<(String, Tensor)>) -> Result<Self> {
        let mut named = named;
        named.sort_by(|a, b| a.0.cmp(&b.0));
        for w in named.windows(2) {
            if w[0].0 == w[1].0 {
                return Err(TrainError::Config(format!(
                    "parameter name {:?} appears twice",
                    w[0].0
                )));
            }
        }
        let mut clearer = COptimizer::sgd(0.0, 0.0, 0.0, 0.0, false)?;
        for (name, t) in &named {
            if !t.requires_grad() {
                return Err(TrainError::Config(format!(
                    "parameter {name:?} does not require grad: only trainable tensors go in a group"
                )));
            }
            clearer.add_parameters(t, 0)?;
        }
        let (names, params) = named.into_iter().unzip();
        Ok(ParamGroup { names, params, clearer })
    }

    /// The trainable variables of a `VarStore` (those with `requires_grad`), named as in the store.
    pub fn from_var_store(vs: &VarStore) -> Result<Self> {
        let named = vs.variables().into_iter().filter(|(_, t)| t.requires_grad()).collect();
        Self::new(named)
    }

    /// Parameter names, sorted.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Parameter tensors, in the order of [`Self::names`].
    pub fn params(&self) -> &[Tensor] {
        &self.params
    }

    /// Number of tensors in the group.
    pub fn len(&self) -> usize {
        self.params.len()
    }

    /// Whether the group holds no tensor.
    pub fn is_empty(&self) -> bool {
        self.params.is_empty()
    }

    /// Total number of scalar parameters.
    pub fn numel(&self) -> u64 {
        self.params.iter().map(|p| p.numel() as u64).sum()
    }

    /// Sets every gradient to undefined (PyTorch's `zero_grad(set_to_none=True)`).
    ///
    /// A parameter that the next backward pass does not reach keeps an undefined gradient, and
    /// the optimizers skip it entirely (no weight decay, no momentum or Adam state update), as
    /// PyTorch does. Single-path one-shot training (SPOS) relies on this: ops off the sampled
    /// path must not decay or coast on stale momentum.
    pub fn zero_grad(&self) {
        // Only fails if libtorch throws, which it does not for a plain reset.
        let _ = self.clearer.zero_grad();
    }

    /// The defined gradients, with their parameter index.
    pub fn defined_grads(&self) -> Vec<(usize, Tensor)> {
        self.params
            .iter()
            .enumerate()
            .filter_map(|(i, p)| {
                let g = p.grad();
                g.defined().then_some((i, g))
            })
            .collect()
    }

    /// Every parameter's `.grad()` in group order, `None` where it is undefined (shallow handles:
    /// scaling one in place scales the parameter's gradient).
    pub fn grads(&self) -> Vec<Option<Tensor>> {
        self.params
            .iter()
            .map(|p| {
                let g = p.grad();
                g.defined().then_some(g)
            })
            .collect()
    }

    /// Global L2 norm of the defined gradients (0 when none is defined).
    pub fn grad_norm(&self) -> f64 {
        let grads = self.defined_grads();
        crate::clip::global_norm(grads.iter().map(|(_, g)| g))
    }

    /// Sum of all gradient entries and their L1 norm, over the defined gradients (for SoG/SoGN).
    pub fn grad_sum_and_l1(&self) -> (f64, f64) {
        tch::no_grad(|| {
            let grads = self.defined_grads();
            if grads.is_empty() {
                return (0.0, 0.0);
            }
            let sums: Vec<Tensor> = grads.iter().map(|(_, g)| g.sum(tch::Kind::Double)).collect();
            let l1s: Vec<Tensor> =
                grads.iter().map(|(_, g)| g.abs().sum(tch::Kind::Double)).collect();
            let both = Tensor::stack(
                &[
                    Tensor::stack(&sums, 0).sum(tch::Kind::Double),
                    Tensor::stack(&l1s, 0).sum(tch::Kind::Double),
                ],
                0,
            );
            let v = Vec::<f64>::try_from(both).unwrap_or_default();
            (v[0], v[1])
        })
    }
}
