"""GIFT-Eval's evaluation protocol, rebuilt on the project's shared data.

What GIFT-Eval does (read from SalesforceAIResearch/gift-eval, ``src/gift_eval/data.py``,
and the gluonts 0.15 code it calls), restated here with numpy:

* **Prediction length** ``H``: by frequency, M4 datasets use the competition horizons
  (:data:`M4_HORIZONS`), every other dataset :data:`HORIZONS`; the ``medium`` and
  ``long`` terms multiply ``H`` by 10 and 15.
* **Windows**: M4 datasets have one test window; the others
  ``min(max(1, ceil(0.1 * shortest_length / H)), 20)``. The test part is the last
  ``H * windows`` steps of every series; window ``w`` (0-based) cuts the series at
  ``len - H * (windows - w)``: its history is everything before the cut, its future the
  next ``H`` steps. Windows roll by ``H``, so the last window ends at the series' end.
  Multivariate datasets are split into one univariate series per variate first.
* **Seasonality** ``m``: gluonts' ``get_seasonality`` table (:data:`SEASONALITY`),
  divided by the frequency's multiple (``5T`` -> 1440 / 5 = 288), 1 when it does not
  divide.
* **MASE**: every future point's absolute error divided by the seasonal error of its
  window's whole history (mean ``|y[t] - y[t-m]|`` over the pairs where both values are
  present; ``m`` falls back to 1 when it exceeds the history length), then the plain
  mean over all points of all windows and series. Missing future values, and points
  whose seasonal error is 0, are left out (gluonts masks them).
* **CRPS**: the mean weighted quantile loss over :data:`QUANTILES`; for each level
  ``q`` the sum over all points of ``2 |(y - f_q) (1{f_q >= y} - q)|`` divided by the sum
  of ``|y|`` over the same points, then the mean over the nine levels.
"""
from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from seqfusion.training.data.paths import data_root
from seqfusion.training.data.readers import parse_tsf, read_m4_wide, read_weekly_txt

TEST_SPLIT = 0.1
MAX_WINDOWS = 20
QUANTILES: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)

#: Horizons of M4 datasets by (legacy pandas) frequency code.
M4_HORIZONS = {"A": 6, "Q": 8, "M": 18, "W": 13, "D": 14, "H": 48}
#: Horizons of every other dataset.
HORIZONS = {"M": 12, "W": 8, "D": 30, "H": 48, "T": 48, "S": 60}
TERMS = {"short": 1, "medium": 10, "long": 15}
#: Base seasonality per frequency code (gluonts' default table); codes absent -> 1.
SEASONALITY = {"S": 3600, "T": 1440, "H": 24, "D": 1, "W": 1, "M": 12, "B": 5, "Q": 4}

# pandas aliases (old and new spellings) -> the legacy one-letter codes used above
_ALIASES = {
    "Y": "A", "YE": "A", "A": "A", "AS": "A", "YS": "A", "BA": "A", "BY": "A",
    "Q": "Q", "QE": "Q", "QS": "Q", "BQ": "Q",
    "M": "M", "ME": "M", "MS": "M", "BM": "M", "BMS": "M",
    "W": "W", "D": "D", "B": "B",
    "H": "H", "h": "H", "BH": "H",
    "T": "T", "min": "T",
    "S": "S", "s": "S",
    "L": "L", "ms": "L", "U": "U", "us": "U", "N": "N", "ns": "N",
}
_FREQ = re.compile(r"^\s*(\d*)\s*([A-Za-z]+)(?:-[A-Za-z0-9]+)?\s*$")


def parse_freq(freq: str) -> tuple[int, str]:
    """``(multiple, code)`` of a pandas frequency string: ``"5T"`` -> ``(5, "T")``,
    ``"W-WED"`` -> ``(1, "W")``, ``"h"`` -> ``(1, "H")``, ``"QE-DEC"`` -> ``(1, "Q")``."""
    match = _FREQ.match(freq)
    if match is None or match.group(2) not in _ALIASES:
        raise ValueError(f"unknown frequency {freq!r}")
    n = int(match.group(1)) if match.group(1) else 1
    if n < 1:
        raise ValueError(f"frequency multiple must be >= 1: {freq!r}")
    return n, _ALIASES[match.group(2)]


def seasonality(freq: str) -> int:
    """The season length gluonts' ``get_seasonality`` gives for ``freq``."""
    n, code = parse_freq(freq)
    base = SEASONALITY.get(code, 1)
    season, remainder = divmod(base, n)
    return season if remainder == 0 else 1


def prediction_length(dataset: str, freq: str, term: str) -> int:
    """GIFT-Eval's horizon: by frequency code (M4 table when ``"m4"`` is in the name)."""
    if term not in TERMS:
        raise ValueError(f"term must be one of {sorted(TERMS)}, got {term!r}")
    _, code = parse_freq(freq)
    table = M4_HORIZONS if "m4" in dataset else HORIZONS
    if code not in table:
        raise ValueError(f"no GIFT-Eval horizon for frequency {freq!r} ({dataset})")
    return TERMS[term] * table[code]


def num_windows(dataset: str, min_length: int, horizon: int) -> int:
    """Number of rolling test windows: 1 for M4, else ceil(0.1 * shortest / H) in [1, 20]."""
    if "m4" in dataset:
        return 1
    return min(max(1, math.ceil(TEST_SPLIT * min_length / horizon)), MAX_WINDOWS)


@dataclass(frozen=True)
class Window:
    """One test window: ``series`` index, window ``index`` (0 = earliest), the history
    before the cut (``cut`` = its length) and the ``H`` future values."""

    series: int
    index: int
    cut: int
    history: np.ndarray
    future: np.ndarray


def split_windows(series: Sequence[np.ndarray], horizon: int, n_windows: int) -> list[Window]:
    """Windows of every series, in series order then time order (as gluonts yields them)."""
    if horizon < 1 or n_windows < 1:
        raise ValueError("horizon and n_windows must be >= 1")
    out = []
    for i, values in enumerate(series):
        y = np.asarray(values, dtype=np.float64)
        if y.ndim != 1:
            raise ValueError("series must be 1-D (split multivariate series into variates)")
        first_cut = len(y) - horizon * n_windows
        if first_cut < 0:
            raise ValueError(f"series {i}: length {len(y)} < {n_windows} windows of {horizon}")
        for w in range(n_windows):
            cut = first_cut + w * horizon
            out.append(Window(i, w, cut, y[:cut], y[cut:cut + horizon]))
    return out


def seasonal_error(history: np.ndarray, m: int) -> float:
    """Mean ``|y[t] - y[t-m]|`` over pairs with both values present (``m`` -> 1 when it
    exceeds the history length); NaN when no pair is present."""
    y = np.asarray(history, dtype=np.float64)
    if m > len(y):
        m = 1
    diff = np.abs(y[m:] - y[:len(y) - m])
    diff = diff[np.isfinite(diff)]
    return float(diff.mean()) if diff.size else math.nan


def mase(windows: Sequence[Window], point: np.ndarray, m: int) -> float:
    """GIFT-Eval's MASE of point forecasts ``point`` ``[n_windows, H]`` (the median)."""
    point = np.asarray(point, dtype=np.float64)
    if point.shape != (len(windows), len(windows[0].future)):
        raise ValueError(f"point forecasts of shape {point.shape}, expected {(len(windows), len(windows[0].future))}")
    if not np.isfinite(point).all():
        raise ValueError("forecasts contain NaN/inf")
    total, count = 0.0, 0
    for w, f in zip(windows, point):
        scale = seasonal_error(w.history, m)
        if not np.isfinite(scale) or scale == 0:
            continue
        ok = np.isfinite(w.future)
        total += float(np.sum(np.abs(w.future[ok] - f[ok]))) / scale
        count += int(ok.sum())
    return total / count if count else math.nan


def quantile_loss(y: np.ndarray, f: np.ndarray, q: float) -> np.ndarray:
    """Pointwise ``2 |(y - f) (1{f >= y} - q)|``."""
    return 2.0 * np.abs((y - f) * ((f >= y).astype(np.float64) - q))


def weighted_quantile_loss(futures: np.ndarray, quantile_forecasts: np.ndarray,
                           quantiles: Sequence[float] = QUANTILES) -> float:
    """Mean over ``quantiles`` of sum(quantile loss) / sum(|y|), missing ``y`` left out.

    ``futures`` ``[n, H]``; ``quantile_forecasts`` ``[n, len(quantiles), H]``.
    """
    y = np.asarray(futures, dtype=np.float64)
    f = np.asarray(quantile_forecasts, dtype=np.float64)
    if f.shape != (y.shape[0], len(quantiles), y.shape[1]):
        raise ValueError(f"quantile forecasts of shape {f.shape}, expected {(y.shape[0], len(quantiles), y.shape[1])}")
    if not np.isfinite(f).all():
        raise ValueError("forecasts contain NaN/inf")
    ok = np.isfinite(y)
    denom = float(np.abs(y[ok]).sum())
    losses = [float(quantile_loss(y[ok], f[:, k, :][ok], q).sum()) / denom for k, q in enumerate(quantiles)]
    return float(np.mean(losses))


def last_value_impute(values: np.ndarray) -> np.ndarray:
    """Missing values -> last present value; leading ones -> the first present value;
    an all-missing (or one-value missing) series -> zeros (gluonts' LastValueImputation)."""
    y = np.asarray(values, dtype=np.float64).copy()
    missing = np.isnan(y)
    if not missing.any():
        return y
    if len(y) == 1 or missing.all():
        return np.where(missing, 0.0, y)
    idx = np.where(~missing, np.arange(len(y)), 0)
    np.maximum.accumulate(idx, out=idx)
    y = y[idx]
    lead = np.isnan(y)
    y[lead] = y[np.flatnonzero(~np.isnan(y))[0]]
    return y


# ---------------------------------------------------------------------------
# Configs the shared data can rebuild

Loader = Callable[[Path], list[np.ndarray]]


def _m4(freq_name: str) -> Loader:
    def load(root: Path) -> list[np.ndarray]:
        # competition train + test = the full series GIFT-Eval stores
        return read_m4_wide(root / "m4" / "Train" / f"{freq_name}-train.csv", include_test=True)
    return load


def _hospital(root: Path) -> list[np.ndarray]:
    return parse_tsf(root / "monash" / "hospital_dataset.tsf")[2]


def _car_parts(root: Path) -> list[np.ndarray]:
    df = pd.read_csv(root / "misc" / "carparts_monthly.csv")
    return [df[c].to_numpy(np.float64) for c in df.columns if c != "month"]


def _ett_hourly(station: int) -> Loader:
    """ETTh``station``'s 7 variates, one reading per hour. Approximate: GIFT-Eval's daily and
    weekly ETT series are aggregates of the 15-minute file, so its hourly ones most likely
    are too, and the shared data holds no raw 15-minute file."""
    def load(root: Path) -> list[np.ndarray]:
        df = pd.read_csv(root / "benchmark" / f"ETTh{station}.csv", parse_dates=["date"], index_col="date")
        return [df[c].to_numpy(np.float64) for c in df.columns]
    return load


def _ett_days(root: Path, station: int) -> pd.DataFrame:
    """Daily sums of ETTm``station`` (15-minute), complete days only: the file's last day
    (2018-06-26, readings to 19:45) is dropped."""
    df = pd.read_csv(root / "benchmark" / f"ETTm{station}_agg.csv", parse_dates=["date"], index_col="date")
    if not df.index.is_monotonic_increasing or df.index.has_duplicates:
        raise ValueError(f"ETTm{station}_agg.csv: dates not strictly increasing")
    if (df.index[1:] - df.index[:-1] != pd.Timedelta(days=1)).any():
        raise ValueError(f"ETTm{station}_agg.csv: missing days")
    return df.iloc[:-1]


def _ett_daily(station: int) -> Loader:
    def load(root: Path) -> list[np.ndarray]:
        df = _ett_days(root, station)
        return [df[c].to_numpy(np.float64) for c in df.columns]
    return load


def _ett_weekly(station: int) -> Loader:
    """Sums over 7-day blocks counted from the first day (2016-07-01, a Friday, so
    weeks end on Thursday), complete blocks only."""
    def load(root: Path) -> list[np.ndarray]:
        df = _ett_days(root, station)
        n_weeks = len(df) // 7
        values = df.to_numpy(np.float64)[: 7 * n_weeks].reshape(n_weeks, 7, -1).sum(axis=1)
        return [values[:, j] for j in range(values.shape[1])]
    return load


def _solar_weekly(root: Path) -> list[np.ndarray]:
    return read_weekly_txt(root / "weekly" / "solar_weekly_dataset.txt", with_results=True)


def _jena_daily(root: Path) -> list[np.ndarray]:
    # daily sums of the 10-minute file; the last row (2021-01-01) holds one reading only
    df = pd.read_csv(root / "benchmark" / "weather_agg.csv", encoding="latin-1", index_col=0)
    df = df.iloc[:-1]
    return [df[c].to_numpy(np.float64) for c in df.columns]


@dataclass(frozen=True)
class Config:
    """One GIFT-Eval config we rebuild. ``dataset``: GIFT-Eval's dataset name (its
    ``Dataset(name=...)``); ``key``/``freq``/``term`` form the results' config name."""

    dataset: str
    key: str
    freq: str
    term: str
    loader: Loader = field(repr=False, compare=False)
    source: str = ""
    #: "same": the same series as GIFT-Eval's (expected to reproduce); "approximate":
    #: the same source built differently (expected to land near, not on, the values)
    match: str = "same"

    @property
    def name(self) -> str:
        return f"{self.key}/{self.freq}/{self.term}"


def _configs() -> dict[str, Config]:
    items: list[Config] = [
        Config("m4_hourly", "m4_hourly", "H", "short", _m4("Hourly"),
               "m4/Train/Hourly-train.csv + m4/Test/Hourly-test.csv"),
        Config("m4_weekly", "m4_weekly", "W", "short", _m4("Weekly"),
               "m4/Train/Weekly-train.csv + m4/Test/Weekly-test.csv"),
        Config("hospital", "hospital", "M", "short", _hospital, "monash/hospital_dataset.tsf"),
        Config("car_parts_with_missing", "car_parts", "M", "short", _car_parts, "misc/carparts_monthly.csv"),
    ]
    for station in (1, 2):
        items.append(Config(f"ett{station}/D", f"ett{station}", "D", "short", _ett_daily(station),
                            f"benchmark/ETTm{station}_agg.csv, complete days"))
        items.append(Config(f"ett{station}/W", f"ett{station}", "W", "short", _ett_weekly(station),
                            f"benchmark/ETTm{station}_agg.csv, complete 7-day blocks"))
    for station in (1, 2):
        for term in TERMS:
            items.append(Config(f"ett{station}/H", f"ett{station}", "H", term, _ett_hourly(station),
                                f"benchmark/ETTh{station}.csv (hourly readings)", "approximate"))
    items += [
        Config("jena_weather/D", "jena_weather", "D", "short", _jena_daily,
               "benchmark/weather_agg.csv (daily sums), last partial day dropped", "approximate"),
        Config("solar/W", "solar", "W", "short", _solar_weekly,
               "weekly/solar_weekly_dataset.txt + solar_weekly_results.txt", "approximate"),
    ]
    return {c.name: c for c in items}


CONFIGS: dict[str, Config] = _configs()


@dataclass(frozen=True)
class Task:
    """A rebuilt config: its horizon, window count, season length and windows."""

    config: Config
    horizon: int
    n_windows: int
    season: int
    n_series: int
    min_length: int
    windows: list[Window] = field(repr=False)

    @property
    def futures(self) -> np.ndarray:
        return np.stack([w.future for w in self.windows])


def build_task(config: Config | str, root: str | Path | None = None) -> Task:
    """Load ``config``'s series from the data folder and split them as GIFT-Eval does."""
    cfg = CONFIGS[config] if isinstance(config, str) else config
    series = cfg.loader(Path(root) if root is not None else data_root())
    horizon = prediction_length(cfg.dataset, cfg.freq, cfg.term)
    min_length = min(len(s) for s in series)
    n_windows = num_windows(cfg.dataset, min_length, horizon)
    return Task(cfg, horizon, n_windows, seasonality(cfg.freq), len(series), min_length,
                split_windows(series, horizon, n_windows))
