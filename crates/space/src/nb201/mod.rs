//! The NAS-Bench-201 search space (Dong & Yang, ICLR 2020): a 4-node cell with 6 edges and 5
//! candidate operations, 5^6 = 15 625 cells.

mod arch;
mod op;
mod props;
mod sample;
mod space;

pub use arch::{Nb201Arch, NB201_EDGES, NB201_EDGE_ENDPOINTS, NB201_NODES};
pub use op::Nb201Op;
pub use sample::NB201_SIZE;
pub use space::Nb201Space;
