//! A NAS-Bench-201 cell and its arch string.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::Nb201Op;
use crate::SpaceError;

/// Number of intermediate-plus-output nodes' incoming edges: node 1 has 1, node 2 has 2, node 3 has 3.
pub const NB201_EDGES: usize = 6;
/// Number of nodes in a cell (input node 0, output node 3).
pub const NB201_NODES: usize = 4;

/// The `(to, from)` node pair of each edge, in arch-string order.
pub const NB201_EDGE_ENDPOINTS: [(usize, usize); NB201_EDGES] =
    [(1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2)];

/// A NAS-Bench-201 cell: one operation on each of the 6 edges of a 4-node DAG.
///
/// Edges are stored in arch-string order: `1<-0, 2<-0, 2<-1, 3<-0, 3<-1, 3<-2`. `Display` and
/// `FromStr` use the exact NAS-Bench-201 format, e.g.
/// `|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Nb201Arch {
    /// The operation on each edge, in arch-string order.
    pub ops: [Nb201Op; NB201_EDGES],
}

impl Nb201Arch {
    /// Builds a cell from its six edge operations, in arch-string order.
    pub const fn new(ops: [Nb201Op; NB201_EDGES]) -> Self {
        Self { ops }
    }

    /// The operation on the edge `to <- from`, if that edge exists.
    pub fn edge(&self, to: usize, from: usize) -> Option<Nb201Op> {
        NB201_EDGE_ENDPOINTS.iter().position(|&e| e == (to, from)).map(|i| self.ops[i])
    }
}

impl fmt::Display for Nb201Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut k = 0;
        for node in 1..NB201_NODES {
            if node > 1 {
                f.write_str("+")?;
            }
            f.write_str("|")?;
            for from in 0..node {
                write!(f, "{}~{}|", self.ops[k], from)?;
                k += 1;
            }
        }
        Ok(())
    }
}

impl FromStr for Nb201Arch {
    type Err = SpaceError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let err = |part: &str, reason: String| SpaceError::Parse {
            input: input.to_string(),
            part: part.to_string(),
            reason,
        };
        let s = input.trim();
        let nodes: Vec<&str> = s.split('+').collect();
        if nodes.len() != NB201_NODES - 1 {
            return Err(err(
                s,
                format!("expected 3 node groups separated by '+', found {}", nodes.len()),
            ));
        }
        let mut ops = [Nb201Op::None; NB201_EDGES];
        let mut k = 0;
        for (i, group) in nodes.iter().enumerate() {
            let node = i + 1;
            let inner =
                group.strip_prefix('|').and_then(|g| g.strip_suffix('|')).ok_or_else(|| {
                    err(group, format!("node group {node} must start and end with '|'"))
                })?;
            let edges: Vec<&str> = inner.split('|').collect();
            if edges.len() != node {
                return Err(err(
                    group,
                    format!("node {node} must have {node} incoming edge(s), found {}", edges.len()),
                ));
            }
            for (from, edge) in edges.iter().enumerate() {
                let at = format!("node {node}, edge {from}");
                let (name, src) = edge
                    .split_once('~')
                    .ok_or_else(|| err(edge, format!("{at}: an edge must be written op~input")))?;
                let op: Nb201Op = name
                    .parse()
                    .map_err(|_| err(edge, format!("{at}: unknown operation {name:?}")))?;
                let src_text = src;
                let src: usize = src
                    .parse()
                    .map_err(|_| err(edge, format!("{at}: input node {src:?} is not a number")))?;
                // `usize` parsing also takes "+0" and "00"; only the canonical form round-trips.
                if src == from && src_text != from.to_string() {
                    return Err(err(edge, format!("{at}: write the input node as {from}")));
                }
                if src != from {
                    return Err(err(
                        edge,
                        format!("{at}: edge {from} of node {node} must come from node {from}, not {src}"),
                    ));
                }
                ops[k] = op;
                k += 1;
            }
        }
        Ok(Nb201Arch { ops })
    }
}

impl TryFrom<String> for Nb201Arch {
    type Error = SpaceError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Nb201Arch> for String {
    fn from(a: Nb201Arch) -> String {
        a.to_string()
    }
}
