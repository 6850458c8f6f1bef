//! Exact unrolled hypergradients against central finite differences (double precision) and
//! Baydin's closed form.

use sotl_studies::*;
use tch::{Device, Kind, Tensor};

fn small_problem() -> (Mlp, Vec<Tensor>, Vec<(Tensor, Tensor)>) {
    let net = Mlp { input: 6, hidden: vec![5], classes: 3 };
    let params = net.init_params(3, Kind::Double, Device::Cpu);
    let batches = with_torch_seed(11, || {
        (0..6)
            .map(|_| {
                let x = Tensor::randn([8, 6], (Kind::Double, Device::Cpu));
                let y = Tensor::randint(3, [8], (Kind::Int64, Device::Cpu));
                (x, y)
            })
            .collect()
    });
    (net, params, batches)
}

/// SoTL (or validation loss at w_T) as a plain function of eta, for finite differences.
fn objective_at(eta: f64, t: usize, val: bool) -> f64 {
    let (net, params, batches) = small_problem();
    let lr = Tensor::from(eta);
    let un = unroll_sgd(&params, &lr, t, true, |i, w| {
        cross_entropy(&net.forward(w, &batches[i].0), &batches[i].1)
    })
    .unwrap();
    if val {
        let (x, y) = &batches[5];
        cross_entropy(&net.forward(&un.params, x), y).double_value(&[])
    } else {
        un.losses.iter().sum()
    }
}

fn exact(eta: f64, t: usize, val: bool) -> f64 {
    let (net, params, batches) = small_problem();
    let lr = Tensor::from(eta).set_requires_grad(true);
    let un = unroll_sgd(&params, &lr, t, val, |i, w| {
        cross_entropy(&net.forward(w, &batches[i].0), &batches[i].1)
    })
    .unwrap();
    let obj = if val {
        let (x, y) = &batches[5];
        cross_entropy(&net.forward(&un.params, x), y)
    } else {
        un.sotl
    };
    hypergradient(&obj, &lr).unwrap().double_value(&[])
}

#[test]
fn sotl_learning_rate_hypergradient_matches_central_difference() {
    // A large eta makes the unroll strongly nonlinear in eta, so a wrong term would show.
    for (eta, t) in [(0.5, 2), (0.5, 5), (1.5, 4)] {
        let h = 1e-5;
        let fd = (objective_at(eta + h, t, false) - objective_at(eta - h, t, false)) / (2.0 * h);
        let ex = exact(eta, t, false);
        assert!(fd.abs() > 1e-3, "degenerate check: d SoTL / d eta = {fd}");
        assert!(
            (ex - fd).abs() < 1e-6 * (1.0 + fd.abs()),
            "T={t} eta={eta}: exact {ex} vs FD {fd}"
        );
    }
}

#[test]
fn val_learning_rate_hypergradient_matches_central_difference() {
    let (eta, t, h) = (0.8, 3, 1e-5);
    let fd = (objective_at(eta + h, t, true) - objective_at(eta - h, t, true)) / (2.0 * h);
    let ex = exact(eta, t, true);
    assert!(fd.abs() > 1e-3, "degenerate check: {fd}");
    assert!((ex - fd).abs() < 1e-6 * (1.0 + fd.abs()), "exact {ex} vs FD {fd}");
}

#[test]
fn two_step_sotl_is_baydins_hypergradient() {
    // Baydin et al. 2018 / thesis Eq. (4.2): d/deta [L(w0) + L(w1)] = -grad L_1(w1) . grad L_0(w0).
    let (net, params, batches) = small_problem();
    let eta = 0.3;
    let grad_at = |w: &[Tensor], b: usize| {
        let w: Vec<Tensor> = w.iter().map(|p| p.detach().set_requires_grad(true)).collect();
        let l = cross_entropy(&net.forward(&w, &batches[b].0), &batches[b].1);
        Tensor::run_backward(&[l], &w, false, false)
    };
    let g0 = grad_at(&params, 0);
    let w1: Vec<Tensor> = params.iter().zip(&g0).map(|(p, g)| p - g * eta).collect();
    let g1 = grad_at(&w1, 1);
    let dot: f64 =
        g0.iter().zip(&g1).map(|(a, b)| (a * b).sum(Kind::Double).double_value(&[])).sum();
    let ex = exact(eta, 2, false);
    assert!((ex + dot).abs() < 1e-10 * (1.0 + dot.abs()), "exact {ex} vs -g1.g0 = {}", -dot);
}

#[test]
fn non_finite_loss_is_an_error_naming_the_step() {
    let (net, params, batches) = small_problem();
    let lr = Tensor::from(0.1);
    let err = unroll_sgd(&params, &lr, 3, false, |i, w| {
        let l = cross_entropy(&net.forward(w, &batches[i].0), &batches[i].1);
        if i == 2 {
            l * f64::NAN
        } else {
            l
        }
    })
    .unwrap_err();
    assert!(matches!(err, StudiesError::NonFinite { step: 2, .. }), "{err}");
}

fn fourier_cfg() -> FourierConfig {
    FourierConfig {
        n_points: 600,
        val_points: 100,
        max_degree: 6,
        batch_size: 16,
        weight_lr: 0.2,
        ..Default::default()
    }
}

fn fourier_objective(data: &FourierData, w: &Tensor, m: f64, batches: &[Tensor], val: bool) -> f64 {
    let mt = Tensor::from(m);
    let mut w = w.shallow_clone();
    let mut sum = 0.0;
    let steps = if val { 1 } else { batches.len() };
    for b in &batches[..steps] {
        let w_leaf = w.detach().set_requires_grad(true);
        let x = data.train_x.index_select(0, b);
        let y = data.train_y.index_select(0, b);
        let l = (gated_forward(&x, &w_leaf, &mt) - y).square().mean(Kind::Double);
        sum += l.double_value(&[]);
        let g = Tensor::run_backward(&[l], &[&w_leaf], false, false).remove(0);
        w = (w_leaf.detach() - g * 0.2).detach();
    }
    if val {
        (gated_forward(&data.val_x, &w, &mt) - &data.val_y)
            .square()
            .mean(Kind::Double)
            .double_value(&[])
    } else {
        sum
    }
}

#[test]
fn fourier_max_deg_hypergradients_match_central_difference() {
    let cfg = fourier_cfg();
    let data = fourier_data(&cfg, Device::Cpu);
    let w = with_torch_seed(5, || Tensor::randn([7], (Kind::Double, Device::Cpu)));
    let mut order = index_batches(500, 16, 1, 1, 0).unwrap();
    let batches: Vec<Tensor> = epoch_indices(&mut order, 0).unwrap().into_iter().take(12).collect();
    for (m, obj) in [
        (2.3, DegreeObjective::Sotl { t: 12 }),
        (0.7, DegreeObjective::Sotl { t: 2 }),
        (2.6, DegreeObjective::ValOneStep),
    ] {
        let val = obj == DegreeObjective::ValOneStep;
        let bs = match obj {
            DegreeObjective::Sotl { t } => &batches[..t],
            DegreeObjective::ValOneStep => &batches[..1],
        };
        let (ex, _, _) = degree_hypergradient(&data, &w, m, bs, obj, 0.2).unwrap();
        let h = 1e-5;
        let fd = (fourier_objective(&data, &w, m + h, bs, val)
            - fourier_objective(&data, &w, m - h, bs, val))
            / (2.0 * h);
        assert!(fd.abs() > 1e-3, "degenerate check {obj}: {fd}");
        assert!((ex - fd).abs() < 1e-6 * (1.0 + fd.abs()), "{obj} at {m}: exact {ex} vs FD {fd}");
    }
}
