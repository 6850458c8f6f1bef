//! One module per subcommand: each parses its flags, reads files, calls a library, prints.

pub mod arch;
pub mod bench;
pub mod darts;
pub mod data;
pub mod doctor;
pub mod train;
pub mod oneshot;
pub mod search;
pub mod hypergrad;
pub mod fourier;
pub mod perf;
