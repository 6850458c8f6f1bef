//! Dominant eigenvalue of a symmetric operator by power iteration.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

use crate::{DiagnosticsError, Result};

/// Settings of [`dominant_eigenvalue`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PowerIterationConfig {
    /// Most operator applications.
    pub max_iters: usize,
    /// Stop when two successive Rayleigh quotients differ by at most `tol * |λ|`.
    pub tol: f64,
    /// Seed of the random start vector.
    pub seed: u64,
}

impl Default for PowerIterationConfig {
    fn default() -> Self {
        // Zela et al. (2020) use a few tens of iterations on the 2 x 14 x 8 DARTS alphas; the
        // 30-dimensional NAS-Bench-201 alpha converges faster.
        Self { max_iters: 50, tol: 1e-4, seed: 0 }
    }
}

impl PowerIterationConfig {
    /// Checks the ranges: at least one iteration, a positive finite tolerance.
    pub fn validate(&self) -> Result<()> {
        if self.max_iters == 0 {
            return Err(DiagnosticsError::InvalidConfig("max_iters must be at least 1".into()));
        }
        if !(self.tol.is_finite() && self.tol > 0.0) {
            return Err(DiagnosticsError::InvalidConfig(format!(
                "tol must be a positive number, got {}",
                self.tol
            )));
        }
        Ok(())
    }
}

/// The result of a power iteration.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EigenEstimate {
    /// The eigenvalue of largest magnitude (signed Rayleigh quotient `vᵀ H v` at the last `v`).
    pub eigenvalue: f64,
    /// Operator applications used.
    pub iterations: usize,
    /// Whether the tolerance was met before `max_iters`.
    pub converged: bool,
}

/// The eigenvalue of largest magnitude of a symmetric linear operator `op` on tensors of `shape`.
///
/// Power iteration (von Mises 1929): `v ← H v / ‖H v‖`, `λ = vᵀ H v` with `‖v‖ = 1`, from a
/// seeded random start. Used with [`crate::HessianOperator`] for the dominant eigenvalue of the
/// architecture Hessian `∇²_α L` (Zela et al., ICLR 2020, "Understanding and Robustifying
/// Differentiable Architecture Search"). The start vector is drawn from its own ChaCha8 stream, so
/// calling this never moves libtorch's global generator (a search that measures eigenvalues
/// follows the same trajectory as one that does not).
///
/// Errors if `op` returns a wrong shape or a non-finite value.
pub fn dominant_eigenvalue<F>(
    shape: &[i64],
    device: Device,
    mut op: F,
    cfg: &PowerIterationConfig,
) -> Result<EigenEstimate>
where
    F: FnMut(&Tensor) -> Result<Tensor>,
{
    cfg.validate()?;
    let n: i64 = shape.iter().product();
    if n == 0 {
        return Err(DiagnosticsError::InvalidConfig("the operator's domain is empty".into()));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let start: Vec<f64> = (0..n).map(|_| rng.gen_range(-1.0..1.0)).collect();
    let mut v = Tensor::from_slice(&start).view(shape).to_device(device);
    v = &v / v.norm().double_value(&[]).max(f64::MIN_POSITIVE);
    let mut previous: Option<f64> = None;
    let mut lambda = 0.0;
    for it in 1..=cfg.max_iters {
        let hv = op(&v)?;
        if hv.size() != shape {
            return Err(DiagnosticsError::ShapeMismatch {
                expected: shape.to_vec(),
                got: hv.size(),
            });
        }
        let hv = hv.to_kind(Kind::Double).to_device(device);
        lambda = (&hv * &v).sum(Kind::Double).double_value(&[]);
        let norm = hv.norm().double_value(&[]);
        if !(lambda.is_finite() && norm.is_finite()) {
            return Err(DiagnosticsError::NonFinite { what: "a Hessian-vector product".into() });
        }
        if norm == 0.0 {
            // v lies in the null space; with a random start that means H = 0 in practice.
            return Ok(EigenEstimate { eigenvalue: 0.0, iterations: it, converged: true });
        }
        if let Some(p) = previous {
            if (lambda - p).abs() <= cfg.tol * lambda.abs().max(f64::MIN_POSITIVE) {
                return Ok(EigenEstimate { eigenvalue: lambda, iterations: it, converged: true });
            }
        }
        previous = Some(lambda);
        v = hv / norm;
    }
    Ok(EigenEstimate { eigenvalue: lambda, iterations: cfg.max_iters, converged: false })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A symmetric matrix `Q diag(spectrum) Qᵀ` with a fixed rotation `Q` (Householder).
    fn matrix_with_spectrum(spectrum: &[f64]) -> Tensor {
        let n = spectrum.len() as i64;
        let u: Vec<f64> = (0..n).map(|i| 1.0 + i as f64 * 0.37).collect();
        let u = Tensor::from_slice(&u).view([n, 1]);
        let u = &u / u.norm();
        let q: Tensor = Tensor::eye(n, (Kind::Double, Device::Cpu)) - u.matmul(&u.tr()) * 2.0;
        q.matmul(&Tensor::from_slice(spectrum).diag(0)).matmul(&q.tr())
    }

    #[test]
    fn finds_top_eigenvalue_of_a_matrix_with_known_spectrum() {
        let spectrum = [5.0, 3.0, 1.0, 0.5, -0.25, 0.0];
        let a = matrix_with_spectrum(&spectrum);
        let cfg = PowerIterationConfig { max_iters: 500, tol: 1e-12, seed: 3 };
        let est = dominant_eigenvalue(&[6], Device::Cpu, |v| Ok(a.matmul(v)), &cfg).unwrap();
        assert!(est.converged);
        assert!((est.eigenvalue - 5.0).abs() < 1e-9, "got {}", est.eigenvalue);
    }

    #[test]
    fn dominant_means_largest_magnitude_and_keeps_the_sign() {
        let a = matrix_with_spectrum(&[-4.0, 2.0, 1.0]);
        let cfg = PowerIterationConfig { max_iters: 500, tol: 1e-12, seed: 1 };
        let est = dominant_eigenvalue(&[3], Device::Cpu, |v| Ok(a.matmul(v)), &cfg).unwrap();
        assert!((est.eigenvalue + 4.0).abs() < 1e-8, "got {}", est.eigenvalue);
    }

    #[test]
    fn zero_operator_has_eigenvalue_zero() {
        let est = dominant_eigenvalue(
            &[2, 3],
            Device::Cpu,
            |v| Ok(v.zeros_like()),
            &PowerIterationConfig::default(),
        )
        .unwrap();
        assert_eq!(est.eigenvalue, 0.0);
    }

    #[test]
    fn rejects_wrong_shapes_nan_and_bad_settings() {
        let cfg = PowerIterationConfig::default();
        let e = dominant_eigenvalue(
            &[3],
            Device::Cpu,
            |_| Ok(Tensor::zeros([4], (Kind::Double, Device::Cpu))),
            &cfg,
        );
        assert!(matches!(e, Err(DiagnosticsError::ShapeMismatch { .. })));
        let e = dominant_eigenvalue(&[3], Device::Cpu, |v| Ok(v * f64::NAN), &cfg);
        assert!(matches!(e, Err(DiagnosticsError::NonFinite { .. })));
        let bad = PowerIterationConfig { max_iters: 0, ..cfg };
        assert!(dominant_eigenvalue(&[3], Device::Cpu, |v| Ok(v.copy()), &bad).is_err());
    }
}
