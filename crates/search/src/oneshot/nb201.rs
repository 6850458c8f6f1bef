//! Any weight-sharing supernet of `sotl-nn` as a [`PathNet`]; NAS-Bench-201's is the first.

use sotl_nn::{EdgeMix, GenotypeOf, Nb201NetConfig, Nb201Supernet, Supernet};
use tch::nn::VarStore;
use tch::Tensor;

use super::{OneShotResult, PathNet};

/// A [`Supernet`] with its BN running statistics, driven one path at a time through
/// `EdgeMix::Path`: what every one-shot trainer and the finetuner run on, for any space.
pub struct SupernetPathNet<S> {
    /// The supernet.
    pub supernet: S,
    buffers: Vec<Tensor>,
}

/// The NAS-Bench-201 supernet as a [`PathNet`].
pub type Nb201PathNet = SupernetPathNet<Nb201Supernet>;

impl<S: Supernet> SupernetPathNet<S> {
    /// `supernet`, built in `vs`: the non-trainable variables of `vs` (BN running statistics of
    /// the stem, reduction blocks and last BN) become its buffers, ordered by name.
    pub fn from_supernet(vs: &VarStore, supernet: S) -> Self {
        let trainable: std::collections::HashSet<&str> =
            supernet.weight_names().iter().map(String::as_str).collect();
        let mut named: Vec<(String, Tensor)> =
            vs.variables().into_iter().filter(|(n, _)| !trainable.contains(n.as_str())).collect();
        named.sort_by(|a, b| a.0.cmp(&b.0));
        SupernetPathNet { supernet, buffers: named.into_iter().map(|(_, t)| t).collect() }
    }
}

impl Nb201PathNet {
    /// Builds the NAS-Bench-201 supernet in `vs` (seed libtorch first for a reproducible init).
    pub fn new(vs: &VarStore, cfg: &Nb201NetConfig) -> OneShotResult<Self> {
        Ok(Self::from_supernet(vs, Nb201Supernet::new(&vs.root(), cfg)?))
    }
}

impl<S: Supernet> PathNet for SupernetPathNet<S> {
    type Space = S::Space;

    fn space(&self) -> S::Space {
        self.supernet.space()
    }

    fn forward_path_t(&self, x: &Tensor, arch: &GenotypeOf<S>, train: bool) -> Tensor {
        self.supernet.forward_mix(x, &EdgeMix::Path(arch.clone()), train)
    }

    fn weights(&self) -> Vec<Tensor> {
        self.supernet.weights()
    }

    fn path_indices(&self, arch: &GenotypeOf<S>) -> Vec<usize> {
        self.supernet.path_weight_indices(arch)
    }

    fn buffers(&self) -> Vec<Tensor> {
        self.buffers.iter().map(Tensor::shallow_clone).collect()
    }

    fn param_count(&self, arch: &GenotypeOf<S>) -> u64 {
        self.supernet.standalone_param_count(arch)
    }
}
