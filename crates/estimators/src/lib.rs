//! Training records and the SoTL family of generalization estimators. Pure: no tensors.
//!
//! `sotl-train` emits [`TrainingRecord`]s; the estimators here turn a record into one score with
//! a single sign convention (higher = predicted better, see [`Estimator`]), which `sotl-search`
//! ranks by and `sotl-metrics` correlates with ground truth. [`EstimatorKind`] names every
//! estimator for configs and the command line; [`Estimator::score_at`] and
//! [`score_all_over_steps`] give correlation curves over training from one record per network.

mod error;
mod estimator;
mod kind;
mod params;
mod record;
mod sog;
mod sotl;
mod sovl;
mod tlmini;
mod val_acc;
mod view;
mod window;

pub use error::{EstimatorError, Result};
pub use estimator::{score_all, score_all_over_steps, Estimator};
pub use kind::{EstimatorKind, ESTIMATOR_SYNTAX};
pub use params::ParamCount;
pub use record::{BnStats, StepRecord, TrainingRecord, ValRecord, ValScope};
pub use sog::{Sog, SogL1, Sogn};
pub use sotl::{Sotl, SotlEma};
pub use sovl::Sovl;
pub use tlmini::TlMini;
pub use val_acc::{ValAcc, ValAccMini};
pub use view::RecordView;
pub use window::Window;
