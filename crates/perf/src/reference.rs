//! What a benchmark run takes from the PyTorch reference harness' JSON.

use std::path::{Path, PathBuf};

use serde_json::Value;
use sotl_space::Nb201Arch;

use crate::{PerfConfig, PerfError, Result};

/// The parts of a `pytorch_nb201_reference.py --json` file a run replays or must agree with.
#[derive(Debug, Clone, PartialEq)]
pub struct ReferenceRun {
    /// The file read.
    pub path: PathBuf,
    /// `config.fixed_arch`: the cell of the finetune, eval and standalone rows.
    pub fixed_arch: Nb201Arch,
    /// `results.spos.sampled_archs` (warm-up cells first), when the file has a `spos` row.
    pub spos_archs: Option<Vec<Nb201Arch>>,
    /// `(key, value)` of the size settings in `config` (C, N, batch, ...), for [`Self::check`].
    settings: Vec<(&'static str, i64)>,
}

/// Config keys whose values must agree for a row-by-row comparison.
const SETTINGS: [&str; 8] =
    ["C", "N", "num_classes", "batch", "threads", "warmup", "steps", "seed"];

impl ReferenceRun {
    /// Reads a reference JSON file.
    pub fn read(path: &Path) -> Result<ReferenceRun> {
        let err = |reason: String| PerfError::Reference { path: path.to_path_buf(), reason };
        let text =
            std::fs::read_to_string(path).map_err(|e| err(format!("cannot read it ({e})")))?;
        Self::parse(&text, path).map_err(err)
    }

    fn parse(text: &str, path: &Path) -> std::result::Result<ReferenceRun, String> {
        let v: Value = serde_json::from_str(text).map_err(|e| {
            format!("not JSON ({e}); pass the file written by pytorch_nb201_reference.py --json")
        })?;
        let config =
            v.get("config").ok_or("has no \"config\" object; is it a reference harness JSON?")?;
        let arch = |s: &Value, what: &str| -> std::result::Result<Nb201Arch, String> {
            let s = s.as_str().ok_or_else(|| format!("{what} is not a string"))?;
            s.parse::<Nb201Arch>()
                .map_err(|e| format!("{what} {s:?} is not a NAS-Bench-201 cell ({e})"))
        };
        let fixed_arch = arch(
            config.get("fixed_arch").ok_or("config has no \"fixed_arch\"")?,
            "config.fixed_arch",
        )?;
        let mut settings = Vec::new();
        for key in SETTINGS {
            let n = config
                .get(key)
                .and_then(Value::as_i64)
                .ok_or_else(|| format!("config.{key} is missing or not an integer"))?;
            settings.push((key, n));
        }
        let spos_archs = match v.get("results").and_then(|r| r.get("spos")) {
            None => None,
            Some(row) => {
                let list = row
                    .get("sampled_archs")
                    .and_then(Value::as_array)
                    .ok_or("results.spos has no \"sampled_archs\" list")?;
                let archs = list
                    .iter()
                    .enumerate()
                    .map(|(i, s)| arch(s, &format!("results.spos.sampled_archs[{i}]")))
                    .collect::<std::result::Result<Vec<_>, _>>()?;
                Some(archs)
            }
        };
        Ok(ReferenceRun { path: path.to_path_buf(), fixed_arch, spos_archs, settings })
    }

    /// The reference's value of a size setting (`C`, `N`, `num_classes`, `batch`, `threads`,
    /// `warmup`, `steps`, `seed`).
    pub fn setting(&self, key: &str) -> Option<i64> {
        self.settings.iter().find(|(k, _)| *k == key).map(|&(_, v)| v)
    }

    /// Fails, naming every difference, unless the reference ran with `cfg`'s sizes, threads,
    /// step counts and seed: otherwise its times are not comparable row by row.
    pub fn check(&self, cfg: &PerfConfig) -> Result<()> {
        let ours = [
            ("C", cfg.channels),
            ("N", cfg.cells_per_stage as i64),
            ("num_classes", cfg.num_classes),
            ("batch", cfg.batch as i64),
            ("threads", i64::from(cfg.threads)),
            ("warmup", cfg.warmup as i64),
            ("steps", cfg.steps as i64),
            ("seed", cfg.seed as i64),
        ];
        let diffs: Vec<String> = ours
            .iter()
            .filter_map(|&(k, v)| match self.setting(k) {
                Some(r) if r != v => Some(format!("{k}: reference {r}, ours {v}")),
                _ => None,
            })
            .collect();
        if !diffs.is_empty() {
            return Err(PerfError::Reference {
                path: self.path.clone(),
                reason: format!(
                    "was made with other settings ({}); rerun one side so both use the same values",
                    diffs.join(", ")
                ),
            });
        }
        if let Some(a) = &self.spos_archs {
            if cfg.rows.contains(&crate::BenchRow::Spos) && a.len() < cfg.warmup + cfg.steps {
                return Err(PerfError::Reference {
                    path: self.path.clone(),
                    reason: format!(
                        "lists {} sampled archs but warmup {} + steps {} need {}",
                        a.len(),
                        cfg.warmup,
                        cfg.steps,
                        cfg.warmup + cfg.steps
                    ),
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"{"config": {"C": 16, "N": 5, "num_classes": 10, "batch": 64, "threads": 2,
        "warmup": 1, "steps": 1, "seed": 0,
        "fixed_arch": "|nor_conv_3x3~0|+|nor_conv_3x3~0|none~1|+|nor_conv_1x1~0|avg_pool_3x3~1|nor_conv_3x3~2|"},
        "results": {"spos": {"median_ms": 1.0, "sampled_archs": [
          "|skip_connect~0|+|avg_pool_3x3~0|none~1|+|nor_conv_1x1~0|none~1|nor_conv_3x3~2|",
          "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"]}}}"#;

    #[test]
    fn reads_fixed_arch_and_spos_sequence_and_checks_settings() {
        let r = ReferenceRun::parse(GOOD, Path::new("ref.json")).unwrap();
        assert_eq!(r.fixed_arch.to_string(), crate::REFERENCE_FIXED_ARCH_SEED0);
        let archs = r.spos_archs.as_ref().unwrap();
        assert_eq!(archs.len(), 2);
        assert_eq!(archs[1].to_string(), "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|");
        let cfg = PerfConfig { warmup: 1, steps: 1, ..Default::default() };
        r.check(&cfg).unwrap();
        let e = r
            .check(&PerfConfig { warmup: 1, steps: 1, batch: 32, ..Default::default() })
            .unwrap_err();
        assert!(e.to_string().contains("batch: reference 64, ours 32"), "{e}");
        // Too short a sequence for the steps asked.
        let mut short = r.clone();
        short.settings.retain(|(k, _)| *k != "steps");
        let e = short.check(&PerfConfig { warmup: 1, steps: 5, ..Default::default() }).unwrap_err();
        assert!(e.to_string().contains("lists 2 sampled archs"), "{e}");
    }

    #[test]
    fn malformed_files_get_a_clear_error() {
        let p = Path::new("x.json");
        assert!(ReferenceRun::parse("{", p).unwrap_err().contains("not JSON"));
        assert!(ReferenceRun::parse("{}", p).unwrap_err().contains("config"));
        let bad_arch = GOOD.replace("skip_connect~0|+|avg", "skip_conect~0|+|avg");
        let e = ReferenceRun::parse(&bad_arch, p).unwrap_err();
        assert!(e.contains("sampled_archs[0]"), "{e}");
        let e = ReferenceRun::read(Path::new("/nonexistent/ref.json")).unwrap_err();
        assert!(e.to_string().contains("cannot read"), "{e}");
    }
}
