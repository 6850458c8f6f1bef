//! The official NAS-Bench-201 / NATS-Bench topology archives, read without Python: per-epoch
//! training curves of every cell for both schedules (12 and 200 epochs) and all four datasets,
//! converted once into a compact curves file per schedule plus the two CSV tables
//! [`crate::Nb201Bench`] reads.
//!
//! Accepted inputs (what a user downloads):
//! - `NAS-Bench-201-v1_0-e61699.pth` / `NAS-Bench-201-v1_1-096897.pth`: `torch.save` of a dict
//!   (PyTorch's legacy format, several pickles back to back, or its zip format) with
//!   `meta_archs`, `arch2infos` (per index `less` = 12 epochs, `full` = 200 epochs);
//! - the NATS-Bench `NATS-tss-v1_0-3ffb9-simple` (or `-full`) folder: `meta.pickle.pbz2` and one
//!   bzip2-compressed pickle per cell, `{index:06d}.pickle.pbz2`, holding `{'12': ..., '200': ...}`;
//! - the single-file `NATS-tss-v1_0-3ffb9.pickle.pbz2`.
//!
//! A `.pth` or single-file archive is read whole into memory as a pickle tree before conversion
//! (for NAS-Bench-201 v1_1, 4.7 GB on disk, expect several times that in RAM); the NATS-Bench
//! folder is read one cell at a time and needs little. Prefer the folder where memory is short.
//!
//! Each schedule's results are `all_results[(dataset, seed)]` with per-epoch `train_losses`,
//! `train_acc1es` (keyed by epoch) and `eval_acc1es` (keyed `'<set>@<epoch>'`). The sets follow
//! the API's `get_more_info`: validation is `x-valid` (none for `cifar10`, which trains on
//! train+valid), test is `ori-test` for `cifar10-valid` and `cifar10`, `x-test` for `cifar100`
//! and `ImageNet16-120`. Values are means over the seeds `dataset_seed` lists (the API's
//! `is_random=False`); an epoch without a value is NaN.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sotl_pickle::Value;
use sotl_space::Nb201Arch;

use crate::{BenchError, Result};

/// The datasets of the archives, in the curves file's order.
pub const ARCHIVE_DATASETS: [&str; 4] = ["cifar10-valid", "cifar10", "cifar100", "ImageNet16-120"];

/// The per-epoch series of the curves file, in its order.
pub const CURVE_SERIES: [&str; 4] =
    ["train_loss", "train_accuracy", "valid_accuracy", "test_accuracy"];

/// Which series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CurveSeries {
    /// Mean training loss of the epoch.
    TrainLoss = 0,
    /// Training accuracy (%) of the epoch.
    TrainAccuracy = 1,
    /// Validation accuracy (%) after the epoch.
    ValidAccuracy = 2,
    /// Test accuracy (%) after the epoch.
    TestAccuracy = 3,
}

impl std::str::FromStr for CurveSeries {
    type Err = BenchError;

    /// A name of [`CURVE_SERIES`] (`train_loss`, `train_accuracy`, `valid_accuracy`,
    /// `test_accuracy`).
    fn from_str(s: &str) -> Result<Self> {
        const ALL: [CurveSeries; 4] = [
            CurveSeries::TrainLoss,
            CurveSeries::TrainAccuracy,
            CurveSeries::ValidAccuracy,
            CurveSeries::TestAccuracy,
        ];
        match CURVE_SERIES.iter().position(|n| *n == s) {
            Some(i) => Ok(ALL[i]),
            None => Err(BenchError::Config(format!(
                "unknown curve series {s:?}; expected one of {}",
                CURVE_SERIES.join(", ")
            ))),
        }
    }
}

/// The first line of a curves file names its format.
const MAGIC: &str = "sotl-nas nb201 curves";

/// The header of a curves file (its first line, JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct CurvesHeader {
    format: String,
    version: u32,
    /// The schedule: 12 or 200 epochs.
    hp: u32,
    epochs: usize,
    datasets: Vec<String>,
    series: Vec<String>,
    /// Arch strings by NAS-Bench-201 index.
    archs: Vec<String>,
}

/// Per-epoch curves of every cell under one schedule: `[index][dataset][series][epoch]`, f32.
#[derive(Debug, Clone, PartialEq)]
pub struct Nb201Curves {
    /// The schedule's epochs (12 or 200).
    pub epochs: usize,
    /// Cells by NAS-Bench-201 index.
    pub archs: Vec<Nb201Arch>,
    values: Vec<f32>,
}

impl Nb201Curves {
    /// Curves of `archs` over `epochs`, every value NaN.
    pub fn new(epochs: usize, archs: Vec<Nb201Arch>) -> Self {
        let n = archs.len() * ARCHIVE_DATASETS.len() * CURVE_SERIES.len() * epochs;
        Nb201Curves { epochs, archs, values: vec![f32::NAN; n] }
    }

    fn offset(&self, index: usize, dataset: usize, series: CurveSeries) -> usize {
        ((index * ARCHIVE_DATASETS.len() + dataset) * CURVE_SERIES.len() + series as usize)
            * self.epochs
    }

    /// The series of cell `index` on `dataset` (an index into [`ARCHIVE_DATASETS`]).
    pub fn series(&self, index: usize, dataset: usize, series: CurveSeries) -> &[f32] {
        let o = self.offset(index, dataset, series);
        &self.values[o..o + self.epochs]
    }

    /// Mutable [`Nb201Curves::series`].
    pub fn series_mut(&mut self, index: usize, dataset: usize, series: CurveSeries) -> &mut [f32] {
        let o = self.offset(index, dataset, series);
        &mut self.values[o..o + self.epochs]
    }

    /// The dataset index of a name in [`ARCHIVE_DATASETS`] (`cifar10`, `cifar10-valid`, ...).
    pub fn dataset_index(name: &str) -> Result<usize> {
        // Case-insensitive: the tables' column names spell ImageNet16-120 in lower case.
        ARCHIVE_DATASETS.iter().position(|d| d.eq_ignore_ascii_case(name)).ok_or_else(|| {
            BenchError::Config(format!(
                "unknown archive dataset {name:?}; expected one of {}",
                ARCHIVE_DATASETS.join(", ")
            ))
        })
    }

    /// Writes the file: a JSON header line, then the values as little-endian f32, through a
    /// temporary file renamed into place.
    pub fn write(&self, path: &Path, hp: u32) -> Result<()> {
        let io = |err| BenchError::File { path: path.to_path_buf(), err };
        let header = CurvesHeader {
            format: MAGIC.into(),
            version: 1,
            hp,
            epochs: self.epochs,
            datasets: ARCHIVE_DATASETS.map(String::from).to_vec(),
            series: CURVE_SERIES.map(String::from).to_vec(),
            archs: self.archs.iter().map(Nb201Arch::to_string).collect(),
        };
        let tmp = path.with_extension("bin.partial");
        let mut w = std::io::BufWriter::new(std::fs::File::create(&tmp).map_err(io)?);
        let line = serde_json::to_string(&header).map_err(|e| io(std::io::Error::other(e)))?;
        w.write_all(line.as_bytes()).map_err(io)?;
        w.write_all(b"\n").map_err(io)?;
        for v in &self.values {
            w.write_all(&v.to_le_bytes()).map_err(io)?;
        }
        w.into_inner().map_err(|e| io(e.into_error()))?.sync_all().map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)
    }

    /// Reads a file [`Nb201Curves::write`] wrote, returning the curves and the schedule; a
    /// truncated or foreign file is an error naming it.
    pub fn read(path: &Path) -> Result<(Nb201Curves, u32)> {
        let bad = |reason: String| BenchError::Archive { path: path.to_path_buf(), reason };
        let bytes = std::fs::read(path)
            .map_err(|err| BenchError::File { path: path.to_path_buf(), err })?;
        let nl = bytes
            .iter()
            .position(|&b| b == b'\n')
            .ok_or_else(|| bad("no header line; not a curves file".into()))?;
        let header: CurvesHeader = serde_json::from_slice(&bytes[..nl])
            .map_err(|e| bad(format!("unreadable header ({e}); not a curves file")))?;
        if header.format != MAGIC || header.version != 1 {
            return Err(bad(format!(
                "format {:?} v{}, expected {MAGIC:?} v1",
                header.format, header.version
            )));
        }
        if header.datasets != ARCHIVE_DATASETS || header.series != CURVE_SERIES {
            return Err(bad("datasets or series differ from this version's".into()));
        }
        let archs = header
            .archs
            .iter()
            .map(|a| a.parse::<Nb201Arch>().map_err(|e| bad(e.to_string())))
            .collect::<Result<Vec<_>>>()?;
        let data = &bytes[nl + 1..];
        let want = archs
            .len()
            .checked_mul(4 * ARCHIVE_DATASETS.len() * CURVE_SERIES.len())
            .and_then(|n| n.checked_mul(header.epochs));
        if want != Some(data.len()) {
            return Err(bad(format!(
                "{} bytes of values, the header promises {}; the file is truncated, convert the archive again",
                data.len(),
                want.map_or_else(|| "more than can be addressed".to_string(), |w| w.to_string())
            )));
        }
        let mut curves = Nb201Curves::new(header.epochs, archs);
        for (v, c) in curves.values.iter_mut().zip(data.chunks_exact(4)) {
            *v = f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        }
        Ok((curves, header.hp))
    }
}

/// The file name of a schedule's curves under the tables' folder.
pub fn curves_file_name(hp: u32) -> String {
    format!("nb201-curves-{hp}.bin")
}

/// What [`convert_archive`] read and wrote.
#[derive(Debug, Clone, Serialize)]
pub struct ArchiveConversion {
    /// The archive's kind.
    pub kind: &'static str,
    /// Cells read.
    pub cells: usize,
    /// Files written.
    pub written: Vec<String>,
    /// What could not be written, and why (e.g. an archive whose 12-epoch schedule covers
    /// only `cifar10-valid` has no full minibench table).
    pub notes: Vec<String>,
}

/// One cell's results as read from an archive: per schedule, the pickled `ArchResults` state.
struct CellResults {
    index: usize,
    per_hp: Vec<(u32, Value)>,
}

/// Reads `src` (see the module docs for the accepted forms) and writes, into `out`, each
/// schedule's curves file ([`curves_file_name`]) and the two tables of [`crate::Nb201Bench`]
/// (`nb201-200ep.csv` from the 200-epoch schedule, `nb201-minibench.csv` from the 12-epoch one)
/// where the archive covers them.
pub fn convert_archive(src: &Path, out: &Path) -> Result<ArchiveConversion> {
    let bad = |reason: String| BenchError::Archive { path: src.to_path_buf(), reason };
    std::fs::create_dir_all(out)
        .map_err(|err| BenchError::File { path: out.to_path_buf(), err })?;
    let (kind, archs, cells): (
        &'static str,
        Vec<Nb201Arch>,
        Box<dyn Iterator<Item = Result<CellResults>>>,
    ) = if src.is_dir() {
        let meta = read_bz2_pickle(&src.join("meta.pickle.pbz2"))?;
        let archs = meta_archs(&meta).map_err(|e| bad(format!("meta.pickle.pbz2: {e}")))?;
        let dir = src.to_path_buf();
        let n = archs.len();
        let it = (0..n).map(move |i| {
            let p = [format!("{i:06}.pickle.pbz2"), format!("{i}.pickle.pbz2")]
                .into_iter()
                .map(|f| dir.join(f))
                .find(|p| p.exists())
                .ok_or_else(|| BenchError::Archive {
                    path: dir.clone(),
                    reason: format!(
                        "cell {i}'s file {i:06}.pickle.pbz2 is missing: the folder is incomplete, extract the archive again"
                    ),
                })?;
            read_bz2_pickle(&p).and_then(|v| {
                cell_results(i, &v).map_err(|e| BenchError::Archive { path: p.clone(), reason: e })
            })
        });
        ("NATS-Bench topology folder", archs, Box::new(it))
    } else {
        let top = if src.extension().is_some_and(|e| e == "pbz2") {
            read_bz2_pickle(src)?
        } else {
            read_torch_save(src)?
        };
        let archs = meta_archs(&top).map_err(&bad)?;
        let infos = top
            .get("arch2infos")
            .and_then(|v| v.entries())
            .ok_or_else(|| bad("no dict 'arch2infos'".into()))?;
        let src2 = src.to_path_buf();
        let it = infos.into_iter().map(move |(k, v)| {
            let i = k.as_i64().and_then(|i| usize::try_from(i).ok()).ok_or_else(|| {
                BenchError::Archive {
                    path: src2.clone(),
                    reason: "an arch2infos key is not an index".into(),
                }
            })?;
            cell_results(i, &v).map_err(|e| BenchError::Archive { path: src2.clone(), reason: e })
        });
        let kind = if src.extension().is_some_and(|e| e == "pbz2") {
            "NATS-Bench topology file"
        } else {
            "NAS-Bench-201 file"
        };
        (kind, archs, Box::new(it))
    };
    // Per schedule, its curves and, by cell, dataset and series, the last epoch's mean in f64
    // (the tables are written from these, at the archive's precision).
    let mut curves: Vec<(u32, Nb201Curves, Vec<f64>)> = Vec::new();
    let per_cell = ARCHIVE_DATASETS.len() * CURVE_SERIES.len();
    let mut count = 0;
    for cell in cells {
        let cell = cell?;
        if cell.index >= archs.len() {
            return Err(bad(format!(
                "cell index {} beyond the {} arch strings",
                cell.index,
                archs.len()
            )));
        }
        count += 1;
        for (hp, state) in &cell.per_hp {
            let pos = match curves.iter().position(|(h, ..)| h == hp) {
                Some(p) => p,
                None => {
                    curves.push((
                        *hp,
                        Nb201Curves::new(*hp as usize, archs.clone()),
                        vec![f64::NAN; archs.len() * per_cell],
                    ));
                    curves.len() - 1
                }
            };
            let (_, c, finals) = &mut curves[pos];
            let last = &mut finals[cell.index * per_cell..][..per_cell];
            fill_cell(c, last, cell.index, *hp, state).map_err(|e| {
                bad(format!("cell {} ({}), {hp} epochs: {e}", cell.index, archs[cell.index]))
            })?;
        }
    }
    if count == 0 {
        return Err(bad("no cell results found".into()));
    }
    let mut written = Vec::new();
    let mut notes = Vec::new();
    curves.sort_by_key(|(hp, ..)| *hp);
    for (hp, c, finals) in &curves {
        let p = out.join(curves_file_name(*hp));
        c.write(&p, *hp)?;
        written.push(p.display().to_string());
        let (name, columns): (&str, &[(&str, usize, CurveSeries)]) = match hp {
            200 => ("nb201-200ep.csv", &FULL_COLUMNS),
            12 => ("nb201-minibench.csv", &MINI_COLUMNS),
            _ => continue,
        };
        let path = out.join(name);
        match write_final_table(&path, c, finals, columns) {
            Ok(()) => written.push(path.display().to_string()),
            Err(why) => {
                // A table from an earlier conversion must not pass for this archive's.
                let stale = path.exists() && std::fs::remove_file(&path).is_ok();
                notes.push(format!(
                    "{name} not written: {why}{}",
                    if stale { " (the earlier one there was removed)" } else { "" }
                ));
            }
        }
    }
    Ok(ArchiveConversion { kind, cells: count, written, notes })
}

/// The 200-epoch table's columns: test accuracy after the last epoch.
const FULL_COLUMNS: [(&str, usize, CurveSeries); 3] = [
    ("cifar10_test", 1, CurveSeries::TestAccuracy),
    ("cifar100_test", 2, CurveSeries::TestAccuracy),
    ("imagenet16_120_test", 3, CurveSeries::TestAccuracy),
];

/// The minibench table's columns: the 12-epoch schedule's last epoch (CIFAR-10 validation from
/// `cifar10-valid`, as the API's `get_more_info` gives it).
const MINI_COLUMNS: [(&str, usize, CurveSeries); 6] = [
    ("cifar10_test", 1, CurveSeries::TestAccuracy),
    ("cifar10_valid", 0, CurveSeries::ValidAccuracy),
    ("cifar100_test", 2, CurveSeries::TestAccuracy),
    ("cifar100_valid", 2, CurveSeries::ValidAccuracy),
    ("imagenet16_120_test", 3, CurveSeries::TestAccuracy),
    ("imagenet16_120_valid", 3, CurveSeries::ValidAccuracy),
];

/// Writes one final-accuracy table, refusing (with the reason) when a cell lacks a value.
fn write_final_table(
    path: &Path,
    c: &Nb201Curves,
    finals: &[f64],
    columns: &[(&str, usize, CurveSeries)],
) -> std::result::Result<(), String> {
    let per_cell = ARCHIVE_DATASETS.len() * CURVE_SERIES.len();
    let mut rows = Vec::with_capacity(c.archs.len());
    for (i, a) in c.archs.iter().enumerate() {
        let mut row = vec![i.to_string(), a.to_string()];
        for &(name, d, s) in columns {
            let v = finals[i * per_cell + d * CURVE_SERIES.len() + s as usize];
            if v.is_nan() {
                return Err(format!(
                    "cell {i} has no {name} (the archive lacks {} there)",
                    ARCHIVE_DATASETS[d]
                ));
            }
            row.push(v.to_string());
        }
        rows.push(row);
    }
    let io = |e: std::io::Error| e.to_string();
    let tmp = path.with_extension("csv.partial");
    let mut w = csv::Writer::from_path(&tmp).map_err(|e| e.to_string())?;
    let mut header = vec!["index", "arch"];
    header.extend(columns.iter().map(|c| c.0));
    w.write_record(&header).map_err(|e| e.to_string())?;
    for r in rows {
        w.write_record(&r).map_err(|e| e.to_string())?;
    }
    w.flush().map_err(io)?;
    drop(w);
    std::fs::rename(&tmp, path).map_err(io)
}

/// The arch strings of `meta_archs`.
fn meta_archs(top: &Value) -> std::result::Result<Vec<Nb201Arch>, String> {
    top.get("meta_archs")
        .and_then(|v| v.items())
        .ok_or("no list 'meta_archs'")?
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let s = v.as_str_like().ok_or(format!("meta_archs[{i}] is not a string"))?;
            s.parse::<Nb201Arch>().map_err(|e| format!("meta_archs[{i}]: {e}"))
        })
        .collect()
}

/// One cell's entry: NAS-Bench-201's `{'less', 'full'}` or NATS-Bench's `{'12', '200'}`.
fn cell_results(index: usize, v: &Value) -> std::result::Result<CellResults, String> {
    let entries = v.entries().ok_or("a cell's results are not a dict")?;
    let mut per_hp = Vec::new();
    for (k, state) in entries {
        let hp = match k.as_str_like() {
            Some("less") | Some("12") => 12,
            Some("full") | Some("200") => 200,
            Some(other) => {
                return Err(format!(
                    "unknown schedule key {other:?}; the archives hold 'less'/'full' or '12'/'200'"
                ))
            }
            None => return Err("a schedule key is not a string".into()),
        };
        per_hp.push((hp, state));
    }
    Ok(CellResults { index, per_hp })
}

/// Fills cell `index`'s curves from its `ArchResults` state for schedule `hp`.
fn fill_cell(
    c: &mut Nb201Curves,
    finals: &mut [f64],
    index: usize,
    hp: u32,
    state: &Value,
) -> std::result::Result<(), String> {
    let all = state.get("all_results").and_then(|v| v.entries()).ok_or("no dict 'all_results'")?;
    let seeds =
        state.get("dataset_seed").and_then(|v| v.entries()).ok_or("no dict 'dataset_seed'")?;
    for (dname, dseeds) in seeds {
        let Some(name) = dname.as_str_like() else { continue };
        let Some(d) = ARCHIVE_DATASETS.iter().position(|x| *x == name) else { continue };
        let dseeds: Vec<i64> = dseeds
            .items()
            .ok_or(format!("dataset_seed[{name}] is not a list"))?
            .iter()
            .map(|s| s.as_i64().ok_or(format!("dataset_seed[{name}] holds a non-integer")))
            .collect::<std::result::Result<_, _>>()?;
        let mut sums = vec![(0.0f64, 0u32); CURVE_SERIES.len() * c.epochs];
        for seed in &dseeds {
            let run = all
                .iter()
                .find(|(k, _)| {
                    k.items().is_some_and(|t| {
                        t.len() == 2
                            && t[0].as_str_like() == Some(name)
                            && t[1].as_i64() == Some(*seed)
                    })
                })
                .map(|(_, v)| v)
                .ok_or(format!("all_results lacks ({name}, {seed}) that dataset_seed lists"))?;
            if let Some(e) = run.get("epochs").and_then(|e| e.as_i64()) {
                if e != i64::from(hp) {
                    return Err(format!("({name}, {seed}) ran {e} epochs, the schedule has {hp}"));
                }
            }
            let (valid, test) = match name {
                "cifar10-valid" => (Some("x-valid"), "ori-test"),
                "cifar10" => (None, "ori-test"),
                _ => (Some("x-valid"), "x-test"),
            };
            let by_epoch = |key: &str| -> std::result::Result<Vec<(usize, f64)>, String> {
                let Some(d) = run.get(key) else { return Ok(Vec::new()) };
                let Some(entries) = d.entries() else { return Ok(Vec::new()) };
                entries
                    .iter()
                    .map(|(k, v)| {
                        let e = k
                            .as_i64()
                            .and_then(|e| usize::try_from(e).ok())
                            .ok_or(format!("{key}: a non-epoch key"))?;
                        Ok((e, v.as_f64().ok_or(format!("{key}[{e}] is not a number"))?))
                    })
                    .collect()
            };
            let evals = run.get("eval_acc1es").and_then(|v| v.entries()).unwrap_or_default();
            let eval = |set: &str| -> Vec<(usize, f64)> {
                evals
                    .iter()
                    .filter_map(|(k, v)| {
                        let (s, e) = k.as_str_like()?.split_once('@')?;
                        (s == set).then_some((e.parse().ok()?, v.as_f64()?))
                    })
                    .collect()
            };
            let mut series = vec![
                (CurveSeries::TrainLoss, by_epoch("train_losses")?),
                (CurveSeries::TrainAccuracy, by_epoch("train_acc1es")?),
                (CurveSeries::TestAccuracy, eval(test)),
            ];
            if let Some(v) = valid {
                series.push((CurveSeries::ValidAccuracy, eval(v)));
            }
            for (s, points) in series {
                for (e, v) in points {
                    if e >= c.epochs {
                        return Err(format!(
                            "({name}, {seed}) has a value at epoch {e} of {}",
                            c.epochs
                        ));
                    }
                    let cell = &mut sums[s as usize * c.epochs + e];
                    cell.0 += v;
                    cell.1 += 1;
                }
            }
        }
        for s in [
            CurveSeries::TrainLoss,
            CurveSeries::TrainAccuracy,
            CurveSeries::ValidAccuracy,
            CurveSeries::TestAccuracy,
        ] {
            let epochs = c.epochs;
            let dst = c.series_mut(index, d, s);
            for (e, out) in dst.iter_mut().enumerate() {
                let (sum, n) = sums[s as usize * epochs + e];
                let mean = if n > 0 { sum / f64::from(n) } else { f64::NAN };
                *out = mean as f32;
                if e + 1 == epochs {
                    finals[d * CURVE_SERIES.len() + s as usize] = mean;
                }
            }
        }
    }
    Ok(())
}

/// Decompresses and unpickles a `.pickle.pbz2` file.
fn read_bz2_pickle(path: &Path) -> Result<Value> {
    let bad = |reason: String| BenchError::Archive { path: path.to_path_buf(), reason };
    let f = std::fs::File::open(path)
        .map_err(|err| BenchError::File { path: path.to_path_buf(), err })?;
    let mut bytes = Vec::new();
    bzip2::read::MultiBzDecoder::new(std::io::BufReader::new(f))
        .read_to_end(&mut bytes)
        .map_err(|e| bad(format!("not a readable bzip2 stream ({e}); the file is truncated or corrupt, download it again")))?;
    sotl_pickle::parse(&bytes).map_err(|e| bad(format!("not a readable pickle: {e}")))
}

/// PyTorch's legacy `torch.save` magic number, pickled at protocol 2 (`0x1950a86a20f9469cfc6c`).
const TORCH_LEGACY_MAGIC: &[u8] = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19\x2e";

/// Reads a `torch.save` file holding no tensors: the legacy format (magic number, protocol
/// version, system info, the object, an empty list of storage keys) or the zip format
/// (`<name>/data.pkl`).
fn read_torch_save(path: &Path) -> Result<Value> {
    let bad = |reason: String| BenchError::Archive { path: path.to_path_buf(), reason };
    let bytes =
        std::fs::read(path).map_err(|err| BenchError::File { path: path.to_path_buf(), err })?;
    if bytes.starts_with(b"PK\x03\x04") {
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(&bytes)).map_err(|e| {
            bad(format!(
                "a zip-format torch.save file that cannot be opened ({e}); download it again"
            ))
        })?;
        let name = (0..zip.len())
            .filter_map(|i| zip.by_index(i).ok().map(|f| f.name().to_string()))
            .find(|n| n.ends_with("/data.pkl") || n == "data.pkl")
            .ok_or_else(|| bad("a zip file without data.pkl: not a torch.save file".into()))?;
        let mut data = Vec::new();
        zip.by_name(&name)
            .and_then(|mut f| f.read_to_end(&mut data).map_err(Into::into))
            .map_err(|e| bad(format!("{name}: {e}")))?;
        return sotl_pickle::parse(&data).map_err(|e| bad(format!("{name}: {e}")));
    }
    if !bytes.starts_with(TORCH_LEGACY_MAGIC) {
        return Err(bad(
            "not a torch.save file (no legacy magic number, not a zip); expected NAS-Bench-201-v1_*.pth".into(),
        ));
    }
    let mut pos = TORCH_LEGACY_MAGIC.len();
    let mut next = |what: &str| -> Result<Value> {
        let (v, used) = sotl_pickle::parse_prefix(&bytes[pos..]).map_err(|e| {
            if e.contains("persistent id") {
                bad(format!("{what} holds tensors (a weights archive?); expected the benchmark file, which holds none"))
            } else {
                bad(format!("{what} at byte {pos}: {e}; the file is truncated or corrupt, download it again"))
            }
        })?;
        pos += used;
        Ok(v)
    };
    let version = next("the protocol version")?;
    if version.as_i64() != Some(1001) {
        return Err(bad(format!("torch.save protocol {version:?}, expected 1001")));
    }
    let _sys_info = next("the system info")?;
    let object = next("the saved object")?;
    let keys = next("the storage keys")?;
    if keys.items().is_some_and(|k| !k.is_empty()) {
        return Err(bad("the file holds tensors (a weights archive?); expected the benchmark file, which holds none".into()));
    }
    Ok(object)
}

/// Where a converted archive's files are looked for: the tables' folder under a data root.
pub fn curves_path(data_root: &Path, hp: u32) -> PathBuf {
    data_root.join(crate::NB201_DIR).join(curves_file_name(hp))
}
