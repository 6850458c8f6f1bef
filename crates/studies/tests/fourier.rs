//! The Fourier studies: data, discretization, the fixed-degree SoTL minimum, determinism.

use sotl_studies::*;
use tch::{Device, Kind, Tensor};

#[test]
fn features_and_targets_follow_eq_4_3_and_4_4() {
    let x = Tensor::from_slice(&[0.125f64, -3.3]);
    let f = fourier_features(&x, 3);
    assert_eq!(f.size(), [2, 4]);
    // x = 1/8: j=1 -> cos(pi/4)+sin(pi/4) = sqrt 2; j=2 -> cos(pi/2)+sin(pi/2) = 1; j=3 -> cos(3pi/4)+sin(3pi/4) = 0.
    let want = [1.0, std::f64::consts::SQRT_2, 1.0, 0.0];
    for (j, w) in want.iter().enumerate() {
        assert!((f.double_value(&[0, j as i64]) - w).abs() < 1e-12, "feature {j}");
    }
    let cfg = FourierConfig { n_points: 50, val_points: 10, batch_size: 8, ..Default::default() };
    let d = fourier_data(&cfg, Device::Cpu);
    assert_eq!(d.train_x.size(), [40, 22]);
    // Noise-free targets: y = sum of the first k + 1 = 4 features.
    let y = d.train_x.narrow(1, 0, 4).sum_dim_intlist([1i64].as_slice(), false, Kind::Double);
    assert!((y - &d.train_y).abs().max().double_value(&[]) < 1e-12);
}

#[test]
fn discretized_degree_counts_terms_at_or_below_max_deg() {
    assert_eq!(selected_terms(-1.0, 21), 0);
    assert_eq!(selected_terms(-0.01, 21), 0);
    assert_eq!(selected_terms(0.0, 21), 1);
    assert_eq!(selected_terms(2.99, 21), 3);
    assert_eq!(selected_terms(3.49, 21), 4);
    assert_eq!(selected_terms(40.0, 21), 22);
    assert!((soft_step(&Tensor::from(0.0f64)).double_value(&[]) - 0.5).abs() < 1e-15);
}

#[test]
fn true_degree_has_the_lowest_sotl() {
    let cfg =
        FourierConfig { n_points: 3000, val_points: 500, fixed_steps: 300, ..Default::default() };
    let data = fourier_data(&cfg, Device::Cpu);
    let res = fixed_degree_sotl(&data, &cfg).unwrap();
    let best = res.iter().min_by(|a, b| a.sotl.total_cmp(&b.sotl)).unwrap();
    let table: Vec<(usize, f64)> = res.iter().map(|r| (r.degree, r.sotl)).collect();
    assert_eq!(best.degree, 3, "SoTL per degree: {table:?}");
    // Underfitting models keep a loss of about the missing terms' variance (1 per term).
    let k1 = res.iter().find(|r| r.degree == 1).unwrap();
    assert!(k1.final_val_mse > 1.5 && k1.final_val_mse < 2.5, "k=1 val MSE {}", k1.final_val_mse);
    assert!(best.final_val_mse < 0.05, "k=3 val MSE {}", best.final_val_mse);
}

#[test]
fn degree_search_is_deterministic_and_records_its_trajectory() {
    let cfg = FourierConfig { n_points: 1000, val_points: 200, steps: 200, ..Default::default() };
    let data = fourier_data(&cfg, Device::Cpu);
    let a = degree_search(&data, &cfg, 8.0, DegreeObjective::Sotl { t: 10 }).unwrap();
    let b = degree_search(&data, &cfg, 8.0, DegreeObjective::Sotl { t: 10 }).unwrap();
    assert_eq!(a, b);
    assert_eq!(a.trajectory.len(), 21);
    assert_eq!(a.trajectory[0], (0, 8.0));
    assert_eq!(a.trajectory.last().unwrap().0, 200);
    assert_eq!(a.final_terms, selected_terms(a.final_max_deg, 21));
}

#[test]
fn bad_fourier_config_is_rejected() {
    let bad = [
        FourierConfig { true_degree: 21, ..Default::default() },
        FourierConfig { ts: vec![1], ..Default::default() },
        FourierConfig { weight_lr: f64::NAN, ..Default::default() },
        FourierConfig { val_points: 10_000, ..Default::default() },
    ];
    for c in bad {
        assert!(matches!(c.validate(), Err(StudiesError::Config(_))), "{c:?}");
    }
    FourierConfig::default().validate().unwrap();
}
