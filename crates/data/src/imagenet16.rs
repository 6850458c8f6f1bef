//! Reader for NAS-Bench-201's ImageNet16-120: the 16x16 downsampled ImageNet of Chrabaszcz et
//! al. 2017 ("A Downsampled Variant of ImageNet as an Alternative to the CIFAR datasets"),
//! restricted to its first 120 classes as Dong & Yang 2020 do.
//!
//! Files (as AutoDL-Projects' `ImageNet16` dataset reads them): `train_data_batch_1` ..
//! `train_data_batch_10` and `val_data`, each a Python pickle of a dict with `data` (a uint8 NumPy
//! array `[N, 768]`, each row a 3x16x16 image as planes R, G, B) and `labels` (a list of 1-based
//! class ids, 1..=1000). ImageNet16-`k` keeps the examples with label `1 <= l <= k` and uses
//! `l - 1`; for k = 120 that is 151 700 training and 6 000 validation images (the counts
//! AutoDL-Projects asserts). The validation file serves as the test split, as in NAS-Bench-201.

use std::path::Path;

use tch::{Kind, Tensor};

use crate::cifar::SizeCheck;
use crate::dataset::Dataset;
use crate::error::{DataError, Result};
use crate::io::read_file;
use crate::pickle;

/// Hint for missing ImageNet16 files.
const HINT: &str =
    "get ImageNet16 (the 16x16 downsampled ImageNet of Chrabaszcz et al. 2017, as used by \
                    NAS-Bench-201) and put train_data_batch_1..10 and val_data in that folder";

/// Official (train, test) sizes for the class counts NAS-Bench-201 and AutoDL-Projects use.
fn official_sizes(num_classes: usize) -> Option<(usize, usize)> {
    match num_classes {
        120 => Some((151_700, 6_000)),
        150 => Some((190_272, 7_500)),
        200 => Some((254_775, 10_000)),
        1000 => Some((1_281_167, 50_000)),
        _ => None,
    }
}

/// Reads one pickle file, keeping labels `1..=num_classes`: returns (pixels, labels as `l - 1`,
/// image side).
fn read_file_filtered(path: &Path, num_classes: usize) -> Result<(Vec<u8>, Vec<i64>, usize)> {
    let name = path.file_name().unwrap_or_default().to_string_lossy().into_owned();
    let bytes = read_file(path, &format!("ImageNet16 file {name}"), HINT)?;
    let v = pickle::parse(&bytes)
        .map_err(|e| DataError::corrupt(path, format!("not a readable Python pickle: {e}")))?;
    let bad = |p: &str| DataError::corrupt(path, p.to_string());
    let data = v.get("data").ok_or_else(|| {
        bad("the pickle has no 'data' entry; expected a dict with 'data' and 'labels'")
    })?;
    let arr = data.as_ndarray().ok_or_else(|| bad("'data' is not a NumPy array"))?;
    if arr.dtype != "u1" || arr.shape.len() != 2 || arr.data.len() != arr.numel() {
        return Err(bad(&format!(
            "'data' is a {} array of shape {:?} with {} bytes; expected uint8 [N, 3*S*S]",
            arr.dtype,
            arr.shape,
            arr.data.len()
        )));
    }
    let (n, row) = (arr.shape[0], arr.shape[1]);
    let side = ((row / 3) as f64).sqrt().round() as usize;
    if side == 0 || 3 * side * side != row {
        return Err(bad(&format!("rows of {row} bytes are not 3*S*S images")));
    }
    let labels = v
        .get("labels")
        .and_then(|l| l.as_int_vec())
        .ok_or_else(|| bad("the pickle has no integer list 'labels'"))?;
    if labels.len() != n {
        return Err(bad(&format!("{} labels for {n} images", labels.len())));
    }
    if let Some((i, l)) = labels.iter().enumerate().find(|(_, &l)| !(1..=1000).contains(&l)) {
        return Err(bad(&format!("label {i} is {l}, expected a 1-based class id in 1..=1000")));
    }
    let mut px = Vec::new();
    let mut out = Vec::new();
    for (i, &l) in labels.iter().enumerate() {
        if l as usize <= num_classes {
            px.extend_from_slice(&arr.data[i * row..(i + 1) * row]);
            out.push(l - 1);
        }
    }
    Ok((px, out, side))
}

/// Reads ImageNet16-`num_classes` from `dir` (120 for NAS-Bench-201's ImageNet16-120): returns
/// (train from the ten training batches, test from `val_data`), images `[N, 3, 16, 16]`, labels
/// `0..num_classes`, class names the original 1-based ids.
pub fn read_imagenet16(
    dir: &Path,
    num_classes: usize,
    check: SizeCheck,
) -> Result<(Dataset, Dataset)> {
    if !(1..=1000).contains(&num_classes) {
        return Err(DataError::invalid(
            "ImageNet16 class count",
            format!("{num_classes}, expected 1..=1000"),
        ));
    }
    let classes: Vec<String> = (1..=num_classes).map(|c| c.to_string()).collect();
    let expect = if check == SizeCheck::Official { official_sizes(num_classes) } else { None };
    let read = |files: Vec<String>, split: &str, expected: Option<usize>| -> Result<Dataset> {
        let (mut px, mut lb, mut side) = (Vec::new(), Vec::new(), None);
        for f in &files {
            let p = dir.join(f);
            let (x, l, s) = read_file_filtered(&p, num_classes)?;
            if side.is_some_and(|prev| prev != s) {
                return Err(DataError::corrupt(
                    &p,
                    format!(
                        "{s}x{s} images, other files hold {}x{}",
                        side.unwrap_or(0),
                        side.unwrap_or(0)
                    ),
                ));
            }
            side = Some(s);
            px.extend_from_slice(&x);
            lb.extend_from_slice(&l);
        }
        if let Some(e) = expected {
            if lb.len() != e {
                return Err(DataError::corrupt(
                    dir,
                    format!("{} {split} images with labels 1..={num_classes}, expected {e} in the official files", lb.len()),
                ));
            }
        }
        let s = side.unwrap_or(16) as i64;
        let images = Tensor::f_from_data_size(&px, &[lb.len() as i64, 3, s, s], Kind::Uint8)?;
        Dataset::new(
            format!("imagenet16-{num_classes}/{split}"),
            images,
            Tensor::from_slice(&lb),
            classes.clone(),
        )
    };
    let train = read(
        (1..=10).map(|i| format!("train_data_batch_{i}")).collect(),
        "train",
        expect.map(|e| e.0),
    )?;
    let test = read(vec!["val_data".to_string()], "test", expect.map(|e| e.1))?;
    Ok((train, test))
}
