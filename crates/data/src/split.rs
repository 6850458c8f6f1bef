//! Train/validation splits that NAS uses, as index lists saved with each run.

use std::path::Path;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::error::{DataError, Result};
use crate::io::write_atomic;

/// Indices into one dataset: the examples trained on and the examples validated on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Split {
    /// Training indices, ascending.
    pub train: Vec<i64>,
    /// Validation indices, ascending (may be empty).
    pub valid: Vec<i64>,
}

/// How a split is made, with its seed: the recipe saved beside the index lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum SplitKind {
    /// Every example trains, none validates.
    Full,
    /// NAS-Bench-201's `cifar10-valid`: half of the training set trains, half validates.
    Nb201Cifar10Valid {
        /// Seed of the per-class shuffle.
        seed: u64,
    },
    /// DARTS' search split: the first half trains, the second half validates.
    DartsHalf,
    /// A stratified validation subset of `n_valid` examples, the rest trains.
    HeldOut {
        /// Validation size.
        n_valid: usize,
        /// Seed.
        seed: u64,
    },
}

impl SplitKind {
    /// Makes the split for a dataset with these labels.
    pub fn apply(self, labels: &[i64]) -> Result<Split> {
        match self {
            SplitKind::Full => Ok(Split::full(labels.len())),
            SplitKind::Nb201Cifar10Valid { seed } => Ok(Split::halves(labels, seed)),
            SplitKind::DartsHalf => Ok(Split::darts_half(labels.len())),
            SplitKind::HeldOut { n_valid, seed } => Split::held_out(labels, n_valid, seed),
        }
    }
}

/// A uniform index in `0..=hi` (used by the shuffles; stable for a pinned `rand`).
fn below(rng: &mut ChaCha8Rng, hi: usize) -> usize {
    rng.gen_range(0..=hi as u64) as usize
}

/// Fisher-Yates shuffle driven by `rng`.
pub(crate) fn shuffle<T>(v: &mut [T], rng: &mut ChaCha8Rng) {
    for i in (1..v.len()).rev() {
        v.swap(i, below(rng, i));
    }
}

/// Indices of `labels` grouped by class (`max label + 1` groups), ascending within each.
fn by_class(labels: &[i64], among: impl Iterator<Item = i64>) -> Vec<Vec<i64>> {
    let k = labels.iter().copied().max().map_or(0, |m| m.max(0) as usize + 1);
    let mut groups = vec![Vec::new(); k];
    for i in among {
        groups[labels[i as usize].max(0) as usize].push(i);
    }
    groups
}

/// Per-class quotas summing to `n`, proportional to `sizes` (largest remainders; ties to the
/// lower class id), never above a class's size.
fn quotas(sizes: &[usize], n: usize) -> Vec<usize> {
    let total: usize = sizes.iter().sum();
    if total == 0 {
        return vec![0; sizes.len()];
    }
    let mut q: Vec<usize> = sizes.iter().map(|&s| s * n / total).collect();
    let mut rem: Vec<(usize, usize)> =
        sizes.iter().enumerate().map(|(c, &s)| ((s * n) % total, c)).collect();
    rem.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut left = n - q.iter().sum::<usize>();
    // Terminates: n <= total, so some class has room while anything is left.
    while left > 0 {
        for &(_, c) in &rem {
            if left > 0 && q[c] < sizes[c] {
                q[c] += 1;
                left -= 1;
            }
        }
    }
    q
}

/// A class-stratified sample of `n` of the indices `among` (sorted), seeded.
///
/// Each class contributes in proportion to its share of `among`; within a class the examples are
/// a seeded shuffle's first ones.
pub fn stratified_sample(labels: &[i64], among: &[i64], n: usize, seed: u64) -> Result<Vec<i64>> {
    if n > among.len() {
        return Err(DataError::invalid(
            "subset size",
            format!("{n} examples asked for, only {} available", among.len()),
        ));
    }
    if let Some(&bad) = among.iter().find(|&&i| i < 0 || i as usize >= labels.len()) {
        return Err(DataError::invalid(
            "split",
            format!("index {bad} outside 0..{}", labels.len()),
        ));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut groups = by_class(labels, among.iter().copied());
    let q = quotas(&groups.iter().map(Vec::len).collect::<Vec<_>>(), n);
    let mut out = Vec::with_capacity(n);
    for (g, k) in groups.iter_mut().zip(q) {
        shuffle(g, &mut rng);
        out.extend_from_slice(&g[..k]);
    }
    out.sort_unstable();
    Ok(out)
}

/// The sorted complement of `picked` (sorted) within `0..n`.
fn complement(n: usize, picked: &[i64]) -> Vec<i64> {
    let mut mark = vec![false; n];
    for &i in picked {
        mark[i as usize] = true;
    }
    (0..n as i64).filter(|&i| !mark[i as usize]).collect()
}

impl Split {
    /// All `n` examples train; no validation.
    pub fn full(n: usize) -> Split {
        Split { train: (0..n as i64).collect(), valid: Vec::new() }
    }

    /// A seeded, class-stratified half/half split (each class split in two, the odd example of
    /// an odd-sized class to training).
    ///
    /// This is NAS-Bench-201's `cifar10-valid` recipe: 25 000 / 25 000 of CIFAR-10's training set
    /// (Dong & Yang 2020, sec. 2.3). Their exact index list (`cifar-split.txt`) is not
    /// redistributed here, so the halves are our seeded ones, not theirs. Applied to a test set
    /// it gives their CIFAR-100 / ImageNet16-120 recipe of validating on half of the test set.
    pub fn halves(labels: &[i64], seed: u64) -> Split {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let (mut train, mut valid) = (Vec::new(), Vec::new());
        for mut g in by_class(labels, 0..labels.len() as i64) {
            shuffle(&mut g, &mut rng);
            let half = g.len().div_ceil(2);
            train.extend_from_slice(&g[..half]);
            valid.extend_from_slice(&g[half..]);
        }
        train.sort_unstable();
        valid.sort_unstable();
        Split { train, valid }
    }

    /// DARTS' search split: the first `ceil(n/2)` examples train, the rest validate, as
    /// `train_search.py` does with `train_portion = 0.5` (Liu et al. 2019). Not random: DARTS
    /// shuffles within each half while iterating, which the loader does too.
    pub fn darts_half(n: usize) -> Split {
        let h = n.div_ceil(2) as i64;
        Split { train: (0..h).collect(), valid: (h..n as i64).collect() }
    }

    /// A seeded, stratified validation subset of `n_valid` examples; all others train.
    pub fn held_out(labels: &[i64], n_valid: usize, seed: u64) -> Result<Split> {
        let all: Vec<i64> = (0..labels.len() as i64).collect();
        let valid = stratified_sample(labels, &all, n_valid, seed)?;
        Ok(Split { train: complement(labels.len(), &valid), valid })
    }

    /// This split with training (and validation) cut to stratified seeded subsets of at most
    /// `n_train` (`n_valid`) examples: `--subset N` for quick runs.
    pub fn subset(
        &self,
        labels: &[i64],
        n_train: usize,
        n_valid: usize,
        seed: u64,
    ) -> Result<Split> {
        let train = stratified_sample(labels, &self.train, n_train.min(self.train.len()), seed)?;
        let valid = stratified_sample(
            labels,
            &self.valid,
            n_valid.min(self.valid.len()),
            seed ^ 0x9e37_79b9_7f4a_7c15,
        )?;
        Ok(Split { train, valid })
    }

    /// Checks that every index is in `0..n` and that train and valid do not overlap or repeat.
    pub fn validate(&self, n: usize) -> Result<()> {
        let mut seen = vec![false; n];
        for (part, idx) in [("train", &self.train), ("valid", &self.valid)] {
            for &i in idx {
                if i < 0 || i as usize >= n {
                    return Err(DataError::invalid(
                        "split",
                        format!("{part} index {i} outside 0..{n}"),
                    ));
                }
                if std::mem::replace(&mut seen[i as usize], true) {
                    return Err(DataError::invalid(
                        "split",
                        format!("index {i} appears twice (train and valid must be disjoint)"),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Writes the split as JSON (atomically).
    pub fn save(&self, path: &Path) -> Result<()> {
        let json =
            serde_json::to_vec(self).map_err(|e| DataError::invalid("split", e.to_string()))?;
        write_atomic(path, &json)
    }

    /// Reads a split written by [`Split::save`] and checks it against a dataset of `n` examples.
    pub fn load(path: &Path, n: usize) -> Result<Split> {
        let bytes = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
        let s: Split = serde_json::from_slice(&bytes).map_err(|e| {
            DataError::corrupt(
                path,
                format!("not a split file ({{\"train\": [...], \"valid\": [...]}}): {e}"),
            )
        })?;
        s.validate(n).map_err(|e| DataError::corrupt(path, e.to_string()))?;
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(per_class: usize, classes: i64) -> Vec<i64> {
        (0..per_class as i64 * classes).map(|i| i % classes).collect()
    }

    fn count(labels: &[i64], idx: &[i64], c: i64) -> usize {
        idx.iter().filter(|&&i| labels[i as usize] == c).count()
    }

    #[test]
    fn halves_is_stratified_disjoint_and_seeded() {
        let l = labels(50, 10);
        let s = Split::halves(&l, 3);
        assert_eq!((s.train.len(), s.valid.len()), (250, 250));
        for c in 0..10 {
            assert_eq!(count(&l, &s.train, c), 25);
        }
        s.validate(l.len()).unwrap();
        assert_eq!(s, Split::halves(&l, 3));
        assert_ne!(s, Split::halves(&l, 4));
    }

    #[test]
    fn darts_half_is_first_and_second_half() {
        let s = Split::darts_half(5);
        assert_eq!(s.train, vec![0, 1, 2]);
        assert_eq!(s.valid, vec![3, 4]);
    }

    #[test]
    fn quotas_follow_largest_remainders() {
        // 7 of [5, 3, 2] (total 10): exact shares 3.5, 2.1, 1.4 -> floors 3, 2, 1, the one left
        // goes to the largest remainder (class 0).
        assert_eq!(quotas(&[5, 3, 2], 7), vec![4, 2, 1]);
        assert_eq!(quotas(&[1, 1], 2), vec![1, 1]);
    }

    #[test]
    fn held_out_and_subset() {
        let l = labels(30, 3);
        let s = Split::held_out(&l, 9, 1).unwrap();
        assert_eq!(s.valid.len(), 9);
        assert_eq!(s.train.len(), 81);
        assert!((0..3).all(|c| count(&l, &s.valid, c) == 3));
        s.validate(l.len()).unwrap();
        let q = s.subset(&l, 12, 3, 5).unwrap();
        assert_eq!((q.train.len(), q.valid.len()), (12, 3));
        assert!(q.train.iter().all(|i| s.train.contains(i)));
        assert!((0..3).all(|c| count(&l, &q.train, c) == 4));
        assert!(Split::held_out(&l, 91, 1).is_err());
    }

    #[test]
    fn validate_catches_overlap_and_range() {
        assert!(Split { train: vec![0, 1], valid: vec![1] }.validate(3).is_err());
        assert!(Split { train: vec![0, 3], valid: vec![] }.validate(3).is_err());
    }

    #[test]
    fn save_load_round_trip_and_bad_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("split.json");
        let s = Split::halves(&labels(4, 2), 0);
        s.save(&p).unwrap();
        assert_eq!(Split::load(&p, 8).unwrap(), s);
        assert!(Split::load(&p, 3).unwrap_err().to_string().contains("outside"));
        std::fs::write(&p, b"{\"train\": [0], \"oops\": []}").unwrap();
        assert!(Split::load(&p, 8).unwrap_err().to_string().contains("not a split file"));
    }

    #[test]
    fn split_kind_recipes_serialize() {
        let k = SplitKind::HeldOut { n_valid: 5, seed: 2 };
        assert_eq!(
            serde_json::to_string(&k).unwrap(),
            r#"{"kind":"held-out","n_valid":5,"seed":2}"#
        );
        assert_eq!(k.apply(&labels(10, 5)).unwrap().valid.len(), 5);
    }
}
