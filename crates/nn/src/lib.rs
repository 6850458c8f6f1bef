//! NAS-Bench-201, DARTS-space and NAS-Bench-1shot1 networks on libtorch: the ops, the cell, the weight-sharing supernet driven by an
//! [`EdgeMix`], standalone networks for one cell, and their parameter and FLOP counts.
//!
//! Sits above `sotl-space` (which names the cells) and below `sotl-train` and `sotl-search` (which
//! train these networks and turn architecture parameters into an `EdgeMix`). The networks follow
//! NAS-Bench-201 (Dong & Yang, ICLR 2020) as AutoDL-Projects defines them, parameter for parameter.

mod config;
mod counts;
pub mod darts;
mod error;
mod layout;
mod mix;
mod network;
mod oneshot1;
mod ops;
mod supernet;
mod topology;
mod weight_sharing;

pub use config::{LayerKind, Nb201NetConfig};
pub use counts::{
    standalone_mflops, standalone_param_count, supernet_mflops, supernet_param_count,
    supernet_path_mflops,
};
pub use darts::{DartsNetConfig, DartsNetwork, DartsSupernet};
pub use error::{NnError, Result};
pub use layout::{cpu_layout, set_cpu_layout, CpuLayout};
pub use mix::EdgeMix;
pub use network::Nb201Network;
pub use oneshot1::{nb101_param_count, OneShot1NetConfig, OneShot1NetSize, OneShot1Supernet};
pub use supernet::{channel_shuffle, Nb201Supernet, Widened};
pub use topology::{live_edges, useful_edges};
pub use weight_sharing::{GenotypeOf, Supernet};
