//! Per-epoch search trajectories: the discretized cell and the architecture weights over time.

use serde::{Deserialize, Serialize};
use sotl_space::{CellShape, Genotype, Nb201Arch, SearchSpace, SpaceError};

use crate::SkipCollapse;

/// One epoch of a differentiable search, as plain data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound(serialize = "G: Serialize", deserialize = "G: serde::de::DeserializeOwned"))]
pub struct TrajectoryPoint<G = Nb201Arch> {
    /// Epochs completed when this point was taken (1 = after the first epoch).
    pub epoch: usize,
    /// The discretized cell: argmax of the architecture weights on every edge.
    pub genotype: G,
    /// Edges whose argmax is a skip connection.
    pub skip_connections: usize,
    /// Edges whose argmax is the zero op.
    pub nones: usize,
    /// Cell depth of the genotype (longest input-to-output path, Shu et al. 2020).
    pub depth: usize,
    /// Per relaxed edge (the space's edge order), the mixing weights of its ops in the order of
    /// the space's `op_names`.
    pub op_weights: Vec<Vec<f64>>,
    /// Mean training loss of the supernet over the epoch's weight steps.
    pub train_loss: f64,
    /// Mean loss of the batches alpha was updated on (validation or training), if any.
    pub arch_loss: Option<f64>,
    /// Dominant eigenvalue of `∇²_α L` when measured this epoch.
    pub eigenvalue: Option<f64>,
    /// Ground-truth test accuracy (%) of `genotype`, filled in by reporting after the search and
    /// never read by a search algorithm.
    pub test_accuracy: Option<f64>,
    /// Wall-clock seconds spent in this epoch.
    pub seconds: f64,
}

impl<G: Genotype + CellShape> TrajectoryPoint<G> {
    /// A point from per-edge op weights of `space`'s relaxation; genotype, counts and depth are
    /// derived from them ([`discretize`]).
    pub fn from_op_weights<S: SearchSpace<Genotype = G>>(
        space: &S,
        epoch: usize,
        op_weights: Vec<Vec<f64>>,
        train_loss: f64,
    ) -> Result<Self, SpaceError> {
        let genotype = discretize(space, &op_weights)?;
        Ok(Self {
            epoch,
            skip_connections: genotype.skip_connections(),
            nones: genotype.nones(),
            depth: genotype.depth(),
            genotype,
            op_weights,
            train_loss,
            arch_loss: None,
            eigenvalue: None,
            test_accuracy: None,
            seconds: 0.0,
        })
    }

    /// The skip-connection collapse warning for this point's genotype, if it applies.
    pub fn skip_collapse(&self, threshold: usize) -> Option<SkipCollapse<G>> {
        SkipCollapse::check(&self.genotype, threshold)
    }
}

/// The argmax cell of per-edge op weights: the space's discretisation (for NAS-Bench-201 the
/// first maximum on ties), with a NaN read as -inf (a diverged weight loses to every finite
/// one) and missing edges or ops as -inf.
pub fn discretize<S: SearchSpace>(
    space: &S,
    op_weights: &[Vec<f64>],
) -> Result<S::Genotype, SpaceError> {
    let (edges, ops) = space.relaxation_shape();
    let mut flat = vec![f64::NEG_INFINITY; edges * ops];
    for (row, dst) in op_weights.iter().take(edges).zip(flat.chunks_mut(ops)) {
        for (d, w) in dst.iter_mut().zip(row) {
            *d = if w.is_nan() { f64::NEG_INFINITY } else { *w };
        }
    }
    space.discretize(&flat)
}

/// A trajectory as CSV: one row per point; the op weights as one column `w<edge>_<op>` per
/// entry of `space`'s relaxation (NAS-Bench-201: 30).
pub fn trajectory_csv<S: SearchSpace>(
    space: &S,
    points: &[TrajectoryPoint<S::Genotype>],
) -> String {
    let mut header: Vec<String> = [
        "epoch",
        "genotype",
        "skip_connections",
        "nones",
        "depth",
        "train_loss",
        "arch_loss",
        "eigenvalue",
        "test_accuracy",
        "seconds",
    ]
    .map(String::from)
    .to_vec();
    for e in 0..space.relaxation_shape().0 {
        for op in space.op_names() {
            header.push(format!("w{e}_{op}"));
        }
    }
    let mut out = sotl_report::CsvText::new(header);
    let opt = |x: Option<f64>| x.map(|v| v.to_string()).unwrap_or_default();
    for p in points {
        let mut row = vec![
            p.epoch.to_string(),
            p.genotype.to_string(),
            p.skip_connections.to_string(),
            p.nones.to_string(),
            p.depth.to_string(),
            p.train_loss.to_string(),
            opt(p.arch_loss),
            opt(p.eigenvalue),
            opt(p.test_accuracy),
            format!("{:.3}", p.seconds),
        ];
        row.extend(p.op_weights.iter().flatten().map(|w| w.to_string()));
        out.row(row);
    }
    out.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use sotl_space::{Nb201Op, Nb201Space};

    fn one_hot_rows(ops: [usize; 6]) -> Vec<Vec<f64>> {
        ops.iter()
            .map(|&k| {
                let mut r = vec![0.1; 5];
                r[k] = 0.6;
                r
            })
            .collect()
    }

    fn point(epoch: usize, rows: Vec<Vec<f64>>, loss: f64) -> TrajectoryPoint {
        TrajectoryPoint::from_op_weights(&Nb201Space, epoch, rows, loss).unwrap()
    }

    #[test]
    fn point_derives_genotype_counts_and_depth() {
        // skip, conv3, none | pool, skip, skip: path 0->1->2->3 has 3 edges.
        let p = point(4, one_hot_rows([1, 3, 0, 4, 1, 1]), 1.5);
        assert_eq!(
            p.genotype.to_string(),
            "|skip_connect~0|+|nor_conv_3x3~0|none~1|+|avg_pool_3x3~0|skip_connect~1|skip_connect~2|"
        );
        assert_eq!((p.skip_connections, p.nones, p.depth), (3, 1, 2));
        assert!(p.skip_collapse(4).is_none());
        let q = point(5, one_hot_rows([1, 1, 1, 1, 2, 0]), 1.0);
        assert_eq!(q.skip_collapse(4).unwrap().skips, 4);
    }

    #[test]
    fn ties_and_nan_resolve_to_a_defined_op() {
        let mut rows = vec![vec![0.2; 5]; 6];
        rows[1] = vec![f64::NAN, 0.1, 0.3, 0.3, 0.0];
        let g = discretize(&Nb201Space, &rows).unwrap();
        assert_eq!(g.ops[0], Nb201Op::None);
        assert_eq!(g.ops[1], Nb201Op::NorConv1x1);
        // A NaN reads as -inf; a row with no finite weight and missing rows give `none`.
        rows[2] = vec![f64::NAN, f64::NEG_INFINITY, f64::NAN, f64::NAN, f64::NAN];
        rows[3] = vec![f64::NAN; 5];
        let g = discretize(&Nb201Space, &rows[..5]).unwrap();
        assert_eq!(g.ops[2], Nb201Op::None, "-inf ties with NaNs read as -inf: the first wins");
        assert_eq!((g.ops[3], g.ops[5]), (Nb201Op::None, Nb201Op::None));
    }

    #[test]
    fn csv_has_one_header_and_one_row_per_point_with_40_columns() {
        let mut p = point(1, one_hot_rows([3; 6]), 2.0);
        p.eigenvalue = Some(0.25);
        let csv = trajectory_csv(&Nb201Space, &[p.clone(), p]);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines.iter().all(|l| l.split(',').count() == 40));
        assert!(lines[1].contains(",0.25,"));
    }
}
