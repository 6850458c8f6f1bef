//! Optimizer updates against golden values from PyTorch 2.11 (`torch.optim.SGD` / `Adam`).
//!
//! Golden values come from this script (torch 2.11.0, CPU, float32):
//! ```python
//! p = torch.tensor([1.0, -2.0], requires_grad=True); opt = torch.optim.<Opt>([p, ...], ...)
//! for g in [[0.5, 0.25], [0.5, 0.25], [-1.0, 2.0]]:
//!     opt.zero_grad(); (p * torch.tensor(g)).sum().backward(); opt.step(); print(p.tolist())
//! ```
//! and, for the skip tests, a second parameter `b = [0.5]` whose loss term `2 * b` is present
//! in steps 1 and 3 only.

use sotl_train::{
    clip_grad_norm, clip_grads, Adam, AdamConfig, Optimizer, ParamGroup, Sgd, SgdConfig,
};
use tch::Tensor;

fn param(v: &[f32]) -> Tensor {
    Tensor::from_slice(v).set_requires_grad(true)
}

fn group(ps: &[(&str, &Tensor)]) -> ParamGroup {
    ParamGroup::new(ps.iter().map(|(n, t)| (n.to_string(), t.shallow_clone())).collect()).unwrap()
}

fn values(t: &Tensor) -> Vec<f32> {
    Vec::<f32>::try_from(t.detach()).unwrap()
}

fn assert_close(got: &[f32], want: &[f32], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}");
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() <= 2e-6 * w.abs().max(1.0), "{what}: got {got:?}, want {want:?}");
    }
}

/// Runs three steps with the gradients of the module doc; returns p after each step.
fn three_steps(opt: &mut dyn Optimizer, p: &Tensor) -> Vec<Vec<f32>> {
    let grads = [[0.5f32, 0.25], [0.5, 0.25], [-1.0, 2.0]];
    grads
        .iter()
        .map(|g| {
            opt.zero_grad();
            (p * Tensor::from_slice(g)).sum(tch::Kind::Float).backward();
            opt.step().unwrap();
            values(p)
        })
        .collect()
}

#[test]
fn sgd_nesterov_weight_decay_matches_pytorch() {
    let p = param(&[1.0, -2.0]);
    let cfg =
        SgdConfig { lr: 0.1, momentum: 0.9, dampening: 0.0, weight_decay: 0.01, nesterov: true };
    let mut opt = Sgd::new(group(&[("p", &p)]), cfg).unwrap();
    let got = three_steps(&mut opt, &p);
    // Step 1 by hand: d = g + 0.01 p = [0.51, 0.23]; buf = d; d += 0.9 buf -> [0.969, 0.437];
    // p -= 0.1 d -> [0.9031, -2.0437].
    assert_close(&got[0], &[0.9031, -2.0437], "step 1");
    assert_close(&got[1], &[0.765_074_13, -2.105_947], "step 2");
    assert_close(&got[2], &[0.875_21, -2.517_307_3], "step 3");
}

#[test]
fn sgd_momentum_dampening_matches_pytorch() {
    let p = param(&[1.0, -2.0]);
    let cfg =
        SgdConfig { lr: 0.1, momentum: 0.9, dampening: 0.1, weight_decay: 0.01, nesterov: false };
    let mut opt = Sgd::new(group(&[("p", &p)]), cfg).unwrap();
    let got = three_steps(&mut opt, &p);
    // The first update ignores dampening (PyTorch initializes the buffer with d itself).
    assert_close(&got[0], &[0.949, -2.023], "step 1");
    assert_close(&got[1], &[0.857_245_9, -2.064_379_2], "step 2");
    assert_close(&got[2], &[0.863_895_7, -2.279_762_7], "step 3");
}

#[test]
fn plain_sgd_is_p_minus_lr_g() {
    let p = param(&[1.0, -2.0]);
    let cfg =
        SgdConfig { lr: 0.1, momentum: 0.0, dampening: 0.0, weight_decay: 0.0, nesterov: false };
    let mut opt = Sgd::new(group(&[("p", &p)]), cfg).unwrap();
    let got = three_steps(&mut opt, &p);
    assert_close(&got[2], &[1.0, -2.25], "step 3");
    assert!(opt.momentum_buffer(0).is_none());
}

#[test]
fn adam_with_l2_matches_pytorch() {
    let p = param(&[1.0, -2.0]);
    let cfg = AdamConfig { lr: 0.1, beta1: 0.5, beta2: 0.999, eps: 1e-8, weight_decay: 0.1 };
    let mut opt = Adam::new(group(&[("p", &p)]), cfg).unwrap();
    let got = three_steps(&mut opt, &p);
    // Step 1 of Adam moves every coordinate by lr against the sign of d (bias correction).
    assert_close(&got[0], &[0.9, -2.1], "step 1");
    assert_close(&got[1], &[0.800_283_25, -2.195_712_6], "step 2");
    assert_close(&got[2], &[0.837_982_65, -2.296_378_1], "step 3");
    assert_eq!(opt.step_count(0), 3);
}

/// Steps 1 and 3 give `b` a gradient, step 2 does not; returns (a, b) after each step.
fn skip_run(opt: &mut dyn Optimizer, a: &Tensor, b: &Tensor) -> Vec<(Vec<f32>, Vec<f32>)> {
    [true, false, true]
        .iter()
        .map(|&use_b| {
            opt.zero_grad();
            let mut l = (a * Tensor::from_slice(&[0.5f32, 0.25])).sum(tch::Kind::Float);
            if use_b {
                l += (b * 2.0).sum(tch::Kind::Float);
            }
            l.backward();
            if !use_b {
                assert!(
                    !b.grad().defined(),
                    "zero_grad must leave an unreached gradient undefined"
                );
            }
            opt.step().unwrap();
            (values(a), values(b))
        })
        .collect()
}

#[test]
fn sgd_skips_params_without_gradient() {
    let (a, b) = (param(&[1.0, -2.0]), param(&[0.5]));
    let cfg =
        SgdConfig { lr: 0.1, momentum: 0.9, dampening: 0.0, weight_decay: 0.01, nesterov: true };
    let mut opt = Sgd::new(group(&[("a", &a), ("b", &b)]), cfg).unwrap();
    let buf_before = opt.momentum_buffer(1).map(values);
    assert!(buf_before.is_none());
    let got = skip_run(&mut opt, &a, &b);
    // No weight decay and no momentum coasting while b has no gradient: b is bit-identical.
    assert_eq!(got[0].1, got[1].1);
    assert_close(&got[1].1, &[0.119_049_974], "b after step 2");
    // Step 3 uses b's buffer from step 1, not one decayed or advanced in step 2.
    assert_close(&got[2].1, &[-0.423_581_24], "b after step 3");
    assert_close(&got[2].0, &[0.590_209_96, -2.184_807_3], "a after step 3");
}

#[test]
fn adam_skips_params_without_gradient() {
    let (a, b) = (param(&[1.0, -2.0]), param(&[0.5]));
    let cfg = AdamConfig { lr: 0.1, beta1: 0.5, beta2: 0.999, eps: 1e-8, weight_decay: 0.1 };
    let mut opt = Adam::new(group(&[("a", &a), ("b", &b)]), cfg).unwrap();
    let got = skip_run(&mut opt, &a, &b);
    assert_eq!(got[0].1, got[1].1);
    // The step count of b stays at 1 during step 2, so step 3 uses t = 2 bias correction.
    assert_eq!(opt.step_count(1), 2);
    assert_close(&got[2].1, &[0.300_081_67], "b after step 3");
    assert_close(&got[2].0, &[0.701_016_84, -2.283_580_8], "a after step 3");
}

#[test]
fn optimizer_state_round_trips() {
    let p = param(&[1.0, -2.0]);
    let cfg = AdamConfig { lr: 0.1, beta1: 0.5, beta2: 0.999, eps: 1e-8, weight_decay: 0.1 };
    let mut opt = Adam::new(group(&[("p", &p)]), cfg).unwrap();
    three_steps(&mut opt, &p);
    let st = opt.state();
    assert_eq!(st.tensors.len(), 2);
    assert_eq!(st.counters.get("step/p"), Some(&3));
    let q = param(&[0.0, 0.0]);
    let mut fresh = Adam::new(group(&[("p", &q)]), cfg).unwrap();
    fresh.load_state(st).unwrap();
    assert_eq!(fresh.step_count(0), 3);
    // An SGD cannot take Adam's state.
    let mut sgd = Sgd::new(group(&[("p", &q)]), SgdConfig::nb201()).unwrap();
    assert!(sgd.load_state(opt.state()).is_err());
}

#[test]
fn clip_grad_norm_scales_to_max_norm() {
    let (a, b) = (param(&[0.0, 0.0]), param(&[0.0]));
    let g = group(&[("a", &a), ("b", &b)]);
    // Gradients [3, 0] and [4]: global norm 5.
    ((&a * Tensor::from_slice(&[3.0f32, 0.0])).sum(tch::Kind::Float)
        + (&b * 4.0).sum(tch::Kind::Float))
    .backward();
    let n = clip_grad_norm(&g, 1.0).double_value(&[]);
    assert!((n - 5.0).abs() < 1e-6);
    let coef = 1.0 / (5.0 + 1e-6);
    assert_close(&values(&a.grad()), &[(3.0 * coef) as f32, 0.0], "a grad");
    assert_close(&values(&b.grad()), &[(4.0 * coef) as f32], "b grad");
    // Under the limit: untouched.
    let n2 = clip_grad_norm(&g, 10.0).double_value(&[]);
    assert!((n2 - 1.0).abs() < 1e-5);
    assert_close(&values(&b.grad()), &[(4.0 * coef) as f32], "b grad unchanged");
}

#[test]
fn clip_and_stats_skip_undefined_gradients() {
    let (a, b) = (param(&[1.0]), param(&[1.0]));
    let g = group(&[("a", &a), ("b", &b)]);
    (&a * -2.0).sum(tch::Kind::Float).backward();
    assert!(!b.grad().defined());
    assert!((clip_grad_norm(&g, 100.0).double_value(&[]) - 2.0).abs() < 1e-6);
    assert_eq!(g.grad_sum_and_l1(), (-2.0, 2.0));
    g.zero_grad();
    assert!(!a.grad().defined());
    assert_eq!(g.grad_norm(), 0.0);
}

#[test]
fn bad_configs_are_rejected() {
    let p = param(&[1.0]);
    let mut c = SgdConfig::nb201();
    c.dampening = 0.5;
    assert!(Sgd::new(group(&[("p", &p)]), c).is_err(), "Nesterov with dampening");
    c = SgdConfig::nb201();
    c.lr = f64::NAN;
    assert!(Sgd::new(group(&[("p", &p)]), c).is_err());
    let mut a = AdamConfig::darts_arch();
    a.beta2 = 1.0;
    assert!(Adam::new(group(&[("p", &p)]), a).is_err());
    let frozen = Tensor::from_slice(&[1.0f32]);
    assert!(ParamGroup::new(vec![("x".into(), frozen)]).is_err());
    assert!(
        ParamGroup::new(vec![("x".into(), param(&[1.0])), ("x".into(), param(&[1.0]))]).is_err()
    );
}

#[test]
fn clip_grads_skips_missing_entries_and_matches_the_group_rule() {
    // Gradients [3], (none), [4], (undefined): global norm 5, scaled by 1 / (5 + 1e-6).
    let mut g = vec![
        Some(Tensor::from_slice(&[3.0f32])),
        None,
        Some(Tensor::from_slice(&[4.0f32])),
        Some(Tensor::new()),
    ];
    let n = clip_grads(&mut g, 1.0).double_value(&[]);
    assert!((n - 5.0).abs() < 1e-6);
    let coef = 1.0 / (5.0 + 1e-6);
    assert_close(&values(g[0].as_ref().unwrap()), &[(3.0 * coef) as f32], "first");
    assert_close(&values(g[2].as_ref().unwrap()), &[(4.0 * coef) as f32], "third");
    assert!(!g[3].as_ref().unwrap().defined());
    assert_eq!(clip_grads(&mut [None], 1.0).double_value(&[]), 0.0);
}
