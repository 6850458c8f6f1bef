//! The skip-connection collapse warning.

use std::fmt;

use serde::{Deserialize, Serialize};
use sotl_space::{CellShape, Genotype, Nb201Arch};

/// Edges of skip connections from which a NAS-Bench-201 genotype counts as collapsed (4 of 6).
///
/// DARTS on NAS-Bench-201 drifts to the all-skip cell (54.30% CIFAR-10 test accuracy; Dong & Yang
/// 2020, AutoDL-Projects issues #58 and #79); a cell with four or more skips is already far down
/// that road.
pub const DEFAULT_SKIP_COLLAPSE_THRESHOLD: usize = 4;

/// A genotype dominated by skip connections: the signal of DARTS' known failure mode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(bound(serialize = "G: Serialize", deserialize = "G: serde::de::DeserializeOwned"))]
pub struct SkipCollapse<G = Nb201Arch> {
    /// The collapsing genotype.
    pub genotype: G,
    /// Its number of `skip_connect` edges.
    pub skips: usize,
    /// The threshold it reached.
    pub threshold: usize,
}

impl<G: Genotype + CellShape> SkipCollapse<G> {
    /// `Some` when `genotype` has at least `threshold` skip connections (a threshold of 0 is
    /// treated as 1, so an all-`none` cell never warns).
    pub fn check(genotype: &G, threshold: usize) -> Option<Self> {
        let skips = genotype.skip_connections();
        let threshold = threshold.max(1);
        (skips >= threshold).then(|| Self { genotype: genotype.clone(), skips, threshold })
    }
}

impl<G: Genotype + CellShape> fmt::Display for SkipCollapse<G> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "genotype collapsing toward skip connections: {} of {} edges are skip_connect ({}); \
             DARTS' known failure mode",
            self.skips,
            self.genotype.edges(),
            self.genotype
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sotl_space::Nb201Op;

    #[test]
    fn warns_from_the_threshold_on() {
        let three: Nb201Arch =
            "|skip_connect~0|+|skip_connect~0|skip_connect~1|+|nor_conv_3x3~0|none~1|avg_pool_3x3~2|"
                .parse()
                .unwrap();
        let four: Nb201Arch =
            "|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|none~1|avg_pool_3x3~2|"
                .parse()
                .unwrap();
        assert!(SkipCollapse::check(&three, 4).is_none());
        let w = SkipCollapse::check(&four, 4).unwrap();
        assert_eq!(w.skips, 4);
        assert!(w.to_string().contains("4 of 6"));
        assert!(SkipCollapse::check(&three, 3).is_some());
        let none = Nb201Arch::new([Nb201Op::None; 6]);
        assert!(SkipCollapse::check(&none, 0).is_none());
    }
}
