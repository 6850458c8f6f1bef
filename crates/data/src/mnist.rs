//! Reader for MNIST in the IDX format (LeCun et al. 1998), gzipped or not.
//!
//! IDX (yann.lecun.com/exdb/mnist): a big-endian header `0x00 0x00 <type> <ndim>` (type `0x08` =
//! unsigned byte), then `ndim` big-endian u32 sizes, then the data. Images are `idx3` (`N, 28, 28`,
//! magic 2051), labels `idx1` (`N`, magic 2049).

use std::path::{Path, PathBuf};

use tch::{Kind, Tensor};

use crate::cifar::SizeCheck;
use crate::dataset::Dataset;
use crate::error::{DataError, Result};
use crate::io::{maybe_gunzip, read_file};

/// MNIST class names: the digits.
pub const MNIST_CLASSES: [&str; 10] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];

/// Hint for missing MNIST files.
const HINT: &str =
    "put the four IDX files (train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], \
                    t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz]) in that folder";

/// Parses an IDX file of unsigned bytes with `ndim` dimensions: returns (sizes, data).
pub fn parse_idx_u8(path: &Path, bytes: &[u8], ndim: usize) -> Result<(Vec<usize>, Vec<u8>)> {
    let header = 4 + 4 * ndim;
    let magic = [0u8, 0, 0x08, ndim as u8];
    if bytes.len() >= 4 && bytes[..4] != magic {
        return Err(DataError::corrupt(
            path,
            format!(
                "IDX magic number is {:02x?}, expected {magic:02x?} (unsigned bytes, {ndim} dimensions): not an IDX file of this kind",
                &bytes[..4]
            ),
        ));
    }
    if bytes.len() < header {
        return Err(DataError::corrupt(
            path,
            format!("{} bytes, shorter than the {header}-byte IDX header", bytes.len()),
        ));
    }
    let sizes: Vec<usize> = (0..ndim)
        .map(|d| {
            u32::from_be_bytes(bytes[4 + 4 * d..8 + 4 * d].try_into().expect("4 bytes")) as usize
        })
        .collect();
    // A product that overflows cannot describe a file that exists; wrapped, it could pass
    // for a small one.
    let n = sizes.iter().try_fold(1usize, |a, &s| a.checked_mul(s)).ok_or_else(|| {
        DataError::corrupt(
            path,
            format!("header sizes {sizes:?} multiply past any file size: not a valid IDX file"),
        )
    })?;
    if bytes.len() - header != n {
        return Err(DataError::corrupt(
            path,
            format!(
                "header says {sizes:?} = {n} data bytes, the file holds {}; the file is {}",
                bytes.len() - header,
                if bytes.len() - header < n {
                    "truncated"
                } else {
                    "longer than its header says (corrupt)"
                }
            ),
        ));
    }
    Ok((sizes, bytes[header..].to_vec()))
}

/// The path of IDX file `stem` in `dir`: `stem.gz` if present, else `stem`, else `stem` with
/// the last `-` before `idx` written as `.` (a common re-packaging).
fn find(dir: &Path, stem: &str) -> PathBuf {
    let alt = stem.replacen("-idx", ".idx", 1);
    for name in [format!("{stem}.gz"), stem.to_string(), format!("{alt}.gz"), alt] {
        let p = dir.join(&name);
        if p.is_file() {
            return p;
        }
    }
    dir.join(format!("{stem}.gz"))
}

/// Reads one image/label file pair into a dataset.
fn read_pair(dir: &Path, prefix: &str, name: &str, expect: Option<usize>) -> Result<Dataset> {
    let ip = find(dir, &format!("{prefix}-images-idx3-ubyte"));
    let lp = find(dir, &format!("{prefix}-labels-idx1-ubyte"));
    let ib = maybe_gunzip(&ip, read_file(&ip, &format!("MNIST {prefix} images"), HINT)?)?;
    let lb = maybe_gunzip(&lp, read_file(&lp, &format!("MNIST {prefix} labels"), HINT)?)?;
    let (isz, pixels) = parse_idx_u8(&ip, &ib, 3)?;
    let (lsz, labels) = parse_idx_u8(&lp, &lb, 1)?;
    if isz[0] != lsz[0] {
        return Err(DataError::corrupt(
            &lp,
            format!("{} labels for {} images in {}", lsz[0], isz[0], ip.display()),
        ));
    }
    if let Some(e) = expect {
        if isz[0] != e || isz[1] != 28 || isz[2] != 28 {
            return Err(DataError::corrupt(
                &ip,
                format!("shape {isz:?}, expected [{e}, 28, 28] in the official release"),
            ));
        }
    }
    if let Some((i, l)) = labels.iter().enumerate().find(|(_, &l)| l > 9) {
        return Err(DataError::corrupt(&lp, format!("label {i} is {l}, expected a digit 0..=9")));
    }
    let images = Tensor::f_from_data_size(
        &pixels,
        &[isz[0] as i64, 1, isz[1] as i64, isz[2] as i64],
        Kind::Uint8,
    )?;
    let labels: Vec<i64> = labels.iter().map(|&l| l as i64).collect();
    Dataset::new(
        name,
        images,
        Tensor::from_slice(&labels),
        MNIST_CLASSES.iter().map(|s| s.to_string()).collect(),
    )
}

/// Reads MNIST from `dir` (train 60 000, test 10 000 under [`SizeCheck::Official`]); images are
/// `[N, 1, 28, 28]`.
pub fn read_mnist(dir: &Path, check: SizeCheck) -> Result<(Dataset, Dataset)> {
    let official = check == SizeCheck::Official;
    let train = read_pair(dir, "train", "mnist/train", official.then_some(60_000))?;
    let test = read_pair(dir, "t10k", "mnist/test", official.then_some(10_000))?;
    Ok((train, test))
}
