//! The `pool` row: finetune-and-rank throughput, candidates finetuned one after another by the
//! code `oneshot rank` runs.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use sotl_data::{synthetic, Normalization, SyntheticConfig};
use sotl_search::oneshot::{FinetuneConfig, Finetuner, Nb201PathNet, TrainerKind};
use sotl_space::Nb201Arch;
use sotl_train::DeviceImages;
use tch::nn::VarStore;

use crate::{time_steps, PerfConfig, PerfError, ReferenceRun, Result, RowStats};

/// The pool's candidates: the first `pool_size` cells of the reference's `spos` sequence when it
/// has that many (so the reference can finetune the same cells), else `pool_size` uniform cells
/// from ChaCha8 seeded with `seed + 2`.
pub fn pool_archs(cfg: &PerfConfig, reference: Option<&ReferenceRun>) -> Vec<Nb201Arch> {
    match reference.and_then(|r| r.spos_archs.as_ref()).filter(|l| l.len() >= cfg.pool_size) {
        Some(list) => list[..cfg.pool_size].to_vec(),
        None => {
            let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed.wrapping_add(2));
            (0..cfg.pool_size).map(|_| Nb201Arch::sample(&mut rng)).collect()
        }
    }
}

/// The finetuning of the row: the defaults of `oneshot rank` (SPOS learning rate 0.01, Nesterov
/// SGD, crop-and-flip batches of the training data, gradient statistics every step), with
/// `steps` minibatches per candidate, the reference row's gradient clip, no inherited-weights
/// pass and one validation at each end of the finetuning.
pub fn pool_finetune_config(cfg: &PerfConfig) -> FinetuneConfig {
    FinetuneConfig {
        steps: cfg.steps,
        batch_size: cfg.batch,
        grad_clip: cfg.grad_clip,
        sotl_window: cfg.steps,
        val_every: cfg.steps,
        mini_val_every: cfg.steps,
        inherited_window: 0,
        seed: cfg.seed,
        ..FinetuneConfig::default()
    }
}

/// Times [`Finetuner::finetune`] on each of `archs` from one freshly initialized supernet
/// (libtorch seeded with `cfg.seed`), on synthetic 3x32x32 training images (`batch x steps` of
/// them, one epoch) and a one-batch validation set. With `warmup > 0` the first candidate is
/// finetuned once untimed first.
///
/// A candidate's time is its finetuning loop without its validations, so the row compares with
/// the reference's `finetune` row (single-path steps of one cell): `step_ms` holds each
/// candidate's mean milliseconds per finetuning step, `steps` counts the timed finetuning steps
/// of all candidates, and the process usage covers whole candidates, validations included.
pub fn pool_row(cfg: &PerfConfig, archs: &[Nb201Arch]) -> Result<RowStats> {
    let (train, val) = synthetic(&SyntheticConfig {
        n_train: cfg.batch * cfg.steps,
        n_test: cfg.batch,
        size: 32,
        noise: 0.5,
        seed: cfg.seed,
    })?;
    let norm = Normalization::from_data(&train);
    let train = DeviceImages::new(&train, &norm, None, cfg.device)?;
    let val = DeviceImages::new(&val, &norm, None, cfg.device)?;
    tch::manual_seed(cfg.seed as i64);
    let vs = VarStore::new(cfg.device);
    let net = Nb201PathNet::new(&vs, &cfg.net_config()).map_err(pool_err)?;
    let mut finetuner =
        Finetuner::new(&net, pool_finetune_config(cfg), TrainerKind::Spos).map_err(pool_err)?;
    if cfg.warmup > 0 {
        finetuner.finetune(0, &archs[0], &train, &val).map_err(pool_err)?;
    }
    let mut per_step = Vec::with_capacity(archs.len());
    let mut stats = time_steps(0, archs.len(), cfg.batch, |i| {
        let r = finetuner.finetune(i, &archs[i], &train, &val).map_err(pool_err)?;
        let last = r.finetune.steps.last().map_or(f64::NAN, |s| s.train_loss);
        if !last.is_finite() {
            return Err(PerfError::NonFinite { row: "pool", step: i, value: last });
        }
        per_step.push(r.timing.train_s / cfg.steps as f64);
        Ok(())
    })?;
    let times = RowStats::from_seconds(&per_step, cfg.batch);
    stats.median_ms = times.median_ms;
    stats.mean_ms = times.mean_ms;
    stats.min_ms = times.min_ms;
    stats.max_ms = times.max_ms;
    stats.stdev_ms = times.stdev_ms;
    stats.imgs_per_s = times.imgs_per_s;
    stats.step_ms = times.step_ms;
    stats.steps = archs.len() * cfg.steps;
    stats.sampled_archs = Some(archs.to_vec());
    Ok(stats)
}

fn pool_err(e: sotl_search::oneshot::OneShotError) -> PerfError {
    PerfError::Pool(Box::new(e))
}
