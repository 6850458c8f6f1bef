//! Learning-rate schedules, evaluated at (epoch, fraction of the epoch done).

use serde::{Deserialize, Serialize};

use crate::{Result, TrainError};

/// How often a cosine schedule changes the learning rate once warm-up is over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Granularity {
    /// Constant within an epoch: the rate of epoch `e` uses `e` only. This is what NAS-Bench-201
    /// training does: AutoDL-Projects calls `scheduler.update(None, i / len)` every step, but its
    /// `CosineAnnealingLR.get_lr` reads only the epoch once warm-up is over, and DARTS steps
    /// PyTorch's scheduler once per epoch.
    Epoch,
    /// Continuous in `e + i / len` (updated every step).
    Step,
}

/// A learning-rate schedule, evaluated before every step ([`LrSchedule::lr_at_step`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum LrSchedule {
    /// The same rate throughout.
    Constant {
        /// The learning rate.
        lr: f64,
    },
    /// Linear warm-up, then cosine annealing from `base_lr` to the floor `eta_min`
    /// (Loshchilov & Hutter 2017, without restarts).
    ///
    /// ```text
    /// warm-up, e < W:        lr = base_lr * (e + f) / W          (per step, as AutoDL-Projects)
    /// cosine, W <= e < W+T:  lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * x / T)) / 2,
    ///                        x = e - W (Epoch granularity) or e - W + f (Step granularity;
    ///                        at step i of s per epoch, x / T = ((e - W) s + i) / (T s) exactly)
    /// after,  e >= W+T:      lr = eta_min
    /// ```
    ///
    /// `e` is the epoch, `f` the fraction of it done, `W = warmup_epochs`, `T = epochs`. With
    /// `W = 0`, `T = 200`, `eta_min = 0`, Epoch granularity this is NAS-Bench-201's schedule.
    /// (AutoDL-Projects ends the cosine at epoch `T` rather than `W + T`, so with warm-up its
    /// last `W` epochs sit at `eta_min`; ours runs the full cosine after the warm-up.)
    Cosine {
        /// Peak learning rate, reached at the end of warm-up.
        base_lr: f64,
        /// Floor reached at the end of the cosine.
        eta_min: f64,
        /// Warm-up length in epochs (0 for none).
        warmup_epochs: usize,
        /// Length `T` of the cosine, in epochs.
        epochs: usize,
        /// When the rate changes during the cosine.
        granularity: Granularity,
    },
}

impl LrSchedule {
    /// NAS-Bench-201's schedule for `epochs` epochs: cosine from 0.1 to 0, per epoch, no warm-up.
    pub fn nb201(epochs: usize) -> Self {
        LrSchedule::Cosine {
            base_lr: 0.1,
            eta_min: 0.0,
            warmup_epochs: 0,
            epochs,
            granularity: Granularity::Epoch,
        }
    }

    /// Checks that rates are finite and non-negative and the cosine has a length.
    pub fn validate(&self) -> Result<()> {
        let rate_ok = |x: f64| x.is_finite() && x >= 0.0;
        match *self {
            LrSchedule::Constant { lr } if !rate_ok(lr) => {
                Err(TrainError::Config(format!("learning rate must be finite and >= 0, got {lr}")))
            }
            LrSchedule::Cosine { base_lr, eta_min, epochs, .. } => {
                if !rate_ok(base_lr) || !rate_ok(eta_min) {
                    return Err(TrainError::Config(format!(
                        "cosine rates must be finite and >= 0, got base_lr {base_lr}, eta_min {eta_min}"
                    )));
                }
                if epochs == 0 {
                    return Err(TrainError::Config("cosine schedule needs epochs >= 1".into()));
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// The learning rate for a step in `epoch` with `frac` (in [0, 1)) of the epoch done.
    pub fn lr(&self, epoch: usize, frac: f64) -> f64 {
        match *self {
            LrSchedule::Constant { lr } => lr,
            LrSchedule::Cosine { base_lr, eta_min, warmup_epochs, epochs, granularity } => {
                if epoch < warmup_epochs {
                    return base_lr * (epoch as f64 + frac) / warmup_epochs as f64;
                }
                let e = epoch - warmup_epochs;
                if e >= epochs {
                    return eta_min;
                }
                match granularity {
                    Granularity::Epoch => {
                        let x = e as f64;
                        eta_min
                            + (base_lr - eta_min)
                                * (1.0 + (std::f64::consts::PI * x / epochs as f64).cos())
                                / 2.0
                    }
                    Granularity::Step => {
                        cosine_at(base_lr, eta_min, (e as f64 + frac) / epochs as f64)
                    }
                }
            }
        }
    }

    /// The learning rate of step `index` of `epoch` when an epoch has `steps_per_epoch` steps.
    /// A Step-granularity cosine is evaluated at the exact fraction of minibatches done,
    /// `p = ((e - W) * spe + index) / (T * spe)`, as `eta_min + (base_lr - eta_min) * (1 +
    /// cos(pi * p)) / 2` (AutoDL-Projects' per-minibatch cosine of supernet training).
    pub fn lr_at_step(&self, epoch: usize, index: usize, steps_per_epoch: usize) -> f64 {
        let spe = steps_per_epoch.max(1);
        match *self {
            LrSchedule::Cosine {
                base_lr,
                eta_min,
                warmup_epochs,
                epochs,
                granularity: Granularity::Step,
            } if epoch >= warmup_epochs => {
                let done = (epoch - warmup_epochs) * spe + index;
                cosine_at(base_lr, eta_min, done as f64 / (epochs * spe) as f64)
            }
            _ => self.lr(epoch, index as f64 / spe as f64),
        }
    }
}

/// The cosine at progress `p` (clamped to 1): `eta_min + (base_lr - eta_min) (1 + cos(pi p)) / 2`.
fn cosine_at(base_lr: f64, eta_min: f64, p: f64) -> f64 {
    eta_min + (base_lr - eta_min) * (1.0 + (std::f64::consts::PI * p.min(1.0)).cos()) / 2.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn step_cosine_follows_minibatches_done() {
        // 3 epochs of 4 minibatches from 0.025 to 0.001: after 6 of 12, cos(pi/2) = 0 gives the
        // midpoint 0.013; after 3, (1 + cos(pi/4)) / 2 = 0.853553; after 12 and beyond, the floor.
        let s = LrSchedule::Cosine {
            base_lr: 0.025,
            eta_min: 0.001,
            warmup_epochs: 0,
            epochs: 3,
            granularity: Granularity::Step,
        };
        assert!(close(s.lr_at_step(0, 0, 4), 0.025));
        assert!(close(s.lr_at_step(1, 2, 4), 0.013));
        assert!((s.lr_at_step(0, 3, 4) - (0.001 + 0.024 * 0.853_553_390_593_273_8)).abs() < 1e-15);
        assert!(close(s.lr_at_step(3, 0, 4), 0.001));
        assert!(close(s.lr_at_step(5, 1, 4), 0.001));
    }

    #[test]
    fn nb201_cosine_known_points() {
        let s = LrSchedule::nb201(200);
        assert!(close(s.lr(0, 0.0), 0.1));
        // Constant within an epoch (Epoch granularity).
        assert!(close(s.lr(0, 0.99), 0.1));
        // Halfway: cos(pi/2) = 0 -> 0.05.
        assert!(close(s.lr(100, 0.5), 0.05));
        // Epoch 50: (1 + cos(pi/4)) / 2 * 0.1 = 0.0853553390593...
        assert!(close(s.lr(50, 0.0), 0.085_355_339_059_327_38));
        assert!(close(s.lr(200, 0.0), 0.0));
        assert!(s.lr(199, 0.0) > 0.0);
    }

    #[test]
    fn step_granularity_floor_and_warmup() {
        let s = LrSchedule::Cosine {
            base_lr: 0.025,
            eta_min: 0.001,
            warmup_epochs: 2,
            epochs: 10,
            granularity: Granularity::Step,
        };
        // Linear warm-up per step: epoch 1, halfway -> 1.5 / 2 of the peak.
        assert!(close(s.lr(1, 0.5), 0.025 * 0.75));
        assert!(close(s.lr(0, 0.0), 0.0));
        assert!(close(s.lr(2, 0.0), 0.025));
        // Mid-cosine at x = 5 of 10: the mean of peak and floor.
        assert!(close(s.lr(6, 1.0), 0.013));
        assert!(close(s.lr(7, 0.0), 0.013));
        assert!(close(s.lr(12, 0.0), 0.001));
        assert!(close(s.lr(40, 0.3), 0.001));
        assert!(close(s.lr_at_step(7, 0, 100), 0.013));
    }

    #[test]
    fn constant_and_validation() {
        assert!(close(LrSchedule::Constant { lr: 0.3 }.lr(7, 0.2), 0.3));
        assert!(LrSchedule::Constant { lr: -1.0 }.validate().is_err());
        assert!(LrSchedule::nb201(0).validate().is_err());
        assert!(LrSchedule::nb201(1).validate().is_ok());
    }

    #[test]
    fn serde_names_are_stable() {
        let s: LrSchedule = serde_json::from_str(
            r#"{"kind":"cosine","base_lr":0.1,"eta_min":0.0,"warmup_epochs":0,"epochs":200,"granularity":"epoch"}"#,
        )
        .unwrap();
        assert_eq!(s, LrSchedule::nb201(200));
        assert!(serde_json::from_str::<LrSchedule>(r#"{"kind":"constant","lr":1,"x":2}"#).is_err());
    }
}
