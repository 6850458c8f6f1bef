//! Which steps of a record an estimator sums over.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{EstimatorError, RecordView, Result, StepRecord};

/// A window of recorded steps.
///
/// Windows are strict: a window the record does not fully cover is an error, not a shorter sum,
/// because ranking architectures by sums over different numbers of steps would be silently wrong.
/// For a curve over training ("score after t steps") use [`Window::All`] with
/// [`crate::Estimator::score_at`].
///
/// Text form (used in configs and on the CLI): `all`, `last=N`, `first=N`, `epochs=E`,
/// `steps=A..B`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Window {
    /// Every recorded step.
    All,
    /// The last `N` recorded steps.
    LastSteps(usize),
    /// The first `N` recorded steps (e.g. the first 100 finetuning steps).
    FirstSteps(usize),
    /// The last `E` epochs as a rolling window of `E * steps_per_epoch` recorded steps (SoTL-E of
    /// Ru et al. 2021; the thesis' default SoTL is `E = 1`).
    LastEpochs(usize),
    /// Steps with `start <= step < end` (absolute step indices); all of them must be present.
    StepRange {
        /// First step index included.
        start: usize,
        /// First step index excluded.
        end: usize,
    },
}

impl Window {
    /// The steps of `view` this window covers, or an error naming `estimator` if the window is
    /// empty, not fully covered, or needs `steps_per_epoch` that the record lacks.
    pub fn select<'a>(&self, estimator: &str, view: &RecordView<'a>) -> Result<&'a [StepRecord]> {
        let steps = view.steps;
        let empty = || EstimatorError::EmptyWindow {
            estimator: estimator.to_string(),
            window: self.to_string(),
            available: steps.len(),
        };
        if steps.is_empty() {
            return Err(empty());
        }
        let not_covered = |needed: usize, available: usize| EstimatorError::WindowNotCovered {
            estimator: estimator.to_string(),
            window: self.to_string(),
            needed,
            available,
        };
        let last = |n: usize| -> Result<&'a [StepRecord]> {
            if steps.len() < n {
                return Err(not_covered(n, steps.len()));
            }
            Ok(&steps[steps.len() - n..])
        };
        let out = match *self {
            Window::All => steps,
            Window::LastSteps(n) => last(n)?,
            Window::FirstSteps(n) => {
                if steps.len() < n {
                    return Err(not_covered(n, steps.len()));
                }
                &steps[..n]
            }
            Window::LastEpochs(e) => {
                if view.steps_per_epoch == 0 {
                    return Err(EstimatorError::MissingData {
                        estimator: estimator.to_string(),
                        what: "steps_per_epoch (it is 0)".into(),
                        hint: "the training loop must set TrainingRecord::steps_per_epoch for last-epoch windows".into(),
                    });
                }
                last(e * view.steps_per_epoch)?
            }
            Window::StepRange { start, end } => {
                let a = steps.partition_point(|s| s.step < start);
                let b = steps.partition_point(|s| s.step < end);
                if b - a != end - start {
                    return Err(not_covered(end - start, b - a));
                }
                &steps[a..b]
            }
        };
        if out.is_empty() {
            return Err(empty());
        }
        Ok(out)
    }

    /// Rejects windows that can never hold a step (`last=0`, `steps=5..5`, ...).
    pub fn validate(&self) -> Result<()> {
        let bad = match *self {
            Window::All => return Ok(()),
            Window::LastSteps(0) | Window::FirstSteps(0) | Window::LastEpochs(0) => true,
            Window::StepRange { start, end } => start >= end,
            _ => false,
        };
        if bad {
            return Err(EstimatorError::BadParameter(format!("window {self} holds no steps")));
        }
        Ok(())
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Window::All => f.write_str("all"),
            Window::LastSteps(n) => write!(f, "last={n}"),
            Window::FirstSteps(n) => write!(f, "first={n}"),
            Window::LastEpochs(e) => write!(f, "epochs={e}"),
            Window::StepRange { start, end } => write!(f, "steps={start}..{end}"),
        }
    }
}

/// The accepted window syntax, for error messages.
pub(crate) const WINDOW_SYNTAX: &str = "all, last=N, first=N, epochs=E, steps=A..B";

impl FromStr for Window {
    type Err = EstimatorError;

    fn from_str(s: &str) -> Result<Self> {
        let err = |reason: &str| EstimatorError::Parse {
            input: s.to_string(),
            reason: reason.to_string(),
            syntax: WINDOW_SYNTAX,
        };
        let num =
            |v: &str| v.trim().parse::<usize>().map_err(|_| err(&format!("{v:?} is not a count")));
        let w = match s.trim().split_once('=') {
            None if s.trim() == "all" => Window::All,
            None => return Err(err("not a window")),
            Some((k, v)) => match k.trim() {
                "last" => Window::LastSteps(num(v)?),
                "first" => Window::FirstSteps(num(v)?),
                "epochs" => Window::LastEpochs(num(v)?),
                "steps" => {
                    let (a, b) =
                        v.split_once("..").ok_or_else(|| err("a step range is written A..B"))?;
                    Window::StepRange { start: num(a)?, end: num(b)? }
                }
                _ => return Err(err(&format!("unknown window kind {k:?}"))),
            },
        };
        w.validate().map_err(|e| err(&e.to_string()))?;
        Ok(w)
    }
}

impl TryFrom<String> for Window {
    type Error = EstimatorError;
    fn try_from(s: String) -> Result<Self> {
        s.parse()
    }
}

impl From<Window> for String {
    fn from(w: Window) -> String {
        w.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TrainingRecord;

    fn rec(n: usize, spe: usize) -> TrainingRecord {
        TrainingRecord {
            steps: (0..n)
                .map(|s| StepRecord {
                    step: s,
                    epoch: s.checked_div(spe).unwrap_or(0),
                    train_loss: s as f64,
                    train_acc: None,
                    grad_sum: None,
                    grad_l1: None,
                    grad_acc_l1: None,
                })
                .collect(),
            steps_per_epoch: spe,
            ..Default::default()
        }
    }

    fn idx(w: Window, r: &TrainingRecord) -> Result<Vec<usize>> {
        Ok(w.select("t", &r.view())?.iter().map(|s| s.step).collect())
    }

    #[test]
    fn windows_select_the_documented_steps() {
        let r = rec(10, 4);
        assert_eq!(idx(Window::All, &r).unwrap(), (0..10).collect::<Vec<_>>());
        assert_eq!(idx(Window::LastSteps(3), &r).unwrap(), vec![7, 8, 9]);
        assert_eq!(idx(Window::FirstSteps(2), &r).unwrap(), vec![0, 1]);
        assert_eq!(idx(Window::LastEpochs(1), &r).unwrap(), vec![6, 7, 8, 9]);
        assert_eq!(idx(Window::StepRange { start: 2, end: 5 }, &r).unwrap(), vec![2, 3, 4]);
    }

    #[test]
    fn uncovered_empty_and_epochless_windows_are_errors() {
        let r = rec(3, 0);
        assert!(matches!(
            idx(Window::LastSteps(5), &r),
            Err(EstimatorError::WindowNotCovered { needed: 5, available: 3, .. })
        ));
        assert!(matches!(
            idx(Window::StepRange { start: 2, end: 6 }, &r),
            Err(EstimatorError::WindowNotCovered { .. })
        ));
        assert!(matches!(idx(Window::LastEpochs(1), &r), Err(EstimatorError::MissingData { .. })));
        assert!(matches!(idx(Window::All, &rec(0, 0)), Err(EstimatorError::EmptyWindow { .. })));
    }

    #[test]
    fn text_form_round_trips_and_rejects_nonsense() {
        for w in [
            Window::All,
            Window::LastSteps(7),
            Window::FirstSteps(100),
            Window::LastEpochs(2),
            Window::StepRange { start: 0, end: 100 },
        ] {
            assert_eq!(w.to_string().parse::<Window>().unwrap(), w);
        }
        for bad in ["", "last", "last=x", "last=0", "steps=5..5", "steps=3", "foo=1"] {
            assert!(bad.parse::<Window>().is_err(), "{bad:?} parsed");
        }
    }
}
