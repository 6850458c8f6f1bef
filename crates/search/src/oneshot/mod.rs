//! One-shot NAS with SoTL ranking (thesis 3.4, 4.2): supernet trainers that sample single paths
//! (SPOS, FairNAS, MultiPath, Reptile, Metaprox, MultiPath+Metaprox), a fixed candidate pool, and
//! finetune-and-rank, which scores each candidate by SoTL after a short finetuning from the
//! supernet weights instead of by validation accuracy.
//!
//! Trainers are values ([`SupernetTrainer`]) driving any [`PathNet`]; the NAS-Bench-201 supernet of
//! `sotl-nn` is one. Ground truth never enters here except in [`rank_report`], which takes a
//! lookup function after all scores are fixed.

mod config;
mod error;
mod evolution;
mod finetune;
mod nb201;
mod path_net;
mod pool;
mod ranking;
mod sampling;
mod sgd;
mod supernet_training;
mod trainer;

pub use config::{
    prepare_data, DataConfig, DataSource, OneShotConfig, PoolConfig, ReportConfig, RerankConfig,
};
pub use error::{OneShotError, OneShotResult};
pub use evolution::{evolve, EvolutionConfig, EvolutionRun};
pub use finetune::{
    finetune_pool, read_results, CandidateResult, CandidateTiming, EvalBn, FinetuneConfig,
    Finetuner, ResultsLog,
};
pub use nb201::{Nb201PathNet, SupernetPathNet};
pub use path_net::{ArchOf, PathNet};
pub use pool::FinetunePool;
pub use ranking::{
    ground_truth, rank_by, rank_report, Curve, Phase, Pick, PickRow, PoolPicks, RankMetric,
    ReportSettings, RowResult, RunRanking, ScoreRanking, SummaryCell, SummaryTable, TableRow,
};
pub use sampling::{fairnas_paths, uniform_path, uniform_paths};
pub use sgd::path_sgd;
pub use supernet_training::{load_supernet, SupernetTrainConfig, SupernetTraining};
pub use trainer::{
    SgdSettings, StepStats, SupernetTrainer, SupernetTrainerConfig, SupernetTrainerState,
    TrainerKind,
};

#[cfg(test)]
mod tests;
