//! Architecture-Hessian eigenvalues and search trajectories.
//!
//! Sits beside `sotl-search`: the search calls [`hessian_dominant_eigenvalue`] every few epochs on
//! the architecture parameters and records [`TrajectoryPoint`]s; the CLI and `sotl-report` turn
//! trajectories into CSV, plots and tables. The power iteration is a free function over any
//! Hessian-vector-product closure, so it serves other parameters too.

mod collapse;
mod error;
mod hessian_eigen;
mod hvp;
mod power_iteration;
mod trajectory;

pub use collapse::{SkipCollapse, DEFAULT_SKIP_COLLAPSE_THRESHOLD};
pub use error::{DiagnosticsError, Result};
pub use hessian_eigen::hessian_dominant_eigenvalue;
pub use hvp::HessianOperator;
pub use power_iteration::{dominant_eigenvalue, EigenEstimate, PowerIterationConfig};
pub use trajectory::{discretize, trajectory_csv, TrajectoryPoint};
