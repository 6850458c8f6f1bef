//! Hypergradients against finite differences.
//!
//! Two models: a smooth six-edge mixed-op network written here (tanh/softplus ops, so finite
//! differences of gradients are meaningful at any step size), and the real NAS-Bench-201
//! supernet in f64. ReLU kinks make the supernet's gradient, and hence its unrolled SGD
//! trajectory, piecewise smooth: finite differences there use a single random direction and a
//! small step, so no kink lies inside the stencil.

use sotl_nn::{EdgeMix, Nb201NetConfig, Nb201Supernet};
use sotl_search::hypergrad::{
    approx_sotl_grad, cross_entropy, darts_second_order_grad, exact_sotl_grad, mixed_hvp_exact,
    mixed_hvp_fd, unrolled_objective_grad, HvpMethod, VirtualStep, DARTS_FD_RADIUS,
};
use sotl_train::Batch;
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

const D: i64 = 4;
const CLASSES: i64 = 3;
const OPTS: (Kind, Device) = (Kind::Double, Device::Cpu);

/// Weights of the smooth model: per edge, three `[D, D]` matrices (ops 2-4), then a `[D, 3]` head.
fn smooth_weights() -> Vec<Tensor> {
    tch::manual_seed(21);
    let mut w: Vec<Tensor> = (0..18).map(|_| Tensor::randn([D, D], OPTS)).collect();
    w.push(Tensor::randn([D, CLASSES], OPTS) * 2.0);
    w
}

/// A NAS-Bench-201-shaped cell of six mixed edges (`n1 = e0(x)`, `n2 = e1(x) + e2(n1)`,
/// `n3 = e3(x) + e4(n1) + e5(n2)`), each edge `Σ_k softmax(α_e)_k op_k(h)` with ops zero,
/// identity, tanh(hA), softplus(hB) − ln 2, h + tanh(hC); logits `n3 W`.
fn smooth_logits(w: &[Tensor], a: &Tensor, x: &Tensor) -> Tensor {
    let p = a.softmax(-1, Kind::Double);
    let edge = |e: usize, h: &Tensor| -> Tensor {
        let pe = p.get(e as i64);
        let ops = [
            h.zeros_like(),
            h.shallow_clone(),
            h.matmul(&w[3 * e]).tanh(),
            h.matmul(&w[3 * e + 1]).softplus() - 2f64.ln(),
            h + h.matmul(&w[3 * e + 2]).tanh(),
        ];
        ops.iter().enumerate().map(|(k, o)| o * pe.get(k as i64)).reduce(|s, t| s + t).unwrap()
    };
    let n1 = edge(0, x);
    let n2 = edge(1, x) + edge(2, &n1);
    let n3 = edge(3, x) + edge(4, &n1) + edge(5, &n2);
    n3.matmul(&w[18])
}

fn smooth_loss(w: &[Tensor], a: &Tensor, b: &Batch) -> Tensor {
    cross_entropy(&smooth_logits(w, a, &b.inputs), &b.targets)
}

fn smooth_batch(seed: i64) -> Batch {
    tch::manual_seed(seed);
    Batch {
        inputs: Tensor::randn([8, D], OPTS) * 2.0,
        targets: Tensor::randint(CLASSES, [8], (Kind::Int64, Device::Cpu)),
    }
}

fn alpha0() -> Tensor {
    tch::manual_seed(17);
    Tensor::randn([6, 5], OPTS) * 0.5
}

fn max_rel(a: &Tensor, b: &Tensor) -> f64 {
    let scale = b.abs().max().double_value(&[]).max(1e-12);
    (a - b).abs().max().double_value(&[]) / scale
}

fn unit(i: usize) -> Tensor {
    Tensor::zeros([30], OPTS).index_fill(0, &Tensor::from_slice(&[i as i64]), 1.0).view([6, 5])
}

/// Central differences of `f` at `alpha`, all 30 coordinates.
fn fd_grad(f: impl Fn(&Tensor) -> f64, alpha: &Tensor, h: f64) -> Tensor {
    let g: Vec<f64> = (0..30)
        .map(|i| (f(&(alpha + unit(i) * h)) - f(&(alpha - unit(i) * h))) / (2.0 * h))
        .collect();
    Tensor::from_slice(&g).view([6, 5])
}

/// SoTL(α) by plain SGD steps without any graph through them.
fn sotl_forward<F: Fn(&[Tensor], &Tensor, &Batch) -> Tensor>(
    loss: &F,
    w0: &[Tensor],
    a: &Tensor,
    batches: &[Batch],
    lr: f64,
    wd: f64,
) -> f64 {
    let mut wt: Vec<Tensor> = w0.iter().map(|t| t.detach().copy()).collect();
    let mut total = 0.0;
    for b in batches {
        let wl: Vec<Tensor> = wt.iter().map(|t| t.copy().set_requires_grad(true)).collect();
        let refs: Vec<&Tensor> = wl.iter().collect();
        let l = loss(&wl, a, b);
        total += l.double_value(&[]);
        let g = Tensor::run_backward(&[l], &refs, false, false);
        wt = wl.iter().zip(&g).map(|(x, g)| (x - (g + x * wd) * lr).detach()).collect();
    }
    total
}

#[test]
fn finite_difference_hvp_with_darts_radius_agrees_with_double_backward() {
    // One intra-op thread: tiny tensors, and the suite shares two cores.
    tch::set_num_threads(1);
    let w = smooth_weights();
    let alpha = alpha0();
    let train = smooth_batch(1);
    // v as DARTS uses it: the validation-loss gradient with respect to the weights.
    let wl: Vec<Tensor> = w.iter().map(|t| t.copy().set_requires_grad(true)).collect();
    let refs: Vec<&Tensor> = wl.iter().collect();
    let v =
        Tensor::run_backward(&[smooth_loss(&wl, &alpha, &smooth_batch(2))], &refs, false, false);
    let exact = mixed_hvp_exact(&smooth_loss, &w, &alpha, &train, &v).unwrap();
    let fd = mixed_hvp_fd(&smooth_loss, &w, &alpha, &train, &v, DARTS_FD_RADIUS).unwrap();
    assert!(exact.abs().max().double_value(&[]) > 1e-4, "degenerate HVP");
    let r = max_rel(&fd, &exact);
    assert!(r < 1e-3, "FD HVP (radius 0.01) relative error {r}");
    // A central difference is second-order accurate: a 10x smaller radius is ~100x closer.
    let fd_small =
        mixed_hvp_fd(&smooth_loss, &w, &alpha, &train, &v, DARTS_FD_RADIUS / 10.0).unwrap();
    let r_small = max_rel(&fd_small, &exact);
    assert!(r_small < r / 20.0, "no second-order convergence: {r} -> {r_small}");
}

#[test]
fn darts2_gradient_with_both_hvps_matches_finite_differences_of_the_unrolled_loss() {
    // One intra-op thread: tiny tensors, and the suite shares two cores.
    tch::set_num_threads(1);
    let w = smooth_weights();
    let alpha = alpha0();
    let (train, val) = (smooth_batch(3), smooth_batch(4));
    let xi = 0.2;
    let step = VirtualStep { xi, offset: None };
    let g_exact =
        darts_second_order_grad(smooth_loss, &w, &alpha, &train, &val, step, HvpMethod::Exact)
            .unwrap();
    let g_fd = darts_second_order_grad(
        smooth_loss,
        &w,
        &alpha,
        &train,
        &val,
        step,
        HvpMethod::FiniteDifference,
    )
    .unwrap();
    // α ↦ L_val(w − ξ ∇_w L_train(w, α), α), differentiated numerically.
    let objective = |a: &Tensor| -> f64 {
        let wl: Vec<Tensor> = w.iter().map(|t| t.copy().set_requires_grad(true)).collect();
        let refs: Vec<&Tensor> = wl.iter().collect();
        let g = Tensor::run_backward(&[smooth_loss(&wl, a, &train)], &refs, false, false);
        let wp: Vec<Tensor> = wl.iter().zip(&g).map(|(x, g)| (x - g * xi).detach()).collect();
        smooth_loss(&wp, a, &val).double_value(&[])
    };
    let fd = fd_grad(objective, &alpha, 1e-5);
    let r_exact = max_rel(&g_exact.alpha_grad, &fd);
    let r_fd = max_rel(&g_fd.alpha_grad, &fd);
    assert!(r_exact < 1e-6, "exact-HVP darts2 gradient vs finite differences: {r_exact}");
    assert!(r_fd < 1e-3, "FD-HVP darts2 gradient vs finite differences: {r_fd}");
    // The Hessian term matters here: dropping it (ξ = 0 in the correction) is far off.
    let first = darts_second_order_grad(
        smooth_loss,
        &w,
        &alpha,
        &train,
        &val,
        VirtualStep { xi: 0.0, offset: None },
        HvpMethod::Exact,
    )
    .unwrap();
    assert!(max_rel(&first.alpha_grad, &fd) > 1e-2);
}

#[test]
fn exact_sotl_hypergradient_matches_finite_differences_of_the_summed_loss() {
    // One intra-op thread: tiny tensors, and the suite shares two cores.
    tch::set_num_threads(1);
    let w = smooth_weights();
    let alpha = alpha0();
    let batches: Vec<Batch> = (0..5).map(|i| smooth_batch(10 + i)).collect();
    let (lr, wd) = (0.5, 1e-3);
    let exact = exact_sotl_grad(smooth_loss, &w, &alpha, &batches, lr, wd).unwrap();
    assert!(
        (sotl_forward(&smooth_loss, &w, &alpha, &batches, lr, wd) - exact.sotl()).abs() < 1e-12
    );
    let fd = fd_grad(|a| sotl_forward(&smooth_loss, &w, a, &batches, lr, wd), &alpha, 1e-5);
    let r = max_rel(&exact.alpha_grad, &fd);
    assert!(r < 1e-6, "exact SoTL hypergradient vs finite differences: relative error {r}");
    // SoTL-DARTS' first-order approximation drops the indirect terms: same losses, another
    // gradient; with a single step there is no indirect term and the two coincide.
    let approx = approx_sotl_grad(smooth_loss, &w, &alpha, &batches, lr, wd).unwrap();
    assert!((approx.sotl() - exact.sotl()).abs() < 1e-12);
    assert!(max_rel(&approx.alpha_grad, &fd) > 1e-2, "approximation indistinguishable from exact");
    let one_e = exact_sotl_grad(smooth_loss, &w, &alpha, &batches[..1], lr, wd).unwrap();
    let one_a = approx_sotl_grad(smooth_loss, &w, &alpha, &batches[..1], lr, wd).unwrap();
    assert!(max_rel(&one_a.alpha_grad, &one_e.alpha_grad) < 1e-12);
}

fn tiny_supernet() -> (VarStore, Nb201Supernet) {
    tch::manual_seed(3);
    let cfg = Nb201NetConfig {
        channels: 2,
        cells_per_stage: 1,
        num_classes: 3,
        in_channels: 3,
        image_size: 8,
    };
    let mut vs = VarStore::new(Device::Cpu);
    let net = Nb201Supernet::new(&vs.root(), &cfg).unwrap();
    vs.double();
    (vs, net)
}

fn image_batch(seed: i64) -> Batch {
    tch::manual_seed(seed);
    Batch {
        inputs: Tensor::randn([4, 3, 8, 8], OPTS),
        targets: Tensor::randint(3, [4], (Kind::Int64, Device::Cpu)),
    }
}

#[test]
fn supernet_hypergradients_match_reverse_mode_and_directional_differences() {
    // One intra-op thread: tiny tensors, and the suite shares two cores.
    tch::set_num_threads(1);
    let (_vs, net) = tiny_supernet();
    let loss = |w: &[Tensor], a: &Tensor, b: &Batch| {
        cross_entropy(
            &net.forward_with(w, &b.inputs, &EdgeMix::Soft(a.softmax(-1, Kind::Double))),
            &b.targets,
        )
    };
    let w = net.params();
    let alpha = alpha0();
    tch::manual_seed(99);
    let u = Tensor::randn([6, 5], OPTS);
    let dir = |g: &Tensor| (g * &u).sum(Kind::Double).double_value(&[]);
    let h = 1e-6;

    // Second-order DARTS: exact-HVP gradient = reverse mode through the virtual step, and its
    // directional derivative matches a central difference.
    let (train, val) = (image_batch(1), image_batch(2));
    let xi = 0.05;
    let g = darts_second_order_grad(
        loss,
        &w,
        &alpha,
        &train,
        &val,
        VirtualStep { xi, offset: None },
        HvpMethod::Exact,
    )
    .unwrap();
    let reference = unrolled_objective_grad(loss, &w, &alpha, &train, &val, xi).unwrap();
    assert!(max_rel(&g.alpha_grad, &reference) < 1e-9);
    let objective = |a: &Tensor| -> f64 {
        let wl: Vec<Tensor> = w.iter().map(|t| t.detach().copy().set_requires_grad(true)).collect();
        let refs: Vec<&Tensor> = wl.iter().collect();
        let gt = Tensor::run_backward(&[loss(&wl, a, &train)], &refs, false, false);
        let wp: Vec<Tensor> = wl.iter().zip(&gt).map(|(x, g)| (x - g * xi).detach()).collect();
        loss(&wp, a, &val).double_value(&[])
    };
    let fd = (objective(&(&alpha + &u * h)) - objective(&(&alpha - &u * h))) / (2.0 * h);
    let an = dir(&g.alpha_grad);
    assert!((an - fd).abs() < 1e-5 * an.abs().max(1e-3), "darts2 directional: {an} vs {fd}");

    // Exact SoTL through 3 unrolled steps of the supernet.
    let batches: Vec<Batch> = (0..3).map(|i| image_batch(10 + i)).collect();
    let (lr, wd) = (0.1, 3e-4);
    let s = exact_sotl_grad(loss, &w, &alpha, &batches, lr, wd).unwrap();
    let f = |a: &Tensor| sotl_forward(&loss, &w, a, &batches, lr, wd);
    let fd = (f(&(&alpha + &u * h)) - f(&(&alpha - &u * h))) / (2.0 * h);
    let an = dir(&s.alpha_grad);
    assert!((an - fd).abs() < 1e-5 * an.abs().max(1e-3), "exact SoTL directional: {an} vs {fd}");
}
