//! NAS-Bench-101 cells (Ying et al. 2019): a DAG of at most 7 vertices (input, up to 5 ops,
//! output) and 9 edges, given as an upper-triangular adjacency matrix and the interior vertices'
//! ops; pruning of vertices off every input-output path, and the benchmark's graph hash, which
//! names a cell up to isomorphism (the key of its tables).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{Result, SpaceError};

/// Vertices of a NAS-Bench-101 cell, at most.
pub const NB101_MAX_VERTICES: usize = 7;
/// Edges of a NAS-Bench-101 cell, at most.
pub const NB101_MAX_EDGES: usize = 9;

/// An op of a NAS-Bench-101 interior vertex, in the benchmark's `available_ops` order (the
/// labels its hash uses are these indices).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Nb101Op {
    /// `conv3x3-bn-relu`.
    Conv3x3,
    /// `conv1x1-bn-relu`.
    Conv1x1,
    /// `maxpool3x3`.
    MaxPool3x3,
}

impl Nb101Op {
    /// Every op, in label order.
    pub const ALL: [Nb101Op; 3] = [Nb101Op::Conv3x3, Nb101Op::Conv1x1, Nb101Op::MaxPool3x3];

    /// The benchmark's name.
    pub const fn name(self) -> &'static str {
        match self {
            Nb101Op::Conv3x3 => "conv3x3-bn-relu",
            Nb101Op::Conv1x1 => "conv1x1-bn-relu",
            Nb101Op::MaxPool3x3 => "maxpool3x3",
        }
    }

    /// The hash label (index in `available_ops`).
    pub const fn label(self) -> i64 {
        match self {
            Nb101Op::Conv3x3 => 0,
            Nb101Op::Conv1x1 => 1,
            Nb101Op::MaxPool3x3 => 2,
        }
    }
}

impl fmt::Display for Nb101Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Nb101Op {
    type Err = SpaceError;

    fn from_str(s: &str) -> Result<Self> {
        Nb101Op::ALL.into_iter().find(|o| o.name() == s).ok_or_else(|| SpaceError::Unknown {
            what: "NAS-Bench-101 operation",
            name: s.to_string(),
            expected: "conv3x3-bn-relu, conv1x1-bn-relu, maxpool3x3".into(),
        })
    }
}

/// A NAS-Bench-101 cell as written: `matrix[i][j]` is the edge `i -> j` (strictly upper
/// triangular, vertex 0 the input, the last the output) and `ops[k]` the op of vertex `k + 1`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Nb101Spec {
    /// Adjacency, row = source.
    pub matrix: Vec<Vec<bool>>,
    /// Interior vertices' ops.
    pub ops: Vec<Nb101Op>,
}

impl Nb101Spec {
    /// A spec from a 0/1 matrix and interior ops; refuses a matrix that is not square, not
    /// strictly upper triangular (a DAG in vertex order), of fewer than 2 vertices, or whose op
    /// count is not `vertices - 2`.
    pub fn new(matrix: &[Vec<u8>], ops: &[Nb101Op]) -> Result<Self> {
        let n = matrix.len();
        let bad = |reason: String| SpaceError::Weights(format!("NAS-Bench-101 cell: {reason}"));
        if n < 2 {
            return Err(bad(format!("{n} vertices; a cell has at least input and output")));
        }
        if let Some(i) = matrix.iter().position(|r| r.len() != n) {
            return Err(bad(format!(
                "row {i} has {} entries, the matrix {n} rows",
                matrix[i].len()
            )));
        }
        for (i, row) in matrix.iter().enumerate() {
            for (j, &v) in row.iter().enumerate() {
                if v > 1 {
                    return Err(bad(format!("entry ({i}, {j}) is {v}, not 0 or 1")));
                }
                if v == 1 && j <= i {
                    return Err(bad(format!(
                        "edge {i} -> {j} is on or below the diagonal; the matrix must be strictly upper triangular"
                    )));
                }
            }
        }
        if ops.len() != n - 2 {
            return Err(bad(format!("{} ops for {} interior vertices", ops.len(), n - 2)));
        }
        Ok(Nb101Spec {
            matrix: matrix.iter().map(|r| r.iter().map(|&v| v == 1).collect()).collect(),
            ops: ops.to_vec(),
        })
    }

    /// Vertices, input and output included.
    pub fn vertices(&self) -> usize {
        self.matrix.len()
    }

    /// Edges.
    pub fn edges(&self) -> usize {
        self.matrix.iter().flatten().filter(|&&e| e).count()
    }

    /// The cell without the vertices that are not on an input-output path (as the benchmark's
    /// `ModelSpec` prunes), or `None` when the output cannot be reached from the input.
    pub fn pruned(&self) -> Option<Nb101Spec> {
        let n = self.vertices();
        let mut from_input = vec![false; n];
        from_input[0] = true;
        for j in 1..n {
            from_input[j] = (0..j).any(|i| from_input[i] && self.matrix[i][j]);
        }
        let mut to_output = vec![false; n];
        to_output[n - 1] = true;
        for i in (0..n - 1).rev() {
            to_output[i] = (i + 1..n).any(|j| to_output[j] && self.matrix[i][j]);
        }
        if !from_input[n - 1] {
            return None;
        }
        let keep: Vec<usize> = (0..n).filter(|&v| from_input[v] && to_output[v]).collect();
        Some(Nb101Spec {
            matrix: keep
                .iter()
                .map(|&i| keep.iter().map(|&j| self.matrix[i][j]).collect())
                .collect(),
            ops: keep[1..keep.len() - 1].iter().map(|&v| self.ops[v - 1]).collect(),
        })
    }

    /// Whether the benchmark holds the cell: input connected to output, and after pruning at
    /// most 7 vertices and 9 edges.
    pub fn is_valid(&self) -> bool {
        self.pruned()
            .is_some_and(|p| p.vertices() <= NB101_MAX_VERTICES && p.edges() <= NB101_MAX_EDGES)
    }

    /// The benchmark's hash of the pruned cell (`graph_util.hash_module`): each vertex starts
    /// from the MD5 of `(out-degree, in-degree, label)` (input -1, output -2, ops by
    /// [`Nb101Op::label`]); for as many rounds as vertices, a vertex's hash becomes the MD5 of
    /// its in-neighbours' hashes sorted and joined, `|`, its out-neighbours' likewise, `|`, its
    /// own; the cell's is the MD5 of the sorted list printed as Python prints it. Isomorphic
    /// cells hash alike. `None` for a cell whose output is unreachable.
    pub fn hash(&self) -> Option<String> {
        let p = self.pruned()?;
        let n = p.vertices();
        let m = &p.matrix;
        let label = |v: usize| -> i64 {
            if v == 0 {
                -1
            } else if v == n - 1 {
                -2
            } else {
                p.ops[v - 1].label()
            }
        };
        let md5 = |s: &str| format!("{:x}", md5::compute(s.as_bytes()));
        let mut hashes: Vec<String> = (0..n)
            .map(|v| {
                let out_deg = (0..n).filter(|&w| m[v][w]).count();
                let in_deg = (0..n).filter(|&w| m[w][v]).count();
                md5(&format!("({out_deg}, {in_deg}, {})", label(v)))
            })
            .collect();
        for _ in 0..n {
            hashes = (0..n)
                .map(|v| {
                    let mut ins: Vec<&str> =
                        (0..n).filter(|&w| m[w][v]).map(|w| hashes[w].as_str()).collect();
                    let mut outs: Vec<&str> =
                        (0..n).filter(|&w| m[v][w]).map(|w| hashes[w].as_str()).collect();
                    ins.sort_unstable();
                    outs.sort_unstable();
                    md5(&format!("{}|{}|{}", ins.concat(), outs.concat(), hashes[v]))
                })
                .collect();
        }
        hashes.sort_unstable();
        let listed: Vec<String> = hashes.iter().map(|h| format!("'{h}'")).collect();
        Some(md5(&format!("[{}]", listed.join(", "))))
    }
}
