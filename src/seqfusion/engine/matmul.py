"""Batch-invariant products and feature sums: a column's (series') result never depends on
the other columns of the call.

A series' forecast must not depend on the other series computed with it: a chunked file,
a Dask partition and one call over everything give the same numbers, bit for bit.
Single-threaded OpenBLAS sgemm rounds column j of ``A @ B`` (columns are series here) the
same way wherever it sits in a call of 24 to 256 columns (a multiple of 8), except in the
first and last 8 columns. So a product runs as calls over windows of such widths, and
the first and last 8 columns of every window run again in the middle of one more call
that gathers them all. A width that is not a multiple of 8 (or below 24) is padded
instead. tests/test_engine.py checks the property on the installed BLAS.
"""
from __future__ import annotations

import numpy as np

from seqfusion.engine.threads import OneBlasThread, in_worker, is_exact, workspace

_EDGE = 8
_MAX_WIDTH = 256


def view(a: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """``a`` reshaped without copying (raises if that is impossible)."""
    v = a.view()
    v.shape = shape
    return v


def _windows(n: int) -> list[tuple[int, int]]:
    """``[lo, hi)`` windows of 24..256 columns, multiples of 8, covering ``n`` (a multiple of 8)."""
    nb = -(-n // _MAX_WIDTH)
    base = n // nb // _EDGE * _EDGE
    extra = (n - base * nb) // _EDGE
    bounds, lo = [], 0
    for i in range(nb):
        hi = lo + base + (_EDGE if i < extra else 0)
        bounds.append((lo, hi))
        lo = hi
    return bounds


def matmul_cols(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``a [..., M, K] @ b [..., K, N]`` where column ``j`` of the result depends on ``a``
    and ``b[..., :, j]`` alone, never on ``N`` or ``j``; written to ``out [..., M, N]``
    (may be a view; must not overlap ``b``) or a new array, in ``b``'s dtype."""
    b = np.asarray(b)
    a = np.asarray(a, dtype=b.dtype)
    M, N = a.shape[-2], b.shape[-1]
    lead = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    if out is None:
        out = np.empty(lead + (M, N), dtype=b.dtype)
    if N == 0:
        return out
    product = _matmul_cols if is_exact() else _matmul_plain
    if not in_worker():  # workers: set by parallel_map
        with OneBlasThread():
            return product(a, b, out)
    return product(a, b, out)


def _matmul_plain(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> np.ndarray:
    np.matmul(a, b, out=out)
    return out


def _matmul_cols(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> np.ndarray:
    M, (K, N) = a.shape[-2], b.shape[-2:]
    lead = out.shape[:-2]
    ws = workspace()
    if N % _EDGE or N < 3 * _EDGE:  # pad: [8 zeros | b | zeros up to a multiple of 8 | 8 zeros]
        width = -(-N // _EDGE) * _EDGE + 2 * _EDGE
        pad = ws.buffer("matmul_pad", b.shape[:-2] + (K, width), b.dtype)
        pad[..., :_EDGE] = 0
        pad[..., _EDGE + N :] = 0
        pad[..., _EDGE : _EDGE + N] = b
        res = ws.buffer("matmul_pad_out", lead + (M, width), b.dtype)
        if width <= _MAX_WIDTH:  # one call, every column of b in its middle
            np.matmul(a, pad, out=res)
        else:
            _matmul_cols(a, pad, res)
        out[...] = res[..., _EDGE : _EDGE + N]
        return out
    windows = _windows(N)
    for lo, hi in windows:
        np.matmul(a, b[..., lo:hi], out=out[..., lo:hi])
    for g in range(0, len(windows), 15):  # the windows' edges, 15 windows (<= 256 columns) per call
        group = windows[g : g + 15]
        nb, lo0, hi0 = len(group), group[0][0], group[-1][1]
        w = group[0][1] - lo0
        width = 2 * _EDGE * (nb + 1)
        edge = ws.get_zeroed("matmul_edge", b.shape[:-2] + (K, width), b.dtype)  # margins stay zero
        res = ws.buffer("matmul_edge_out", lead + (M, width), b.dtype)
        pairs = view(edge[..., _EDGE : width - _EDGE], edge.shape[:-1] + (nb, 2 * _EDGE))  # written through
        if hi0 - lo0 == nb * w and b.flags.c_contiguous:  # equal windows: one copy per side
            src = b[..., lo0:hi0].reshape(b.shape[:-1] + (nb, w))
            pairs[..., :_EDGE] = src[..., :_EDGE]
            pairs[..., _EDGE:] = src[..., w - _EDGE :]
        else:
            for i, (lo, hi) in enumerate(group):
                pairs[..., i, :_EDGE] = b[..., lo : lo + _EDGE]
                pairs[..., i, _EDGE:] = b[..., hi - _EDGE : hi]
        np.matmul(a, edge, out=res)
        got = res[..., _EDGE : width - _EDGE].reshape(res.shape[:-1] + (nb, 2 * _EDGE))
        if hi0 - lo0 == nb * w and out.flags.c_contiguous:
            dst = view(out[..., lo0:hi0], out.shape[:-1] + (nb, w))
            dst[..., :_EDGE] = got[..., :_EDGE]
            dst[..., w - _EDGE :] = got[..., _EDGE:]
        else:
            for i, (lo, hi) in enumerate(group):
                out[..., lo : lo + _EDGE] = got[..., i, :_EDGE]
                out[..., hi - _EDGE : hi] = got[..., i, _EDGE:]
    return out


def matmul_rows(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``x [n, K] @ w [K, M]`` -> ``[n, M]`` where row ``i`` depends on ``x[i]`` and ``w``
    alone: :func:`matmul_cols` on the transposes (series as columns)."""
    x = np.asarray(x)
    if not is_exact():
        with OneBlasThread():
            return np.matmul(x, np.asarray(w, dtype=x.dtype))
    xt = np.ascontiguousarray(x.T)
    return np.ascontiguousarray(matmul_cols(np.ascontiguousarray(np.asarray(w, dtype=x.dtype).T), xt).T)


def sum_features(x: np.ndarray, out: np.ndarray, square: bool = False) -> None:
    """Sum (of squares, with ``square``) over axis ``-2`` of ``x [..., K, cols]`` into
    ``out [..., cols]``, added in index order. numpy adds rows in that order whenever
    ``cols > 1``; with one column it sums pairwise, so that case takes the running sum."""
    if x.shape[-1] > 1:
        if square:
            np.einsum("...kc,...kc->...c", x, x, out=out)
        else:
            np.sum(x, axis=-2, out=out)
        return
    run = np.cumsum(x * x if square else x, axis=-2)
    np.positive(run[..., -1, :], out=out)
