//! PDARTS (Chen et al., ICCV 2019): a differentiable search in progressive stages on the DARTS
//! space. Each stage builds a deeper search network over the ops the previous stage kept, with
//! dropout on its skip connections; the final normal cell keeps at most `max_skips` skips.
//! SoTL-PDARTS runs the same stages with the SoTL-DARTS update rule.

use std::path::Path;

use serde::{Deserialize, Serialize};
use sotl_nn::{DartsNetConfig, DartsSupernet, Supernet};
use sotl_space::darts::darts_edge_index;
use sotl_space::{DartsGenotype, DartsOp, DartsOpSet, DartsSpace, SearchSpace};
use tch::{Device, Kind, Tensor};

use super::{
    DartsConfig, DartsMethod, DartsSearch, EpochReport, SearchOutcome, SearchSplits, StepProgress,
};
use crate::{DartsError, DartsResult};

/// PDARTS' progressive schedule (`[pdarts]` of a darts run). The stages share `[search]`: each
/// runs `search.epochs` epochs, the first `search.arch_warmup_epochs` of them weights only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PdartsConfig {
    /// Cells added to `darts_net.layers` in each stage (PDARTS: 0, 6, 12 on 5 layers, so 5, 11
    /// and 17 cells).
    pub add_layers: Vec<usize>,
    /// Ops each edge keeps entering each stage after the first, by the previous stage's
    /// softmax weights (PDARTS: 5, then 3, of the 8).
    pub keep_ops: Vec<usize>,
    /// Dropout rate `d` on skip connections per stage (PDARTS' CIFAR-10 run: 0.1, 0.4, 0.7).
    /// As the reference schedules it, epoch `e` of `E` runs at `d (E - e - 1) / E` during the
    /// `W` warm-up epochs, then at `d exp(-0.2 (e - W))`.
    pub skip_dropout: Vec<f64>,
    /// Skip connections allowed in the final normal cell (PDARTS: 2).
    pub max_skips: usize,
}

impl Default for PdartsConfig {
    fn default() -> Self {
        PdartsConfig {
            add_layers: vec![0, 6, 12],
            keep_ops: vec![5, 3],
            skip_dropout: vec![0.1, 0.4, 0.7],
            max_skips: 2,
        }
    }
}

impl PdartsConfig {
    /// Checks the schedule against the op set it prunes and the first stage's `layers`.
    pub fn validate(&self, ops: DartsOpSet, layers: usize) -> DartsResult<()> {
        let bad = |field: &'static str, reason: String| Err(DartsError::Config { field, reason });
        let stages = self.add_layers.len();
        if stages == 0 {
            return bad("pdarts.add_layers", "name at least one stage".into());
        }
        if self.skip_dropout.len() != stages || self.keep_ops.len() + 1 != stages {
            return bad(
                "pdarts",
                format!(
                    "{stages} stage(s) in add_layers need as many skip_dropout rates and one keep_ops entry fewer, got {} and {}",
                    self.skip_dropout.len(),
                    self.keep_ops.len()
                ),
            );
        }
        for &add in &self.add_layers {
            match layers.checked_add(add) {
                Some(l) if l <= 200 => {}
                _ => {
                    return bad(
                        "pdarts.add_layers",
                        format!(
                            "{:?} on {layers} layers exceeds the search network's 200 cells",
                            self.add_layers
                        ),
                    )
                }
            }
        }
        if let Some(p) = self.skip_dropout.iter().find(|p| !(0.0..1.0).contains(*p)) {
            return bad("pdarts.skip_dropout", format!("{p} is not in [0, 1)"));
        }
        let mut have = ops.ops().len();
        for &k in &self.keep_ops {
            // Three, so an op other than `none` survives on every edge even when the final
            // normal cell's skip restriction removes skip_connect there.
            if k < 3 || k >= have {
                return bad(
                    "pdarts.keep_ops",
                    format!(
                        "{:?}: each stage must keep from 3 to fewer than the {have} ops the previous one had ({} has {})",
                        self.keep_ops,
                        ops,
                        ops.ops().len()
                    ),
                );
            }
            have = k;
        }
        if self.max_skips > 8 {
            return bad("pdarts.max_skips", format!("{} exceeds a cell's 8 edges", self.max_skips));
        }
        Ok(())
    }

    /// Skip dropout in epoch `epoch` of stage `stage` with `epochs` epochs, `warm` of them
    /// weights only.
    pub fn dropout_at(&self, stage: usize, epoch: usize, epochs: usize, warm: usize) -> f64 {
        let d = self.skip_dropout[stage];
        if epoch < warm {
            d * (epochs - epoch - 1) as f64 / epochs as f64
        } else {
            d * (-((epoch - warm) as f64) * 0.2).exp()
        }
    }
}

/// PDARTS' pruning between stages: on each edge (row of op weights, pruned ops at 0), keep the
/// `keep` ops of largest weight (ties to the lower column). Returns the row-major 0/1 mask.
pub fn pdarts_keep(rows: &[Vec<f64>], keep: usize) -> Vec<f64> {
    let mut mask = Vec::with_capacity(rows.iter().map(Vec::len).sum());
    for row in rows {
        let mut order: Vec<usize> = (0..row.len()).collect();
        order.sort_by(|&a, &b| row[b].total_cmp(&row[a]).then(a.cmp(&b)));
        let mut m = vec![0.0; row.len()];
        for &k in order.iter().take(keep) {
            m[k] = 1.0;
        }
        mask.extend(m);
    }
    mask
}

/// PDARTS' final genotype from the last stage's op weights (rows of the DARTS space's
/// relaxation, pruned ops at 0): DARTS' discretisation (per node the two edges whose strongest
/// op other than `none` is largest, each with that op); then, while the normal cell has more
/// than `max_skips` skip connections, the selected skip of smallest weight is zeroed and the
/// cell derived again, so its edge may go to another op or another input. Entries are listed
/// per node by input, as PDARTS prints them.
pub fn pdarts_genotype(
    space: &DartsSpace,
    rows: &[Vec<f64>],
    max_skips: usize,
) -> DartsResult<DartsGenotype> {
    let ops = space.ops.ops();
    let skip = ops.iter().position(|&o| o == DartsOp::SkipConnect);
    let mut rows = rows.to_vec();
    loop {
        let flat: Vec<f64> = rows.iter().flatten().copied().collect();
        let mut g = space.discretize(&flat)?;
        let skips: Vec<usize> = (0..g.normal.edges.len())
            .filter(|&k| g.normal.edges[k].0 == DartsOp::SkipConnect)
            .collect();
        if skips.len() <= max_skips {
            for cell in [&mut g.normal, &mut g.reduce] {
                for node in cell.edges.chunks_mut(2) {
                    node.sort_by_key(|e| e.1);
                }
            }
            return Ok(g);
        }
        let s = skip.expect("a genotype with skip connections comes from an op set holding them");
        let row = |k: usize| darts_edge_index(k / 2, g.normal.edges[k].1);
        let weakest = skips
            .iter()
            .map(|&k| row(k))
            .min_by(|&a, &b| rows[a][s].total_cmp(&rows[b][s]).then(a.cmp(&b)))
            .expect("more skips than allowed means at least one");
        rows[weakest][s] = 0.0;
    }
}

/// Runs (or resumes) a PDARTS-style search: stage `i` searches a `net.layers +
/// add_layers[i]`-cell network over the ops kept so far, for `cfg.epochs` epochs (each stage
/// a fresh network and alpha, as the reference), checkpointed to `<dir>/stage<i>.ckpt` after
/// every epoch; `on_epoch` sees `(stage, report)`. Returns the final genotype and the
/// trajectory of all stages (epochs numbered across stages).
#[allow(clippy::too_many_arguments)]
pub fn run_pdarts(
    method: DartsMethod,
    cfg: &DartsConfig,
    pd: &PdartsConfig,
    net: &DartsNetConfig,
    seed: u64,
    device: Device,
    data: &mut SearchSplits<'_>,
    dir: Option<&Path>,
    on_epoch: &mut dyn FnMut(usize, &EpochReport<DartsGenotype>),
    progress: &mut dyn FnMut(StepProgress),
) -> DartsResult<SearchOutcome<DartsGenotype>> {
    if !method.is_progressive() {
        return Err(DartsError::Config {
            field: "methods",
            reason: format!("{method} is not a progressive method (pdarts, sotl-pdarts)"),
        });
    }
    pd.validate(net.ops, net.layers)?;
    let stages = pd.add_layers.len();
    let mut mask: Option<Vec<f64>> = None;
    let mut trajectory = Vec::new();
    let mut rows = Vec::new();
    for stage in 0..stages {
        let net_s = DartsNetConfig { layers: net.layers + pd.add_layers[stage], ..*net };
        let ckpt = dir.map(|d| d.join(format!("stage{stage}.ckpt")));
        let mut s = match &ckpt {
            Some(p) if p.exists() => DartsSearch::<DartsSupernet>::resume(
                p,
                method,
                cfg,
                &net_s,
                seed,
                device,
                Kind::Float,
            )?,
            _ => {
                let mut s = DartsSearch::<DartsSupernet>::new(
                    method,
                    cfg,
                    &net_s,
                    seed,
                    device,
                    Kind::Float,
                )?;
                if let Some(m) = &mask {
                    let t = Tensor::from_slice(m).view([s.alpha().size()[0], -1]);
                    s.set_op_mask(Some(&t))?;
                }
                s
            }
        };
        while !s.is_done() {
            let p = pd.dropout_at(stage, s.epoch(), cfg.epochs, cfg.arch_warmup_epochs);
            s.supernet().set_skip_dropout(p)?;
            let report = s.run_epoch(data, progress)?;
            if let Some(p) = &ckpt {
                s.save(p)?;
            }
            on_epoch(stage, &report);
        }
        trajectory.extend(s.trajectory().iter().cloned().map(|mut p| {
            p.epoch += stage * cfg.epochs;
            p
        }));
        rows = method.relaxation().weight_rows(s.alpha(), s.op_mask());
        if stage + 1 < stages {
            mask = Some(pdarts_keep(&rows, pd.keep_ops[stage]));
        }
    }
    let genotype = pdarts_genotype(&DartsSpace::new(net.ops), &rows, pd.max_skips)?;
    Ok(SearchOutcome { method, seed, genotype, trajectory })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The normal cell's 14 rows then the reduction cell's, 8 columns in PRIMITIVES order
    /// (none, max, avg, skip, sep3, sep5, dil3, dil5), every entry `base`.
    fn rows(base: f64) -> Vec<Vec<f64>> {
        vec![vec![base; 8]; 28]
    }

    #[test]
    fn keep_takes_the_largest_weights_per_edge() {
        let r = vec![vec![0.1, 0.5, 0.0, 0.3, 0.1], vec![0.2, 0.2, 0.2, 0.2, 0.2]];
        // Row 0: 0.5, 0.3 then a tie of 0.1 at columns 0 and 4, to the lower column. Row 1:
        // all tied, the first three columns.
        assert_eq!(pdarts_keep(&r, 3), [1.0, 1.0, 0.0, 1.0, 0.0, 1.0, 1.0, 1.0, 0.0, 0.0]);
    }

    #[test]
    fn dropout_follows_the_reference_schedule() {
        let pd = PdartsConfig::default();
        // Stage 2 (rate 0.7), 25 epochs, 10 warm-up: 0.7 * 24/25 at epoch 0, 0.7 * 15/25 at
        // epoch 9, then 0.7 at epoch 10 and 0.7 * e^-1 at epoch 15.
        assert!((pd.dropout_at(2, 0, 25, 10) - 0.672).abs() < 1e-12);
        assert!((pd.dropout_at(2, 9, 25, 10) - 0.42).abs() < 1e-12);
        assert!((pd.dropout_at(2, 10, 25, 10) - 0.7).abs() < 1e-12);
        assert!((pd.dropout_at(2, 15, 25, 10) - 0.7 * (-1.0f64).exp()).abs() < 1e-12);
    }

    #[test]
    fn the_final_normal_cell_keeps_at_most_max_skips() {
        let space = DartsSpace::default();
        let mut r = rows(0.0);
        // Normal cell: every edge's strongest op is skip_connect (column 3), weaker sep_conv_3x3
        // (column 4). Edge strength grows with the row, so each node reads its two highest
        // inputs: node 0 (rows 0, 1), node 1 (rows 3, 4), node 2 (rows 7, 8), node 3 (12, 13).
        for (e, row) in r.iter_mut().enumerate().take(14) {
            row[3] = 0.5 + 0.01 * e as f64;
            row[4] = 0.2;
        }
        // The reduction cell: max_pool everywhere.
        for row in r.iter_mut().skip(14) {
            row[1] = 0.9;
        }
        let g = pdarts_genotype(&space, &r, 8).unwrap();
        assert_eq!(g.normal.edges.iter().filter(|e| e.0 == DartsOp::SkipConnect).count(), 8);
        // At most 2, by hand: the weakest selected skip is zeroed and the cell derived again.
        // Zeroing rows 0 and 1 turns node 0's edges to sep_conv_3x3. Node 1 then reads row 2
        // once row 3 is zeroed, and rows 2 and 4 zeroed leave it three 0.2 edges: inputs 0, 1.
        // Node 2 goes the same way through rows 7, 6, 5, 8. That leaves node 3's two skips.
        let g = pdarts_genotype(&space, &r, 2).unwrap();
        let skips: Vec<(usize, usize)> = g
            .normal
            .edges
            .iter()
            .enumerate()
            .filter(|(_, e)| e.0 == DartsOp::SkipConnect)
            .map(|(k, e)| (k / 2, e.1))
            .collect();
        assert_eq!(skips.len(), 2, "{g}");
        // The strongest skips survive: rows 12 and 13 (node 3, inputs 3 and 4).
        assert_eq!(skips, [(3, 3), (3, 4)], "{g}");
        // Entries are listed by input within a node.
        for node in g.normal.edges.chunks(2) {
            assert!(node[0].1 < node[1].1, "{g}");
        }
        assert!(g.reduce.edges.iter().all(|e| e.0 == DartsOp::MaxPool3x3));
    }

    #[test]
    fn schedules_that_cannot_run_are_refused() {
        let ok = PdartsConfig::default();
        assert!(ok.validate(DartsOpSet::Full, 5).is_ok());
        let e = ok.validate(DartsOpSet::S2, 5).unwrap_err().to_string();
        assert!(e.contains("keep_ops"), "{e}");
        let e = PdartsConfig { skip_dropout: vec![0.1], ..ok.clone() }
            .validate(DartsOpSet::Full, 5)
            .unwrap_err()
            .to_string();
        assert!(e.contains("3 stage(s)"), "{e}");
        let e = PdartsConfig { keep_ops: vec![5, 5], ..ok.clone() }
            .validate(DartsOpSet::Full, 5)
            .unwrap_err()
            .to_string();
        assert!(e.contains("fewer than the 5"), "{e}");
        let e = PdartsConfig { keep_ops: vec![5, 2], ..ok.clone() }
            .validate(DartsOpSet::Full, 5)
            .unwrap_err()
            .to_string();
        assert!(e.contains("from 3"), "{e}");
        let e = PdartsConfig { add_layers: vec![0, 6, usize::MAX], ..ok.clone() }
            .validate(DartsOpSet::Full, 5)
            .unwrap_err()
            .to_string();
        assert!(e.contains("200 cells"), "{e}");
        let e = PdartsConfig { skip_dropout: vec![0.1, 1.0, 0.2], ..ok }
            .validate(DartsOpSet::Full, 5)
            .unwrap_err()
            .to_string();
        assert!(e.contains("[0, 1)"), "{e}");
    }
}
