//! The five NAS-Bench-201 edge operations.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::SpaceError;

/// One NAS-Bench-201 edge operation, in the benchmark's canonical order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
// Explicit names: serde's snake_case would write `nor_conv1x1`, not the benchmark's `nor_conv_1x1`.
pub enum Nb201Op {
    /// `none`: the zero operation (the edge is absent).
    #[serde(rename = "none")]
    None,
    /// `skip_connect`: identity.
    #[serde(rename = "skip_connect")]
    SkipConnect,
    /// `nor_conv_1x1`: ReLU-Conv1x1-BN.
    #[serde(rename = "nor_conv_1x1")]
    NorConv1x1,
    /// `nor_conv_3x3`: ReLU-Conv3x3-BN.
    #[serde(rename = "nor_conv_3x3")]
    NorConv3x3,
    /// `avg_pool_3x3`: 3x3 average pooling, stride 1.
    #[serde(rename = "avg_pool_3x3")]
    AvgPool3x3,
}

impl Nb201Op {
    /// All operations, in the canonical order used for architecture parameters (alpha columns).
    pub const ALL: [Nb201Op; 5] = [
        Nb201Op::None,
        Nb201Op::SkipConnect,
        Nb201Op::NorConv1x1,
        Nb201Op::NorConv3x3,
        Nb201Op::AvgPool3x3,
    ];

    /// The operation's name in NAS-Bench-201 arch strings.
    pub const fn name(self) -> &'static str {
        match self {
            Nb201Op::None => "none",
            Nb201Op::SkipConnect => "skip_connect",
            Nb201Op::NorConv1x1 => "nor_conv_1x1",
            Nb201Op::NorConv3x3 => "nor_conv_3x3",
            Nb201Op::AvgPool3x3 => "avg_pool_3x3",
        }
    }

    /// Position in [`Nb201Op::ALL`].
    pub const fn index(self) -> usize {
        self as usize
    }

    /// Whether the op has trainable weights (the two convolutions).
    pub const fn is_parametric(self) -> bool {
        matches!(self, Nb201Op::NorConv1x1 | Nb201Op::NorConv3x3)
    }
}

impl fmt::Display for Nb201Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Nb201Op {
    type Err = SpaceError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Nb201Op::ALL
            .into_iter()
            .find(|op| op.name() == s)
            .ok_or_else(|| SpaceError::UnknownOp(s.to_string()))
    }
}
