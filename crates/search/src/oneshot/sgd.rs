//! The one-shot trainers' optimizer: the workspace's one SGD ([`sotl_train::Sgd`]) over a
//! supernet's weights, stepped with per-path gradient lists, and gradient clipping over such
//! lists.

use sotl_train::{ParamGroup, Sgd, SgdConfig};
use tch::Tensor;

use super::{OneShotError, OneShotResult};

/// [`Sgd`] over `weights` (in that order) for single-path training: step it with
/// [`Sgd::step_with`], one gradient per weight, `None` for weights off the sampled path, which
/// then get no update at all (no weight decay, no momentum; their buffers keep their value),
/// as `torch.optim.SGD` does for parameters whose `.grad` is `None`, the way the PyTorch
/// references (AutoDL-Projects' RANDOM-NAS, TSE) train single-path supernets. The learning rate
/// is set per step with [`sotl_train::Optimizer::set_lr`].
pub fn path_sgd(
    weights: &[Tensor],
    momentum: f64,
    nesterov: bool,
    weight_decay: f64,
) -> OneShotResult<Sgd> {
    // Zero-padded names keep the group (sorted by name) in `weights` order.
    let named =
        weights.iter().enumerate().map(|(i, w)| (format!("w{i:08}"), w.shallow_clone())).collect();
    let group = ParamGroup::new(named).map_err(sgd_error)?;
    let cfg = SgdConfig { lr: 0.0, momentum, dampening: 0.0, weight_decay, nesterov };
    Sgd::new(group, cfg).map_err(sgd_error)
}

/// An optimizer error as a one-shot error naming the optimizer.
pub(crate) fn sgd_error(e: sotl_train::TrainError) -> OneShotError {
    OneShotError::Config { field: "sgd", reason: e.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sotl_train::Optimizer;
    use tch::Kind;

    fn t(v: &[f64]) -> Tensor {
        Tensor::from_slice(v).to_kind(Kind::Double).set_requires_grad(true)
    }

    fn step(opt: &mut Sgd, grads: &[Option<Tensor>], lr: f64) {
        opt.set_lr(lr);
        opt.step_with(grads).unwrap();
    }

    #[test]
    fn momentum_and_decay_match_hand_computation() {
        // w0 = 1, g = 0.5, wd = 0.1, m = 0.9, lr = 0.1:
        // step 1: d = 0.5 + 0.1 = 0.6, b = 0.6, w = 1 - 0.06 = 0.94
        // step 2: d = 0.5 + 0.094 = 0.594, b = 0.54 + 0.594 = 1.134, w = 0.94 - 0.1134 = 0.8266
        let w = vec![t(&[1.0])];
        let mut opt = path_sgd(&w, 0.9, false, 0.1).unwrap();
        step(&mut opt, &[Some(t(&[0.5]))], 0.1);
        assert!((w[0].double_value(&[0]) - 0.94).abs() < 1e-12);
        step(&mut opt, &[Some(t(&[0.5]))], 0.1);
        assert!((w[0].double_value(&[0]) - 0.8266).abs() < 1e-12);
    }

    #[test]
    fn nesterov_matches_hand_computation() {
        // w0 = 1, g = 0.5, wd = 0.1, m = 0.9, lr = 0.1, Nesterov (d + m * b):
        // step 1: d = 0.6, b = 0.6, step d + 0.54 = 1.14, w = 1 - 0.114 = 0.886
        // step 2: d = 0.5 + 0.0886 = 0.5886, b = 0.54 + 0.5886 = 1.1286,
        //         step 0.5886 + 1.01574 = 1.60434, w = 0.886 - 0.160434 = 0.725566
        let w = vec![t(&[1.0])];
        let mut opt = path_sgd(&w, 0.9, true, 0.1).unwrap();
        step(&mut opt, &[Some(t(&[0.5]))], 0.1);
        assert!((w[0].double_value(&[0]) - 0.886).abs() < 1e-12);
        step(&mut opt, &[Some(t(&[0.5]))], 0.1);
        assert!((w[0].double_value(&[0]) - 0.725566).abs() < 1e-12);
        // After a reset the next step starts momentum afresh, as on the first step: d = 0.5 +
        // 0.0725566 = 0.5725566, b = d, step 1.9 d, w = 0.725566 - 0.19 * 0.5725566.
        opt.reset();
        step(&mut opt, &[Some(t(&[0.5]))], 0.1);
        let want = 0.725566 - 0.19 * 0.5725566;
        assert!((w[0].double_value(&[0]) - want).abs() < 1e-12);
    }

    #[test]
    fn group_order_follows_the_weights_past_ten() {
        // Names sort as strings: unpadded, w10 would come before w2.
        let w: Vec<Tensor> = (0..12).map(|i| t(&[i as f64])).collect();
        let mut opt = path_sgd(&w, 0.0, false, 0.0).unwrap();
        let mut g: Vec<Option<Tensor>> = (0..12).map(|_| None).collect();
        g[10] = Some(t(&[1.0]));
        step(&mut opt, &g, 1.0);
        assert_eq!(w[10].double_value(&[0]), 9.0);
        assert_eq!(w[2].double_value(&[0]), 2.0);
    }

    #[test]
    fn none_gradient_means_no_update_and_frozen_buffer() {
        let w = vec![t(&[1.0]), t(&[2.0])];
        let mut opt = path_sgd(&w, 0.9, true, 0.5).unwrap();
        step(&mut opt, &[Some(t(&[1.0])), Some(t(&[1.0]))], 0.1);
        let before = w[1].copy();
        let buf_before = opt.momentum_dense().0[1].copy();
        step(&mut opt, &[Some(t(&[1.0])), None], 0.1);
        assert!(w[1].equal(&before), "off-path weight moved");
        assert!(opt.momentum_dense().0[1].equal(&buf_before), "off-path momentum changed");
        opt.reset();
        let (bufs, started) = opt.momentum_dense();
        assert_eq!(bufs[0].abs().sum(Kind::Double).double_value(&[]), 0.0);
        assert_eq!(started, [false, false]);
    }
}
