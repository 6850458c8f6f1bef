"""NAS-Bench-201: arch strings, ground-truth tables, sampling and mutation, and trained networks."""

from __future__ import annotations

import json
import os
from typing import Optional, Union

import torch

from . import _native
from ._native import Arch, Bench, Curves, SotlNasError

__all__ = ["Arch", "Bench", "Curves", "load", "curves", "convert", "sample", "mutate", "logits"]


def load(data_root: Union[str, os.PathLike, None] = None) -> Bench:
    """The NAS-Bench-201 tables under ``<data_root>/benchmarks/nb201/`` (default
    ``$SOTL_NAS_DATA``, else ``../shared``): ``nb201-200ep.csv`` and ``nb201-minibench.csv``,
    all 15 625 cells.

    ``sotl-nas bench nb201 convert`` writes these tables from the official
    ``NAS-Bench-201-v1_*.pth`` or NATS-Bench archives.
    """
    return Bench.load(_root(data_root))


def _root(data_root):
    root = _native.resolve_data_root(None if data_root is None else os.fspath(data_root))
    if root is None:
        raise SotlNasError(
            "no data root: pass data_root, set SOTL_NAS_DATA, or run beside ../shared (a folder "
            "with benchmarks/nb201/)"
        )
    return root


def curves(data_root: Union[str, os.PathLike, None] = None, hp: int = 200) -> Curves:
    """The per-epoch curves of every cell under the ``hp``-epoch schedule (12 or 200):
    ``<data_root>/benchmarks/nb201/nb201-curves-<hp>.bin``, written by :func:`convert`."""
    return Curves.from_data_root(_root(data_root), hp)


def convert(archive: Union[str, os.PathLike], out: Union[str, os.PathLike]) -> dict:
    """Converts an official archive (``NAS-Bench-201-v1_*.pth``, NATS-Bench's
    ``NATS-tss-v1_0-3ffb9-simple`` folder or its ``.pickle.pbz2``) into the two tables and the
    curves files under ``out`` (use ``<data_root>/benchmarks/nb201``); no Python pickle is
    executed. Returns what was read and written."""
    return json.loads(_native.convert_archive(os.fspath(archive), os.fspath(out)))


def sample(seed: int) -> Arch:
    """A cell drawn uniformly from the 15 625, by ``seed``."""
    return Arch.sample(seed)


def mutate(arch: Union[Arch, str], seed: int) -> Arch:
    """A random neighbour of ``arch`` (one edge's op changed), by ``seed``."""
    return (arch if isinstance(arch, Arch) else Arch(arch)).mutate(seed)


def logits(run: Union[str, os.PathLike], images: torch.Tensor, device: Optional[str] = None) -> torch.Tensor:
    """Eval-mode logits (running BN statistics) of the network trained by a ``train`` run, on
    ``images`` of shape ``[batch, channels, height, width]`` normalised as in training."""
    if not isinstance(images, torch.Tensor):
        raise SotlNasError(f"images must be a torch.Tensor, not {type(images).__name__}")
    x = images.detach().to("cpu", torch.float32).contiguous()
    dev = device if device is not None else (str(images.device) if images.is_cuda else "cpu")
    values, shape = _native.nb201_logits(os.fspath(run), x.reshape(-1).tolist(), list(x.shape), dev)
    return torch.tensor(values, dtype=torch.float32).reshape(shape).to(images.device)
