//! Settings of one standalone training run (`sotl-nas train`), NAS-Bench-201 defaults.

use serde::{Deserialize, Serialize};
use sotl_data::DatasetName;

use crate::{EvalSchedule, Granularity, LrSchedule, Result, SgdConfig, TrainError, TrainerConfig};

/// Everything `sotl-nas train` needs, as read from TOML and overridden by flags; saved as the
/// run's `config.json`. Defaults are NAS-Bench-201's training recipe (AutoDL-Projects
/// `configs/nas-benchmark/hyper-opts/200E.config`): SGD, Nesterov momentum 0.9, lr 0.1 cosine
/// to 0 per epoch, weight decay 5e-4, batch 256, 200 epochs, C=16, N=5.
///
/// The architecture is kept as its string: this crate does not interpret it. With `genotype`
/// instead of `arch` the run trains a DARTS-space evaluation network; its protocol keys
/// (`layers`, `auxiliary_weight`, `drop_path`, `cutout`) have DARTS' values in
/// [`TrainRunConfig::darts_evaluation`] (`sotl-nas evaluate`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainRunConfig {
    /// The cell, as a NAS-Bench-201 arch string (parsed by the caller).
    pub arch: Option<String>,
    /// Or a DARTS-space genotype (the DARTS format, or a preset name such as `darts-v2`).
    pub genotype: Option<String>,
    /// Cells of the DARTS evaluation network.
    pub layers: usize,
    /// Weight of the DARTS auxiliary head's loss (0: no head).
    pub auxiliary_weight: f64,
    /// DARTS drop-path probability `p`, raised linearly over the epochs as DARTS does (`p *
    /// epoch / epochs` in epoch `epoch`, from 0).
    pub drop_path: f64,
    /// Cutout square side after the usual augmentation (`None` or 0: off).
    pub cutout: Option<i64>,
    /// Dataset to train on (its training set) and evaluate on (its test set).
    pub dataset: DatasetName,
    /// Channels of the first stage (`C`).
    pub channels: i64,
    /// Cells per stage (`N`).
    pub cells_per_stage: usize,
    /// Training epochs.
    pub epochs: usize,
    /// Minibatch size (training and evaluation).
    pub batch_size: usize,
    /// Peak learning rate.
    pub lr: f64,
    /// Floor of the cosine schedule.
    pub eta_min: f64,
    /// Linear warm-up epochs.
    pub warmup_epochs: usize,
    /// SGD momentum.
    pub momentum: f64,
    /// Nesterov momentum.
    pub nesterov: bool,
    /// Weight decay (L2, coupled).
    pub weight_decay: f64,
    /// Train on a stratified subset of this many training images.
    pub subset: Option<usize>,
    /// Evaluate on a stratified subset of this many test images.
    pub test_subset: Option<usize>,
    /// Resize images to this side (e.g. 16 for cheap proxies) once, at load.
    pub resize: Option<i64>,
    /// Run seed: initialization, data order, augmentation.
    pub seed: u64,
    /// Evaluate on the test set every this many epochs (and after the last).
    pub eval_every_epochs: usize,
    /// Clip the global gradient norm (NAS-Bench-201 does not).
    pub grad_clip: Option<f64>,
    /// Checkpoint every this many steps besides epoch ends.
    pub checkpoint_every_steps: Option<usize>,
}

impl Default for TrainRunConfig {
    fn default() -> Self {
        let sgd = SgdConfig::nb201();
        TrainRunConfig {
            arch: None,
            genotype: None,
            layers: 20,
            auxiliary_weight: 0.0,
            drop_path: 0.0,
            cutout: None,
            dataset: DatasetName::Cifar10,
            channels: 16,
            cells_per_stage: 5,
            epochs: 200,
            batch_size: 256,
            lr: sgd.lr,
            eta_min: 0.0,
            warmup_epochs: 0,
            momentum: sgd.momentum,
            nesterov: sgd.nesterov,
            weight_decay: sgd.weight_decay,
            subset: None,
            test_subset: None,
            resize: None,
            seed: 0,
            eval_every_epochs: 1,
            grad_clip: None,
            checkpoint_every_steps: Some(500),
        }
    }
}

impl TrainRunConfig {
    /// DARTS' evaluation protocol on CIFAR-10 (quark0/darts `train.py` with `--auxiliary
    /// --cutout`): C=36, 20 layers, 600 epochs of SGD (momentum 0.9, weight decay 3e-4) at
    /// lr 0.025 cosine to 0, batch 96, gradient norm clipped at 5, auxiliary weight 0.4,
    /// drop path 0.2, Cutout 16; the genotype is still to be set.
    pub fn darts_evaluation() -> Self {
        TrainRunConfig {
            channels: 36,
            layers: 20,
            epochs: 600,
            batch_size: 96,
            lr: 0.025,
            eta_min: 0.0,
            momentum: 0.9,
            nesterov: false,
            weight_decay: 3e-4,
            grad_clip: Some(5.0),
            auxiliary_weight: 0.4,
            drop_path: 0.2,
            cutout: Some(16),
            ..TrainRunConfig::default()
        }
    }

    /// Checks every value before anything is allocated, naming the first bad one.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(TrainError::Config(m));
        let given = |s: &Option<String>| s.as_deref().is_some_and(|a| !a.trim().is_empty());
        match (given(&self.arch), given(&self.genotype)) {
            (false, false) => return bad("no architecture: pass --arch '<NAS-Bench-201 arch string>' or --genotype '<DARTS genotype or preset>', or set arch / genotype in the config".into()),
            (true, true) => return bad("both arch and genotype are set; a run trains one network, so give one of them".into()),
            _ => {}
        }
        if given(&self.arch) && (self.drop_path > 0.0 || self.auxiliary_weight > 0.0) {
            return bad(format!("drop_path ({}) and auxiliary_weight ({}) apply to DARTS genotypes, not to NAS-Bench-201 cells; set them to 0 or train a --genotype", self.drop_path, self.auxiliary_weight));
        }
        if self.cutout.is_some_and(|c| c < 0) {
            return bad(format!("cutout must be >= 0 (0: off), got {:?}", self.cutout));
        }
        if !(0.0..1.0).contains(&self.drop_path) {
            return bad(format!("drop_path must be in [0, 1), got {}", self.drop_path));
        }
        if !(self.auxiliary_weight >= 0.0 && self.auxiliary_weight.is_finite()) {
            return bad(format!("auxiliary_weight must be >= 0, got {}", self.auxiliary_weight));
        }
        if self.channels < 1 {
            return bad(format!("C (channels) must be >= 1, got {}", self.channels));
        }
        if self.batch_size == 0 {
            return bad("batch size must be >= 1".into());
        }
        if self.subset == Some(0) || self.test_subset == Some(0) {
            return bad("subset sizes must be >= 1".into());
        }
        if let Some(r) = self.resize {
            if r < 4 || r % 4 != 0 {
                return bad(format!("resize must be a positive multiple of 4 (the network halves it twice), got {r}"));
            }
        }
        if self.eval_every_epochs == 0 {
            return bad("eval_every_epochs must be >= 1".into());
        }
        self.sgd().validate()?;
        self.trainer().validate()
    }

    /// The optimizer settings.
    pub fn sgd(&self) -> SgdConfig {
        SgdConfig {
            lr: self.lr,
            momentum: self.momentum,
            dampening: 0.0,
            weight_decay: self.weight_decay,
            nesterov: self.nesterov,
        }
    }

    /// The loop settings: per-epoch cosine over the epochs after warm-up, full test evaluation.
    pub fn trainer(&self) -> TrainerConfig {
        TrainerConfig {
            epochs: self.epochs,
            seed: self.seed,
            schedule: LrSchedule::Cosine {
                base_lr: self.lr,
                eta_min: self.eta_min,
                warmup_epochs: self.warmup_epochs,
                epochs: self.epochs.saturating_sub(self.warmup_epochs).max(1),
                granularity: Granularity::Epoch,
            },
            grad_clip: self.grad_clip,
            grad_stats: false,
            grad_accumulation: false,
            steps: None,
            eval: EvalSchedule {
                full_every_epochs: Some(self.eval_every_epochs),
                ..EvalSchedule::default()
            },
            checkpoint_every_steps: self.checkpoint_every_steps,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_nb201_and_need_an_arch() {
        let c = TrainRunConfig::default();
        assert!(c.validate().unwrap_err().to_string().contains("--arch"));
        let c = TrainRunConfig { arch: Some("|skip_connect~0|".into()), ..c };
        c.validate().unwrap();
        assert_eq!(c.trainer().schedule, LrSchedule::nb201(200));
        assert_eq!(c.sgd(), SgdConfig::nb201());
        assert_eq!((c.batch_size, c.epochs, c.channels, c.cells_per_stage), (256, 200, 16, 5));
    }

    #[test]
    fn darts_evaluation_is_the_darts_train_script() {
        // quark0/darts cnn/train.py defaults with --auxiliary --cutout.
        let c = TrainRunConfig::darts_evaluation();
        assert_eq!((c.channels, c.layers, c.epochs, c.batch_size), (36, 20, 600, 96));
        assert_eq!((c.lr, c.eta_min, c.momentum, c.weight_decay), (0.025, 0.0, 0.9, 3e-4));
        assert_eq!(
            (c.auxiliary_weight, c.drop_path, c.cutout, c.grad_clip),
            (0.4, 0.2, Some(16), Some(5.0))
        );
        assert!(!c.nesterov);
        assert!(c.validate().unwrap_err().to_string().contains("--genotype"));
        let g = TrainRunConfig { genotype: Some("darts-v2".into()), ..c.clone() };
        g.validate().unwrap();
        let both = TrainRunConfig { arch: Some("|skip_connect~0|".into()), ..g.clone() };
        assert!(both.validate().unwrap_err().to_string().contains("both"));
        let drop = TrainRunConfig { drop_path: 1.0, ..g.clone() };
        assert!(drop.validate().unwrap_err().to_string().contains("drop_path"));
        let cut = TrainRunConfig { cutout: Some(-1), ..g };
        assert!(cut.validate().unwrap_err().to_string().contains("cutout"));
        // DARTS-only settings on a NAS-Bench-201 cell are refused, not ignored.
        let nb = TrainRunConfig { arch: Some("|skip_connect~0|".into()), ..c };
        assert!(nb.validate().unwrap_err().to_string().contains("auxiliary_weight"));
    }

    #[test]
    fn rejects_unknown_keys_and_bad_values() {
        let e = serde_json::from_str::<TrainRunConfig>(r#"{"epoch": 3}"#).unwrap_err();
        assert!(e.to_string().contains("unknown field"), "{e}");
        let c = TrainRunConfig { arch: Some("x".into()), resize: Some(10), ..Default::default() };
        assert!(c.validate().unwrap_err().to_string().contains("multiple of 4"));
        let c = TrainRunConfig {
            arch: Some("x".into()),
            nesterov: true,
            momentum: 0.0,
            ..Default::default()
        };
        assert!(c.validate().is_err());
    }
}
