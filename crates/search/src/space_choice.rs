//! [`SpaceChoice`]: which search space a run's config names, and which config section sizes
//! its network.

use serde::{Deserialize, Serialize};
use sotl_nn::darts::DartsNetSize;
use sotl_nn::{Nb201NetConfig, OneShot1NetSize};
use sotl_space::{DartsOpSet, OneShot1Space};

use crate::{DartsError, DartsResult};

/// The search space a run searches (`space` in the `darts` and `oneshot` configs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SpaceChoice {
    /// NAS-Bench-201 (supernet from `[net]`, ground truth from the benchmark tables).
    #[default]
    Nb201,
    /// The DARTS space over an op set (search network from `[darts_net]`; no ground truth).
    Darts(DartsOpSet),
    /// A NAS-Bench-1shot1 space (one-shot model from `[nb1shot1_net]`; ground truth from a
    /// converted NAS-Bench-101 table under the data root, when there).
    OneShot1(OneShot1Space),
}

impl SpaceChoice {
    /// Every choice, for help texts.
    pub const NAMES: &'static str =
        "nb201, darts, darts-s2, darts-s3, darts-s4, nb1shot1-s1, nb1shot1-s2, nb1shot1-s3";

    /// The space's name: `nb201`, `darts`, `darts-s2` / `-s3` / `-s4` or `nb1shot1-s1` / `-s2`
    /// / `-s3`.
    pub fn name(self) -> String {
        match self {
            SpaceChoice::Nb201 => "nb201".into(),
            SpaceChoice::Darts(DartsOpSet::Full) => "darts".into(),
            SpaceChoice::Darts(o) => format!("darts-{o}"),
            SpaceChoice::OneShot1(s) => s.name().into(),
        }
    }

    /// Applies the size flags (`--channels`, `--cells`, `--layers`) to the config section that
    /// sizes this space's network, refusing a flag that sizes another space's.
    pub fn apply_size_flags(
        self,
        flags: SizeFlags,
        net: &mut Nb201NetConfig,
        darts_net: &mut DartsNetSize,
        nb1shot1_net: &mut OneShot1NetSize,
    ) -> DartsResult<()> {
        let refuse = |flag: &str, use_instead: &str| {
            Err(DartsError::Config {
                field: "space",
                reason: format!("{flag} does not size the {self} network; use {use_instead}"),
            })
        };
        match self {
            SpaceChoice::Nb201 => {
                if flags.layers.is_some() {
                    return refuse("--layers", "--cells (or --space darts / nb1shot1-s1..s3)");
                }
                set(&mut net.channels, flags.channels);
                set(&mut net.cells_per_stage, flags.cells);
            }
            SpaceChoice::Darts(_) => {
                if flags.cells.is_some() {
                    return refuse("--cells", "--layers");
                }
                set(&mut darts_net.channels, flags.channels);
                set(&mut darts_net.layers, flags.layers);
            }
            SpaceChoice::OneShot1(_) => {
                if flags.cells.is_some() {
                    return refuse("--cells", "--layers");
                }
                set(&mut nb1shot1_net.channels, flags.channels);
                set(&mut nb1shot1_net.layers, flags.layers);
            }
        }
        Ok(())
    }
}

fn set<T>(dst: &mut T, v: Option<T>) {
    if let Some(v) = v {
        *dst = v;
    }
}

/// The network-size flags every command shares: `--channels` (any space), `--cells`
/// (NAS-Bench-201 cells per stage), `--layers` (cells of the DARTS and NAS-Bench-1shot1
/// networks).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SizeFlags {
    /// Channels C.
    pub channels: Option<i64>,
    /// NAS-Bench-201 cells per stage.
    pub cells: Option<usize>,
    /// Cells of a DARTS-space or NAS-Bench-1shot1 network.
    pub layers: Option<usize>,
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
        let bad = || DartsError::Config {
            field: "space",
            reason: format!("{s:?} is not a search space; expected one of {}", Self::NAMES),
        };
        match s.as_str() {
            "nb201" => Ok(SpaceChoice::Nb201),
            "darts" => Ok(SpaceChoice::Darts(DartsOpSet::Full)),
            _ if s.starts_with("nb1shot1-") => {
                s.parse().map(SpaceChoice::OneShot1).map_err(|_| bad())
            }
            _ => s
                .strip_prefix("darts-")
                .and_then(|o| o.parse::<DartsOpSet>().ok())
                .filter(|o| *o != DartsOpSet::Full)
                .map(SpaceChoice::Darts)
                .ok_or_else(bad),
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
