//! What every search space's weight-sharing supernet offers the search algorithms.

use serde::de::DeserializeOwned;
use serde::Serialize;
use sotl_space::{Nb201Arch, Nb201Space, SearchSpace};
use tch::Tensor;

use crate::{standalone_param_count, EdgeMix, Nb201NetConfig, Nb201Supernet};

/// The genotype of a [`Supernet`]'s search space.
pub type GenotypeOf<N> = <<N as Supernet>::Space as SearchSpace>::Genotype;

/// A weight-sharing supernet of one search space, driven by an [`EdgeMix`] over that space's
/// genotype: soft op weights of the space's relaxation shape (the differentiable methods), one
/// path (the one-shot trainers and finetuning) or a weighted path.
///
/// A new search space implements this once; the one-shot trainers reach it through
/// `sotl_search::SupernetPathNet`, which turns any `Supernet` into their single-path view.
pub trait Supernet {
    /// The search space whose cells this network mixes.
    type Space: SearchSpace;

    /// The network's hyperparameters (channels, cells, classes, input size), as saved in
    /// checkpoints.
    type Config: Copy + PartialEq + std::fmt::Debug + Serialize + DeserializeOwned;

    /// Builds the weights under `p` from `cfg`, validating it first (seed the initialization
    /// with `tch::manual_seed`).
    fn build(p: &tch::nn::Path, cfg: &Self::Config) -> crate::Result<Self>
    where
        Self: Sized;

    /// [`Supernet::build`] with partial channels `k` (PC-DARTS, DrNAS: each cell op sees `1/k`
    /// of its input's channels, the rest pass by). Supernets without the option refuse `k > 1`.
    fn build_partial(p: &tch::nn::Path, cfg: &Self::Config, k: usize) -> crate::Result<Self>
    where
        Self: Sized,
    {
        if k == 1 {
            return Self::build(p, cfg);
        }
        Err(crate::NnError::InvalidConfig {
            field: "partial_channels",
            value: k.to_string(),
            reason: "this supernet has no partial channels; use 1",
        })
    }

    /// Widens partial channels to `k` (DrNAS' progressive stages), returning how each widened
    /// weight grew so that optimizer state can follow ([`crate::Widened::apply`]).
    fn widen_partial_channels(&mut self, k: usize) -> crate::Result<Vec<crate::Widened>> {
        Err(crate::NnError::InvalidConfig {
            field: "partial_channels",
            value: k.to_string(),
            reason: "this supernet has no partial channels",
        })
    }

    /// The space (its relaxation shape sizes the architecture parameters).
    fn space(&self) -> Self::Space;

    /// Logits of `x` under `mix`; `train` selects batch statistics in the BNs that keep running
    /// ones (and updates those in place).
    ///
    /// # Shapes
    /// `x`: `[B, C, H, W]` float; returns `[B, classes]`.
    fn forward_mix(&self, x: &Tensor, mix: &EdgeMix<GenotypeOf<Self>>, train: bool) -> Tensor;

    /// [`Supernet::forward_mix`] in train mode with `params` in place of the network's own
    /// weights (same order and shapes as [`Supernet::weights`]); they may depend on other
    /// tensors, e.g. weights after unrolled SGD steps that depend on architecture parameters,
    /// and gradients flow through them.
    ///
    /// # Shapes
    /// `x`: `[B, C, H, W]` float; returns `[B, classes]`.
    fn forward_mix_with(
        &self,
        params: &[Tensor],
        x: &Tensor,
        mix: &EdgeMix<GenotypeOf<Self>>,
    ) -> Tensor;

    /// Every trainable weight in a fixed order (shallow clones sharing storage).
    fn weights(&self) -> Vec<Tensor>;

    /// Variable-store names of [`Supernet::weights`], in the same order.
    fn weight_names(&self) -> &[String];

    /// Which relaxation entries (row-major, the space's relaxation shape) can carry weight:
    /// soft mixes may skip the others' computation, as their weight is always 0 (ops pruned
    /// by a progressive search). `None` = every entry. The default ignores the hint.
    fn set_active_ops(&self, active: Option<&[bool]>) -> crate::Result<()> {
        let _ = active;
        Ok(())
    }

    /// PDARTS' dropout on the identity skip connections of train-mode soft mixes, rate `p`
    /// (0 = off). The default supernet has none and refuses a positive rate.
    fn set_skip_dropout(&self, p: f64) -> crate::Result<()> {
        if p == 0.0 {
            return Ok(());
        }
        Err(crate::NnError::BadMix(format!(
            "skip-connection dropout {p}: this supernet has none (the DARTS search network has)"
        )))
    }

    /// The skip-connection dropout rate in force (0 = off).
    fn skip_dropout(&self) -> f64 {
        0.0
    }

    /// Indices into [`Supernet::weights`] of the weights a single-path forward of `arch` uses.
    fn path_weight_indices(&self, arch: &GenotypeOf<Self>) -> Vec<usize>;

    /// Trainable parameters of `arch`'s stand-alone network (the `Params` baseline).
    fn standalone_param_count(&self, arch: &GenotypeOf<Self>) -> u64;
}

impl Supernet for Nb201Supernet {
    type Space = Nb201Space;
    type Config = Nb201NetConfig;

    fn build(p: &tch::nn::Path, cfg: &Nb201NetConfig) -> crate::Result<Self> {
        Nb201Supernet::new(p, cfg)
    }

    fn build_partial(p: &tch::nn::Path, cfg: &Nb201NetConfig, k: usize) -> crate::Result<Self> {
        Nb201Supernet::with_partial_channels(p, cfg, k)
    }

    fn widen_partial_channels(&mut self, k: usize) -> crate::Result<Vec<crate::Widened>> {
        Nb201Supernet::widen_partial_channels(self, k)
    }

    fn forward_mix_with(&self, params: &[Tensor], x: &Tensor, mix: &EdgeMix) -> Tensor {
        self.forward_with(params, x, mix)
    }

    fn space(&self) -> Nb201Space {
        Nb201Space
    }

    fn forward_mix(&self, x: &Tensor, mix: &EdgeMix, train: bool) -> Tensor {
        self.forward_t(x, mix, train)
    }

    fn weights(&self) -> Vec<Tensor> {
        self.params()
    }

    fn weight_names(&self) -> &[String] {
        self.param_names()
    }

    fn path_weight_indices(&self, arch: &Nb201Arch) -> Vec<usize> {
        self.path_param_indices(arch)
    }

    /// The stand-alone NAS-Bench-201 network's count (AutoDL-Projects' `TinyNetwork`), which is
    /// what the thesis' `Params` baseline ranks by.
    fn standalone_param_count(&self, arch: &Nb201Arch) -> u64 {
        standalone_param_count(self.config(), arch).max(0) as u64
    }
}
