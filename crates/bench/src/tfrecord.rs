//! TFRecord files, the framing of TensorFlow's record files (NAS-Bench-101 ships its data as
//! one): each record is its length as a little-endian u64, the masked CRC-32C of those 8 bytes,
//! the data, and the masked CRC-32C of the data (`tensorflow/core/lib/io/record_writer.cc`).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use crate::{BenchError, Result};

/// TensorFlow's masked CRC-32C (Castagnoli): the CRC rotated right by 15 bits plus
/// `0xa282ead8`, so that a CRC stored inside checksummed data does not check itself.
pub fn masked_crc32c(data: &[u8]) -> u32 {
    let crc = crc32c::crc32c(data);
    crc.rotate_right(15).wrapping_add(0xa282_ead8)
}

/// Appends `data` as one record.
pub fn write_record<W: Write>(w: &mut W, data: &[u8]) -> std::io::Result<()> {
    let len = (data.len() as u64).to_le_bytes();
    w.write_all(&len)?;
    w.write_all(&masked_crc32c(&len).to_le_bytes())?;
    w.write_all(data)?;
    w.write_all(&masked_crc32c(data).to_le_bytes())
}

/// The records of a TFRecord stream in order, each checked against its CRCs; an error names
/// the file, the record and its byte offset.
pub struct TfRecordReader<R> {
    inner: R,
    path: PathBuf,
    record: u64,
    offset: u64,
    done: bool,
}

impl TfRecordReader<std::io::BufReader<std::fs::File>> {
    /// Opens `path`.
    pub fn open(path: &Path) -> Result<Self> {
        let f = std::fs::File::open(path)
            .map_err(|err| BenchError::File { path: path.to_path_buf(), err })?;
        Ok(Self::new(std::io::BufReader::new(f), path))
    }
}

impl<R: Read> TfRecordReader<R> {
    /// Reads records from `inner`; `path` names it in errors.
    pub fn new(inner: R, path: &Path) -> Self {
        TfRecordReader { inner, path: path.to_path_buf(), record: 0, offset: 0, done: false }
    }

    fn err(&self, reason: impl Into<String>) -> BenchError {
        BenchError::Record {
            path: self.path.clone(),
            record: self.record,
            offset: self.offset,
            reason: reason.into(),
        }
    }

    /// Fills `buf`, or says how many bytes were there.
    fn fill(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let mut got = 0;
        while got < buf.len() {
            match self.inner.read(&mut buf[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(got)
    }

    fn next_record(&mut self) -> Result<Option<Vec<u8>>> {
        let io = |s: &Self, e: std::io::Error| s.err(format!("read error: {e}"));
        let mut head = [0u8; 12];
        let got = self.fill(&mut head).map_err(|e| io(self, e))?;
        if got == 0 {
            return Ok(None);
        }
        if got < 12 {
            return Err(
                self.err(format!("the file ends inside a record header ({got} of 12 bytes)"))
            );
        }
        let len_bytes: [u8; 8] = head[..8].try_into().expect("8 bytes");
        let crc = u32::from_le_bytes(head[8..].try_into().expect("4 bytes"));
        if masked_crc32c(&len_bytes) != crc {
            return Err(self.err("the length's checksum does not match"));
        }
        let len = u64::from_le_bytes(len_bytes);
        // Far more than any record of a benchmark file: a corrupt length, not an allocation.
        if len > 1 << 30 {
            return Err(self.err(format!("a record of {len} bytes")));
        }
        let mut data = vec![0u8; len as usize + 4];
        let got = self.fill(&mut data).map_err(|e| io(self, e))?;
        if got < data.len() {
            return Err(self
                .err(format!("the file ends inside the record ({got} of {} bytes)", data.len())));
        }
        let crc = u32::from_le_bytes(data[len as usize..].try_into().expect("4 bytes"));
        data.truncate(len as usize);
        if masked_crc32c(&data) != crc {
            return Err(self.err("the data's checksum does not match"));
        }
        self.offset += 16 + len;
        self.record += 1;
        Ok(Some(data))
    }
}

impl<R: Read> Iterator for TfRecordReader<R> {
    type Item = Result<Vec<u8>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let r = self.next_record();
        if !matches!(r, Ok(Some(_))) {
            self.done = true;
        }
        r.transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_and_its_mask_match_known_values() {
        // CRC-32C check value (RFC 3720 / the Castagnoli catalogue): "123456789" -> 0xe3069283.
        assert_eq!(crc32c::crc32c(b"123456789"), 0xe306_9283);
        // The mask by hand: the low 15 bits move to the top, the rest down; plus 0xa282ead8
        // (mod 2^32).
        let c: u64 = 0xe306_9283;
        let by_hand = ((c >> 15) + ((c & 0x7fff) << 17) + 0xa282_ead8) % (1 << 32);
        let by_hand = by_hand as u32;
        assert_eq!(masked_crc32c(b"123456789"), by_hand);
    }

    #[test]
    fn records_round_trip_and_damage_is_named() {
        let mut file = Vec::new();
        for r in [&b"first"[..], b"", b"third record"] {
            write_record(&mut file, r).unwrap();
        }
        let p = Path::new("x.tfrecord");
        let all: Vec<Vec<u8>> = TfRecordReader::new(&file[..], p).collect::<Result<_>>().unwrap();
        assert_eq!(all, [b"first".to_vec(), Vec::new(), b"third record".to_vec()]);
        // Truncated inside the third record: the first two come back, then the error.
        let cut = &file[..file.len() - 3];
        let got: Vec<Result<Vec<u8>>> = TfRecordReader::new(cut, p).collect();
        assert_eq!(got.len(), 3);
        let e = got[2].as_ref().unwrap_err().to_string();
        // Record 2 starts after 16 + 5 and 16 + 0 bytes.
        assert!(e.contains("x.tfrecord: record 2 (byte 37)") && e.contains("ends inside"), "{e}");
        // A flipped data byte in the first record.
        let mut bad = file.clone();
        bad[13] ^= 1;
        let e = TfRecordReader::new(&bad[..], p).next().unwrap().unwrap_err().to_string();
        assert!(e.contains("record 0") && e.contains("data's checksum"), "{e}");
        // A flipped length byte.
        let mut bad = file;
        bad[0] ^= 0x40;
        let e = TfRecordReader::new(&bad[..], p).next().unwrap().unwrap_err().to_string();
        assert!(e.contains("length's checksum"), "{e}");
    }
}
