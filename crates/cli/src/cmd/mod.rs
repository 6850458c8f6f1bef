//! One module per subcommand: each parses its flags, reads files, calls a library, prints.

pub mod arch;
pub mod bench;
pub mod config;
pub mod darts;
pub mod data;
pub mod doctor;
pub mod export;
pub mod fourier;
pub mod hypergrad;
pub mod oneshot;
pub mod perf;
pub mod search;
pub mod shards;
pub mod train;
