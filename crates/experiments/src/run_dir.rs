//! The run folder: one type for claiming an output folder, checking its config, resuming and
//! writing outputs atomically.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// An output folder that holds one run: `config.json` plus the run's files. Rerunning with the
/// same folder and config resumes; another config is refused, never silently mixed in.
#[derive(Debug, Clone)]
pub struct RunDir {
    root: PathBuf,
}

impl RunDir {
    /// Creates `root` if needed and claims it for `cfg`: writes `config.json`, or checks that
    /// the one there equals `cfg`.
    pub fn claim<C>(root: &Path, cfg: &C) -> Result<Self>
    where
        C: Serialize + DeserializeOwned + PartialEq,
    {
        Self::claim_compatible(root, cfg, |old, new| old == new)
    }

    /// As [`RunDir::claim`], with `compatible(old, new)` deciding whether a folder written for
    /// `old` may continue as `new` (e.g. when methods or seeds may be added); on success the
    /// folder's `config.json` becomes `new`.
    pub fn claim_compatible<C, F>(root: &Path, cfg: &C, compatible: F) -> Result<Self>
    where
        C: Serialize + DeserializeOwned,
        F: Fn(&C, &C) -> bool,
    {
        std::fs::create_dir_all(root)
            .with_context(|| format!("cannot create {}", root.display()))?;
        let dir = RunDir { root: root.to_path_buf() };
        let path = dir.path("config.json");
        if path.exists() {
            let old: C = read_json(&path).with_context(|| {
                format!("{} is not this command's config; use another --out", path.display())
            })?;
            if !compatible(&old, cfg) {
                bail!(
                    "{} was written for a different config; rerun with the same settings to \
                     resume, or use another --out",
                    path.display()
                );
            }
        }
        dir.write_json("config.json", cfg)?;
        Ok(dir)
    }

    /// Opens an existing folder without claiming it (to read what a run wrote).
    pub fn open(root: &Path) -> Self {
        RunDir { root: root.to_path_buf() }
    }

    /// The folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A file or folder inside the run.
    pub fn path(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// A sub-run folder (created).
    pub fn child(&self, name: &str) -> Result<RunDir> {
        let p = self.path(name);
        std::fs::create_dir_all(&p).with_context(|| format!("cannot create {}", p.display()))?;
        Ok(RunDir { root: p })
    }

    /// Writes `value` as pretty JSON to `name`, atomically.
    pub fn write_json<T: Serialize + ?Sized>(&self, name: &str, value: &T) -> Result<()> {
        let p = self.path(name);
        sotl_report::write_json_atomic(&p, value)
            .with_context(|| format!("cannot write {}", p.display()))
    }

    /// Writes `bytes` to `name`, atomically.
    pub fn write_bytes(&self, name: &str, bytes: &[u8]) -> Result<()> {
        let p = self.path(name);
        sotl_report::write_atomic(&p, bytes)
            .with_context(|| format!("cannot write {}", p.display()))
    }

    /// Reads JSON from `name`.
    pub fn read_json<T: DeserializeOwned>(&self, name: &str) -> Result<T> {
        read_json(&self.path(name))
    }
}

/// Reads a JSON file, naming it in the error.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text)
        .with_context(|| format!("malformed {}; delete it to start afresh", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Cfg {
        a: u32,
        seeds: u32,
    }

    #[test]
    fn claims_checks_and_refuses_another_config() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("run");
        RunDir::claim(&root, &Cfg { a: 1, seeds: 1 }).unwrap();
        assert_eq!(RunDir::open(&root).read_json::<Cfg>("config.json").unwrap().a, 1);
        // Same config: resumes.
        RunDir::claim(&root, &Cfg { a: 1, seeds: 1 }).unwrap();
        // Another config: refused, naming the file, and config.json is untouched.
        let e = RunDir::claim(&root, &Cfg { a: 2, seeds: 1 }).unwrap_err();
        assert!(e.to_string().contains("config.json"), "{e}");
        assert_eq!(RunDir::open(&root).read_json::<Cfg>("config.json").unwrap().a, 1);
        // A compatibility rule may let seeds grow; the folder then records the new config.
        RunDir::claim_compatible(&root, &Cfg { a: 1, seeds: 3 }, |o, n| o.a == n.a).unwrap();
        assert_eq!(RunDir::open(&root).read_json::<Cfg>("config.json").unwrap().seeds, 3);
        // Someone else's file is not taken for a config.
        std::fs::write(root.join("config.json"), b"{\"x\": 1}").unwrap();
        let e = RunDir::claim(&root, &Cfg { a: 1, seeds: 3 }).unwrap_err();
        assert!(format!("{e:#}").contains("another --out"), "{e:#}");
    }
}
