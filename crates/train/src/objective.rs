//! What the trainer asks of a model: the loss (and accuracy) of a batch.

use tch::{Kind, Tensor};

use crate::{Batch, Result};

/// Loss and accuracy of one batch.
#[derive(Debug)]
pub struct BatchOutput {
    /// Mean loss over the batch: a scalar tensor, attached to the graph when training.
    pub loss: Tensor,
    /// Fraction of correctly classified examples, when the task has one: a 0-d tensor on the
    /// loss' device, read back by the loop together with the loss.
    pub accuracy: Option<Tensor>,
    /// Gradients the objective took itself, one entry per parameter of the optimizer's group
    /// (`None`: no gradient, so no update), e.g. the sampled path's gradients in a weight-sharing
    /// supernet. When absent, the loop backpropagates `loss` into the parameters' `.grad()`.
    pub grads: Option<Vec<Option<Tensor>>>,
}

/// The one cross-entropy: mean over the batch of `-log softmax(logits)[target]`, for `logits`
/// `[B, K]` and class indices `targets` `[B]` (PyTorch's `CrossEntropyLoss()`), computed in the
/// logits' own float kind (tch's `cross_entropy_for_logits` always computes in f32, which would
/// spoil f64 gradient checks; for f32 logits the two are the same operations).
pub fn cross_entropy(logits: &Tensor, targets: &Tensor) -> Tensor {
    logits.log_softmax(-1, logits.kind()).nll_loss(targets)
}

/// Top-1 accuracy (fraction) of `logits` `[B, K]` against `targets` `[B]`, as a 0-d f64 tensor
/// on their device (nothing is read back).
pub fn accuracy(logits: &Tensor, targets: &Tensor) -> Tensor {
    tch::no_grad(|| {
        logits.argmax(-1, false).eq_tensor(targets).to_kind(Kind::Double).mean(Kind::Double)
    })
}

/// Reads scalar tensors (any kind, any numel, on one device) back to the host in one transfer,
/// flattened in order: how the loops read what their steps left on the device.
pub fn read_scalars<'a>(ts: impl IntoIterator<Item = &'a Tensor>) -> Result<Vec<f64>> {
    let flat: Vec<Tensor> = ts.into_iter().map(|t| t.to_kind(Kind::Double).reshape([-1])).collect();
    if flat.is_empty() {
        return Ok(Vec::new());
    }
    let device = flat[0].device();
    let flat: Vec<Tensor> = flat.iter().map(|t| t.to_device(device)).collect();
    Ok(Vec::<f64>::try_from(Tensor::cat(&flat, 0))?)
}

impl BatchOutput {
    /// Mean cross-entropy and top-1 accuracy of `logits` `[B, K]` against `targets` `[B]`.
    pub fn classification(logits: &Tensor, targets: &Tensor) -> Self {
        let loss = cross_entropy(logits, targets);
        BatchOutput { loss, accuracy: Some(accuracy(logits, targets)), grads: None }
    }

    /// A training step's output whose gradients were already taken (see [`BatchOutput::grads`]):
    /// the loss (0-d, detached), the accuracy and one gradient (or `None`) per parameter of the
    /// group.
    pub fn with_grads(loss: Tensor, accuracy: Option<Tensor>, grads: Vec<Option<Tensor>>) -> Self {
        BatchOutput { loss, accuracy, grads: Some(grads) }
    }

    /// The accuracy read back to the host, when there is one (evaluation, not training steps).
    pub fn accuracy_value(&self) -> Option<f64> {
        self.accuracy.as_ref().map(|a| a.double_value(&[]))
    }
}

/// A model seen by the training loop: nothing but "loss of a batch". The loop knows nothing of
/// architectures; a network, a supernet with a sampled path, or a test model all fit.
pub trait Objective {
    /// Loss and accuracy of `batch`; `train` selects training behaviour (batch-norm statistics,
    /// dropout). Called under `no_grad` for evaluation.
    fn batch_output(&mut self, batch: &Batch, train: bool) -> Result<BatchOutput>;
}

impl<F> Objective for F
where
    F: FnMut(&Batch, bool) -> Result<BatchOutput>,
{
    fn batch_output(&mut self, batch: &Batch, train: bool) -> Result<BatchOutput> {
        self(batch, train)
    }
}
