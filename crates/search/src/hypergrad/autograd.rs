//! Small autograd helpers shared by the hypergradients: gradients with unused inputs as zeros.

use tch::{Kind, Tensor};

use crate::{DartsError, DartsResult};

/// `∂ loss / ∂ inputs`; an input the loss does not reach gets a zero gradient.
///
/// With `create_graph` the result can be differentiated again (double backward); without it the
/// graph of `loss` is freed, so each loss is differentiated once.
pub fn grads(loss: &Tensor, inputs: &[&Tensor], create_graph: bool) -> DartsResult<Vec<Tensor>> {
    if loss.numel() != 1 {
        return Err(DartsError::Hypergrad(format!(
            "loss must be a scalar, got shape {:?}",
            loss.size()
        )));
    }
    // Keep the graph only when the result will be differentiated again: freeing it here lets
    // libtorch release the (large, soft-supernet) activations as the backward pass walks them,
    // instead of all at once afterwards.
    let out = Tensor::f_run_backward(&[loss], inputs, create_graph, create_graph)?;
    Ok(out
        .into_iter()
        .zip(inputs)
        .map(|(g, x)| if g.defined() { g } else { x.zeros_like() })
        .collect())
}

/// Global L2 norm of a list of tensors.
pub fn global_norm(ts: &[Tensor]) -> f64 {
    ts.iter().map(|t| t.square().sum(Kind::Double).double_value(&[])).sum::<f64>().sqrt()
}

/// Fresh leaves: detached copies of `ts` that require grad.
pub fn leaves(ts: &[Tensor]) -> Vec<Tensor> {
    ts.iter().map(|t| t.detach().copy().set_requires_grad(true)).collect()
}

pub use sotl_train::cross_entropy;
