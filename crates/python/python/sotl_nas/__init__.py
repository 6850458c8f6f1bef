"""sotl-nas from Python: weight-sharing neural architecture search ranked by SoTL.

The same Rust library as the ``sotl-nas`` command: NAS-Bench-201 ground truth and arch strings
(:mod:`sotl_nas.nb201`), DARTS genotypes (:mod:`sotl_nas.darts`), the SoTL family of estimators
(:mod:`sotl_nas.estimators`), rank metrics (:mod:`sotl_nas.metrics`), every command's study
(:func:`run`) and export of trained networks to PyTorch (:func:`export`).

``import torch`` comes first: the native module uses the libtorch that torch has loaded.
"""

from __future__ import annotations

import json as _json
import os as _os
from pathlib import Path as _Path
from typing import Any, Callable, Mapping, Optional, Sequence, Union

import torch as _torch  # noqa: F401  (loads libtorch for the native module)

from . import _native
from ._native import SotlNasError
from . import darts, estimators, metrics, nb201

__all__ = [
    "SotlNasError",
    "STUDIES",
    "config_defaults",
    "darts",
    "estimators",
    "export",
    "metrics",
    "nb201",
    "run",
]

__version__: str = _native.version()

#: The studies :func:`run` knows, named as the CLI's commands.
STUDIES = tuple(_native.STUDIES)

ProgressCallback = Callable[[str, int, int, str], Any]


def _plain(value: Any) -> Any:
    """Makes NumPy and torch values JSON-ready (``tolist``), recursively."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        return value.tolist()
    if isinstance(value, _os.PathLike):
        return _os.fspath(value)
    return value


def _to_json(what: str, value: Any) -> str:
    try:
        return _json.dumps(_plain(value), allow_nan=False)
    except (TypeError, ValueError) as e:
        raise SotlNasError(f"{what} holds a value that is not a plain number, string, list or dict: {e}") from None


def config_defaults(study: str) -> dict:
    """Every default of ``study``'s config: the keys :func:`run` takes (the TOML config's keys)."""
    return _json.loads(_native.config_defaults(study))


def run(
    study: str,
    config: Optional[Mapping[str, Any]] = None,
    *,
    out: Union[str, _os.PathLike],
    data_root: Union[str, _os.PathLike, None] = None,
    device: str = "cpu",
    threads: Optional[int] = None,
    progress: Union[bool, ProgressCallback] = True,
    **options: Any,
) -> Any:
    """Runs one study, as the CLI command of the same name does.

    Args:
        study: one of :data:`STUDIES`.
        config: the study's config as a dict with the keys of its TOML config
            (``sotl-nas config defaults <command>``, or :func:`config_defaults`); tables are
            nested dicts. Keys given replace the defaults; unknown keys raise.
        out: the run folder. Running again with the same folder and config resumes.
        data_root: a folder laid out like ``shared/`` (datasets, benchmark tables); default
            ``$SOTL_NAS_DATA`` when set, else ``../shared`` when it exists, else none (studies
            that can fall back to the embedded synthetic data do, and warn on stderr).
        device: ``cpu``, ``cuda`` or ``cuda:N``.
        threads: intra-op threads of libtorch (process-wide: torch shares the setting).
        progress: True for progress on stderr (bars on a terminal, a line every 30 s in a log),
            False for none, or a callable ``(label, position, length, message)`` called at
            most five times a second (e.g. to drive a notebook progress bar).
        **options: what the CLI takes as flags outside the config: ``top`` (search),
            ``trainers`` and ``seeds`` (oneshot-run), ``trainer`` (oneshot-train),
            ``supernet`` and ``pool`` (oneshot-rank).

    Returns:
        The result as the CLI's ``--json`` prints it, as Python objects: ``darts`` a list of
        per-seed dicts, the others a dict whose lists of dicts ``pandas.DataFrame`` takes.

    Raises:
        SotlNasError: bad config or options, missing data, or a failure of the study; the
            message names the problem and the fix.
        KeyboardInterrupt: on Ctrl-C, at the study's next progress report (every training
            step of its long loops); the run folder resumes from its last checkpoint.
    """
    if study not in STUDIES:
        raise SotlNasError(f"unknown study {study!r}: expected one of {', '.join(STUDIES)}")
    if config is not None and not isinstance(config, Mapping):
        raise SotlNasError(f"config must be a dict, not {type(config).__name__}")
    root = _native.resolve_data_root(None if data_root is None else _os.fspath(data_root))
    result = _native.run_study(
        study,
        _to_json("config", dict(config or {})),
        _os.fspath(out),
        root,
        device,
        threads,
        progress,
        _to_json("options", options),
    )
    return _json.loads(result)


def export(run: Union[str, _os.PathLike], out: Union[str, _os.PathLike]) -> dict:
    """Writes the network of a ``train`` run (``run(\"train\", ...)`` or ``sotl-nas train --out``)
    as safetensors under the parameter names of NAS-Bench-201's ``TinyNetwork``.

    The file's metadata holds ``arch``, ``C``, ``N`` and ``num_classes``; PyTorch loads it with
    ``TinyNetwork(C, N, genotype, num_classes).load_state_dict(safetensors.torch.load_file(out))``.
    Returns what was written (arch, sizes, tensor and weight counts, path).
    """
    return _json.loads(_native.export(_os.fspath(run), _os.fspath(out)))
