//! Published DARTS-space genotypes, as their authors' code defines them.

use super::DartsGenotype;
use crate::SpaceError;

/// `(name, genotype text)` of the published genotypes, the text as in the authors' code.
pub const PRESETS: [(&str, &str); 4] = [
    // quark0/darts, cnn/genotypes.py: DARTS_V1 (first order).
    (
        "darts-v1",
        "Genotype(normal=[('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('skip_connect', 0), ('sep_conv_3x3', 1), ('skip_connect', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('skip_connect', 2)], normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 0), ('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), ('avg_pool_3x3', 0)], reduce_concat=[2, 3, 4, 5])",
    ),
    // quark0/darts, cnn/genotypes.py: DARTS_V2 (second order), the paper's CIFAR-10 cell.
    (
        "darts-v2",
        "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), ('dil_conv_3x3', 2)], normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), ('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], reduce_concat=[2, 3, 4, 5])",
    ),
    // chenxin061/pdarts, genotypes.py: PDARTS (the source's missing spaces kept).
    (
        "pdarts",
        "Genotype(normal=[('skip_connect', 0), ('dil_conv_3x3', 1), ('skip_connect', 0),('sep_conv_3x3', 1), ('sep_conv_3x3', 1), ('sep_conv_3x3', 3), ('sep_conv_3x3',0), ('dil_conv_5x5', 4)], normal_concat=range(2, 6), reduce=[('avg_pool_3x3', 0), ('sep_conv_5x5', 1), ('sep_conv_3x3', 0), ('dil_conv_5x5', 2), ('max_pool_3x3', 0), ('dil_conv_3x3', 1), ('dil_conv_3x3', 1), ('dil_conv_5x5', 3)], reduce_concat=range(2, 6))",
    ),
    // xiangning-chen/DrNAS, DARTS-space/genotypes.py: DrNAS_cifar10.
    (
        "drnas",
        "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_5x5', 1), ('sep_conv_3x3', 1), ('sep_conv_3x3', 2), ('skip_connect', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 2), ('dil_conv_5x5', 3)], normal_concat=range(2, 6), reduce=[('max_pool_3x3', 0), ('sep_conv_5x5', 1), ('dil_conv_5x5', 2), ('sep_conv_5x5', 1), ('sep_conv_5x5', 1), ('dil_conv_5x5', 3), ('skip_connect', 4), ('sep_conv_5x5', 1)], reduce_concat=range(2, 6))",
    ),
];

/// The published genotype named `name` (`darts-v1`, `darts-v2`, `pdarts`, `drnas`).
pub fn preset(name: &str) -> Result<DartsGenotype, SpaceError> {
    let (_, text) =
        PRESETS.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).ok_or_else(|| {
            SpaceError::Unknown {
                what: "published genotype",
                name: name.to_string(),
                expected: format!(
                    "{} (or a genotype in the DARTS form Genotype(normal=[...], ...))",
                    PRESETS.map(|(n, _)| n).join(", ")
                ),
            }
        })?;
    text.parse()
}
