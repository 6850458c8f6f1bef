//! Query-based baselines on the NAS-Bench-201 tables (random search, regularized evolution):
//! many seeded runs in a resumable folder, then their summary.

use std::path::Path;
use std::time::Instant;

use anyhow::Result;
use serde::de::DeserializeOwned;
use serde::Serialize;
use sotl_bench::{
    run_one, run_seed, summarize, Nb201Bench, Nb201Dataset, QueryBaseline, RunResult, RunsConfig,
    Summary,
};

use crate::{Env, RunDir};

/// `config.json` of a baseline run folder.
#[derive(Serialize, serde::Deserialize, PartialEq)]
#[serde(bound(deserialize = "C: DeserializeOwned + Default"))]
struct SavedConfig<C> {
    algorithm: String,
    config: RunsConfig<C>,
}

/// What a baseline study reports.
#[derive(Debug, Serialize)]
pub struct BaselineOut {
    /// `rs` or `rea`.
    pub algorithm: &'static str,
    /// The dataset selected on.
    pub dataset: Nb201Dataset,
    /// Independent runs.
    pub runs: usize,
    /// Base seed.
    pub seed: u64,
    /// Queries per run.
    pub budget: usize,
    /// Test accuracy of the picks over the runs.
    pub summary: Summary,
    /// The run folder.
    pub out: String,
    /// Runs found finished in the folder and reused.
    pub reused_runs: usize,
    /// Wall-clock seconds of this invocation.
    pub wall_seconds: f64,
}

impl BaselineOut {
    /// The human summary: setup, test accuracy of the picks, selection value, files written.
    pub fn to_text(&self) -> String {
        let s = &self.summary;
        format!(
            "{} on {}: {} runs x {} queries, seed {}\n\
             200-epoch test accuracy of the picks: {:.2} +- {:.2} % (min {:.2}, max {:.2})\n\
             mean selection value (minibench {}_valid): {:.2} %\n\
             wrote {} ({} run file(s), summary.json, summary.md) in {:.2} s\n",
            self.algorithm,
            self.dataset.name(),
            self.runs,
            self.budget,
            self.seed,
            s.mean_test_accuracy,
            s.std_test_accuracy,
            s.min_test_accuracy,
            s.max_test_accuracy,
            self.dataset.column_prefix(),
            s.mean_selection,
            self.out,
            self.runs,
            self.wall_seconds
        )
    }
}

/// The NAS-Bench-201 tables under the data root (required here: the baselines query them).
pub fn require_bench(env: &Env) -> Result<Nb201Bench> {
    Ok(Nb201Bench::load(env.require_data_root()?)?)
}

/// Runs (or resumes) `cfg.runs` seeded runs of a query baseline in `out`: config.json, one
/// run-NNN.json per run (reused when present and of the same algorithm and seed), summary.json
/// and summary.md.
pub fn run_baseline<C>(env: &Env, cfg: RunsConfig<C>, out: &Path) -> Result<BaselineOut>
where
    C: QueryBaseline + Serialize + DeserializeOwned + PartialEq + Copy + Default,
{
    let t0 = Instant::now();
    cfg.validate()?;
    let algo = cfg.search.name();
    let bench = require_bench(env)?;
    let dir = RunDir::claim(out, &SavedConfig { algorithm: algo.to_string(), config: cfg })?;
    let bar = env.progress(cfg.runs as u64, &format!("{algo} {}", cfg.search.dataset().name()));
    let mut results = Vec::with_capacity(cfg.runs);
    let mut reused = 0;
    for r in 0..cfg.runs {
        let seed = run_seed(cfg.seed, r);
        let name = format!("run-{r:03}.json");
        let res = match previous_run(&dir.path(&name), algo, seed) {
            Some(prev) => {
                reused += 1;
                prev
            }
            None => {
                let res = run_one(&bench, &cfg.search, r, seed)?;
                dir.write_json(&name, &res)?;
                res
            }
        };
        results.push(res);
        bar.set_position(r as u64 + 1);
    }
    bar.finish();
    let summary = summarize(&results)?;
    dir.write_json("summary.json", &summary)?;
    dir.write_bytes("summary.md", markdown(algo, &cfg, &summary).as_bytes())?;
    Ok(BaselineOut {
        algorithm: algo,
        dataset: cfg.search.dataset(),
        runs: cfg.runs,
        seed: cfg.seed,
        budget: cfg.search.budget(),
        summary,
        out: out.display().to_string(),
        reused_runs: reused,
        wall_seconds: t0.elapsed().as_secs_f64(),
    })
}

/// A finished run in the output folder, if it is the same algorithm and seed.
fn previous_run(path: &Path, algo: &str, seed: u64) -> Option<RunResult> {
    let text = std::fs::read_to_string(path).ok()?;
    let r: RunResult = serde_json::from_str(&text).ok()?;
    (r.algorithm == algo && r.seed == seed).then_some(r)
}

fn markdown<C: QueryBaseline + Serialize>(algo: &str, cfg: &RunsConfig<C>, s: &Summary) -> String {
    let search = serde_json::to_string(&cfg.search).unwrap_or_default();
    format!(
        "# NAS-Bench-201 {algo} on {dataset}\n\n\
         Selection: minibench `{prefix}_valid`; reported: 200-epoch `{prefix}_test` of the pick.\n\n\
         | runs | queries/run | seed | mean test acc (%) | std | min | max | mean selection (%) |\n\
         | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n\
         | {runs} | {budget} | {seed} | {mean:.2} | {std:.2} | {min:.2} | {max:.2} | {sel:.2} |\n\n\
         Search config: `{search}`\n",
        dataset = cfg.search.dataset().name(),
        prefix = cfg.search.dataset().column_prefix(),
        runs = s.runs,
        budget = cfg.search.budget(),
        seed = cfg.seed,
        mean = s.mean_test_accuracy,
        std = s.std_test_accuracy,
        min = s.min_test_accuracy,
        max = s.max_test_accuracy,
        sel = s.mean_selection,
    )
}
