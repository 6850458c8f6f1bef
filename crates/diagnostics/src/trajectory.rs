//! Per-epoch search trajectories: the discretized cell and the architecture weights over time.

use serde::{Deserialize, Serialize};
use sotl_space::nb201::NB201_EDGES;
use sotl_space::{Nb201Arch, Nb201Op, Nb201Space, SearchSpace};

use crate::SkipCollapse;

/// One epoch of a differentiable search, as plain data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrajectoryPoint {
    /// Epochs completed when this point was taken (1 = after the first epoch).
    pub epoch: usize,
    /// The discretized cell: argmax of the architecture weights on every edge.
    pub genotype: Nb201Arch,
    /// Edges whose argmax is `skip_connect`.
    pub skip_connections: usize,
    /// Edges whose argmax is `none`.
    pub nones: usize,
    /// Cell depth of the genotype (longest input-to-output path, Shu et al. 2020).
    pub depth: usize,
    /// Per edge (arch-string order), the mixing weights of the five ops in `Nb201Op::ALL` order.
    pub op_weights: Vec<[f64; 5]>,
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

impl TrajectoryPoint {
    /// A point from per-edge op weights; genotype, counts and depth are derived from them.
    ///
    /// Ties on an edge go to the op listed first in `Nb201Op::ALL`. Panics if `op_weights` does not
    /// have one row per edge (a bug in the caller, not bad input).
    pub fn from_op_weights(epoch: usize, op_weights: Vec<[f64; 5]>, train_loss: f64) -> Self {
        assert_eq!(op_weights.len(), NB201_EDGES, "one row of op weights per edge");
        let genotype = discretize(&op_weights);
        Self {
            epoch,
            genotype,
            skip_connections: genotype.count(Nb201Op::SkipConnect),
            nones: genotype.count(Nb201Op::None),
            depth: genotype.depth(),
            op_weights,
            train_loss,
            arch_loss: None,
            eigenvalue: None,
            test_accuracy: None,
            seconds: 0.0,
        }
    }

    /// The skip-connection collapse warning for this point's genotype, if it applies.
    pub fn skip_collapse(&self, threshold: usize) -> Option<SkipCollapse> {
        SkipCollapse::check(&self.genotype, threshold)
    }
}

/// The argmax cell of per-edge op weights: the space's discretisation
/// ([`Nb201Space`]'s `discretize`: first maximum on ties), with a NaN read as -inf (a diverged
/// weight loses to every finite one) and missing edges `none`.
pub fn discretize(op_weights: &[[f64; 5]]) -> Nb201Arch {
    let mut flat = vec![f64::NEG_INFINITY; NB201_EDGES * Nb201Op::ALL.len()];
    for (dst, w) in flat.iter_mut().zip(op_weights.iter().take(NB201_EDGES).flatten()) {
        *dst = if w.is_nan() { f64::NEG_INFINITY } else { *w };
    }
    // 30 weights, none NaN: the space cannot refuse them.
    Nb201Space.discretize(&flat).unwrap_or_else(|_| Nb201Arch::new([Nb201Op::None; NB201_EDGES]))
}

/// A trajectory as CSV: one row per point; the op weights as 30 columns `w<edge>_<op>`.
pub fn trajectory_csv(points: &[TrajectoryPoint]) -> String {
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
    for e in 0..NB201_EDGES {
        for op in Nb201Op::ALL {
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

    fn one_hot_rows(ops: [usize; 6]) -> Vec<[f64; 5]> {
        ops.iter()
            .map(|&k| {
                let mut r = [0.1; 5];
                r[k] = 0.6;
                r
            })
            .collect()
    }

    #[test]
    fn point_derives_genotype_counts_and_depth() {
        // skip, conv3, none | pool, skip, skip: path 0->1->2->3 has 3 edges.
        let p = TrajectoryPoint::from_op_weights(4, one_hot_rows([1, 3, 0, 4, 1, 1]), 1.5);
        assert_eq!(
            p.genotype.to_string(),
            "|skip_connect~0|+|nor_conv_3x3~0|none~1|+|avg_pool_3x3~0|skip_connect~1|skip_connect~2|"
        );
        assert_eq!((p.skip_connections, p.nones, p.depth), (3, 1, 2));
        assert!(p.skip_collapse(4).is_none());
        let q = TrajectoryPoint::from_op_weights(5, one_hot_rows([1, 1, 1, 1, 2, 0]), 1.0);
        assert_eq!(q.skip_collapse(4).unwrap().skips, 4);
    }

    #[test]
    fn ties_and_nan_resolve_to_a_defined_op() {
        let mut rows = vec![[0.2; 5]; 6];
        rows[1] = [f64::NAN, 0.1, 0.3, 0.3, 0.0];
        let g = discretize(&rows);
        assert_eq!(g.ops[0], Nb201Op::None);
        assert_eq!(g.ops[1], Nb201Op::NorConv1x1);
        // A NaN reads as -inf; a row with no finite weight and missing rows give `none`.
        rows[2] = [f64::NAN, f64::NEG_INFINITY, f64::NAN, f64::NAN, f64::NAN];
        rows[3] = [f64::NAN; 5];
        let g = discretize(&rows[..5]);
        assert_eq!(g.ops[2], Nb201Op::None, "-inf ties with NaNs read as -inf: the first wins");
        assert_eq!((g.ops[3], g.ops[5]), (Nb201Op::None, Nb201Op::None));
    }

    #[test]
    fn csv_has_one_header_and_one_row_per_point_with_40_columns() {
        let mut p = TrajectoryPoint::from_op_weights(1, one_hot_rows([3; 6]), 2.0);
        p.eigenvalue = Some(0.25);
        let csv = trajectory_csv(&[p.clone(), p]);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines.iter().all(|l| l.split(',').count() == 40));
        assert!(lines[1].contains(",0.25,"));
    }
}
