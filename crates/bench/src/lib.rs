//! Tabular NAS ground truth (NAS-Bench-201) and query-based baselines.
