//! The differentiable search methods, as values.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::Relaxation;
use crate::DartsError;

/// A differentiable architecture-search method on the NAS-Bench-201 supernet.
///
/// Each is an update rule for alpha ([`UpdateRule`]) combined with a [`Relaxation`]; the supernet
/// is the same for all of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DartsMethod {
    /// First-order DARTS (thesis Algorithm 2).
    Darts1,
    /// Second-order DARTS (thesis Algorithm 1).
    Darts2,
    /// SoTL-DARTS with the approximate SoTL gradient (thesis Algorithm 3).
    Sotl,
    /// SoVL-DARTS: first-order DARTS with validation gradients summed over T batches.
    Sovl,
    /// SoTL-DARTS with the exact SoTL hypergradient through T unrolled steps.
    SotlExact,
    /// DrNAS: first-order updates of a Dirichlet concentration (Chen et al., ICLR 2021).
    Drnas,
    /// SoTL-DrNAS: the SoTL-DARTS update rule on DrNAS' Dirichlet relaxation.
    SotlDrnas,
    /// PDARTS (Chen et al. 2019): first-order DARTS in progressive stages that deepen the
    /// network and prune each edge's weakest ops, with dropout on skip connections and at most
    /// `max_skips` skips in the final normal cell (the DARTS space; `[pdarts]`).
    Pdarts,
    /// SoTL-PDARTS: PDARTS' stages with the SoTL-DARTS update rule.
    SotlPdarts,
}

/// How alpha is updated within an epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UpdateRule {
    /// Alternate one alpha step on a validation batch (gradient at the current weights) and one
    /// weight step on a training batch.
    FirstOrder,
    /// Alternate one alpha step with the unrolled one-step gradient and one weight step.
    SecondOrder,
    /// Per window of T training batches: train while summing alpha gradients of every training
    /// loss, one alpha step, restore the weights, retrain the same T batches.
    SotlApprox,
    /// As [`UpdateRule::SotlApprox`], with the exact hypergradient through T plain SGD steps.
    SotlExact,
    /// Weight steps on training batches; alpha gradients of validation batches summed over T
    /// steps before each alpha step.
    SovlAccumulate,
}

impl DartsMethod {
    /// Every method, in table order.
    pub const ALL: [DartsMethod; 9] = [
        DartsMethod::Darts1,
        DartsMethod::Darts2,
        DartsMethod::Sotl,
        DartsMethod::Sovl,
        DartsMethod::SotlExact,
        DartsMethod::Drnas,
        DartsMethod::SotlDrnas,
        DartsMethod::Pdarts,
        DartsMethod::SotlPdarts,
    ];

    /// The command-line name (`darts1`, `sotl-exact`, ...).
    pub const fn name(self) -> &'static str {
        match self {
            DartsMethod::Darts1 => "darts1",
            DartsMethod::Darts2 => "darts2",
            DartsMethod::Sotl => "sotl",
            DartsMethod::Sovl => "sovl",
            DartsMethod::SotlExact => "sotl-exact",
            DartsMethod::Drnas => "drnas",
            DartsMethod::SotlDrnas => "sotl-drnas",
            DartsMethod::Pdarts => "pdarts",
            DartsMethod::SotlPdarts => "sotl-pdarts",
        }
    }

    /// The row label used in tables (Table 4.6 naming).
    pub const fn label(self) -> &'static str {
        match self {
            DartsMethod::Darts1 => "DARTS (first-order)",
            DartsMethod::Darts2 => "DARTS (second-order)",
            DartsMethod::Sotl => "SoTL-DARTS",
            DartsMethod::Sovl => "SoVL-DARTS",
            DartsMethod::SotlExact => "SoTL-DARTS (exact hypergradient)",
            DartsMethod::Drnas => "DrNAS",
            DartsMethod::SotlDrnas => "SoTL-DrNAS",
            DartsMethod::Pdarts => "PDARTS",
            DartsMethod::SotlPdarts => "SoTL-PDARTS",
        }
    }

    /// The alpha update rule.
    pub const fn update_rule(self) -> UpdateRule {
        match self {
            DartsMethod::Darts1 | DartsMethod::Drnas | DartsMethod::Pdarts => {
                UpdateRule::FirstOrder
            }
            DartsMethod::Darts2 => UpdateRule::SecondOrder,
            DartsMethod::Sotl | DartsMethod::SotlDrnas | DartsMethod::SotlPdarts => {
                UpdateRule::SotlApprox
            }
            DartsMethod::SotlExact => UpdateRule::SotlExact,
            DartsMethod::Sovl => UpdateRule::SovlAccumulate,
        }
    }

    /// The relaxation of alpha.
    pub const fn relaxation(self) -> Relaxation {
        match self {
            DartsMethod::Drnas | DartsMethod::SotlDrnas => Relaxation::Dirichlet,
            _ => Relaxation::Softmax,
        }
    }

    /// Whether its steps can run as micro-batches (`accumulate`): not when it differentiates
    /// through a whole weight step (second order, the exact SoTL hypergradient), nor with a
    /// Dirichlet relaxation, whose every forward pass draws a new sample (micro-batches would
    /// see different architectures).
    pub const fn can_accumulate(self) -> bool {
        !matches!(self.update_rule(), UpdateRule::SecondOrder | UpdateRule::SotlExact)
            && !matches!(self.relaxation(), Relaxation::Dirichlet)
    }

    /// Whether the method runs in PDARTS' progressive stages (the DARTS space only).
    pub const fn is_progressive(self) -> bool {
        matches!(self, DartsMethod::Pdarts | DartsMethod::SotlPdarts)
    }

    /// Whether the method reads the validation split at all (SoTL variants train on the training
    /// split only).
    pub const fn uses_validation(self) -> bool {
        !matches!(self.update_rule(), UpdateRule::SotlApprox | UpdateRule::SotlExact)
    }
}

impl fmt::Display for DartsMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for DartsMethod {
    type Err = DartsError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim().to_ascii_lowercase().replace('_', "-");
        DartsMethod::ALL
            .into_iter()
            .find(|m| m.name() == t)
            .ok_or_else(|| DartsError::UnknownMethod(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_sotl_variants_skip_validation() {
        for m in DartsMethod::ALL {
            assert_eq!(m.name().parse::<DartsMethod>().unwrap(), m);
            let json = serde_json::to_string(&m).unwrap();
            assert_eq!(json, format!("\"{}\"", m.name()));
        }
        assert!("darts3".parse::<DartsMethod>().is_err());
        assert!(!DartsMethod::Sotl.uses_validation() && !DartsMethod::SotlDrnas.uses_validation());
        assert!(DartsMethod::Sovl.uses_validation());
        assert_eq!(DartsMethod::SotlDrnas.relaxation(), Relaxation::Dirichlet);
    }
}
