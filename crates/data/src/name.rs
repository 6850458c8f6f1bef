//! The datasets the toolkit knows by name.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::DataError;

/// A dataset known by name (`cifar10`, `cifar100`, `imagenet16-120`, `mnist`, `synthetic`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DatasetName {
    /// CIFAR-10 (binary release or image folders).
    #[serde(rename = "cifar10")]
    Cifar10,
    /// CIFAR-100, fine labels (binary release or image folders).
    #[serde(rename = "cifar100")]
    Cifar100,
    /// NAS-Bench-201's ImageNet16-120.
    #[serde(rename = "imagenet16-120")]
    ImageNet16_120,
    /// MNIST (IDX files).
    #[serde(rename = "mnist")]
    Mnist,
    /// The generated dataset of [`crate::synthetic`]: no files needed.
    #[serde(rename = "synthetic")]
    Synthetic,
}

impl DatasetName {
    /// Every name, in documentation order.
    pub const ALL: [DatasetName; 5] = [
        DatasetName::Cifar10,
        DatasetName::Cifar100,
        DatasetName::ImageNet16_120,
        DatasetName::Mnist,
        DatasetName::Synthetic,
    ];

    /// The canonical lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            DatasetName::Cifar10 => "cifar10",
            DatasetName::Cifar100 => "cifar100",
            DatasetName::ImageNet16_120 => "imagenet16-120",
            DatasetName::Mnist => "mnist",
            DatasetName::Synthetic => "synthetic",
        }
    }

    /// Number of classes.
    pub fn num_classes(self) -> usize {
        match self {
            DatasetName::Cifar10 | DatasetName::Mnist | DatasetName::Synthetic => 10,
            DatasetName::Cifar100 => 100,
            DatasetName::ImageNet16_120 => 120,
        }
    }
}

impl fmt::Display for DatasetName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DatasetName {
    type Err = DataError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let k = s.to_ascii_lowercase().replace('_', "-");
        Ok(match k.as_str() {
            "cifar10" | "cifar-10" => DatasetName::Cifar10,
            "cifar100" | "cifar-100" => DatasetName::Cifar100,
            "imagenet16-120" | "imagenet16" => DatasetName::ImageNet16_120,
            "mnist" => DatasetName::Mnist,
            "synthetic" => DatasetName::Synthetic,
            _ => {
                return Err(DataError::invalid(
                    "dataset name",
                    format!(
                    "{s:?}; expected one of cifar10, cifar100, imagenet16-120, mnist, synthetic"
                ),
                ))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for n in DatasetName::ALL {
            assert_eq!(n.as_str().parse::<DatasetName>().unwrap(), n);
            assert_eq!(serde_json::to_string(&n).unwrap(), format!("\"{n}\""));
        }
        assert_eq!("CIFAR-10".parse::<DatasetName>().unwrap(), DatasetName::Cifar10);
        assert!("cifar"
            .parse::<DatasetName>()
            .unwrap_err()
            .to_string()
            .contains("expected one of"));
    }
}
