//! Rank-correlation and top-k metrics for comparing architecture rankings.
