//! Every estimator on a small trace whose scores were computed by hand (values in comments).

use approx::assert_abs_diff_eq;
use sotl_estimators::*;

/// 2 epochs x 3 steps; validation after each epoch, on the full set and on one minibatch.
fn trace() -> TrainingRecord {
    let losses = [2.0, 1.5, 1.0, 0.8, 0.6, 0.4];
    let gsum = [1.0, -0.5, 0.25, 0.5, -0.25, 0.125];
    let gl1 = [3.0, 2.0, 1.0, 1.0, 0.5, 0.5];
    let steps = (0..6)
        .map(|i| StepRecord {
            step: i,
            epoch: i / 3,
            train_loss: losses[i],
            train_acc: None,
            grad_sum: Some(gsum[i]),
            grad_l1: Some(gl1[i]),
            grad_acc_l1: None,
        })
        .collect();
    let val = |step, epoch, loss, acc, scope| ValRecord {
        step,
        epoch,
        loss,
        acc,
        scope,
        bn: BnStats::Running,
    };
    TrainingRecord {
        steps,
        vals: vec![
            val(3, 0, 1.2, 0.55, ValScope::Full),
            val(3, 0, 1.0, 0.60, ValScope::Minibatch),
            val(6, 1, 0.9, 0.70, ValScope::Full),
            val(6, 1, 0.7, 0.75, ValScope::Minibatch),
        ],
        steps_per_epoch: 3,
        param_count: Some(1234),
    }
}

fn score(kind: &str, rec: &TrainingRecord) -> Result<f64> {
    kind.parse::<EstimatorKind>()?.build()?.score(rec)
}

#[test]
fn scores_match_hand_computation() {
    let r = trace();
    let cases: [(&str, f64); 16] = [
        ("sotl", -6.3),            // 2 + 1.5 + 1 + 0.8 + 0.6 + 0.4
        ("sotl-e", -1.8),          // last epoch: 0.8 + 0.6 + 0.4
        ("sotl-e:2", -6.3),        // both epochs
        ("sotl:last=2", -1.0),     // 0.6 + 0.4
        ("sotl:first=2", -3.5),    // 2 + 1.5
        ("sotl:steps=1..4", -3.3), // 1.5 + 1 + 0.8
        ("sotl-ema:0.5", -1.35),   // 0.5 * mean(2,1.5,1) + mean(0.8,0.6,0.4) = 0.75 + 0.6
        ("tlmini", -0.4),
        ("valacc", 0.70), // latest full-set event (step 6)
        ("valacc-mini", 0.75),
        ("sovl", -2.1), // 1.2 + 0.9
        ("sovl:last=1", -0.9),
        ("sovl-mini", -1.7), // 1.0 + 0.7
        ("sog", 1.125),      // 1 - 0.5 + 0.25 + 0.5 - 0.25 + 0.125
        ("sogn", 8.0),       // 3 + 2 + 1 + 1 + 0.5 + 0.5
        ("params", 1234.0),
    ];
    for (kind, want) in cases {
        let got = score(kind, &r).unwrap_or_else(|e| panic!("{kind}: {e}"));
        assert_abs_diff_eq!(got, want, epsilon = 1e-12);
    }
    assert_abs_diff_eq!(score("sog:epochs=1", &r).unwrap(), 0.375, epsilon = 1e-12);
    // 0.5 - 0.25 + 0.125
}

#[test]
fn faster_training_scores_higher() {
    let slow = trace();
    let mut fast = trace();
    for s in &mut fast.steps {
        s.train_loss *= 0.5;
    }
    for k in ["sotl", "sotl-e", "sotl-ema", "tlmini"] {
        assert!(
            score(k, &fast).unwrap() > score(k, &slow).unwrap(),
            "{k}: lower losses must score higher"
        );
    }
}

#[test]
fn score_at_sees_only_the_past() {
    let r = trace();
    let sotl = Sotl::new(Window::All);
    assert_abs_diff_eq!(sotl.score_at(&r, 3).unwrap(), -4.5, epsilon = 1e-12); // steps 0..=2
    assert_abs_diff_eq!(ValAcc.score_at(&r, 3).unwrap(), 0.55, epsilon = 1e-12);
    assert!(matches!(ValAcc.score_at(&r, 2), Err(EstimatorError::MissingData { .. })));
    assert_abs_diff_eq!(Sotl::last_epoch().score_at(&r, 3).unwrap(), -4.5, epsilon = 1e-12);
    assert!(matches!(
        Sotl::last_epoch().score_at(&r, 2),
        Err(EstimatorError::WindowNotCovered { .. })
    ));
    assert!(matches!(sotl.score_at(&r, 0), Err(EstimatorError::EmptyWindow { .. })));
    let curve = sotl.score_curve(&r, &[1, 2, 6]).unwrap();
    assert_eq!(curve.len(), 3);
    assert_abs_diff_eq!(curve[0], -2.0, epsilon = 1e-12);
    assert_abs_diff_eq!(curve[1], -3.5, epsilon = 1e-12);
    assert_abs_diff_eq!(curve[2], -6.3, epsilon = 1e-12);
}

#[test]
fn curves_over_many_records_are_indexed_by_step_then_record() {
    let a = trace();
    let mut b = trace();
    for s in &mut b.steps {
        s.train_loss += 1.0;
    }
    let m =
        score_all_over_steps(&Sotl::new(Window::All), &[a.clone(), b.clone()], &[1, 6]).unwrap();
    assert_eq!(m.len(), 2);
    assert_abs_diff_eq!(m[0][0], -2.0, epsilon = 1e-12);
    assert_abs_diff_eq!(m[0][1], -3.0, epsilon = 1e-12);
    assert_abs_diff_eq!(m[1][1], -12.3, epsilon = 1e-12);
    let all = score_all(&TlMini, &[a, b]).unwrap();
    assert_abs_diff_eq!(all[1], -1.4, epsilon = 1e-12);
}

#[test]
fn non_finite_values_in_the_window_name_the_step() {
    let mut r = trace();
    r.steps[4].train_loss = f64::NAN;
    let e = score("sotl-e", &r).unwrap_err();
    assert!(matches!(e, EstimatorError::NonFinite { step: 4, .. }), "{e}");
    assert!(e.to_string().contains("step 4"), "{e}");
    // Outside the window the NaN does not matter.
    assert_abs_diff_eq!(score("sotl:first=2", &r).unwrap(), -3.5, epsilon = 1e-12);
    r.steps[4].train_loss = f64::INFINITY;
    assert!(score("sotl", &r).is_err());
    let mut r = trace();
    r.vals[2].loss = f64::NAN;
    assert!(matches!(score("sovl", &r), Err(EstimatorError::NonFinite { step: 6, .. })));
    let mut r = trace();
    r.steps[1].grad_sum = Some(f64::NEG_INFINITY);
    assert!(matches!(score("sog", &r), Err(EstimatorError::NonFinite { step: 1, .. })));
}

#[test]
fn missing_data_is_an_error_that_says_what_to_record() {
    let mut r = trace();
    r.steps[2].grad_sum = None;
    r.steps[2].grad_l1 = None;
    r.param_count = None;
    for k in ["sog", "sogn", "params"] {
        let e = score(k, &r).unwrap_err();
        assert!(matches!(e, EstimatorError::MissingData { .. }), "{k}: {e}");
    }
    assert!(score("sog", &r).unwrap_err().to_string().contains("step 2"));
    r.vals.clear();
    for k in ["valacc", "valacc-mini", "sovl", "sovl-mini"] {
        assert!(matches!(score(k, &r), Err(EstimatorError::MissingData { .. })), "{k}");
    }
    let e = score("sovl:last=3", &trace()).unwrap_err();
    assert!(matches!(e, EstimatorError::WindowNotCovered { needed: 3, available: 2, .. }), "{e}");
    r.steps_per_epoch = 0;
    assert!(matches!(score("sotl-e", &r), Err(EstimatorError::MissingData { .. })));
    assert!(matches!(
        score("tlmini", &TrainingRecord::default()),
        Err(EstimatorError::EmptyWindow { .. })
    ));
}

#[test]
fn unordered_records_are_rejected_before_scoring() {
    let mut r = trace();
    r.steps.swap(1, 2);
    assert!(matches!(score("sotl", &r), Err(EstimatorError::BadRecord(_))));
}

#[test]
fn records_round_trip_through_json() {
    let r = trace();
    let back: TrainingRecord = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
    assert_eq!(back, r);
}
