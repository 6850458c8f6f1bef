//! NAS-Bench-201 ops, cells, supernet with EdgeMix, standalone networks.
