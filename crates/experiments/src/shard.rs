//! Finetune-and-rank sharded over job-array tasks (Slurm, Kubernetes indexed jobs): a plan
//! fixes the pool and stamps it with the supernet's and config's hashes; each task finetunes
//! the candidates of its shard (candidate id mod N), one result file each, written atomically
//! and skipped when already there; a merge checks that every result is present and of this
//! plan, then ranks exactly as an unsharded `oneshot rank` does.
//!
//! Finetuning a candidate depends only on the supernet, the config and the cell (every
//! candidate restarts from the supernet's weights and sees the same minibatches), so the merged
//! picks and rankings are the same whatever the number of shards.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use sotl_nn::GenotypeOf;
use sotl_search::{load_supernet, CandidateResult, Finetuner, OneShotConfig, SpaceChoice};

use crate::data::load_splits;
use crate::oneshot::{build_net, pool_for, rank_outputs, with_supernet, OneShotNet, RankSummary};
use crate::{read_json, Env};

/// The plan file a sharded ranking works from.
pub const PLAN_FILE: &str = "plan.json";

/// A sharded ranking's plan: the pool and what the results must be made from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RankPlan {
    /// Format version.
    pub version: u32,
    /// The supernet checkpoint, as given.
    pub supernet: String,
    /// MD5 of the checkpoint file.
    pub supernet_md5: String,
    /// MD5 of the run config (`config.json` beside the checkpoint, as JSON).
    pub config_md5: String,
    /// The search space.
    pub space: SpaceChoice,
    /// The seed every candidate's finetuning uses (the same for all: every candidate sees the
    /// same minibatches, which is what makes their SoTLs comparable).
    pub finetune_seed: u64,
    /// The seed the pool was drawn with.
    pub pool_seed: u64,
    /// Candidate `id`'s cell, by id.
    pub candidates: Vec<String>,
    /// MD5 of everything above: the stamp every result file carries.
    pub hash: String,
}

impl RankPlan {
    fn content_hash(&self) -> String {
        let mut p = self.clone();
        p.hash.clear();
        md5_hex(&serde_json::to_vec(&p).expect("a plan serializes"))
    }
}

fn md5_hex(bytes: &[u8]) -> String {
    format!("{:x}", md5::compute(bytes))
}

/// Which candidates a task finetunes: those whose id mod `count` is `index`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Shard {
    /// This task's shard.
    pub index: usize,
    /// Shards in all.
    pub count: usize,
}

impl Shard {
    /// Reads `i/N`, `auto/N` (the index from `SLURM_ARRAY_TASK_ID` or Kubernetes'
    /// `JOB_COMPLETION_INDEX`) or `auto` (also the count, from a Slurm array `0..N-1`).
    pub fn parse(s: &str) -> Result<Shard> {
        let var = |k: &str| std::env::var(k).ok().and_then(|v| v.trim().parse::<usize>().ok());
        let (i, n) = match s.trim().split_once('/') {
            Some((i, n)) => (i.trim(), Some(n.trim())),
            None => (s.trim(), None),
        };
        let count = match n {
            Some(n) => n
                .parse::<usize>()
                .with_context(|| format!("--shard {s}: {n:?} is not a shard count"))?,
            None if i == "auto" => {
                let (Some(c), Some(lo), Some(hi)) = (
                    var("SLURM_ARRAY_TASK_COUNT"),
                    var("SLURM_ARRAY_TASK_MIN"),
                    var("SLURM_ARRAY_TASK_MAX"),
                ) else {
                    bail!("--shard auto needs a Slurm array job (SLURM_ARRAY_TASK_COUNT/MIN/MAX); elsewhere give the count: --shard auto/N or i/N");
                };
                if lo != 0 || hi.checked_add(1) != Some(c) {
                    bail!("--shard auto reads the shard count from the array {lo}-{hi}, which is not 0..N-1; give it: --shard auto/N");
                }
                c
            }
            None => bail!("--shard {s}: expected i/N, auto/N or auto"),
        };
        let index = if i == "auto" {
            var("SLURM_ARRAY_TASK_ID").or_else(|| var("JOB_COMPLETION_INDEX")).context(
                "--shard auto: neither SLURM_ARRAY_TASK_ID nor JOB_COMPLETION_INDEX is set; give the shard as i/N",
            )?
        } else {
            i.parse::<usize>()
                .with_context(|| format!("--shard {s}: {i:?} is not a shard index"))?
        };
        if count == 0 || index >= count {
            bail!("--shard {index}/{count}: the index must be below the count");
        }
        Ok(Shard { index, count })
    }

    /// Whether candidate `id` is this shard's.
    pub fn holds(&self, id: usize) -> bool {
        id % self.count == self.index
    }
}

/// How a study (a grid of methods or trainers x seeds) runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GridMode {
    /// Every cell, then the tables.
    All,
    /// One job-array task: the cells whose grid index the shard holds; no tables.
    Shard(Shard),
    /// No cell runs: every cell must have its result; then the tables.
    Merge,
}

impl GridMode {
    /// The mode the `--shard SPEC` and `--merge` flags ask for (neither: the whole grid).
    pub fn from_flags(shard: Option<&str>, merge: bool) -> Result<GridMode> {
        match (shard, merge) {
            (Some(_), true) => bail!("--shard runs one task's cells and --merge none; give one"),
            (Some(s), false) => Ok(GridMode::Shard(Shard::parse(s)?)),
            (None, true) => Ok(GridMode::Merge),
            (None, false) => Ok(GridMode::All),
        }
    }
}

/// Records a study's grid in `path` (`grid.json`). A shard or a merge refuses a folder whose
/// recorded grid differs, naming `what` must match: they would cut different cells.
pub(crate) fn claim_grid<G>(path: &Path, grid: &G, mode: GridMode, what: &str) -> Result<()>
where
    G: Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
{
    if mode != GridMode::All && path.exists() {
        let old: G = read_json(path)?;
        if &old != grid {
            bail!(
                "{} holds another grid ({old:?}); shards and the merge must name the same {what}",
                path.display()
            );
        }
    }
    sotl_report::write_json_atomic(path, grid)?;
    Ok(())
}

/// The run config beside a supernet checkpoint.
fn supernet_config(supernet: &Path) -> Result<OneShotConfig> {
    let dir = supernet.parent().map(Path::to_path_buf).unwrap_or_default();
    read_json(&dir.join("config.json")).with_context(|| {
        format!(
            "a plan needs the config.json written by `oneshot train` beside {}",
            supernet.display()
        )
    })
}

fn file_md5(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(md5_hex(&bytes))
}

/// Writes `<out>/plan.json` for ranking `pool` (default: `<out>/pool.json`, drawn from the
/// config's pool seed if absent) from the supernet checkpoint `supernet`. An existing plan is
/// kept when it is the same plan, refused when it differs.
pub fn plan_rank(supernet: &Path, pool: Option<&Path>, out: &Path) -> Result<RankPlan> {
    let cfg = supernet_config(supernet)?;
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let candidates = with_supernet!(cfg, S => pool_for(&cfg, &S::space_of(&cfg), pool, out)?
        .archs
        .iter()
        .map(|a| a.to_string())
        .collect::<Vec<_>>());
    let mut plan = RankPlan {
        version: 1,
        // Absolute, so tasks started from another folder find it.
        supernet: std::fs::canonicalize(supernet)
            .with_context(|| format!("cannot find {}", supernet.display()))?
            .display()
            .to_string(),
        supernet_md5: file_md5(supernet)?,
        config_md5: md5_hex(&serde_json::to_vec(&cfg)?),
        space: cfg.space,
        finetune_seed: cfg.finetune.seed,
        pool_seed: cfg.pool.seed,
        candidates,
        hash: String::new(),
    };
    plan.hash = plan.content_hash();
    let path = out.join(PLAN_FILE);
    if path.exists() {
        let old = read_plan(&path)?;
        if old.hash != plan.hash {
            bail!(
                "{} holds another plan (hash {}, this one {}); use another --out",
                path.display(),
                old.hash,
                plan.hash
            );
        }
        return Ok(old);
    }
    sotl_report::write_json_atomic(&path, &plan)?;
    Ok(plan)
}

/// Reads a plan, checking its stamp.
pub fn read_plan(path: &Path) -> Result<RankPlan> {
    let plan: RankPlan = read_json(path)?;
    if plan.hash != plan.content_hash() {
        bail!(
            "{} was edited after it was written (its hash does not match its content); plan again",
            path.display()
        );
    }
    Ok(plan)
}

/// One candidate's result file.
#[derive(Debug, Serialize, Deserialize)]
struct Stamped<R> {
    plan: String,
    result: R,
}

fn candidate_path(dir: &Path, id: usize) -> PathBuf {
    dir.join("candidates").join(format!("{id:05}.json"))
}

/// Whether candidate `id` has a result of this plan.
fn has_result(dir: &Path, plan: &RankPlan, id: usize) -> bool {
    let p = candidate_path(dir, id);
    std::fs::read(&p)
        .ok()
        .and_then(|b| serde_json::from_slice::<Stamped<serde_json::Value>>(&b).ok())
        .is_some_and(|s| {
            s.plan == plan.hash
                && s.result["index"].as_u64() == Some(id as u64)
                && s.result["arch"].as_str() == Some(plan.candidates[id].as_str())
        })
}

/// What a shard task did.
#[derive(Debug, Clone, Serialize)]
pub struct ShardSummary {
    /// The shard.
    pub shard: Shard,
    /// Candidates of the shard.
    pub candidates: usize,
    /// Of them, finetuned now (the others had results already).
    pub finetuned: usize,
}

/// Finetunes the candidates of `shard` that lack a result, beside the plan (`candidates/`).
pub fn rank_shard(env: &Env, plan_path: &Path, shard: Shard) -> Result<ShardSummary> {
    let plan = read_plan(plan_path)?;
    let dir = plan_path.parent().map(Path::to_path_buf).unwrap_or_default();
    let (supernet, cfg) = plan_sources(&plan)?;
    with_supernet!(cfg, S => rank_shard_on::<S>(env, &cfg, &plan, &dir, &supernet, shard))
}

/// The plan's checkpoint and config, refused when either changed since the plan was made (a
/// task or a merge on other weights or settings would not be this plan's ranking).
fn plan_sources(plan: &RankPlan) -> Result<(PathBuf, OneShotConfig)> {
    let supernet = PathBuf::from(&plan.supernet);
    let cfg = supernet_config(&supernet)?;
    if md5_hex(&serde_json::to_vec(&cfg)?) != plan.config_md5 {
        bail!(
            "the config beside {} changed since the plan was made; plan again",
            supernet.display()
        );
    }
    if file_md5(&supernet)? != plan.supernet_md5 {
        bail!(
            "{} is not the checkpoint the plan was made from (its MD5 differs); plan again",
            supernet.display()
        );
    }
    Ok((supernet, cfg))
}

fn rank_shard_on<S: OneShotNet>(
    env: &Env,
    cfg: &OneShotConfig,
    plan: &RankPlan,
    dir: &Path,
    supernet: &Path,
    shard: Shard,
) -> Result<ShardSummary> {
    let mine: Vec<usize> = (0..plan.candidates.len()).filter(|&id| shard.holds(id)).collect();
    let todo: Vec<usize> = mine.iter().copied().filter(|&id| !has_result(dir, plan, id)).collect();
    let summary = ShardSummary { shard, candidates: mine.len(), finetuned: todo.len() };
    if todo.is_empty() {
        return Ok(summary);
    }
    let data = load_splits(env, &cfg.data)?;
    let (_vs, net) = build_net::<S>(env, cfg, &data)?;
    load_supernet(&net, supernet)?;
    let mut ft = Finetuner::new(&net, cfg.finetune, cfg.train.trainer.kind)?;
    let bar = env.progress(todo.len() as u64, &format!("shard {}/{}", shard.index, shard.count));
    std::fs::create_dir_all(dir.join("candidates"))?;
    for (k, &id) in todo.iter().enumerate() {
        let arch: GenotypeOf<S> =
            plan.candidates[id].parse().map_err(|e| anyhow::anyhow!("candidate {id}: {e}"))?;
        let r = ft.finetune(id, &arch, &data.train, &data.val)?;
        let stamped = Stamped { plan: plan.hash.clone(), result: r };
        sotl_report::write_json_atomic(&candidate_path(dir, id), &stamped)?;
        bar.set_position(k as u64 + 1);
    }
    bar.finish();
    Ok(summary)
}

/// Merges the shards' results beside the plan into the outputs of an unsharded `oneshot rank`
/// (results.jsonl / .csv, picks, the ranking where there is ground truth); refuses, naming
/// them, candidates without a result or with a result of another plan.
pub fn merge_rank(env: &Env, plan_path: &Path) -> Result<RankSummary> {
    let plan = read_plan(plan_path)?;
    let dir = plan_path.parent().map(Path::to_path_buf).unwrap_or_default();
    let (_, cfg) = plan_sources(&plan)?;
    with_supernet!(cfg, S => merge_on::<S>(env, &cfg, &plan, &dir))
}

fn merge_on<S: OneShotNet>(
    env: &Env,
    cfg: &OneShotConfig,
    plan: &RankPlan,
    dir: &Path,
) -> Result<RankSummary> {
    let mut results: Vec<CandidateResult<GenotypeOf<S>>> =
        Vec::with_capacity(plan.candidates.len());
    let (mut missing, mut foreign) = (Vec::new(), Vec::new());
    for id in 0..plan.candidates.len() {
        let p = candidate_path(dir, id);
        let Ok(bytes) = std::fs::read(&p) else {
            missing.push(id);
            continue;
        };
        let s: Stamped<CandidateResult<GenotypeOf<S>>> = serde_json::from_slice(&bytes)
            .with_context(|| {
                format!(
                    "{} is not a candidate result; delete it and rank its shard again",
                    p.display()
                )
            })?;
        if s.plan != plan.hash
            || s.result.index != id
            || s.result.arch.to_string() != plan.candidates[id]
        {
            foreign.push(id);
            continue;
        }
        results.push(s.result);
    }
    if !missing.is_empty() {
        bail!("no result for candidate(s) {} of {}; rank their shards (`sotl-nas shards missing` lists them)", array_spec(&missing), plan.candidates.len());
    }
    if !foreign.is_empty() {
        bail!(
            "candidate(s) {} hold results of another plan; delete them and rank their shards again",
            array_spec(&foreign)
        );
    }
    // The same results file an unsharded rank leaves, one JSON line per candidate.
    let mut lines = String::new();
    for r in &results {
        lines.push_str(&serde_json::to_string(r)?);
        lines.push('\n');
    }
    sotl_report::write_atomic(&dir.join("results.jsonl"), lines.as_bytes())?;
    rank_outputs::<S>(env, cfg, &results, dir)
}

/// The shard indices (of `count`) with a candidate still lacking a result of the plan.
pub fn missing_shards(plan_path: &Path, count: usize) -> Result<Vec<usize>> {
    if count == 0 {
        bail!("--shards must be at least 1");
    }
    let plan = read_plan(plan_path)?;
    let dir = plan_path.parent().map(Path::to_path_buf).unwrap_or_default();
    Ok((0..count)
        .filter(|&i| {
            (0..plan.candidates.len()).any(|id| id % count == i && !has_result(&dir, &plan, id))
        })
        .collect())
}

/// The shard indices (of `count`) of a study folder (`darts` or `oneshot run`) whose grid cells
/// still lack a result: a cell with grid index `g` is shard `g mod count`'s.
pub fn missing_study_shards(dir: &Path, count: usize) -> Result<Vec<usize>> {
    if count == 0 {
        bail!("--shards must be at least 1");
    }
    let grid = dir.join("grid.json");
    let cells = if let Ok(g) = read_json::<crate::oneshot::StudyGrid>(&grid) {
        g.missing(dir)
    } else {
        let g: crate::darts::DartsGrid = read_json(&grid).with_context(|| {
            format!("{} has no grid.json of a darts or oneshot run study", dir.display())
        })?;
        let cfg = sotl_search::DartsRunConfig {
            methods: g.methods,
            seeds: g.seeds,
            seed_base: g.seed_base,
            ..Default::default()
        };
        crate::darts::darts_missing_cells(&cfg, dir)
    };
    let mut shards: Vec<usize> = cells.iter().map(|g| g % count).collect();
    shards.sort_unstable();
    shards.dedup();
    Ok(shards)
}

/// Indices in the form `sbatch --array` takes: ascending, runs joined as `a-b`, e.g. `0,2-4`.
pub fn array_spec(ids: &[usize]) -> String {
    let mut ids = ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    let mut parts = Vec::new();
    let mut k = 0;
    while k < ids.len() {
        let start = ids[k];
        while k + 1 < ids.len() && ids[k + 1] == ids[k] + 1 {
            k += 1;
        }
        parts.push(if ids[k] == start { start.to_string() } else { format!("{start}-{}", ids[k]) });
        k += 1;
    }
    parts.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn array_specs_are_what_sbatch_takes() {
        assert_eq!(array_spec(&[]), "");
        assert_eq!(array_spec(&[3]), "3");
        assert_eq!(array_spec(&[0, 2, 3, 4, 7, 9, 10]), "0,2-4,7,9-10");
        assert_eq!(array_spec(&[5, 1, 1, 2]), "1-2,5");
    }

    #[test]
    fn explicit_shards_parse_and_bad_ones_are_refused() {
        assert_eq!(Shard::parse("2/4").unwrap(), Shard { index: 2, count: 4 });
        assert!(Shard { index: 2, count: 4 }.holds(6) && !Shard { index: 2, count: 4 }.holds(7));
        for bad in ["4/4", "x/4", "1/0", "1", "1/y"] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
    }
}
