//! Reader for image folders laid out like torchvision's `ImageFolder`:
//! `<root>/<split>/<class>/<image>.{jpg,jpeg,png}`, classes numbered in name order.
//!
//! Decoding 50 000 JPEGs takes seconds, so the decoded uint8 tensor is cached in a folder the
//! caller chooses, under a key hashed from the split's listing (relative paths, sizes and
//! modification times): any added, removed or rewritten image changes the key and the folder is
//! decoded afresh.

use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use tch::{Kind, Tensor};

use crate::dataset::Dataset;
use crate::error::{DataError, Result};
use crate::io::{write_atomic, Fnv64};

/// Extensions read as images (compared case-insensitively).
const EXTENSIONS: [&str; 3] = ["jpg", "jpeg", "png"];

/// Options for [`read_image_folder`].
#[derive(Debug, Clone, Default)]
pub struct ImageFolderOptions {
    /// Folder for decoded-tensor caches; `None` decodes every time.
    pub cache_dir: Option<PathBuf>,
    /// Decoding threads; 0 means one per available core.
    pub threads: usize,
}

/// What a split folder holds: class names in label order and every image with its label.
#[derive(Debug, Clone)]
pub struct FolderListing {
    /// The split folder.
    pub dir: PathBuf,
    /// Class folder names, sorted; index = label.
    pub classes: Vec<String>,
    /// Image paths with their labels, by class then by file name.
    pub files: Vec<(PathBuf, i64)>,
    /// Stable hash of relative paths, sizes and modification times.
    pub key: u64,
}

/// Lists `<dir>/<class>/*.{jpg,jpeg,png}`; classes are the sub-folders, sorted by name.
pub fn list_image_folder(dir: &Path) -> Result<FolderListing> {
    let read_dir = |d: &Path| -> Result<Vec<std::fs::DirEntry>> {
        let rd = std::fs::read_dir(d).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                DataError::Missing {
                    what: "image folder".into(),
                    looked_in: d.display().to_string(),
                    hint: "expected <root>/<split>/<class>/<image>.jpg|png, as torchvision's ImageFolder".into(),
                }
            } else {
                DataError::io(d, e)
            }
        })?;
        let mut v = rd.collect::<std::io::Result<Vec<_>>>().map_err(|e| DataError::io(d, e))?;
        v.sort_by_key(|e| e.file_name());
        Ok(v)
    };
    let mut classes = Vec::new();
    let mut files = Vec::new();
    let mut h = Fnv64::new();
    for entry in read_dir(dir)? {
        let path = entry.path();
        if !path.is_dir() {
            continue;
        }
        let class = entry.file_name().to_string_lossy().into_owned();
        let label = classes.len() as i64;
        let before = files.len();
        for f in read_dir(&path)? {
            let p = f.path();
            let ext =
                p.extension().map(|e| e.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
            if !EXTENSIONS.contains(&ext.as_str()) {
                continue;
            }
            let meta = f.metadata().map_err(|e| DataError::io(&p, e))?;
            if !meta.is_file() {
                continue;
            }
            let mtime = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos());
            h.write(class.as_bytes());
            h.write(b"/");
            h.write(f.file_name().to_string_lossy().as_bytes());
            h.write(&meta.len().to_le_bytes());
            h.write(&mtime.to_le_bytes());
            files.push((p, label));
        }
        if files.len() == before {
            return Err(DataError::corrupt(&path, "class folder holds no .jpg/.jpeg/.png image"));
        }
        classes.push(class);
    }
    if classes.is_empty() {
        return Err(DataError::corrupt(
            dir,
            "no class sub-folders; expected <split>/<class>/<image>.jpg|png, as torchvision's ImageFolder",
        ));
    }
    Ok(FolderListing { dir: dir.to_path_buf(), classes, files, key: h.finish() })
}

/// Decodes one image to RGB CHW bytes, checking its size against `expect` (h, w).
fn decode(path: &Path, expect: Option<(u32, u32)>) -> Result<(Vec<u8>, u32, u32)> {
    let bytes = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    let img = image::load_from_memory(&bytes)
        .map_err(|e| DataError::Image { path: path.to_path_buf(), source: e })?
        .to_rgb8();
    let (w, h) = img.dimensions();
    if let Some((eh, ew)) = expect {
        if (h, w) != (eh, ew) {
            return Err(DataError::corrupt(
                path,
                format!("image is {w}x{h}, the folder's first image is {ew}x{eh}; all images must share one size (resize them first)"),
            ));
        }
    }
    let plane = (h * w) as usize;
    let mut chw = vec![0u8; 3 * plane];
    for (i, px) in img.as_raw().chunks_exact(3).enumerate() {
        chw[i] = px[0];
        chw[plane + i] = px[1];
        chw[2 * plane + i] = px[2];
    }
    Ok((chw, h, w))
}

/// Decodes every listed image in parallel into one `[N, 3, H, W]` buffer.
fn decode_all(listing: &FolderListing, threads: usize) -> Result<(Vec<u8>, u32, u32)> {
    let (first, h, w) = decode(&listing.files[0].0, None)?;
    let per = first.len();
    let n = listing.files.len();
    let mut out = vec![0u8; n * per];
    out[..per].copy_from_slice(&first);
    let threads = if threads == 0 {
        std::thread::available_parallelism().map_or(1, |t| t.get())
    } else {
        threads
    };
    let chunk = n.div_ceil(threads.max(1)).max(1);
    let results: Vec<Result<()>> = std::thread::scope(|s| {
        let handles: Vec<_> = out
            .chunks_mut(chunk * per)
            .enumerate()
            .map(|(c, buf)| {
                let files = &listing.files;
                s.spawn(move || -> Result<()> {
                    for (k, dst) in buf.chunks_exact_mut(per).enumerate() {
                        let i = c * chunk + k;
                        if i == 0 {
                            continue;
                        }
                        let (px, _, _) = decode(&files[i].0, Some((h, w)))?;
                        dst.copy_from_slice(&px);
                    }
                    Ok(())
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    for r in results {
        r?;
    }
    Ok((out, h, w))
}

/// Cache file magic and format version.
const MAGIC: &[u8; 8] = b"SOTLIMG1";

/// Serialises a decoded split: magic, key, n, c, h, w, labels (i64 LE), pixels.
fn encode_cache(key: u64, n: usize, h: u32, w: u32, labels: &[i64], px: &[u8]) -> Vec<u8> {
    let mut b = Vec::with_capacity(48 + 8 * n + px.len());
    b.extend_from_slice(MAGIC);
    for v in [key, n as u64, 3, u64::from(h), u64::from(w)] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    for l in labels {
        b.extend_from_slice(&l.to_le_bytes());
    }
    b.extend_from_slice(px);
    b
}

/// Reads a cache file written by [`encode_cache`] for `key`; `None` when absent, stale or damaged
/// (the caller then decodes again and overwrites it).
fn decode_cache(path: &Path, key: u64, n: usize) -> Option<(Tensor, Vec<i64>)> {
    let b = std::fs::read(path).ok()?;
    let word = |i: usize| {
        b.get(8 + 8 * i..16 + 8 * i).map(|s| u64::from_le_bytes(s.try_into().expect("8 bytes")))
    };
    if b.get(..8)? != MAGIC || word(0)? != key || word(1)? != n as u64 {
        return None;
    }
    let (c, h, w) = (word(2)? as usize, word(3)? as usize, word(4)? as usize);
    let start = 48 + 8 * n;
    if b.len() != start + n * c * h * w {
        return None;
    }
    let labels: Vec<i64> = b[48..start]
        .chunks_exact(8)
        .map(|s| i64::from_le_bytes(s.try_into().expect("8 bytes")))
        .collect();
    let images = Tensor::f_from_data_size(
        &b[start..],
        &[n as i64, c as i64, h as i64, w as i64],
        Kind::Uint8,
    )
    .ok()?;
    Some((images, labels))
}

/// The cache file used for `listing` under `cache_dir`.
pub fn cache_path(cache_dir: &Path, listing: &FolderListing) -> PathBuf {
    cache_dir.join(format!("imagefolder-{:016x}.u8", listing.key))
}

/// Reads `<root>/<split>` as a dataset named `<root name>/<split>`, using and filling the cache
/// when `opts.cache_dir` is set. All images must have one size; they are converted to RGB.
pub fn read_image_folder(root: &Path, split: &str, opts: &ImageFolderOptions) -> Result<Dataset> {
    let listing = list_image_folder(&root.join(split))?;
    let n = listing.files.len();
    let name = format!("{}/{split}", root.file_name().unwrap_or_default().to_string_lossy());
    let expected: Vec<i64> = listing.files.iter().map(|f| f.1).collect();
    if let Some(dir) = &opts.cache_dir {
        if let Some((images, labels)) = decode_cache(&cache_path(dir, &listing), listing.key, n) {
            if labels == expected {
                return Dataset::new(name, images, Tensor::from_slice(&labels), listing.classes);
            }
        }
    }
    let (px, h, w) = decode_all(&listing, opts.threads)?;
    if let Some(dir) = &opts.cache_dir {
        write_atomic(
            &cache_path(dir, &listing),
            &encode_cache(listing.key, n, h, w, &expected, &px),
        )?;
    }
    let images =
        Tensor::f_from_data_size(&px, &[n as i64, 3, i64::from(h), i64::from(w)], Kind::Uint8)?;
    Dataset::new(name, images, Tensor::from_slice(&expected), listing.classes)
}
