"""Random fixed-length training windows from a list of series."""
from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

#: Max number of values in one batch of candidate windows (memory bound).
_MAX_CHUNK_VALUES = 1 << 22


def _candidate_batches(total: int, n: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Yield start indices in ``range(total)`` in uniformly random order, without
    repeats: first a cheap sample of ``~64 n``, then (if needed) all the others."""
    first = min(total, max(64 * n, 4096))
    if first == total:
        yield rng.permutation(total)
        return
    head = rng.choice(total, size=first, replace=False)
    yield head
    rest = np.ones(total, dtype=bool)
    rest[head] = False
    yield rng.permutation(np.flatnonzero(rest))


def window_is_informative(w: np.ndarray, min_std_ratio: float = 1e-3) -> np.ndarray:
    """Boolean mask over the rows of ``w`` [m, length]: True for usable windows.

    A window is dropped when it is not finite, its std is ~0, its std is below
    ``min_std_ratio`` times its mean absolute level, or more than half of its
    values equal its mode (intermittent / mostly-constant data).
    """
    w = np.asarray(w, dtype=np.float64)
    m, length = w.shape
    finite = np.isfinite(w).all(axis=1)
    w = np.where(np.isfinite(w), w, 0.0)
    std = w.std(axis=1)
    level = np.abs(w).mean(axis=1)
    ok = finite & (std > 1e-12 * np.maximum(level, 1.0)) & (std >= min_std_ratio * level)
    # Largest count of equal values per row: run lengths of the sorted row.
    s = np.sort(w, axis=1)
    new_run = np.ones_like(s, dtype=bool)
    new_run[:, 1:] = s[:, 1:] != s[:, :-1]
    run_id = np.cumsum(new_run, axis=1) - 1 + (np.arange(m) * length)[:, None]
    counts = np.bincount(run_id.ravel(), minlength=m * length).reshape(m, length)
    return ok & (counts.max(axis=1) * 2 <= length)


def sample_windows(
    series_list: Sequence[np.ndarray],
    length: int,
    n: int,
    rng: np.random.Generator,
    min_std_ratio: float = 1e-3,
) -> np.ndarray:
    """Draw up to ``n`` distinct informative windows [n, length] (float64).

    Start positions are drawn uniformly without replacement over all positions of all
    series (series shorter than ``length`` contribute nothing); windows failing
    :func:`window_is_informative` are skipped. Fewer rows are returned when not enough
    valid windows exist (every position is then examined, so this can be slow for
    sources made almost only of invalid windows). Deterministic given ``rng``.
    """
    if length < 1 or n < 0:
        raise ValueError(f"need length >= 1 and n >= 0, got {length=}, {n=}")
    arrays = [np.asarray(x, dtype=np.float64).ravel() for x in series_list]
    arrays = [x for x in arrays if x.size >= length]
    if n == 0 or not arrays:
        return np.empty((0, length))
    flat = np.concatenate(arrays)
    offsets = np.cumsum([0] + [x.size for x in arrays[:-1]])
    counts = np.array([x.size - length + 1 for x in arrays])
    ends = np.cumsum(counts)  # candidate c belongs to series searchsorted(ends, c, 'right')
    total = int(ends[-1])
    chunk = max(32, min(2 * n, _MAX_CHUNK_VALUES // length))
    steps = np.arange(length)
    out: list[np.ndarray] = []
    found = 0
    for cand in _candidate_batches(total, n, rng):
        for lo in range(0, cand.size, chunk):
            c = cand[lo:lo + chunk]
            sid = np.searchsorted(ends, c, side="right")
            start = offsets[sid] + c - (ends[sid] - counts[sid])
            w = flat[start[:, None] + steps]
            w = w[window_is_informative(w, min_std_ratio)][: n - found]
            out.append(w)
            found += len(w)
            if found >= n:
                return np.concatenate(out, axis=0)
    return np.concatenate(out, axis=0)
