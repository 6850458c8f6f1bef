//! Which edges of a single-path cell can affect its output.

use sotl_space::nb201::{Nb201Arch, Nb201Op, NB201_EDGES, NB201_EDGE_ENDPOINTS, NB201_NODES};

/// Edges of `arch` whose op is not `none` and whose target node reaches the cell output
/// (node 3) through non-`none` edges. Other edges cannot change the output: skipping them is exact.
pub fn useful_edges(arch: &Nb201Arch) -> [bool; NB201_EDGES] {
    let mut reaches_out = [false; NB201_NODES];
    reaches_out[NB201_NODES - 1] = true;
    // Edges are ordered by target node, so walking them backwards settles targets first.
    for (e, &(to, from)) in NB201_EDGE_ENDPOINTS.iter().enumerate().rev() {
        if arch.ops[e] != Nb201Op::None && reaches_out[to] {
            reaches_out[from] = true;
        }
    }
    std::array::from_fn(|e| arch.ops[e] != Nb201Op::None && reaches_out[NB201_EDGE_ENDPOINTS[e].0])
}

/// Edges of `arch` that are useful ([`useful_edges`]) and whose source node is reachable from the
/// cell input through non-`none` edges. In a supernet cell (BN without affine parameters) an op
/// fed an all-zero map outputs exactly zero, so only these edges need computing.
pub fn live_edges(arch: &Nb201Arch) -> [bool; NB201_EDGES] {
    let mut from_in = [false; NB201_NODES];
    from_in[0] = true;
    for (e, &(to, from)) in NB201_EDGE_ENDPOINTS.iter().enumerate() {
        if arch.ops[e] != Nb201Op::None && from_in[from] {
            from_in[to] = true;
        }
    }
    let useful = useful_edges(arch);
    std::array::from_fn(|e| useful[e] && from_in[NB201_EDGE_ENDPOINTS[e].1])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arch(s: &str) -> Nb201Arch {
        s.parse().unwrap()
    }

    #[test]
    fn all_none_has_no_live_edges() {
        let a = arch("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|");
        assert_eq!(live_edges(&a), [false; 6]);
    }

    #[test]
    fn dead_source_and_dead_target_are_pruned() {
        // Node 1 only feeds `none` edges (useless); node 2 has no non-none input (zero source).
        let a = arch("|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|avg_pool_3x3~2|");
        assert_eq!(useful_edges(&a), [false, false, false, true, false, true]);
        assert_eq!(live_edges(&a), [false, false, false, true, false, false]);
    }

    #[test]
    fn chain_is_fully_live() {
        let a = arch("|skip_connect~0|+|none~0|nor_conv_1x1~1|+|none~0|none~1|nor_conv_3x3~2|");
        assert_eq!(live_edges(&a), [true, false, true, false, false, true]);
    }
}
