//! The axes of a NAS-Bench-201 query: dataset, metric and table (fidelity).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::BenchError;

/// A NAS-Bench-201 dataset.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default,
)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Nb201Dataset {
    /// CIFAR-10 (`cifar10`).
    #[default]
    #[serde(rename = "cifar10")]
    #[cfg_attr(feature = "clap", value(name = "cifar10"))]
    Cifar10,
    /// CIFAR-100 (`cifar100`).
    #[serde(rename = "cifar100")]
    #[cfg_attr(feature = "clap", value(name = "cifar100"))]
    Cifar100,
    /// ImageNet16-120 (`imagenet16-120`).
    #[serde(rename = "imagenet16-120")]
    #[cfg_attr(feature = "clap", value(name = "imagenet16-120"))]
    #[allow(non_camel_case_types)]
    ImageNet16_120,
}

impl Nb201Dataset {
    /// All datasets, in table column order.
    pub const ALL: [Nb201Dataset; 3] =
        [Nb201Dataset::Cifar10, Nb201Dataset::Cifar100, Nb201Dataset::ImageNet16_120];

    /// The user-facing name (`cifar10`, `cifar100`, `imagenet16-120`).
    pub const fn name(self) -> &'static str {
        match self {
            Nb201Dataset::Cifar10 => "cifar10",
            Nb201Dataset::Cifar100 => "cifar100",
            Nb201Dataset::ImageNet16_120 => "imagenet16-120",
        }
    }

    /// The prefix of this dataset's columns in the CSV tables.
    pub const fn column_prefix(self) -> &'static str {
        match self {
            Nb201Dataset::Cifar10 => "cifar10",
            Nb201Dataset::Cifar100 => "cifar100",
            Nb201Dataset::ImageNet16_120 => "imagenet16_120",
        }
    }
}

/// Which accuracy of a table.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Nb201Metric {
    /// Test-set accuracy (%): ground truth, for reporting only.
    #[default]
    Test,
    /// Validation accuracy (%): what a search may select on.
    Valid,
}

impl Nb201Metric {
    /// Both metrics, in column order.
    pub const ALL: [Nb201Metric; 2] = [Nb201Metric::Test, Nb201Metric::Valid];

    /// The name, also the column suffix (`test`, `valid`).
    pub const fn name(self) -> &'static str {
        match self {
            Nb201Metric::Test => "test",
            Nb201Metric::Valid => "valid",
        }
    }
}

/// Which NAS-Bench-201 table (training fidelity).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Nb201Table {
    /// `nb201-200ep.csv`: test accuracy after the full 200-epoch schedule (the ground truth).
    #[default]
    #[serde(rename = "full200")]
    #[cfg_attr(feature = "clap", value(name = "full200"))]
    Full200,
    /// `nb201-minibench.csv`: test and validation accuracy after a short schedule.
    Mini,
}

impl Nb201Table {
    /// Both tables.
    pub const ALL: [Nb201Table; 2] = [Nb201Table::Full200, Nb201Table::Mini];

    /// The user-facing name (`full200`, `mini`).
    pub const fn name(self) -> &'static str {
        match self {
            Nb201Table::Full200 => "full200",
            Nb201Table::Mini => "mini",
        }
    }

    /// The file name under `benchmarks/nb201/`.
    pub const fn file_name(self) -> &'static str {
        match self {
            Nb201Table::Full200 => "nb201-200ep.csv",
            Nb201Table::Mini => "nb201-minibench.csv",
        }
    }

    /// The metrics this table has (the 200-epoch export has no validation column).
    pub const fn metrics(self) -> &'static [Nb201Metric] {
        match self {
            Nb201Table::Full200 => &[Nb201Metric::Test],
            Nb201Table::Mini => &[Nb201Metric::Test, Nb201Metric::Valid],
        }
    }

    /// The accuracy columns, in CSV order, as `(dataset, metric)`.
    pub fn columns(self) -> Vec<(Nb201Dataset, Nb201Metric)> {
        Nb201Dataset::ALL
            .iter()
            .flat_map(|&d| self.metrics().iter().map(move |&m| (d, m)))
            .collect()
    }
}

macro_rules! text_enum {
    ($t:ty, $what:literal, $expected:literal) => {
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.name())
            }
        }
        impl FromStr for $t {
            type Err = BenchError;
            fn from_str(s: &str) -> Result<Self, BenchError> {
                Self::ALL.into_iter().find(|x| x.name() == s.trim()).ok_or_else(|| {
                    BenchError::Parse { what: $what, input: s.to_string(), expected: $expected }
                })
            }
        }
    };
}
text_enum!(Nb201Dataset, "dataset", "cifar10, cifar100, imagenet16-120");
text_enum!(Nb201Metric, "metric", "test, valid");
text_enum!(Nb201Table, "table", "full200, mini");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_text_and_serde() {
        for d in Nb201Dataset::ALL {
            assert_eq!(d.name().parse::<Nb201Dataset>().unwrap(), d);
            assert_eq!(serde_json::to_string(&d).unwrap(), format!("\"{}\"", d.name()));
        }
        for t in Nb201Table::ALL {
            assert_eq!(serde_json::to_string(&t).unwrap(), format!("\"{}\"", t.name()));
        }
        assert!("cifar10-valid".parse::<Nb201Dataset>().is_err());
        assert!("ImageNet16-120".parse::<Nb201Dataset>().is_err());
        assert!("val".parse::<Nb201Metric>().unwrap_err().to_string().contains("test, valid"));
    }

    #[test]
    fn columns_follow_the_readme_schema() {
        let names = |t: Nb201Table| -> Vec<String> {
            t.columns().iter().map(|(d, m)| format!("{}_{}", d.column_prefix(), m.name())).collect()
        };
        assert_eq!(
            names(Nb201Table::Full200),
            ["cifar10_test", "cifar100_test", "imagenet16_120_test"]
        );
        assert_eq!(
            names(Nb201Table::Mini),
            [
                "cifar10_test",
                "cifar10_valid",
                "cifar100_test",
                "cifar100_valid",
                "imagenet16_120_test",
                "imagenet16_120_valid"
            ]
        );
    }
}
