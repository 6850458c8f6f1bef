//! Checkpoint files: named tensors plus a JSON document, written atomically.
//!
//! One file holds everything (libtorch's tensor archive, with the JSON stored as a `uint8`
//! tensor named [`META`]), so there is no moment at which weights and bookkeeping on disk
//! disagree: the file is serialized in memory, written to a temporary beside the target, fsynced
//! and renamed over it. A CRC-32 of every entry ([`CHECKSUM`]) is stored beside them, so a
//! damaged file is refused instead of resuming from silently different weights (the archive
//! format itself does not notice every flipped byte of tensor data).

use std::io::Cursor;
use std::path::Path;

use tch::{Device, Kind, Tensor};

use crate::{Result, TrainError};

/// Name of the tensor carrying the JSON document.
pub const META: &str = "__meta_json__";

/// Name of the tensor carrying the CRC-32 of every other entry (name, kind, shape and bytes, in
/// name order). Files written before it existed load unchecked.
pub const CHECKSUM: &str = "__crc32__";

/// CRC-32 of `entries` (in name order): each name, kind, shape and raw bytes.
fn checksum(entries: &[(String, Tensor)]) -> Result<i64> {
    let mut order: Vec<&(String, Tensor)> = entries.iter().collect();
    order.sort_by(|a, b| a.0.cmp(&b.0));
    let mut h = crc32fast::Hasher::new();
    for (name, t) in order {
        h.update(name.as_bytes());
        h.update(format!("\0{:?}{:?}\0", t.kind(), t.size()).as_bytes());
        let flat = t.detach().to_device(Device::Cpu).contiguous().reshape([-1]);
        let bytes: Vec<u8> = Vec::<u8>::try_from(flat.f_view_dtype(Kind::Uint8)?)?;
        h.update(&bytes);
    }
    Ok(i64::from(h.finalize()))
}

/// Writes `tensors` and `meta` to `path` atomically.
pub fn save_checkpoint(
    path: &Path,
    tensors: &[(String, Tensor)],
    meta: &serde_json::Value,
) -> Result<()> {
    let ck_err = |reason: String| TrainError::Checkpoint { path: path.to_path_buf(), reason };
    let json =
        serde_json::to_vec(meta).map_err(|e| ck_err(format!("cannot serialize state: {e}")))?;
    let mut all: Vec<(String, Tensor)> = Vec::with_capacity(tensors.len() + 1);
    for (n, t) in tensors {
        if n == META || n == CHECKSUM {
            return Err(ck_err(format!("tensor name {n:?} is reserved")));
        }
        // Saved from the CPU so a checkpoint can be inspected or resumed anywhere.
        all.push((n.clone(), t.detach().to_device(Device::Cpu)));
    }
    all.push((META.to_string(), Tensor::from_slice(&json)));
    let crc = checksum(&all)?;
    all.push((CHECKSUM.to_string(), Tensor::from_slice(&[crc])));
    let mut buf = Vec::new();
    Tensor::save_multi_to_stream(&all, Cursor::new(&mut buf))?;
    sotl_report::write_atomic(path, &buf)
        .map_err(|source| TrainError::Io { path: path.to_path_buf(), source })
}

/// Reads a checkpoint written by [`save_checkpoint`]; tensors are placed on `device`.
pub fn load_checkpoint(
    path: &Path,
    device: Device,
) -> Result<(Vec<(String, Tensor)>, serde_json::Value)> {
    let ck_err = |reason: String| TrainError::Checkpoint { path: path.to_path_buf(), reason };
    let bytes = std::fs::read(path)
        .map_err(|source| TrainError::Io { path: path.to_path_buf(), source })?;
    let mut tensors = Tensor::load_multi_from_stream_with_device(Cursor::new(bytes), device)
        .map_err(|e| {
            ck_err(format!("not a readable checkpoint ({e}); delete it to start the run afresh"))
        })?;
    if let Some(pos) = tensors.iter().position(|(n, _)| n == CHECKSUM) {
        let (_, stored) = tensors.swap_remove(pos);
        let stored = Vec::<i64>::try_from(stored.to_device(Device::Cpu)).unwrap_or_default();
        if stored.as_slice() != [checksum(&tensors)?] {
            return Err(ck_err(
                "its checksum does not match its contents: the file is damaged; delete it to \
                 start the run afresh"
                    .into(),
            ));
        }
    }
    let pos = tensors
        .iter()
        .position(|(n, _)| n == META)
        .ok_or_else(|| ck_err(format!("no {META} entry: not a sotl-train checkpoint")))?;
    let (_, meta) = tensors.swap_remove(pos);
    if meta.kind() != Kind::Uint8 {
        return Err(ck_err(format!("{META} has kind {:?}, expected uint8", meta.kind())));
    }
    let json: Vec<u8> = Vec::<u8>::try_from(meta.to_device(Device::Cpu))?;
    let meta = serde_json::from_slice(&json)
        .map_err(|e| ck_err(format!("corrupt state document: {e}")))?;
    Ok((tensors, meta))
}
