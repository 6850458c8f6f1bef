//! Cell diagrams of genotypes (SVG): NAS-Bench-201's one cell, the DARTS space's normal and
//! reduction cells as DARTS' `visualize.py` draws them, with inputs `c_{k-2}`, `c_{k-1}`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use sotl_report::{plot_cell, CellDiagram, DiagramEdge, NodeKind};
use sotl_space::darts::DartsCell;
use sotl_space::{DartsGenotype, DartsOp, Nb201Arch, Nb201Op, OneShot1Cell};

/// A genotype that can be drawn: `(file name, diagram)` per cell.
pub trait Diagrams {
    /// The diagrams, with the file names they are written under.
    fn diagrams(&self) -> Vec<(&'static str, CellDiagram)>;
}

impl Diagrams for Nb201Arch {
    fn diagrams(&self) -> Vec<(&'static str, CellDiagram)> {
        let kind = |n: usize| match n {
            0 => NodeKind::Input,
            3 => NodeKind::Output,
            _ => NodeKind::Intermediate,
        };
        let edges = sotl_space::nb201::NB201_EDGE_ENDPOINTS
            .iter()
            .zip(self.ops)
            .map(|(&(to, from), op)| DiagramEdge {
                from,
                to,
                label: op.to_string(),
                faint: op == Nb201Op::None,
            })
            .collect();
        vec![(
            "cell.svg",
            CellDiagram {
                title: "NAS-Bench-201 cell".into(),
                nodes: (0..4).map(|n| (n.to_string(), kind(n))).collect(),
                edges,
            },
        )]
    }
}

impl Diagrams for DartsGenotype {
    fn diagrams(&self) -> Vec<(&'static str, CellDiagram)> {
        vec![
            ("normal.svg", darts_cell("normal cell", &self.normal)),
            ("reduce.svg", darts_cell("reduction cell", &self.reduce)),
        ]
    }
}

impl Diagrams for OneShot1Cell {
    /// Node 0 the input, the last the output; each intermediate node labelled with its op and
    /// reached by one edge per parent (nodes that feed no output drawn faint).
    fn diagrams(&self) -> Vec<(&'static str, CellDiagram)> {
        let out = self.output();
        // The input and output are always on a path; other nodes only when they feed it.
        let live = self.live_nodes();
        let mut nodes = vec![("in".to_string(), NodeKind::Input)];
        nodes.extend(
            (1..out).map(|v| (format!("{v}: {}", self.ops[v - 1]), NodeKind::Intermediate)),
        );
        nodes.push(("out".to_string(), NodeKind::Output));
        let edges = self
            .parents
            .iter()
            .enumerate()
            .flat_map(|(i, ps)| {
                let to = i + 1;
                ps.iter().map(move |&from| (from, to))
            })
            .map(|(from, to)| DiagramEdge {
                from,
                to,
                label: String::new(),
                faint: !live[from] || !live[to],
            })
            .collect();
        vec![("cell.svg", CellDiagram { title: format!("{} cell", self.space), nodes, edges })]
    }
}

/// States 0 and 1 are the inputs, 2.. the intermediate nodes (labelled from 0 as DARTS does),
/// the last node the concatenation of `concat`.
fn darts_cell(title: &str, cell: &DartsCell) -> CellDiagram {
    let steps = cell.edges.len() / 2;
    let mut nodes =
        vec![("c_{k-2}".to_string(), NodeKind::Input), ("c_{k-1}".to_string(), NodeKind::Input)];
    nodes.extend((0..steps).map(|i| (i.to_string(), NodeKind::Intermediate)));
    nodes.push(("c_{k}".to_string(), NodeKind::Output));
    let out = steps + 2;
    let mut edges: Vec<DiagramEdge> = cell
        .edges
        .iter()
        .enumerate()
        .map(|(k, &(op, input))| DiagramEdge {
            from: input,
            to: k / 2 + 2,
            label: op.to_string(),
            faint: op == DartsOp::None,
        })
        .collect();
    edges.extend(cell.concat.iter().map(|&s| DiagramEdge {
        from: s,
        to: out,
        label: String::new(),
        faint: true,
    }));
    CellDiagram { title: title.into(), nodes, edges }
}

/// Draws a NAS-Bench-201 arch string, a DARTS genotype or a preset name (`darts-v2`, ...) into
/// `out` (created); returns the files written.
pub fn draw(text: &str, out: &Path) -> Result<Vec<PathBuf>> {
    let t = text.trim();
    let diagrams = if t.starts_with('|') {
        t.parse::<Nb201Arch>().context("bad NAS-Bench-201 arch string")?.diagrams()
    } else if t.starts_with("Genotype") {
        t.parse::<DartsGenotype>().context("bad DARTS genotype")?.diagrams()
    } else {
        sotl_space::darts::preset(t)
            .with_context(|| {
                format!("{t:?} is neither an arch string ('|op~0|+...'), a DARTS genotype ('Genotype(normal=...') nor a preset name")
            })?
            .diagrams()
    };
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let mut written = Vec::new();
    for (file, d) in diagrams {
        let path = out.join(file);
        plot_cell(&path, &d)?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(d: &CellDiagram, op: &str) -> usize {
        d.edges.iter().filter(|e| e.label == op).count()
    }

    #[test]
    fn darts_v2_cells_have_the_published_ops() {
        // DARTS V2 (Liu et al. 2019, genotypes.py): the normal cell has five sep_conv_3x3, two
        // skip_connect and one dil_conv_3x3; the reduction cell five max_pool_3x3 and three
        // skip_connect. Both concatenate nodes 0-3.
        let g = sotl_space::darts::preset("darts-v2").unwrap();
        let d = g.diagrams();
        assert_eq!(d[0].0, "normal.svg");
        let (normal, reduce) = (&d[0].1, &d[1].1);
        assert_eq!(count(normal, "sep_conv_3x3"), 5);
        assert_eq!(count(normal, "skip_connect"), 2);
        assert_eq!(count(normal, "dil_conv_3x3"), 1);
        assert_eq!(count(reduce, "max_pool_3x3"), 5);
        assert_eq!(count(reduce, "skip_connect"), 3);
        for c in [normal, reduce] {
            assert_eq!(c.nodes.len(), 7);
            let concat: Vec<usize> = c.edges.iter().filter(|e| e.to == 6).map(|e| e.from).collect();
            assert_eq!(concat, vec![2, 3, 4, 5]);
        }
    }

    #[test]
    fn nb201_cell_edges_follow_the_arch_string() {
        let a: Nb201Arch =
            "|nor_conv_3x3~0|+|none~0|skip_connect~1|+|avg_pool_3x3~0|nor_conv_1x1~1|none~2|"
                .parse()
                .unwrap();
        let d = &a.diagrams()[0].1;
        let got: Vec<(usize, usize, &str, bool)> =
            d.edges.iter().map(|e| (e.from, e.to, e.label.as_str(), e.faint)).collect();
        assert_eq!(
            got,
            vec![
                (0, 1, "nor_conv_3x3", false),
                (0, 2, "none", true),
                (1, 2, "skip_connect", false),
                (0, 3, "avg_pool_3x3", false),
                (1, 3, "nor_conv_1x1", false),
                (2, 3, "none", true),
            ]
        );
    }

    #[test]
    fn draw_writes_the_files_and_names_bad_input() {
        let dir = tempfile::tempdir().unwrap();
        let files = draw("pdarts", dir.path()).unwrap();
        assert_eq!(files.len(), 2);
        assert!(files.iter().all(|f| std::fs::read_to_string(f).unwrap().starts_with("<svg")));
        let e = format!("{:#}", draw("|bogus~0|", dir.path()).unwrap_err());
        assert!(e.contains("bad NAS-Bench-201 arch string"), "{e}");
    }
}
