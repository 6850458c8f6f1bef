//! Training records and the SoTL family of generalization estimators.
