//! Timing steps and summarizing them the way the reference harness does.

use std::time::Instant;

use serde::{Deserialize, Serialize};
use sotl_space::Nb201Arch;

use crate::Result;

/// Timings of one row, with the reference JSON's field names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RowStats {
    /// Median milliseconds per timed step.
    pub median_ms: f64,
    /// Mean milliseconds per timed step.
    pub mean_ms: f64,
    /// Fastest step.
    pub min_ms: f64,
    /// Slowest step.
    pub max_ms: f64,
    /// Sample standard deviation (n - 1), 0 for one step.
    pub stdev_ms: f64,
    /// Images one step processes.
    pub imgs_per_step: usize,
    /// `imgs_per_step / median` in images per second.
    pub imgs_per_s: f64,
    /// Timed steps.
    pub steps: usize,
    /// Every timed step's milliseconds, in order.
    pub step_ms: Vec<f64>,
    /// Process user CPU seconds over the timed steps (all threads).
    pub timed_user_s: Option<f64>,
    /// Process system CPU seconds over the timed steps (page-fault churn shows up here).
    pub timed_sys_s: Option<f64>,
    /// Minor page faults over the timed steps.
    pub timed_minflt: Option<u64>,
    /// Wall seconds of the whole row, warm-up included.
    pub wall_s: f64,
    /// Resident memory (MiB) before the row's first (warm-up) step: model, data, optimizer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rss_before_mib: Option<f64>,
    /// Peak resident memory (MiB) over the row's steps, warm-up included (the process'
    /// lifetime peak where the kernel refuses to reset it; see `peak_reset`). Peak minus
    /// `rss_before_mib` is a step's working memory, when the row runs first in its process
    /// (the allocator keeps memory an earlier row freed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peak_rss_mib: Option<f64>,
    /// Whether the peak was reset before the first step (else it covers the whole process).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub peak_reset: bool,
    /// The cells replayed, warm-up ones first (`spos` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sampled_archs: Option<Vec<Nb201Arch>>,
}

impl RowStats {
    /// Summarizes per-step seconds (the reference's `summarize`).
    pub fn from_seconds(times_s: &[f64], imgs_per_step: usize) -> RowStats {
        let ms: Vec<f64> = times_s.iter().map(|t| t * 1e3).collect();
        let n = ms.len();
        let median = median(&ms);
        let mean = ms.iter().sum::<f64>() / n.max(1) as f64;
        let stdev = if n > 1 {
            (ms.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt()
        } else {
            0.0
        };
        RowStats {
            median_ms: median,
            mean_ms: mean,
            min_ms: ms.iter().copied().fold(f64::INFINITY, f64::min),
            max_ms: ms.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            stdev_ms: stdev,
            imgs_per_step,
            imgs_per_s: imgs_per_step as f64 / (median / 1e3),
            steps: n,
            step_ms: ms.iter().map(|v| (v * 1e3).round() / 1e3).collect(),
            timed_user_s: None,
            timed_sys_s: None,
            timed_minflt: None,
            wall_s: 0.0,
            rss_before_mib: None,
            peak_rss_mib: None,
            peak_reset: false,
            sampled_archs: None,
        }
    }
}

/// Median of a non-empty slice (mean of the middle two for even lengths, as Python's
/// `statistics.median`); NaN for an empty one.
pub fn median(v: &[f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let m = s.len() / 2;
    if s.len() % 2 == 1 {
        s[m]
    } else {
        (s[m - 1] + s[m]) / 2.0
    }
}

/// CPU time and minor faults of this process, read from `/proc/self/stat` (Linux only).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProcUsage {
    /// User CPU seconds.
    pub user_s: f64,
    /// System CPU seconds.
    pub sys_s: f64,
    /// Minor page faults.
    pub minflt: u64,
}

impl ProcUsage {
    /// The current usage, `None` where `/proc` is unavailable or unreadable.
    pub fn now() -> Option<ProcUsage> {
        Self::parse(&std::fs::read_to_string("/proc/self/stat").ok()?)
    }

    /// Parses a `/proc/<pid>/stat` line: fields 10 (minflt), 14 (utime) and 15 (stime), counted
    /// after the parenthesized command name, which may itself hold spaces.
    pub fn parse(stat: &str) -> Option<ProcUsage> {
        let rest = &stat[stat.rfind(')')? + 1..];
        let f: Vec<&str> = rest.split_whitespace().collect();
        // `rest` starts at field 3 (state), so field k is f[k - 3].
        let minflt = f.get(7)?.parse().ok()?;
        let utime: u64 = f.get(11)?.parse().ok()?;
        let stime: u64 = f.get(12)?.parse().ok()?;
        // /proc reports clock ticks of USER_HZ, which Linux fixes at 100 for user space.
        Some(ProcUsage { user_s: utime as f64 / 100.0, sys_s: stime as f64 / 100.0, minflt })
    }
}

/// Resident memory of this process, from `/proc/self/status` (Linux only).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rss {
    /// Current resident set (`VmRSS`), MiB.
    pub current_mib: f64,
    /// Peak resident set since start or the last reset (`VmHWM`), MiB.
    pub peak_mib: f64,
}

impl Rss {
    /// The current values, `None` where `/proc` is unavailable.
    pub fn now() -> Option<Rss> {
        Self::parse(&std::fs::read_to_string("/proc/self/status").ok()?)
    }

    /// Parses the `VmRSS` and `VmHWM` lines (kB) of a `/proc/<pid>/status` text.
    pub fn parse(status: &str) -> Option<Rss> {
        let kb = |key: &str| -> Option<f64> {
            let line = status.lines().find(|l| l.starts_with(key))?;
            line[key.len()..].trim().trim_end_matches("kB").trim().parse::<f64>().ok()
        };
        Some(Rss { current_mib: kb("VmRSS:")? / 1024.0, peak_mib: kb("VmHWM:")? / 1024.0 })
    }

    /// Resets the peak to the current resident set (`5` into `/proc/self/clear_refs`, Linux
    /// 4.0+); `false` where the kernel does not allow it.
    pub fn reset_peak() -> bool {
        std::fs::write("/proc/self/clear_refs", "5").is_ok()
    }
}

/// Runs `step(i)` for `i` in `0..warmup + steps`, timing the last `steps` calls, and summarizes
/// them with CPU usage over the timed part and peak resident memory over all.
pub fn time_steps(
    warmup: usize,
    steps: usize,
    imgs_per_step: usize,
    mut step: impl FnMut(usize) -> Result<()>,
) -> Result<RowStats> {
    let peak_reset = Rss::reset_peak();
    let rss_before = Rss::now();
    let start = Instant::now();
    for i in 0..warmup {
        step(i)?;
    }
    let before = ProcUsage::now();
    let mut times = Vec::with_capacity(steps);
    for i in warmup..warmup + steps {
        let t0 = Instant::now();
        step(i)?;
        times.push(t0.elapsed().as_secs_f64());
    }
    let after = ProcUsage::now();
    let rss_after = Rss::now();
    let mut stats = RowStats::from_seconds(&times, imgs_per_step);
    stats.rss_before_mib = rss_before.map(|r| r.current_mib);
    stats.peak_rss_mib = rss_after.map(|r| r.peak_mib);
    stats.peak_reset = peak_reset;
    if let (Some(a), Some(b)) = (before, after) {
        stats.timed_user_s = Some(((b.user_s - a.user_s) * 1e3).round() / 1e3);
        stats.timed_sys_s = Some(((b.sys_s - a.sys_s) * 1e3).round() / 1e3);
        stats.timed_minflt = Some(b.minflt.saturating_sub(a.minflt));
    }
    stats.wall_s = start.elapsed().as_secs_f64();
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rss_parses_status_lines_and_the_peak_resets() {
        let status =
            "Name:\tsotl-nas\nVmPeak:\t  999999 kB\nVmHWM:\t   20480 kB\nVmRSS:\t   10240 kB\n";
        assert_eq!(Rss::parse(status), Some(Rss { current_mib: 10.0, peak_mib: 20.0 }));
        assert_eq!(Rss::parse("VmRSS: 1 kB\n"), None);
        // 512 MiB touched then freed raises the peak; a reset brings it back near the current
        // (margins wide enough for what tests running beside this one allocate).
        if Rss::reset_peak() {
            let base = Rss::now().unwrap();
            let big = vec![1u8; 512 << 20];
            std::hint::black_box(&big);
            drop(big);
            let raised = Rss::now().unwrap();
            assert!(raised.peak_mib >= base.current_mib + 500.0, "{base:?} {raised:?}");
            assert!(Rss::reset_peak());
            let after = Rss::now().unwrap();
            assert!(after.peak_mib < raised.peak_mib - 256.0, "{raised:?} {after:?}");
        }
    }

    #[test]
    fn summary_matches_hand_computed_values() {
        // 1, 2, 4, 5 ms: median 3, mean 3, sample variance (4 + 1 + 1 + 4) / 3 = 10/3.
        let s = RowStats::from_seconds(&[0.001, 0.004, 0.002, 0.005], 64);
        assert!((s.median_ms - 3.0).abs() < 1e-9);
        assert!((s.mean_ms - 3.0).abs() < 1e-9);
        assert!((s.stdev_ms - (10.0f64 / 3.0).sqrt()).abs() < 1e-9);
        assert_eq!((s.min_ms, s.max_ms, s.steps), (1.0, 5.0, 4));
        assert!((s.imgs_per_s - 64.0 / 0.003).abs() < 1e-6);
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(RowStats::from_seconds(&[0.002], 1).stdev_ms, 0.0);
    }

    #[test]
    fn proc_stat_fields_are_read_after_the_command_name() {
        // A command name with spaces and a parenthesis; minflt 1234, utime 250, stime 7.
        let line =
            "42 (my (odd) cmd) R 1 42 42 0 -1 4194304 1234 0 5 0 250 7 0 0 20 0 3 0 100 1000 50";
        let u = ProcUsage::parse(line).unwrap();
        assert_eq!(u.minflt, 1234);
        assert!((u.user_s - 2.5).abs() < 1e-12 && (u.sys_s - 0.07).abs() < 1e-12);
        assert!(ProcUsage::parse("garbage").is_none());
    }

    #[test]
    fn warmup_steps_are_run_but_not_timed() {
        let mut seen = Vec::new();
        let s = time_steps(2, 3, 8, |i| {
            seen.push(i);
            Ok(())
        })
        .unwrap();
        assert_eq!(seen, vec![0, 1, 2, 3, 4]);
        assert_eq!((s.steps, s.step_ms.len(), s.imgs_per_step), (3, 3, 8));
    }
}
