"""Weight files and layouts: safetensors read and checked against an architecture's names
and shapes, and the float32 layouts the kernels take."""
from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load_file

from seqfusion.errors import ZooError

State = Mapping[str, np.ndarray]


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_weights(path: str | Path, sha256: str | None) -> dict[str, np.ndarray]:
    """Read a safetensors file into ``{name: float32 array}`` after checking its SHA-256.

    ``sha256``: the expected hex digest (None skips the check). Raises
    :class:`~seqfusion.errors.ZooError` when the file is missing, differs from the
    checksum or cannot be read.
    """
    path = Path(path)
    if not path.is_file():
        raise ZooError(f"{path}: weight file missing")
    if sha256 is not None and sha256_file(path) != sha256:
        raise ZooError(f"{path}: checksum mismatch (file corrupt or changed)")
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ZooError(f"{path}: unreadable safetensors file ({msg})") from None
    return {k: (v.astype(np.float32) if np.issubdtype(v.dtype, np.floating) else v) for k, v in state.items()}


def check_state(state: State, expected: Mapping[str, tuple[int, ...]], where: str) -> None:
    """Raise :class:`ZooError` unless ``state`` holds exactly the ``expected`` names and shapes."""
    if set(state) != set(expected):
        raise ZooError(f"{where}: tensors do not match the architecture (keys differ)")
    for k, shape in expected.items():
        if tuple(state[k].shape) != tuple(shape):
            raise ZooError(f"{where}: tensor {k!r} has shape {tuple(state[k].shape)}, expected {tuple(shape)}")


def f32(v: np.ndarray) -> np.ndarray:
    """``v`` as a C-contiguous float32 array."""
    return np.ascontiguousarray(v, dtype=np.float32)


def col(v: np.ndarray) -> np.ndarray:
    """``v [...]`` as a float32 column ``[..., 1]``."""
    return np.ascontiguousarray(v, dtype=np.float32)[..., None]


def with_bias(w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``[out, in]`` and ``[out]`` -> ``[out, in + 1]`` float32 (bias as last column)."""
    return f32(np.concatenate([np.asarray(w, dtype=np.float64), np.asarray(b, dtype=np.float64)[:, None]], axis=1))
