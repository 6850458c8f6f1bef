//! Hand-computed values, error cases and properties of the ranking metrics.

use proptest::prelude::*;
use sotl_metrics::{
    average_ranks, kendall_tau_b, pearson, precision_at_k, sparse_kendall_tau, spearman,
    top_k_mean, Bootstrap, MetricsError, RankSummary,
};

/// x = [1, 2, 3], y = [1, 3, 2], worked out by hand over all 27 ordered resamples: 3 repeat one
/// item (rho undefined, left out); the 18 with two distinct items are perfectly ordered, rho = 1
/// for items {0, 1} and {0, 2} (12 draws), -1 for {1, 2} (6 draws); the 6 permutations keep the
/// original rho = 1 - 6 (0 + 1 + 1) / (3 (9 - 1)) = 0.5. So P(-1) = P(0.5) = 1/4, P(1) = 1/2:
/// the 95% interval is [-1, 1] and the 40% interval (quantiles 0.3 and 0.7) is [0.5, 1].
#[test]
fn bootstrap_interval_matches_the_enumerated_distribution() {
    let (x, y) = ([1.0, 2.0, 3.0], [1.0, 3.0, 2.0]);
    let b = Bootstrap { resamples: 4000, level: 0.95, seed: 7 };
    let i = b.spearman(&x, &y).unwrap();
    assert!((i.lo + 1.0).abs() < 1e-12 && (i.hi - 1.0).abs() < 1e-12, "{i:?}");
    let i = Bootstrap { level: 0.4, ..b }.spearman(&x, &y).unwrap();
    // rho = 0.5 comes out of the Pearson formula on ranks with a last-bit rounding error.
    assert!((i.lo - 0.5).abs() < 1e-12 && (i.hi - 1.0).abs() < 1e-12, "{i:?}");
    // Kendall's tau-b has the same distribution here (tau = 1/3 for the permutations, +-1 else).
    let i = Bootstrap { level: 0.4, ..b }.kendall_tau_b(&x, &y).unwrap();
    assert!((i.lo - 1.0 / 3.0).abs() < 1e-12 && (i.hi - 1.0).abs() < 1e-12, "{i:?}");
    // A perfectly monotone pool gives rho = 1 in every defined resample.
    let i = b.spearman(&[1.0, 2.0, 3.0, 4.0], &[10.0, 20.0, 30.0, 40.0]).unwrap();
    assert!((i.lo - 1.0).abs() < 1e-12 && (i.hi - 1.0).abs() < 1e-12, "{i:?}");
    // The same seed draws the same resamples.
    assert_eq!(b.spearman(&x, &y).unwrap(), b.spearman(&x, &y).unwrap());
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-12
}

// x = [1, 2, 2, 3, 4], y = [2, 1, 3, 3, 5]: one tie in each.
const X: [f64; 5] = [1.0, 2.0, 2.0, 3.0, 4.0];
const Y: [f64; 5] = [2.0, 1.0, 3.0, 3.0, 5.0];

#[test]
fn spearman_with_ties_by_hand() {
    // Average ranks: rx = [1, 2.5, 2.5, 4, 5], ry = [2, 1, 3.5, 3.5, 5], both with mean 3.
    // dx = [-2, -0.5, -0.5, 1, 2], dy = [-1, -2, 0.5, 0.5, 2]
    // sum dx*dy = 2 + 1 - 0.25 + 0.5 + 4 = 7.25; sum dx^2 = sum dy^2 = 9.5
    // rho = 7.25 / 9.5
    assert_eq!(average_ranks(&X).unwrap(), vec![1.0, 2.5, 2.5, 4.0, 5.0]);
    assert_eq!(average_ranks(&Y).unwrap(), vec![2.0, 1.0, 3.5, 3.5, 5.0]);
    let rho = spearman(&X, &Y).unwrap();
    assert!(close(rho, 7.25 / 9.5), "{rho}");
}

#[test]
fn kendall_tau_b_with_ties_by_hand() {
    // The 10 pairs (i, j):
    //   (0,1) D   (0,2) C   (0,3) C   (0,4) C   (1,2) tied in x
    //   (1,3) C   (1,4) C   (2,3) tied in y    (2,4) C   (3,4) C
    // C = 7, D = 1, n0 = 10, n1 = 1, n2 = 1: tau_b = 6 / sqrt(9 * 9) = 2/3.
    let tau = kendall_tau_b(&X, &Y).unwrap();
    assert!(close(tau, 2.0 / 3.0), "{tau}");
    // A tie in both at once: x = [1, 1, 2], y = [5, 5, 4]. Pairs: (0,1) tied in both, (0,2) D,
    // (1,2) D. n0 = 3, n1 = n2 = 1: tau_b = -2 / sqrt(2 * 2) = -1.
    let tau = kendall_tau_b(&[1.0, 1.0, 2.0], &[5.0, 5.0, 4.0]).unwrap();
    assert!(close(tau, -1.0), "{tau}");
}

#[test]
fn pearson_by_hand() {
    // x = [1..5], y = [2, 4, 5, 4, 5]: dx = [-2, -1, 0, 1, 2], dy = [-2, 0, 1, 0, 1]
    // sum dx*dy = 6, sum dx^2 = 10, sum dy^2 = 6: r = 6 / sqrt(60).
    let r = pearson(&[1.0, 2.0, 3.0, 4.0, 5.0], &[2.0, 4.0, 5.0, 4.0, 5.0]).unwrap();
    assert!(close(r, 6.0 / 60f64.sqrt()), "{r}");
}

#[test]
fn sparse_kendall_ties_close_values() {
    // Precision 0.1 puts x into bins [931, 931, 933, 920]; y = [1, 2, 3, 4] stays distinct.
    // Pairs: (0,1) tied in x, (0,2) C, (0,3) D, (1,2) C, (1,3) D, (2,3) D.
    // C = 2, D = 3, n0 = 6, n1 = 1, n2 = 0: tau = -1 / sqrt(5 * 6).
    let x = [93.12, 93.14, 93.31, 92.0];
    let y = [1.0, 2.0, 3.0, 4.0];
    let tau = sparse_kendall_tau(&x, &y, 0.1).unwrap();
    assert!(close(tau, -1.0 / 30f64.sqrt()), "{tau}");
    // Unrounded, (0,1) is concordant: C = D = 3 and tau = 0.
    assert!(close(kendall_tau_b(&x, &y).unwrap(), 0.0));
    // A precision so coarse that x becomes constant is an error, not a silent 0.
    assert_eq!(
        sparse_kendall_tau(&x, &y, 1000.0),
        Err(MetricsError::ZeroVariance { input: "x", what: "rounded values" })
    );
    for p in [0.0, -0.1, f64::NAN, f64::INFINITY] {
        assert!(matches!(sparse_kendall_tau(&x, &y, p), Err(MetricsError::BadPrecision(_))));
    }
}

#[test]
fn top_k_by_hand() {
    // By score the top 2 are items 0 (0.9) and 3 (0.7): mean truth (90 + 60) / 2 = 75.
    // The true top 2 are items 0 and 1: overlap {0}, precision 1/2.
    let scores = [0.9, 0.1, 0.5, 0.7, 0.3];
    let truth = [90.0, 80.0, 70.0, 60.0, 50.0];
    assert!(close(top_k_mean(&scores, &truth, 2).unwrap(), 75.0));
    assert!(close(precision_at_k(&scores, &truth, 2).unwrap(), 0.5));
    assert!(close(top_k_mean(&scores, &truth, 5).unwrap(), 70.0));
    assert!(close(precision_at_k(&scores, &truth, 5).unwrap(), 1.0));
    assert!(close(top_k_mean(&scores, &truth, 1).unwrap(), 90.0));
}

#[test]
fn top_k_ties_resolve_in_expectation() {
    // A 3-way score tie competes for 2 slots: each tied item is in with probability 2/3.
    // top_k_mean = (10 + 20 + 30) * 2/3 / 2 = 20.
    // The true top 2 are items 3 and 2; only item 2 can overlap, with probability 2/3:
    // precision = (2/3) / 2 = 1/3.
    let scores = [1.0, 1.0, 1.0, 0.0];
    let truth = [10.0, 20.0, 30.0, 40.0];
    assert!(close(top_k_mean(&scores, &truth, 2).unwrap(), 20.0));
    assert!(close(precision_at_k(&scores, &truth, 2).unwrap(), 1.0 / 3.0));
    // Reordering the input changes nothing.
    let scores_r = [0.0, 1.0, 1.0, 1.0];
    let truth_r = [40.0, 30.0, 20.0, 10.0];
    assert!(close(top_k_mean(&scores_r, &truth_r, 2).unwrap(), 20.0));
    assert!(close(precision_at_k(&scores_r, &truth_r, 2).unwrap(), 1.0 / 3.0));
}

/// A correlation metric's signature.
type Metric = fn(&[f64], &[f64]) -> sotl_metrics::Result<f64>;

#[test]
fn bad_input_is_a_clear_error() {
    let metrics: [(&str, Metric); 4] = [
        ("spearman", spearman),
        ("kendall", kendall_tau_b),
        ("pearson", pearson),
        ("sparse", |x, y| sparse_kendall_tau(x, y, 0.1)),
    ];
    for (name, f) in metrics {
        assert_eq!(
            f(&[1.0, 2.0], &[1.0]),
            Err(MetricsError::LengthMismatch { x: 2, y: 1 }),
            "{name}"
        );
        assert_eq!(f(&[1.0], &[1.0]), Err(MetricsError::TooFew { needed: 2, got: 1 }), "{name}");
        assert_eq!(f(&[], &[]), Err(MetricsError::TooFew { needed: 2, got: 0 }), "{name}");
        match f(&[1.0, 2.0, 3.0], &[1.0, f64::NAN, 3.0]) {
            Err(MetricsError::NotFinite { input: "y", index: 1, value }) => assert!(value.is_nan()),
            other => panic!("{name}: {other:?}"),
        }
        assert!(
            matches!(
                f(&[4.0, 4.0, 4.0], &[1.0, 2.0, 3.0]),
                Err(MetricsError::ZeroVariance { input: "x", .. })
            ),
            "{name}"
        );
        assert!(
            matches!(
                f(&[1.0, 2.0, 3.0], &[7.0, 7.0, 7.0]),
                Err(MetricsError::ZeroVariance { input: "y", .. })
            ),
            "{name}"
        );
    }
    // Rank metrics order infinities; Pearson cannot use them.
    assert!(close(spearman(&[1.0, f64::INFINITY], &[1.0, 2.0]).unwrap(), 1.0));
    assert!(matches!(
        pearson(&[1.0, f64::INFINITY], &[1.0, 2.0]),
        Err(MetricsError::NotFinite { input: "x", index: 1, .. })
    ));
    // Top-k.
    assert_eq!(
        top_k_mean(&[1.0, 2.0], &[1.0, 2.0], 0),
        Err(MetricsError::KOutOfRange { k: 0, n: 2 })
    );
    assert_eq!(
        precision_at_k(&[1.0, 2.0], &[1.0, 2.0], 3),
        Err(MetricsError::KOutOfRange { k: 3, n: 2 })
    );
    assert_eq!(top_k_mean(&[], &[], 1), Err(MetricsError::TooFew { needed: 1, got: 0 }));
    assert_eq!(
        top_k_mean(&[1.0], &[2.0, 3.0], 1),
        Err(MetricsError::LengthMismatch { x: 1, y: 2 })
    );
    assert!(matches!(
        top_k_mean(&[f64::NAN, 1.0], &[1.0, 2.0], 1),
        Err(MetricsError::NotFinite { input: "scores", index: 0, .. })
    ));
    assert!(matches!(
        top_k_mean(&[1.0, 2.0], &[1.0, f64::NEG_INFINITY], 1),
        Err(MetricsError::NotFinite { input: "truth", index: 1, .. })
    ));
    // The messages say what to do.
    let msg = spearman(&[1.0, 1.0], &[1.0, 2.0]).unwrap_err().to_string();
    assert!(
        msg.contains("zero variance") && msg.contains("check that the values really differ"),
        "{msg}"
    );
    let msg = top_k_mean(&[1.0, 2.0], &[1.0, 2.0], 5).unwrap_err().to_string();
    assert!(msg.contains("choose k between 1 and 2"), "{msg}");
}

#[test]
fn summary_collects_the_metrics() {
    let s = RankSummary::compute(&X, &Y, 10).unwrap();
    assert_eq!((s.n, s.k), (5, 5));
    assert!(close(s.spearman, 7.25 / 9.5) && close(s.kendall_tau, 2.0 / 3.0));
    assert!(close(s.precision_at_k, 1.0) && close(s.top_k_mean, 14.0 / 5.0));
}

/// Tau-b straight from its definition, O(n^2): an independent check of the merge-sort version.
fn naive_tau_b(x: &[f64], y: &[f64]) -> f64 {
    let (mut c, mut d, mut tx, mut ty, mut n0) = (0i64, 0i64, 0i64, 0i64, 0i64);
    for i in 0..x.len() {
        for j in i + 1..x.len() {
            n0 += 1;
            let s = (x[i] - x[j]).signum() * (y[i] - y[j]).signum();
            if x[i] == x[j] {
                tx += 1;
            }
            if y[i] == y[j] {
                ty += 1;
            }
            if x[i] != x[j] && y[i] != y[j] {
                if s > 0.0 {
                    c += 1;
                } else {
                    d += 1;
                }
            }
        }
    }
    (c - d) as f64 / (((n0 - tx) * (n0 - ty)) as f64).sqrt()
}

/// Two paired vectors of small integers (many ties), neither constant.
fn tied_pair() -> impl Strategy<Value = (Vec<f64>, Vec<f64>)> {
    (2usize..40)
        .prop_flat_map(|n| (prop::collection::vec(-5i32..5, n), prop::collection::vec(-5i32..5, n)))
        .prop_map(|(a, b)| -> (Vec<f64>, Vec<f64>) {
            (a.into_iter().map(f64::from).collect(), b.into_iter().map(f64::from).collect())
        })
        .prop_filter("constant input", |(x, y)| {
            x.iter().any(|&v| v != x[0]) && y.iter().any(|&v| v != y[0])
        })
}

/// A vector of distinct values in random order.
fn distinct() -> impl Strategy<Value = Vec<f64>> {
    (2usize..50).prop_flat_map(|n| {
        Just((0..n).map(|i| i as f64 * 1.5 - 7.0).collect::<Vec<_>>()).prop_shuffle()
    })
}

proptest! {
    #[test]
    fn fast_kendall_matches_the_definition((x, y) in tied_pair()) {
        let fast = kendall_tau_b(&x, &y).unwrap();
        prop_assert!((fast - naive_tau_b(&x, &y)).abs() < 1e-12);
    }

    #[test]
    fn spearman_matches_the_rank_difference_formula_without_ties(x in distinct()) {
        // Without ties rho = 1 - 6 sum d^2 / (n (n^2 - 1)), with d the rank differences.
        let n = x.len() as f64;
        let y: Vec<f64> = x.iter().enumerate().map(|(i, v)| (v * 3.7 + i as f64).sin()).collect();
        let mut sorted: Vec<f64> = y.clone();
        sorted.sort_by(f64::total_cmp);
        prop_assume!(sorted.windows(2).all(|w| w[0] != w[1]));
        let (rx, ry) = (average_ranks(&x).unwrap(), average_ranks(&y).unwrap());
        let d2: f64 = rx.iter().zip(&ry).map(|(a, b)| (a - b) * (a - b)).sum();
        let expected = 1.0 - 6.0 * d2 / (n * (n * n - 1.0));
        prop_assert!((spearman(&x, &y).unwrap() - expected).abs() < 1e-9);
    }

    #[test]
    fn correlations_are_in_range_and_symmetric((x, y) in tied_pair()) {
        for f in [spearman, kendall_tau_b, pearson] {
            let a = f(&x, &y).unwrap();
            prop_assert!((-1.0..=1.0).contains(&a));
            prop_assert!((a - f(&y, &x).unwrap()).abs() < 1e-12);
            // Negating one input flips the sign.
            let neg: Vec<f64> = y.iter().map(|v| -v).collect();
            prop_assert!((a + f(&x, &neg).unwrap()).abs() < 1e-12);
        }
        let s = sparse_kendall_tau(&x, &y, 0.5).unwrap();
        prop_assert!((s - sparse_kendall_tau(&y, &x, 0.5).unwrap()).abs() < 1e-12);
        // Integers are already multiples of 0.5: rounding changes nothing.
        prop_assert!((s - kendall_tau_b(&x, &y).unwrap()).abs() < 1e-12);
    }

    #[test]
    fn rank_metrics_ignore_strictly_monotone_transforms((x, y) in tied_pair()) {
        let g: Vec<f64> = x.iter().map(|v| v.exp() * 10.0 - 3.0).collect();
        let h: Vec<f64> = y.iter().map(|v| v * v * v + 2.0 * v).collect();
        for f in [spearman, kendall_tau_b] {
            prop_assert!((f(&x, &y).unwrap() - f(&g, &h).unwrap()).abs() < 1e-12);
        }
        let k = 1 + x.len() / 3;
        prop_assert!((precision_at_k(&x, &y, k).unwrap() - precision_at_k(&g, &h, k).unwrap()).abs() < 1e-12);
        prop_assert!((top_k_mean(&x, &y, k).unwrap() - top_k_mean(&g, &y, k).unwrap()).abs() < 1e-12);
    }

    #[test]
    fn perfect_and_reversed_orders_give_plus_minus_one(x in distinct()) {
        let up: Vec<f64> = x.iter().map(|v| 2.0 * v + 1.0).collect();
        let down: Vec<f64> = x.iter().map(|v| -v.powi(3)).collect();
        for f in [spearman, kendall_tau_b] {
            prop_assert!((f(&x, &up).unwrap() - 1.0).abs() < 1e-12);
            prop_assert!((f(&x, &down).unwrap() + 1.0).abs() < 1e-12);
        }
        prop_assert!((pearson(&x, &up).unwrap() - 1.0).abs() < 1e-12);
        for k in [1, x.len() / 2 + 1, x.len()] {
            prop_assert!((precision_at_k(&x, &up, k).unwrap() - 1.0).abs() < 1e-12);
        }
    }

    #[test]
    fn top_k_mean_is_bounded_by_the_truth(x in distinct(), k in 1usize..10) {
        let truth: Vec<f64> = x.iter().map(|v| (v * 1.3).cos() * 50.0).collect();
        let k = k.min(x.len());
        let m = top_k_mean(&x, &truth, k).unwrap();
        let mut sorted = truth.clone();
        sorted.sort_by(|a, b| b.total_cmp(a));
        // No selection of k items beats the true top k or falls below the true bottom k.
        let best = sorted[..k].iter().sum::<f64>() / k as f64;
        let worst = sorted[sorted.len() - k..].iter().sum::<f64>() / k as f64;
        prop_assert!(m <= best + 1e-9 && m >= worst - 1e-9);
        prop_assert!((top_k_mean(&truth, &truth, k).unwrap() - best).abs() < 1e-9);
        let p = precision_at_k(&x, &truth, k).unwrap();
        prop_assert!((0.0..=1.0).contains(&p));
    }
}
