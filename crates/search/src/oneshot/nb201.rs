//! The NAS-Bench-201 supernet of `sotl-nn` as a [`PathNet`].

use sotl_nn::{standalone_param_count, EdgeMix, Nb201NetConfig, Nb201Supernet};
use sotl_space::{Nb201Arch, Nb201Space};
use tch::nn::VarStore;
use tch::Tensor;

use super::{OneShotResult, PathNet};

/// The NAS-Bench-201 supernet with its BN running statistics, driven one path at a time
/// through `EdgeMix::Path`.
pub struct Nb201PathNet {
    /// The supernet.
    pub supernet: Nb201Supernet,
    buffers: Vec<Tensor>,
}

impl Nb201PathNet {
    /// Builds the supernet in `vs` (seed libtorch first for a reproducible init). The
    /// non-trainable variables of `vs` after building (BN running statistics of the stem,
    /// reduction blocks and last BN) become its buffers, ordered by name.
    pub fn new(vs: &VarStore, cfg: &Nb201NetConfig) -> OneShotResult<Self> {
        let supernet = Nb201Supernet::new(&vs.root(), cfg)?;
        let trainable: std::collections::HashSet<&str> =
            supernet.param_names().iter().map(String::as_str).collect();
        let mut named: Vec<(String, Tensor)> =
            vs.variables().into_iter().filter(|(n, _)| !trainable.contains(n.as_str())).collect();
        named.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(Nb201PathNet { supernet, buffers: named.into_iter().map(|(_, t)| t).collect() })
    }
}

impl PathNet for Nb201PathNet {
    type Space = Nb201Space;

    fn space(&self) -> Nb201Space {
        Nb201Space
    }

    fn forward_path_t(&self, x: &Tensor, arch: &Nb201Arch, train: bool) -> Tensor {
        self.supernet.forward_t(x, &EdgeMix::Path(*arch), train)
    }

    fn weights(&self) -> Vec<Tensor> {
        self.supernet.params()
    }

    fn path_indices(&self, arch: &Nb201Arch) -> Vec<usize> {
        self.supernet.path_param_indices(arch)
    }

    fn buffers(&self) -> Vec<Tensor> {
        self.buffers.iter().map(Tensor::shallow_clone).collect()
    }

    /// The stand-alone NAS-Bench-201 network's count (AutoDL-Projects' `TinyNetwork`), which is
    /// what the thesis' `Params` baseline ranks by.
    fn param_count(&self, arch: &Nb201Arch) -> u64 {
        standalone_param_count(self.supernet.config(), arch).max(0) as u64
    }
}
