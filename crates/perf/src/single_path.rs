//! The `spos`, `finetune` and `eval` rows: single paths through the weight-sharing supernet.

use sotl_nn::{EdgeMix, Nb201Supernet};
use sotl_space::Nb201Arch;
use sotl_train::{clip_grad_norm, Optimizer, ParamGroup, Sgd, SgdConfig};
use tch::nn::VarStore;

use crate::inputs::checked_loss;
use crate::{cross_entropy, time_steps, BenchInputs, PerfConfig, Result, RowStats};

/// The supernet's SGD in the reference's one-shot search (`RANDOM-NAS.py` with AutoDL-Projects'
/// search config): lr 0.025, Nesterov momentum 0.9, weight decay 5e-4.
pub const SUPERNET_SGD: SgdConfig =
    SgdConfig { lr: 0.025, momentum: 0.9, dampening: 0.0, weight_decay: 5e-4, nesterov: true };

/// A freshly initialized supernet (libtorch seeded with `cfg.seed`) and its weights as one group.
fn supernet(cfg: &PerfConfig) -> Result<(VarStore, Nb201Supernet, ParamGroup)> {
    tch::manual_seed(cfg.seed as i64);
    let vs = VarStore::new(cfg.device);
    let net = Nb201Supernet::new(&vs.root(), &cfg.net_config())?;
    let group = ParamGroup::from_var_store(&vs)?;
    Ok((vs, net, group))
}

/// Times single-path training steps, step `i` on cell `arch_of(i)` (warm-up steps included):
/// zero grad (to undefined, so weights off the path get no decay and no momentum, as PyTorch),
/// `EdgeMix::Path` forward on `x_w`, cross-entropy, backward, global-norm clip, SGD step, loss read
/// back. `row` names the row in errors.
pub fn single_path_train_row(
    cfg: &PerfConfig,
    inputs: &BenchInputs,
    row: &'static str,
    arch_of: impl Fn(usize) -> Nb201Arch,
) -> Result<RowStats> {
    let (_vs, net, group) = supernet(cfg)?;
    let mut opt = Sgd::new(group, SUPERNET_SGD)?;
    time_steps(cfg.warmup, cfg.steps, cfg.batch, |i| {
        opt.zero_grad();
        let logits = net.forward(&inputs.x_w, &EdgeMix::Path(arch_of(i)));
        let loss = cross_entropy(&logits, &inputs.y_w);
        loss.backward();
        if cfg.grad_clip > 0.0 {
            let _ = clip_grad_norm(opt.group(), cfg.grad_clip);
        }
        opt.step()?;
        checked_loss(row, i, &loss).map(drop)
    })
}

/// Times the `eval` row: no-grad, eval-mode (running statistics in the stem, reduction and last
/// BNs) forward of `arch` on `x_a`, cross-entropy, loss read back.
pub fn single_path_eval_row(
    cfg: &PerfConfig,
    inputs: &BenchInputs,
    arch: &Nb201Arch,
) -> Result<RowStats> {
    let (_vs, net, _group) = supernet(cfg)?;
    let mix = EdgeMix::Path(*arch);
    time_steps(cfg.warmup, cfg.steps, cfg.batch, |i| {
        tch::no_grad(|| {
            let logits = net.forward_t(&inputs.x_a, &mix, false);
            checked_loss("eval", i, &cross_entropy(&logits, &inputs.y_a)).map(drop)
        })
    })
}
