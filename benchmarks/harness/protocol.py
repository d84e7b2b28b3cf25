"""Multivariate zero-shot protocol of ForecastPFN / SeqFusion (paper Table 2).

Data: a benchmark CSV (first column ``date``, all others numeric; "features M", every
column is a variate). Scaling: per-column StandardScaler (mean, population std,
``ddof=0``) fitted on the first ``n_train = int(0.7 * N)`` rows. Test part: the last
``n_test = int(0.2 * N)`` rows plus the ``L = 36`` look-back rows before them, i.e. rows
``[border1, N)`` with ``border1 = N - n_test - L``. For horizon ``H`` there is a window at
every start ``i`` in ``[0, n_test - H + 1)`` (stride 1, as the Autoformer-style loader's
``len(test_part) - L - H + 1``); window ``i`` reads inputs ``test[i : i+L]`` and targets
``test[i+L : i+L+H]``.

Every window of every variate is one univariate row. Rows are ordered window-major
(``row = i * C + c``), so the rows of a longer horizon are a prefix of the rows of a
shorter one: one forecast to ``max(H)`` on the rows of ``min(H)`` serves every horizon of
a horizon-invariant method.

Metrics are computed on scaled values: per horizon, MSE and MAE are means over all
elements ``[n_rows, H]``; the dataset score is the mean over the horizons of the
per-horizon MSE.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd

from seqfusion.training.data.paths import data_root

LOOKBACK = 36
HORIZONS: tuple[int, ...] = (6, 8, 14, 18, 24, 36, 48)
TRAIN_FRACTION = 0.7
TEST_FRACTION = 0.2


@dataclass(frozen=True)
class DatasetSpec:
    """A benchmark target: file below ``<data>/benchmark`` and its sampling frequency."""

    name: str
    filename: str
    freq: str  # "D" daily or "W" weekly
    season: int  # natural season in steps (7 daily, 52 weekly)


DATASETS: dict[str, DatasetSpec] = {
    "ECL": DatasetSpec("ECL", "electricity_agg.csv", "D", 7),
    "ETTh1": DatasetSpec("ETTh1", "ETTh1_agg.csv", "D", 7),
    "ETTh2": DatasetSpec("ETTh2", "ETTh2_agg.csv", "D", 7),
    "Exchange": DatasetSpec("Exchange", "exchange_rate.csv", "D", 7),
    "Illness": DatasetSpec("Illness", "national_illness.csv", "W", 52),
    "Weather": DatasetSpec("Weather", "weather_agg.csv", "D", 7),
}


def resolve_dataset(name: str) -> DatasetSpec:
    """Look a dataset up by name (case-insensitive); raise ValueError listing the names."""
    for key, spec in DATASETS.items():
        if key.lower() == name.lower():
            return spec
    raise ValueError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}")


def dataset_path(spec: DatasetSpec, root: Path | None = None) -> Path:
    """Path of the dataset's CSV (``<data_root>/benchmark/<file>``)."""
    return (root if root is not None else data_root()) / "benchmark" / spec.filename


@dataclass
class MultivariateData:
    """One scaled benchmark dataset.

    ``values``: all rows, scaled, ``[N, C]`` float64; ``test``: rows ``[border1, N)``,
    ``[n_test + L, C]``. ``mean``/``std``: the scaler's per-column statistics ``[C]``.
    """

    name: str
    columns: list[str]
    values: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    n_train: int
    n_test: int
    lookback: int = LOOKBACK
    spec: DatasetSpec | None = None

    @property
    def n_rows(self) -> int:
        return int(self.values.shape[0])

    @property
    def n_vars(self) -> int:
        return int(self.values.shape[1])

    @property
    def border1(self) -> int:
        return self.n_rows - self.n_test - self.lookback

    @property
    def test(self) -> np.ndarray:
        return self.values[self.border1 :]

    def n_windows(self, horizon: int) -> int:
        """Number of window starts for ``horizon`` (per variate)."""
        return max(0, self.n_test - horizon + 1)

    def n_series_rows(self, horizon: int) -> int:
        """Number of univariate rows (``n_windows * C``) for ``horizon``."""
        return self.n_windows(horizon) * self.n_vars


def scale_frame(values: np.ndarray, n_train: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """StandardScaler on the first ``n_train`` rows: returns (scaled ``[N, C]``, mean, std).

    Population std (``ddof=0``); a zero std is replaced by 1, as sklearn does.
    """
    train = values[:n_train]
    mean = train.mean(axis=0)
    std = train.std(axis=0)
    std = np.where(std == 0.0, 1.0, std)
    return (values - mean) / std, mean, std


def load_frame(path: Path | str) -> tuple[list[str], np.ndarray]:
    """Read a benchmark CSV; return (value column names, values ``[N, C]`` float64)."""
    df = pd.read_csv(path)
    if df.shape[1] < 2 or str(df.columns[0]).lower() != "date":
        raise ValueError(f"{path}: expected a first column 'date' and numeric columns")
    body = df.iloc[:, 1:]
    try:
        values = body.to_numpy(dtype=np.float64)
    except ValueError as exc:
        raise ValueError(f"{path}: non-numeric value column ({exc})") from None
    if not np.isfinite(values).all():
        raise ValueError(f"{path}: missing or infinite values")
    return [str(c) for c in body.columns], values


def load_dataset(
    name: str, root: Path | None = None, lookback: int = LOOKBACK
) -> MultivariateData:
    """Load and scale a benchmark dataset by name (see ``DATASETS``)."""
    spec = resolve_dataset(name)
    path = dataset_path(spec, root)
    if not path.is_file():
        raise FileNotFoundError(f"dataset file not found: {path}")
    columns, raw = load_frame(path)
    return from_array(raw, spec.name, columns, lookback=lookback, spec=spec)


def from_array(
    raw: np.ndarray,
    name: str = "array",
    columns: list[str] | None = None,
    lookback: int = LOOKBACK,
    spec: DatasetSpec | None = None,
) -> MultivariateData:
    """Apply the protocol's split and scaling to raw values ``[N, C]``."""
    raw = np.asarray(raw, dtype=np.float64)
    if raw.ndim != 2:
        raise ValueError(f"need values [N, C], got shape {raw.shape}")
    n = raw.shape[0]
    n_train = int(n * TRAIN_FRACTION)
    n_test = int(n * TEST_FRACTION)
    if n_test < 1 or n - n_test - lookback < 0:
        raise ValueError(f"{name}: {n} rows are too few for the protocol")
    scaled, mean, std = scale_frame(raw, n_train)
    cols = columns if columns is not None else [str(i) for i in range(raw.shape[1])]
    return MultivariateData(name, cols, scaled, mean, std, n_train, n_test, lookback, spec)


def windows(data: MultivariateData, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """All test windows for ``horizon`` as univariate rows.

    Returns inputs ``[n_windows * C, L]`` and targets ``[n_windows * C, H]`` (window-major
    order: row ``i * C + c`` is window ``i`` of variate ``c``).
    """
    x = input_rows(data, data.n_windows(horizon))
    return x, target_rows(data, horizon)


def input_rows(data: MultivariateData, n_windows: int) -> np.ndarray:
    """Inputs of the first ``n_windows`` windows: ``[n_windows * C, L]`` (a fresh copy)."""
    test = data.test
    L = data.lookback
    view = np.lib.stride_tricks.sliding_window_view(test, L, axis=0)  # [n+1.., C, L]
    return np.ascontiguousarray(view[:n_windows]).reshape(-1, L)


def target_rows(data: MultivariateData, horizon: int) -> np.ndarray:
    """Targets for ``horizon``: ``[n_windows * C, H]``."""
    nw = data.n_windows(horizon)
    future = data.test[data.lookback :]
    view = np.lib.stride_tricks.sliding_window_view(future, horizon, axis=0)  # [.., C, H]
    return np.ascontiguousarray(view[:nw]).reshape(-1, horizon)


# ---------------------------------------------------------------- methods and scoring


@runtime_checkable
class ForecastMethod(Protocol):
    """``f(x [n, L], horizon) -> [n, horizon]``; may set ``horizon_invariant = True``."""

    def __call__(self, x: np.ndarray, horizon: int) -> np.ndarray: ...


def is_horizon_invariant(method: Callable[..., Any]) -> bool:
    """True when the forecast to ``H`` is the first ``H`` steps of a longer forecast."""
    return bool(getattr(method, "horizon_invariant", False))


def subsample_rows(data: MultivariateData, horizon: int, max_rows: int | None) -> np.ndarray:
    """Evenly spaced row indices among the rows of ``horizon`` (all rows if ``max_rows``
    is None or large enough).

    Pick ``j = 0..max_rows-1`` takes window ``floor(j * n_windows / max_rows)`` (evenly
    spaced in time) and variate ``j mod C`` (cycling over variates), so the subsample
    covers both the test period and all variates.
    """
    total = data.n_series_rows(horizon)
    if max_rows is None or max_rows >= total:
        return np.arange(total)
    if max_rows < 1:
        raise ValueError("max_rows must be >= 1")
    nw, c = data.n_windows(horizon), data.n_vars
    j = np.arange(max_rows)
    rows = (j * nw // max_rows) * c + (j % c)
    return np.unique(rows)


@dataclass
class HorizonScore:
    """Metrics for one horizon over ``n`` rows."""

    horizon: int
    mse: float
    mae: float
    n: int


@dataclass
class EvalResult:
    """Per-horizon metrics of one method on one dataset, plus cost counters."""

    dataset: str
    horizons: list[HorizonScore]
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def mse(self) -> float:
        """Dataset score: mean over horizons of the per-horizon MSE."""
        return float(np.mean([h.mse for h in self.horizons]))

    @property
    def mae(self) -> float:
        return float(np.mean([h.mae for h in self.horizons]))

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "mse": self.mse,
            "mae": self.mae,
            "per_horizon": {
                str(h.horizon): {"mse": h.mse, "mae": h.mae, "n": h.n} for h in self.horizons
            },
            "seconds": self.seconds,
            **self.extra,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> EvalResult:
        hs = [
            HorizonScore(int(k), float(v["mse"]), float(v["mae"]), int(v["n"]))
            for k, v in d["per_horizon"].items()
        ]
        known = {"dataset", "mse", "mae", "per_horizon", "seconds"}
        extra = {k: v for k, v in d.items() if k not in known}
        return cls(d["dataset"], sorted(hs, key=lambda h: h.horizon), float(d["seconds"]), extra)


def _check_forecast(pred: np.ndarray, n: int, horizon: int, what: str) -> np.ndarray:
    pred = np.asarray(pred, dtype=np.float64)
    if pred.shape != (n, horizon):
        raise ValueError(f"{what} returned shape {pred.shape}, expected {(n, horizon)}")
    return pred


COUNTERS = ("fits", "fallbacks")


def _counters(method: Any) -> dict[str, int]:
    """The method's additive counters (``stats["fits"]``, ``stats["fallbacks"]``)."""
    stats = getattr(method, "stats", None)
    if not isinstance(stats, dict):
        return {}
    return {k: int(stats[k]) for k in COUNTERS if isinstance(stats.get(k), int)}


def forecast_rows(
    method: Callable[[np.ndarray, int], np.ndarray],
    x: np.ndarray,
    horizon: int,
    chunk: int | None = None,
    progress: Callable[[int], None] | None = None,
    chunk_cache: Path | None = None,
) -> np.ndarray:
    """Run ``method`` on inputs ``x [n, L]`` in chunks; return ``[n, horizon]``.

    With ``chunk_cache`` (a folder) each finished chunk is stored as ``.npz`` (forecasts
    plus the change of the method's ``COUNTERS``) and
    reused, so an interrupted long run resumes where it stopped. ``progress(k)`` is
    called with the number of rows finished.
    """
    n = len(x)
    chunk = chunk or max(n, 1)
    out = np.empty((n, horizon), dtype=np.float64)
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        cached = chunk_cache / f"rows_{start}_{stop}_h{horizon}.npz" if chunk_cache else None
        if cached is not None and cached.is_file():
            with np.load(cached) as z:
                out[start:stop] = z["pred"]
                stats = getattr(method, "stats", None)
                for key in z.files:
                    if key.startswith("stat_") and isinstance(stats, dict):
                        stats[key[5:]] = int(stats.get(key[5:], 0) or 0) + int(z[key])
        else:
            before = _counters(method)
            pred = _check_forecast(method(x[start:stop], horizon), stop - start, horizon, "method")
            out[start:stop] = pred
            if cached is not None:
                after = _counters(method)
                save_chunk(cached, pred, {k: v - before.get(k, 0) for k, v in after.items()})
        if progress is not None:
            progress(stop - start)
    return out


def save_chunk(path: Path, pred: np.ndarray, deltas: dict[str, int]) -> None:
    """Store one finished chunk of forecasts (and the change of the method's counters) as
    ``.npz``, written to a temporary name and renamed, so a half-written chunk never counts."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".tmp.npz")
    np.savez(tmp, pred=pred, **{f"stat_{k}": np.int64(v) for k, v in deltas.items()})
    tmp.replace(path)


def score(pred: np.ndarray, target: np.ndarray) -> tuple[float, float]:
    """(MSE, MAE) over all elements of ``pred`` and ``target`` (same shape)."""
    err = np.asarray(pred, dtype=np.float64) - target
    return float(np.mean(err**2)), float(np.mean(np.abs(err)))


def evaluate(
    method: Callable[[np.ndarray, int], np.ndarray],
    data: MultivariateData,
    horizons: Iterable[int] = HORIZONS,
    max_rows: int | None = None,
    chunk: int | None = None,
    progress: Callable[[int], None] | None = None,
    chunk_cache: Path | None = None,
) -> EvalResult:
    """Evaluate ``method`` on every horizon; see the module docstring for the protocol.

    Horizon-invariant methods are called once, with ``max(horizons)``, on the rows of
    ``min(horizons)``, and the forecast is sliced per horizon; others are called once per
    horizon. ``max_rows`` evaluates an evenly spaced subsample (see ``subsample_rows``),
    the same rows for every method.
    """
    hs = sorted({int(h) for h in horizons})
    if not hs or hs[0] < 1:
        raise ValueError(f"bad horizons {hs}")
    for h in hs:
        if data.n_windows(h) < 1:
            raise ValueError(f"{data.name}: no test window for horizon {h}")
    start = time.perf_counter()
    base_rows = subsample_rows(data, hs[0], max_rows)
    scores: list[HorizonScore] = []
    if is_horizon_invariant(method):
        x = input_rows(data, data.n_windows(hs[0]))[base_rows]
        pred = forecast_rows(method, x, hs[-1], chunk, progress, chunk_cache)
        for h in hs:
            keep = base_rows < data.n_series_rows(h)
            y = target_rows(data, h)[base_rows[keep]]
            mse, mae = score(pred[keep, :h], y)
            scores.append(HorizonScore(h, mse, mae, int(keep.sum())))
    else:
        for h in hs:
            rows = base_rows[base_rows < data.n_series_rows(h)]
            x, y = windows(data, h)
            sub = chunk_cache / f"h{h}" if chunk_cache else None
            pred = forecast_rows(method, x[rows], h, chunk, progress, sub)
            mse, mae = score(pred, y[rows])
            scores.append(HorizonScore(h, mse, mae, len(rows)))
    extra: dict[str, Any] = {"subsampled": max_rows is not None and len(base_rows) < data.n_series_rows(hs[0])}
    extra["n_rows"] = int(len(base_rows))
    return EvalResult(data.name, scores, time.perf_counter() - start, extra)


def rows_to_evaluate(
    method: Callable[..., Any],
    data: MultivariateData,
    horizons: Iterable[int] = HORIZONS,
    max_rows: int | None = None,
) -> int:
    """How many rows ``evaluate`` will forecast (for progress bars)."""
    hs = sorted({int(h) for h in horizons})
    base = subsample_rows(data, hs[0], max_rows)
    if is_horizon_invariant(method):
        return int(len(base))
    return int(sum((base < data.n_series_rows(h)).sum() for h in hs))
