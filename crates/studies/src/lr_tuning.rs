//! Online learning-rate tuning by T-step SoTL hypergradients (thesis Section 4.1.1, after
//! Baydin et al. 2018, "Online learning rate adaptation with hypergradient descent", ICLR).
//!
//! Training is cut into blocks of T minibatch steps. In each block the weights take T plain SGD
//! steps `w_{t+1} = w_t - eta * grad L_t(w_t)` with `eta` a differentiable scalar, then
//!
//! ```text
//! h   = d/d eta  sum_{t=0}^{T-1} L_t(w_t)           (objective Sotl)
//!     = d/d eta  L_val(w_T)                          (objective Val, the baseline)
//! h   <- h * min(1, clip / |h|)
//! eta <- eta - hyper_lr * h,   or eta / 2 if that would not be positive
//! ```
//!
//! (or an Adam step on eta in place of the SGD one), and with `retrain` (the default) the block
//! is trained again from `w_0` at the new `eta` (step 3 of DARTS' Algorithm 1 and of SoTL-DARTS:
//! the unroll was a look-ahead); without it training continues from the detached `w_T`.
//! For T = 2 the SoTL hypergradient is
//! `-g_1 . g_0`, Baydin's HD rule (thesis Eq. 4.2). The exact derivative keeps all T weight
//! copies and their gradient graphs: memory O(T).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sotl_data::Normalization;
use sotl_train::{Adam, AdamConfig, Optimizer, OptimizerState, ParamGroup};
use tch::{Device, Kind, Tensor};

use crate::{
    cross_entropy, epoch_indices, hypergradient, index_batches, rng_for, sgd_steps, unroll_sgd,
    EvalSplit, FunctionalNet, HyperObjective, HyperOptimizer, HypergradConfig, Result,
    StudiesError,
};

/// Train/validation/test images for the study: uint8 `[N, C, H, W]` and int64 labels `[N]`.
#[derive(Debug)]
pub struct LrData {
    /// Training images.
    pub train_images: Tensor,
    /// Training labels.
    pub train_labels: Tensor,
    /// Validation images (held out from the training set).
    pub val_images: Tensor,
    /// Validation labels.
    pub val_labels: Tensor,
    /// Test images.
    pub test_images: Tensor,
    /// Test labels.
    pub test_labels: Tensor,
    /// Pixel normalization.
    pub norm: Normalization,
}

fn check_images(what: &str, images: &Tensor, labels: &Tensor, chw: (i64, i64, i64)) -> Result<()> {
    let s = images.size();
    if images.kind() != Kind::Uint8 || s.len() != 4 || (s[1], s[2], s[3]) != chw {
        return Err(StudiesError::Data(format!(
            "{what} images must be uint8 [N, {}, {}, {}], got {:?} {s:?}",
            chw.0,
            chw.1,
            chw.2,
            images.kind()
        )));
    }
    if labels.kind() != Kind::Int64 || labels.size() != [s[0]] {
        return Err(StudiesError::Data(format!(
            "{what} labels must be int64 [{}], got {:?} {:?}",
            s[0],
            labels.kind(),
            labels.size()
        )));
    }
    Ok(())
}

impl LrData {
    /// Splits a training set into train/validation (a seeded permutation, `cfg.held_out()`
    /// images held out; `cfg.train_limit` applied first) and moves everything to `device`.
    pub fn new(
        train: (&Tensor, &Tensor),
        test: (&Tensor, &Tensor),
        cfg: &HypergradConfig,
        device: Device,
    ) -> Result<Self> {
        let chw = cfg.image_shape();
        check_images("training", train.0, train.1, chw)?;
        check_images("test", test.0, test.1, chw)?;
        let mut n = train.0.size()[0] as usize;
        if cfg.train_limit > 0 {
            n = n.min(cfg.train_limit);
        }
        let held = cfg.held_out();
        if n < held + cfg.batch_size {
            return Err(StudiesError::Config(format!(
                "{n} training images cannot hold val_size {held} plus one batch of {}",
                cfg.batch_size
            )));
        }
        let order = epoch_indices(&mut index_batches(n, n, cfg.seed, 0, u64::MAX)?, 0)?.remove(0);
        let (val_idx, train_idx) =
            (order.narrow(0, 0, held as i64), order.narrow(0, held as i64, (n - held) as i64));
        let pick = |t: &Tensor, i: &Tensor| t.index_select(0, i).to_device(device);
        Ok(Self {
            train_images: pick(train.0, &train_idx),
            train_labels: pick(train.1, &train_idx),
            val_images: pick(train.0, &val_idx),
            val_labels: pick(train.1, &val_idx),
            test_images: test.0.to_device(device),
            test_labels: test.1.to_device(device),
            norm: cfg.normalization(),
        })
    }
}

/// One point of the learning-rate trajectory: eta after the hyper update at a global step.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EtaPoint {
    /// Weight steps taken so far.
    pub step: usize,
    /// The learning rate after the update.
    pub eta: f64,
    /// The (clipped) hypergradient that produced it.
    pub hypergrad: f64,
    /// Whether the update was replaced by halving.
    pub halved: bool,
}

/// End-of-epoch numbers of one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// Epoch number, from 1.
    pub epoch: usize,
    /// Accuracy in percent on the config's `eval_split` (the test set by default).
    #[serde(alias = "test_acc")]
    pub acc: f64,
    /// Mean cross-entropy on the same images.
    #[serde(alias = "test_loss")]
    pub loss: f64,
    /// Mean training loss over the epoch's steps.
    pub train_loss: f64,
    /// Learning rate at the end of the epoch.
    pub eta: f64,
    /// Wall-clock seconds the epoch took.
    pub seconds: f64,
}

/// The resumable state of one run (one value of T).
#[derive(Debug)]
pub struct LrRun {
    /// Unroll length.
    pub t: usize,
    /// Epochs completed.
    pub epoch: usize,
    /// Weight steps taken.
    pub step: usize,
    /// Current learning rate.
    pub eta: f64,
    /// Current weights (leaves, no graph).
    pub params: Vec<Tensor>,
    /// Per-epoch records.
    pub history: Vec<EpochRecord>,
    /// Every hyper update.
    pub eta_trace: Vec<EtaPoint>,
    /// Adam's moments for eta (`hyper_optimizer = "adam"`, after its first update).
    pub eta_adam: Option<EtaAdamState>,
}

/// The state of the Adam that descends eta: its two moments and its step count.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EtaAdamState {
    /// First moment.
    pub exp_avg: f64,
    /// Second moment.
    pub exp_avg_sq: f64,
    /// Updates taken.
    pub step: u64,
}

#[derive(Serialize, Deserialize)]
struct RunMeta {
    t: usize,
    epoch: usize,
    step: usize,
    eta: f64,
    params_file: String,
    history: Vec<EpochRecord>,
    eta_trace: Vec<EtaPoint>,
    #[serde(default)]
    eta_adam: Option<EtaAdamState>,
}

fn ckpt_err(path: &Path, msg: impl ToString) -> StudiesError {
    StudiesError::Checkpoint { path: path.to_path_buf(), msg: msg.to_string() }
}

impl LrRun {
    /// A fresh run: weights from `cfg.seed`, `eta = cfg.eta0`.
    pub fn new(net: &dyn FunctionalNet, cfg: &HypergradConfig, t: usize, device: Device) -> Self {
        Self {
            t,
            epoch: 0,
            step: 0,
            eta: cfg.eta0,
            params: net.init_params(cfg.seed, Kind::Float, device),
            history: Vec::new(),
            eta_trace: Vec::new(),
            eta_adam: None,
        }
    }

    /// Trains one epoch, then evaluates on the test set. `progress(done, total)` is called after
    /// every block of steps.
    pub fn run_epoch(
        &mut self,
        net: &dyn FunctionalNet,
        data: &LrData,
        cfg: &HypergradConfig,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<EpochRecord> {
        let start = std::time::Instant::now();
        let kind = self.params[0].kind();
        let n = data.train_images.size()[0] as usize;
        // Stream 2e: batch order, 2e+1: validation batches; same for every T (common random numbers).
        let e = self.epoch as u64;
        let batches =
            epoch_indices(&mut index_batches(n, cfg.batch_size, cfg.seed, 2, 0)?, self.epoch)?;
        let mut val_rng = rng_for(cfg.seed, 2 * e + 1);
        let nval = data.val_images.size()[0] as usize;
        let dev = data.train_images.device();
        let batch_of = |idx: &Tensor| {
            let i = idx.to_device(dev);
            (
                data.norm.standardize(&data.train_images.index_select(0, &i), kind),
                data.train_labels.index_select(0, &i),
            )
        };
        let mut loss_sum = 0.0;
        for (b, block) in batches.chunks(self.t).enumerate() {
            let eta = Tensor::from(self.eta).to_kind(kind).to_device(dev).set_requires_grad(true);
            let inputs: Vec<(Tensor, Tensor)> = block.iter().map(batch_of).collect();
            let loss_at =
                |t: usize, w: &[Tensor]| cross_entropy(&net.forward(w, &inputs[t].0), &inputs[t].1);
            let objective = cfg.objective;
            // A block too short to make eta matter (SoTL over one step) is a plain SGD step.
            let tune = block.len() >= 2 || objective == HyperObjective::Val;
            let un = unroll_sgd(
                &self.params,
                &eta,
                block.len(),
                tune && objective == HyperObjective::Val,
                &loss_at,
            )
            .map_err(|e| at_step(e, self.step))?;
            let start_step = self.step;
            self.step += block.len();
            if tune {
                let obj = match objective {
                    HyperObjective::Sotl => un.sotl.shallow_clone(),
                    HyperObjective::Val => {
                        let vi: Vec<i64> =
                            rand::seq::index::sample(&mut val_rng, nval, cfg.batch_size)
                                .into_iter()
                                .map(|i| i as i64)
                                .collect();
                        let vi = Tensor::from_slice(&vi).to_device(dev);
                        let x = data.norm.standardize(&data.val_images.index_select(0, &vi), kind);
                        cross_entropy(
                            &net.forward(&un.params, &x),
                            &data.val_labels.index_select(0, &vi),
                        )
                    }
                };
                let h = hypergradient(&obj, &eta)?.double_value(&[]);
                if !h.is_finite() {
                    return Err(StudiesError::NonFinite {
                        what: "learning-rate hypergradient",
                        step: self.step,
                        value: h,
                    });
                }
                let p = match cfg.hyper_optimizer {
                    HyperOptimizer::Sgd => eta_update(self.eta, h, cfg.hyper_lr, cfg.clip),
                    HyperOptimizer::Adam => {
                        let state = &mut self.eta_adam;
                        eta_update_with(self.eta, h, cfg.clip, |eta, h| {
                            adam_eta_step(state, eta, h, cfg.hyper_lr)
                        })?
                    }
                };
                self.eta = p.eta;
                self.eta_trace.push(EtaPoint { step: self.step, ..p });
            }
            let weights = if tune && cfg.retrain {
                // Step 3 of Algorithm 1: the block again from its starting weights, at the new
                // eta; the unroll was a look-ahead (its graph is freed first).
                drop(un);
                sgd_steps(&self.params, self.eta, block.len(), &loss_at)
                    .map_err(|e| at_step(e, start_step))?
            } else {
                un
            };
            loss_sum += weights.losses.iter().sum::<f64>();
            self.params = weights.params.iter().map(Tensor::detach).collect();
            progress(b + 1, batches.len().div_ceil(self.t));
        }
        let (acc, loss) = evaluate(net, &self.params, data, cfg.eval_split, cfg.eval_batch_size);
        self.epoch += 1;
        let rec = EpochRecord {
            epoch: self.epoch,
            acc,
            loss,
            train_loss: loss_sum / (batches.len().max(1)) as f64,
            eta: self.eta,
            seconds: start.elapsed().as_secs_f64(),
        };
        self.history.push(rec.clone());
        Ok(rec)
    }

    /// Writes the run to `dir/<tag>.json` and `dir/<tag>-e<epoch>.ot`, each atomically; the
    /// JSON is written last and names the weights file, so a crash leaves the previous pair.
    pub fn save(&self, dir: &Path, tag: &str) -> Result<()> {
        let params_file = format!("{tag}-e{}.ot", self.epoch);
        let ppath = dir.join(&params_file);
        let tmp = dir.join(format!(".{params_file}.tmp"));
        let named: Vec<(String, &Tensor)> =
            self.params.iter().enumerate().map(|(i, p)| (format!("p{i}"), p)).collect();
        Tensor::save_multi(&named, &tmp).map_err(|e| ckpt_err(&tmp, e))?;
        std::fs::rename(&tmp, &ppath).map_err(|e| ckpt_err(&ppath, e))?;
        let meta = RunMeta {
            t: self.t,
            epoch: self.epoch,
            step: self.step,
            eta: self.eta,
            params_file: params_file.clone(),
            history: self.history.clone(),
            eta_trace: self.eta_trace.clone(),
            eta_adam: self.eta_adam,
        };
        let jpath = dir.join(format!("{tag}.json"));
        let jtmp = dir.join(format!(".{tag}.json.tmp"));
        let bytes = serde_json::to_vec(&meta).map_err(|e| ckpt_err(&jpath, e))?;
        std::fs::write(&jtmp, bytes).map_err(|e| ckpt_err(&jtmp, e))?;
        std::fs::rename(&jtmp, &jpath).map_err(|e| ckpt_err(&jpath, e))?;
        // Older weight files are no longer referenced.
        if self.epoch > 0 {
            let old = dir.join(format!("{tag}-e{}.ot", self.epoch - 1));
            let _ = std::fs::remove_file(old);
        }
        Ok(())
    }

    /// Reads a run written by [`LrRun::save`], or `Ok(None)` when `dir/<tag>.json` does not
    /// exist. Checks the weights against `net`'s parameter shapes.
    pub fn load(
        net: &dyn FunctionalNet,
        dir: &Path,
        tag: &str,
        device: Device,
    ) -> Result<Option<Self>> {
        let jpath = dir.join(format!("{tag}.json"));
        if !jpath.exists() {
            return Ok(None);
        }
        let text = std::fs::read(&jpath).map_err(|e| ckpt_err(&jpath, e))?;
        let meta: RunMeta = serde_json::from_slice(&text).map_err(|e| {
            ckpt_err(&jpath, format!("corrupt ({e}); delete it to restart this run"))
        })?;
        let ppath: PathBuf = dir.join(&meta.params_file);
        let loaded = Tensor::load_multi(&ppath).map_err(|e| ckpt_err(&ppath, e))?;
        let fresh = net.init_params(0, Kind::Float, Device::Cpu);
        if loaded.len() != fresh.len() {
            return Err(ckpt_err(
                &ppath,
                format!("{} tensors, model has {}: wrong --out folder?", loaded.len(), fresh.len()),
            ));
        }
        let mut params = Vec::with_capacity(fresh.len());
        for (i, f) in fresh.iter().enumerate() {
            let name = format!("p{i}");
            let t = loaded
                .iter()
                .find(|(n, _)| *n == name)
                .ok_or_else(|| ckpt_err(&ppath, format!("missing tensor {name}")))?;
            if t.1.size() != f.size() {
                return Err(ckpt_err(
                    &ppath,
                    format!("{name} has shape {:?}, model wants {:?}", t.1.size(), f.size()),
                ));
            }
            params.push(t.1.to_device(device));
        }
        Ok(Some(Self {
            t: meta.t,
            epoch: meta.epoch,
            step: meta.step,
            eta: meta.eta,
            params,
            history: meta.history,
            eta_trace: meta.eta_trace,
            eta_adam: meta.eta_adam,
        }))
    }
}

/// The thesis' learning-rate update: clip the hypergradient `h` to `[-clip, clip]`, step
/// `eta - hyper_lr * h`, and halve eta instead when that step would not leave it positive.
/// The returned point has `step` 0.
pub fn eta_update(eta: f64, h: f64, hyper_lr: f64, clip: f64) -> EtaPoint {
    let h = h.clamp(-clip, clip);
    settle(eta, eta - hyper_lr * h, h)
}

/// The thesis' update with any optimizer: clip `h` to `[-clip, clip]`, let `step(eta, h)`
/// propose the new eta, and halve eta instead when the proposal is not positive.
pub fn eta_update_with(
    eta: f64,
    h: f64,
    clip: f64,
    step: impl FnOnce(f64, f64) -> Result<f64>,
) -> Result<EtaPoint> {
    let h = h.clamp(-clip, clip);
    Ok(settle(eta, step(eta, h)?, h))
}

/// Takes the proposed eta, or halves eta when the proposal is not positive.
fn settle(eta: f64, proposed: f64, h: f64) -> EtaPoint {
    let halved = proposed <= 0.0;
    EtaPoint { step: 0, eta: if halved { eta / 2.0 } else { proposed }, hypergrad: h, halved }
}

/// One step of DARTS' architecture Adam (the workspace's [`Adam`], betas (0.5, 0.999), weight
/// decay 1e-3) on the scalar eta with gradient `h`, carrying its moments in `state`.
pub fn adam_eta_step(state: &mut Option<EtaAdamState>, eta: f64, h: f64, lr: f64) -> Result<f64> {
    let err = |e: sotl_train::TrainError| StudiesError::Config(format!("eta's Adam: {e}"));
    let p = Tensor::from(eta).set_requires_grad(true);
    let group = ParamGroup::new(vec![("eta".into(), p.shallow_clone())]).map_err(err)?;
    let mut adam = Adam::new(group, AdamConfig { lr, ..AdamConfig::darts_arch() }).map_err(err)?;
    if let Some(s) = *state {
        let mut st = OptimizerState::default();
        st.tensors.push(("exp_avg/eta".into(), Tensor::from(s.exp_avg)));
        st.tensors.push(("exp_avg_sq/eta".into(), Tensor::from(s.exp_avg_sq)));
        st.counters.insert("step/eta".into(), s.step);
        adam.load_state(st).map_err(err)?;
    }
    adam.step_with(&[Some(Tensor::from(h))]).map_err(err)?;
    let st = adam.state();
    let scalar =
        |name: &str| st.tensors.iter().find(|(n, _)| n == name).map(|(_, t)| t.double_value(&[]));
    *state = Some(EtaAdamState {
        exp_avg: scalar("exp_avg/eta").unwrap_or(0.0),
        exp_avg_sq: scalar("exp_avg_sq/eta").unwrap_or(0.0),
        step: adam.step_count(0),
    });
    Ok(p.double_value(&[]))
}

fn at_step(e: StudiesError, offset: usize) -> StudiesError {
    match e {
        StudiesError::NonFinite { what, step, value } => {
            StudiesError::NonFinite { what, step: step + offset, value }
        }
        other => other,
    }
}

/// Accuracy (percent) and mean cross-entropy of `params` on the test set or the held-out
/// validation images, without gradients.
pub fn evaluate(
    net: &dyn FunctionalNet,
    params: &[Tensor],
    data: &LrData,
    split: EvalSplit,
    batch: usize,
) -> (f64, f64) {
    let _guard = tch::no_grad_guard();
    let (images, labels) = match split {
        EvalSplit::Test => (&data.test_images, &data.test_labels),
        EvalSplit::Val => (&data.val_images, &data.val_labels),
    };
    let n = images.size()[0];
    let kind = params[0].kind();
    let (mut correct, mut loss) = (0.0, 0.0);
    let mut start = 0;
    while start < n {
        let len = (batch as i64).min(n - start);
        let x = data.norm.standardize(&images.narrow(0, start, len), kind);
        let y = labels.narrow(0, start, len);
        let logits = net.forward(params, &x);
        loss += cross_entropy(&logits, &y).double_value(&[]) * len as f64;
        correct += logits
            .argmax(-1, false)
            .eq_tensor(&y)
            .to_kind(Kind::Double)
            .sum(Kind::Double)
            .double_value(&[]);
        start += len;
    }
    (100.0 * correct / n as f64, loss / n as f64)
}
