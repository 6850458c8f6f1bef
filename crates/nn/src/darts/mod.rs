//! The DARTS space's networks: its ops, the evaluation network of a genotype (`NetworkCIFAR`)
//! and the search network (`model_search.Network`) behind the [`crate::Supernet`] trait.

mod config;
mod network;
mod ops;
mod supernet;

pub use config::{
    auxiliary_head_params, darts_network_param_count, darts_supernet_param_count, DartsNetConfig,
    DartsNetSize,
};
pub use network::DartsNetwork;
pub use supernet::DartsSupernet;
