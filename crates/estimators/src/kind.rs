//! `EstimatorKind`: every estimator by name, for configs and the command line.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{
    Estimator, EstimatorError, ParamCount, Result, Sog, SogL1, Sogn, Sotl, SotlEma, Sovl, TlMini,
    ValAcc, ValAccMini, ValScope, Window,
};

/// Accepted estimator syntax, for error messages and `--help`.
pub const ESTIMATOR_SYNTAX: &str = "sotl[:WINDOW], sotl-e[:E], sotl-ema[:GAMMA], tlmini, valacc, \
valacc-mini, sovl[:last=N], sovl-mini[:last=N], sog[:WINDOW], sog-l1, sogn[:WINDOW], params \
(WINDOW: all, last=N, first=N, epochs=E, steps=A..B)";

/// Which estimator to use, with its parameters; builds the estimator with [`EstimatorKind::build`].
///
/// Written as text in configs and on the command line (`FromStr`/`Display` round-trip, serde
/// uses the same form): see [`ESTIMATOR_SYNTAX`]. Examples: `sotl-e`, `sotl:first=100`,
/// `sotl-ema:0.9`, `valacc`, `sog`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum EstimatorKind {
    /// [`Sotl`] over a window (`sotl-e` is the last epoch).
    Sotl(Window),
    /// [`SotlEma`] with the given per-epoch decay.
    SotlEma(f64),
    /// [`TlMini`].
    TlMini,
    /// [`ValAcc`].
    ValAcc,
    /// [`ValAccMini`].
    ValAccMini,
    /// [`Sovl`] over the latest `last` events of `scope` (all when `None`).
    Sovl {
        /// Which validation events.
        scope: ValScope,
        /// How many of the latest events.
        last: Option<usize>,
    },
    /// [`Sog`] over a window.
    Sog(Window),
    /// [`SogL1`] (the L1 norm of the accumulated gradient).
    SogL1,
    /// [`Sogn`] over a window.
    Sogn(Window),
    /// [`ParamCount`].
    Params,
}

impl EstimatorKind {
    /// The estimators compared in the thesis, each with its default window.
    pub const STANDARD: [EstimatorKind; 8] = [
        EstimatorKind::Sotl(Window::LastEpochs(1)),
        EstimatorKind::TlMini,
        EstimatorKind::ValAcc,
        EstimatorKind::ValAccMini,
        EstimatorKind::Sovl { scope: ValScope::Full, last: None },
        EstimatorKind::Sog(Window::All),
        EstimatorKind::Sogn(Window::All),
        EstimatorKind::Params,
    ];

    /// Builds the estimator, checking its parameters.
    pub fn build(&self) -> Result<Box<dyn Estimator + Send + Sync>> {
        Ok(match *self {
            EstimatorKind::Sotl(w) => {
                w.validate()?;
                Box::new(Sotl::new(w))
            }
            EstimatorKind::SotlEma(g) => Box::new(SotlEma::new(g)?),
            EstimatorKind::TlMini => Box::new(TlMini),
            EstimatorKind::ValAcc => Box::new(ValAcc),
            EstimatorKind::ValAccMini => Box::new(ValAccMini),
            EstimatorKind::Sovl { scope, last } => {
                if last == Some(0) {
                    return Err(EstimatorError::BadParameter("sovl:last=0 sums nothing".into()));
                }
                Box::new(Sovl { scope, last })
            }
            EstimatorKind::Sog(w) => {
                w.validate()?;
                Box::new(Sog { window: w })
            }
            EstimatorKind::SogL1 => Box::new(SogL1),
            EstimatorKind::Sogn(w) => {
                w.validate()?;
                Box::new(Sogn { window: w })
            }
            EstimatorKind::Params => Box::new(ParamCount),
        })
    }
}

impl fmt::Display for EstimatorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let with_window = |f: &mut fmt::Formatter<'_>, base: &str, w: Window| match w {
            Window::All => f.write_str(base),
            w => write!(f, "{base}:{w}"),
        };
        let with_last = |f: &mut fmt::Formatter<'_>, base: &str, last: Option<usize>| match last {
            None => f.write_str(base),
            Some(n) => write!(f, "{base}:last={n}"),
        };
        match *self {
            EstimatorKind::Sotl(Window::LastEpochs(1)) => f.write_str("sotl-e"),
            EstimatorKind::Sotl(Window::LastEpochs(e)) => write!(f, "sotl-e:{e}"),
            EstimatorKind::Sotl(w) => with_window(f, "sotl", w),
            EstimatorKind::SotlEma(g) => write!(f, "sotl-ema:{g}"),
            EstimatorKind::TlMini => f.write_str("tlmini"),
            EstimatorKind::ValAcc => f.write_str("valacc"),
            EstimatorKind::ValAccMini => f.write_str("valacc-mini"),
            EstimatorKind::Sovl { scope: ValScope::Full, last } => with_last(f, "sovl", last),
            EstimatorKind::Sovl { scope: ValScope::Minibatch, last } => {
                with_last(f, "sovl-mini", last)
            }
            EstimatorKind::Sog(w) => with_window(f, "sog", w),
            EstimatorKind::SogL1 => f.write_str("sog-l1"),
            EstimatorKind::Sogn(w) => with_window(f, "sogn", w),
            EstimatorKind::Params => f.write_str("params"),
        }
    }
}

impl FromStr for EstimatorKind {
    type Err = EstimatorError;

    fn from_str(input: &str) -> Result<Self> {
        let err = |reason: String| EstimatorError::Parse {
            input: input.to_string(),
            reason,
            syntax: ESTIMATOR_SYNTAX,
        };
        let (name, arg) = match input.trim().split_once(':') {
            Some((n, a)) => (n.trim().to_ascii_lowercase(), Some(a.trim())),
            None => (input.trim().to_ascii_lowercase(), None),
        };
        let window = |arg: Option<&str>| -> Result<Window> {
            arg.map_or(Ok(Window::All), |a| a.parse::<Window>().map_err(|e| err(e.to_string())))
        };
        let last = |arg: Option<&str>| -> Result<Option<usize>> {
            match arg {
                None => Ok(None),
                Some(a) => match a.parse::<Window>() {
                    Ok(Window::LastSteps(n)) => Ok(Some(n)),
                    _ => Err(err(format!(
                        "SoVL takes last=N (a number of validation events), not {a:?}"
                    ))),
                },
            }
        };
        let no_arg = |k: EstimatorKind| match arg {
            None => Ok(k),
            Some(a) => Err(err(format!("{name} takes no argument, got {a:?}"))),
        };
        let kind = match name.as_str() {
            "sotl" => EstimatorKind::Sotl(window(arg)?),
            "sotl-e" => {
                let e = match arg {
                    None => 1,
                    Some(a) => a.parse::<usize>().ok().filter(|&e| e > 0).ok_or_else(|| {
                        err(format!("sotl-e takes a positive number of epochs, not {a:?}"))
                    })?,
                };
                EstimatorKind::Sotl(Window::LastEpochs(e))
            }
            "sotl-ema" => {
                let g = match arg {
                    None => SotlEma::DEFAULT_DECAY,
                    Some(a) => {
                        a.parse::<f64>().map_err(|_| err(format!("{a:?} is not a decay")))?
                    }
                };
                SotlEma::new(g).map_err(|e| err(e.to_string()))?;
                EstimatorKind::SotlEma(g)
            }
            "tlmini" => no_arg(EstimatorKind::TlMini)?,
            "valacc" => no_arg(EstimatorKind::ValAcc)?,
            "valacc-mini" => no_arg(EstimatorKind::ValAccMini)?,
            "sovl" => EstimatorKind::Sovl { scope: ValScope::Full, last: last(arg)? },
            "sovl-mini" => EstimatorKind::Sovl { scope: ValScope::Minibatch, last: last(arg)? },
            "sog" => EstimatorKind::Sog(window(arg)?),
            "sog-l1" => no_arg(EstimatorKind::SogL1)?,
            "sogn" => EstimatorKind::Sogn(window(arg)?),
            "params" => no_arg(EstimatorKind::Params)?,
            _ => return Err(err(format!("no estimator is called {name:?}"))),
        };
        Ok(kind)
    }
}

impl TryFrom<String> for EstimatorKind {
    type Error = EstimatorError;
    fn try_from(s: String) -> Result<Self> {
        s.parse()
    }
}

impl From<EstimatorKind> for String {
    fn from(k: EstimatorKind) -> String {
        k.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_form_round_trips() {
        let mut all: Vec<EstimatorKind> = EstimatorKind::STANDARD.to_vec();
        all.extend([
            EstimatorKind::Sotl(Window::All),
            EstimatorKind::Sotl(Window::FirstSteps(100)),
            EstimatorKind::Sotl(Window::LastEpochs(3)),
            EstimatorKind::Sotl(Window::StepRange { start: 100, end: 200 }),
            EstimatorKind::SotlEma(0.9),
            EstimatorKind::Sovl { scope: ValScope::Minibatch, last: Some(5) },
            EstimatorKind::Sog(Window::LastSteps(10)),
            EstimatorKind::SogL1,
        ]);
        for k in all {
            let s = k.to_string();
            assert_eq!(s.parse::<EstimatorKind>().unwrap(), k, "{s}");
            let json = serde_json::to_string(&k).unwrap();
            assert_eq!(serde_json::from_str::<EstimatorKind>(&json).unwrap(), k);
            k.build().unwrap();
        }
        assert_eq!(
            "SoTL-E".parse::<EstimatorKind>().unwrap(),
            EstimatorKind::Sotl(Window::LastEpochs(1))
        );
        assert_eq!("sotl-ema".parse::<EstimatorKind>().unwrap(), EstimatorKind::SotlEma(0.9));
    }

    #[test]
    fn bad_names_and_parameters_are_rejected_with_the_syntax() {
        for bad in [
            "",
            "sotll",
            "sotl:last=0",
            "sotl-e:0",
            "sotl-ema:1.5",
            "sotl-ema:0",
            "tlmini:3",
            "sovl:first=3",
            "sovl:last=0",
        ] {
            let e = bad.parse::<EstimatorKind>().unwrap_err();
            assert!(e.to_string().contains("expected one of"), "{bad}: {e}");
        }
        assert!(EstimatorKind::SotlEma(f64::NAN).build().is_err());
    }

    #[test]
    fn built_names_match_the_thesis_labels() {
        let names: Vec<String> =
            EstimatorKind::STANDARD.iter().map(|k| k.build().unwrap().name()).collect();
        assert_eq!(
            names,
            ["SoTL-E", "TLMini", "ValAcc", "ValAccMini", "SoVL", "SoG", "SoGN", "Params"]
        );
    }
}
