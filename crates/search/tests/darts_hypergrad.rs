//! Hypergradients against finite differences on a tiny double-precision NAS-Bench-201 supernet.

use sotl_nn::{EdgeMix, Nb201NetConfig, Nb201Supernet};
use sotl_search::hypergrad::{
    approx_sotl_grad, cross_entropy, darts_second_order_grad, exact_sotl_grad, mixed_hvp_exact, mixed_hvp_fd,
    unrolled_objective_grad, HvpMethod, VirtualStep,
};
use sotl_train::Batch;
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

fn tiny() -> (VarStore, Nb201Supernet) {
    tch::manual_seed(3);
    let cfg = Nb201NetConfig { channels: 2, cells_per_stage: 1, num_classes: 3, in_channels: 3, image_size: 8 };
    let mut vs = VarStore::new(Device::Cpu);
    let net = Nb201Supernet::new(&vs.root(), &cfg).unwrap();
    vs.double();
    (vs, net)
}

fn batch(seed: i64, n: i64) -> Batch {
    tch::manual_seed(seed);
    Batch {
        inputs: Tensor::randn([n, 3, 8, 8], (Kind::Double, Device::Cpu)),
        targets: Tensor::randint(3, [n], (Kind::Int64, Device::Cpu)),
    }
}

fn alpha0() -> Tensor {
    tch::manual_seed(17);
    Tensor::randn([6, 5], (Kind::Double, Device::Cpu)) * 0.5
}

fn max_rel(a: &Tensor, b: &Tensor) -> f64 {
    let scale = b.abs().max().double_value(&[]).max(1e-12);
    (a - b).abs().max().double_value(&[]) / scale
}

#[test]
fn darts2_exact_and_finite_difference_hvp_agree() {
    let (_vs, net) = tiny();
    let loss = |w: &[Tensor], a: &Tensor, b: &Batch| {
        cross_entropy(&net.forward_with(w, &b.inputs, &EdgeMix::Soft(a.softmax(-1, Kind::Double))), &b.targets)
    };
    let (train, val) = (batch(1, 6), batch(2, 6));
    let alpha = alpha0();
    let w = net.params();

    // The mixed HVP itself, for a v of the size DARTS uses (the validation gradient).
    let v: Vec<Tensor> = w.iter().map(|t| t.randn_like() * 0.1).collect();
    let exact = mixed_hvp_exact(&loss, &w, &alpha, &train, &v).unwrap();
    let fd = mixed_hvp_fd(&loss, &w, &alpha, &train, &v).unwrap();
    assert!(exact.abs().max().double_value(&[]) > 1e-6, "degenerate HVP");
    let r = max_rel(&fd, &exact);
    println!("exact {} fd {}", exact.abs().max().double_value(&[]), fd.abs().max().double_value(&[]));
    exact.print(); fd.print();
    assert!(r < 1e-3, "FD HVP relative error {r}");

    // The whole second-order gradient with both HVP methods, against plain reverse mode through
    // the virtual step (an independent computation of the same quantity).
    let xi = 0.05;
    let step = VirtualStep { xi, offset: None };
    let g_exact = darts_second_order_grad(loss, &w, &alpha, &train, &val, step, HvpMethod::Exact).unwrap();
    let g_fd = darts_second_order_grad(loss, &w, &alpha, &train, &val, step, HvpMethod::FiniteDifference).unwrap();
    let reference = unrolled_objective_grad(loss, &w, &alpha, &train, &val, xi).unwrap();
    let r_exact = max_rel(&g_exact.alpha_grad, &reference);
    let r_fd = max_rel(&g_fd.alpha_grad, &reference);
    assert!(r_exact < 1e-9, "exact darts2 gradient off by {r_exact}");
    assert!(r_fd < 1e-4, "finite-difference darts2 gradient off by {r_fd}");

    // The second-order term matters: the first-order gradient at w' differs from the result.
    let first = darts_second_order_grad(loss, &w, &alpha, &train, &val, VirtualStep { xi: 0.0, offset: None }, HvpMethod::Exact).unwrap();
    assert!(max_rel(&first.alpha_grad, &reference) > 1e-6);
}

#[test]
fn darts2_gradient_matches_finite_differences_in_alpha() {
    // Central differences of α ↦ L_val(w − ξ∇_w L_train(w, α), α), coordinate by coordinate.
    let (_vs, net) = tiny();
    let loss = |w: &[Tensor], a: &Tensor, b: &Batch| {
        cross_entropy(&net.forward_with(w, &b.inputs, &EdgeMix::Soft(a.softmax(-1, Kind::Double))), &b.targets)
    };
    let (train, val) = (batch(4, 5), batch(5, 5));
    let alpha = alpha0();
    let w = net.params();
    let xi = 0.1;
    let g = darts_second_order_grad(loss, &w, &alpha, &train, &val, VirtualStep { xi, offset: None }, HvpMethod::Exact)
        .unwrap()
        .alpha_grad;
    let objective = |a: &Tensor| -> f64 {
        let wl: Vec<Tensor> = w.iter().map(|t| t.detach().copy().set_requires_grad(true)).collect();
        let refs: Vec<&Tensor> = wl.iter().collect();
        let gt = Tensor::run_backward(&[loss(&wl, a, &train)], &refs, false, false);
        let wp: Vec<Tensor> = wl.iter().zip(&gt).map(|(x, g)| (x - g * xi).detach()).collect();
        tch::no_grad(|| loss(&wp, a, &val).double_value(&[]))
    };
    let h = 1e-5;
    let flat = alpha.reshape([-1]);
    let mut fd = vec![0.0; 30];
    for (i, d) in fd.iter_mut().enumerate() {
        let e = Tensor::zeros([30], (Kind::Double, Device::Cpu)).index_fill(0, &Tensor::from_slice(&[i as i64]), 1.0);
        let plus = (&flat + &e * h).view([6, 5]);
        let minus = (&flat - &e * h).view([6, 5]);
        *d = (objective(&plus) - objective(&minus)) / (2.0 * h);
    }
    let fd = Tensor::from_slice(&fd).view([6, 5]);
    let r = max_rel(&g, &fd);
    assert!(r < 1e-5, "darts2 gradient vs finite differences: relative error {r}");
}

#[test]
fn exact_sotl_hypergradient_matches_finite_differences_of_the_summed_loss() {
    let (_vs, net) = tiny();
    let loss = |w: &[Tensor], a: &Tensor, b: &Batch| {
        cross_entropy(&net.forward_with(w, &b.inputs, &EdgeMix::Soft(a.softmax(-1, Kind::Double))), &b.targets)
    };
    let batches: Vec<Batch> = (0..4).map(|i| batch(10 + i, 5)).collect();
    let alpha = alpha0();
    let w = net.params();
    let (lr, wd) = (0.3, 1e-3);
    let exact = exact_sotl_grad(loss, &w, &alpha, &batches, lr, wd).unwrap();
    // SoTL(α) by running the same unrolling with plain (graph-free) SGD steps.
    let sotl = |a: &Tensor| -> f64 {
        let mut wt: Vec<Tensor> = w.iter().map(|t| t.detach().copy()).collect();
        let mut total = 0.0;
        for b in &batches {
            let wl: Vec<Tensor> = wt.iter().map(|t| t.copy().set_requires_grad(true)).collect();
            let refs: Vec<&Tensor> = wl.iter().collect();
            let l = loss(&wl, a, b);
            total += l.double_value(&[]);
            let g = Tensor::run_backward(&[l], &refs, false, false);
            wt = wl.iter().zip(&g).map(|(x, g)| (x - (g + x * wd) * lr).detach()).collect();
        }
        total
    };
    assert!((sotl(&alpha) - exact.sotl()).abs() < 1e-10, "forward SoTL mismatch");
    let h = 1e-5;
    let flat = alpha.reshape([-1]);
    let mut fd = vec![0.0; 30];
    for (i, d) in fd.iter_mut().enumerate() {
        let e = Tensor::zeros([30], (Kind::Double, Device::Cpu)).index_fill(0, &Tensor::from_slice(&[i as i64]), 1.0);
        *d = (sotl(&(&flat + &e * h).view([6, 5])) - sotl(&(&flat - &e * h).view([6, 5]))) / (2.0 * h);
    }
    let fd = Tensor::from_slice(&fd).view([6, 5]);
    let r = max_rel(&exact.alpha_grad, &fd);
    exact.alpha_grad.print(); fd.print();
    assert!(r < 1e-5, "exact SoTL hypergradient vs finite differences: relative error {r}");

    // The first-order approximation (SoTL-DARTS' accumulated gradient) drops the indirect terms:
    // same losses, a measurably different gradient.
    let approx = approx_sotl_grad(loss, &w, &alpha, &batches, lr, wd).unwrap();
    assert!((approx.sotl() - exact.sotl()).abs() < 1e-10);
    assert!(max_rel(&approx.alpha_grad, &fd) > 10.0 * r.max(1e-6), "approximation indistinguishable from exact");
    // With one step there is no indirect term: the two coincide.
    let one_e = exact_sotl_grad(loss, &w, &alpha, &batches[..1], lr, wd).unwrap();
    let one_a = approx_sotl_grad(loss, &w, &alpha, &batches[..1], lr, wd).unwrap();
    assert!(max_rel(&one_a.alpha_grad, &one_e.alpha_grad) < 1e-12);
}
