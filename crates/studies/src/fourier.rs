//! The weight-sharing linear model that recovers a Fourier degree (thesis Section 4.1.2, after
//! Lyle et al. 2020, "A Bayesian perspective on training speed and model selection", NeurIPS).
//!
//! Data: `x ~ U[-10, 10]`, features `phi_0 = 1` and `phi_j = cos(2 pi j x) + sin(2 pi j x)` for
//! `j = 1..D`, targets `y = sum_{j=0}^{k} phi_j(x)` (thesis Eq. 4.4: all coefficients 1; `k`
//! counts the Fourier terms, the constant is always in) plus optional Gaussian noise (the thesis
//! adds none; Lyle et al. do).
//!
//! Differentiable degree (thesis Eq. 4.5): `f(x) = sum_{j=0}^{D} w_j s(MaxDeg - j) phi_j(x)` with
//! `s(z) = (tanh z + 1) / 2`. The weights take SGD steps on the training MSE; every T steps
//! `MaxDeg` descends `d/dMaxDeg [ sum_{t<T} L_t(w_t) ] + T * prior * MaxDeg` through the unrolled
//! weight steps (the L2 term is a Gaussian prior on the degree), or, as the baseline, the
//! validation MSE after one weight step (DARTS' one-step rule). The discretized architecture is
//! the number of terms with `j <= MaxDeg` ([`selected_terms`]).

use serde::{Deserialize, Serialize};
use std::fmt;
use tch::{Device, Kind, Tensor};

use crate::{
    epoch_indices, hypergradient, index_batches, rng_for, unroll_sgd, Result, StudiesError,
};

/// Settings of both Fourier studies; defaults follow the thesis where it states them.
///
/// Unstated in the thesis and chosen here (see each field): noise, weight init, weight learning
/// rate, batch size, prior strength, hyper learning rate and the number of steps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FourierConfig {
    /// Number of sampled points (thesis: 10 000).
    pub n_points: usize,
    /// Points held out for the validation-loss baseline (taken from `n_points`).
    pub val_points: usize,
    /// Highest feature degree D (thesis: 21).
    pub max_degree: usize,
    /// True degree k (thesis: 3).
    pub true_degree: usize,
    /// Standard deviation of Gaussian target noise (thesis: none stated; 0).
    pub noise_std: f64,
    /// Standard deviation of the initial weights of the fixed-degree models, `w ~ N(0, s^2)`:
    /// a draw from the Gaussian weight prior, as in Lyle et al.'s Bayesian linear regression
    /// (with zero init and no noise, degrees above k differ from k by under 0.1% in SoTL).
    pub fixed_init_std: f64,
    /// Standard deviation of the initial weights of the degree search (default 0). Prior-drawn
    /// weights hurt there: a feature whose gate starts near 0 learns at `weight_lr * s^2`, so a
    /// wrong-signed initial weight stays wrong for thousands of steps, and opening its gate
    /// raises the loss: from init -1 with `N(0, 1)` weights MaxDeg falls to -3 instead of rising.
    pub init_std: f64,
    /// Minibatch size of the weight steps.
    pub batch_size: usize,
    /// SGD learning rate of the weights.
    pub weight_lr: f64,
    /// SGD learning rate of MaxDeg.
    pub hyper_lr: f64,
    /// L2 weight decay on MaxDeg (Gaussian prior strength), per weight step: a block of T steps
    /// adds `T * prior * MaxDeg` to the hypergradient.
    pub prior: f64,
    /// Maximum |hypergradient| of MaxDeg; `None` (the default) does not clip: the thesis clips
    /// only in the learning-rate study, and SoTL's hypergradient grows with T, which is what
    /// makes long unrolls move MaxDeg faster.
    pub clip: Option<f64>,
    /// Weight steps per degree-search run.
    pub steps: usize,
    /// Initial MaxDeg values.
    pub inits: Vec<f64>,
    /// SoTL unroll lengths.
    pub ts: Vec<usize>,
    /// Also run the one-step validation-loss baseline.
    pub baseline: bool,
    /// Degrees of the fixed-degree check (thesis: 0, 1, 3, 5, ..., 21).
    pub fixed_degrees: Vec<usize>,
    /// Weight steps of each fixed-degree model.
    pub fixed_steps: usize,
    /// Seed of data, weights and batch order.
    pub seed: u64,
}

impl Default for FourierConfig {
    fn default() -> Self {
        let mut fixed = vec![0, 1];
        fixed.extend((3..=21).step_by(2));
        Self {
            n_points: 10_000,
            val_points: 2_000,
            max_degree: 21,
            true_degree: 3,
            noise_std: 0.0,
            fixed_init_std: 1.0,
            init_std: 0.0,
            batch_size: 32,
            weight_lr: 0.01,
            hyper_lr: 1e-2,
            prior: 0.05,
            clip: None,
            steps: 4000,
            inits: vec![-1.0, 1.0, 8.0, 15.0],
            ts: vec![2, 10, 25, 100],
            baseline: true,
            fixed_degrees: fixed,
            fixed_steps: 500,
            seed: 0,
        }
    }
}

impl FourierConfig {
    /// Checks every value before any tensor is allocated.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(StudiesError::Config(m));
        if self.max_degree == 0 || self.true_degree >= self.max_degree {
            return bad(format!(
                "need 0 <= true_degree < max_degree, got k = {}, D = {}",
                self.true_degree, self.max_degree
            ));
        }
        if self.val_points + self.batch_size > self.n_points || self.batch_size == 0 {
            return bad(format!(
                "n_points {} must hold val_points {} plus one batch of {} (> 0)",
                self.n_points, self.val_points, self.batch_size
            ));
        }
        if self.baseline && self.val_points == 0 {
            return bad("the validation baseline needs val_points > 0".into());
        }
        for (name, v) in [
            ("weight_lr", self.weight_lr),
            ("hyper_lr", self.hyper_lr),
            ("clip", self.clip.unwrap_or(1.0)),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return bad(format!("{name} = {v} must be a positive finite number"));
            }
        }
        for (name, v) in [
            ("noise_std", self.noise_std),
            ("init_std", self.init_std),
            ("fixed_init_std", self.fixed_init_std),
            ("prior", self.prior),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return bad(format!("{name} = {v} must be a finite number >= 0"));
            }
        }
        if let Some(t) = self.ts.iter().find(|&&t| !(2..=crate::MAX_UNROLL).contains(&t)) {
            return bad(format!("unroll length {t} out of range 2..={}", crate::MAX_UNROLL));
        }
        if let Some(i) = self.inits.iter().find(|i| !i.is_finite()) {
            return bad(format!("init {i} is not finite"));
        }
        if let Some(k) = self.fixed_degrees.iter().find(|&&k| k > self.max_degree) {
            return bad(format!("fixed degree {k} exceeds max_degree {}", self.max_degree));
        }
        if self.steps == 0 || self.fixed_steps == 0 {
            return bad("steps and fixed_steps must be positive".into());
        }
        Ok(())
    }
}

/// The synthetic regression data, in double precision.
#[derive(Debug)]
pub struct FourierData {
    /// Training features `[N_train, D + 1]`.
    pub train_x: Tensor,
    /// Training targets `[N_train]`.
    pub train_y: Tensor,
    /// Validation features `[N_val, D + 1]`.
    pub val_x: Tensor,
    /// Validation targets `[N_val]`.
    pub val_y: Tensor,
}

/// Features `[1, cos(2 pi j x) + sin(2 pi j x) for j = 1..=d]` of each point.
///
/// # Shapes
/// `x`: `[N]` -> `[N, d + 1]`.
pub fn fourier_features(x: &Tensor, d: usize) -> Tensor {
    let j = Tensor::arange(d as i64 + 1, (x.kind(), x.device()));
    let arg = x.unsqueeze(1) * j.unsqueeze(0) * (2.0 * std::f64::consts::PI);
    let f = arg.cos() + arg.sin();
    // Column 0 is cos(0) + sin(0) = 1 already: the constant a0 needs no special case.
    f
}

/// `s(z) = (tanh z + 1) / 2`, the soft step that gates feature `j` by `MaxDeg - j`.
pub fn soft_step(z: &Tensor) -> Tensor {
    (z.tanh() + 1.0) / 2.0
}

/// Samples the data of `cfg` from `cfg.seed` (ChaCha8 for x and noise, so it is the same on
/// every device and libtorch version).
pub fn fourier_data(cfg: &FourierConfig, device: Device) -> FourierData {
    use rand::Rng;
    let mut rng = rng_for(cfg.seed, 0xF0);
    let xs: Vec<f64> = (0..cfg.n_points).map(|_| rng.gen_range(-10.0..10.0)).collect();
    // Box-Muller: rand_distr is not a dependency and this is all the normal sampling needed.
    let noise: Vec<f64> = (0..cfg.n_points)
        .map(|_| {
            let (u1, u2): (f64, f64) = (rng.gen_range(f64::EPSILON..1.0), rng.gen());
            (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
        })
        .collect();
    let x = Tensor::from_slice(&xs).to_device(device);
    let feats = fourier_features(&x, cfg.max_degree);
    let y = feats.narrow(1, 0, cfg.true_degree as i64 + 1).sum_dim_intlist(
        [1i64].as_slice(),
        false,
        Kind::Double,
    ) + Tensor::from_slice(&noise).to_device(device) * cfg.noise_std;
    let nv = cfg.val_points as i64;
    let nt = cfg.n_points as i64 - nv;
    FourierData {
        train_x: feats.narrow(0, 0, nt),
        train_y: y.narrow(0, 0, nt),
        val_x: feats.narrow(0, nt, nv),
        val_y: y.narrow(0, nt, nv),
    }
}

/// Weights `w ~ N(0, std^2)` of length `D + 1`, drawn from libtorch's generator seeded by `seed`.
fn init_weights(cfg: &FourierConfig, std: f64, device: Device) -> Tensor {
    crate::with_torch_seed(cfg.seed, || {
        Tensor::randn([cfg.max_degree as i64 + 1], (Kind::Double, device))
    }) * std
}

/// Minibatches for `steps` weight steps: seeded shuffles of the training set, epoch after epoch.
fn batch_stream(
    n: usize,
    cfg: &FourierConfig,
    steps: usize,
    device: Device,
) -> Result<Vec<Tensor>> {
    let mut batches = index_batches(n, cfg.batch_size, cfg.seed, 1, 1000)?;
    let mut out = Vec::with_capacity(steps);
    let mut epoch = 0;
    while out.len() < steps {
        for b in epoch_indices(&mut batches, epoch)? {
            if out.len() == steps {
                break;
            }
            out.push(b.to_device(device));
        }
        epoch += 1;
    }
    Ok(out)
}

fn mse(pred: &Tensor, y: &Tensor) -> Tensor {
    (pred - y).square().mean(Kind::Double)
}

/// One fixed-degree model of the sanity check (thesis Figure 4.2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FixedDegreeResult {
    /// Fourier terms used (the constant plus terms 1..=degree).
    pub degree: usize,
    /// Sum of all training losses (SoTL over the whole run).
    pub sotl: f64,
    /// Training loss of every step.
    pub losses: Vec<f64>,
    /// Validation MSE of the final weights.
    pub final_val_mse: f64,
}

/// Trains a plain linear model on features `0..=k` for each `k` in `cfg.fixed_degrees`, same
/// initial weights and batch order for all, and sums its training losses (SoTL as model
/// selection, Lyle et al. 2020). The true degree should have the lowest SoTL: fewer terms
/// underfit, more terms start from prior-drawn weights on pure-noise features to unlearn.
pub fn fixed_degree_sotl(
    data: &FourierData,
    cfg: &FourierConfig,
) -> Result<Vec<FixedDegreeResult>> {
    cfg.validate()?;
    let dev = data.train_x.device();
    let batches = batch_stream(data.train_x.size()[0] as usize, cfg, cfg.fixed_steps, dev)?;
    let w0 = init_weights(cfg, cfg.fixed_init_std, dev);
    let mut out = Vec::new();
    for &k in &cfg.fixed_degrees {
        let _g = tch::no_grad_guard();
        let mask = Tensor::arange(cfg.max_degree as i64 + 1, (Kind::Double, dev))
            .le(k as f64)
            .to_kind(Kind::Double);
        let mut w = &w0 * &mask;
        let mut losses = Vec::with_capacity(batches.len());
        for (step, b) in batches.iter().enumerate() {
            let x = data.train_x.index_select(0, b);
            let y = data.train_y.index_select(0, b);
            let r = x.matmul(&w) - &y;
            let l = r.square().mean(Kind::Double).double_value(&[]);
            if !l.is_finite() {
                return Err(StudiesError::NonFinite {
                    what: "fixed-degree training loss",
                    step,
                    value: l,
                });
            }
            losses.push(l);
            // Gradient of the mean squared error, restricted to the model's features.
            let g = x.tr().matmul(&r) * (2.0 / b.size()[0] as f64) * &mask;
            w -= g * cfg.weight_lr;
        }
        let final_val_mse = mse(&data.val_x.matmul(&w), &data.val_y).double_value(&[]);
        out.push(FixedDegreeResult { degree: k, sotl: losses.iter().sum(), losses, final_val_mse });
    }
    Ok(out)
}

/// What drives MaxDeg in a degree search.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum DegreeObjective {
    /// The sum of T training losses through T unrolled weight steps.
    Sotl {
        /// Unroll length.
        t: usize,
    },
    /// The validation MSE after one unrolled weight step (thesis label "T = 2 (val)").
    ValOneStep,
}

impl fmt::Display for DegreeObjective {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DegreeObjective::Sotl { t } => write!(f, "sotl_t{t}"),
            DegreeObjective::ValOneStep => f.write_str("val_t2"),
        }
    }
}

/// One degree-search run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DegreeRun {
    /// Initial MaxDeg.
    pub init: f64,
    /// What drove MaxDeg.
    pub objective: DegreeObjective,
    /// `(weight steps so far, MaxDeg)` after every hyper update, starting with `(0, init)`.
    pub trajectory: Vec<(usize, f64)>,
    /// MaxDeg at the end.
    pub final_max_deg: f64,
    /// Terms selected at the end ([`selected_terms`]).
    pub final_terms: usize,
    /// First weight step at which `|MaxDeg - k| < 0.5`, if ever.
    pub first_within_half: Option<usize>,
}

/// The discretized architecture: the number of terms `j` in `0..=max_degree` with
/// `d_j = j <= max_deg` (thesis: "the first n terms with degree d_j <= MaxDeg").
///
/// The constant counts as a term, so the true model of degree k has k + 1 terms: MaxDeg in
/// `[k, k + 1)`. The thesis writes "n ~ k"; MaxDeg itself is what the runs compare.
pub fn selected_terms(max_deg: f64, max_degree: usize) -> usize {
    if max_deg < 0.0 {
        0
    } else {
        (max_deg.floor() as usize + 1).min(max_degree + 1)
    }
}

/// The gated linear model's predictions.
///
/// # Shapes
/// `x`: `[B, D + 1]`, `w`: `[D + 1]`, `max_deg`: `[]` -> `[B]`.
pub fn gated_forward(x: &Tensor, w: &Tensor, max_deg: &Tensor) -> Tensor {
    let d = Tensor::arange(w.size()[0], (w.kind(), w.device()));
    let gate = soft_step(&(max_deg - d));
    x.matmul(&(w * gate))
}

/// `d/dMaxDeg` of the objective over one block, and the block's weights after it.
///
/// SoTL: `batches.len()` unrolled weight steps, objective = sum of their losses. Validation:
/// one weight step on `batches[0]`, objective = validation MSE after it. The prior term is not
/// included. Returns `(hypergradient, w_after, training losses)`.
pub fn degree_hypergradient(
    data: &FourierData,
    w: &Tensor,
    max_deg: f64,
    batches: &[Tensor],
    objective: DegreeObjective,
    weight_lr: f64,
) -> Result<(f64, Tensor, Vec<f64>)> {
    let dev = w.device();
    let m = Tensor::from(max_deg).to_device(dev).set_requires_grad(true);
    let lr = Tensor::from(weight_lr).to_device(dev);
    let loss_at = |t: usize, p: &[Tensor]| {
        let x = data.train_x.index_select(0, &batches[t]);
        let y = data.train_y.index_select(0, &batches[t]);
        mse(&gated_forward(&x, &p[0], &m), &y)
    };
    let (obj, un) = match objective {
        DegreeObjective::Sotl { .. } => {
            let un = unroll_sgd(std::slice::from_ref(w), &lr, batches.len(), false, loss_at)?;
            (un.sotl.shallow_clone(), un)
        }
        DegreeObjective::ValOneStep => {
            let un = unroll_sgd(std::slice::from_ref(w), &lr, 1, true, loss_at)?;
            (mse(&gated_forward(&data.val_x, &un.params[0], &m), &data.val_y), un)
        }
    };
    let h = hypergradient(&obj, &m)?.double_value(&[]);
    Ok((h, un.params[0].detach(), un.losses))
}

/// Searches the degree from `init`: weights and MaxDeg trained together for `cfg.steps` weight
/// steps (same data, initial weights and batch order for every init and objective).
pub fn degree_search(
    data: &FourierData,
    cfg: &FourierConfig,
    init: f64,
    objective: DegreeObjective,
) -> Result<DegreeRun> {
    cfg.validate()?;
    let dev = data.train_x.device();
    let batches = batch_stream(data.train_x.size()[0] as usize, cfg, cfg.steps, dev)?;
    let block = match objective {
        DegreeObjective::Sotl { t } => t,
        DegreeObjective::ValOneStep => 1,
    };
    let mut w = init_weights(cfg, cfg.init_std, dev);
    let mut m = init;
    let mut trajectory = vec![(0, m)];
    let truth = cfg.true_degree as f64;
    let mut first_within_half = ((m - truth).abs() < 0.5).then_some(0);
    let mut step = 0;
    for chunk in batches.chunks(block) {
        // A trailing block too short to carry a SoTL hypergradient is plain weight training.
        let obj = match objective {
            DegreeObjective::Sotl { .. } if chunk.len() < 2 => {
                DegreeObjective::Sotl { t: chunk.len() }
            }
            o => o,
        };
        let (h, w_next, _) =
            degree_hypergradient(data, &w, m, chunk, obj, cfg.weight_lr).map_err(|e| match e {
                StudiesError::NonFinite { what, step: s, value } => {
                    StudiesError::NonFinite { what, step: step + s, value }
                }
                e => e,
            })?;
        step += chunk.len();
        w = w_next;
        if chunk.len() < 2 && matches!(objective, DegreeObjective::Sotl { .. }) {
            continue;
        }
        // The Gaussian prior weighs in once per weight step, like weight decay, so a block of T
        // steps carries T times the per-step prior: its pull per weight step is then the same
        // for every T and for the one-step baseline.
        let g = h + chunk.len() as f64 * cfg.prior * m;
        if !g.is_finite() {
            return Err(StudiesError::NonFinite { what: "MaxDeg hypergradient", step, value: g });
        }
        let g = match cfg.clip {
            Some(c) => g.clamp(-c, c),
            None => g,
        };
        m -= cfg.hyper_lr * g;
        trajectory.push((step, m));
        if first_within_half.is_none() && (m - truth).abs() < 0.5 {
            first_within_half = Some(step);
        }
    }
    Ok(DegreeRun {
        init,
        objective,
        trajectory,
        final_max_deg: m,
        final_terms: selected_terms(m, cfg.max_degree),
        first_within_half,
    })
}
