//! Running the selected rows in order.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use sotl_nn::{standalone_mflops, standalone_param_count, Nb201Supernet};
use sotl_space::Nb201Arch;
use tch::nn::VarStore;
use tch::Device;

use crate::report::cpu_name;
use crate::{
    darts_row, data_row, pool_archs, pool_row, single_path_eval_row, single_path_train_row,
    standalone_rows, BenchInputs, BenchRow, EnvInfo, ModelInfo, PerfConfig, PerfReport,
    ReferenceRun, ReportedConfig, Result, RowResults, RowStats, REFERENCE_FIXED_ARCH_SEED0,
};

/// Called when a row starts and when it ends (with its timings).
#[derive(Debug)]
pub enum PerfEvent<'a> {
    /// A row is about to run.
    Started(BenchRow),
    /// A row finished.
    Finished(BenchRow, &'a RowStats),
}

/// The fixed cell in force: the config's, else the reference's, else the reference's seed-0 cell.
pub fn resolve_fixed_arch(cfg: &PerfConfig, reference: Option<&ReferenceRun>) -> Nb201Arch {
    cfg.fixed_arch
        .or_else(|| reference.map(|r| r.fixed_arch))
        .unwrap_or_else(|| REFERENCE_FIXED_ARCH_SEED0.parse().expect("constant is a valid cell"))
}

/// The cells the `spos` row trains, warm-up steps first: the reference's `sampled_archs` when
/// given, else `warmup + steps` uniform cells from ChaCha8 seeded with `seed + 1` (the reference
/// seeds Python's `random` with `seed + 1`; the cells differ from its, only the distribution is
/// the same).
pub fn spos_archs(cfg: &PerfConfig, reference: Option<&ReferenceRun>) -> Vec<Nb201Arch> {
    let n = cfg.warmup + cfg.steps;
    match reference.and_then(|r| r.spos_archs.as_ref()) {
        Some(list) => list.iter().take(n).copied().collect(),
        None => {
            let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed.wrapping_add(1));
            (0..n).map(|_| Nb201Arch::sample(&mut rng)).collect()
        }
    }
}

/// Runs `cfg.rows` on `cfg.device` with `cfg.threads` libtorch threads and reports their timings.
///
/// With a `reference` (the harness' JSON), its settings must match `cfg` ([`ReferenceRun::check`]),
/// `spos` replays its `sampled_archs` and the fixed cell is its `fixed_arch` unless `cfg` names one.
/// Sets libtorch's global thread count and reseeds its generator.
pub fn run_nb201(
    cfg: &PerfConfig,
    reference: Option<&ReferenceRun>,
    on_event: &mut dyn FnMut(PerfEvent<'_>),
) -> Result<PerfReport> {
    cfg.validate()?;
    if let Some(r) = reference {
        r.check(cfg)?;
    }
    tch::set_num_threads(cfg.threads);
    sotl_nn::set_cpu_layout(cfg.layout);
    let net_cfg = cfg.net_config();
    let fixed = resolve_fixed_arch(cfg, reference);
    let model = model_info(cfg, &fixed)?;
    let inputs = BenchInputs::new(cfg);
    let mut results = RowResults::default();
    let finish = |row: BenchRow,
                  stats: RowStats,
                  results: &mut RowResults,
                  on_event: &mut dyn FnMut(PerfEvent<'_>)| {
        on_event(PerfEvent::Finished(row, &stats));
        results.0.push((row, stats));
    };
    let wants = |r| cfg.rows.contains(&r);
    for &row in &cfg.rows {
        match row {
            BenchRow::StandaloneEval if wants(BenchRow::StandaloneTrain) => continue,
            _ => {}
        }
        on_event(PerfEvent::Started(row));
        match row {
            BenchRow::Darts => finish(row, darts_row(cfg, &inputs)?, &mut results, on_event),
            BenchRow::Spos => {
                let archs = spos_archs(cfg, reference);
                let mut stats = single_path_train_row(cfg, &inputs, "spos", |i| archs[i])?;
                stats.sampled_archs = Some(archs);
                finish(row, stats, &mut results, on_event);
            }
            BenchRow::Finetune => finish(
                row,
                single_path_train_row(cfg, &inputs, "finetune", |_| fixed)?,
                &mut results,
                on_event,
            ),
            BenchRow::Pool => {
                let stats = pool_row(cfg, &pool_archs(cfg, reference))?;
                finish(row, stats, &mut results, on_event);
            }
            BenchRow::Eval => {
                finish(row, single_path_eval_row(cfg, &inputs, &fixed)?, &mut results, on_event)
            }
            // Like the reference, one network serves both standalone rows: eval runs after training.
            BenchRow::StandaloneTrain | BenchRow::StandaloneEval => {
                let eval = wants(BenchRow::StandaloneEval);
                let st =
                    standalone_rows(cfg, &inputs, &fixed, row == BenchRow::StandaloneTrain, eval)?;
                if let Some(s) = st.train {
                    finish(BenchRow::StandaloneTrain, s, &mut results, on_event);
                }
                if let Some(s) = st.eval {
                    if row == BenchRow::StandaloneTrain {
                        on_event(PerfEvent::Started(BenchRow::StandaloneEval));
                    }
                    finish(BenchRow::StandaloneEval, s, &mut results, on_event);
                }
            }
            BenchRow::Data => finish(row, data_row(cfg)?, &mut results, on_event),
        }
    }
    Ok(PerfReport {
        harness: "sotl-nas perf nb201 (crates/perf)",
        config: ReportedConfig {
            device: match cfg.device {
                Device::Cuda(i) => format!("cuda:{i}"),
                _ => "cpu".to_string(),
            },
            batch: cfg.batch,
            channels: net_cfg.channels,
            cells_per_stage: net_cfg.cells_per_stage,
            num_classes: net_cfg.num_classes,
            threads: cfg.threads,
            warmup: cfg.warmup,
            steps: cfg.steps,
            seed: cfg.seed,
            grad_clip: cfg.grad_clip,
            fixed_arch: fixed,
            spos_archs_from: reference.filter(|r| r.spos_archs.is_some()).map(|r| r.path.clone()),
            data_images: cfg.data_images,
            data_batches: cfg.data_batches,
            pool_size: cfg.pool_size,
            layout: cfg.layout,
        },
        env: EnvInfo {
            libtorch: "2.11.0",
            tch: "0.24.0",
            machine: std::env::consts::ARCH,
            cpu: cpu_name(),
            os_cpu_count: std::thread::available_parallelism().ok().map(usize::from),
            torch_num_threads: tch::get_num_threads(),
        },
        model,
        results,
    })
}

/// Parameter and FLOP counts of the networks the rows time.
pub fn model_info(cfg: &PerfConfig, fixed: &Nb201Arch) -> Result<ModelInfo> {
    let net_cfg = cfg.net_config();
    let vs = VarStore::new(Device::Cpu);
    let supernet = Nb201Supernet::new(&vs.root(), &net_cfg)?;
    Ok(ModelInfo {
        supernet_params_weights: supernet.param_count(),
        fixed_arch_path_params: supernet.path_param_count(fixed),
        standalone_params: standalone_param_count(&net_cfg, fixed),
        supernet_mflops_per_img: supernet.mflops(),
        fixed_arch_mflops_per_img: supernet.path_mflops(fixed),
        standalone_mflops_per_img: standalone_mflops(&net_cfg, fixed),
    })
}
