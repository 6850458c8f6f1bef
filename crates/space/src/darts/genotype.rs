//! DARTS genotypes in the DARTS code's own string form, so that published cells paste in and
//! found cells paste out.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::DartsOp;
use crate::{CellShape, SpaceError};

/// Intermediate nodes of a DARTS cell (`steps` in the DARTS code).
pub const DARTS_STEPS: usize = 4;
/// Relaxed edges of one DARTS search cell: node `i` has `i + 2` incoming edges.
pub const DARTS_CELL_EDGES: usize = 14;

/// Row of the relaxed edge `input -> node` within a cell (DARTS' order: node by node, inputs
/// ascending; inputs 0 and 1 are the two previous cells' outputs).
pub const fn darts_edge_index(node: usize, input: usize) -> usize {
    node * (node + 3) / 2 + input
}

/// One cell of a DARTS genotype: two `(op, input)` entries per intermediate node, in the order
/// given (DARTS lists the stronger edge first), and the states concatenated into the output.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DartsCell {
    /// `(op, input state)` pairs; entries `2i` and `2i + 1` feed intermediate node `i` (state
    /// `i + 2`), and an input state is below `i + 2`.
    pub edges: Vec<(DartsOp, usize)>,
    /// States concatenated into the cell's output (DARTS: `range(2, 6)`).
    pub concat: Vec<usize>,
}

impl DartsCell {
    /// A cell from its entries, concatenating every intermediate node; checks the entries.
    pub fn new(edges: Vec<(DartsOp, usize)>) -> Result<Self, SpaceError> {
        let steps = edges.len() / 2;
        let cell = DartsCell { edges, concat: (2..steps + 2).collect() };
        match cell.check() {
            Some(reason) => Err(SpaceError::Genotype {
                input: format!("{:?}", cell.edges),
                part: String::new(),
                reason,
            }),
            None => Ok(cell),
        }
    }

    /// Intermediate nodes.
    pub fn steps(&self) -> usize {
        self.edges.len() / 2
    }

    /// The entries of intermediate node `i`.
    pub fn node(&self, i: usize) -> [(DartsOp, usize); 2] {
        [self.edges[2 * i], self.edges[2 * i + 1]]
    }

    /// Entries whose op is `op`.
    pub fn count(&self, op: DartsOp) -> usize {
        self.edges.iter().filter(|(o, _)| *o == op).count()
    }

    /// Longest path of non-`none` ops from an input state to a concatenated state (Shu et al.
    /// 2020); 0 when no concatenated state is reached.
    pub fn longest_path(&self) -> usize {
        let mut depth: Vec<Option<usize>> = vec![Some(0), Some(0)];
        for i in 0..self.steps() {
            let d = self
                .node(i)
                .iter()
                .filter(|(op, _)| *op != DartsOp::None)
                .filter_map(|&(_, j)| depth[j].map(|d| d + 1))
                .max();
            depth.push(d);
        }
        self.concat.iter().filter_map(|&s| depth[s]).max().unwrap_or(0)
    }

    /// `None` when the cell is well formed, else what is wrong.
    fn check(&self) -> Option<String> {
        if self.edges.is_empty() || !self.edges.len().is_multiple_of(2) {
            return Some(format!(
                "a cell needs two (op, input) entries per intermediate node, got {} entries",
                self.edges.len()
            ));
        }
        for (k, &(op, j)) in self.edges.iter().enumerate() {
            if j >= k / 2 + 2 {
                return Some(format!(
                    "entry {k} ({op:?} from state {j}) feeds node {} (state {}), which can only \
                     take states 0..={}",
                    k / 2,
                    k / 2 + 2,
                    k / 2 + 1
                ));
            }
        }
        let states = self.steps() + 2;
        if self.concat.is_empty() {
            return Some("the concat list is empty".into());
        }
        for (i, &s) in self.concat.iter().enumerate() {
            if s >= states || self.concat[..i].contains(&s) {
                return Some(format!("concat state {s} is out of range 0..{states} or repeated"));
            }
        }
        None
    }
}

/// A genotype of the DARTS space: a normal and a reduction cell.
///
/// `Display` writes, and `FromStr` reads, the DARTS code's `Genotype` namedtuple form:
/// `Genotype(normal=[('sep_conv_3x3', 0), ...], normal_concat=range(2, 6), reduce=[...],
/// reduce_concat=range(2, 6))`. Parsing also takes double quotes, concat lists such as
/// `[2, 3, 4, 5]` (as DARTS' `genotypes.py` writes them), keywords in any order and any
/// whitespace; printing writes one canonical form (a contiguous concat as `range(a, b)`).
/// Entry order within a node is kept, so equality is entry by entry.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DartsGenotype {
    /// The normal cell.
    pub normal: DartsCell,
    /// The reduction cell.
    pub reduce: DartsCell,
}

impl DartsGenotype {
    /// Every op the genotype names, normal cell first.
    pub fn ops(&self) -> impl Iterator<Item = DartsOp> + '_ {
        self.normal.edges.iter().chain(&self.reduce.edges).map(|(o, _)| *o)
    }
}

/// What [`CellShape`] reads, on the normal cell: the DARTS literature's collapse diagnostics
/// (Zela et al., DARTS+) count skip connections in the normal cell, where they are identities;
/// a reduction cell's skips are strided FactorizedReduce convolutions.
impl CellShape for DartsGenotype {
    fn edges(&self) -> usize {
        self.normal.edges.len()
    }

    fn skip_connections(&self) -> usize {
        self.normal.count(DartsOp::SkipConnect)
    }

    fn nones(&self) -> usize {
        self.normal.count(DartsOp::None)
    }

    fn depth(&self) -> usize {
        self.normal.longest_path()
    }
}

fn write_cell(f: &mut fmt::Formatter<'_>, name: &str, c: &DartsCell) -> fmt::Result {
    write!(f, "{name}=[")?;
    for (k, (op, j)) in c.edges.iter().enumerate() {
        if k > 0 {
            f.write_str(", ")?;
        }
        write!(f, "('{op}', {j})")?;
    }
    write!(f, "], {name}_concat=")?;
    let contiguous = c.concat.windows(2).all(|w| w[1] == w[0] + 1);
    if contiguous {
        write!(f, "range({}, {})", c.concat[0], c.concat[c.concat.len() - 1] + 1)
    } else {
        let items: Vec<String> = c.concat.iter().map(usize::to_string).collect();
        write!(f, "[{}]", items.join(", "))
    }
}

impl fmt::Display for DartsGenotype {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Genotype(")?;
        write_cell(f, "normal", &self.normal)?;
        f.write_str(", ")?;
        write_cell(f, "reduce", &self.reduce)?;
        f.write_str(")")
    }
}

impl From<DartsGenotype> for String {
    fn from(g: DartsGenotype) -> String {
        g.to_string()
    }
}

impl TryFrom<String> for DartsGenotype {
    type Error = SpaceError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

/// A recursive-descent reader over the genotype text; errors carry the byte offset.
struct Reader<'a> {
    s: &'a str,
    pos: usize,
}

type Step<T> = Result<T, (usize, String)>;

impl<'a> Reader<'a> {
    fn skip_ws(&mut self) {
        while let Some(c) = self.s[self.pos..].chars().next() {
            if !c.is_whitespace() {
                break;
            }
            self.pos += c.len_utf8();
        }
    }

    fn peek(&mut self) -> Option<char> {
        self.skip_ws();
        self.s[self.pos..].chars().next()
    }

    fn expect(&mut self, tok: &str) -> Step<()> {
        self.skip_ws();
        if self.s[self.pos..].starts_with(tok) {
            self.pos += tok.len();
            Ok(())
        } else {
            Err((self.pos, format!("expected {tok:?}")))
        }
    }

    fn eat(&mut self, tok: &str) -> bool {
        self.expect(tok).is_ok()
    }

    fn ident(&mut self) -> Step<&'a str> {
        self.skip_ws();
        let rest = &self.s[self.pos..];
        let n = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(rest.len());
        if n == 0 {
            return Err((self.pos, "expected a name".into()));
        }
        self.pos += n;
        Ok(&rest[..n])
    }

    fn int(&mut self) -> Step<usize> {
        self.skip_ws();
        let start = self.pos;
        let rest = &self.s[start..];
        let n = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        if n == 0 {
            return Err((start, "expected a non-negative integer".into()));
        }
        self.pos += n;
        // At most 3 digits: a state index beyond that is never valid, and it bounds the parse.
        if n > 3 {
            return Err((start, "state index too large".into()));
        }
        Ok(rest[..n].parse().expect("at most 3 ASCII digits"))
    }

    fn string(&mut self) -> Step<(usize, &'a str)> {
        self.skip_ws();
        let start = self.pos;
        let q = match self.peek() {
            Some(q @ ('\'' | '"')) => q,
            _ => return Err((start, "expected a quoted op name".into())),
        };
        let body = &self.s[start + 1..];
        let end = body.find(q).ok_or((start, "unterminated quoted op name".to_string()))?;
        self.pos = start + 1 + end + 1;
        Ok((start + 1, &body[..end]))
    }

    /// `[('op', j), ...]`, trailing comma allowed.
    fn entries(&mut self) -> Step<Vec<(DartsOp, usize)>> {
        self.expect("[")?;
        let mut v = Vec::new();
        while !self.eat("]") {
            // Bounded: no published or sampled cell has more than a handful of nodes.
            if v.len() >= 64 {
                return Err((self.pos, "more than 64 entries in a cell".into()));
            }
            self.expect("(")?;
            let (at, name) = self.string()?;
            let op = name.parse::<DartsOp>().map_err(|_| {
                (at, format!("unknown op {name:?}; expected one of {}", DartsOp::known_names()))
            })?;
            self.expect(",")?;
            let j = self.int()?;
            self.eat(",");
            self.expect(")")?;
            v.push((op, j));
            if !self.eat(",") {
                self.expect("]")?;
                break;
            }
        }
        Ok(v)
    }

    /// `range(a, b)`, `list(range(a, b))` or `[a, b, ...]`.
    fn concat(&mut self) -> Step<Vec<usize>> {
        if self.peek() == Some('[') {
            self.expect("[")?;
            let mut v = Vec::new();
            while !self.eat("]") {
                if v.len() >= 64 {
                    return Err((self.pos, "more than 64 concat states".into()));
                }
                v.push(self.int()?);
                if !self.eat(",") {
                    self.expect("]")?;
                    break;
                }
            }
            return Ok(v);
        }
        let at = self.pos;
        let name = self.ident()?;
        let wrapped = name == "list";
        if wrapped {
            self.expect("(")?;
            if self.ident()? != "range" {
                return Err((at, "expected range(a, b) or a list of states".into()));
            }
        } else if name != "range" {
            return Err((at, "expected range(a, b) or a list of states".into()));
        }
        self.expect("(")?;
        let a = self.int()?;
        self.expect(",")?;
        let b = self.int()?;
        self.expect(")")?;
        if wrapped {
            self.expect(")")?;
        }
        if b <= a {
            return Err((at, format!("range({a}, {b}) is empty")));
        }
        Ok((a..b).collect())
    }
}

impl FromStr for DartsGenotype {
    type Err = SpaceError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let err = |at: usize, reason: String| {
            let part: String = input[at.min(input.len())..].chars().take(40).collect();
            SpaceError::Genotype { input: input.to_string(), part, reason }
        };
        let mut r = Reader { s: input, pos: 0 };
        let mut normal = None;
        let mut reduce = None;
        let mut normal_concat = None;
        let mut reduce_concat = None;
        let read = |r: &mut Reader| -> Step<()> {
            r.expect("Genotype")?;
            r.expect("(")
        };
        read(&mut r).map_err(|(at, m)| err(at, m))?;
        loop {
            if r.eat(")") {
                break;
            }
            let at = r.pos;
            let key = r.ident().map_err(|(at, m)| err(at, m))?;
            r.expect("=").map_err(|(at, m)| err(at, m))?;
            let dup =
                |set: bool| if set { Err(err(at, format!("{key} given twice"))) } else { Ok(()) };
            match key {
                "normal" => {
                    dup(normal.is_some())?;
                    normal = Some(r.entries().map_err(|(at, m)| err(at, m))?);
                }
                "reduce" => {
                    dup(reduce.is_some())?;
                    reduce = Some(r.entries().map_err(|(at, m)| err(at, m))?);
                }
                "normal_concat" => {
                    dup(normal_concat.is_some())?;
                    normal_concat = Some(r.concat().map_err(|(at, m)| err(at, m))?);
                }
                "reduce_concat" => {
                    dup(reduce_concat.is_some())?;
                    reduce_concat = Some(r.concat().map_err(|(at, m)| err(at, m))?);
                }
                _ => {
                    return Err(err(
                        at,
                        format!(
                            "unknown field {key:?}; expected normal, normal_concat, reduce, reduce_concat"
                        ),
                    ))
                }
            }
            if !r.eat(",") {
                r.expect(")").map_err(|(at, m)| err(at, m))?;
                break;
            }
        }
        r.skip_ws();
        if r.pos != input.len() {
            return Err(err(r.pos, "unexpected text after the closing parenthesis".into()));
        }
        let missing = |name: &str| err(input.len(), format!("missing field {name}"));
        let normal = DartsCell {
            edges: normal.ok_or_else(|| missing("normal"))?,
            concat: normal_concat.ok_or_else(|| missing("normal_concat"))?,
        };
        let reduce = DartsCell {
            edges: reduce.ok_or_else(|| missing("reduce"))?,
            concat: reduce_concat.ok_or_else(|| missing("reduce_concat"))?,
        };
        for (name, cell) in [("normal", &normal), ("reduce", &reduce)] {
            if let Some(reason) = cell.check() {
                let at = input.find(&format!("{name}=")).unwrap_or(0);
                return Err(err(at, format!("{name} cell: {reason}")));
            }
        }
        Ok(DartsGenotype { normal, reduce })
    }
}
