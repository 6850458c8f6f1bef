//! Cheap structural properties of a NAS-Bench-201 cell, used as diagnostics (op counts, depth,
//! reachability).

use super::{Nb201Arch, Nb201Op, NB201_EDGES, NB201_EDGE_ENDPOINTS, NB201_NODES};

impl Nb201Arch {
    /// How many edges carry each op, indexed by [`Nb201Op::index`] (so `[none, skip_connect,
    /// nor_conv_1x1, nor_conv_3x3, avg_pool_3x3]`); the counts sum to 6.
    pub fn op_counts(&self) -> [usize; 5] {
        let mut counts = [0; 5];
        for op in self.ops {
            counts[op.index()] += 1;
        }
        counts
    }

    /// How many edges carry `op`.
    pub fn count(&self, op: Nb201Op) -> usize {
        self.ops.iter().filter(|&&o| o == op).count()
    }

    /// How many edges carry an op with weights (`nor_conv_1x1` or `nor_conv_3x3`), whether or not
    /// the edge lies on an input-to-output path.
    pub fn num_parametric(&self) -> usize {
        self.ops.iter().filter(|op| op.is_parametric()).count()
    }

    /// Cell depth as Shu et al. (ICLR 2020, "Understanding architectures learnt by cell-based
    /// neural architecture search") define it: the number of edges on the longest path from the
    /// input node 0 to the output node 3 that uses only non-`none` edges.
    ///
    /// Ranges over 1..=3 for a cell whose output is reachable. A cell whose output is not
    /// reachable from the input computes a constant zero; we give it depth 0 (rather than an
    /// error or `Option`) so depth can be averaged and plotted over a search trajectory, and
    /// [`Nb201Arch::output_reachable`] tells the two cases apart.
    pub fn depth(&self) -> usize {
        self.longest_from_input()[NB201_NODES - 1].unwrap_or(0)
    }

    /// Whether some path of non-`none` edges leads from the input node to the output node; when
    /// not, the cell's output is identically zero.
    pub fn output_reachable(&self) -> bool {
        self.longest_from_input()[NB201_NODES - 1].is_some()
    }

    /// Which edges lie on some input-to-output path of non-`none` edges, in arch-string order.
    ///
    /// Only these edges can influence the cell's output: an edge leaving a node the input never
    /// reaches carries zeros, and an edge into a node that never reaches the output is discarded.
    pub fn active_edges(&self) -> [bool; NB201_EDGES] {
        let from_input = self.longest_from_input();
        // Backward reachability: which nodes reach the output through non-`none` edges. Edges are
        // listed with increasing target node, so one reverse sweep settles every node.
        let mut to_output = [false; NB201_NODES];
        to_output[NB201_NODES - 1] = true;
        for (k, &(to, from)) in NB201_EDGE_ENDPOINTS.iter().enumerate().rev() {
            if self.ops[k] != Nb201Op::None && to_output[to] {
                to_output[from] = true;
            }
        }
        let mut active = [false; NB201_EDGES];
        for (k, &(to, from)) in NB201_EDGE_ENDPOINTS.iter().enumerate() {
            active[k] = self.ops[k] != Nb201Op::None && from_input[from].is_some() && to_output[to];
        }
        active
    }

    /// Number of parametric edges that lie on an input-to-output path (see
    /// [`Nb201Arch::active_edges`]): the convolutions that actually shape the output.
    pub fn num_active_parametric(&self) -> usize {
        let active = self.active_edges();
        self.ops.iter().zip(active).filter(|(op, a)| *a && op.is_parametric()).count()
    }

    /// Longest non-`none` path length from node 0 to each node, `None` where unreachable.
    fn longest_from_input(&self) -> [Option<usize>; NB201_NODES] {
        let mut longest = [None; NB201_NODES];
        longest[0] = Some(0);
        // Edges come in increasing target order and every source precedes its target, so each
        // source is final before any of its outgoing edges is read.
        for (k, &(to, from)) in NB201_EDGE_ENDPOINTS.iter().enumerate() {
            if self.ops[k] == Nb201Op::None {
                continue;
            }
            if let Some(d) = longest[from] {
                longest[to] = Some(longest[to].map_or(d + 1, |cur: usize| cur.max(d + 1)));
            }
        }
        longest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arch(s: &str) -> Nb201Arch {
        s.parse().unwrap()
    }

    #[test]
    fn dead_node_edges_are_inactive() {
        // Paths 0->1->2->3 and 0->3: every non-`none` edge is on one of them.
        let a =
            arch("|skip_connect~0|+|none~0|nor_conv_3x3~1|+|nor_conv_1x1~0|none~1|avg_pool_3x3~2|");
        assert_eq!(a.active_edges(), [true, false, true, true, false, true]);
        assert_eq!(a.num_active_parametric(), 2);
        // Here node 1 is fed but reaches nothing: its incoming conv is inactive.
        let b = arch("|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|");
        assert_eq!(b.active_edges(), [false, false, false, true, false, false]);
        assert_eq!(b.num_parametric(), 1);
        assert_eq!(b.num_active_parametric(), 0);
    }
}
