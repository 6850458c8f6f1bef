//! The training record: plain data that the training loop emits and estimators read.

use serde::{Deserialize, Serialize};

/// One optimizer step's training statistics.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    /// Global step index, starting at 0.
    pub step: usize,
    /// Epoch this step belongs to, starting at 0.
    pub epoch: usize,
    /// Mean training loss of the minibatch at this step (before the update).
    pub train_loss: f64,
    /// Training accuracy of the minibatch (fraction in [0, 1]), when measured.
    pub train_acc: Option<f64>,
    /// Dimension-wise sum of the minibatch gradient, reduced to a scalar (for SoG), when measured.
    pub grad_sum: Option<f64>,
    /// L1 norm of the minibatch gradient (for SoGN), when measured.
    pub grad_l1: Option<f64>,
    /// L1 norm of the gradients accumulated over every step so far, this one included,
    /// `||sum_{s <= t} g_s||_1` (for SoG as the thesis author's code computes it), when measured.
    #[serde(default)]
    pub grad_acc_l1: Option<f64>,
}

/// How much of the validation set an evaluation used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValScope {
    /// A single validation minibatch.
    Minibatch,
    /// The whole validation set.
    Full,
}

/// Which statistics the network's BatchNorm layers normalized with during an evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BnStats {
    /// The running statistics accumulated in training (`model.eval()`), the usual evaluation.
    #[default]
    Running,
    /// The statistics of each evaluation batch (train-mode BN without updates).
    Batch,
}

/// One validation measurement, taken after `step` steps had been applied.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ValRecord {
    /// Number of optimizer steps applied before this evaluation.
    pub step: usize,
    /// Epoch index at the time of the evaluation.
    pub epoch: usize,
    /// Mean validation loss.
    pub loss: f64,
    /// Validation accuracy, a fraction in [0, 1].
    pub acc: f64,
    /// Minibatch or whole set.
    pub scope: ValScope,
    /// The BatchNorm statistics used (records written before this field: running).
    #[serde(default)]
    pub bn: BnStats,
}

/// Everything recorded while training one network: the input of every [`crate::Estimator`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainingRecord {
    /// Per-step training statistics, in step order.
    pub steps: Vec<StepRecord>,
    /// Validation events, in step order.
    pub vals: Vec<ValRecord>,
    /// Steps per epoch of the run (needed for last-epoch windows).
    pub steps_per_epoch: usize,
    /// Number of trainable parameters of the network.
    pub param_count: Option<u64>,
}

impl TrainingRecord {
    /// The record of a run known only by its per-step training losses, in epochs of
    /// `steps_per_epoch` steps (all of them one epoch when `None`): what the loss-based
    /// estimators (SoTL and its windows, SoTL-EMA, TLMini) read.
    pub fn from_losses(losses: &[f64], steps_per_epoch: Option<usize>) -> crate::Result<Self> {
        let spe = match steps_per_epoch {
            Some(0) => {
                return Err(crate::EstimatorError::BadParameter(
                    "steps_per_epoch must be at least 1".into(),
                ))
            }
            Some(n) => n,
            None => losses.len().max(1),
        };
        let steps = losses
            .iter()
            .enumerate()
            .map(|(i, &l)| StepRecord {
                step: i,
                epoch: i / spe,
                train_loss: l,
                train_acc: None,
                grad_sum: None,
                grad_l1: None,
                grad_acc_l1: None,
            })
            .collect();
        Ok(TrainingRecord { steps, vals: Vec::new(), steps_per_epoch: spe, param_count: None })
    }
}

#[cfg(test)]
mod from_losses_tests {
    use super::*;

    #[test]
    fn losses_become_steps_in_epochs() {
        let r = TrainingRecord::from_losses(&[3.0, 2.0, 1.0], Some(2)).unwrap();
        let epochs: Vec<usize> = r.steps.iter().map(|s| s.epoch).collect();
        assert_eq!((epochs, r.steps_per_epoch), (vec![0, 0, 1], 2));
        assert_eq!(r.steps[2].train_loss, 1.0);
        assert_eq!(TrainingRecord::from_losses(&[1.0; 4], None).unwrap().steps_per_epoch, 4);
        assert!(TrainingRecord::from_losses(&[1.0], Some(0)).is_err());
    }
}
