"""Where the project's datasets and caches live.

Datasets are read from ``$SEQFUSION_DATA`` (default: ``../shared/data`` beside the
checkout or the current directory). Caches are written to ``$SEQFUSION_CACHE``
(default: ``~/.cache/seqfusion``), never into the data folder, which may be read-only.
"""
from __future__ import annotations

import os
from pathlib import Path

_REPO_ROOT = Path(__file__).resolve().parents[4]


def data_root() -> Path:
    """Return the dataset root folder; raise FileNotFoundError with a hint if absent."""
    env = os.environ.get("SEQFUSION_DATA")
    candidates = [Path(env)] if env else [
        _REPO_ROOT.parent / "shared" / "data",
        Path.cwd().parent / "shared" / "data",
        Path.cwd() / "shared" / "data",
    ]
    for cand in candidates:
        if cand.is_dir():
            return cand
    raise FileNotFoundError(
        "dataset folder not found (looked in: "
        + ", ".join(str(c) for c in candidates)
        + "); set SEQFUSION_DATA to the folder holding benchmark/, m3/, monash/ ..."
    )


def cache_dir(*parts: str) -> Path:
    """Return (and create) a cache folder below ``$SEQFUSION_CACHE``."""
    root = Path(os.environ.get("SEQFUSION_CACHE", Path.home() / ".cache" / "seqfusion"))
    path = root.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path
