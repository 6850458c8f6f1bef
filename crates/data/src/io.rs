//! File helpers shared by the readers: whole-file reads with clear errors, gzip, atomic writes.

use std::io::{Read, Write};
use std::path::Path;

use crate::error::{DataError, Result};

/// Reads a whole file; a missing file becomes [`DataError::Missing`] naming `what` and `hint`.
pub(crate) fn read_file(path: &Path, what: &str, hint: &str) -> Result<Vec<u8>> {
    match std::fs::read(path) {
        Ok(b) => Ok(b),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(DataError::Missing {
            what: what.to_string(),
            looked_in: path.display().to_string(),
            hint: hint.to_string(),
        }),
        Err(e) => Err(DataError::io(path, e)),
    }
}

/// Whether `bytes` start with the gzip magic number.
pub(crate) fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0x1f, 0x8b])
}

/// Decompresses `bytes` when they are gzip, else returns them unchanged.
pub(crate) fn maybe_gunzip(path: &Path, bytes: Vec<u8>) -> Result<Vec<u8>> {
    if !is_gzip(&bytes) {
        return Ok(bytes);
    }
    let mut out = Vec::with_capacity(bytes.len() * 4);
    flate2::read::MultiGzDecoder::new(&bytes[..]).read_to_end(&mut out).map_err(|e| {
        DataError::corrupt(
            path,
            format!("gzip stream is damaged or truncated ({e}); re-download the file"),
        )
    })?;
    Ok(out)
}

/// Writes `bytes` to `path` through a temporary file in the same folder and a rename, so a
/// reader never sees a half-written file (a killed run leaves only a stray temp file).
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| DataError::io(dir, e))?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp{}", std::process::id()));
    let mut f = std::fs::File::create(&tmp).map_err(|e| DataError::io(&tmp, e))?;
    f.write_all(bytes).and_then(|_| f.sync_all()).map_err(|e| DataError::io(&tmp, e))?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(|e| DataError::io(path, e))
}

/// 64-bit FNV-1a: a stable hash (unlike `DefaultHasher`) for cache keys written to disk.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fnv64(u64);

impl Fnv64 {
    /// The FNV-1a offset basis.
    pub(crate) fn new() -> Self {
        Fnv64(0xcbf2_9ce4_8422_2325)
    }

    /// Mixes `bytes` in.
    pub(crate) fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    /// The hash so far.
    pub(crate) fn finish(self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_matches_published_vectors() {
        // Test vectors from the FNV reference page (isthe.com/chongo/tech/comp/fnv).
        let h = |s: &[u8]| {
            let mut f = Fnv64::new();
            f.write(s);
            f.finish()
        };
        assert_eq!(h(b""), 0xcbf29ce484222325);
        assert_eq!(h(b"a"), 0xaf63dc4c8601ec8c);
        assert_eq!(h(b"foobar"), 0x85944171f73967e8);
    }

    #[test]
    fn gunzip_roundtrip_and_damage() {
        use flate2::write::GzEncoder;
        let mut enc = GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(b"hello idx").unwrap();
        let gz = enc.finish().unwrap();
        let p = Path::new("x.gz");
        assert_eq!(maybe_gunzip(p, gz.clone()).unwrap(), b"hello idx");
        assert_eq!(maybe_gunzip(p, b"plain".to_vec()).unwrap(), b"plain");
        let err = maybe_gunzip(p, gz[..gz.len() / 2].to_vec()).unwrap_err().to_string();
        assert!(err.contains("x.gz") && err.contains("truncated"), "{err}");
    }
}
