//! Per-epoch checkpoints of a differentiable search, and resuming from them.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use sotl_diagnostics::TrajectoryPoint;
use sotl_nn::{GenotypeOf, Supernet};
use sotl_space::CellShape;
use sotl_train::{load_checkpoint, save_checkpoint, Optimizer, OptimizerState};
use tch::{Device, Kind};

use super::{DartsConfig, DartsMethod, DartsSearch};
use crate::{DartsError, DartsResult};

/// Format version of [`DartsSearch::save`]'s files.
const CHECKPOINT_VERSION: u32 = 1;

/// The JSON half of a checkpoint: everything except tensors.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[serde(bound(
    serialize = "C: Serialize, G: Serialize",
    deserialize = "C: serde::de::DeserializeOwned, G: serde::de::DeserializeOwned"
))]
struct Meta<C, G> {
    version: u32,
    method: DartsMethod,
    seed: u64,
    config: DartsConfig,
    net: C,
    epoch: usize,
    rng_step: u64,
    trajectory: Vec<TrajectoryPoint<G>>,
    w_opt_counters: BTreeMap<String, u64>,
    a_opt_counters: BTreeMap<String, u64>,
}

impl<S: Supernet> DartsSearch<S>
where
    GenotypeOf<S>: CellShape,
{
    /// Writes the whole state after the last completed epoch to `path`, atomically: weights
    /// (with BN running statistics), alpha, DrNAS' pruning mask, both optimizers' state, the
    /// random-stream position and the trajectory.
    pub fn save(&self, path: &Path) -> DartsResult<()> {
        let mut tensors = Vec::new();
        for (n, t) in self.snapshot_weights() {
            tensors.push((format!("w/{n}"), t));
        }
        tensors.push(("alpha".to_string(), self.alpha.detach().copy()));
        if let Some(m) = &self.op_mask {
            tensors.push(("op_mask".to_string(), m.copy()));
        }
        let w_st = self.w_opt.state();
        let a_st = self.a_opt.state();
        tensors.extend(w_st.tensors.into_iter().map(|(n, t)| (format!("wopt/{n}"), t)));
        tensors.extend(a_st.tensors.into_iter().map(|(n, t)| (format!("aopt/{n}"), t)));
        let meta = Meta {
            version: CHECKPOINT_VERSION,
            method: self.method,
            seed: self.seed,
            config: self.cfg.clone(),
            net: self.net_cfg,
            epoch: self.epoch,
            rng_step: self.rng_step,
            trajectory: self.trajectory.clone(),
            w_opt_counters: w_st.counters,
            a_opt_counters: a_st.counters,
        };
        let json = serde_json::to_value(&meta).map_err(|e| DartsError::Checkpoint {
            path: path.to_path_buf(),
            reason: format!("cannot serialize state: {e}"),
        })?;
        save_checkpoint(path, &tensors, &json)?;
        Ok(())
    }

    /// Rebuilds a search from a checkpoint written by [`DartsSearch::save`].
    ///
    /// The method, seed and configs must equal the ones given (a checkpoint of another run is an
    /// error, never silently continued). Alpha comes from the file: the resumed search continues
    /// with the saved architecture, not a fresh random one.
    pub fn resume(
        path: &Path,
        method: DartsMethod,
        cfg: &DartsConfig,
        net_cfg: &S::Config,
        seed: u64,
        device: Device,
        kind: Kind,
    ) -> DartsResult<Self> {
        let ck = |reason: String| DartsError::Checkpoint { path: path.to_path_buf(), reason };
        let (tensors, json) = load_checkpoint(path, device)?;
        let meta: Meta<S::Config, GenotypeOf<S>> = serde_json::from_value(json).map_err(|e| {
            ck(format!("corrupt state document ({e}); delete the file to start afresh"))
        })?;
        if meta.version != CHECKPOINT_VERSION {
            return Err(ck(format!(
                "format version {} (this build reads {CHECKPOINT_VERSION})",
                meta.version
            )));
        }
        if meta.method != method || meta.seed != seed {
            return Err(ck(format!(
                "it belongs to method {} seed {}, not method {method} seed {seed}",
                meta.method, meta.seed
            )));
        }
        if &meta.config != cfg || &meta.net != net_cfg {
            return Err(ck("it was written with a different configuration; use another --out or the same config".into()));
        }
        let mut s = DartsSearch::new(method, cfg, net_cfg, seed, device, kind)?;
        let mut weights = Vec::new();
        let mut alpha = None;
        let mut op_mask = None;
        let mut w_st = OptimizerState { tensors: Vec::new(), counters: meta.w_opt_counters };
        let mut a_st = OptimizerState { tensors: Vec::new(), counters: meta.a_opt_counters };
        for (name, t) in tensors {
            let t = t.to_kind(kind);
            if let Some(n) = name.strip_prefix("w/") {
                weights.push((n.to_string(), t));
            } else if let Some(n) = name.strip_prefix("wopt/") {
                w_st.tensors.push((n.to_string(), t));
            } else if let Some(n) = name.strip_prefix("aopt/") {
                a_st.tensors.push((n.to_string(), t));
            } else if name == "alpha" {
                alpha = Some(t);
            } else if name == "op_mask" {
                op_mask = Some(t);
            } else {
                return Err(ck(format!("unexpected tensor {name:?}")));
            }
        }
        // A search saved after DrNAS' second stage began holds widened weights.
        if op_mask.is_some() && s.method.relaxation() == super::Relaxation::Dirichlet {
            let k = s.cfg.drnas_partial_channels_at(1);
            s.widen_partial_channels(k).map_err(|e| ck(e.to_string()))?;
        }
        let expected = s.snapshot_weights().len();
        if weights.len() != expected {
            return Err(ck(format!(
                "it holds {} weight tensors, the supernet has {expected}",
                weights.len()
            )));
        }
        s.restore_weights(&weights).map_err(|e| ck(e.to_string()))?;
        let alpha = alpha.ok_or_else(|| ck("no alpha tensor".into()))?;
        s.set_alpha(&alpha).map_err(|e| ck(e.to_string()))?;
        s.w_opt.load_state(w_st).map_err(|e| ck(e.to_string()))?;
        s.a_opt.load_state(a_st).map_err(|e| ck(e.to_string()))?;
        s.op_mask = op_mask;
        if s.method.relaxation() != super::Relaxation::Dirichlet {
            s.sync_active_ops().map_err(|e| ck(e.to_string()))?;
        }
        s.epoch = meta.epoch;
        s.rng_step = meta.rng_step;
        s.trajectory = meta.trajectory;
        Ok(s)
    }
}
