//! The operations of the DARTS search space (Liu et al., ICLR 2019) and of its restricted
//! variants (Zela et al., ICLR 2020).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::SpaceError;

/// One DARTS edge operation. Declared in the order of DARTS' `PRIMITIVES`, so that `index` is the
/// column of the full space's architecture parameters; `noise` (Zela et al.'s S4) comes last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum DartsOp {
    /// `none`: the zero operation.
    #[serde(rename = "none")]
    None,
    /// `max_pool_3x3`: 3x3 max pooling.
    #[serde(rename = "max_pool_3x3")]
    MaxPool3x3,
    /// `avg_pool_3x3`: 3x3 average pooling, padding excluded from the average.
    #[serde(rename = "avg_pool_3x3")]
    AvgPool3x3,
    /// `skip_connect`: identity, or FactorizedReduce on a strided (reduction) edge.
    #[serde(rename = "skip_connect")]
    SkipConnect,
    /// `sep_conv_3x3`: two stacked ReLU-depthwise 3x3-pointwise-BN blocks.
    #[serde(rename = "sep_conv_3x3")]
    SepConv3x3,
    /// `sep_conv_5x5`: as `sep_conv_3x3` with 5x5 depthwise kernels.
    #[serde(rename = "sep_conv_5x5")]
    SepConv5x5,
    /// `dil_conv_3x3`: ReLU-depthwise 3x3 (dilation 2)-pointwise-BN.
    #[serde(rename = "dil_conv_3x3")]
    DilConv3x3,
    /// `dil_conv_5x5`: ReLU-depthwise 5x5 (dilation 2)-pointwise-BN.
    #[serde(rename = "dil_conv_5x5")]
    DilConv5x5,
    /// `noise`: standard Gaussian noise of the input's shape (Zela et al.'s space S4).
    #[serde(rename = "noise")]
    Noise,
}

impl DartsOp {
    /// DARTS' `PRIMITIVES`, in order: the columns of the full space's relaxation.
    pub const PRIMITIVES: [DartsOp; 8] = [
        DartsOp::None,
        DartsOp::MaxPool3x3,
        DartsOp::AvgPool3x3,
        DartsOp::SkipConnect,
        DartsOp::SepConv3x3,
        DartsOp::SepConv5x5,
        DartsOp::DilConv3x3,
        DartsOp::DilConv5x5,
    ];

    /// Every operation a genotype may name.
    pub const ALL: [DartsOp; 9] = [
        DartsOp::None,
        DartsOp::MaxPool3x3,
        DartsOp::AvgPool3x3,
        DartsOp::SkipConnect,
        DartsOp::SepConv3x3,
        DartsOp::SepConv5x5,
        DartsOp::DilConv3x3,
        DartsOp::DilConv5x5,
        DartsOp::Noise,
    ];

    /// The operation's name in DARTS genotypes.
    pub const fn name(self) -> &'static str {
        match self {
            DartsOp::None => "none",
            DartsOp::MaxPool3x3 => "max_pool_3x3",
            DartsOp::AvgPool3x3 => "avg_pool_3x3",
            DartsOp::SkipConnect => "skip_connect",
            DartsOp::SepConv3x3 => "sep_conv_3x3",
            DartsOp::SepConv5x5 => "sep_conv_5x5",
            DartsOp::DilConv3x3 => "dil_conv_3x3",
            DartsOp::DilConv5x5 => "dil_conv_5x5",
            DartsOp::Noise => "noise",
        }
    }

    /// Whether the op has trainable weights.
    pub const fn is_parametric(self) -> bool {
        matches!(
            self,
            DartsOp::SepConv3x3 | DartsOp::SepConv5x5 | DartsOp::DilConv3x3 | DartsOp::DilConv5x5
        )
    }

    /// Whether the op is a pooling op (DARTS' search cells follow these by a BN).
    pub const fn is_pool(self) -> bool {
        matches!(self, DartsOp::MaxPool3x3 | DartsOp::AvgPool3x3)
    }

    pub(crate) fn known_names() -> String {
        DartsOp::ALL.map(DartsOp::name).join(", ")
    }
}

impl fmt::Display for DartsOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for DartsOp {
    type Err = SpaceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DartsOp::ALL.into_iter().find(|op| op.name() == s).ok_or_else(|| SpaceError::Unknown {
            what: "DARTS operation",
            name: s.to_string(),
            expected: DartsOp::known_names(),
        })
    }
}

/// The candidate operations of a DARTS-space variant: the full space or one of Zela et al.'s
/// restricted spaces (S1, whose op pair differs per edge, is not offered).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DartsOpSet {
    /// The eight `PRIMITIVES`.
    #[default]
    Full,
    /// S2: `skip_connect`, `sep_conv_3x3`.
    S2,
    /// S3: `none`, `skip_connect`, `sep_conv_3x3`.
    S3,
    /// S4: `noise`, `sep_conv_3x3`.
    S4,
}

const FULL_NAMES: [&str; 8] = [
    "none",
    "max_pool_3x3",
    "avg_pool_3x3",
    "skip_connect",
    "sep_conv_3x3",
    "sep_conv_5x5",
    "dil_conv_3x3",
    "dil_conv_5x5",
];

impl DartsOpSet {
    /// Every variant, for help texts and tests.
    pub const ALL: [DartsOpSet; 4] =
        [DartsOpSet::Full, DartsOpSet::S2, DartsOpSet::S3, DartsOpSet::S4];

    /// The ops, in relaxation column order.
    pub const fn ops(self) -> &'static [DartsOp] {
        match self {
            DartsOpSet::Full => &DartsOp::PRIMITIVES,
            DartsOpSet::S2 => &[DartsOp::SkipConnect, DartsOp::SepConv3x3],
            DartsOpSet::S3 => &[DartsOp::None, DartsOp::SkipConnect, DartsOp::SepConv3x3],
            DartsOpSet::S4 => &[DartsOp::Noise, DartsOp::SepConv3x3],
        }
    }

    /// The op names, in relaxation column order.
    pub const fn names(self) -> &'static [&'static str] {
        match self {
            DartsOpSet::Full => &FULL_NAMES,
            DartsOpSet::S2 => &["skip_connect", "sep_conv_3x3"],
            DartsOpSet::S3 => &["none", "skip_connect", "sep_conv_3x3"],
            DartsOpSet::S4 => &["noise", "sep_conv_3x3"],
        }
    }

    /// The ops a discretized cell may hold: all but `none`.
    pub fn cell_ops(self) -> Vec<DartsOp> {
        self.ops().iter().copied().filter(|&o| o != DartsOp::None).collect()
    }

    /// The variant's name: `full`, `s2`, `s3` or `s4`.
    pub const fn name(self) -> &'static str {
        match self {
            DartsOpSet::Full => "full",
            DartsOpSet::S2 => "s2",
            DartsOpSet::S3 => "s3",
            DartsOpSet::S4 => "s4",
        }
    }
}

impl fmt::Display for DartsOpSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for DartsOpSet {
    type Err = SpaceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DartsOpSet::ALL.into_iter().find(|o| o.name() == s.to_ascii_lowercase()).ok_or_else(|| {
            SpaceError::Unknown {
                what: "DARTS op set",
                name: s.to_string(),
                expected: "full, s2, s3, s4".into(),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_primitives_keep_darts_order() {
        for op in DartsOp::ALL {
            assert_eq!(op.name().parse::<DartsOp>().unwrap(), op);
            assert_eq!(serde_json::to_string(&op).unwrap(), format!("\"{}\"", op.name()));
        }
        assert_eq!(DartsOp::PRIMITIVES.map(DartsOp::name), FULL_NAMES);
        for set in DartsOpSet::ALL {
            assert_eq!(set.ops().iter().map(|o| o.name()).collect::<Vec<_>>(), set.names());
            assert_eq!(set.name().parse::<DartsOpSet>().unwrap(), set);
        }
        let e = "conv_7x1_1x7".parse::<DartsOp>().unwrap_err().to_string();
        assert!(e.contains("conv_7x1_1x7") && e.contains("sep_conv_5x5"), "{e}");
    }
}
