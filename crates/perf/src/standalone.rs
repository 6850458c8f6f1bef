//! The `standalone_train` and `standalone_eval` rows: the fixed cell's own NAS-Bench-201 network.

use sotl_nn::Nb201Network;
use sotl_space::Nb201Arch;
use sotl_train::{Optimizer, ParamGroup, Sgd, SgdConfig};
use tch::nn::VarStore;

use crate::inputs::checked_loss;
use crate::{cross_entropy, time_steps, BenchInputs, PerfConfig, Result, RowStats};

/// Timings of the standalone rows that were asked for.
#[derive(Debug)]
pub struct StandaloneStats {
    /// `standalone_train`, if asked.
    pub train: Option<RowStats>,
    /// `standalone_eval`, if asked.
    pub eval: Option<RowStats>,
}

/// Builds `arch`'s network (libtorch seeded with `cfg.seed`), then times, as asked, train steps
/// (zero grad, train-mode forward on `x_w`, cross-entropy, backward, SGD lr 0.1 Nesterov momentum
/// 0.9 weight decay 5e-4 without clipping, loss read back) and afterwards eval steps (no-grad,
/// eval-mode forward on `x_a`). Eval runs on the trained weights, as the reference does.
pub fn standalone_rows(
    cfg: &PerfConfig,
    inputs: &BenchInputs,
    arch: &Nb201Arch,
    train: bool,
    eval: bool,
) -> Result<StandaloneStats> {
    tch::manual_seed(cfg.seed as i64);
    let vs = VarStore::new(cfg.device);
    let net = Nb201Network::new(&vs.root(), arch, &cfg.net_config())?;
    let train_stats = if train {
        let mut opt = Sgd::new(
            ParamGroup::from_var_store(&vs)?,
            SgdConfig { lr: 0.1, ..SgdConfig::nb201() },
        )?;
        Some(time_steps(cfg.warmup, cfg.steps, cfg.batch, |i| {
            opt.zero_grad();
            let loss = cross_entropy(&net.forward_t(&inputs.x_w, true), &inputs.y_w);
            loss.backward();
            opt.step()?;
            checked_loss("standalone_train", i, &loss).map(drop)
        })?)
    } else {
        None
    };
    let eval_stats = if eval {
        Some(time_steps(cfg.warmup, cfg.steps, cfg.batch, |i| {
            tch::no_grad(|| {
                let logits = net.forward_t(&inputs.x_a, false);
                checked_loss("standalone_eval", i, &cross_entropy(&logits, &inputs.y_a)).map(drop)
            })
        })?)
    } else {
        None
    };
    Ok(StandaloneStats { train: train_stats, eval: eval_stats })
}
