//! Typed configuration of the learning-rate hypergradient study.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{Mlp, Result, StudiesError, Vgg};

/// Which network the study trains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    /// Fully connected ReLU network ([`Mlp`]).
    Mlp,
    /// VGG-style CNN ([`Vgg`]).
    Vgg,
}

/// Which dataset the study trains on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DatasetKind {
    /// MNIST, 28x28 grey digits.
    Mnist,
    /// CIFAR-10, 32x32 RGB.
    Cifar10,
}

/// What the learning-rate hypergradient descends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HyperObjective {
    /// The sum of the T training losses of the unroll (SoTL).
    Sotl,
    /// The loss of one validation batch at the weights after the unroll (the DARTS-style baseline).
    Val,
}

/// The optimizer that descends eta with its hypergradient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HyperOptimizer {
    /// Plain SGD on eta (Baydin et al.'s hypergradient descent; thesis: "update the learning
    /// rate with SGD").
    Sgd,
    /// DARTS' architecture optimizer, Adam with betas (0.5, 0.999) and weight decay 1e-3, at
    /// `hyper_lr` (thesis: the study "proceeds as in second-order DARTS", eta in alpha's place).
    Adam,
}

/// Which images the per-epoch accuracy is measured on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EvalSplit {
    /// The dataset's test set (the thesis' Figure 4.1).
    Test,
    /// `val_size` training images held out from every run, the SoTL runs included: settles the
    /// settings the thesis leaves open without reading the test set.
    Val,
}

macro_rules! enum_strings {
    ($ty:ident, $what:literal, $($s:literal => $v:ident),+) => {
        impl FromStr for $ty {
            type Err = StudiesError;
            fn from_str(s: &str) -> Result<Self> {
                match s.to_ascii_lowercase().as_str() {
                    $($s => Ok($ty::$v),)+
                    _ => Err(StudiesError::Config(format!(
                        concat!("unknown ", $what, " {:?}: expected one of {}"),
                        s,
                        [$($s),+].join(", ")
                    ))),
                }
            }
        }
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let s = match self { $($ty::$v => $s,)+ };
                f.write_str(s)
            }
        }
    };
}

enum_strings!(ModelKind, "model", "mlp" => Mlp, "vgg" => Vgg);
enum_strings!(DatasetKind, "dataset", "mnist" => Mnist, "cifar10" => Cifar10);
enum_strings!(HyperObjective, "objective", "sotl" => Sotl, "val" => Val);
enum_strings!(HyperOptimizer, "hyper optimizer", "sgd" => Sgd, "adam" => Adam);
enum_strings!(EvalSplit, "evaluation split", "test" => Test, "val" => Val);

/// Settings of online learning-rate tuning by T-step hypergradients (thesis Section 4.1.1).
///
/// Defaults are the thesis' where it states them (`eta0` 1e-3, `hyper_lr` 1e-2, clip 10, the
/// *sum* of the T losses as SoTL-DARTS uses, "as in second-order DARTS": each block retrained at
/// the new eta). Inner steps are plain SGD (thesis Eq. 4.1), no momentum, and the hyper learning
/// rate applies to `eta` itself, not `log eta` (the negative-eta rule only makes sense there).
/// What the thesis leaves open was chosen on 10 000 held-out training images
/// (`eval_split = "val"`, T=150, 20 epochs, the test set unread): batch 64 (the thesis' batch
/// everywhere else) over Baydin et al.'s 128, retraining over keeping the unrolled weights, and
/// SGD over DARTS' Adam on eta. SoTL needs no validation data, so SoTL runs train on all
/// 60 000 MNIST images unless `eval_split = "val"` holds `val_size` out to measure on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HypergradConfig {
    /// Network.
    pub model: ModelKind,
    /// Dataset.
    pub dataset: DatasetKind,
    /// Unroll lengths to compare, one run each.
    pub ts: Vec<usize>,
    /// Epochs per run.
    pub epochs: usize,
    /// What eta descends.
    pub objective: HyperObjective,
    /// Minibatch size of the weight steps.
    pub batch_size: usize,
    /// Seed of weight init, batch order and validation batches (shared by every T).
    pub seed: u64,
    /// Initial learning rate.
    pub eta0: f64,
    /// Hyper learning rate.
    pub hyper_lr: f64,
    /// What descends eta: SGD or DARTS' architecture Adam (the thesis names neither outright).
    pub hyper_optimizer: HyperOptimizer,
    /// Maximum hypergradient norm.
    pub clip: f64,
    /// After each eta update, restore the block's starting weights and take its T steps again
    /// with the new eta, as step 3 of DARTS' Algorithm 1 and of SoTL-DARTS (Algorithm 3) does
    /// with the new architecture (the thesis says this study "proceeds as in second-order DARTS
    /// (Algorithm 1)", eta in the place of alpha). Off keeps the unrolled weights (the block
    /// trained with the old eta), one pass less.
    pub retrain: bool,
    /// Training images held out for validation (objective `val`, or `eval_split = "val"`; a SoTL
    /// run otherwise trains on all).
    pub val_size: usize,
    /// Where the per-epoch accuracy is measured: the test set, or the held-out validation images
    /// (for choosing settings without the test set).
    pub eval_split: EvalSplit,
    /// Use only the first this-many training images (0 = all): quick runs and tests.
    pub train_limit: usize,
    /// MLP hidden widths. The thesis' MLP has 1.8M parameters, which is Baydin et al.'s
    /// 784-1000-1000-10 net (one hidden layer of 1000 would have 0.8M).
    pub mlp_hidden: Vec<i64>,
    /// VGG block widths (VGG16: 64,128,256,512,512; the default is CPU-sized).
    pub vgg_channels: Vec<i64>,
    /// VGG convolutions per block.
    pub vgg_convs_per_block: usize,
    /// VGG hidden fully connected width.
    pub vgg_fc: i64,
    /// Batch size for test evaluation (memory only; no effect on results).
    pub eval_batch_size: usize,
}

impl Default for HypergradConfig {
    fn default() -> Self {
        Self {
            model: ModelKind::Mlp,
            dataset: DatasetKind::Mnist,
            ts: vec![2, 10, 50, 150],
            epochs: 20,
            objective: HyperObjective::Sotl,
            batch_size: 64,
            seed: 0,
            eta0: 1e-3,
            hyper_lr: 1e-2,
            hyper_optimizer: HyperOptimizer::Sgd,
            clip: 10.0,
            retrain: true,
            val_size: 10_000,
            eval_split: EvalSplit::Test,
            train_limit: 0,
            mlp_hidden: vec![1000, 1000],
            vgg_channels: vec![16, 32, 64],
            vgg_convs_per_block: 1,
            vgg_fc: 128,
            eval_batch_size: 1000,
        }
    }
}

/// The largest unroll supported (memory grows linearly in T).
pub const MAX_UNROLL: usize = 250;

impl HypergradConfig {
    /// Checks every value before any tensor is allocated.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(StudiesError::Config(m));
        if self.ts.is_empty() {
            return bad("ts is empty: give at least one unroll length, e.g. 2,10,50".into());
        }
        let min_t = if self.objective == HyperObjective::Sotl { 2 } else { 1 };
        for &t in &self.ts {
            if !(min_t..=MAX_UNROLL).contains(&t) {
                return bad(format!(
                    "unroll length {t} out of range {min_t}..={MAX_UNROLL} for objective {} \
                     (SoTL needs T >= 2: the first loss does not depend on eta)",
                    self.objective
                ));
            }
        }
        if self.epochs == 0 || self.batch_size == 0 || self.eval_batch_size == 0 {
            return bad("epochs, batch_size and eval_batch_size must be positive".into());
        }
        for (name, v) in [("eta0", self.eta0), ("hyper_lr", self.hyper_lr), ("clip", self.clip)] {
            if !(v.is_finite() && v > 0.0) {
                return bad(format!("{name} = {v} must be a positive finite number"));
            }
        }
        if self.objective == HyperObjective::Val && self.val_size < self.batch_size {
            return bad(format!(
                "objective val needs val_size >= batch_size ({} < {})",
                self.val_size, self.batch_size
            ));
        }
        if self.eval_split == EvalSplit::Val && self.val_size == 0 {
            return bad("eval_split val needs val_size > 0 held-out images to measure on".into());
        }
        match self.model {
            ModelKind::Mlp if self.mlp_hidden.iter().any(|&h| h <= 0) => {
                return bad("mlp_hidden widths must be positive".into())
            }
            ModelKind::Vgg => {
                if self.vgg_channels.is_empty() || self.vgg_channels.iter().any(|&c| c <= 0) {
                    return bad("vgg_channels must be non-empty and positive".into());
                }
                if self.vgg_convs_per_block == 0 || self.vgg_fc <= 0 {
                    return bad("vgg_convs_per_block and vgg_fc must be positive".into());
                }
                let side = self.image_shape().2;
                if side >> self.vgg_channels.len() == 0 {
                    return bad(format!(
                        "{} VGG blocks pool a {side}x{side} image to nothing: use fewer blocks",
                        self.vgg_channels.len()
                    ));
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// `(channels, height, width)` of the dataset's images.
    pub fn image_shape(&self) -> (i64, i64, i64) {
        match self.dataset {
            DatasetKind::Mnist => (1, 28, 28),
            DatasetKind::Cifar10 => (3, 32, 32),
        }
    }

    /// The network this config trains.
    pub fn build_net(&self) -> Box<dyn crate::FunctionalNet> {
        let (c, h, w) = self.image_shape();
        match self.model {
            ModelKind::Mlp => {
                Box::new(Mlp { input: c * h * w, hidden: self.mlp_hidden.clone(), classes: 10 })
            }
            ModelKind::Vgg => Box::new(Vgg {
                in_channels: c,
                image_size: h,
                channels: self.vgg_channels.clone(),
                convs_per_block: self.vgg_convs_per_block,
                fc: self.vgg_fc,
                classes: 10,
            }),
        }
    }

    /// Training images held out as validation data: `val_size` for the `val` objective or the
    /// `val` evaluation split, otherwise none (SoTL trains on every image).
    pub fn held_out(&self) -> usize {
        match (self.objective, self.eval_split) {
            (HyperObjective::Sotl, EvalSplit::Test) => 0,
            _ => self.val_size,
        }
    }

    /// The standard normalization of the dataset (PyTorch's MNIST example; NAS-Bench-201's
    /// CIFAR-10 constants).
    pub fn normalization(&self) -> sotl_data::Normalization {
        match self.dataset {
            DatasetKind::Mnist => sotl_data::Normalization::mnist(),
            DatasetKind::Cifar10 => sotl_data::Normalization::cifar10(),
        }
    }
}
