"""Registry of zoo-training sources (``sources.toml``) and a cleaning loader.

``load_source(name)`` reads a source with its registered reader and returns finite
float64 series: gaps of at most ``MAX_GAP`` missing values are linearly interpolated,
longer gaps split a series into pieces, leading/trailing NaN are trimmed and pieces
shorter than ``MIN_LENGTH`` are dropped. Files below ``benchmark/`` are refused.
"""
from __future__ import annotations

import copy
import tomllib
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from seqfusion.frequency import FREQUENCIES
from seqfusion.training.data import readers
from seqfusion.training.data.paths import data_root

REGISTRY_FILE = Path(__file__).with_name("sources.toml")
FORBIDDEN_DIRS = ("benchmark",)
MAX_GAP = 3
MIN_LENGTH = 2


@lru_cache(maxsize=1)
def _registry() -> dict[str, dict[str, Any]]:
    with open(REGISTRY_FILE, "rb") as fh:
        reg = tomllib.load(fh)
    for name, info in reg.items():
        missing = {"file", "reader", "frequency", "domain"} - set(info)
        if missing:
            raise ValueError(f"{REGISTRY_FILE}: source {name!r} lacks {sorted(missing)}")
        if info["frequency"] not in FREQUENCIES:
            raise ValueError(f"{REGISTRY_FILE}: source {name!r}: bad frequency {info['frequency']!r}")
        if info["reader"] not in readers.READERS:
            raise ValueError(f"{REGISTRY_FILE}: source {name!r}: unknown reader {info['reader']!r}")
        _check_not_benchmark(info["file"])
    return reg


def _check_not_benchmark(file: str | Path) -> None:
    parts = Path(file).parts
    if Path(file).is_absolute() or ".." in parts or (parts and parts[0] in FORBIDDEN_DIRS):
        raise PermissionError(
            f"{file}: not a valid source file (benchmark/ files are zero-shot targets and "
            "paths must stay inside the data root)"
        )


def list_sources() -> list[str]:
    """Names of all registered sources, in registry order."""
    return list(_registry())


def source_info(name: str) -> dict[str, Any]:
    """Registry entry of ``name`` (a copy, with ``name``, ``related`` and ``options`` set)."""
    reg = _registry()
    if name not in reg:
        raise KeyError(f"unknown source {name!r}; known: {', '.join(reg)}")
    info = copy.deepcopy(reg[name])
    info.setdefault("related", [])
    info.setdefault("options", {})
    return {"name": name, **info}


def clean_series(x: np.ndarray, max_gap: int = MAX_GAP, min_length: int = MIN_LENGTH
                 ) -> list[np.ndarray]:
    """Split a 1-D series with NaN/inf into finite float64 pieces.

    Runs of at most ``max_gap`` missing values inside a piece are linearly interpolated;
    longer runs split the series; pieces shorter than ``min_length`` are dropped.
    """
    x = np.asarray(x, dtype=np.float64).ravel()
    ok = np.isfinite(x)
    idx = np.flatnonzero(ok)
    if idx.size == 0:
        return []
    # Break between consecutive finite points separated by more than max_gap missing.
    breaks = np.flatnonzero(np.diff(idx) > max_gap + 1)
    pieces = []
    for seg in np.split(idx, breaks + 1):
        lo, hi = seg[0], seg[-1] + 1
        if hi - lo < min_length:
            continue
        piece = x[lo:hi].copy()
        bad = ~ok[lo:hi]
        if bad.any():
            piece[bad] = np.interp(np.flatnonzero(bad), seg - lo, x[seg])
        pieces.append(piece)
    return pieces


def resolve_file(name: str, root: str | Path | None = None) -> Path:
    """Absolute path of the file of source ``name`` (refusing benchmark/ files)."""
    info = source_info(name)
    _check_not_benchmark(info["file"])
    base = Path(root) if root is not None else data_root()
    path = base / info["file"]
    bench = [(base / d).resolve() for d in FORBIDDEN_DIRS]
    if any(path.resolve().is_relative_to(b) for b in bench):
        raise PermissionError(f"{path}: benchmark files cannot be sources")
    if not path.is_file():
        raise FileNotFoundError(f"source {name!r}: data file not found: {path}")
    return path


def load_source(name: str, root: str | Path | None = None,
                options: Mapping[str, Any] | None = None) -> list[np.ndarray]:
    """Load source ``name`` as a list of finite 1-D float64 arrays.

    ``root``: data root (default :func:`data_root`). ``options``: overrides of the
    registered reader options (e.g. ``{"split": "all"}`` to include an M3 test part).
    """
    info = source_info(name)
    path = resolve_file(name, root)
    reader = readers.READERS[info["reader"]]
    kwargs = {**info["options"], **(options or {})}
    try:
        raw = reader(path, **kwargs)
    except Exception as exc:
        exc.add_note(f"while reading source {name!r} from {path}")
        raise
    return [piece for x in raw for piece in clean_series(x)]
