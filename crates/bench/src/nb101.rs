//! NAS-Bench-101 ground truth from the official `nasbench_only108.tfrecord` /
//! `nasbench_full.tfrecord`: each TFRecord holds one training run as JSON
//! `[module_hash, epochs, adjacency digits, comma-separated ops, base64 ModelMetrics]`, the
//! metrics a protobuf whose evaluations are the start, the halfway point and the end of training
//! (google-research/nasbench `api.py`, `lib/model_metrics.proto`). [`Nb101Table`] keeps, per
//! graph hash, the cell and every run's halfway and final evaluation, and is stored as CSV.

use std::collections::BTreeMap;
use std::path::Path;

use base64::Engine;
use serde::{Deserialize, Serialize};
use sotl_space::nb101::{Nb101Op, Nb101Spec};

use crate::tfrecord::TfRecordReader;
use crate::{BenchError, Result};

/// One evaluation of a training run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Nb101Eval {
    /// Seconds of training so far.
    pub training_time: f64,
    /// Training accuracy (fraction).
    pub train_accuracy: f64,
    /// Validation accuracy (fraction).
    pub validation_accuracy: f64,
    /// Test accuracy (fraction).
    pub test_accuracy: f64,
}

/// One record of the file: one training run of one cell at one epoch budget.
#[derive(Debug, Clone, PartialEq)]
pub struct Nb101Record {
    /// The benchmark's graph hash.
    pub hash: String,
    /// The epoch budget (4, 12, 36 or 108).
    pub epochs: u32,
    /// The cell as stored (pruned, in the benchmark's labelling).
    pub spec: Nb101Spec,
    /// Trainable parameters of the network.
    pub trainable_parameters: u64,
    /// The evaluation halfway through training.
    pub halfway: Nb101Eval,
    /// The evaluation at the end of training.
    pub final_eval: Nb101Eval,
}

/// Reads protobuf varints, fixed64 and length-delimited fields: all `ModelMetrics` needs.
struct Wire<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Wire<'a> {
    fn varint(&mut self) -> std::result::Result<u64, String> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = *self.buf.get(self.pos).ok_or("truncated varint")?;
            self.pos += 1;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err("varint longer than 10 bytes".into())
    }

    fn bytes(&mut self, n: usize) -> std::result::Result<&'a [u8], String> {
        let end =
            self.pos.checked_add(n).filter(|&e| e <= self.buf.len()).ok_or("truncated field")?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    /// The next `(field number, value)`, `None` at the end.
    fn field(&mut self) -> std::result::Result<Option<(u64, Value<'a>)>, String> {
        if self.pos == self.buf.len() {
            return Ok(None);
        }
        let key = self.varint()?;
        let value = match key & 7 {
            0 => Value::Varint(self.varint()?),
            1 => Value::Fixed64(u64::from_le_bytes(self.bytes(8)?.try_into().expect("8 bytes"))),
            2 => {
                let n = usize::try_from(self.varint()?).map_err(|_| "huge length")?;
                Value::Bytes(self.bytes(n)?)
            }
            5 => {
                self.bytes(4)?;
                Value::Skipped
            }
            t => return Err(format!("wire type {t} is not in ModelMetrics")),
        };
        Ok(Some((key >> 3, value)))
    }
}

enum Value<'a> {
    Varint(u64),
    Fixed64(u64),
    Bytes(&'a [u8]),
    Skipped,
}

/// `(trainable_parameters, evaluations)` of a serialized `ModelMetrics`.
fn model_metrics(buf: &[u8]) -> std::result::Result<(u64, Vec<Nb101Eval>), String> {
    let mut w = Wire { buf, pos: 0 };
    let (mut params, mut evals) = (0, Vec::new());
    while let Some((field, v)) = w.field()? {
        match (field, v) {
            (1, Value::Bytes(b)) => {
                let mut e = Nb101Eval::default();
                let mut inner = Wire { buf: b, pos: 0 };
                while let Some((f, v)) = inner.field()? {
                    if let Value::Fixed64(bits) = v {
                        let x = f64::from_bits(bits);
                        match f {
                            2 => e.training_time = x,
                            3 => e.train_accuracy = x,
                            4 => e.validation_accuracy = x,
                            5 => e.test_accuracy = x,
                            _ => {}
                        }
                    }
                }
                evals.push(e);
            }
            (2, Value::Varint(p)) => params = p,
            _ => {}
        }
    }
    Ok((params, evals))
}

/// The cell of a row: adjacency digits row by row, ops from `input` to `output`.
fn parse_cell(adjacency: &str, ops: &str) -> std::result::Result<Nb101Spec, String> {
    let n = (adjacency.len() as f64).sqrt() as usize;
    if n * n != adjacency.len() || n < 2 {
        return Err(format!("adjacency of {} digits is not a square matrix", adjacency.len()));
    }
    let digits: Vec<u8> = adjacency
        .bytes()
        .map(|b| match b {
            b'0' => Ok(0),
            b'1' => Ok(1),
            _ => Err(format!("adjacency digit {:?}", b as char)),
        })
        .collect::<std::result::Result<_, _>>()?;
    let matrix: Vec<Vec<u8>> = digits.chunks(n).map(<[u8]>::to_vec).collect();
    let names: Vec<&str> = ops.split(',').collect();
    if names.len() != n || names[0] != "input" || names[n - 1] != "output" {
        return Err(format!("ops {ops:?} do not run from input to output over {n} vertices"));
    }
    let interior = names[1..n - 1]
        .iter()
        .map(|s| s.parse::<Nb101Op>().map_err(|e| e.to_string()))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Nb101Spec::new(&matrix, &interior).map_err(|e| e.to_string())
}

/// Decodes one record's bytes.
pub fn parse_record(data: &[u8]) -> std::result::Result<Nb101Record, String> {
    let (hash, epochs, adjacency, ops, metrics): (String, u32, String, String, String) =
        serde_json::from_slice(data).map_err(|e| format!("not a NAS-Bench-101 row: {e}"))?;
    let spec = parse_cell(&adjacency, &ops)?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(metrics.as_bytes())
        .map_err(|e| format!("metrics are not base64: {e}"))?;
    let (trainable_parameters, evals) =
        model_metrics(&raw).map_err(|e| format!("metrics protobuf: {e}"))?;
    if evals.len() < 3 {
        return Err(format!("{} evaluations; a run has three (start, halfway, end)", evals.len()));
    }
    Ok(Nb101Record {
        hash,
        epochs,
        spec,
        trainable_parameters,
        halfway: evals[1],
        final_eval: evals[2],
    })
}

/// A cell of the table and its runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Nb101Entry {
    /// The cell as stored.
    pub spec: Nb101Spec,
    /// Trainable parameters.
    pub trainable_parameters: u64,
    /// Per epoch budget, each run's `(halfway, final)` evaluations in file order.
    pub runs: BTreeMap<u32, Vec<(Nb101Eval, Nb101Eval)>>,
}

/// NAS-Bench-101 keyed by graph hash.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Nb101Table {
    /// Cells by hash.
    pub entries: BTreeMap<String, Nb101Entry>,
}

impl Nb101Table {
    /// Streams a TFRecord file into a table, checking each record's hash against its cell
    /// (`verify`), so a wrong file or a misread record cannot pass silently.
    pub fn from_tfrecord(path: &Path, verify: bool) -> Result<Nb101Table> {
        let mut table = Nb101Table::default();
        for (i, rec) in TfRecordReader::open(path)?.enumerate() {
            let bad = |reason: String| BenchError::Record {
                path: path.to_path_buf(),
                record: i as u64,
                offset: 0,
                reason,
            };
            let r = parse_record(&rec?).map_err(bad)?;
            if verify && r.spec.hash().as_deref() != Some(r.hash.as_str()) {
                return Err(bad(format!(
                    "its cell hashes to {}, not its key {}",
                    r.spec.hash().unwrap_or_else(|| "nothing (no path)".into()),
                    r.hash
                )));
            }
            let e = table.entries.entry(r.hash).or_insert_with(|| Nb101Entry {
                spec: r.spec,
                trainable_parameters: r.trainable_parameters,
                runs: BTreeMap::new(),
            });
            e.runs.entry(r.epochs).or_default().push((r.halfway, r.final_eval));
        }
        Ok(table)
    }

    /// Mean final test accuracy (fraction) over the runs at `epochs` of the cell `spec`.
    pub fn mean_test_accuracy(&self, spec: &Nb101Spec, epochs: u32) -> Option<f64> {
        let runs = self.entries.get(&spec.hash()?)?.runs.get(&epochs)?;
        if runs.is_empty() {
            return None;
        }
        Some(runs.iter().map(|(_, f)| f.test_accuracy).sum::<f64>() / runs.len() as f64)
    }

    /// The final evaluation of run `repeat` at `epochs` of the cell `spec` (looked up by its
    /// hash, so any isomorphic form finds it).
    pub fn query(&self, spec: &Nb101Spec, epochs: u32, repeat: usize) -> Option<&Nb101Eval> {
        let e = self.entries.get(&spec.hash()?)?;
        e.runs.get(&epochs)?.get(repeat).map(|(_, f)| f)
    }
}

/// The columns of the table's CSV form, one row per run.
const CSV_COLUMNS: [&str; 14] = [
    "hash",
    "epochs",
    "repeat",
    "trainable_parameters",
    "adjacency",
    "ops",
    "halfway_training_time",
    "halfway_train_accuracy",
    "halfway_validation_accuracy",
    "halfway_test_accuracy",
    "final_training_time",
    "final_train_accuracy",
    "final_validation_accuracy",
    "final_test_accuracy",
];

/// What [`convert_tfrecord`] did.
#[derive(Debug, Clone, Serialize)]
pub struct Nb101Conversion {
    /// Cells (distinct hashes).
    pub cells: usize,
    /// Runs (records).
    pub runs: usize,
    /// Epoch budgets present.
    pub epochs: Vec<u32>,
}

/// Reads the official TFRecord file `src` (checking every key against its cell's hash when
/// `verify`) and writes the table's CSV to `out`: the one conversion a user runs once.
pub fn convert_tfrecord(src: &Path, out: &Path, verify: bool) -> Result<Nb101Conversion> {
    let table = Nb101Table::from_tfrecord(src, verify)?;
    table.write_csv(out)?;
    let mut epochs: Vec<u32> =
        table.entries.values().flat_map(|e| e.runs.keys().copied()).collect();
    epochs.sort_unstable();
    epochs.dedup();
    Ok(Nb101Conversion { cells: table.entries.len(), runs: table.runs(), epochs })
}

impl Nb101Table {
    /// Runs in the table.
    pub fn runs(&self) -> usize {
        self.entries.values().flat_map(|e| e.runs.values()).map(Vec::len).sum()
    }

    /// Writes the CSV form (one row per run; floats in their shortest exact form), through a
    /// temporary file renamed into place, so a half-written table never exists under `path`.
    pub fn write_csv(&self, path: &Path) -> Result<()> {
        let io = |err| BenchError::File { path: path.to_path_buf(), err };
        let tmp = path.with_extension("csv.partial");
        let mut w = csv::Writer::from_path(&tmp).map_err(|e| io(std::io::Error::other(e)))?;
        w.write_record(CSV_COLUMNS).map_err(|e| io(std::io::Error::other(e)))?;
        for (hash, e) in &self.entries {
            let adjacency: String =
                e.spec.matrix.iter().flatten().map(|&b| if b { '1' } else { '0' }).collect();
            let ops: Vec<&str> = e.spec.ops.iter().map(|o| o.name()).collect();
            for (epochs, runs) in &e.runs {
                for (k, (h, f)) in runs.iter().enumerate() {
                    let row = [
                        hash.clone(),
                        epochs.to_string(),
                        k.to_string(),
                        e.trainable_parameters.to_string(),
                        adjacency.clone(),
                        ops.join(","),
                        h.training_time.to_string(),
                        h.train_accuracy.to_string(),
                        h.validation_accuracy.to_string(),
                        h.test_accuracy.to_string(),
                        f.training_time.to_string(),
                        f.train_accuracy.to_string(),
                        f.validation_accuracy.to_string(),
                        f.test_accuracy.to_string(),
                    ];
                    w.write_record(&row).map_err(|e| io(std::io::Error::other(e)))?;
                }
            }
        }
        w.flush().map_err(io)?;
        drop(w);
        std::fs::rename(&tmp, path).map_err(io)
    }

    /// Reads the CSV form [`Nb101Table::write_csv`] writes; an error names the line.
    pub fn read_csv(path: &Path) -> Result<Nb101Table> {
        let file = path
            .file_name()
            .map_or_else(|| path.display().to_string(), |f| f.to_string_lossy().into_owned());
        let f = std::fs::File::open(path)
            .map_err(|err| BenchError::File { path: path.to_path_buf(), err })?;
        let mut r = csv::Reader::from_reader(std::io::BufReader::new(f));
        let header: Vec<String> = r
            .headers()
            .map_err(|e| BenchError::Nb101Table {
                file: file.clone(),
                line: 1,
                reason: e.to_string(),
            })?
            .iter()
            .map(str::to_string)
            .collect();
        if let Some(missing) = CSV_COLUMNS.iter().find(|c| !header.iter().any(|h| h == *c)) {
            return Err(BenchError::Nb101Table {
                file,
                line: 1,
                reason: format!(
                    "header {header:?} lacks column \"{missing}\" (expected {CSV_COLUMNS:?})"
                ),
            });
        }
        let col = |name: &str| header.iter().position(|h| h == name).expect("checked above");
        let idx: Vec<usize> = CSV_COLUMNS.iter().map(|c| col(c)).collect();
        let mut table = Nb101Table::default();
        for (i, rec) in r.records().enumerate() {
            let line = i as u64 + 2;
            let bad = |reason: String| BenchError::Nb101Table { file: file.clone(), line, reason };
            let rec = rec.map_err(|e| bad(e.to_string()))?;
            let get = |k: usize| rec.get(idx[k]).unwrap_or("");
            let num = |k: usize| -> Result<f64> {
                get(k).parse::<f64>().map_err(|e| bad(format!("{}: {e}", CSV_COLUMNS[k])))
            };
            // The cell goes through the record parser's checks (square 0/1 matrix, known ops).
            let ops = match get(5) {
                "" => "input,output".to_string(),
                interior => format!("input,{interior},output"),
            };
            let spec = parse_cell(get(4), &ops).map_err(bad)?;
            let epochs: u32 = get(1).parse().map_err(|e| bad(format!("epochs: {e}")))?;
            let params: u64 =
                get(3).parse().map_err(|e| bad(format!("trainable_parameters: {e}")))?;
            let eval = |k: usize| -> Result<Nb101Eval> {
                Ok(Nb101Eval {
                    training_time: num(k)?,
                    train_accuracy: num(k + 1)?,
                    validation_accuracy: num(k + 2)?,
                    test_accuracy: num(k + 3)?,
                })
            };
            let run = (eval(6)?, eval(10)?);
            let e = table.entries.entry(get(0).to_string()).or_insert_with(|| Nb101Entry {
                spec,
                trainable_parameters: params,
                runs: BTreeMap::new(),
            });
            e.runs.entry(epochs).or_default().push(run);
        }
        Ok(table)
    }
}

/// What [`query_csv`] finds for a cell.
#[derive(Debug, Clone, Serialize)]
pub struct Nb101Answer {
    /// The cell's graph hash.
    pub hash: String,
    /// Trainable parameters.
    pub trainable_parameters: u64,
    /// The epoch budget asked for.
    pub epochs: u32,
    /// Every run's final evaluation at that budget, in file order.
    pub runs: Vec<Nb101Eval>,
    /// Mean final test accuracy over the runs.
    pub mean_test_accuracy: f64,
}

/// Looks up the cell given by its adjacency digits (row by row) and interior ops
/// (comma-separated, e.g. `conv3x3-bn-relu,maxpool3x3`) at `epochs` in the CSV table `table`;
/// any isomorphic form of a cell finds it.
pub fn query_csv(table: &Path, adjacency: &str, ops: &str, epochs: u32) -> Result<Nb101Answer> {
    let full = match ops.trim() {
        "" => "input,output".to_string(),
        o => format!("input,{o},output"),
    };
    let spec =
        parse_cell(adjacency, &full).map_err(|e| BenchError::Config(format!("the cell: {e}")))?;
    let hash = spec.hash().ok_or_else(|| {
        BenchError::Config("the cell's output cannot be reached from its input".into())
    })?;
    let t = Nb101Table::read_csv(table)?;
    let e = t.entries.get(&hash).ok_or_else(|| BenchError::UnknownArch {
        arch: format!("{adjacency} [{ops}] (hash {hash})"),
        table: table.display().to_string(),
    })?;
    let runs: Vec<Nb101Eval> = e
        .runs
        .get(&epochs)
        .ok_or_else(|| {
            BenchError::Config(format!(
                "no runs at {epochs} epochs; the table has {:?}",
                e.runs.keys().collect::<Vec<_>>()
            ))
        })?
        .iter()
        .map(|(_, f)| *f)
        .collect();
    let mean = runs.iter().map(|r| r.test_accuracy).sum::<f64>() / runs.len().max(1) as f64;
    Ok(Nb101Answer {
        hash,
        trainable_parameters: e.trainable_parameters,
        epochs,
        runs,
        mean_test_accuracy: mean,
    })
}
