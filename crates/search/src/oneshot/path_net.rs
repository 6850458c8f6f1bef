//! What the one-shot trainers need from a weight-sharing network: run one path, list weights.

use sotl_space::SearchSpace;
use tch::Tensor;

/// The genotype type of a [`PathNet`]'s search space.
pub type ArchOf<N> = <<N as PathNet>::Space as SearchSpace>::Genotype;

/// A weight-sharing network that can run a single sampled path.
///
/// The trainers in this module only ever see this trait, so they never set modes or flags on a
/// model: the NAS-Bench-201 supernet of `sotl-nn` implements it through `EdgeMix::Path`, and the
/// tests implement it with tiny hand-checkable models. A new search space implements it with its
/// own [`SearchSpace`]; the trainers draw paths from [`PathNet::space`].
pub trait PathNet {
    /// The search space whose cells this network runs.
    type Space: SearchSpace;

    /// The space (the samplers draw paths from it).
    fn space(&self) -> Self::Space;

    /// Logits of the sub-network `arch` on `x`; `train` selects batch statistics (and updates
    /// running statistics) in the BNs that keep them.
    ///
    /// # Shapes
    /// `x`: `[B, C, H, W]` float; returns `[B, classes]`.
    fn forward_path_t(&self, x: &Tensor, arch: &ArchOf<Self>, train: bool) -> Tensor;

    /// Train-mode logits of `arch` on `x`.
    ///
    /// # Shapes
    /// `x`: `[B, C, H, W]` float; returns `[B, classes]`.
    fn forward_path(&self, x: &Tensor, arch: &ArchOf<Self>) -> Tensor {
        self.forward_path_t(x, arch, true)
    }

    /// Every trainable weight, in a fixed order that checkpoints rely on. The tensors share
    /// storage with the network (shallow clones).
    fn weights(&self) -> Vec<Tensor>;

    /// Indices into [`PathNet::weights`] of the weights `arch` uses (stem, classifier, reduction
    /// blocks and the ops on its path). Weights outside this list get no gradient and no update.
    fn path_indices(&self, arch: &ArchOf<Self>) -> Vec<usize>;

    /// Non-trainable state that a forward pass may change (e.g. BN running statistics); saved,
    /// restored and reset together with the weights. Empty by default.
    fn buffers(&self) -> Vec<Tensor> {
        Vec::new()
    }

    /// Trainable parameter count of the stand-alone network for `arch` (the `Params` baseline).
    /// Defaults to the number of elements of the path's weights.
    fn param_count(&self, arch: &ArchOf<Self>) -> u64 {
        let w = self.weights();
        self.path_indices(arch).iter().map(|&i| w[i].numel() as u64).sum()
    }
}
