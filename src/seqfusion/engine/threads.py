"""Per-thread state: scratch workspaces, numpy's OpenBLAS held to one thread, the
:class:`settings` context, and the engine's worker pools."""
from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np


class Workspace:
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


def workspace() -> Workspace:
    """This thread's :class:`Workspace`."""
    ws = getattr(_local, "workspace", None)
    if ws is None:
        ws = _local.workspace = Workspace()
    return ws


def usable_cpus() -> int:
    """CPUs this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


_blas_local_threads: Any = None  # OpenBLAS's thread count setter (it acts process-wide), when found


def find_blas_local_threads() -> Any:
    """numpy's OpenBLAS ``openblas_set_num_threads_local`` (None when not found), which
    returns the previous thread count; see :class:`OneBlasThread`."""
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


class OneBlasThread:
    """numpy's OpenBLAS on one thread inside (best effort: a no-op without OpenBLAS), the
    previous count restored when the outermost such block of this thread exits. The engine
    spreads work over its own threads, and a product the BLAS split over threads would
    round differently (see :func:`~seqfusion.engine.matmul.matmul_cols`). numpy's OpenBLAS
    applies the count process-wide, changing it while another thread multiplies is racy,
    and raising it wakes the BLAS's own threads, which then spin; so it is set before work
    reaches the engine's threads and restored once, at the end of a public call
    (:class:`settings`)."""

    def __enter__(self) -> None:
        depth = getattr(_local, "blas_depth", 0)
        if depth == 0:
            fn = find_blas_local_threads()
            _local.blas_previous = fn(1) if fn is not None else 1
        _local.blas_depth = depth + 1

    def __exit__(self, *exc: object) -> None:
        _local.blas_depth -= 1
        if _local.blas_depth == 0 and _local.blas_previous != 1:
            find_blas_local_threads()(_local.blas_previous)


class settings:
    """Context for engine work started from this thread (reentrant): numpy's OpenBLAS on one
    thread (:class:`OneBlasThread`) and whether products are batch-invariant.

    ``exact=True`` (default): a series' forecast does not depend on the other series of the
    call, bit for bit (:func:`~seqfusion.engine.matmul.matmul_cols`), at some cost in
    speed; ``False``: plain products, which may round differently (about 1e-7 relative) in
    another batch.
    """

    def __init__(self, exact: bool = True) -> None:
        self.exact = bool(exact)
        self._blas = OneBlasThread()

    def __enter__(self) -> None:
        self._blas.__enter__()
        self.previous = getattr(_local, "exact", True)
        _local.exact = self.exact

    def __exit__(self, *exc: object) -> None:
        _local.exact = self.previous
        self._blas.__exit__(*exc)


def is_exact() -> bool:
    """Whether products in this thread must be batch-invariant (see :class:`settings`)."""
    return bool(getattr(_local, "exact", True))


_WORKER = "seqfusion-engine"  # name prefix of the engine's worker threads
_pools: dict[int, ThreadPoolExecutor] = {}
_pools_lock = threading.Lock()


def in_worker() -> bool:
    """Whether this thread is one of the engine's workers (its BLAS already on one thread)."""
    return threading.current_thread().name.startswith(_WORKER)


def _pool(threads: int) -> ThreadPoolExecutor:
    """A long-lived pool of ``threads`` workers (kept, with the workers' scratch arrays,
    from call to call)."""
    with _pools_lock:
        pool = _pools.get(threads)
        if pool is None:
            pool = _pools[threads] = ThreadPoolExecutor(threads, thread_name_prefix=_WORKER)
        return pool


def parallel_map(fn: Callable[[Any], Any], items: Sequence[Any], threads: int | None) -> Iterator[Any]:
    """``fn(item)`` for every item, in order, on ``threads`` worker threads (None: usable CPUs;
    1, a single item, or a call from a worker thread: in the calling thread)."""
    threads = usable_cpus() if threads is None else max(1, int(threads))
    if in_worker():
        for it in items:
            yield fn(it)
        return
    exact = is_exact()

    def work(item: Any) -> Any:
        _local.exact = exact  # the caller's setting, in the worker thread
        return fn(item)

    with OneBlasThread():
        if threads == 1 or len(items) <= 1:
            for it in items:
                yield fn(it)
        else:
            yield from _pool(threads).map(work, items)
