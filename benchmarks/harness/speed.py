"""Throughput, latency, memory and size of the SeqFusion forecaster (and statsforecast).

Workload: ``n`` seeded synthetic series of length 36 (a mix of level, trend, seasonal
patterns of period 7/12/24, random walks and noise), forecast ``H = 48`` steps with
``k = 3``, passed as an array ``[T, n]`` (columns = series) and as a long DataFrame
(``unique_id, ds, y``). statsforecast AutoETS / AutoTheta are timed on the first
``sf_series`` of the same series (one fit per series, season length 7, after one
untimed warm-up fit so numba compilation is not counted). Whole histories: ``n / 10`` (at
most 1,000) daily series of 500 points forecast 14 steps with the default whole-history
path, and AutoTheta on the first ``sf_series`` of them.
"""
from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


def synthetic_series(n: int = 10_000, length: int = 36, seed: int = 0) -> np.ndarray:
    """``[n, length]`` float64: level + trend + seasonality + noise, some random walks."""
    rng = np.random.default_rng(seed)
    t = np.arange(length, dtype=np.float64)
    level = rng.normal(10.0, 5.0, (n, 1))
    trend = rng.normal(0.0, 0.05, (n, 1)) * t * rng.integers(0, 2, (n, 1))
    period = rng.choice([7, 12, 24], size=(n, 1))
    phase = rng.uniform(0, 2 * np.pi, (n, 1))
    amp = rng.uniform(0.0, 3.0, (n, 1)) * rng.integers(0, 2, (n, 1))
    season = amp * np.sin(2 * np.pi * t / period + phase)
    noise = rng.normal(0.0, 1.0, (n, length)) * rng.uniform(0.05, 1.0, (n, 1))
    walk = np.cumsum(rng.normal(0.0, 0.5, (n, length)), axis=1) * rng.integers(0, 2, (n, 1))
    return level + trend + season + noise + walk


def long_frame(series: np.ndarray, start: str = "2020-01-01", freq: str = "D") -> pd.DataFrame:
    """Long DataFrame (``unique_id``, ``ds``, ``y``) of ``series [n, T]``."""
    n, length = series.shape
    ds = pd.date_range(start, periods=length, freq=freq)
    return pd.DataFrame({
        "unique_id": np.repeat([f"s{i}" for i in range(n)], length),
        "ds": np.tile(ds.values, n),
        "y": series.reshape(-1),
    })


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MiB (``ru_maxrss``)."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 1024.0 if sys.platform != "darwin" else rss / 2**20


def zoo_size_bytes(zoo: str | Path | None) -> int:
    """Total size of the files in the zoo folder (0 when it does not exist)."""
    from benchmarks.harness.baselines import zoo_folder

    folder = zoo_folder(zoo)
    if not folder.is_dir():
        return 0
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


_IMPORT_PROBE = """
import json, sys, time
t0 = time.perf_counter()
from seqfusion import SeqFusion
t1 = time.perf_counter()
f = SeqFusion.from_pretrained(None if sys.argv[1] == '-' else sys.argv[1])
t2 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "load_s": t2 - t1}))
"""


def import_and_load_seconds(zoo: str | Path | None, timeout: float = 300) -> dict[str, float]:
    """Time ``from seqfusion import SeqFusion`` and ``from_pretrained`` in a fresh
    interpreter; also the subprocess's total wall time (interpreter start included)."""
    env = dict(os.environ)
    src = str(Path(__file__).resolve().parents[2] / "src")
    env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", _IMPORT_PROBE, "-" if zoo is None else str(zoo)],
        capture_output=True, text=True, timeout=timeout, env=env,
    )
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["unknown error"])[-1]
        raise RuntimeError(f"import/load probe failed: {last}")
    import json

    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["process_wall_s"] = wall
    return out


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    res = fn()
    return time.perf_counter() - start, res


#: throughput calls are timed this many times; the fastest counts (as ``timeit``: slower
#: runs measure the machine's other load, not the code)
BEST_OF = 3


def _best(fn: Any) -> tuple[float, Any]:
    """The fastest of :data:`BEST_OF` timed calls of ``fn`` and its result."""
    runs = [_timed(fn) for _ in range(BEST_OF)]
    return min(r[0] for r in runs), runs[-1][1]


def forecaster_speed(
    forecaster: Any, series: np.ndarray, horizon: int = 48, k: int = 3, repeats: int = 20
) -> dict[str, Any]:
    """Time ``forecaster`` (``.predict`` / ``.predict_windows``) on ``series [n, T]``.

    Returns forecasts per second for the array ``[T, n]``, the long DataFrame and the
    windows call (each the fastest of :data:`BEST_OF` calls), plus the median single-series
    latency over ``repeats`` calls.
    """
    n = len(series)
    arr = np.ascontiguousarray(series.T)
    frame = long_frame(series)
    forecaster.predict(arr[:, :2], horizon, k=k)  # warm-up (lazy init, allocator)
    t_arr, out = _best(lambda: forecaster.predict(arr, horizon, k=k))
    if np.shape(out) != (horizon, n):
        raise ValueError(f"predict returned shape {np.shape(out)}, expected {(horizon, n)}")
    t_frame, _ = _best(lambda: forecaster.predict(frame, horizon, k=k))
    t_win, _ = _best(lambda: forecaster.predict_windows(series, horizon, k=k))
    t_q = None
    if hasattr(forecaster, "predict_quantiles"):  # nine quantiles 0.1 .. 0.9 of the same array
        t_q, qout = _best(lambda: forecaster.predict_quantiles(arr, horizon, k=k))
        if np.shape(qout)[:2] != (horizon, n):
            raise ValueError(f"predict_quantiles returned shape {np.shape(qout)}")
    one = arr[:, :1]
    lat = [_timed(lambda: forecaster.predict(one, horizon, k=k))[0] for _ in range(repeats)]
    return {
        "n_series": n,
        "length": int(series.shape[1]),
        "horizon": horizon,
        "k": k,
        "array_seconds": t_arr,
        "array_forecasts_per_s": n / t_arr,
        "frame_seconds": t_frame,
        "frame_forecasts_per_s": n / t_frame,
        "windows_seconds": t_win,
        "windows_forecasts_per_s": n / t_win,
        "quantiles_seconds": t_q,
        "quantiles_forecasts_per_s": None if t_q is None else n / t_q,
        "quantiles_over_point_time": None if t_q is None else t_q / t_arr,
        "single_latency_ms_median": 1000 * statistics.median(lat),
        "single_latency_repeats": repeats,
    }


def history_speed(forecaster: Any, n_series: int = 1_000, length: int = 500, horizon: int = 14,
                  seed: int = 0, sf_series: int = 0) -> dict[str, Any]:
    """Whole histories: ``n_series`` synthetic daily series of ``length`` points (a weekly
    season on a random walk, seed ``seed``) forecast ``horizon`` steps with ``freq="D"`` (the
    default ``history="whole"``: back-tests, seasonal adjustment, classical candidates);
    statsforecast AutoTheta on the first ``sf_series`` of them (season 7) for comparison."""
    rng = np.random.default_rng(seed)
    t = np.arange(length, dtype=np.float64)
    season = rng.uniform(0.0, 3.0, (n_series, 1)) * np.sin(2 * np.pi * t / 7 + rng.uniform(0, 7, (n_series, 1)))
    y = 50.0 + season + np.cumsum(rng.normal(0.0, 0.5, (n_series, length)), axis=1)
    arr = np.ascontiguousarray(y.T)
    forecaster.predict(arr[:, :2], horizon, freq="D")  # warm-up
    sec, out = _timed(lambda: forecaster.predict(arr, horizon, freq="D"))
    if np.shape(out) != (horizon, n_series):
        raise ValueError(f"predict returned shape {np.shape(out)}, expected {(horizon, n_series)}")
    result: dict[str, Any] = {"n_series": n_series, "length": length, "horizon": horizon, "seconds": sec,
                              "forecasts_per_s": n_series / sec}
    if sf_series > 0:
        try:
            result["statsforecast"] = statsforecast_speed(y[:sf_series], horizon, models=("AutoTheta",))
        except ImportError:
            result["statsforecast"] = {"error": "statsforecast not installed"}
    return result


def long_member_speed(forecaster: Any, n_series: int = 2_000, length: int = 512, seed: int = 0,
                      repeats: int = 3) -> dict[str, Any]:
    """The zoo's first long-context member alone: quantile forecasts of its own horizon per
    second for ``n_series`` synthetic series of ``length`` points (best of ``repeats``)."""
    members = getattr(getattr(forecaster, "zoo", None), "long_members", [])
    if not members:
        return {}
    model = members[0].model
    rng = np.random.default_rng(seed)
    x = (50.0 + np.cumsum(rng.normal(0.0, 0.5, (n_series, length)), axis=1)).astype(np.float32)
    model.quantiles(x[:2])  # warm-up
    sec = min(_timed(lambda: model.quantiles(x))[0] for _ in range(repeats))
    return {"member": members[0].name, "n_series": n_series, "length": length, "horizon": model.horizon,
            "quantiles": model.config.n_quantiles, "seconds": sec, "forecasts_per_s": n_series / sec}


def statsforecast_speed(
    series: np.ndarray, horizon: int = 48, season_length: int = 7,
    models: tuple[str, ...] = ("AutoETS", "AutoTheta"),
) -> dict[str, Any]:
    """Fits per second of statsforecast models, one fit per row of ``series [n, T]``."""
    import warnings

    import statsforecast.models as sfm

    out: dict[str, Any] = {}
    for name in models:
        cls = getattr(sfm, name)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            warm, _ = _timed(lambda cls=cls: cls(season_length=season_length).forecast(y=series[0], h=horizon))
            start = time.perf_counter()
            failed = 0
            for y in series:
                try:
                    cls(season_length=season_length).forecast(y=y, h=horizon)
                except Exception:  # noqa: BLE001 - counted, not fatal
                    failed += 1
            sec = time.perf_counter() - start
        out[name] = {"n_series": len(series), "seconds": sec, "fits_per_s": len(series) / sec,
                     "warmup_seconds": warm, "failed": failed, "season_length": season_length}
    return out


def run_speed(
    zoo: str | Path | None = None,
    n_series: int = 10_000,
    horizon: int = 48,
    k: int = 3,
    sf_series: int = 300,
    seed: int = 0,
    forecaster: Any = None,
    probe_import: bool = True,
    repeats: int = 20,
    threads: int | None = None,
) -> dict[str, Any]:
    """The whole speed benchmark; returns a JSON-ready dict.

    ``forecaster``: an object with ``predict``/``predict_windows`` (default:
    ``SeqFusion.from_pretrained(zoo)``); ``probe_import`` runs the fresh-interpreter
    import/load timing (only meaningful for the real forecaster); ``threads`` limits
    the process to that many CPUs first (the numpy engine uses every CPU it may run on;
    None: all).
    """
    from seqfusion import engine

    if threads is not None:
        os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:threads])
    series = synthetic_series(n_series, 36, seed)
    result: dict[str, Any] = {
        "engine_threads": engine.usable_cpus(),
        "seed": seed,
        "zoo": None if zoo is None else str(zoo),
    }
    if forecaster is None:
        from seqfusion import SeqFusion

        t_load, forecaster = _timed(lambda: SeqFusion.from_pretrained(zoo))
        result["zoo_load_seconds_in_process"] = t_load
        result["zoo_size_bytes"] = zoo_size_bytes(zoo)
        result["zoo_members"] = len(getattr(forecaster, "zoo", []))
    if probe_import:
        result["import_and_load"] = import_and_load_seconds(zoo)
    rss_before = peak_rss_mb()
    result["seqfusion"] = forecaster_speed(forecaster, series, horizon, k, repeats)
    result["peak_rss_mb"] = peak_rss_mb()
    if getattr(forecaster, "exact", False):  # the same, with plain (batch-dependent) products
        fast = forecaster.with_options(exact=False)
        arr = np.ascontiguousarray(series.T)
        fast.predict(arr[:, :2], horizon, k=k)
        t_fast, _ = _timed(lambda: fast.predict(arr, horizon, k=k))
        lat = [_timed(lambda: fast.predict(arr[:, :1], horizon, k=k))[0] for _ in range(repeats)]
        result["exact_false"] = {"array_forecasts_per_s": n_series / t_fast,
                                 "single_latency_ms_median": 1000 * statistics.median(lat)}
    result["peak_rss_mb_before_forecasting"] = rss_before
    n_hist = max(1, min(1_000, n_series // 10))
    result["whole_history"] = history_speed(forecaster, n_series=n_hist, sf_series=min(sf_series, n_hist))
    # the long-history workload of the speed target: n_series histories of 512 points, H = 48
    result["whole_history_512"] = history_speed(forecaster, n_series=n_series, length=512, horizon=48)
    if getattr(getattr(forecaster, "zoo", None), "long_members", []):
        result["whole_history_without_long"] = history_speed(forecaster.with_options(long_context=False),
                                                             n_series=n_hist)
        result["long_member"] = long_member_speed(forecaster)
    if sf_series > 0:
        try:
            result["statsforecast"] = statsforecast_speed(series[:sf_series], horizon)
        except ImportError:
            result["statsforecast"] = {"error": "statsforecast not installed"}
    return result
