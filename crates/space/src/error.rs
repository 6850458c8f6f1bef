//! Errors of the search-space crate.

/// Errors from parsing or manipulating architectures.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SpaceError {
    /// An arch or genotype string could not be parsed; `part` is the offending piece.
    #[error("malformed arch string {input:?}: {reason} (at {part:?}); expected the NAS-Bench-201 form |op~0|+|op~0|op~1|+|op~0|op~1|op~2| with ops none, skip_connect, nor_conv_1x1, nor_conv_3x3, avg_pool_3x3")]
    Parse {
        /// The whole input.
        input: String,
        /// The offending part of the input.
        part: String,
        /// What was wrong with it.
        reason: String,
    },
    /// A DARTS genotype string could not be read; `part` is where reading stopped.
    #[error("malformed DARTS genotype: {reason} (at {part:?}); expected the DARTS form Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ...], normal_concat=range(2, 6), reduce=[...], reduce_concat=range(2, 6)) with two (op, input) entries per node")]
    Genotype {
        /// The whole input.
        input: String,
        /// The input from where reading stopped (at most 40 characters).
        part: String,
        /// What was wrong.
        reason: String,
    },
    /// A NAS-Bench-1shot1 cell string could not be read.
    #[error("malformed NAS-Bench-1shot1 cell {input:?}: {reason}; expected nb1shot1-s<1|2|3>|<op>~<parent>~...|...|output~<parent>~...| with one group per intermediate node (ops conv3x3-bn-relu, conv1x1-bn-relu, maxpool3x3) and each node's parents ascending")]
    OneShot1 {
        /// The whole input.
        input: String,
        /// What was wrong.
        reason: String,
    },
    /// A name that is not one of a fixed list (DARTS ops, op sets, published genotypes).
    #[error("unknown {what} {name:?}; expected one of {expected}")]
    Unknown {
        /// What was named, e.g. `DARTS operation`.
        what: &'static str,
        /// The name given.
        name: String,
        /// The accepted names.
        expected: String,
    },
    /// An unknown operation name.
    #[error("unknown operation {0:?}; expected one of none, skip_connect, nor_conv_1x1, nor_conv_3x3, avg_pool_3x3")]
    UnknownOp(String),
    /// Architecture weights that do not describe a relaxation of the space.
    #[error("invalid architecture weights: {0}")]
    Weights(String),
    /// An index outside the space.
    #[error("index {index} out of range for a space of {size} architectures")]
    IndexOutOfRange {
        /// The index asked for.
        index: usize,
        /// The space's size.
        size: usize,
    },
}

/// Result alias for this crate.
pub type Result<T, E = SpaceError> = std::result::Result<T, E>;
