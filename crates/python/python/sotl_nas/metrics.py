"""Rank metrics of scores against ground truth: correlations, top-k, bootstrap intervals."""

from __future__ import annotations

from typing import Any, Sequence, Tuple

from . import _native

__all__ = ["spearman", "kendall_tau", "pearson", "top_k_mean", "precision_at_k", "bootstrap"]


def _floats(v: Any) -> list:
    return [float(x) for x in (v.tolist() if hasattr(v, "tolist") else v)]


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman's rho (ties get average ranks)."""
    return _native.spearman(_floats(x), _floats(y))


def kendall_tau(x: Sequence[float], y: Sequence[float]) -> float:
    """Kendall's tau-b."""
    return _native.kendall_tau(_floats(x), _floats(y))


def pearson(x: Sequence[float], y: Sequence[float]) -> float:
    """Pearson's r."""
    return _native.pearson(_floats(x), _floats(y))


def top_k_mean(scores: Sequence[float], truth: Sequence[float], k: int) -> float:
    """The mean truth of the ``k`` best-scored items."""
    return _native.top_k_mean(_floats(scores), _floats(truth), k)


def precision_at_k(scores: Sequence[float], truth: Sequence[float], k: int) -> float:
    """The share of the ``k`` best-scored items that are among the ``k`` truly best."""
    return _native.precision_at_k(_floats(scores), _floats(truth), k)


def bootstrap(
    x: Sequence[float],
    y: Sequence[float],
    statistic: str = "spearman",
    resamples: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> Tuple[float, float]:
    """Percentile-bootstrap interval ``(lo, hi)`` of ``statistic`` (``spearman`` or ``kendall``)."""
    return _native.bootstrap(_floats(x), _floats(y), statistic, resamples, level, seed)
