//! One NAS-Bench-201 CSV table, stored densely by architecture ordinal.

use std::io::Read;
use std::path::Path;

use sotl_space::nb201::NB201_SIZE;
use sotl_space::Nb201Arch;

use crate::{BenchError, Nb201Dataset, Nb201Metric, Nb201Table, Result};

/// Marks an absent entry in the index maps.
const NONE: u32 = u32::MAX;

/// One NAS-Bench-201 table held in memory.
///
/// Accuracies live in one flat array indexed by `Nb201Arch::ordinal() * columns + column`
/// (15 625 rows, about 0.4-0.8 MB), so a lookup is a multiplication, not a string or dictionary
/// match: two spellings of the same cell cannot miss each other. Index <-> ordinal maps translate
/// NAS-Bench-201's own indices.
#[derive(Debug, Clone)]
pub struct Nb201TableData {
    table: Nb201Table,
    source: String,
    columns: Vec<(Nb201Dataset, Nb201Metric)>,
    values: Vec<f64>,
    ordinal_to_index: Vec<u32>,
    index_to_ordinal: Vec<u32>,
    rows: usize,
}

impl Nb201TableData {
    /// Reads `path` as `table`'s CSV schema (see `shared/README.md`).
    pub fn open(path: &Path, table: Nb201Table) -> Result<Self> {
        let file = std::fs::File::open(path)
            .map_err(|err| BenchError::Io { path: path.to_path_buf(), err })?;
        Self::parse(std::io::BufReader::new(file), table, &path.display().to_string())
    }

    /// Parses CSV text with `table`'s schema; `source` names it in errors. Accepts partial tables
    /// (any subset of the space); columns are matched by header name, extra columns are ignored.
    pub fn parse<R: Read>(reader: R, table: Nb201Table, source: &str) -> Result<Self> {
        let row_err =
            |line: u64, reason: String| BenchError::Row { file: source.to_string(), line, reason };
        let mut rdr = csv::ReaderBuilder::new().has_headers(true).from_reader(reader);
        let header: Vec<String> = rdr
            .headers()
            .map_err(|e| row_err(1, format!("unreadable header: {e}")))?
            .iter()
            .map(|h| h.trim().to_string())
            .collect();
        let columns = table.columns();
        let mut required = vec!["index".to_string(), "arch".to_string()];
        required.extend(columns.iter().map(|(d, m)| format!("{}_{}", d.column_prefix(), m.name())));
        let mut pos = Vec::with_capacity(required.len());
        for name in &required {
            match header.iter().position(|h| h == name) {
                Some(p) => pos.push(p),
                None => {
                    return Err(BenchError::Header {
                        file: source.to_string(),
                        found: header.clone(),
                        missing: name.clone(),
                        expected: required.clone(),
                    })
                }
            }
        }
        let ncol = columns.len();
        let mut out = Self {
            table,
            source: source.to_string(),
            columns,
            values: vec![f64::NAN; NB201_SIZE * ncol],
            ordinal_to_index: vec![NONE; NB201_SIZE],
            index_to_ordinal: Vec::new(),
            rows: 0,
        };
        let mut line_of_ordinal = vec![0u64; NB201_SIZE];
        for rec in rdr.records() {
            let rec = rec.map_err(|e| {
                let line = e.position().map_or(0, |p| p.line());
                let reason = match e.kind() {
                    csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
                        format!("{len} field(s), the header has {expected_len}")
                    }
                    _ => e.to_string(),
                };
                row_err(line, reason)
            })?;
            let line = rec.position().map_or(0, |p| p.line());
            let field = |i: usize| rec.get(pos[i]).unwrap_or("").trim();
            let index: usize = field(0).parse().map_err(|_| {
                row_err(line, format!("index {:?} is not a non-negative integer", field(0)))
            })?;
            if index >= NB201_SIZE {
                return Err(row_err(line, format!("index {index} is outside 0..{NB201_SIZE}")));
            }
            let arch: Nb201Arch = field(1).parse().map_err(|e| row_err(line, format!("{e}")))?;
            let ord = arch.ordinal();
            if out.ordinal_to_index[ord] != NONE {
                return Err(row_err(
                    line,
                    format!(
                        "architecture {arch} already appeared on line {}",
                        line_of_ordinal[ord]
                    ),
                ));
            }
            if out.index_to_ordinal.len() <= index {
                out.index_to_ordinal.resize(index + 1, NONE);
            }
            if out.index_to_ordinal[index] != NONE {
                return Err(row_err(line, format!("index {index} appears twice")));
            }
            for (c, (d, m)) in out.columns.iter().enumerate() {
                let text = field(2 + c);
                let v: f64 = text.parse().map_err(|_| {
                    row_err(
                        line,
                        format!(
                            "{}_{} value {text:?} is not a number",
                            d.column_prefix(),
                            m.name()
                        ),
                    )
                })?;
                if !(0.0..=100.0).contains(&v) {
                    return Err(row_err(
                        line,
                        format!(
                            "{}_{} value {v} is not an accuracy in [0, 100]",
                            d.column_prefix(),
                            m.name()
                        ),
                    ));
                }
                out.values[ord * ncol + c] = v;
            }
            out.ordinal_to_index[ord] = index as u32;
            out.index_to_ordinal[index] = ord as u32;
            line_of_ordinal[ord] = line;
            out.rows += 1;
        }
        if out.rows == 0 {
            return Err(row_err(2, "the table has a header but no rows".into()));
        }
        Ok(out)
    }

    /// Which table this is.
    pub fn table(&self) -> Nb201Table {
        self.table
    }

    /// Where it was read from (a path or a name given to [`Nb201TableData::parse`]).
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Number of architectures in the table.
    pub fn len(&self) -> usize {
        self.rows
    }

    /// Whether the table is empty (never true for a parsed table).
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Whether every one of the 15 625 cells has a row.
    pub fn is_complete(&self) -> bool {
        self.rows == NB201_SIZE
    }

    /// Errors unless every cell of the space has a row (a truncated file has fewer).
    pub fn require_complete(&self) -> Result<()> {
        if self.is_complete() {
            Ok(())
        } else {
            Err(BenchError::Incomplete {
                file: self.source.clone(),
                rows: self.rows,
                expected: NB201_SIZE,
            })
        }
    }

    /// The NAS-Bench-201 index of `arch`, if present.
    pub fn index_of(&self, arch: &Nb201Arch) -> Option<usize> {
        match self.ordinal_to_index[arch.ordinal()] {
            NONE => None,
            i => Some(i as usize),
        }
    }

    /// The architecture with NAS-Bench-201 index `index`, if present.
    pub fn arch_at(&self, index: usize) -> Option<Nb201Arch> {
        match self.index_to_ordinal.get(index) {
            None | Some(&NONE) => None,
            Some(&o) => Some(Nb201Arch::from_ordinal(o as usize)),
        }
    }

    /// Whether the table has a `(dataset, metric)` column.
    pub fn has_column(&self, dataset: Nb201Dataset, metric: Nb201Metric) -> bool {
        self.columns.contains(&(dataset, metric))
    }

    /// The accuracy (%) of `arch` in column `(dataset, metric)`; `None` if either is absent.
    pub fn get(&self, arch: &Nb201Arch, dataset: Nb201Dataset, metric: Nb201Metric) -> Option<f64> {
        let c = self.columns.iter().position(|&x| x == (dataset, metric))?;
        let ord = arch.ordinal();
        (self.ordinal_to_index[ord] != NONE).then(|| self.values[ord * self.columns.len() + c])
    }

    /// Every architecture in the table with its index, in index order.
    pub fn entries(&self) -> impl Iterator<Item = (usize, Nb201Arch)> + '_ {
        self.index_to_ordinal
            .iter()
            .enumerate()
            .filter(|(_, &o)| o != NONE)
            .map(|(i, &o)| (i, Nb201Arch::from_ordinal(o as usize)))
    }
}
