//! [`SpaceChoice`]: which search space a run's config names.

use serde::{Deserialize, Serialize};
use sotl_space::DartsOpSet;

use crate::{DartsError, DartsResult};

/// The search space a run searches (`space` in the `darts` and `oneshot` configs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SpaceChoice {
    /// NAS-Bench-201 (supernet from `[net]`, ground truth from the benchmark tables).
    #[default]
    Nb201,
    /// The DARTS space over an op set (search network from `[darts_net]`; no ground truth).
    Darts(DartsOpSet),
}

impl SpaceChoice {
    /// Every choice, for help texts.
    pub const NAMES: &'static str = "nb201, darts, darts-s2, darts-s3, darts-s4";

    /// The space's name: `nb201`, `darts` or `darts-s2` / `-s3` / `-s4`.
    pub fn name(self) -> String {
        match self {
            SpaceChoice::Nb201 => "nb201".into(),
            SpaceChoice::Darts(DartsOpSet::Full) => "darts".into(),
            SpaceChoice::Darts(o) => format!("darts-{o}"),
        }
    }
}

impl std::fmt::Display for SpaceChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name())
    }
}

impl std::str::FromStr for SpaceChoice {
    type Err = DartsError;

    fn from_str(s: &str) -> DartsResult<Self> {
        let s = s.trim().to_ascii_lowercase();
        match s.as_str() {
            "nb201" => Ok(SpaceChoice::Nb201),
            "darts" => Ok(SpaceChoice::Darts(DartsOpSet::Full)),
            _ => s
                .strip_prefix("darts-")
                .and_then(|o| o.parse::<DartsOpSet>().ok())
                .filter(|o| *o != DartsOpSet::Full)
                .map(SpaceChoice::Darts)
                .ok_or_else(|| DartsError::Config {
                    field: "space",
                    reason: format!("{s:?} is not a search space; expected one of {}", Self::NAMES),
                }),
        }
    }
}

impl Serialize for SpaceChoice {
    fn serialize<Ser: serde::Serializer>(&self, s: Ser) -> Result<Ser::Ok, Ser::Error> {
        s.serialize_str(&self.name())
    }
}

impl<'de> Deserialize<'de> for SpaceChoice {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}
