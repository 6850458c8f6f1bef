"""The SoTL family of estimators on per-step training losses.

:func:`sotl` and :func:`tlmini` return the quantities as the thesis defines them (a sum of
losses; lower predicts better). :func:`score` follows the library's convention, as rankings
use it: higher predicts better (SoTL's score is minus the sum).
"""

from __future__ import annotations

import json
from typing import Any, Mapping, Optional, Sequence, Union

from . import _native
from ._native import SotlNasError

__all__ = ["score", "sotl", "sotl_e", "sotl_ema", "tlmini"]

Losses = Union[Sequence[float], Any]


def _floats(losses: Losses) -> list:
    if hasattr(losses, "tolist"):
        losses = losses.tolist()
    try:
        return [float(v) for v in losses]
    except (TypeError, ValueError) as e:
        raise SotlNasError(f"losses must be a sequence of numbers: {e}") from None


def score(
    spec: str,
    losses: Optional[Losses] = None,
    *,
    steps_per_epoch: Optional[int] = None,
    record: Optional[Mapping[str, Any]] = None,
) -> float:
    """The score of estimator ``spec`` (the CLI's syntax: ``sotl``, ``sotl-e``,
    ``sotl:last=100``, ``sotl:first=50``, ``sotl-ema:0.9``, ``tlmini``, ``valacc``, ``sog``, ...),
    higher = predicted better.

    Give per-step training ``losses`` (a list, NumPy array or 1-D tensor; epochs of
    ``steps_per_epoch`` steps for the epoch-based windows), or a whole ``record`` in the form
    of a run's ``record.json`` for the estimators that need validation or gradient statistics.
    """
    if (losses is None) == (record is None):
        raise SotlNasError("give losses or record, not both or neither")
    if record is not None:
        return _native.score_record(spec, json.dumps(record))
    return _native.score_losses(spec, _floats(losses), steps_per_epoch)


def sotl(losses: Losses, last: Optional[int] = None) -> float:
    """SoTL: the sum of the training losses (of the ``last`` steps when given)."""
    spec = "sotl" if last is None else f"sotl:last={int(last)}"
    return -score(spec, losses)


def sotl_e(losses: Losses, steps_per_epoch: int, epochs: int = 1) -> float:
    """SoTL-E: the sum of the training losses of the last ``epochs`` epochs."""
    spec = "sotl-e" if epochs == 1 else f"sotl-e:{int(epochs)}"
    return -score(spec, losses, steps_per_epoch=steps_per_epoch)


def sotl_ema(losses: Losses, steps_per_epoch: int, decay: float) -> float:
    """SoTL-EMA: ``sum_e decay**(E - e) * mean loss of epoch e`` over the epochs ``e <= E``
    (TSE-EMA of Ru et al. 2021, who use ``decay = 0.9``)."""
    return -score(f"sotl-ema:{float(decay)}", losses, steps_per_epoch=steps_per_epoch)


def tlmini(losses: Losses) -> float:
    """TLMini: the last minibatch's training loss."""
    return -score("tlmini", losses)
