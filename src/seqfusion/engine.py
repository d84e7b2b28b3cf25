"""Inference on numpy alone: the zoo's members, extractor and router without torch.

The torch modules (:mod:`seqfusion.build.models`, :mod:`seqfusion.build.extractor`,
:mod:`seqfusion.build.router`) train the zoo; this module runs it. It reads the same
safetensors files (state-dict key names as the torch modules use) and computes the same
functions in float32 (eval mode: no dropout):

* members: :class:`PatchTST`, :class:`DLinear` and the classical :class:`Naive`,
  :class:`SeasonalNaive`, :class:`WindowMean`, :class:`Drift`, built by name through
  :func:`build_model` (the registry mirrors :mod:`seqfusion.build.models`);
* :class:`Extractor` (series -> representation) and :class:`Router` (context and
  representation -> weights over the members);
* :func:`rollout`, the recursive roll-out of :mod:`seqfusion.build.rollout`;
* :class:`MemberBank` with :func:`fused_rollout` / :func:`member_rollouts`: the roll-outs
  of many (series, member) pairs at once, computing each pair only when a series uses
  that member. Members whose forecast is an affine map of the context (DLinear and the
  classical ones) are rolled out to any horizon by one precomposed matrix; the
  Transformer members run in a feature-major layout (features x patches x series), with
  patching, embedding and the first attention projection as one matrix product of the
  context and biases folded into the products, members of one configuration stacked
  into one batched product, and chunks of series spread over worker threads.

Only numpy, ``safetensors.numpy`` and the standard library are imported (not torch).
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load_file

from seqfusion.errors import ZooError

LAYER_NORM_EPS = 1e-5
EXTRACTOR_STD_FLOOR = 1e-3  # as seqfusion.build.extractor.STD_FLOOR

State = Mapping[str, np.ndarray]


# ---------------------------------------------------------------------------- weights
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


# ---------------------------------------------------------------------------- erf / GELU
def _erf_table(width: float = 0.125, upper: float = 5.0, degree: int = 7) -> tuple[np.ndarray, float, float]:
    """Piecewise polynomials for erf on ``[0, upper]``: on each interval of ``width``, the
    polynomial of ``degree`` interpolating :func:`math.erf` at the Chebyshev nodes, in the
    power basis of the local variable ``t`` in [-1, 1]; returns
    ``(coefficients [degree + 1, n_intervals], width, upper)``."""
    m = degree + 1
    theta = np.pi * (np.arange(m) + 0.5) / m
    nodes = np.cos(theta)
    cheb_at_nodes = np.cos(np.outer(np.arange(m), theta))  # T_j(node_k)
    power = np.zeros((m, m))  # power[j] = coefficients of T_j (T_0 = 1, T_1 = t, T_j+1 = 2t T_j - T_j-1)
    power[0, 0] = 1.0
    if m > 1:
        power[1, 1] = 1.0
    for j in range(2, m):
        power[j, 1:] = 2.0 * power[j - 1, :-1]
        power[j] -= power[j - 2]
    n = round(upper / width)
    cols = []
    for i in range(n):
        centre = (i + 0.5) * width
        values = np.array([math.erf(centre + 0.5 * width * t) for t in nodes])
        cheb = cheb_at_nodes @ values * (2.0 / m)
        cheb[0] *= 0.5
        cols.append(cheb @ power)
    return np.ascontiguousarray(np.array(cols).T), width, upper


_ERF_COEF, _ERF_WIDTH, _ERF_UPPER = _erf_table()
_ERF_COEF32 = _ERF_COEF.astype(np.float32)
_BLOCK = 16384  # elements per block of elementwise work (cache-sized)


def _erf_block(x: np.ndarray, out: np.ndarray) -> None:
    """erf of a 1-D block ``x`` into ``out`` (same float dtype)."""
    coef = _ERF_COEF32 if x.dtype == np.float32 else _ERF_COEF
    a = np.abs(x)
    np.minimum(a, _ERF_UPPER, out=a)
    idx = (a * (1.0 / _ERF_WIDTH)).astype(np.intp)
    np.minimum(idx, coef.shape[1] - 1, out=idx)
    t = a * (2.0 / _ERF_WIDTH)
    t -= 2 * idx + 1
    np.take(coef[-1], idx, out=out)
    for row in coef[-2::-1]:
        out *= t
        out += row.take(idx)
    np.copysign(out, x, out=out)


def _float(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x)
    return np.ascontiguousarray(x, dtype=np.float64 if x.dtype == np.float64 else np.float32)


def erf(x: np.ndarray) -> np.ndarray:
    """The error function, elementwise: piecewise polynomials (Chebyshev interpolants of
    :func:`math.erf`); absolute error below 2e-12 in float64 and about one unit in the
    last place in float32. ``x``: any shape; float64 stays float64, else float32."""
    x = _float(x)
    out = np.empty_like(x)
    xf, of = x.reshape(-1), out.reshape(-1)
    for lo in range(0, xf.size, _BLOCK):
        _erf_block(xf[lo : lo + _BLOCK], of[lo : lo + _BLOCK])
    return out


def gelu(x: np.ndarray) -> np.ndarray:
    """GELU with the exact error function, ``x * (1 + erf(x / sqrt 2)) / 2``, as
    ``torch.nn.GELU()``; any shape, float64 stays float64, else float32."""
    x = _float(x)
    out = np.empty_like(x)
    xf, of = x.reshape(-1), out.reshape(-1)
    for lo in range(0, xf.size, _BLOCK):
        xb, ob = xf[lo : lo + _BLOCK], of[lo : lo + _BLOCK]
        _erf_block(xb * (1.0 / math.sqrt(2.0)), ob)
        ob += 1.0
        ob *= xb
        ob *= 0.5
    return out


# ---------------------------------------------------------------------------- workspaces / threads
class _Workspace:
    """Scratch arrays reused from call to call (one set per thread), so that the hot loops
    allocate nothing: fresh arrays of a few hundred kB come from ``mmap`` and cost page
    faults on every call."""

    def __init__(self) -> None:
        self._arrays: dict[tuple[str, int], np.ndarray] = {}
        self._zeroed: dict[tuple[str, tuple[int, ...], str], np.ndarray] = {}

    def get(self, name: str, shape: tuple[int, ...], ones: bool = False,
            init: Callable[[np.ndarray], None] | None = None) -> np.ndarray:
        """A float32 array of ``shape`` reserved under ``name``; contents undefined, except
        that with ``ones`` the last row (axis -2) is kept at 1, and ``init`` fills a new
        array once (callers never overwrite those parts)."""
        key = (name, len(shape))  # stacked and single-member work keep their own arrays
        a = self._arrays.get(key)
        if a is None or a.shape != shape:
            a = np.empty(shape, dtype=np.float32)
            if ones:
                a[..., -1, :] = 1.0
            if init is not None:
                init(a)
            self._arrays[key] = a
        return a

    def get_zeroed(self, name: str, shape: tuple[int, ...], dtype: Any = np.float32) -> np.ndarray:
        """A zero-filled array of ``shape`` kept under ``(name, shape)``: parts callers never
        write stay zero from call to call."""
        key = (name, shape, np.dtype(dtype).str)
        a = self._zeroed.get(key)
        if a is None:
            a = self._zeroed[key] = np.zeros(shape, dtype=dtype)
        return a

    def buffer(self, name: str, shape: tuple[int, ...], dtype: Any = np.float32) -> np.ndarray:
        """A C-contiguous array of ``shape`` carved from a flat scratch array under ``name``
        (grown when needed); contents undefined."""
        size = math.prod(shape)
        key = (name, -np.dtype(dtype).itemsize)
        flat = self._arrays.get(key)
        if flat is None or flat.size < size:
            flat = self._arrays[key] = np.empty(max(size, 1), dtype=dtype)
        return flat[:size].reshape(shape)


_local = threading.local()


def _workspace() -> _Workspace:
    ws = getattr(_local, "workspace", None)
    if ws is None:
        ws = _local.workspace = _Workspace()
    return ws


def usable_cpus() -> int:
    """CPUs this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


_blas_local_threads: Any = None  # OpenBLAS's thread count setter (it acts process-wide), when found


def _find_blas_local_threads() -> Any:
    """numpy's OpenBLAS ``openblas_set_num_threads_local`` (None when not found), which
    returns the previous thread count; see :class:`_OneBlasThread`."""
    global _blas_local_threads
    if _blas_local_threads is None:
        _blas_local_threads = False
        try:
            with open("/proc/self/maps") as fh:
                libs = sorted({line.split()[-1] for line in fh if "openblas" in line.lower() and "/" in line})
            import ctypes

            for lib in libs:
                fn = getattr(ctypes.CDLL(lib), "openblas_set_num_threads_local", None)
                if fn is not None:
                    fn.argtypes, fn.restype = [ctypes.c_int], ctypes.c_int
                    _blas_local_threads = fn
                    break
        except (OSError, AttributeError, IndexError):
            pass
    return _blas_local_threads or None


class _OneBlasThread:
    """numpy's OpenBLAS on one thread inside (best effort: a no-op without OpenBLAS), the
    previous count restored when the outermost such block of this thread exits. The engine
    spreads work over its own threads, and a product the BLAS split over threads would
    round differently (see :func:`matmul_cols`). numpy's OpenBLAS applies the count
    process-wide, changing it while another thread multiplies is racy, and raising it
    wakes the BLAS's own threads, which then spin; so it is set before work reaches the
    engine's threads and restored once, at the end of a public call
    (:class:`settings`)."""

    def __enter__(self) -> None:
        depth = getattr(_local, "blas_depth", 0)
        if depth == 0:
            fn = _find_blas_local_threads()
            _local.blas_previous = fn(1) if fn is not None else 1
        _local.blas_depth = depth + 1

    def __exit__(self, *exc: object) -> None:
        _local.blas_depth -= 1
        if _local.blas_depth == 0 and _local.blas_previous != 1:
            _find_blas_local_threads()(_local.blas_previous)


class settings:
    """Context for engine work started from this thread (reentrant): numpy's OpenBLAS on one
    thread (:class:`_OneBlasThread`) and whether products are batch-invariant.

    ``exact=True`` (default): a series' forecast does not depend on the other series of the
    call, bit for bit (:func:`matmul_cols`), at some cost in speed; ``False``: plain
    products, which may round differently (about 1e-7 relative) in another batch.
    """

    def __init__(self, exact: bool = True) -> None:
        self.exact = bool(exact)
        self._blas = _OneBlasThread()

    def __enter__(self) -> None:
        self._blas.__enter__()
        self.previous = getattr(_local, "exact", True)
        _local.exact = self.exact

    def __exit__(self, *exc: object) -> None:
        _local.exact = self.previous
        self._blas.__exit__(*exc)


def _exact() -> bool:
    """Whether products in this thread must be batch-invariant (see :class:`settings`)."""
    return bool(getattr(_local, "exact", True))


_WORKER = "seqfusion-engine"  # name prefix of the engine's worker threads
_pools: dict[int, ThreadPoolExecutor] = {}
_pools_lock = threading.Lock()


def _pool(threads: int) -> ThreadPoolExecutor:
    """A long-lived pool of ``threads`` workers (kept, with the workers' scratch arrays,
    from call to call)."""
    with _pools_lock:
        pool = _pools.get(threads)
        if pool is None:
            pool = _pools[threads] = ThreadPoolExecutor(threads, thread_name_prefix=_WORKER)
        return pool


def _parallel_map(fn: Callable[[Any], Any], items: Sequence[Any], threads: int | None) -> Iterator[Any]:
    """``fn(item)`` for every item, in order, on ``threads`` worker threads (None: usable CPUs;
    1, a single item, or a call from a worker thread: in the calling thread)."""
    threads = usable_cpus() if threads is None else max(1, int(threads))
    if threading.current_thread().name.startswith(_WORKER):
        for it in items:
            yield fn(it)
        return
    exact = _exact()

    def work(item: Any) -> Any:
        _local.exact = exact  # the caller's setting, in the worker thread
        return fn(item)

    with _OneBlasThread():
        if threads == 1 or len(items) <= 1:
            for it in items:
                yield fn(it)
        else:
            yield from _pool(threads).map(work, items)


# ---------------------------------------------------------------------------- batch-invariant products
# A series' forecast must not depend on the other series computed with it: a chunked file,
# a Dask partition and one call over everything give the same numbers, bit for bit.
# Single-threaded OpenBLAS sgemm rounds column j of ``A @ B`` (columns are series here) the
# same way wherever it sits in a call of 24 to 256 columns (a multiple of 8), except in the
# first and last 8 columns. So a product runs as calls over windows of such widths, and
# the first and last 8 columns of every window run again in the middle of one more call
# that gathers them all. A width that is not a multiple of 8 (or below 24) is padded
# instead. tests/test_engine.py checks the property on the installed BLAS.
_EDGE = 8
_MAX_WIDTH = 256


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
    product = _matmul_cols if _exact() else _matmul_plain
    if not threading.current_thread().name.startswith(_WORKER):  # workers: set by _parallel_map
        with _OneBlasThread():
            return product(a, b, out)
    return product(a, b, out)


def _matmul_plain(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> np.ndarray:
    np.matmul(a, b, out=out)
    return out


def _matmul_cols(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> np.ndarray:
    M, (K, N) = a.shape[-2], b.shape[-2:]
    lead = out.shape[:-2]
    ws = _workspace()
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
        pairs = _view(edge[..., _EDGE : width - _EDGE], edge.shape[:-1] + (nb, 2 * _EDGE))  # written through
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
            dst = _view(out[..., lo0:hi0], out.shape[:-1] + (nb, w))
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
    if not _exact():
        with _OneBlasThread():
            return np.matmul(x, np.asarray(w, dtype=x.dtype))
    xt = np.ascontiguousarray(x.T)
    return np.ascontiguousarray(matmul_cols(np.ascontiguousarray(np.asarray(w, dtype=x.dtype).T), xt).T)


# ---------------------------------------------------------------------------- Transformer kernels
# Activations are feature-major: ``[..., d, P * c]`` = features x (patch, series) with the
# series innermost, so that per-token work is elementwise over long contiguous rows and
# every linear layer is one (batched) matrix product. A leading axis, when present,
# stacks members of the same configuration. Inputs of linear layers carry one more row of
# ones and the weights one more column holding the bias, so that biases cost nothing.


@dataclass
class _Layer:
    """One post-norm Transformer encoder layer (ReLU feed-forward), feature-major.

    Weights are ``[..., out, in + 1]`` with the bias as last column; ``in_w`` (the
    attention input projection) has its query rows pre-scaled by ``1/sqrt(head_dim)``.
    LayerNorm parameters are column vectors ``[..., d, 1]``; ``n2_w``/``n2_b`` is None when
    the second LayerNorm's affine part is folded into what reads the layer's output.
    """

    in_w: np.ndarray
    out_w: np.ndarray
    l1_w: np.ndarray
    l2_w: np.ndarray
    n1_w: np.ndarray
    n1_b: np.ndarray
    n2_w: np.ndarray | None
    n2_b: np.ndarray | None


def _col(v: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(v, dtype=np.float32)[..., None]


def _f32(v: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(v, dtype=np.float32)


def _with_bias(w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``[out, in]`` and ``[out]`` -> ``[out, in + 1]`` float32 (bias as last column)."""
    return _f32(np.concatenate([np.asarray(w, dtype=np.float64), np.asarray(b, dtype=np.float64)[:, None]], axis=1))


def _attention_projection(state: State, prefix: str, d: int, n_heads: int) -> tuple[np.ndarray, np.ndarray]:
    """Attention input projection ``(W [3d, d], b [3d])`` in float64, queries pre-scaled."""
    scale = np.ones(3 * d)
    scale[:d] = 1.0 / math.sqrt(d // n_heads)
    w = state[prefix + "self_attn.in_proj_weight"].astype(np.float64) * scale[:, None]
    return w, state[prefix + "self_attn.in_proj_bias"].astype(np.float64) * scale


def _encoder_layer_state(state: State, prefix: str, d: int, n_heads: int, keep_norm2: bool) -> _Layer:
    """A :class:`_Layer` from the torch ``nn.TransformerEncoderLayer`` tensors under ``prefix``."""
    in_w, in_b = _attention_projection(state, prefix, d, n_heads)
    return _Layer(
        in_w=_with_bias(in_w, in_b),
        out_w=_with_bias(state[prefix + "self_attn.out_proj.weight"], state[prefix + "self_attn.out_proj.bias"]),
        l1_w=_with_bias(state[prefix + "linear1.weight"], state[prefix + "linear1.bias"]),
        l2_w=_with_bias(state[prefix + "linear2.weight"], state[prefix + "linear2.bias"]),
        n1_w=_col(state[prefix + "norm1.weight"]), n1_b=_col(state[prefix + "norm1.bias"]),
        n2_w=_col(state[prefix + "norm2.weight"]) if keep_norm2 else None,
        n2_b=_col(state[prefix + "norm2.bias"]) if keep_norm2 else None,
    )


def _encoder_layer_shapes(prefix: str, d: int, d_ff: int) -> dict[str, tuple[int, ...]]:
    return {
        prefix + "self_attn.in_proj_weight": (3 * d, d), prefix + "self_attn.in_proj_bias": (3 * d,),
        prefix + "self_attn.out_proj.weight": (d, d), prefix + "self_attn.out_proj.bias": (d,),
        prefix + "linear1.weight": (d_ff, d), prefix + "linear1.bias": (d_ff,),
        prefix + "linear2.weight": (d, d_ff), prefix + "linear2.bias": (d,),
        prefix + "norm1.weight": (d,), prefix + "norm1.bias": (d,),
        prefix + "norm2.weight": (d,), prefix + "norm2.bias": (d,),
    }


def _token_weights(state: State, emb_w: np.ndarray, emb_b: np.ndarray, d: int, n_heads: int) -> np.ndarray:
    """Weights ``[4d + 1, L + P]`` (float64) mapping a token's patch (``L`` values) and its
    one-hot position (``P`` values) to the first layer's ``q, k, v`` (``3d`` rows), the
    token state (``d`` rows) and a constant one (last row); ``emb_w [d, L]`` embeds a patch,
    ``emb_b [P, d]`` is each token's embedding bias plus position."""
    in_w, in_b = _attention_projection(state, "encoder.layers.0.", d, n_heads)
    L, P = emb_w.shape[1], emb_b.shape[0]
    out = np.zeros((4 * d + 1, L + P))
    out[: 3 * d, :L] = in_w @ emb_w
    out[: 3 * d, L:] = (emb_b @ in_w.T + in_b).T
    out[3 * d : 4 * d, :L] = emb_w
    out[3 * d : 4 * d, L:] = emb_b.T
    out[4 * d, L:] = 1.0
    return out


def _one_hot_tokens(patches: np.ndarray) -> None:
    """Fill rows ``L..L+P`` of ``patches [..., L + P, P, c]`` with each token's one-hot position."""
    P = patches.shape[-2]
    patches[..., -P:, :, :] = np.eye(P, dtype=np.float32)[:, :, None]


def _stack(items: Sequence[Any]) -> Any:
    """Stack dataclasses of arrays field by field along a new leading (member) axis."""
    first = items[0]
    values: dict[str, Any] = {}
    for f in fields(first):
        parts = [getattr(it, f.name) for it in items]
        if isinstance(parts[0], np.ndarray):
            values[f.name] = np.ascontiguousarray(np.stack(parts))
        elif isinstance(parts[0], list):
            values[f.name] = [_stack([p[i] for p in parts]) for i in range(len(parts[0]))]
        elif parts[0] is not None and hasattr(parts[0], "__dataclass_fields__"):
            values[f.name] = _stack(parts)
        else:
            values[f.name] = parts[0]
    return replace(first, **values)


def _view(a: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """``a`` reshaped without copying (raises if that is impossible)."""
    v = a.view()
    v.shape = shape
    return v


def _sum_features(x: np.ndarray, out: np.ndarray, square: bool = False) -> None:
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


def _layer_norm(x: np.ndarray, w: np.ndarray | None, b: np.ndarray | None, ws: _Workspace) -> None:
    """LayerNorm over the feature axis ``-2`` of ``x [..., d, cols]``, in place."""
    stat = ws.get("ln", x.shape[:-2] + (1, x.shape[-1]))
    _sum_features(x, stat[..., 0, :])
    stat /= x.shape[-2]
    x -= stat
    _sum_features(x, stat[..., 0, :], square=True)
    stat *= 1.0 / x.shape[-2]
    stat += LAYER_NORM_EPS
    np.sqrt(stat, out=stat)
    x /= stat
    if w is not None:
        x *= w
        x += b


def _attention(qkv: np.ndarray, n_heads: int, n_tokens: int, out: np.ndarray, ws: _Workspace) -> None:
    """Multi-head self-attention of ``qkv [..., 3d, P * c]`` (queries pre-scaled) into
    ``out [..., d, P * c]``: the concatenated head outputs, before the output projection."""
    lead = qkv.shape[:-2]
    d = qkv.shape[-2] // 3
    c = qkv.shape[-1] // n_tokens
    split = (*lead, n_heads, d // n_heads, n_tokens, c)
    q = _view(qkv[..., :d, :], split)
    k = _view(qkv[..., d : 2 * d, :], split)
    v = _view(qkv[..., 2 * d :, :], split)
    s = ws.get("scores", (*lead, n_heads, n_tokens, n_tokens, c))  # [..., head, query, key, c]
    np.einsum("...hdin,...hdjn->...hijn", q, k, out=s)
    stat = ws.get("softmax", (*lead, n_heads, n_tokens, 1, c))
    np.max(s, axis=-2, keepdims=True, out=stat)
    s -= stat
    np.exp(s, out=s)
    _sum_features(s, stat[..., 0, :])
    s /= stat
    o = _view(out, split)
    if c > 1:
        np.einsum("...hijn,...hdjn->...hdin", s, v, out=o)
    else:  # keys added in order, as the einsum does for more than one series
        np.multiply(s[..., None, :, 0, :], v[..., :, None, 0, :], out=o)
        for j in range(1, n_tokens):
            o += s[..., None, :, j, :] * v[..., :, None, j, :]


def _encode(p: Any, tokens: np.ndarray, n_heads: int, n_tokens: int, ws: _Workspace) -> np.ndarray:
    """The encoder over first-layer token projections ``tokens [..., 4d + 1, P * c]`` (rows:
    ``q, k, v``, token state, ones; see :func:`_token_weights`), in place; returns the
    last layer's token states ``[..., d, P * c]`` (a view of ``tokens``)."""
    lead, cols = tokens.shape[:-2], tokens.shape[-1]
    d = (tokens.shape[-2] - 1) // 4
    qkv, h, h1 = tokens[..., : 3 * d, :], tokens[..., 3 * d : 4 * d, :], tokens[..., 3 * d :, :]
    a = ws.get("attn", lead + (d + 1, cols), ones=True)
    r = ws.get("resid", lead + (d + 1, cols), ones=True)
    for i, layer in enumerate(p.layers):
        if i:
            matmul_cols(layer.in_w, h1, out=qkv)
        _attention(qkv, n_heads, n_tokens, a[..., :d, :], ws)
        matmul_cols(layer.out_w, a, out=r[..., :d, :])
        r[..., :d, :] += h
        _layer_norm(r[..., :d, :], layer.n1_w, layer.n1_b, ws)
        f = ws.get("ffn", lead + (layer.l1_w.shape[-2] + 1, cols), ones=True)
        matmul_cols(layer.l1_w, r, out=f[..., :-1, :])
        np.maximum(f, 0.0, out=f)
        matmul_cols(layer.l2_w, f, out=h)
        h += r[..., :d, :]
        _layer_norm(h, layer.n2_w, layer.n2_b, ws)
    return h


# ---------------------------------------------------------------------------- member registry
class Model:
    """A numpy forecaster ``[n, input_length] -> [n, horizon]`` (float32 in, float32 out).

    ``affine`` marks models whose forecast is an affine map of the context, so that a
    roll-out to any horizon is one matrix (see :func:`affine_rollout`).
    """

    architecture = ""
    affine = False

    def __init__(self, config: Mapping[str, Any], state: State | None = None) -> None:
        self.config = dict(config)
        self.input_length = int(self.config.get("input_length", 36))
        self.horizon = int(self.config.get("horizon", 12))

    @classmethod
    def state_shapes(cls, config: Mapping[str, Any]) -> dict[str, tuple[int, ...]]:
        """Names and shapes of the tensors the model reads (empty: weight-free)."""
        return {}

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Forecast ``[n, horizon]`` from contexts ``x [n, input_length]`` (x's float dtype)."""
        raise NotImplementedError

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.forward(x)


_REGISTRY: dict[str, type[Model]] = {}


def register(name: str) -> Callable[[type[Model]], type[Model]]:
    """Class decorator adding a numpy architecture to the registry under ``name``."""

    def deco(cls: type[Model]) -> type[Model]:
        if name in _REGISTRY:
            raise ValueError(f"architecture {name!r} registered twice")
        cls.architecture = name
        _REGISTRY[name] = cls
        return cls

    return deco


def list_architectures() -> list[str]:
    """Names of all registered numpy architectures, sorted."""
    return sorted(_REGISTRY)


def build_model(architecture: str, config: Mapping[str, Any], state: State | None = None,
                where: str = "") -> Model:
    """A registered architecture with ``config`` and weights ``state`` (checked against the
    architecture's names and shapes; ``where`` names the file in error messages)."""
    try:
        cls = _REGISTRY[architecture]
    except KeyError:
        raise ValueError(
            f"unknown architecture {architecture!r}; known: {', '.join(list_architectures())}"
        ) from None
    expected = cls.state_shapes(config)
    check_state(state or {}, expected, where or architecture)
    return cls(config, state)


# ---------------------------------------------------------------------------- PatchTST
@dataclass
class _PatchTSTParams:
    """PatchTST weights for the feature-major forward (optionally stacked over members)."""

    tok_w: np.ndarray  # [4d + 1, L + P]: patch (+ one-hot position) -> q, k, v, token state, one
    layers: list[_Layer]  # layers[0].in_w is unused (folded into tok_w)
    head_w: np.ndarray  # [h, (d + 1) * P]: feature-major columns, last LayerNorm's affine folded in


@register("patchtst")
class PatchTST(Model):
    """Univariate PatchTST (see :class:`seqfusion.build.models.patchtst.PatchTST`).

    The patch and position embeddings and the first attention projection are one matrix
    product of the patches (with the last value repeated ``stride`` times).
    """

    def __init__(self, config: Mapping[str, Any], state: State | None = None) -> None:
        super().__init__(config, state)
        c = self.config
        self.patch_len = int(c.get("patch_len", 16))
        self.stride = int(c.get("stride", 8))
        self.d_model = int(c.get("d_model", 64))
        self.n_heads = int(c.get("n_heads", 8))
        self.d_ff = int(c.get("d_ff", 128))
        self.n_layers = int(c.get("n_layers", 1))
        T, L, s = self.input_length, self.patch_len, self.stride
        self.n_patches = (T + s - L) // s + 1
        if state is None:
            raise ValueError("PatchTST needs its weights")
        self.params = self._params(state)

    @classmethod
    def state_shapes(cls, config: Mapping[str, Any]) -> dict[str, tuple[int, ...]]:
        T, h = int(config.get("input_length", 36)), int(config.get("horizon", 12))
        L, s = int(config.get("patch_len", 16)), int(config.get("stride", 8))
        d, d_ff = int(config.get("d_model", 64)), int(config.get("d_ff", 128))
        P = (T + s - L) // s + 1
        out = {"embed.weight": (d, L), "embed.bias": (d,), "position": (1, P, d),
               "head.weight": (h, P * d), "head.bias": (h,)}
        for i in range(int(config.get("n_layers", 1))):
            out |= _encoder_layer_shapes(f"encoder.layers.{i}.", d, d_ff)
        return out

    def _params(self, state: State) -> _PatchTSTParams:
        d, P, h = self.d_model, self.n_patches, self.horizon
        last = self.n_layers - 1
        layers = [_encoder_layer_state(state, f"encoder.layers.{i}.", d, self.n_heads, i < last)
                  for i in range(self.n_layers)]
        emb_b = state["embed.bias"].astype(np.float64)[None, :] + state["position"][0].astype(np.float64)
        tok_w = _token_weights(state, state["embed.weight"].astype(np.float64), emb_b, d, self.n_heads)
        head = state["head.weight"].astype(np.float64).reshape(h, P, d).transpose(0, 2, 1)  # [h, d, P]
        g = state[f"encoder.layers.{last}.norm2.weight"].astype(np.float64)
        b = state[f"encoder.layers.{last}.norm2.bias"].astype(np.float64)
        head_w = np.zeros((h, d + 1, P))
        head_w[:, :d] = head * g[None, :, None]
        head_w[:, d, 0] = state["head.bias"].astype(np.float64) + np.einsum("hdp,d->h", head, b)
        return _PatchTSTParams(tok_w=_f32(tok_w), layers=layers, head_w=_f32(head_w.reshape(h, (d + 1) * P)))

    def forward_fm(self, ctx: np.ndarray, out: np.ndarray, params: _PatchTSTParams | None = None) -> None:
        """Feature-major forward: contexts ``ctx [..., T, c]`` -> forecasts written to
        ``out [..., h, c]``.

        ``params`` (default: this model's) may be stacked over members (leading axis
        ``M``), with ``ctx`` and ``out`` carrying the same leading axis.
        """
        p = self.params if params is None else params
        ws = _workspace()
        d, P = self.d_model, self.n_patches
        lead, (T, c) = ctx.shape[:-2], ctx.shape[-2:]
        mean = ws.get("mean", lead + (1, c))
        _sum_features(ctx, mean[..., 0, :])
        mean /= T
        z = ws.get("z", lead + (T, c))
        np.subtract(ctx, mean, out=z)
        std = ws.get("std", lead + (1, c))
        _sum_features(z, std[..., 0, :], square=True)
        std *= 1.0 / T
        std += 1e-5
        np.sqrt(std, out=std)
        z /= std
        L, s = self.patch_len, self.stride
        patches = ws.get("patches", lead + (L + P, P, c), init=_one_hot_tokens)
        for i in range(P):  # patch i: z[i * stride:], padded with the last value (ufunc copies)
            n_in = max(0, min(L, T - i * s))
            np.positive(z[..., i * s : i * s + n_in, :], out=patches[..., :n_in, i, :])
            if n_in < L:
                np.positive(z[..., T - 1 : T, :], out=patches[..., n_in:L, i, :])
        tokens = ws.get("tokens", lead + (4 * d + 1, P * c))
        matmul_cols(p.tok_w, _view(patches, lead + (L + P, P * c)), out=tokens)
        _encode(p, tokens, self.n_heads, P, ws)
        matmul_cols(p.head_w, _view(tokens[..., 3 * d :, :], lead + ((d + 1) * P, c)), out=out)
        out *= std
        out += mean

    def rollout_fm(self, x: np.ndarray, horizon: int, clip: float | None = 10.0,
                   params: _PatchTSTParams | None = None) -> np.ndarray:
        """:func:`rollout` in the feature-major layout: contexts ``x [..., T, c]`` -> roll-outs
        ``[..., horizon, c]`` (``params`` as in :meth:`forward_fm`; a shared ``[T, c]``
        context is broadcast over stacked members)."""
        p = self.params if params is None else params
        T, h = self.input_length, self.horizon
        lead = p.head_w.shape[:-2]
        steps = -(-horizon // h)
        seq = np.empty(lead + (T + steps * h, x.shape[-1]), dtype=np.float32)  # context, then forecasts
        seq[..., :T, :] = x
        with np.errstate(all="ignore"):  # non-finite inputs spread silently, as in torch
            for i in range(steps):
                ctx = seq[..., i * h : i * h + T, :]
                out = seq[..., T + i * h : T + (i + 1) * h, :]
                self.forward_fm(ctx, out, p)
                if clip is not None:
                    _guard(out, ctx[..., -1:, :], clip)
        return seq[..., T : T + horizon, :]

    def forward(self, x: np.ndarray, chunk: int | None = None) -> np.ndarray:
        """``[n, T] -> [n, h]`` float32 (rows in chunks of ``chunk``, default 256)."""
        chunk = chunk or 256
        xt = np.ascontiguousarray(np.asarray(x, dtype=np.float32).T)
        out = np.empty((self.horizon, xt.shape[1]), dtype=np.float32)
        with np.errstate(all="ignore"):
            for lo in range(0, xt.shape[1], chunk):
                self.forward_fm(np.ascontiguousarray(xt[:, lo : lo + chunk]), out[:, lo : lo + chunk])
        return np.ascontiguousarray(out.T)


def _guard(out: np.ndarray, last: np.ndarray, clip: float) -> None:
    """In place: non-finite values of ``out`` become ``last`` (broadcast), then clip to
    ``[-clip, clip]`` (the roll-out's guard against a diverging member)."""
    bad = ~np.isfinite(out)
    if bad.any():
        np.copyto(out, np.broadcast_to(last, out.shape), where=bad)
    np.clip(out, -clip, clip, out=out)


# ---------------------------------------------------------------------------- affine members
class _AffineModel(Model):
    """A model that is an affine map of its context. Subclasses give the map
    (``_map() -> (A [h, T], b [h])`` in float64, used to precompose roll-outs) and a forward
    doing the torch module's operations (so that non-finite inputs spread alike)."""

    affine = True

    def __init__(self, config: Mapping[str, Any], state: State | None = None) -> None:
        super().__init__(config, state)
        self.state = dict(state or {})
        self.matrix, self.bias = self._map()

    def _map(self) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError


def _float_input(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x)
    return x if x.dtype == np.float64 else x.astype(np.float32, copy=False)


@register("dlinear")
class DLinear(_AffineModel):
    """DLinear (see :class:`seqfusion.build.models.dlinear.DLinear`): mean removal, centred moving
    average with edge replication, one linear map each for trend and remainder."""

    def __init__(self, config: Mapping[str, Any], state: State | None = None) -> None:
        if not state:
            raise ValueError("DLinear needs its weights")
        T, k = int(config.get("input_length", 36)), int(config.get("kernel", 13))
        left = (k - 1) // 2
        self.average = np.zeros((T, T))  # trend = x @ average.T (edge-replicating moving average)
        for t in range(T):
            for j in np.clip(np.arange(t - left, t - left + k), 0, T - 1):
                self.average[t, j] += 1.0 / k
        super().__init__(config, state)
        w = {n: self.state[n].astype(np.float64) for n in ("trend.weight", "seasonal.weight")}
        b = {n: self.state[n].astype(np.float64) for n in ("trend.bias", "seasonal.bias")}
        self._weights = {dt: ((self.average.T.astype(dt), w["trend.weight"].T.astype(dt),
                              w["seasonal.weight"].T.astype(dt), (b["trend.bias"] + b["seasonal.bias"]).astype(dt)))
                         for dt in (np.float32, np.float64)}

    @classmethod
    def state_shapes(cls, config: Mapping[str, Any]) -> dict[str, tuple[int, ...]]:
        T, h = int(config.get("input_length", 36)), int(config.get("horizon", 12))
        return {"trend.weight": (h, T), "trend.bias": (h,), "seasonal.weight": (h, T), "seasonal.bias": (h,)}

    def _map(self) -> tuple[np.ndarray, np.ndarray]:
        T = self.input_length
        centre = np.eye(T) - 1.0 / T  # x - mean(x)
        wt = self.state["trend.weight"].astype(np.float64)
        ws = self.state["seasonal.weight"].astype(np.float64)
        a = (wt @ self.average + ws @ (np.eye(T) - self.average)) @ centre + 1.0 / T
        b = self.state["trend.bias"].astype(np.float64) + self.state["seasonal.bias"].astype(np.float64)
        return a, b

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = _float_input(x)
        avg_t, wt_t, ws_t, bias = self._weights[np.float64 if x.dtype == np.float64 else np.float32]
        level = x.mean(axis=1, keepdims=True)
        x = x - level
        trend = matmul_rows(x, avg_t)
        out = matmul_rows(trend, wt_t)
        out += matmul_rows(x - trend, ws_t)
        out += bias
        out += level
        return out


@register("naive")
class Naive(_AffineModel):
    """Repeat the last observed value."""

    def _map(self) -> tuple[np.ndarray, np.ndarray]:
        a = np.zeros((self.horizon, self.input_length))
        a[:, -1] = 1.0
        return a, np.zeros(self.horizon)

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = _float_input(x)
        return np.repeat(x[:, -1:], self.horizon, axis=1)


@register("seasonal_naive")
class SeasonalNaive(_AffineModel):
    """Repeat the last ``period`` values."""

    def _map(self) -> tuple[np.ndarray, np.ndarray]:
        T, h, p = self.input_length, self.horizon, int(self.config.get("period", 7))
        if not 1 <= p <= T:
            raise ValueError(f"period must be in [1, {T}], got {p}")
        a = np.zeros((h, T))
        a[np.arange(h), T - p + np.arange(h) % p] = 1.0
        return a, np.zeros(h)

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = _float_input(x)
        p = int(self.config.get("period", 7))
        return np.tile(x[:, -p:], (1, -(-self.horizon // p)))[:, : self.horizon]


@register("window_mean")
class WindowMean(_AffineModel):
    """Repeat the mean of the input window."""

    def _map(self) -> tuple[np.ndarray, np.ndarray]:
        return np.full((self.horizon, self.input_length), 1.0 / self.input_length), np.zeros(self.horizon)

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = _float_input(x)
        return np.repeat(x.mean(axis=1, keepdims=True), self.horizon, axis=1)


@register("drift")
class Drift(_AffineModel):
    """Extend the line through the first and last values, steps damped by ``damping``."""

    def _steps(self, dtype: Any) -> np.ndarray:
        damping = float(self.config.get("damping", 1.0))
        if not 0.0 < damping <= 1.0:
            raise ValueError(f"damping must be in (0, 1], got {damping}")
        steps = np.arange(1, self.horizon + 1, dtype=dtype)
        if damping < 1.0:
            steps = np.cumsum(np.asarray(damping, dtype=dtype) ** steps, dtype=dtype)
        return steps

    def _map(self) -> tuple[np.ndarray, np.ndarray]:
        T, s = self.input_length, self._steps(np.float64)
        a = np.zeros((self.horizon, T))
        a[:, -1] = 1.0 + s / (T - 1)
        a[:, 0] = -s / (T - 1)
        return a, np.zeros(self.horizon)

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = _float_input(x)
        slope = (x[:, -1:] - x[:, :1]) / np.asarray(x.shape[1] - 1, dtype=x.dtype)
        return x[:, -1:] + slope * self._steps(x.dtype)


# ---------------------------------------------------------------------------- roll-out
def rollout(model: Model, x: np.ndarray, horizon: int, clip: float | None = 10.0) -> np.ndarray:
    """Recursive roll-out of ``model`` from normalized contexts ``x [n, T]`` to ``[n, horizon]``.

    As :func:`seqfusion.build.rollout.rollout`: predict the model's ``h`` steps, append them,
    keep the last ``T`` points, repeat; with ``clip``, non-finite values of a block are
    replaced by the last context value and the block is clipped to ``[-clip, clip]``.
    Computed in x's float dtype (float32 unless x is float64).
    """
    x = np.asarray(x)
    if x.dtype != np.float64:
        x = x.astype(np.float32)
    T = x.shape[1]
    blocks, done, ctx = [], 0, x
    with np.errstate(all="ignore"):  # non-finite inputs spread silently, as in torch
        while done < horizon:
            out = model(ctx)
            if clip is not None:
                out = np.where(np.isfinite(out), out, ctx[:, -1:])
                np.clip(out, -clip, clip, out=out)
            blocks.append(out)
            done += out.shape[1]
            if done < horizon:
                ctx = np.concatenate([ctx, out], axis=1)[:, -T:]
    return np.concatenate(blocks, axis=1)[:, :horizon]


def affine_rollout(model: Model, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """For an affine ``model``, the unclipped roll-out as ``(A [horizon, T], b [horizon])``
    in float64: ``rollout(model, x, horizon, clip=None) == x @ A.T + b``."""
    if not model.affine:
        raise ValueError(f"{model.architecture!r} is not an affine model")
    T = model.input_length
    basis = np.vstack([np.zeros((1, T)), np.eye(T)])
    out = rollout(model, basis, horizon, clip=None)
    return (out[1:] - out[:1]).T.copy(), out[0].copy()


# ---------------------------------------------------------------------------- extractor
@dataclass
class _ExtractorParams:
    tok_w: np.ndarray  # [4d + 1, L + P]: patch (+ one-hot position) -> q, k, v, token state, one
    layers: list[_Layer]
    proj1_w: np.ndarray  # [d, d] (last LayerNorm's scale folded in)
    proj1_b: np.ndarray  # [d, 1]
    proj2_w: np.ndarray  # [dim, d]
    proj2_b: np.ndarray  # [dim, 1]


def znorm_rows(x: np.ndarray, std_floor: float = EXTRACTOR_STD_FLOOR) -> np.ndarray:
    """Z-normalize each row of ``x [n, T]`` as :func:`seqfusion.build.extractor.znorm_rows` (std
    floored at ``std_floor * max(|mean|, 1)``); float32 unless x is float64."""
    x = np.ascontiguousarray(x, dtype=np.float64 if np.asarray(x).dtype == np.float64 else np.float32)
    mean = x.mean(axis=1, keepdims=True)  # row layout: numpy's sums depend on the memory order
    std = x.std(axis=1, keepdims=True)
    std = np.maximum(std, std_floor * np.maximum(np.abs(mean), 1.0).astype(x.dtype))
    return (x - mean) / std


class Extractor:
    """The general extractor (see :class:`seqfusion.build.extractor.Extractor`): series
    ``[n, input_length]`` -> representations ``[n, dim]``."""

    def __init__(self, config: Mapping[str, Any], state: State) -> None:
        c = dict(config)
        self.config = c
        self.input_length = int(c.get("input_length", 36))
        self.patch_len = int(c.get("patch_len", 4))
        self.d_model = int(c.get("d_model", 64))
        self.n_heads = int(c.get("n_heads", 4))
        self.d_ff = int(c.get("d_ff", 128))
        self.n_layers = int(c.get("n_layers", 2))
        self.dim = int(c.get("dim", 128))
        if self.input_length % self.patch_len:
            raise ValueError("input_length must be a multiple of patch_len")
        self.n_patches = self.input_length // self.patch_len
        self.params = self._params(state)

    @classmethod
    def state_shapes(cls, config: Mapping[str, Any]) -> dict[str, tuple[int, ...]]:
        """Names and shapes of the torch extractor's tensors (the decoder's included)."""
        T, L = int(config.get("input_length", 36)), int(config.get("patch_len", 4))
        d, d_ff, dim = int(config.get("d_model", 64)), int(config.get("d_ff", 128)), int(config.get("dim", 128))
        out = {"embed_patch.weight": (d, L), "embed_patch.bias": (d,), "position": (1, T // L, d),
               "project.0.weight": (d, d), "project.0.bias": (d,), "project.2.weight": (dim, d),
               "project.2.bias": (dim,), "decoder.weight": (L, d), "decoder.bias": (L,)}
        for i in range(int(config.get("n_layers", 2))):
            out |= _encoder_layer_shapes(f"encoder.layers.{i}.", d, d_ff)
        return out

    def _params(self, state: State) -> _ExtractorParams:
        d, last = self.d_model, self.n_layers - 1
        layers = [_encoder_layer_state(state, f"encoder.layers.{i}.", d, self.n_heads, i < last)
                  for i in range(self.n_layers)]
        emb_b = state["embed_patch.bias"].astype(np.float64)[None, :] + state["position"][0].astype(np.float64)
        tok_w = _token_weights(state, state["embed_patch.weight"].astype(np.float64), emb_b, d, self.n_heads)
        g = state[f"encoder.layers.{last}.norm2.weight"].astype(np.float64)
        b = state[f"encoder.layers.{last}.norm2.bias"].astype(np.float64)
        p1 = state["project.0.weight"].astype(np.float64)
        return _ExtractorParams(
            tok_w=_f32(tok_w), layers=layers,
            proj1_w=_f32(p1 * g[None, :]), proj1_b=_col(state["project.0.bias"].astype(np.float64) + p1 @ b),
            proj2_w=_f32(state["project.2.weight"]), proj2_b=_col(state["project.2.bias"]),
        )

    def represent_fm(self, zt: np.ndarray) -> np.ndarray:
        """Normalized series, feature-major ``[T, c]`` -> representations ``[dim, c]``."""
        p, P, d = self.params, self.n_patches, self.d_model
        ws = _workspace()
        L, c = self.patch_len, zt.shape[-1]
        patches = ws.get("patches", (L + P, P, c), init=_one_hot_tokens)
        np.positive(zt.reshape(P, L, c).transpose(1, 0, 2), out=patches[:L])
        tokens = ws.get("tokens", (4 * d + 1, P * c))
        matmul_cols(p.tok_w, _view(patches, (L + P, P * c)), out=tokens)
        h = _encode(p, tokens, self.n_heads, P, ws)
        pooled = np.empty((d, c), dtype=np.float32)
        _sum_features(h.reshape(d, P, c), pooled)
        pooled /= P
        u = matmul_cols(p.proj1_w, pooled)
        u += p.proj1_b
        r = matmul_cols(p.proj2_w, gelu(u))
        r += p.proj2_b
        return r

    def embed(self, x: np.ndarray, batch_size: int | None = None, threads: int | None = None) -> np.ndarray:
        """Representations ``[n, dim]`` float32 of raw series ``x [n, T]`` (z-normalized per
        row inside, as the torch extractor's ``embed``); rows in chunks of ``batch_size``
        (default 256)
        over ``threads`` threads (None: all usable CPUs)."""
        batch_size = batch_size or 256
        z = znorm_rows(np.asarray(x, dtype=np.float32))
        n = len(z)
        out = np.empty((n, self.dim), dtype=np.float32)
        zt = np.ascontiguousarray(z.T)

        def run(lo: int) -> None:
            out[lo : lo + batch_size] = self.represent_fm(np.ascontiguousarray(zt[:, lo : lo + batch_size])).T

        for _ in _parallel_map(run, range(0, n, batch_size), threads):
            pass
        return out

    __call__ = embed


# ---------------------------------------------------------------------------- router
class Router:
    """The learned fusion weights (see :class:`seqfusion.build.router.Router`):
    ``(normalized context [n, T], embedding [n, d], frequency [n]) -> weights [n, M]``."""

    def __init__(self, config: Mapping[str, Any], state: State) -> None:
        c = dict(config)
        self.config = c
        self.n_members = int(c["n_members"])
        self.input_length = int(c.get("input_length", 36))
        self.embed_dim = int(c.get("embed_dim", 128))
        self.hidden = int(c.get("hidden", 128))
        self.acf_lags = int(c.get("acf_lags", 0))
        self.frequencies = int(c.get("frequencies", 0))
        if not 0 <= self.acf_lags <= self.input_length - 3:
            raise ValueError(f"acf_lags must be in [0, {self.input_length - 3}]")
        self.w = [_f32(state[f"net.{i}.weight"].T) for i in (0, 3, 6)]  # [in, out]
        self.b = [_f32(state[f"net.{i}.bias"]) for i in (0, 3, 6)]

    @classmethod
    def state_shapes(cls, config: Mapping[str, Any]) -> dict[str, tuple[int, ...]]:
        """Names and shapes of the torch router's tensors."""
        T, hidden = int(config.get("input_length", 36)), int(config.get("hidden", 128))
        n_in = T + 2 + int(config.get("acf_lags", 0)) + int(config.get("embed_dim", 128)) + int(
            config.get("frequencies", 0))
        m = int(config["n_members"])
        return {"net.0.weight": (hidden, n_in), "net.0.bias": (hidden,), "net.3.weight": (hidden, hidden),
                "net.3.bias": (hidden,), "net.6.weight": (m, hidden), "net.6.bias": (m,)}

    def features(self, x: np.ndarray, emb: np.ndarray, freq: np.ndarray | None = None) -> np.ndarray:
        """Feature matrix ``[n, T + 2 + acf_lags + d (+ F)]`` float32 from contexts ``x [n, T]``,
        embeddings ``emb [n, d]`` and frequency class indices ``freq [n]`` (None: unknown)."""
        x = np.asarray(x, dtype=np.float32)
        emb = np.asarray(emb, dtype=np.float32)
        d1 = x[:, 1:] - x[:, :-1]
        parts = [x, d1.std(axis=1, ddof=1, keepdims=True), np.abs(d1).mean(axis=1, keepdims=True)]
        if self.acf_lags:
            dc = d1 - d1.mean(axis=1, keepdims=True)
            denom = np.maximum((dc * dc).sum(axis=1, keepdims=True), np.float32(1e-12))
            parts.append(np.stack([(dc[:, lag:] * dc[:, :-lag]).sum(axis=1) for lag in range(1, self.acf_lags + 1)],
                                  axis=1) / denom)
        norm = np.sqrt(np.einsum("nd,nd->n", emb, emb))[:, None]
        parts.append(emb / np.maximum(norm, np.float32(1e-12)))
        if self.frequencies:
            f = (np.full(len(x), self.frequencies - 1, dtype=np.int64) if freq is None
                 else np.asarray(freq, dtype=np.int64).reshape(-1))
            if f.shape != (len(x),) or f.min(initial=0) < 0 or f.max(initial=0) >= self.frequencies:
                raise ValueError(f"freq must be {len(x)} class indices in [0, {self.frequencies})")
            onehot = np.zeros((len(x), self.frequencies), dtype=np.float32)
            onehot[np.arange(len(x)), f] = 1.0
            parts.append(onehot)
        return np.concatenate(parts, axis=1)

    def logits(self, x: np.ndarray, emb: np.ndarray, freq: np.ndarray | None = None,
               threads: int | None = None, chunk: int = 1024) -> np.ndarray:
        """Logits ``[n, n_members]`` float32: the MLP (exact GELU) on :meth:`features`, rows in
        chunks of ``chunk`` over ``threads`` threads (None: usable CPUs)."""
        return self.mlp(self.features(x, emb, freq), threads, chunk)

    def mlp(self, feats: np.ndarray, threads: int | None = None, chunk: int = 1024) -> np.ndarray:
        """The MLP's logits ``[n, n_members]`` float32 on a feature matrix from :meth:`features`."""
        out = np.empty((len(feats), self.n_members), dtype=np.float32)

        def run(lo: int) -> None:
            h = feats[lo : lo + chunk]
            for i in range(3):
                h = matmul_rows(h, self.w[i])
                h += self.b[i]
                if i < 2:
                    h = gelu(h)
            out[lo : lo + chunk] = h

        for _ in _parallel_map(run, range(0, len(feats), chunk), threads):
            pass
        return out

    def weights(self, x: np.ndarray, emb: np.ndarray, temperature: float = 1.0,
                freq: np.ndarray | None = None, threads: int | None = None) -> np.ndarray:
        """Softmax of ``logits / temperature`` in float64: ``[n, n_members]`` for normalized
        contexts ``x [n, T]``, embeddings ``emb [n, d]`` and frequency class indices
        ``freq [n]`` (None: unknown)."""
        return self.softmax(self.logits(x, emb, freq, threads), temperature)

    @staticmethod
    def softmax(logits: np.ndarray, temperature: float) -> np.ndarray:
        """Softmax of ``logits / temperature`` over members, in float64."""
        z = logits.astype(np.float64) / temperature
        z -= z.max(axis=1, keepdims=True)
        np.exp(z, out=z)
        z /= z.sum(axis=1, keepdims=True)
        return z


class RouterEnsemble:
    """Routers fitted with different seeds (and training windows) to the same members
    (:class:`seqfusion.build.router.RouterEnsemble`): their softmax weights averaged.
    ``config["ensemble"]`` routers; router ``j``'s tensors are named ``routers.{j}.net.*``."""

    def __init__(self, config: Mapping[str, Any], state: State) -> None:
        self.config = dict(config)
        self.routers = [Router(config, {k[len(p):]: v for k, v in state.items() if k.startswith(p)})
                        for p in self.prefixes(config)]
        self.n_members = self.routers[0].n_members
        self.frequencies = self.routers[0].frequencies

    @staticmethod
    def prefixes(config: Mapping[str, Any]) -> list[str]:
        return [f"routers.{j}." for j in range(int(config["ensemble"]))]

    @classmethod
    def state_shapes(cls, config: Mapping[str, Any]) -> dict[str, tuple[int, ...]]:
        """Names and shapes of the torch ensemble's tensors."""
        one = Router.state_shapes(config)
        return {p + k: v for p in cls.prefixes(config) for k, v in one.items()}

    def weights(self, x: np.ndarray, emb: np.ndarray, temperature: float = 1.0,
                freq: np.ndarray | None = None, threads: int | None = None) -> np.ndarray:
        """Mean over the routers of :meth:`Router.weights`: ``[n, n_members]`` float64
        (added in router order, so a row's weights never depend on the other rows). The
        routers share their inputs, so the features are computed once."""
        feats = self.routers[0].features(x, emb, freq)
        out = Router.softmax(self.routers[0].mlp(feats, threads), temperature)
        for r in self.routers[1:]:
            out += Router.softmax(r.mlp(feats, threads), temperature)
        out /= len(self.routers)
        return out


def make_router(config: Mapping[str, Any], state: State) -> Router | RouterEnsemble:
    """The router a zoo manifest describes: one network, or an ensemble when
    ``config["ensemble"]`` is above 1."""
    return RouterEnsemble(config, state) if int(config.get("ensemble", 1)) > 1 else Router(config, state)


def router_state_shapes(config: Mapping[str, Any]) -> dict[str, tuple[int, ...]]:
    """Tensor names and shapes of the router ``config`` describes."""
    if int(config.get("ensemble", 1)) > 1:
        return RouterEnsemble.state_shapes(config)
    return Router.state_shapes(config)


# ---------------------------------------------------------------------------- member bank
class MemberBank:
    """The zoo's members prepared for batched roll-outs of many (series, member) pairs.

    Affine members are rolled out through precomposed matrices; members of another
    architecture that shares one configuration (the PatchTSTs) are stacked so that one
    batched matrix product runs them all when a series uses every one of them, and run
    one by one on the series that use them otherwise. ``chunk``: series per work item
    (cache-sized); ``threads``: worker threads (None: usable CPUs).
    """

    def __init__(self, models: Sequence[Model], threads: int | None = None, chunk: int | None = None,
                 stack: bool = True) -> None:
        if not models:
            raise ValueError("the bank needs at least one member")
        self.models = list(models)
        self.input_length = self.models[0].input_length
        if any(m.input_length != self.input_length for m in self.models):
            raise ValueError("all members must take the same input length")
        self.threads = threads
        self.chunk = int(chunk or 256)
        self.affine = [i for i, m in enumerate(self.models) if m.affine]
        groups: dict[str, list[int]] = {}
        for i, m in enumerate(self.models):
            if not m.affine:
                key = m.architecture + json.dumps(m.config, sort_keys=True)
                groups.setdefault(key, []).append(i)
        self.groups = list(groups.values())
        self.stacked: dict[int, Any] = {}
        for gi, g in enumerate(self.groups):
            model = self.models[g[0]]
            if stack and len(g) > 1 and isinstance(model, PatchTST):
                self.stacked[gi] = _stack([self.models[i].params for i in g])  # type: ignore[attr-defined]
        self._maps: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.models)

    def affine_maps(self, horizon: int) -> tuple[np.ndarray, np.ndarray]:
        """Roll-out maps of the affine members (in ``self.affine`` order), float32:
        ``A [T, n_affine * horizon]`` and ``b [n_affine * horizon]``."""
        with self._lock:
            if horizon not in self._maps:
                maps = [affine_rollout(self.models[i], horizon) for i in self.affine]
                a = np.concatenate([m[0] for m in maps], axis=0) if maps else np.zeros((0, self.input_length))
                b = np.concatenate([m[1] for m in maps]) if maps else np.zeros(0)
                self._maps[horizon] = (_f32(a.T), _f32(b))
            return self._maps[horizon]

    # -------------------------------------------------------------- pair iteration
    def _pairs(self, x: np.ndarray, used: np.ndarray, horizon: int, clip: float | None
               ) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        """Yield ``(member, rows, forecasts [len(rows), horizon] float32)`` covering every
        ``used[row, member]`` pair once."""
        n = len(x)
        finite_rows = np.isfinite(x).all(axis=1)
        if self.affine:
            yield from self._affine_pairs(x, used, finite_rows, horizon, clip)
        for gi, g in enumerate(self.groups):
            full = used[:, g].all(axis=1) if gi in self.stacked else np.zeros(n, dtype=bool)
            tasks: list[tuple[list[int], np.ndarray]] = []
            rows_full = np.flatnonzero(full)
            for lo in range(0, len(rows_full), self.chunk):
                tasks.append((g, rows_full[lo : lo + self.chunk]))
            for m in g:
                rows = np.flatnonzero(used[:, m] & ~full)
                for lo in range(0, len(rows), self.chunk):
                    tasks.append(([m], rows[lo : lo + self.chunk]))
            if not tasks:
                continue
            model = self.models[g[0]]
            stacked = self.stacked.get(gi)
            xt = np.ascontiguousarray(x.T)

            def run(task: tuple[list[int], np.ndarray], model: Model = model, stacked: Any = stacked,
                    xt: np.ndarray = xt) -> tuple[list[int], np.ndarray, np.ndarray]:
                members, rows = task
                ctx = xt[:, rows]
                if len(members) > 1:
                    out = model.rollout_fm(ctx, horizon, clip, stacked)  # type: ignore[attr-defined]
                else:
                    member = self.models[members[0]]
                    if isinstance(member, PatchTST):
                        out = member.rollout_fm(ctx, horizon, clip)[None]
                    else:
                        out = rollout(member, ctx.T, horizon, clip).T[None]
                return members, rows, out

            for members, rows, out in _parallel_map(run, tasks, self.threads):
                for j, m in enumerate(members):
                    yield m, rows, out[j].T

    def _affine_pairs(self, x: np.ndarray, used: np.ndarray, finite_rows: np.ndarray, horizon: int,
                      clip: float | None) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        """The affine members' pairs: one product with the precomposed roll-out maps; a
        roll-out that reaches the clip (a clipped block changes the later ones) and rows
        with non-finite values are recomputed step by step."""
        a, b = self.affine_maps(horizon)
        aff = np.asarray(self.affine)
        rows = np.flatnonzero(used[:, aff].any(axis=1) & finite_rows)
        if len(rows):
            xs = x if len(rows) == len(x) else x[rows]
            y = matmul_rows(xs, a).reshape(len(rows), len(aff), horizon)
            y += b.reshape(len(aff), horizon)
            over = None if clip is None else ~(np.abs(y) <= clip).all(axis=2)  # [rows, n_affine]
            for j, m in enumerate(aff):
                keep = used[rows, m]
                everywhere = bool(keep.all())
                r, pred = (rows, y[:, j]) if everywhere else (rows[keep], y[keep, j])
                if over is not None:
                    bad = over[:, j] if everywhere else over[keep, j]
                    if bad.any():
                        pred = pred.copy()
                        pred[bad] = rollout(self.models[m], x[r[bad]], horizon, clip)
                yield int(m), r, pred
        odd = np.flatnonzero(~finite_rows)
        for m in aff:  # rows with non-finite values: step by step, as torch does
            r = odd[used[odd, m]]
            if len(r):
                yield int(m), r, rollout(self.models[m], x[r], horizon, clip)


def _used_pairs(members_idx: np.ndarray, n: int, n_members: int) -> np.ndarray:
    idx = np.asarray(members_idx, dtype=np.int64).reshape(n, -1)
    if idx.size and (idx.min() < 0 or idx.max() >= n_members):
        raise ValueError("member indices out of range")
    used = np.zeros((n, n_members), dtype=bool)
    used[np.arange(n)[:, None], idx] = True
    return used


def fused_rollout(bank: MemberBank, x_norm: np.ndarray, members_idx: np.ndarray, weights: np.ndarray,
                  horizon: int, clip: float | None = 10.0) -> np.ndarray:
    """Weighted sum of member roll-outs: ``sum_j weights[i, j] * rollout(member members_idx[i, j])``.

    ``x_norm [n, T]``: normalized contexts; ``members_idx [n, k]``: member indices per row;
    ``weights [n, k]``; returns ``[n, horizon]`` float64 (roll-outs in float32, summed in
    float64). Each (row, member) pair is computed once, and only for the members the row
    uses, so a smaller ``k`` costs less.
    """
    x = np.ascontiguousarray(np.asarray(x_norm, dtype=np.float32))
    n = len(x)
    idx = np.asarray(members_idx, dtype=np.int64).reshape(n, -1)
    w = np.asarray(weights, dtype=np.float64).reshape(idx.shape)
    used = _used_pairs(idx, n, len(bank))
    dense = np.zeros((n, len(bank)))  # weight per (row, member); a repeated member's weights add up
    rows = np.arange(n)
    for j in range(idx.shape[1]):
        dense[rows, idx[:, j]] += w[:, j]
    fused = np.zeros((n, horizon))
    for m, rows, pred in bank._pairs(x, used, horizon, clip):
        if len(rows) == n:
            fused += dense[:, m : m + 1] * pred
        else:
            fused[rows] += dense[rows, m : m + 1] * pred
    return fused


def member_rollouts(bank: MemberBank, x_norm: np.ndarray, members_idx: np.ndarray, horizon: int,
                    clip: float | None = 10.0) -> np.ndarray:
    """Roll-outs of the chosen members: ``[n, k, horizon]`` float32 for ``members_idx [n, k]``
    (``x_norm [n, T]``: normalized contexts)."""
    x = np.ascontiguousarray(np.asarray(x_norm, dtype=np.float32))
    n = len(x)
    idx = np.asarray(members_idx, dtype=np.int64).reshape(n, -1)
    used = _used_pairs(idx, n, len(bank))
    slot = np.full((n, len(bank)), -1, dtype=np.int64)
    slot[np.arange(n)[:, None], idx] = np.arange(idx.shape[1])[None, :]
    out = np.empty((n, idx.shape[1], horizon), dtype=np.float32)
    for m, rows, pred in bank._pairs(x, used, horizon, clip):
        out[rows, slot[rows, m]] = pred
        dup = (idx[rows] == m).sum(axis=1) > 1  # the same member twice in a row
        for r in rows[dup]:
            out[r, idx[r] == m] = pred[np.searchsorted(rows, r)]
    return out


# ---------------------------------------------------------------------------- zoo
