//! The fixed pool of candidate architectures that every trainer and seed is scored on.

use std::path::Path;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use sotl_space::{Genotype, Nb201Arch, Nb201Space, SearchSpace};

use super::{OneShotError, OneShotResult};

/// A pool of candidate architectures, sampled once with its own seed and saved, so every
/// supernet trainer and every supernet seed is ranked on exactly the same cells (thesis 4.2:
/// "The architectures are then kept fixed across all experiments").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[serde(bound(serialize = "G: Serialize", deserialize = "G: serde::de::DeserializeOwned"))]
pub struct FinetunePool<G = Nb201Arch> {
    /// The seed the pool was drawn with.
    pub seed: u64,
    /// The candidates, in finetuning order. Distinct.
    pub archs: Vec<G>,
}

impl FinetunePool {
    /// Draws `size` distinct NAS-Bench-201 cells (see [`FinetunePool::sample_from`]).
    pub fn sample(size: usize, seed: u64) -> OneShotResult<Self> {
        Self::sample_from(&Nb201Space, size, seed)
    }
}

impl<G: Genotype> FinetunePool<G> {
    /// Draws `size` distinct genotypes uniformly from `space` with a ChaCha8 stream seeded by
    /// `seed` (duplicates are redrawn, so the pool has exactly `size` of them).
    pub fn sample_from<S: SearchSpace<Genotype = G>>(
        space: &S,
        size: usize,
        seed: u64,
    ) -> OneShotResult<Self> {
        if size == 0 || size as u128 > space.size() {
            return Err(OneShotError::config(
                "pool.size",
                format!("is {size}; expected 1..={} (the size of {})", space.size(), space.name()),
            ));
        }
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut seen = std::collections::HashSet::with_capacity(size);
        let mut archs = Vec::with_capacity(size);
        while archs.len() < size {
            let a = space.sample(&mut rng);
            if seen.insert(a.clone()) {
                archs.push(a);
            }
        }
        Ok(FinetunePool { seed, archs })
    }
}

impl<G: Genotype> FinetunePool<G> {
    /// Number of candidates.
    pub fn len(&self) -> usize {
        self.archs.len()
    }

    /// Whether the pool is empty.
    pub fn is_empty(&self) -> bool {
        self.archs.is_empty()
    }

    /// Reads a pool saved by [`FinetunePool::to_json`]; rejects duplicates and empty pools.
    pub fn load(path: &Path) -> OneShotResult<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| OneShotError::Io {
            action: "cannot read pool file",
            path: path.to_path_buf(),
            source,
        })?;
        let pool: FinetunePool<G> = serde_json::from_str(&text).map_err(|source| {
            OneShotError::Json { what: "pool file", path: path.to_path_buf(), source }
        })?;
        pool.validate()
            .map_err(|reason| OneShotError::Checkpoint { path: path.to_path_buf(), reason })?;
        Ok(pool)
    }

    /// The pool as pretty JSON (what [`FinetunePool::load`] reads).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a pool always serializes")
    }

    fn validate(&self) -> Result<(), String> {
        if self.archs.is_empty() {
            return Err("the pool has no architectures".into());
        }
        let distinct: std::collections::HashSet<_> = self.archs.iter().collect();
        if distinct.len() != self.archs.len() {
            return Err("the pool lists an architecture twice".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_pool_and_distinct_cells() {
        let a = FinetunePool::sample(200, 7).unwrap();
        let b = FinetunePool::sample(200, 7).unwrap();
        assert_eq!(a, b);
        let c = FinetunePool::sample(200, 8).unwrap();
        assert_ne!(a.archs, c.archs);
        let distinct: std::collections::HashSet<_> = a.archs.iter().collect();
        assert_eq!(distinct.len(), 200);
    }

    #[test]
    fn json_round_trip_and_bad_files() {
        let dir = tempdir();
        let pool = FinetunePool::sample(5, 1).unwrap();
        let path = dir.join("pool.json");
        std::fs::write(&path, pool.to_json()).unwrap();
        assert_eq!(FinetunePool::<Nb201Arch>::load(&path).unwrap(), pool);

        std::fs::write(&path, "{\"seed\": 1, \"archs\": [\"|bad|\"]}").unwrap();
        let err = FinetunePool::<Nb201Arch>::load(&path).unwrap_err().to_string();
        assert!(err.contains("pool file") && err.contains("malformed"), "{err}");

        let mut dup = pool.clone();
        dup.archs.push(dup.archs[0]);
        std::fs::write(&path, dup.to_json()).unwrap();
        let err = FinetunePool::<Nb201Arch>::load(&path).unwrap_err().to_string();
        assert!(err.contains("twice"), "{err}");

        assert!(FinetunePool::<Nb201Arch>::load(&dir.join("absent.json"))
            .unwrap_err()
            .to_string()
            .contains("cannot read"));
        assert!(FinetunePool::sample(0, 1).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn tempdir() -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!(
            "sotl-pool-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::create_dir_all(&d).unwrap();
        d
    }
}
