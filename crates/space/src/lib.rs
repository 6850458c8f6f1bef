//! Search spaces and genotypes. Pure: no tensors.
//!
//! Sits at the bottom of the workspace: `sotl-bench` keys its tables by these arch strings,
//! `sotl-nn` builds networks from them, and `sotl-search` samples and mutates them.

mod error;
pub mod nb201;

pub use error::{Result, SpaceError};
pub use nb201::{Nb201Arch, Nb201Op};
